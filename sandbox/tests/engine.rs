//! The SQL engine against the product's own SQL (sql/*.sql) and fixtures,
//! SQL Server's transaction and locking behaviour, catalog views and
//! refusals. Runs the engine directly, without the TDS front end.

use rgs_sandbox::engine::{Engine, Session, CANCELLED};
use rgs_sandbox::types::{Item, Param, ResultSet, SqlError, SqlType, TxChange, Value};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// An engine with rgsconfig holding schema.sql and, if given, a scenario.
fn engine_with(scenario: Option<&str>) -> Engine {
    let e = Engine::new().unwrap();
    assert!(e.attach_database("rgsconfig", None).unwrap());
    e.run_script("rgsconfig", &read("sql/fixtures/schema.sql"))
        .unwrap();
    if let Some(s) = scenario {
        e.run_script("rgsconfig", &read(&format!("sql/fixtures/{s}.sql")))
            .unwrap();
    }
    e
}

fn session(e: &Engine) -> Session {
    e.open_session("rgsconfig").unwrap()
}

fn errors(items: &[Item]) -> Vec<&SqlError> {
    items
        .iter()
        .filter_map(|i| {
            if let Item::Error(e) = i {
                Some(e)
            } else {
                None
            }
        })
        .collect()
}

fn rows(items: &[Item]) -> Vec<&ResultSet> {
    items
        .iter()
        .filter_map(|i| if let Item::Rows(r) = i { Some(r) } else { None })
        .collect()
}

/// Runs a batch that must succeed and returns its items.
fn ok(s: &mut Session, sql: &str, params: &[Param]) -> Vec<Item> {
    let items = s.execute(sql, params);
    assert!(errors(&items).is_empty(), "{sql}\n=> {items:?}");
    items
}

/// The single result set of a batch.
fn one(s: &mut Session, sql: &str, params: &[Param]) -> ResultSet {
    let items = ok(s, sql, params);
    let r = rows(&items);
    assert_eq!(r.len(), 1, "{items:?}");
    r[0].clone()
}

/// The error of a batch that must fail.
fn fails(s: &mut Session, sql: &str) -> SqlError {
    let items = s.execute(sql, &[]);
    errors(&items)
        .first()
        .map(|e| (*e).clone())
        .unwrap_or_else(|| panic!("{sql} did not fail: {items:?}"))
}

fn scalar(e: &Engine, sql: &str) -> Value {
    let rs = e.query("rgsconfig", sql).unwrap();
    assert_eq!(rs.rows.len(), 1, "{sql}: {rs:?}");
    rs.rows[0][0].clone()
}

fn guid(s: &str) -> uuid::Uuid {
    uuid::Uuid::parse_str(s).unwrap()
}

fn param(name: &str, ty: SqlType, value: Value) -> Param {
    Param {
        name: name.into(),
        ty,
        value,
    }
}

#[test]
fn fixtures_load_with_their_counts() {
    for (scenario, agents, null_groups, pools) in [
        ("migrated", 32, 9, 1),
        ("healthy", 32, 0, 1),
        ("dangling", 20, 0, 1),
        ("multi-pool", 24, 3, 2),
        ("empty-pool", 10, 4, 0),
    ] {
        let e = engine_with(Some(scenario));
        assert_eq!(
            scalar(&e, "SELECT COUNT(*) FROM dbo.Agents"),
            Value::Int(agents),
            "{scenario}"
        );
        assert_eq!(
            scalar(
                &e,
                "SELECT COUNT(*) FROM [dbo].[AgentGroups] WHERE [OwnerPoolId] IS NULL"
            ),
            Value::Int(null_groups),
            "{scenario}"
        );
        assert_eq!(
            scalar(&e, "SELECT COUNT_BIG(*) FROM rgsconfig.dbo.OwnerPool"),
            Value::Int(pools),
            "{scenario}"
        );
    }
}

/// A template of sql/ with `{name}` placeholders replaced.
fn template(file: &str, subs: &[(&str, &str)]) -> String {
    let mut s = read(&format!("sql/{file}"));
    for (k, v) in subs {
        s = s.replace(&format!("{{{k}}}"), v);
    }
    let code: String = s
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect();
    assert!(
        !code.contains('{'),
        "unsubstituted placeholder in {file}: {s}"
    );
    s
}

const POOL1: &str = "292CE760-0931-5108-91AE-08CD2BFAD04C";
const POOL2: &str = "406DF8CA-10FF-5287-A934-EB972948497B";

#[test]
fn catalog_columns_template_lists_every_column_with_sql_server_types() {
    let e = engine_with(None);
    let mut s = session(&e);
    let rs = one(&mut s, &read("sql/catalog_columns.sql"), &[]);
    let names: Vec<&str> = rs.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "schema_name",
            "table_name",
            "column_name",
            "type_name",
            "column_id",
            "is_nullable"
        ]
    );
    let types: Vec<SqlType> = rs.columns.iter().map(|c| c.ty).collect();
    assert_eq!(
        types,
        [
            SqlType::NVarChar(Some(128)),
            SqlType::NVarChar(Some(128)),
            SqlType::NVarChar(Some(128)),
            SqlType::NVarChar(Some(128)),
            SqlType::Int,
            SqlType::Bit
        ]
    );
    let t = |s: &str| Value::Text(s.into());
    // Ordered by schema, table (case-insensitively), column_id.
    assert_eq!(
        rs.rows[0],
        vec![
            t("dbo"),
            t("AgentGroupAgents"),
            t("GroupId"),
            t("uniqueidentifier"),
            Value::Int(1),
            Value::Bit(false)
        ]
    );
    let owner: Vec<&Vec<Value>> = rs
        .rows
        .iter()
        .filter(|r| r[2] == t("OwnerPoolId"))
        .collect();
    assert_eq!(owner.len(), 6);
    assert!(owner
        .iter()
        .all(|r| r[3] == t("uniqueidentifier") && r[5] == Value::Bit(true)));
    let fqdn = rs
        .rows
        .iter()
        .find(|r| r[1] == t("OwnerPool") && r[2] == t("Fqdn"))
        .unwrap();
    assert_eq!(fqdn[3..], [t("nvarchar"), Value::Int(2), Value::Bit(false)]);
    assert_eq!(rs.rows.len(), 3 + 4 + 7 + 3 + 6 + 7 + 3 + 3 + 2);
    let tables: Vec<String> = rs
        .rows
        .iter()
        .map(|r| {
            if let Value::Text(s) = &r[1] {
                s.clone()
            } else {
                panic!()
            }
        })
        .collect();
    let mut sorted = tables.clone();
    sorted.sort_by_key(|s| s.to_lowercase());
    assert_eq!(tables, sorted);
}

#[test]
fn catalog_primary_keys_template_gives_key_columns_in_order() {
    let e = engine_with(None);
    let mut s = session(&e);
    let rs = one(&mut s, &read("sql/catalog_primary_keys.sql"), &[]);
    assert_eq!(rs.columns[3].ty, SqlType::TinyInt);
    let t = |s: &str| Value::Text(s.into());
    assert_eq!(rs.rows.len(), 10);
    assert_eq!(
        rs.rows[0],
        vec![t("dbo"), t("AgentGroupAgents"), t("GroupId"), Value::Int(1)]
    );
    assert_eq!(
        rs.rows[1],
        vec![t("dbo"), t("AgentGroupAgents"), t("AgentId"), Value::Int(2)]
    );
    assert_eq!(
        rs.rows[2],
        vec![t("dbo"), t("AgentGroups"), t("ID"), Value::Int(1)]
    );
    assert!(rs
        .rows
        .iter()
        .any(|r| r[1] == t("DbConfigInt") && r[2] == t("Name")));
    // Constraint names survive in sys.indexes and INFORMATION_SCHEMA.
    let rs = one(&mut s, "SELECT name, type, is_unique FROM sys.indexes WHERE object_id = OBJECT_ID(N'dbo.OwnerPool')", &[]);
    assert_eq!(
        rs.rows,
        vec![vec![t("PK_OwnerPool"), Value::Int(1), Value::Bit(true)]]
    );
    let rs = one(
        &mut s,
        "SELECT CONSTRAINT_NAME, CONSTRAINT_TYPE FROM INFORMATION_SCHEMA.TABLE_CONSTRAINTS WHERE TABLE_NAME = 'AgentGroupAgents'",
        &[],
    );
    assert_eq!(
        rs.rows,
        vec![vec![t("PK_AgentGroupAgents"), t("PRIMARY KEY")]]
    );
    let rs = one(
        &mut s,
        "SELECT COLUMN_NAME, ORDINAL_POSITION FROM INFORMATION_SCHEMA.KEY_COLUMN_USAGE WHERE CONSTRAINT_NAME = N'PK_AgentGroupAgents' ORDER BY ORDINAL_POSITION",
        &[],
    );
    assert_eq!(
        rs.rows,
        vec![
            vec![t("GroupId"), Value::Int(1)],
            vec![t("AgentId"), Value::Int(2)]
        ]
    );
}

#[test]
fn finding_rows_owner_counts_and_pools_templates() {
    let e = engine_with(Some("migrated"));
    let mut s = session(&e);
    let sql = template(
        "finding_rows.sql",
        &[
            ("keys", "[ID]"),
            ("order", "[ID]"),
            ("display", "[Name]"),
            ("table", "[dbo].[AgentGroups]"),
            ("owner", "[OwnerPoolId]"),
            ("pool_table", "[dbo].[OwnerPool]"),
            ("pool_id", "[ID]"),
        ],
    );
    let rs = one(&mut s, &sql, &[]);
    assert_eq!(rs.rows.len(), 9);
    assert_eq!(rs.columns[0].ty, SqlType::UniqueIdentifier);
    assert_eq!(rs.columns[1].name, "display_name");
    assert_eq!(rs.columns[1].ty, SqlType::NVarChar(Some(256)));
    assert_eq!(rs.columns[2].name, "owner_pool_id");
    assert!(rs.rows.iter().all(|r| matches!(r[0], Value::Guid(_))
        && matches!(r[1], Value::Text(_))
        && r[2] == Value::Null));

    // A typed NULL display and a composite key.
    let sql = template(
        "finding_rows.sql",
        &[
            ("keys", "[ID]"),
            ("order", "[ID]"),
            ("display", "CAST(NULL AS nvarchar(256))"),
            ("table", "[dbo].[HolidaySets]"),
            ("owner", "[OwnerPoolId]"),
            ("pool_table", "[dbo].[OwnerPool]"),
            ("pool_id", "[ID]"),
        ],
    );
    let rs = one(&mut s, &sql, &[]);
    assert_eq!(rs.rows.len(), 5);
    assert_eq!(rs.columns[1].ty, SqlType::NVarChar(Some(256)));
    assert!(rs.rows.iter().all(|r| r[1] == Value::Null));

    let sql = template(
        "owner_counts.sql",
        &[("owner", "[OwnerPoolId]"), ("table", "[dbo].[Queues]")],
    );
    let rs = one(&mut s, &sql, &[]);
    assert_eq!(rs.columns[0].ty, SqlType::UniqueIdentifier);
    assert_eq!(rs.columns[1].ty, SqlType::BigInt);
    let mut counts: Vec<(Value, Value)> = rs
        .rows
        .iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect();
    counts.sort_by_key(|(k, _)| format!("{k:?}"));
    assert_eq!(
        counts,
        vec![
            (Value::Guid(guid(POOL1)), Value::Int(3)),
            (Value::Null, Value::Int(9))
        ]
    );

    let sql = template(
        "owner_pools.sql",
        &[
            ("id", "[ID]"),
            ("name", "[Fqdn]"),
            ("pool_table", "[dbo].[OwnerPool]"),
        ],
    );
    let rs = one(&mut s, &sql, &[]);
    assert_eq!(
        rs.rows,
        vec![vec![
            Value::Guid(guid(POOL1)),
            Value::Text("lyncpool01.contoso.local".into())
        ]]
    );
    let sql = template(
        "owner_pools.sql",
        &[
            ("id", "[ID]"),
            ("name", "CAST(NULL AS nvarchar(256))"),
            ("pool_table", "[dbo].[OwnerPool]"),
        ],
    );
    let rs = one(&mut s, &sql, &[]);
    assert_eq!(rs.rows[0][1], Value::Null);

    // Dangling owners are found too.
    let e = engine_with(Some("dangling"));
    let mut s = session(&e);
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
    let rs = one(&mut s, &sql, &[]);
    assert_eq!(rs.rows.len(), 4);
    assert!(rs
        .rows
        .iter()
        .all(|r| r[2] == Value::Guid(guid("E4F585C3-AB82-5EE9-A2A1-A748F9691B12"))));
    // Rows come in SQL Server's uniqueidentifier order.
    let keys: Vec<uuid::Uuid> = rs
        .rows
        .iter()
        .map(|r| {
            if let Value::Guid(g) = r[0] {
                g
            } else {
                panic!()
            }
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort_by_key(|g| {
        let b = g.as_bytes();
        [
            b[10], b[11], b[12], b[13], b[14], b[15], b[8], b[9], b[7], b[6], b[5], b[4], b[3],
            b[2], b[1], b[0],
        ]
    });
    assert_eq!(keys, sorted);
}

#[test]
fn permissions_and_server_info_templates() {
    let e = engine_with(None);
    let mut s = session(&e);
    let perms = read("sql/permissions.sql");
    let p = |name: &str| {
        vec![param(
            "@P1",
            SqlType::NVarChar(Some(4000)),
            Value::Text(name.into()),
        )]
    };
    let rs = one(&mut s, &perms, &p("[dbo].[Queues]"));
    assert_eq!(rs.columns[0].name, "can_update");
    assert_eq!(rs.columns[0].ty, SqlType::Int);
    assert_eq!(rs.rows, vec![vec![Value::Int(1)]]);
    assert_eq!(
        one(&mut s, &perms, &p("[dbo].[Nope]")).rows,
        vec![vec![Value::Null]]
    );
    e.set_permission("rgsconfig", "[dbo].[Queues]", "UPDATE", false)
        .unwrap();
    assert_eq!(
        one(&mut s, &perms, &p("[dbo].[Queues]")).rows,
        vec![vec![Value::Int(0)]]
    );
    let err = fails(&mut s, "UPDATE dbo.Queues SET Name = N'x'");
    assert_eq!(err.number, 229);
    assert_eq!(err.message, "The UPDATE permission was denied on the object 'Queues', database 'rgsconfig', schema 'dbo'.");
    e.set_permission("rgsconfig", "dbo.Queues", "UPDATE", true)
        .unwrap();
    assert_eq!(
        one(&mut s, &perms, &p("[dbo].[Queues]")).rows,
        vec![vec![Value::Int(1)]]
    );

    let info = read("sql/server_info.sql");
    let rs = one(&mut s, &info, &[]);
    assert!(rs
        .columns
        .iter()
        .all(|c| matches!(c.ty, SqlType::NVarChar(_))));
    assert_eq!(rs.rows[0][0], Value::Text("rgsconfig".into()));
    assert_eq!(rs.rows[0][1], Value::Text("RGS-SANDBOX".into()));
    assert_eq!(rs.rows[0][2], Value::Text("16.0.1000.6".into()));
    assert_eq!(rs.rows[0][3], Value::Text("READ_WRITE".into()));
    e.set_read_only("rgsconfig", true).unwrap();
    let rs = one(&mut s, &info, &[]);
    assert_eq!(rs.rows[0][3], Value::Text("READ_ONLY".into()));
    assert_eq!(
        one(&mut s, &perms, &p("[dbo].[Queues]")).rows,
        vec![vec![Value::Int(0)]]
    );
    assert_eq!(fails(&mut s, "DELETE FROM dbo.Queues").number, 3906);
    let rs = one(
        &mut s,
        "SELECT name, is_read_only FROM sys.databases WHERE database_id = DB_ID()",
        &[],
    );
    assert_eq!(
        rs.rows,
        vec![vec![Value::Text("rgsconfig".into()), Value::Bit(true)]]
    );
}

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
        items,
        vec![Item::Done {
            rows_affected: Some(9)
        }]
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
    let key_match = "[ID] IN (@P2, @P3, @P4)";
    let subs = [
        ("table", "[dbo].[AgentGroups]"),
        ("owner", "[OwnerPoolId]"),
        ("keys", "[ID]"),
        ("key_match", key_match),
    ];
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
    ok(
        &mut s,
        "SET XACT_ABORT ON; SET LOCK_TIMEOUT 1000; BEGIN TRANSACTION;",
        &[],
    );
    let rs = one(&mut s, &template("undo_recheck.sql", &subs), &params[1..]);
    assert_eq!(rs.rows.len(), 3);
    assert!(rs.rows.iter().all(|r| r[1] == Value::Guid(guid(POOL1))));
    let items = ok(&mut s, &template("undo_update.sql", &subs), &params);
    assert_eq!(
        items,
        vec![Item::Done {
            rows_affected: Some(3)
        }]
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
    assert_eq!(
        items,
        vec![Item::Done {
            rows_affected: Some(1)
        }]
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

#[test]
fn uncommitted_writes_are_invisible_and_block_writers_until_lock_timeout() {
    let e = engine_with(Some("migrated"));
    let mut a = session(&e);
    let mut b = session(&e);
    ok(
        &mut a,
        "BEGIN TRAN; UPDATE dbo.Queues SET Name = N'changed' WHERE OwnerPoolId IS NULL",
        &[],
    );
    // Readers see the committed data and are not blocked.
    let rs = one(
        &mut b,
        "SELECT COUNT(*) FROM dbo.Queues WHERE Name = N'changed'",
        &[],
    );
    assert_eq!(rs.rows[0][0], Value::Int(0));
    let rs = one(
        &mut a,
        "SELECT COUNT(*) FROM dbo.Queues WHERE Name = N'CHANGED'",
        &[],
    );
    assert_eq!(rs.rows[0][0], Value::Int(9));
    // A second writer waits for its lock timeout, then fails with 1222.
    ok(&mut b, "SET LOCK_TIMEOUT 200", &[]);
    let start = Instant::now();
    let items = b.execute(
        "UPDATE dbo.Agents SET DisplayName = N'x'; SELECT @@TRANCOUNT AS tc",
        &[],
    );
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(190) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    let err = errors(&items)[0];
    assert_eq!((err.number, err.severity, err.state), (1222, 16, 51));
    assert_eq!(err.message, "Lock request time out period exceeded.");
    // Statement-level: the batch went on.
    assert_eq!(rows(&items)[0].rows[0][0], Value::Int(0));
    // So does a locking read inside a transaction, and NOWAIT fails at once.
    let items = b.execute(
        "BEGIN TRAN; SELECT ID FROM dbo.Queues WITH (UPDLOCK, HOLDLOCK) WHERE OwnerPoolId IS NULL",
        &[],
    );
    assert_eq!(errors(&items)[0].number, 1222);
    ok(&mut b, "ROLLBACK", &[]);
    let start = Instant::now();
    let items = b.execute(
        "SET LOCK_TIMEOUT -1; DELETE FROM dbo.Agents WITH (NOWAIT) WHERE 1 = 0",
        &[],
    );
    assert_eq!(errors(&items)[0].number, 1222);
    assert!(start.elapsed() < Duration::from_millis(150));
    // With no timeout (-1) the writer waits until the first commits.
    let handle = std::thread::spawn(move || {
        let items = b.execute(
            "UPDATE dbo.Queues SET Description = N'after' WHERE Name = N'changed'",
            &[],
        );
        (items, b)
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(!handle.is_finished());
    ok(&mut a, "COMMIT TRANSACTION", &[]);
    let (items, _b) = handle.join().unwrap();
    assert_eq!(
        items,
        vec![Item::Done {
            rows_affected: Some(9)
        }]
    );
    assert_eq!(
        scalar(
            &e,
            "SELECT COUNT(*) FROM dbo.Queues WHERE Description = 'after'"
        ),
        Value::Int(9)
    );
}

#[test]
fn xact_abort_rolls_back_and_aborts_the_batch() {
    let e = engine_with(Some("migrated"));
    let mut s = session(&e);
    let dup = "INSERT INTO dbo.OwnerPool (ID, Fqdn) VALUES ('292CE760-0931-5108-91AE-08CD2BFAD04C', N'again')";
    let items = s.execute(
        &format!("SET XACT_ABORT ON; BEGIN TRAN; UPDATE dbo.Agents SET DisplayName = N'gone'; {dup}; SELECT 1"),
        &[],
    );
    let kinds: Vec<&str> = items
        .iter()
        .map(|i| match i {
            Item::Error(_) => "error",
            Item::Tx(TxChange::Begin(_)) => "begin",
            Item::Tx(TxChange::Rollback(_)) => "rollback",
            Item::Tx(TxChange::Commit(_)) => "commit",
            Item::Rows(_) => "rows",
            Item::Done { .. } => "done",
            Item::Info { .. } => "info",
        })
        .collect();
    assert_eq!(
        kinds,
        ["done", "begin", "done", "done", "error", "rollback"]
    );
    let err = errors(&items)[0];
    assert_eq!(err.number, 2627);
    assert_eq!(err.line, 1);
    assert_eq!(s.transaction(), None);
    assert_eq!(
        scalar(
            &e,
            "SELECT COUNT(*) FROM dbo.Agents WHERE DisplayName = N'gone'"
        ),
        Value::Int(0)
    );
    let rs = one(&mut s, "SELECT @@TRANCOUNT", &[]);
    assert_eq!(rs.rows[0][0], Value::Int(0));
}

#[test]
fn statement_level_errors_leave_the_transaction_open() {
    let e = engine_with(Some("migrated"));
    let mut s = session(&e);
    let items = s.execute(
        "SET XACT_ABORT OFF
         BEGIN TRAN
         UPDATE dbo.Agents SET DisplayName = N'kept' WHERE SipAddress = N'sip:alice.jones@contoso.com'
         INSERT INTO dbo.OwnerPool (ID, Fqdn) VALUES ('292ce760-0931-5108-91ae-08cd2bfad04c', N'again')
         INSERT INTO dbo.Queues (ID, Name) VALUES (NEWID(), NULL)
         INSERT INTO dbo.Queues (ID, Name) VALUES ('not-a-guid', N'q')
         INSERT INTO dbo.OwnerPool (ID, Fqdn) VALUES (NEWID(), REPLICATE_IS_NOT_HERE)
         SELECT @@TRANCOUNT",
        &[],
    );
    // The last INSERT does not compile, so nothing of the batch ran.
    let errs = errors(&items);
    assert_eq!(errs.len(), 1, "{items:?}");
    assert_eq!(errs[0].number, 207);
    assert_eq!(s.transaction(), None);
    ok(&mut s, "BEGIN TRAN", &[]);
    let items = s.execute(
        "UPDATE dbo.Agents SET DisplayName = N'kept' WHERE SipAddress = N'sip:alice.jones@contoso.com'
         INSERT INTO dbo.OwnerPool (ID, Fqdn) VALUES ('292ce760-0931-5108-91ae-08cd2bfad04c', N'again')
         INSERT INTO dbo.Queues (ID, Name) VALUES (NEWID(), NULL)
         INSERT INTO dbo.Queues (ID, Name) VALUES ('not-a-guid', N'q')
         INSERT INTO dbo.Queues (ID, Name) VALUES (NEWID(), N'this name is far too long for its column........................................................................................................................................................................................................................................!')
         SELECT @@TRANCOUNT",
        &[],
    );
    let errs = errors(&items);
    assert_eq!(errs.len(), 4, "{items:?}");
    assert_eq!(
        (errs[0].number, errs[0].severity, errs[0].line, errs[0].message.as_str()),
        (
            2627,
            14,
            2,
            "Violation of PRIMARY KEY constraint 'PK_OwnerPool'. Cannot insert duplicate key in object 'dbo.OwnerPool'. The duplicate key value is (292ce760-0931-5108-91ae-08cd2bfad04c)."
        )
    );
    assert_eq!(
        (errs[1].number, errs[1].message.as_str()),
        (515, "Cannot insert the value NULL into column 'Name', table 'rgsconfig.dbo.Queues'; column does not allow nulls. INSERT fails.")
    );
    assert_eq!(
        (errs[2].number, errs[2].message.as_str()),
        (
            8169,
            "Conversion failed when converting from a character string to uniqueidentifier."
        )
    );
    assert_eq!((errs[3].number, errs[3].line), (2628, 5));
    assert_eq!(rows(&items)[0].rows[0][0], Value::Int(1));
    assert!(s.transaction().is_some());
    ok(&mut s, "COMMIT", &[]);
    assert_eq!(
        scalar(
            &e,
            "SELECT COUNT(*) FROM dbo.Agents WHERE DisplayName = 'kept'"
        ),
        Value::Int(1)
    );
}

#[test]
fn truncation_and_composite_duplicates() {
    let e = engine_with(Some("migrated"));
    let mut s = session(&e);
    let long = "x".repeat(300);
    let err = fails(
        &mut s,
        &format!("INSERT INTO dbo.Queues (ID, Name) VALUES (NEWID(), N'{long}')"),
    );
    assert_eq!(err.number, 2628);
    assert!(err.message.starts_with(
        "String or binary data would be truncated in table 'rgsconfig.dbo.Queues', column 'Name'."
    ));
    let pair = e
        .query(
            "rgsconfig",
            "SELECT TOP 1 GroupId, AgentId FROM dbo.AgentGroupAgents",
        )
        .unwrap();
    let (Value::Guid(g), Value::Guid(a)) = (&pair.rows[0][0], &pair.rows[0][1]) else {
        panic!()
    };
    let err = fails(
        &mut s,
        &format!("INSERT INTO dbo.AgentGroupAgents VALUES ('{g}', '{a}', 9)"),
    );
    assert_eq!(err.number, 2627);
    assert!(
        err.message
            .ends_with(&format!("The duplicate key value is ({g}, {a}).")),
        "{}",
        err.message
    );
    // Duplicates within one statement are found as well.
    let err = fails(
        &mut s,
        "INSERT INTO dbo.DbConfigInt (Name, Value) VALUES (N'a', 1), (N'A', 2)",
    );
    assert!(
        err.message.ends_with("The duplicate key value is (A)."),
        "{}",
        err.message
    );
}

#[test]
fn trancount_nesting_and_unmatched_commit_rollback() {
    let e = engine_with(None);
    let mut s = session(&e);
    let items = ok(
        &mut s,
        "BEGIN TRAN; BEGIN TRANSACTION; SELECT @@TRANCOUNT AS n",
        &[],
    );
    let begins: Vec<_> = items.iter().filter(|i| matches!(i, Item::Tx(_))).collect();
    assert_eq!(begins.len(), 1);
    assert_eq!(rows(&items)[0].rows[0][0], Value::Int(2));
    assert_eq!(rows(&items)[0].columns[0].ty, SqlType::Int);
    let items = ok(&mut s, "COMMIT; SELECT @@TRANCOUNT", &[]);
    assert!(!items.iter().any(|i| matches!(i, Item::Tx(_))));
    assert_eq!(rows(&items)[0].rows[0][0], Value::Int(1));
    let items = ok(&mut s, "COMMIT TRAN", &[]);
    assert!(matches!(items[0], Item::Tx(TxChange::Commit(_))));
    let err = fails(&mut s, "COMMIT");
    assert_eq!(
        (err.number, err.message.as_str()),
        (
            3902,
            "The COMMIT TRANSACTION request has no corresponding BEGIN TRANSACTION."
        )
    );
    let err = fails(&mut s, "ROLLBACK TRANSACTION");
    assert_eq!(err.number, 3903);
    // Nested BEGINs are rolled back all at once; descriptors are fresh.
    let i1 = ok(&mut s, "BEGIN TRAN; BEGIN TRAN; ROLLBACK", &[]);
    let i2 = ok(&mut s, "BEGIN TRAN", &[]);
    let (Item::Tx(TxChange::Begin(t1)), Item::Tx(TxChange::Begin(t2))) = (&i1[0], &i2[0]) else {
        panic!()
    };
    assert_ne!(t1, t2);
    assert!(i1.contains(&Item::Tx(TxChange::Rollback(*t1))));
    // The transaction manager requests behave the same.
    let items = s.commit_transaction();
    assert_eq!(items, vec![Item::Tx(TxChange::Commit(*t2))]);
    let items = s.begin_transaction();
    let Item::Tx(TxChange::Begin(t3)) = items[0] else {
        panic!()
    };
    assert_eq!(s.transaction(), Some(t3));
    assert_eq!(
        s.rollback_transaction(),
        vec![Item::Tx(TxChange::Rollback(t3))]
    );
    // reset() rolls back and restores the defaults.
    ok(
        &mut s,
        "SET NOCOUNT ON; BEGIN TRAN; INSERT INTO dbo.DbConfigInt VALUES (N'r', 1)",
        &[],
    );
    s.reset();
    assert_eq!(s.transaction(), None);
    assert_eq!(
        scalar(&e, "SELECT COUNT(*) FROM dbo.DbConfigInt"),
        Value::Int(0)
    );
    let items = ok(&mut s, "INSERT INTO dbo.DbConfigInt VALUES (N'r', 1)", &[]);
    assert_eq!(
        items,
        vec![Item::Done {
            rows_affected: Some(1)
        }]
    );
}

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
fn interrupt_stops_the_running_statement_and_keeps_the_transaction() {
    let e = engine_with(None);
    let mut s = session(&e);
    ok(
        &mut s,
        "BEGIN TRAN; INSERT INTO dbo.DbConfigInt VALUES (N'kept', 1)",
        &[],
    );
    let stop = s.interrupter();
    let handle = std::thread::spawn(move || {
        let start = Instant::now();
        let items = s.execute("WAITFOR DELAY '00:00:05'; SELECT 1", &[]);
        (items, start.elapsed(), s)
    });
    std::thread::sleep(Duration::from_millis(100));
    stop.interrupt();
    let (items, took, mut s) = handle.join().unwrap();
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert_eq!(errors(&items)[0].number, CANCELLED);
    assert!(rows(&items).is_empty());
    // The next batch runs normally, in the same transaction.
    let rs = one(
        &mut s,
        "SELECT @@TRANCOUNT, COUNT(*) FROM dbo.DbConfigInt",
        &[],
    );
    assert_eq!(rs.rows[0], vec![Value::Int(1), Value::Int(1)]);
    ok(&mut s, "ROLLBACK", &[]);
}

#[test]
fn scripts_report_the_failing_line_and_files_persist() {
    let e = Engine::new().unwrap();
    e.attach_database("rgsconfig", None).unwrap();
    let err = e
        .run_script(
            "rgsconfig",
            "CREATE TABLE dbo.T (A int)\nGO\n\nINSERT INTO dbo.T VALUES (1)\nSELEC 2\nGO\n",
        )
        .unwrap_err();
    assert_eq!((err.number, err.line), (102, 5));
    assert_eq!(e.run_script("nope", "SELECT 1").unwrap_err().number, 4060);
    assert_eq!(e.open_session("nope").err().unwrap().number, 4060);
    e.run_script("rgsconfig", "INSERT INTO dbo.T VALUES (2)\nGO 3")
        .unwrap();
    assert_eq!(scalar(&e, "SELECT COUNT(*) FROM dbo.T"), Value::Int(3));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rgs.sqlite");
    {
        let e = Engine::new().unwrap();
        assert!(e.attach_database("rgsconfig", Some(&file)).unwrap());
        e.run_script("rgsconfig", &read("sql/fixtures/schema.sql"))
            .unwrap();
        e.run_script("rgsconfig", &read("sql/fixtures/dangling.sql"))
            .unwrap();
    }
    let e = Engine::new().unwrap();
    assert!(!e.attach_database("rgsconfig", Some(&file)).unwrap());
    assert_eq!(
        scalar(&e, "SELECT COUNT(*) FROM dbo.Agents"),
        Value::Int(20)
    );
    // USE switches the session's database.
    let mut s = e.open_session("master").unwrap();
    let items = ok(&mut s, "USE rgsconfig; SELECT DB_NAME()", &[]);
    assert!(items.contains(&Item::Info {
        number: 5701,
        message: "Changed database context to 'rgsconfig'.".into()
    }));
    assert_eq!(s.database(), "rgsconfig");
    assert_eq!(rows(&items)[0].rows[0][0], Value::Text("rgsconfig".into()));
}

#[test]
fn savepoints_and_named_transactions() {
    let e = engine_with(None);
    let mut s = session(&e);
    let items = ok(
        &mut s,
        "BEGIN TRAN outer_tx
         SAVE TRANSACTION before_writes
         INSERT INTO dbo.DbConfigInt VALUES (N'a', 1)
         SAVE TRAN [after a]
         INSERT INTO dbo.DbConfigInt VALUES (N'b', 2)
         ROLLBACK TRANSACTION [after a]
         SELECT Name FROM dbo.DbConfigInt
         ROLLBACK TRAN before_writes
         SELECT COUNT(*), @@TRANCOUNT FROM dbo.DbConfigInt
         INSERT INTO dbo.DbConfigInt VALUES (N'c', 3)
         COMMIT TRAN outer_tx",
        &[],
    );
    let r = rows(&items);
    assert_eq!(r[0].rows, vec![vec![Value::Text("a".into())]]);
    assert_eq!(r[1].rows, vec![vec![Value::Int(0), Value::Int(1)]]);
    assert!(matches!(
        items.iter().rev().find(|i| matches!(i, Item::Tx(_))),
        Some(Item::Tx(TxChange::Commit(_)))
    ));
    assert_eq!(
        scalar(&e, "SELECT Name FROM dbo.DbConfigInt"),
        Value::Text("c".into())
    );
    assert_eq!(fails(&mut s, "SAVE TRAN x").number, 628);
    // Rolling back to the outer transaction's name ends it.
    let items = ok(
        &mut s,
        "BEGIN TRAN t; INSERT INTO dbo.DbConfigInt VALUES (N'd', 4); ROLLBACK TRAN t",
        &[],
    );
    assert!(items
        .iter()
        .any(|i| matches!(i, Item::Tx(TxChange::Rollback(_)))));
    assert_eq!(
        scalar(&e, "SELECT COUNT(*) FROM dbo.DbConfigInt"),
        Value::Int(1)
    );
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
        let drop: String = [
            "OwnerPool",
            "Agents",
            "AgentGroups",
            "AgentGroupAgents",
            "Queues",
            "Workflows",
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
        assert_eq!(
            items,
            vec![Item::Done {
                rows_affected: Some(2)
            }],
            "{ty}"
        );
        ok(&mut s, &read("sql/commit.sql"), &[]);
        let key_match = "([K1] = @P2 AND [K2] = @P3)";
        let subs = [
            ("table", gr),
            ("owner", "[ownerPoolId]"),
            ("keys", "[K1], [K2]"),
            ("key_match", key_match),
        ];
        let params = vec![
            param("@P1", pty, pval.clone()),
            param("@P2", SqlType::Int, Value::Int(1)),
            param(
                "@P3",
                SqlType::NVarChar(Some(4000)),
                Value::Text("a]b".into()),
            ),
        ];
        ok(&mut s, &read("sql/begin.sql"), &[]);
        let rs = one(&mut s, &template("undo_recheck.sql", &subs), &params[1..]);
        assert_eq!(
            rs.rows,
            vec![vec![Value::Int(1), Value::Text("a]b".into()), pval.clone()]],
            "{ty}"
        );
        let items = ok(&mut s, &template("undo_update.sql", &subs), &params);
        assert_eq!(
            items,
            vec![Item::Done {
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
        items,
        vec![Item::Done {
            rows_affected: Some(90_000)
        }]
    );
    ok(&mut s, "COMMIT TRANSACTION", &[]);
    let fix = start.elapsed();
    let start = Instant::now();
    ok(&mut s, "BEGIN TRANSACTION", &[]);
    for chunk in 0..50 {
        let ids: Vec<i64> = (0..2000)
            .map(|i| (chunk * 2000 + i) as i64)
            .filter(|id| id % 10 != 0)
            .collect();
        let mut params = vec![param("@P1", SqlType::Int, Value::Int(7))];
        let mut names = Vec::new();
        for id in &ids {
            params.push(param(
                &format!("@P{}", params.len() + 1),
                SqlType::Int,
                Value::Int(*id),
            ));
            names.push(format!("@P{}", params.len()));
        }
        let key_match = format!("[ID] IN ({})", names.join(", "));
        let subs = [
            ("table", "[dbo].[Queues]"),
            ("owner", "[OwnerPoolId]"),
            ("keys", "[ID]"),
            ("key_match", key_match.as_str()),
        ];
        assert_eq!(
            one(&mut s, &template("undo_recheck.sql", &subs), &params[1..])
                .rows
                .len(),
            ids.len()
        );
        ok(&mut s, &template("undo_update.sql", &subs), &params);
    }
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
