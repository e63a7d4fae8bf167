//! BINARY_CHECKSUM and CHECKSUM_AGG through tiberius, in the shapes the
//! product's `fix` sends to compare the rows without an owner with its
//! plan: a count and a checksum of the keys, computed by the server.

mod tds_common;

use tds_common::{code, connect, run, sandbox, Conn, Sandbox, SandboxOptions};

/// The product's check of the agent groups without an owner.
const ORPHANS: &str = "SELECT COUNT_BIG(*) AS row_count, \
     CHECKSUM_AGG(BINARY_CHECKSUM(t.[ID])) AS key_checksum \
     FROM [dbo].[AgentGroups] AS t WITH (UPDLOCK, HOLDLOCK) WHERE t.[OwnerPoolId] IS NULL;";

/// (count, checksum) of the first row of a batch.
async fn count_and_sum(c: &mut Conn, sql: &str) -> (i64, Option<i32>) {
    let rows = run(c, sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    let row = &rows.last().expect("a result set")[0];
    let n = row
        .try_get::<i64, _>(0)
        .ok()
        .flatten()
        .or_else(|| row.get::<i32, _>(0).map(i64::from))
        .expect("a count");
    (n, row.get::<i32, _>(1))
}

/// The orphan groups' IDs copied into `#k` in reverse order.
async fn keys_reversed(c: &mut Conn) {
    run(
        c,
        "CREATE TABLE #k ([ID] uniqueidentifier NOT NULL PRIMARY KEY); \
         INSERT INTO #k ([ID]) SELECT [ID] FROM [dbo].[AgentGroups] \
         WHERE [OwnerPoolId] IS NULL ORDER BY [ID] DESC;",
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn same_set_same_value_whatever_the_order() {
    let sb = sandbox("migrated");
    let mut c = connect(&sb).await;
    let (n, sum) = count_and_sum(&mut c, ORPHANS).await;
    assert_eq!(n, 9);
    let sum = sum.expect("a checksum over 9 rows");
    assert_eq!(count_and_sum(&mut c, ORPHANS).await, (9, Some(sum)));

    keys_reversed(&mut c).await;
    let from_keys = "SELECT COUNT_BIG(*), CHECKSUM_AGG(BINARY_CHECKSUM(k.[ID])) FROM #k AS k";
    assert_eq!(count_and_sum(&mut c, from_keys).await, (9, Some(sum)));

    // One key swapped for another row's: same count, another checksum.
    run(
        &mut c,
        "DELETE FROM #k WHERE [ID] = (SELECT MIN([ID]) FROM #k); \
         INSERT INTO #k ([ID]) SELECT MIN([ID]) FROM [dbo].[AgentGroups] \
         WHERE [OwnerPoolId] IS NOT NULL;",
    )
    .await
    .unwrap();
    let (n, other) = count_and_sum(&mut c, from_keys).await;
    assert_eq!(n, 9);
    assert_ne!(other, Some(sum));
}

#[tokio::test]
async fn null_over_no_rows_and_a_left_join_with_a_sum() {
    let sb = sandbox("migrated");
    let mut c = connect(&sb).await;
    let none = "SELECT COUNT_BIG(*), CHECKSUM_AGG(BINARY_CHECKSUM(t.[ID])) \
                FROM [dbo].[AgentGroups] AS t WHERE 1 = 0";
    assert_eq!(count_and_sum(&mut c, none).await, (0, None));

    keys_reversed(&mut c).await;
    let joined = "SELECT SUM(CASE WHEN t.[ID] IS NULL THEN 1 ELSE 0 END) AS missing, \
                  CHECKSUM_AGG(BINARY_CHECKSUM(k.[ID])) AS key_checksum \
                  FROM #k AS k LEFT JOIN [dbo].[AgentGroups] AS t WITH (UPDLOCK, HOLDLOCK) \
                  ON t.[ID] = k.[ID] AND t.[OwnerPoolId] IS NULL";
    let (missing, sum) = count_and_sum(&mut c, joined).await;
    assert_eq!(missing, 0);
    assert_eq!(sum, count_and_sum(&mut c, ORPHANS).await.1);
}

#[tokio::test]
async fn several_columns_binary_not_collated() {
    let sb = sandbox("migrated");
    let mut c = connect(&sb).await;
    run(
        &mut c,
        "CREATE TABLE #p ([A] int NOT NULL, [B] nvarchar(50) COLLATE DATABASE_DEFAULT NOT NULL, \
         PRIMARY KEY ([A], [B])); \
         INSERT INTO #p VALUES (1, N'abc'), (2, N'x'), (3, N'y');",
    )
    .await
    .unwrap();
    let sql = "SELECT COUNT_BIG(*), CHECKSUM_AGG(BINARY_CHECKSUM(p.[A], p.[B])) FROM #p AS p";
    let (n, before) = count_and_sum(&mut c, sql).await;
    assert_eq!(n, 3);
    // A case-insensitive column: equal to SQL Server's `=`, not to BINARY_CHECKSUM.
    run(&mut c, "UPDATE #p SET [B] = N'ABC' WHERE [A] = 1")
        .await
        .unwrap();
    assert_ne!(count_and_sum(&mut c, sql).await.1, before);
    run(&mut c, "UPDATE #p SET [B] = N'abc' WHERE [A] = 1")
        .await
        .unwrap();
    assert_eq!(count_and_sum(&mut c, sql).await.1, before);
    // The same values in the other columns' order.
    let swapped = "SELECT COUNT_BIG(*), CHECKSUM_AGG(BINARY_CHECKSUM(p.[B], p.[A])) FROM #p AS p";
    assert_ne!(count_and_sum(&mut c, swapped).await.1, before);
    // Scalar, on every type the sandbox has (it has no char/nchar).
    let scalar = "SELECT 1, BINARY_CHECKSUM(CAST(1 AS tinyint), CAST(1 AS smallint), 1, \
                  CAST(1 AS bigint), CAST(1 AS bit), N'a', 'a', NEWID(), GETDATE(), \
                  SYSUTCDATETIME(), NULL)";
    assert!(count_and_sum(&mut c, scalar).await.1.is_some());
}

#[tokio::test]
async fn wrong_arguments_fail_as_on_sql_server() {
    let sb = sandbox("migrated");
    let mut c = connect(&sb).await;
    for (sql, number) in [
        ("SELECT CHECKSUM_AGG(1, 2)", 174),
        ("SELECT CHECKSUM_AGG()", 174),
        ("SELECT BINARY_CHECKSUM()", 102),
        ("SELECT CHECKSUM_AGG(CAST(1 AS bigint))", 8117),
        ("SELECT CHECKSUM_AGG(N'a')", 8117),
    ] {
        let e = run(&mut c, sql).await.expect_err(sql);
        assert_eq!(code(&e), number, "{sql}: {e}");
    }
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
    let (n, sum) = count_and_sum(&mut c, ORPHANS).await;
    assert_eq!(n, 9);
    assert!(sum.is_some());
}
