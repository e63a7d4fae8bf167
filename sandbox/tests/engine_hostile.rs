//! The product's hostile-catalog data through the engine: odd names in
//! the templates, and 100,000 rows staying fast.

mod common;

use common::*;

/// The product's hostile-catalog test data (tests/hostile.rs), through the
/// templates as the tool fills them in.
#[test]
fn hostile_names_through_the_templates() {
    let types = [
        (
            "uniqueidentifier",
            "'0F0E0D0C-0B0A-0908-0706-050403020100'",
            SqlType::UniqueIdentifier,
            Value::Guid(guid("0F0E0D0C-0B0A-0908-0706-050403020100")),
        ),
        ("int", "1", SqlType::Int, Value::Int(1)),
        (
            "bigint",
            "5000000000",
            SqlType::BigInt,
            Value::Int(5000000000),
        ),
        (
            "nvarchar(64)",
            "N'pool-one'",
            SqlType::NVarChar(Some(4000)),
            Value::Text("pool-one".into()),
        ),
    ];
    for (ty, p1, pty, pval) in types {
        let e = engine_with(None);
        // Referencing tables first: the schema declares foreign keys.
        let drop: String = [
            "Workflows",
            "QueueAgentGroups",
            "AgentGroupAgents",
            "OwnerPool",
            "Agents",
            "AgentGroups",
            "Queues",
            "HolidaySets",
            "HoursOfBusiness",
            "DbConfigInt",
        ]
        .iter()
        .map(|t| format!("DROP TABLE [dbo].[{t}];\n"))
        .collect();
        e.run_script("rgsconfig", &drop).unwrap();
        let script = format!(
            "SET NOCOUNT ON;
CREATE TABLE [dbo].[OwnerPool] ([ID] {ty} NOT NULL, [Fqdn] nvarchar(256) NOT NULL, CONSTRAINT [PK_OwnerPool] PRIMARY KEY ([ID]));
INSERT INTO [dbo].[OwnerPool] ([ID], [Fqdn]) VALUES ({p1}, N'lyncpool01.contoso.local');
GO
CREATE SCHEMA [bäckup ]] '; x];
GO
CREATE TABLE [bäckup ]] '; x].[Agent Groups; DROP TABLE x--] ([ID] int NOT NULL, [Näme] nvarchar(100) NULL, [OWNERPOOLID] {ty} NULL, CONSTRAINT [PK_odd] PRIMARY KEY ([ID]));
CREATE TABLE [dbo].[Größe \"quoted\" 'too'] ([K1] int NOT NULL, [K2] nvarchar(20) NOT NULL, [DisplayName] nvarchar(50) NULL, [ownerPoolId] {ty} NULL, CONSTRAINT [PK_G] PRIMARY KEY ([K1], [K2]));
CREATE TABLE [dbo].[NoKey] ([Name] nvarchar(50) NULL, [OwnerPoolId] {ty} NULL);
INSERT INTO [bäckup ]] '; x].[Agent Groups; DROP TABLE x--] ([ID], [Näme], [OWNERPOOLID]) VALUES (1, N'Grüße ]] ''quoted''', NULL), (2, N'ok', {p1}), (4, NULL, NULL);
INSERT INTO [dbo].[Größe \"quoted\" 'too'] ([K1], [K2], [DisplayName], [ownerPoolId]) VALUES (1, N'a]b', N'x', NULL), (1, N'a''b', N'y', NULL), (2, N'a;b', N'z', {p1});
INSERT INTO [dbo].[NoKey] ([Name], [OwnerPoolId]) VALUES (N'n1', NULL), (N'n2', {p1});
"
        );
        e.run_script("rgsconfig", &script)
            .unwrap_or_else(|err| panic!("{ty}: {err}"));
        let mut s = session(&e);
        let odd = "[bäckup ]] '; x].[Agent Groups; DROP TABLE x--]";
        let gr = "[dbo].[Größe \"quoted\" 'too']";
        let find = |table: &str, keys: &str, order: &str, display: &str, owner: &str| {
            template(
                "finding_rows.sql",
                &[
                    ("keys", keys),
                    ("order", order),
                    ("display", display),
                    ("table", table),
                    ("owner", owner),
                    ("pool_table", "[dbo].[OwnerPool]"),
                    ("pool_id", "[ID]"),
                ],
            )
        };
        let rs = one(
            &mut s,
            &find(odd, "[ID]", "[ID]", "[Näme]", "[OWNERPOOLID]"),
            &[],
        );
        assert_eq!(rs.rows.len(), 2, "{ty}");
        assert_eq!(rs.rows[0][1], Value::Text("Grüße ]] 'quoted'".into()));
        let rs = one(
            &mut s,
            &find(
                gr,
                "[K1], [K2]",
                "[K1], [K2]",
                "[DisplayName]",
                "[ownerPoolId]",
            ),
            &[],
        );
        assert_eq!(rs.rows.len(), 2, "{ty}");
        let rs = one(
            &mut s,
            &find(
                "[dbo].[NoKey]",
                "CAST(NULL AS int) AS no_key",
                "1",
                "CAST(NULL AS nvarchar(256))",
                "[OwnerPoolId]",
            ),
            &[],
        );
        assert_eq!(rs.rows.len(), 1, "{ty}");
        assert_eq!(rs.columns[0].name, "no_key");
        // Fix the composite-key table, then undo one row of it.
        let subs = [
            ("table", gr),
            ("owner", "[ownerPoolId]"),
            ("keys", "[K1], [K2]"),
            ("lock_timeout_ms", "1000"),
        ];
        ok(&mut s, &template("session_setup.sql", &subs), &[]);
        ok(&mut s, &read("sql/begin.sql"), &[]);
        assert_eq!(
            one(&mut s, &template("fix_recheck.sql", &subs), &[])
                .rows
                .len(),
            2
        );
        let items = ok(
            &mut s,
            &template("fix_update.sql", &subs),
            &[param("@P1", pty, pval.clone())],
        );
        // The UPDATE's DONE, then its count as the template selects it.
        assert_eq!(
            items[..1],
            [Item::Done {
                rows_affected: Some(2)
            }],
            "{ty}"
        );
        ok(&mut s, &read("sql/commit.sql"), &[]);
        let update_join = format!("k.[K1] = {gr}.[K1] AND k.[K2] = {gr}.[K2]");
        let subs = [
            ("table", gr),
            ("owner", "[ownerPoolId]"),
            ("temp", "[#rgs_undo_1]"),
            (
                "columns",
                "[K1] int NOT NULL, [K2] nvarchar(450) COLLATE DATABASE_DEFAULT NOT NULL",
            ),
            ("key_list", "[K1], [K2]"),
            ("rows", "(@P2, @P3)"),
            ("k_keys", "k.[K1], k.[K2]"),
            ("first_key", "[K1]"),
            ("lock", "WITH (UPDLOCK, HOLDLOCK)"),
        ];
        let current_subs = [
            &subs[..],
            &[("join", "t.[K1] = k.[K1] AND t.[K2] = k.[K2]")],
        ]
        .concat();
        let update_subs = [&subs[..], &[("join", update_join.as_str())]].concat();
        let params = vec![
            param("@P1", pty, pval.clone()),
            param("@P2", SqlType::Int, Value::Int(1)),
            param(
                "@P3",
                SqlType::NVarChar(Some(4000)),
                Value::Text("a]b".into()),
            ),
        ];
        ok(&mut s, &template("undo_keys_create.sql", &subs), &[]);
        ok(
            &mut s,
            "INSERT INTO [#rgs_undo_1] ([K1], [K2]) VALUES (@P2, @P3)",
            &params,
        );
        ok(&mut s, &read("sql/begin.sql"), &[]);
        let rs = one(
            &mut s,
            &template("undo_summary.sql", &current_subs),
            &params,
        );
        assert_eq!(
            rs.rows[0][..3],
            [Value::Int(1), Value::Int(0), Value::Int(1)],
            "{ty}"
        );
        let left = one(
            &mut s,
            &template("undo_left_alone.sql", &current_subs),
            &params,
        );
        assert!(left.rows.is_empty(), "{ty}: {left:?}");
        let items = ok(&mut s, &template("undo_update.sql", &update_subs), &params);
        assert_eq!(
            items[..1],
            [Item::Done {
                rows_affected: Some(1)
            }],
            "{ty}"
        );
        ok(&mut s, &read("sql/commit.sql"), &[]);
        assert_eq!(
            scalar(
                &e,
                &format!("SELECT COUNT(*) FROM {gr} WHERE [ownerPoolId] IS NULL")
            ),
            Value::Int(1),
            "{ty}"
        );
    }
}

/// tests/hostile.rs loads 100,000 rows in one batch and undoes them in
/// chunks of parameters: both must stay fast.
#[test]
fn a_hundred_thousand_rows_stay_fast() {
    let e = Engine::new().unwrap();
    e.attach_database("rgsconfig", None).unwrap();
    let mut script = String::from(
        "SET NOCOUNT ON;
CREATE TABLE [dbo].[OwnerPool] ([ID] int NOT NULL, [Fqdn] nvarchar(256) NOT NULL, CONSTRAINT [PK_OwnerPool] PRIMARY KEY ([ID]));
INSERT INTO [dbo].[OwnerPool] ([ID], [Fqdn]) VALUES (7, N'lyncpool01.contoso.local');
CREATE TABLE [dbo].[Queues] ([ID] int NOT NULL, [Name] nvarchar(50) NOT NULL, [OwnerPoolId] int NULL, CONSTRAINT [PK_Queues] PRIMARY KEY ([ID]));
",
    );
    for batch in 0..100 {
        script.push_str("INSERT INTO [dbo].[Queues] ([ID], [Name], [OwnerPoolId]) VALUES ");
        let rows: Vec<String> = (0..1000)
            .map(|i| {
                let id = batch * 1000 + i;
                format!(
                    "({id}, N'Queue {id}', {})",
                    if id % 10 == 0 { "7" } else { "NULL" }
                )
            })
            .collect();
        script.push_str(&rows.join(", "));
        script.push_str(";\n");
    }
    let start = Instant::now();
    e.run_script("rgsconfig", &script).unwrap();
    let load = start.elapsed();
    let mut s = session(&e);
    let start = Instant::now();
    let sql = template(
        "finding_rows.sql",
        &[
            ("keys", "[ID]"),
            ("order", "[ID]"),
            ("display", "[Name]"),
            ("table", "[dbo].[Queues]"),
            ("owner", "[OwnerPoolId]"),
            ("pool_table", "[dbo].[OwnerPool]"),
            ("pool_id", "[ID]"),
        ],
    );
    assert_eq!(one(&mut s, &sql, &[]).rows.len(), 90_000);
    let find = start.elapsed();
    let start = Instant::now();
    let subs = [
        ("table", "[dbo].[Queues]"),
        ("owner", "[OwnerPoolId]"),
        ("keys", "[ID]"),
    ];
    ok(&mut s, "BEGIN TRANSACTION", &[]);
    assert_eq!(
        one(&mut s, &template("fix_recheck.sql", &subs), &[])
            .rows
            .len(),
        90_000
    );
    let items = ok(
        &mut s,
        &template("fix_update.sql", &subs),
        &[param("@P1", SqlType::Int, Value::Int(7))],
    );
    assert_eq!(
        items[..1],
        [Item::Done {
            rows_affected: Some(90_000)
        }]
    );
    ok(&mut s, "COMMIT TRANSACTION", &[]);
    let fix = start.elapsed();
    let start = Instant::now();
    // The keys go once into #rgs_undo_1, 1,000 per INSERT; then one
    // locked read and one UPDATE join them.
    let base = [
        ("table", "[dbo].[Queues]"),
        ("owner", "[OwnerPoolId]"),
        ("temp", "[#rgs_undo_1]"),
        ("columns", "[ID] int NOT NULL"),
        ("key_list", "[ID]"),
        ("k_keys", "k.[ID]"),
        ("first_key", "[ID]"),
        ("lock", "WITH (UPDLOCK, HOLDLOCK)"),
    ];
    ok(&mut s, &template("undo_keys_create.sql", &base), &[]);
    let ids: Vec<i64> = (0..100_000i64).filter(|id| id % 10 != 0).collect();
    for chunk in ids.chunks(1000) {
        let params: Vec<_> = chunk
            .iter()
            .enumerate()
            .map(|(i, id)| param(&format!("@P{}", i + 1), SqlType::Int, Value::Int(*id)))
            .collect();
        let rows: Vec<String> = (1..=chunk.len()).map(|i| format!("(@P{i})")).collect();
        let rows = rows.join(", ");
        ok(
            &mut s,
            &format!("INSERT INTO [#rgs_undo_1] ([ID]) VALUES {rows}"),
            &params,
        );
    }
    let pool = [param("@P1", SqlType::Int, Value::Int(7))];
    ok(&mut s, "BEGIN TRANSACTION", &[]);
    let current = [&base[..], &[("join", "t.[ID] = k.[ID]")]].concat();
    assert_eq!(
        one(&mut s, &template("undo_summary.sql", &current), &pool).rows[0][0],
        Value::Int(ids.len() as i64)
    );
    let update = [&base[..], &[("join", "k.[ID] = [dbo].[Queues].[ID]")]].concat();
    ok(&mut s, &template("undo_update.sql", &update), &pool);
    ok(&mut s, "COMMIT TRANSACTION", &[]);
    let undo = start.elapsed();
    assert_eq!(
        scalar(
            &e,
            "SELECT COUNT(*) FROM [dbo].[Queues] WHERE [OwnerPoolId] IS NULL"
        ),
        Value::Int(90_000)
    );
    eprintln!("load {load:?}, find {find:?}, fix {fix:?}, undo {undo:?}");
    assert!(
        load + find + fix + undo < Duration::from_secs(60),
        "load {load:?}, find {find:?}, fix {fix:?}, undo {undo:?}"
    );
}
