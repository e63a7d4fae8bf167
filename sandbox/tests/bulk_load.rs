//! TDS bulk load (`INSERT BULK` then a BULK_LOAD message) through
//! tiberius's `bulk_insert`, the way the product's undo sends a journal's
//! keys to a session temporary table.

mod tds_common;

use tds_common::{code, connect, count_in, run, sandbox, Conn, Sandbox, SandboxOptions};
use tiberius::IntoRow;
use uuid::Uuid;

const KEYS: &str = "CREATE TABLE #t ([ID] uniqueidentifier NOT NULL PRIMARY KEY, \
                    [Name] nvarchar(256) COLLATE DATABASE_DEFAULT)";

async fn count(c: &mut Conn, sql: &str) -> i64 {
    let rows = run(c, sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.last().unwrap()[0].get::<i32, _>(0).unwrap() as i64
}

/// The IDs of the agent groups without an owner pool.
async fn orphans(c: &mut Conn) -> Vec<Uuid> {
    run(
        c,
        "SELECT [ID] FROM [dbo].[AgentGroups] WHERE [OwnerPoolId] IS NULL",
    )
    .await
    .unwrap()[0]
        .iter()
        .map(|r| r.get::<Uuid, _>(0).unwrap())
        .collect()
}

/// Bulk-loads `(id, name)` rows into `table`: the row count, or the error.
async fn load(c: &mut Conn, table: &str, rows: &[(Uuid, String)]) -> tiberius::Result<u64> {
    let mut req = c.bulk_insert(table).await?;
    for (id, name) in rows {
        req.send((*id, name.as_str()).into_row()).await?;
    }
    Ok(req.finalize().await?.total())
}

fn random_rows(n: usize) -> Vec<(Uuid, String)> {
    (0..n)
        .map(|i| (Uuid::new_v4(), format!("row {i}")))
        .collect()
}

#[tokio::test]
async fn ten_thousand_keys_into_a_temp_table_then_joined() {
    let sb = sandbox("migrated");
    let mut c = connect(&sb).await;
    run(&mut c, KEYS).await.unwrap();
    let mut rows: Vec<(Uuid, String)> = orphans(&mut c)
        .await
        .into_iter()
        .map(|id| (id, "orphan".to_string()))
        .collect();
    assert_eq!(rows.len(), 9);
    rows.extend(random_rows(10_000 - 9));

    let before = sb.requests();
    assert_eq!(load(&mut c, "#t", &rows).await.unwrap(), 10_000);
    // The metadata query, the INSERT BULK batch, the BULK_LOAD message.
    assert_eq!(sb.requests() - before, 3);

    assert_eq!(count(&mut c, "SELECT COUNT(*) FROM #t").await, 10_000);
    let joined = "SELECT COUNT(*) FROM #t AS k JOIN [dbo].[AgentGroups] AS t \
                  ON t.[ID] = k.[ID] WHERE t.[OwnerPoolId] IS NULL AND k.[Name] = N'orphan'";
    assert_eq!(count(&mut c, joined).await, 9);
    let (id, name) = &rows[5000];
    let got = run(
        &mut c,
        &format!("SELECT [Name] FROM #t WHERE [ID] = '{id}'"),
    )
    .await
    .unwrap();
    assert_eq!(got[0][0].get::<&str, _>(0), Some(name.as_str()));
}

#[tokio::test]
async fn a_composite_key_of_int_and_nvarchar() {
    let sb = sandbox("migrated");
    let mut c = connect(&sb).await;
    run(
        &mut c,
        "CREATE TABLE #c ([Kind] int NOT NULL, [Name] nvarchar(50) COLLATE DATABASE_DEFAULT \
         NOT NULL, [At] datetime NULL, PRIMARY KEY ([Kind], [Name]))",
    )
    .await
    .unwrap();
    let mut req = c.bulk_insert("#c").await.unwrap();
    for (kind, name) in [(1, "x"), (1, "y"), (2, "x")] {
        let at: Option<chrono::NaiveDateTime> = None;
        req.send((kind, name, at).into_row()).await.unwrap();
    }
    assert_eq!(req.finalize().await.unwrap().total(), 3);
    assert_eq!(
        count(
            &mut c,
            "SELECT COUNT(*) FROM #c WHERE [Kind] = 1 AND [At] IS NULL"
        )
        .await,
        2
    );
    // The key's collation is case-insensitive: 'X' duplicates 'x'.
    let mut req = c.bulk_insert("#c").await.unwrap();
    let at: Option<chrono::NaiveDateTime> = None;
    req.send((2, "X", at).into_row()).await.unwrap();
    let e = req.finalize().await.expect_err("a duplicate key");
    assert_eq!(code(&e), 2627, "{e}");
}

#[tokio::test]
async fn a_duplicate_key_fails_with_2627_and_loads_nothing() {
    let sb = sandbox("migrated");
    let mut c = connect(&sb).await;
    run(&mut c, KEYS).await.unwrap();
    let mut rows = random_rows(500);
    rows.push(rows[10].clone());
    let e = load(&mut c, "#t", &rows).await.expect_err("duplicate");
    assert_eq!(code(&e), 2627, "{e}");
    assert!(
        e.to_string()
            .contains(&rows[10].0.to_string().to_uppercase())
            || e.to_string().contains(&rows[10].0.to_string()),
        "{e}"
    );
    assert_eq!(count(&mut c, "SELECT COUNT(*) FROM #t").await, 0);
    // The connection goes on: a later load works.
    assert_eq!(load(&mut c, "#t", &rows[..3]).await.unwrap(), 3);
}

/// The Name column of `table`, as a scan returns it.
async fn scan(c: &mut Conn, table: &str) -> Vec<String> {
    run(c, &format!("SELECT [Name] FROM {table}"))
        .await
        .unwrap()[0]
        .iter()
        .map(|r| r.get::<&str, _>(0).unwrap().to_string())
        .collect()
}

/// SQL Server's order of uniqueidentifier values (bytes 10-15, 8-9, then
/// 7-6, 5-4, 3-0 of the display form).
fn sql_server_order(g: &Uuid) -> [u8; 16] {
    let x = g.as_bytes();
    [
        x[10], x[11], x[12], x[13], x[14], x[15], x[8], x[9], x[7], x[6], x[5], x[4], x[3], x[2],
        x[1], x[0],
    ]
}

#[tokio::test]
async fn rows_go_in_in_clustered_key_order_and_into_a_heap_as_they_came() {
    // A clustered table stores its rows in key order, and SQL Server sorts
    // a bulk load into it; a scan of the table (not of its key: Name is
    // not in it) shows the order the rows went in.
    let sb = sandbox("migrated");
    let mut c = connect(&sb).await;
    let rows = random_rows(2000);
    let mut by_key = rows.clone();
    by_key.sort_by_key(|(id, _)| sql_server_order(id));
    let names = |rs: &[(Uuid, String)]| rs.iter().map(|r| r.1.clone()).collect::<Vec<_>>();
    run(&mut c, KEYS).await.unwrap();
    assert_eq!(load(&mut c, "#t", &rows).await.unwrap(), 2000);
    assert_eq!(scan(&mut c, "#t").await, names(&by_key));
    run(
        &mut c,
        "CREATE TABLE #h ([ID] uniqueidentifier NOT NULL, [Name] nvarchar(256))",
    )
    .await
    .unwrap();
    assert_eq!(load(&mut c, "#h", &rows).await.unwrap(), 2000);
    assert_eq!(scan(&mut c, "#h").await, names(&rows));
    // The key still finds every row.
    let (id, name) = &rows[1234];
    let sql = format!("SELECT [Name] FROM #t WHERE [ID] = '{id}'");
    assert_eq!(
        run(&mut c, &sql).await.unwrap()[0][0].get::<&str, _>(0),
        Some(name.as_str())
    );
}

#[tokio::test]
async fn a_null_into_a_not_null_column_fails_with_515() {
    let sb = sandbox("migrated");
    let mut c = connect(&sb).await;
    run(
        &mut c,
        "CREATE TABLE #n ([ID] uniqueidentifier NOT NULL, [Name] nvarchar(10) COLLATE DATABASE_DEFAULT NOT NULL)",
    )
    .await
    .unwrap();
    let mut req = c.bulk_insert("#n").await.unwrap();
    let none: Option<&str> = None;
    req.send((Uuid::new_v4(), "a").into_row()).await.unwrap();
    req.send((Uuid::new_v4(), none).into_row()).await.unwrap();
    let e = req.finalize().await.expect_err("NULL");
    assert_eq!(code(&e), 515, "{e}");
    assert_eq!(count(&mut c, "SELECT COUNT(*) FROM #n").await, 0);
}

#[tokio::test]
async fn a_rolled_back_transaction_takes_the_rows_with_it() {
    let sb = sandbox("migrated");
    let mut c = connect(&sb).await;
    run(&mut c, KEYS).await.unwrap();
    run(
        &mut c,
        "CREATE TABLE [dbo].[BulkKeys] ([ID] uniqueidentifier NOT NULL PRIMARY KEY, [Name] nvarchar(256) NULL)",
    )
    .await
    .unwrap();
    run(&mut c, "BEGIN TRANSACTION").await.unwrap();
    let rows = random_rows(100);
    assert_eq!(load(&mut c, "#t", &rows).await.unwrap(), 100);
    assert_eq!(load(&mut c, "[dbo].[BulkKeys]", &rows).await.unwrap(), 100);
    assert_eq!(count(&mut c, "SELECT COUNT(*) FROM #t").await, 100);
    assert_eq!(
        count(&mut c, "SELECT COUNT(*) FROM [dbo].[BulkKeys]").await,
        100
    );
    run(&mut c, "ROLLBACK TRANSACTION").await.unwrap();
    assert_eq!(count(&mut c, "SELECT COUNT(*) FROM #t").await, 0);
    assert_eq!(count_in(&sb, "SELECT COUNT(*) FROM [dbo].[BulkKeys]"), 0);
    // Committed, they stay.
    assert_eq!(load(&mut c, "[dbo].[BulkKeys]", &rows).await.unwrap(), 100);
    assert_eq!(count_in(&sb, "SELECT COUNT(*) FROM [dbo].[BulkKeys]"), 100);
}

#[tokio::test]
async fn no_insert_permission_no_bulk_load() {
    let sb = sandbox("migrated");
    let mut c = connect(&sb).await;
    run(
        &mut c,
        "CREATE TABLE [dbo].[BulkKeys] ([ID] uniqueidentifier NOT NULL PRIMARY KEY, [Name] nvarchar(256) NULL)",
    )
    .await
    .unwrap();
    sb.deny("dbo.BulkKeys", "INSERT").unwrap();
    let e = load(&mut c, "[dbo].[BulkKeys]", &random_rows(3))
        .await
        .expect_err("denied");
    assert_eq!(code(&e), 229, "{e}");
    assert_eq!(count_in(&sb, "SELECT COUNT(*) FROM [dbo].[BulkKeys]"), 0);
    // No such table: 208, before any row is sent.
    let e = load(&mut c, "#nope", &random_rows(1))
        .await
        .expect_err("208");
    assert_eq!(code(&e), 208, "{e}");
}

#[tokio::test]
async fn insert_bulk_options_the_sandbox_does_not_carry_out_are_refused() {
    let sb = sandbox("migrated");
    let mut c = connect(&sb).await;
    run(&mut c, KEYS).await.unwrap();
    for (sql, number) in [
        (
            "INSERT BULK #t ([ID] uniqueidentifier) WITH (FIRE_TRIGGERS)",
            102,
        ),
        (
            "INSERT BULK #t ([ID] uniqueidentifier) WITH (ORDER ([ID] ASC))",
            102,
        ),
        ("INSERT BULK #t ([Nope] uniqueidentifier)", 207),
        ("INSERT BULK #t ([ID] widget)", 2715),
    ] {
        let e = run(&mut c, sql).await.expect_err(sql);
        assert_eq!(code(&e), number, "{sql}: {e}");
    }
    // Accepted: TABLOCK and KEEP_NULLS.
    run(
        &mut c,
        "INSERT BULK #t ([ID] uniqueidentifier) WITH (TABLOCK, KEEP_NULLS)",
    )
    .await
    .unwrap();
    // A batch instead of the bulk data: the INSERT BULK is forgotten.
    assert_eq!(count(&mut c, "SELECT COUNT(*) FROM #t").await, 0);
}

#[tokio::test]
async fn on_sql_server_2008_r2_too() {
    let sb = Sandbox::start(SandboxOptions {
        scenario: Some("migrated".into()),
        product_version: Some("10.50.6000.34".into()),
        ..Default::default()
    })
    .expect("sandbox starts");
    let mut c = connect(&sb).await;
    run(&mut c, KEYS).await.unwrap();
    assert_eq!(load(&mut c, "#t", &random_rows(50)).await.unwrap(), 50);
    assert_eq!(count(&mut c, "SELECT COUNT(*) FROM #t").await, 50);
}

#[test]
fn bulk_data_without_a_preceding_insert_bulk_is_refused_with_4804() {
    use rgs_sandbox::types::{Column, Item, SqlType, Value};
    let sb = sandbox("migrated");
    let mut s = sb.engine().open_session("rgsconfig").unwrap();
    let cols = [Column {
        name: "ID".into(),
        ty: SqlType::UniqueIdentifier,
        nullable: false,
    }];
    let error = |items: Vec<Item>| {
        items.into_iter().find_map(|i| match i {
            Item::Error(e) => Some(e.number),
            _ => None,
        })
    };
    let mut rows = std::iter::once(Ok(vec![Value::Guid(Uuid::new_v4())]));
    assert_eq!(error(s.bulk_load(&cols, &mut rows)), Some(4804));
    // An INSERT BULK followed by another batch is forgotten.
    s.execute(KEYS, &[]);
    assert_eq!(
        error(s.execute("INSERT BULK #t ([ID] uniqueidentifier)", &[])),
        None
    );
    s.execute("SELECT 1", &[]);
    let mut rows = std::iter::once(Ok(vec![Value::Guid(Uuid::new_v4())]));
    assert_eq!(error(s.bulk_load(&cols, &mut rows)), Some(4804));
    // Right after it, the rows load.
    s.execute("INSERT BULK #t ([ID] uniqueidentifier)", &[]);
    let mut rows = std::iter::once(Ok(vec![Value::Guid(Uuid::new_v4())]));
    assert_eq!(error(s.bulk_load(&cols, &mut rows)), None);
}

#[tokio::test]
async fn a_long_load_goes_in_chunks_with_defaults_and_a_bad_row_is_named() {
    // More rows than one chunked statement carries, and a remainder.
    let sb = sandbox("migrated");
    let mut c = connect(&sb).await;
    run(
        &mut c,
        "CREATE TABLE #d ([ID] int NOT NULL PRIMARY KEY, [Note] nvarchar(10) NULL DEFAULT N'dflt', [N] int NOT NULL)",
    )
    .await
    .unwrap();
    let none: Option<&str> = None;
    let mut req = c.bulk_insert("#d").await.unwrap();
    for i in (0..200).rev() {
        req.send((i, none, i).into_row()).await.unwrap();
    }
    assert_eq!(req.finalize().await.unwrap().total(), 200);
    assert_eq!(
        count(
            &mut c,
            "SELECT COUNT(*) FROM #d WHERE Note = N'dflt' AND N = ID"
        )
        .await,
        200
    );
    // A NULL into a NOT NULL column in the middle of a chunk: 515, and
    // nothing of this load stays.
    let mut req = c.bulk_insert("#d").await.unwrap();
    let no_n: Option<i32> = None;
    for i in 200..400 {
        let n = if i == 330 { no_n } else { Some(i) };
        req.send((i, Some("x"), n).into_row()).await.unwrap();
    }
    let e = req.finalize().await.expect_err("NULL");
    assert_eq!(code(&e), 515, "{e}");
    assert_eq!(count(&mut c, "SELECT COUNT(*) FROM #d").await, 200);
    // A key that is already there, in a later chunk: 2627 naming it.
    let mut req = c.bulk_insert("#d").await.unwrap();
    for i in 400..600 {
        let id = if i == 590 { 7 } else { i };
        req.send((id, Some("y"), i).into_row()).await.unwrap();
    }
    let e = req.finalize().await.expect_err("duplicate");
    assert_eq!(code(&e), 2627, "{e}");
    assert!(e.to_string().contains("(7)"), "{e}");
    assert_eq!(count(&mut c, "SELECT COUNT(*) FROM #d").await, 200);
}
