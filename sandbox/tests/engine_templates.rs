//! The SQL engine against the product's own SQL (sql/*.sql) and fixtures:
//! the catalog, finding, permission and server templates. Runs the engine
//! directly, without the TDS front end.

mod common;

use common::*;

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
    // Per table, as schema.sql declares them (QueueAgentGroups and the
    // Workflows' link columns came with the foreign keys).
    assert_eq!(rs.rows.len(), 44);
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
    assert_eq!(rs.rows.len(), 12);
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
        &[
            ("owner", "[OwnerPoolId]"),
            ("table", "[dbo].[Queues]"),
            ("pool_table", "[dbo].[OwnerPool]"),
            ("pool_id", "[ID]"),
        ],
    );
    let rs = one(&mut s, &sql, &[]);
    assert_eq!(rs.columns[0].ty, SqlType::UniqueIdentifier);
    assert_eq!(rs.columns[1].ty, SqlType::UniqueIdentifier);
    assert_eq!(rs.columns[2].ty, SqlType::BigInt);
    let mut counts: Vec<(Value, Value, Value)> = rs
        .rows
        .iter()
        .map(|r| (r[0].clone(), r[1].clone(), r[2].clone()))
        .collect();
    counts.sort_by_key(|(k, _, _)| format!("{k:?}"));
    // The server matched the owner to its pool; NULL matches none.
    assert_eq!(
        counts,
        vec![
            (Value::Guid(guid(POOL1)), Value::Guid(guid(POOL1)), Value::Int(3)),
            (Value::Null, Value::Null, Value::Int(9))
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
    let perms = template(
        "permissions.sql",
        &[("table_param", "@P1"), ("column_param", "@P2")],
    );
    let p = |name: &str| {
        vec![
            param(
                "@P1",
                SqlType::NVarChar(Some(4000)),
                Value::Text(name.into()),
            ),
            param(
                "@P2",
                SqlType::NVarChar(Some(4000)),
                Value::Text("OwnerPoolId".into()),
            ),
        ]
    };
    let rs = one(&mut s, &perms, &p("[dbo].[Queues]"));
    assert_eq!(rs.columns[0].name, "can_update");
    assert_eq!(rs.columns[0].ty, SqlType::Int);
    assert_eq!(rs.columns[1].name, "can_update_owner");
    assert_eq!(rs.rows, vec![vec![Value::Int(1), Value::Int(1)]]);
    assert_eq!(
        one(&mut s, &perms, &p("[dbo].[Nope]")).rows,
        vec![vec![Value::Null, Value::Null]]
    );
    e.set_permission("rgsconfig", "[dbo].[Queues]", "UPDATE", false)
        .unwrap();
    assert_eq!(
        one(&mut s, &perms, &p("[dbo].[Queues]")).rows,
        vec![vec![Value::Int(0), Value::Int(0)]]
    );
    let err = fails(&mut s, "UPDATE dbo.Queues SET Name = N'x'");
    assert_eq!(err.number, 229);
    assert_eq!(err.message, "The UPDATE permission was denied on the object 'Queues', database 'rgsconfig', schema 'dbo'.");
    e.set_permission("rgsconfig", "dbo.Queues", "UPDATE", true)
        .unwrap();
    assert_eq!(
        one(&mut s, &perms, &p("[dbo].[Queues]")).rows,
        vec![vec![Value::Int(1), Value::Int(1)]]
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
        vec![vec![Value::Int(0), Value::Int(0)]]
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

#[test]
fn snapshot_templates_read_in_one_locked_transaction() {
    let e = engine_with(Some("migrated"));
    let mut s = session(&e);
    // ALLOW_SNAPSHOT_ISOLATION is OFF: the sandbox keeps no row versions.
    let rs = one(&mut s, &read("sql/snapshot_isolation.sql"), &[]);
    assert_eq!(rs.rows, vec![vec![Value::Int(0)]]);
    ok(
        &mut s,
        &template("snapshot_begin.sql", &[("isolation", "READ COMMITTED")]),
        &[],
    );
    let rs = one(&mut s, &read("sql/snapshot_columns.sql"), &[]);
    let names: Vec<&str> = rs.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(&names[6..], ["max_length", "precision", "scale"]);
    let fks = one(&mut s, &read("sql/snapshot_foreign_keys.sql"), &[]);
    assert_eq!(fks.rows.len(), 7);
    let rows = one(
        &mut s,
        &template(
            "snapshot_rows.sql",
            &[
                ("columns", "[ID], [OwnerPoolId]"),
                ("table", "[dbo].[AgentGroups]"),
                ("hints", " WITH (TABLOCK, HOLDLOCK)"),
                ("order_by", "\nORDER BY [ID]"),
            ],
        ),
        &[],
    );
    assert_eq!(rows.rows.len(), 12);
    // The lock is held: another session's write waits, and times out.
    let mut other = session(&e);
    ok(&mut other, "SET LOCK_TIMEOUT 0", &[]);
    assert_eq!(
        fails(
            &mut other,
            "UPDATE dbo.AgentGroups SET Name = N'x' WHERE 1 = 0"
        )
        .number,
        1222
    );
    ok(&mut s, &read("sql/snapshot_end.sql"), &[]);
    assert_eq!(
        scalar(&e, "SELECT COUNT(*) FROM dbo.AgentGroups"),
        Value::Int(12)
    );
    ok(
        &mut other,
        "UPDATE dbo.AgentGroups SET Name = N'x' WHERE 1 = 0",
        &[],
    );
}
