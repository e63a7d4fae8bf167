//! Column collations (issue 9): a column declared `COLLATE ..._CS_AS` or
//! `_BIN2` compares, joins, groups and matches keys as SQL Server does on
//! that collation; default columns stay case-insensitive; an unknown name
//! is 448 and two columns of different collations meeting is 468.

mod tds_common;

use tds_common::*;

const SETUP: &str = "
CREATE TABLE dbo.Pools (ID nvarchar(64) COLLATE Latin1_General_CS_AS NOT NULL PRIMARY KEY);
CREATE TABLE dbo.Objs (K int NOT NULL PRIMARY KEY,
    Owner nvarchar(64) COLLATE Latin1_General_CS_AS NULL,
    Bin nvarchar(64) COLLATE Latin1_General_BIN2 NULL,
    Plain nvarchar(64) NULL);
INSERT INTO dbo.Pools (ID) VALUES (N'lyncpool01-Pool');
INSERT INTO dbo.Objs (K, Owner, Bin, Plain) VALUES
    (1, N'lyncpool01-Pool', N'lyncpool01-Pool', N'lyncpool01-Pool'),
    (2, N'LYNCPOOL01-POOL', N'LYNCPOOL01-POOL', N'LYNCPOOL01-POOL'),
    (3, N'lyncpool01-Pool  ', N'lyncpool01-Pool  ', N'lyncpool01-Pool  '),
    (4, NULL, NULL, NULL);";

async fn setup() -> (Sandbox, Conn) {
    let sb = sandbox("empty-pool");
    let mut c = connect(&sb).await;
    run(&mut c, SETUP).await.unwrap();
    (sb, c)
}

/// The K column of a query's rows.
async fn keys(c: &mut Conn, sql: &str) -> Vec<i32> {
    let rows = run(c, sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows[0]
        .iter()
        .map(|r| r.get::<i32, _>(0).unwrap())
        .collect()
}

#[tokio::test]
async fn case_sensitive_and_binary_columns_compare_with_their_collation() {
    let (_sb, mut c) = setup().await;
    // Trailing spaces never count; case counts on CS and BIN2 only.
    for col in ["Owner", "Bin"] {
        let sql = format!("SELECT K FROM dbo.Objs WHERE {col} = N'lyncpool01-Pool' ORDER BY K");
        assert_eq!(keys(&mut c, &sql).await, vec![1, 3], "{col}");
        let sql = format!("SELECT K FROM dbo.Objs WHERE {col} <> N'lyncpool01-Pool' ORDER BY K");
        assert_eq!(keys(&mut c, &sql).await, vec![2], "{col}");
        let sql = format!("SELECT K FROM dbo.Objs WHERE {col} IN (N'lyncpool01-pool', N'LYNCPOOL01-POOL') ORDER BY K");
        assert_eq!(keys(&mut c, &sql).await, vec![2], "{col}");
        let sql = format!("SELECT K FROM dbo.Objs WHERE {col} LIKE N'lync%' ORDER BY K");
        assert_eq!(keys(&mut c, &sql).await, vec![1, 3], "{col}");
    }
    // A parameter takes the column's collation too.
    let rows = c
        .query(
            "SELECT K, CASE WHEN Owner = @P1 THEN 1 ELSE 0 END FROM dbo.Objs WHERE K IN (1, 2) ORDER BY K",
            &[&"LYNCPOOL01-POOL"],
        )
        .await
        .unwrap()
        .into_first_result()
        .await
        .unwrap();
    let holds: Vec<i32> = rows.iter().map(|r| r.get::<i32, _>(1).unwrap()).collect();
    assert_eq!(holds, vec![0, 1]);
    // Binary order is code point order: uppercase before lowercase.
    assert_eq!(
        keys(&mut c, "SELECT K FROM dbo.Objs WHERE Bin < N'a' ORDER BY K").await,
        vec![2]
    );
}

#[tokio::test]
async fn default_columns_stay_case_insensitive() {
    let (_sb, mut c) = setup().await;
    let sql = "SELECT K FROM dbo.Objs WHERE Plain = N'lyncpool01-pool' ORDER BY K";
    assert_eq!(keys(&mut c, sql).await, vec![1, 2, 3]);
    let sql = "SELECT COUNT(DISTINCT Plain) FROM dbo.Objs";
    assert_eq!(scalar_i32(&mut c, sql).await, Some(1));
}

#[tokio::test]
async fn joins_exists_and_grouping_follow_the_column() {
    let (_sb, mut c) = setup().await;
    // The product's dangling-owner reads (sql/finding_rows.sql, owner_counts.sql).
    let sql = "SELECT K FROM dbo.Objs AS t WHERE t.Owner IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM dbo.Pools AS p WHERE p.ID = t.Owner) ORDER BY K";
    assert_eq!(keys(&mut c, sql).await, vec![2]);
    let rows = run(
        &mut c,
        "SELECT t.Owner, p.ID, COUNT_BIG(*) FROM dbo.Objs AS t
         LEFT JOIN dbo.Pools AS p ON p.ID = t.Owner
         GROUP BY t.Owner, p.ID ORDER BY COUNT_BIG(*) DESC, t.Owner",
    )
    .await
    .unwrap();
    let got: Vec<(Option<String>, Option<String>, i64)> = rows[0]
        .iter()
        .map(|r| {
            (
                r.get::<&str, _>(0).map(str::to_string),
                r.get::<&str, _>(1).map(str::to_string),
                r.get::<i64, _>(2).unwrap(),
            )
        })
        .collect();
    // 'lyncpool01-Pool' and its padded twin form one group; the uppercase
    // owner is its own group and finds no pool.
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[0].2, 2);
    assert_eq!(got[0].1.as_deref(), Some("lyncpool01-Pool"));
    let upper = got
        .iter()
        .find(|g| g.0.as_deref() == Some("LYNCPOOL01-POOL"))
        .unwrap();
    assert_eq!((upper.1.as_deref(), upper.2), (None, 1));
    assert_eq!(
        scalar_i32(&mut c, "SELECT COUNT(DISTINCT Owner) FROM dbo.Objs").await,
        Some(2)
    );
    // The key of a CS column is case-sensitive: another case is another key.
    run(
        &mut c,
        "INSERT INTO dbo.Pools (ID) VALUES (N'LYNCPOOL01-POOL')",
    )
    .await
    .unwrap();
    let e = run(
        &mut c,
        "INSERT INTO dbo.Pools (ID) VALUES (N'LYNCPOOL01-POOL')",
    )
    .await
    .unwrap_err();
    assert_eq!(code(&e), 2627);
}

#[tokio::test]
async fn the_catalog_reports_each_columns_collation() {
    let (_sb, mut c) = setup().await;
    let rows = run(
        &mut c,
        "SELECT c.name, c.collation_name FROM sys.columns AS c
         WHERE c.object_id = OBJECT_ID(N'dbo.Objs') ORDER BY c.column_id",
    )
    .await
    .unwrap();
    let got: Vec<(String, Option<String>)> = rows[0]
        .iter()
        .map(|r| {
            (
                r.get::<&str, _>(0).unwrap().to_string(),
                r.get::<&str, _>(1).map(str::to_string),
            )
        })
        .collect();
    let want = [
        ("K", None),
        ("Owner", Some("Latin1_General_CS_AS")),
        ("Bin", Some("Latin1_General_BIN2")),
        ("Plain", Some("SQL_Latin1_General_CP1_CI_AS")),
    ];
    let want: Vec<(String, Option<String>)> = want
        .iter()
        .map(|(n, c)| (n.to_string(), c.map(str::to_string)))
        .collect();
    assert_eq!(got, want);
    let rows = run(
        &mut c,
        "SELECT CONVERT(nvarchar(128), DATABASEPROPERTYEX(DB_NAME(), 'Collation'))",
    )
    .await
    .unwrap();
    assert_eq!(
        rows[0][0].get::<&str, _>(0),
        Some("SQL_Latin1_General_CP1_CI_AS")
    );
}

#[tokio::test]
async fn unknown_collations_and_conflicts_are_refused() {
    let (_sb, mut c) = setup().await;
    let e = run(
        &mut c,
        "CREATE TABLE dbo.Bad (X nvarchar(10) COLLATE Klingon_CI_AS NULL)",
    )
    .await
    .unwrap_err();
    assert_eq!(code(&e), 448);
    assert!(
        e.to_string().contains("Invalid collation 'Klingon_CI_AS'."),
        "{e}"
    );
    let e = run(&mut c, "SELECT K FROM dbo.Objs WHERE Owner = Plain")
        .await
        .unwrap_err();
    assert_eq!(code(&e), 468);
    assert!(e.to_string().contains(
        "Cannot resolve the collation conflict between \"Latin1_General_CS_AS\" and \"SQL_Latin1_General_CP1_CI_AS\" in the equal to operation."
    ), "{e}");
    let e = run(&mut c, "SELECT K FROM dbo.Objs WHERE Bin <> Owner")
        .await
        .unwrap_err();
    assert_eq!(code(&e), 468);
    assert!(
        e.to_string().contains("in the not equal to operation"),
        "{e}"
    );
    // COLLATE in the expression settles it, and decides the comparison.
    assert_eq!(
        keys(
            &mut c,
            "SELECT K FROM dbo.Objs WHERE Owner = Plain COLLATE Latin1_General_CS_AS ORDER BY K"
        )
        .await,
        vec![1, 2, 3]
    );
    assert_eq!(
        keys(
            &mut c,
            "SELECT K FROM dbo.Objs WHERE Owner COLLATE SQL_Latin1_General_CP1_CI_AS = N'LYNCPOOL01-pool' ORDER BY K"
        )
        .await,
        vec![1, 2, 3]
    );
    let e = run(
        &mut c,
        "SELECT K FROM dbo.Objs WHERE Owner COLLATE Nope = N'x'",
    )
    .await
    .unwrap_err();
    assert_eq!(code(&e), 448);
}
