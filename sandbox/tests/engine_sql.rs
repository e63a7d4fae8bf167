//! The T-SQL the engine understands: catalog views after DDL, refusals,
//! expressions, functions, variables and the default collation.

mod common;

use common::*;

#[test]
fn catalog_views_follow_ddl_with_odd_names() {
    let e = Engine::new().unwrap();
    e.attach_database("rgsconfig", None).unwrap();
    let mut s = session(&e);
    ok(
        &mut s,
        "CREATE SCHEMA [rgs];
         CREATE TABLE [rgs].[we]]ird; name] (
             [Größe] int NOT NULL,
             [a \"quoted\" col] nvarchar(max) NULL,
             [when] datetime2(3) NOT NULL DEFAULT SYSUTCDATETIME(),
             CONSTRAINT [PK we]]ird] PRIMARY KEY CLUSTERED ([Größe] DESC));
         CREATE TABLE dbo.Heap (A bigint NULL, B varbinary(16), C float, D bit NOT NULL DEFAULT 0);
         CREATE TABLE dbo.Pairs (X smallint NOT NULL, Y tinyint NOT NULL, Z nvarchar(10),
             CONSTRAINT PK_Pairs PRIMARY KEY NONCLUSTERED (Y, X), CONSTRAINT UQ_Z UNIQUE (Z));
         CREATE UNIQUE NONCLUSTERED INDEX [IX weird] ON [rgs].[we]]ird; name] ([a \"quoted\" col]);
         INSERT INTO [rgs].[we]]ird; name] ([Größe], [a \"quoted\" col]) VALUES (1, N'ä; ]] ''x'''), (2, NULL);",
        &[],
    );
    let t = |s: &str| Value::Text(s.into());
    let rs = one(&mut s, &read("sql/catalog_columns.sql"), &[]);
    let cols: Vec<(Value, Value, Value, Value)> = rs
        .rows
        .iter()
        .map(|r| (r[1].clone(), r[2].clone(), r[3].clone(), r[5].clone()))
        .collect();
    assert_eq!(
        cols,
        vec![
            (t("Heap"), t("A"), t("bigint"), Value::Bit(true)),
            (t("Heap"), t("B"), t("varbinary"), Value::Bit(true)),
            (t("Heap"), t("C"), t("float"), Value::Bit(true)),
            (t("Heap"), t("D"), t("bit"), Value::Bit(false)),
            (t("Pairs"), t("X"), t("smallint"), Value::Bit(false)),
            (t("Pairs"), t("Y"), t("tinyint"), Value::Bit(false)),
            (t("Pairs"), t("Z"), t("nvarchar"), Value::Bit(true)),
            (t("we]ird; name"), t("Größe"), t("int"), Value::Bit(false)),
            (
                t("we]ird; name"),
                t("a \"quoted\" col"),
                t("nvarchar"),
                Value::Bit(true)
            ),
            (
                t("we]ird; name"),
                t("when"),
                t("datetime2"),
                Value::Bit(false)
            ),
        ]
    );
    assert_eq!(rs.rows[7][0], t("rgs"));
    let rs = one(&mut s, &read("sql/catalog_primary_keys.sql"), &[]);
    let keys: Vec<(Value, Value, Value)> = rs
        .rows
        .iter()
        .map(|r| (r[1].clone(), r[2].clone(), r[3].clone()))
        .collect();
    assert_eq!(
        keys,
        vec![
            (t("Pairs"), t("Y"), Value::Int(1)),
            (t("Pairs"), t("X"), Value::Int(2)),
            (t("we]ird; name"), t("Größe"), Value::Int(1)),
        ]
    );
    let rs = one(
        &mut s,
        "SELECT c.name, c.max_length, c.precision, c.scale, c.system_type_id FROM sys.columns AS c
         WHERE c.object_id = OBJECT_ID(N'[rgs].[we]]ird; name]') ORDER BY c.column_id",
        &[],
    );
    assert_eq!(
        rs.rows[1][1..],
        [
            Value::Int(-1),
            Value::Int(0),
            Value::Int(0),
            Value::Int(231)
        ]
    );
    assert_eq!(
        rs.rows[2][1..],
        [Value::Int(7), Value::Int(23), Value::Int(3), Value::Int(42)]
    );
    let rs = one(
        &mut s,
        "SELECT i.name, i.index_id, i.type_desc, i.is_unique, i.is_primary_key, i.is_unique_constraint
         FROM sys.indexes i JOIN sys.tables t ON t.object_id = i.object_id ORDER BY t.name, i.index_id",
        &[],
    );
    assert_eq!(
        rs.rows,
        vec![
            vec![
                Value::Null,
                Value::Int(0),
                t("HEAP"),
                Value::Bit(false),
                Value::Bit(false),
                Value::Bit(false)
            ],
            vec![
                Value::Null,
                Value::Int(0),
                t("HEAP"),
                Value::Bit(false),
                Value::Bit(false),
                Value::Bit(false)
            ],
            vec![
                t("PK_Pairs"),
                Value::Int(2),
                t("NONCLUSTERED"),
                Value::Bit(true),
                Value::Bit(true),
                Value::Bit(false)
            ],
            vec![
                t("UQ_Z"),
                Value::Int(3),
                t("NONCLUSTERED"),
                Value::Bit(true),
                Value::Bit(false),
                Value::Bit(true)
            ],
            vec![
                t("PK we]ird"),
                Value::Int(1),
                t("CLUSTERED"),
                Value::Bit(true),
                Value::Bit(true),
                Value::Bit(false)
            ],
            vec![
                t("IX weird"),
                Value::Int(2),
                t("NONCLUSTERED"),
                Value::Bit(true),
                Value::Bit(false),
                Value::Bit(false)
            ],
        ]
    );
    let rs = one(&mut s, "SELECT s.name, s.schema_id FROM sys.schemas s WHERE s.name IN ('dbo', 'rgs') ORDER BY s.schema_id", &[]);
    assert_eq!(
        rs.rows,
        vec![vec![t("dbo"), Value::Int(1)], vec![t("rgs"), Value::Int(5)]]
    );
    // Data and defaults through the odd names.
    let rs = one(
        &mut s,
        "SELECT [a \"quoted\" col], [when] FROM rgs.[WE]]IRD; NAME] WHERE [größe] = 1",
        &[],
    );
    assert_eq!(rs.rows[0][0], t("ä; ]] 'x'"));
    assert!(matches!(rs.rows[0][1], Value::DateTime(_)));
    assert_eq!(rs.columns[1].ty, SqlType::DateTime2);
    // object_id is stable across sessions and DDL.
    let id1 = scalar(&e, "SELECT OBJECT_ID('dbo.Pairs')");
    ok(
        &mut s,
        "DROP TABLE dbo.Heap; CREATE TABLE dbo.Later (ID int)",
        &[],
    );
    assert_eq!(
        scalar(&e, "SELECT object_id FROM sys.tables WHERE name = 'Pairs'"),
        id1
    );
    assert_eq!(
        scalar(&e, "SELECT COUNT(*) FROM sys.tables WHERE name = N'heap'"),
        Value::Int(0)
    );
    assert_eq!(
        scalar(
            &e,
            "SELECT COUNT(*) FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_NAME = N'Later'"
        ),
        Value::Int(1)
    );
    // DDL errors.
    assert_eq!(fails(&mut s, "CREATE TABLE dbo.Pairs (A int)").number, 2714);
    assert_eq!(fails(&mut s, "CREATE TABLE nope.T (A int)").number, 2760);
    assert_eq!(fails(&mut s, "DROP TABLE dbo.Heap").number, 3701);
    ok(&mut s, "DROP TABLE IF EXISTS dbo.Heap", &[]);
    assert_eq!(
        fails(&mut s, "CREATE TABLE dbo.I (ID int IDENTITY(1,1))").number,
        102
    );
}

#[test]
fn refused_statements_run_nothing() {
    let e = engine_with(None);
    let mut s = session(&e);
    for (sql, number, near) in [
        ("MERGE INTO dbo.Agents AS t USING dbo.Queues AS s ON t.ID = s.ID WHEN MATCHED THEN DELETE;", 102, "MERGE"),
        ("EXEC xp_cmdshell 'dir'", 102, "EXECUTE"),
        ("SELEC 1", 102, "SELEC"),
        ("WAITFOR TIME '23:00'", 102, "WAITFOR"),
        ("SELECT * FROM dbo.Agents FOR XML PATH", 102, "FOR"),
        ("SELECT ROW_NUMBER() OVER (ORDER BY ID) FROM dbo.Agents", 102, "OVER"),
        ("SELECT * INTO dbo.Copy FROM dbo.Agents", 102, "INTO"),
        ("UPDATE a SET a.DisplayName = q.Name FROM dbo.Agents a JOIN dbo.Queues q ON q.ID = a.ID", 102, "FROM"),
        ("SELECT * FROM dbo.Agents WITH (READPAST)", 102, "READPAST"),
        ("TRUNCATE TABLE dbo.Agents", 102, "TRUNCATE"),
    ] {
        let err = fails(&mut s, &format!("INSERT INTO dbo.DbConfigInt VALUES (N'before', 1);\n{sql}"));
        assert_eq!(err.number, number, "{sql}: {err:?}");
        assert_eq!(err.message, format!("Incorrect syntax near '{near}'."), "{sql}");
        assert_eq!(err.line, 2, "{sql}");
    }
    let err = fails(
        &mut s,
        "INSERT INTO dbo.DbConfigInt VALUES (N'before', 1); SELECT * FROM dbo.Nope",
    );
    assert_eq!(
        (err.number, err.message.as_str()),
        (208, "Invalid object name 'dbo.Nope'.")
    );
    let err = fails(
        &mut s,
        "INSERT INTO dbo.DbConfigInt VALUES (N'before', 1); SELECT Nope FROM dbo.Agents",
    );
    assert_eq!(
        (err.number, err.message.as_str()),
        (207, "Invalid column name 'Nope'.")
    );
    let err = fails(
        &mut s,
        "SELECT ID FROM dbo.Agents a JOIN dbo.Queues q ON a.ID = q.ID",
    );
    assert_eq!(err.number, 209);
    let err = fails(&mut s, "SELECT x.ID FROM dbo.Agents a");
    assert_eq!(err.number, 4104);
    let err = fails(&mut s, "SELECT @nope");
    assert_eq!(err.number, 137);
    let err = fails(&mut s, "SELECT * FROM master.dbo.Agents");
    assert_eq!(err.number, 208);
    assert_eq!(
        scalar(&e, "SELECT COUNT(*) FROM dbo.DbConfigInt"),
        Value::Int(0)
    );
}

#[test]
fn expressions_functions_and_variables() {
    let e = engine_with(Some("multi-pool"));
    let mut s = session(&e);
    let rs = one(
        &mut s,
        "SELECT TOP (2) p.Fqdn, LEN(p.Fqdn) AS l, UPPER(p.SiteName) AS site, ISNULL(p.SiteName, N'-') AS s2,
                CASE WHEN p.SiteName = N'dublin' THEN 1 ELSE 0 END AS is_dublin,
                QUOTENAME(p.Fqdn) AS q, CONVERT(nvarchar(36), p.ID) AS id_text,
                (SELECT COUNT(*) FROM dbo.Agents a WHERE a.OwnerPoolId = p.ID) AS agents
         FROM dbo.OwnerPool AS p ORDER BY p.Fqdn DESC",
        &[],
    );
    let t = |s: &str| Value::Text(s.into());
    assert_eq!(
        rs.rows[0],
        vec![
            t("lyncpool02.fabrikam.local"),
            Value::Int(25),
            t("DUBLIN"),
            t("Dublin"),
            Value::Int(1),
            t("[lyncpool02.fabrikam.local]"),
            t(POOL2),
            Value::Int(8)
        ]
    );
    assert_eq!(rs.columns[4].ty, SqlType::Int);
    assert_eq!(rs.columns[7].ty, SqlType::Int);
    let rs = one(
        &mut s,
        "SELECT OwnerPoolId, COUNT(*) AS n FROM dbo.Agents GROUP BY OwnerPoolId HAVING COUNT(*) > 2 ORDER BY n DESC",
        &[],
    );
    assert_eq!(rs.rows[0], vec![Value::Guid(guid(POOL1)), Value::Int(14)]);
    let rs = one(&mut s, "SELECT COUNT(*) FROM dbo.Agents WHERE OwnerPoolId IN (SELECT ID FROM dbo.OwnerPool WHERE SiteName LIKE 'red%')", &[]);
    assert_eq!(rs.rows[0][0], Value::Int(14));
    let rs = one(&mut s, "SELECT SUM(Position), MIN(Position), MAX(Position), COUNT(DISTINCT GroupId) FROM dbo.AgentGroupAgents", &[]);
    assert_eq!(
        rs.columns.iter().map(|c| c.ty).collect::<Vec<_>>(),
        [SqlType::Int; 4]
    );
    let rs = one(
        &mut s,
        "SELECT @@SPID AS spid, DB_NAME() AS db, DB_ID() AS id, @@SERVERNAME AS srv, SUSER_SNAME() AS who,
                CAST(1 AS bit) AS b, CAST(5000000000 AS bigint) AS big, CAST('2024-01-02' AS datetime2) AS d,
                N'a' + 'b' AS cat, 7 / 2 AS div, 7 % 3 AS m, CAST(NULL AS int) AS n, NULL AS nl, COALESCE(NULL, 3) AS c",
        &[],
    );
    assert_eq!(rs.columns[0].ty, SqlType::SmallInt);
    assert_eq!(rs.rows[0][0], Value::Int(s.spid() as i64));
    assert_eq!(
        rs.rows[0][1..5],
        [t("rgsconfig"), Value::Int(5), t("RGS-SANDBOX"), t("sa")]
    );
    assert_eq!(
        rs.rows[0][5..],
        [
            Value::Bit(true),
            Value::Int(5000000000),
            Value::DateTime(
                chrono::NaiveDate::from_ymd_opt(2024, 1, 2)
                    .unwrap()
                    .and_hms_opt(0, 0, 0)
                    .unwrap()
            ),
            t("ab"),
            Value::Int(3),
            Value::Int(1),
            Value::Null,
            Value::Null,
            Value::Int(3),
        ]
    );
    assert_eq!(rs.columns[8].ty, SqlType::NVarChar(Some(2)));
    assert_eq!(rs.columns[12].ty, SqlType::Int);
    assert_eq!(fails(&mut s, "SELECT 1 / 0").number, 8134);
    assert_eq!(fails(&mut s, "SELECT CAST('x' AS int)").number, 245);
    // Variables, IF/ELSE, PRINT.
    let items = ok(
        &mut s,
        "DECLARE @n int = 2, @name nvarchar(50);
         SET @n = @n * 10;
         SELECT @name = Fqdn FROM dbo.OwnerPool WHERE SiteName = N'Dublin';
         IF @n > 10 PRINT N'big ' + @name ELSE PRINT N'small';
         IF NOT EXISTS (SELECT * FROM sys.tables WHERE name = N'Agents') BEGIN PRINT 'missing' END
         SELECT @n AS n, @name AS name",
        &[],
    );
    let infos: Vec<&Item> = items
        .iter()
        .filter(|i| matches!(i, Item::Info { .. }))
        .collect();
    assert_eq!(
        infos,
        vec![&Item::Info {
            number: 0,
            message: "big lyncpool02.fabrikam.local".into()
        }]
    );
    assert_eq!(
        rows(&items)[0].rows[0],
        vec![Value::Int(20), t("lyncpool02.fabrikam.local")]
    );
    assert_eq!(rows(&items)[0].columns[1].ty, SqlType::NVarChar(Some(50)));
    // Parameters of every type, including a GUID sent as text.
    let rs = one(
        &mut s,
        "SELECT COUNT(*) FROM dbo.Agents WHERE OwnerPoolId = @P1 AND @P2 = 1 AND DisplayName <> @P3",
        &[
            param("@P1", SqlType::NVarChar(Some(36)), Value::Text(POOL2.to_lowercase())),
            param("@p2", SqlType::Bit, Value::Bit(true)),
            param("@P3", SqlType::NVarChar(Some(4000)), Value::Text("nobody".into())),
        ],
    );
    assert_eq!(rs.rows[0][0], Value::Int(8));
}

#[test]
fn strings_compare_like_sql_servers_default_collation() {
    let e = Engine::new().unwrap();
    e.attach_database("rgsconfig", None).unwrap();
    e.run_script(
        "rgsconfig",
        "CREATE TABLE dbo.zeta (N nvarchar(20) NOT NULL PRIMARY KEY);
         CREATE TABLE dbo.Alpha (N nvarchar(20));
         INSERT INTO dbo.zeta VALUES (N'Ärger'), (N'b');
         INSERT INTO dbo.Alpha VALUES (N'x')",
    )
    .unwrap();
    assert_eq!(
        scalar(&e, "SELECT COUNT(*) FROM dbo.zeta WHERE N = N'ÄRGER  '"),
        Value::Int(1)
    );
    assert_eq!(
        scalar(&e, "SELECT COUNT(*) FROM dbo.zeta WHERE N'B' = N'b'"),
        Value::Int(2)
    );
    let err = e
        .run_script("rgsconfig", "INSERT INTO dbo.zeta VALUES (N'ärger')")
        .unwrap_err();
    assert_eq!(err.number, 2627);
    let rs = e
        .query(
            "rgsconfig",
            "SELECT name, type FROM sys.tables WHERE type = 'U' ORDER BY name",
        )
        .unwrap();
    assert_eq!(
        rs.rows,
        vec![
            vec![Value::Text("Alpha".into()), Value::Text("U ".into())],
            vec![Value::Text("zeta".into()), Value::Text("U ".into())]
        ]
    );
}
