//! The product's fix and undo templates through the engine, with keys
//! and pool ids of every type.

mod common;

use common::*;

/// The tool's fix: session setup, BEGIN, re-check under lock, set-based
/// update, verify, COMMIT.
#[test]
fn fix_flow_templates_update_and_commit() {
    let e = engine_with(Some("migrated"));
    let mut s = session(&e);
    let subs = [
        ("table", "[dbo].[AgentGroups]"),
        ("owner", "[OwnerPoolId]"),
        ("keys", "[ID]"),
        ("lock_timeout_ms", "5000"),
    ];
    ok(&mut s, &template("session_setup.sql", &subs), &[]);
    let items = ok(&mut s, &read("sql/begin.sql"), &[]);
    let Some(Item::Tx(TxChange::Begin(tx))) = items.first().cloned() else {
        panic!("{items:?}")
    };
    assert_eq!(s.transaction(), Some(tx));
    let rs = one(&mut s, &template("fix_recheck.sql", &subs), &[]);
    assert_eq!(rs.rows.len(), 9);
    let pool = vec![param(
        "@P1",
        SqlType::UniqueIdentifier,
        Value::Guid(guid(POOL1)),
    )];
    let items = ok(&mut s, &template("fix_update.sql", &subs), &pool);
    assert_eq!(
        items[0],
        Item::Done {
            rows_affected: Some(9)
        }
    );
    assert!(
        matches!(&items[1], Item::Rows(rs) if rs.rows == vec![vec![Value::Int(9)]]),
        "{items:?}"
    );
    let rs = one(&mut s, &template("fix_verify.sql", &subs), &[]);
    assert_eq!(rs.columns[0].name, "remaining");
    assert_eq!(rs.columns[0].ty, SqlType::BigInt);
    assert_eq!(rs.rows, vec![vec![Value::Int(0)]]);
    // Another session still sees the old data.
    assert_eq!(
        scalar(
            &e,
            "SELECT COUNT(*) FROM dbo.AgentGroups WHERE OwnerPoolId IS NULL"
        ),
        Value::Int(9)
    );
    let items = ok(&mut s, &read("sql/commit.sql"), &[]);
    assert_eq!(items[0], Item::Tx(TxChange::Commit(tx)));
    assert_eq!(s.transaction(), None);
    assert_eq!(
        scalar(
            &e,
            "SELECT COUNT(*) FROM dbo.AgentGroups WHERE OwnerPoolId IS NULL"
        ),
        Value::Int(0)
    );
    // Stored as canonical uppercase text, read back as a GUID.
    assert_eq!(
        scalar(
            &e,
            &format!(
                "SELECT COUNT(*) FROM dbo.AgentGroups WHERE OwnerPoolId = '{}'",
                POOL1.to_lowercase()
            )
        ),
        Value::Int(12)
    );
    // rollback.sql with no transaction open does nothing.
    let items = ok(&mut s, &read("sql/rollback.sql"), &[]);
    assert!(!items.iter().any(|i| matches!(i, Item::Tx(_))));
}

#[test]
fn undo_templates_with_simple_and_composite_keys() {
    let e = engine_with(Some("healthy"));
    let mut s = session(&e);
    let groups: Vec<Value> = e
        .query(
            "rgsconfig",
            "SELECT TOP 3 [ID] FROM [dbo].[AgentGroups] ORDER BY [ID]",
        )
        .unwrap()
        .rows
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    assert_eq!(groups.len(), 3);
    // The keys go once into the session's #rgs_undo_1, then are joined.
    let subs = [
        ("table", "[dbo].[AgentGroups]"),
        ("owner", "[OwnerPoolId]"),
        ("temp", "[#rgs_undo_1]"),
        ("columns", "[ID] uniqueidentifier NOT NULL"),
        ("key_list", "[ID]"),
        ("rows", "(@P2), (@P3), (@P4)"),
        ("k_keys", "k.[ID]"),
        ("first_key", "[ID]"),
        ("lock", "WITH (UPDLOCK, HOLDLOCK)"),
    ];
    let current_subs = [&subs[..], &[("join", "t.[ID] = k.[ID]")]].concat();
    let update_subs = [&subs[..], &[("join", "k.[ID] = [dbo].[AgentGroups].[ID]")]].concat();
    let mut params = vec![param(
        "@P1",
        SqlType::UniqueIdentifier,
        Value::Guid(guid(POOL1)),
    )];
    for (i, g) in groups.iter().enumerate() {
        params.push(param(
            &format!("@P{}", i + 2),
            SqlType::UniqueIdentifier,
            g.clone(),
        ));
    }
    ok(&mut s, &template("undo_keys_create.sql", &subs), &[]);
    // (The product sends the keys by bulk load; here an INSERT does.)
    ok(
        &mut s,
        "INSERT INTO [#rgs_undo_1] ([ID]) VALUES (@P2), (@P3), (@P4)",
        &params,
    );
    ok(
        &mut s,
        "SET XACT_ABORT ON; SET LOCK_TIMEOUT 1000; BEGIN TRANSACTION;",
        &[],
    );
    let rs = one(
        &mut s,
        &template("undo_summary.sql", &current_subs),
        &params,
    );
    // Journalled, gone, still holding @P1, and the checksum of those keys.
    assert_eq!(rs.rows.len(), 1);
    assert_eq!(
        rs.rows[0][..3],
        [Value::Int(3), Value::Int(0), Value::Int(3)]
    );
    assert!(matches!(rs.rows[0][3], Value::Int(_)), "{rs:?}");
    let left = one(
        &mut s,
        &template("undo_left_alone.sql", &current_subs),
        &params,
    );
    assert!(left.rows.is_empty(), "{left:?}");
    let items = ok(&mut s, &template("undo_update.sql", &update_subs), &params);
    assert_eq!(
        items[0],
        Item::Done {
            rows_affected: Some(3)
        }
    );
    assert!(
        matches!(&items[1], Item::Rows(rs) if rs.rows == vec![vec![Value::Int(3)]]),
        "{items:?}"
    );
    let items = ok(&mut s, &read("sql/rollback.sql"), &[]);
    assert!(matches!(items[0], Item::Tx(TxChange::Rollback(_))));
    assert_eq!(
        scalar(
            &e,
            "SELECT COUNT(*) FROM dbo.AgentGroups WHERE OwnerPoolId IS NULL"
        ),
        Value::Int(0)
    );

    // Composite key matching on the membership table.
    let pairs = e
        .query(
            "rgsconfig",
            "SELECT TOP 2 GroupId, AgentId FROM dbo.AgentGroupAgents ORDER BY GroupId, AgentId",
        )
        .unwrap();
    let key_match =
        "([GroupId] = @P2 AND [AgentId] = @P3) OR ([GroupId] = @P4 AND [AgentId] = @P5)";
    let mut params = vec![param("@P1", SqlType::Int, Value::Int(1))];
    for r in &pairs.rows {
        for v in r {
            params.push(param(
                &format!("@P{}", params.len() + 1),
                SqlType::UniqueIdentifier,
                v.clone(),
            ));
        }
    }
    let sql = format!("SELECT [GroupId], [AgentId], [Position] AS owner_pool_id FROM [dbo].[AgentGroupAgents] WITH (UPDLOCK, HOLDLOCK) WHERE {key_match}");
    let rs = one(&mut s, &sql, &params[1..]);
    assert_eq!(rs.rows.len(), 2);
}

#[test]
fn pool_ids_of_other_types() {
    let e = Engine::new().unwrap();
    e.attach_database("rgsconfig", None).unwrap();
    e.run_script(
        "rgsconfig",
        "CREATE TABLE dbo.IntPool (ID int NOT NULL PRIMARY KEY, Name nvarchar(50));
         CREATE TABLE dbo.BigPool (ID bigint NOT NULL, CONSTRAINT PK_BigPool PRIMARY KEY (ID));
         CREATE TABLE dbo.TextPool (ID nvarchar(20) NOT NULL CONSTRAINT PK_TextPool PRIMARY KEY, Name nvarchar(50) NULL);
         CREATE TABLE dbo.Things (ID int NOT NULL PRIMARY KEY, IntOwner int NULL, BigOwner bigint NULL, TextOwner nvarchar(20) NULL);
         GO
         INSERT INTO dbo.IntPool VALUES (1, N'one'), (2, N'two');
         INSERT INTO dbo.BigPool VALUES (5000000000);
         INSERT INTO dbo.TextPool (ID) VALUES (N'pool-a');
         INSERT INTO dbo.Things VALUES (1, 1, 5000000000, N'POOL-A'), (2, NULL, NULL, NULL), (3, 7, 1, N'x');",
    )
    .unwrap();
    let mut s = session(&e);
    let rs = one(
        &mut s,
        "SELECT [ID] AS id, [Name] AS name FROM [dbo].[IntPool] ORDER BY [ID]",
        &[],
    );
    assert_eq!(rs.columns[0].ty, SqlType::Int);
    assert_eq!(rs.rows[1], vec![Value::Int(2), Value::Text("two".into())]);
    let rs = one(&mut s, "SELECT ID FROM dbo.BigPool", &[]);
    assert_eq!(rs.columns[0].ty, SqlType::BigInt);
    assert_eq!(rs.rows[0][0], Value::Int(5000000000));
    for (owner, pool, dangling) in [
        ("IntOwner", "IntPool", 1),
        ("BigOwner", "BigPool", 1),
        ("TextOwner", "TextPool", 1),
    ] {
        let sql = template(
            "finding_rows.sql",
            &[
                ("keys", "[ID]"),
                ("order", "[ID]"),
                ("display", "CAST(NULL AS nvarchar(256))"),
                ("table", "[dbo].[Things]"),
                ("owner", &format!("[{owner}]")),
                ("pool_table", &format!("[dbo].[{pool}]")),
                ("pool_id", "[ID]"),
            ],
        );
        let rs = one(&mut s, &sql, &[]);
        // Row 2 (NULL) and the dangling one; text keys compare case-insensitively.
        assert_eq!(rs.rows.len(), 1 + dangling, "{owner}: {rs:?}");
    }
    let subs = [("table", "[dbo].[Things]"), ("owner", "[IntOwner]")];
    ok(&mut s, "BEGIN TRAN", &[]);
    let items = ok(
        &mut s,
        &template("fix_update.sql", &subs),
        &[param("@P1", SqlType::Int, Value::Int(2))],
    );
    // The UPDATE's count, then the count the template selects right after.
    assert_eq!(
        items[0],
        Item::Done {
            rows_affected: Some(1)
        }
    );
    assert!(
        matches!(&items[1], Item::Rows(rs) if rs.rows == vec![vec![Value::Int(1)]]),
        "{items:?}"
    );
    ok(&mut s, "COMMIT", &[]);
    // An int parameter into a bigint column and text into nvarchar.
    ok(
        &mut s,
        "UPDATE dbo.Things SET BigOwner = @P1, TextOwner = @P2 WHERE ID = 2",
        &[
            param("@P1", SqlType::Int, Value::Int(5)),
            param(
                "@P2",
                SqlType::NVarChar(Some(4000)),
                Value::Text("pool-a".into()),
            ),
        ],
    );
    assert_eq!(
        scalar(&e, "SELECT BigOwner FROM dbo.Things WHERE ID = 2"),
        Value::Int(5)
    );
}
