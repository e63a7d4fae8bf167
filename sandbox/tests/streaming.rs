//! Result sets streamed from SQLite to the client while they are
//! produced: complete and in order across many packets, cut short by an
//! attention with the session still usable, and an error raised after
//! rows have left reported as SQL Server reports it.

mod tds_common;

use futures_util::TryStreamExt;
use tds_common::*;
use tiberius::QueryItem;

/// The migrated scenario with `extra` more agent groups ("Extra Group
/// 0000001"...), all without an owner pool.
fn big(extra: u64) -> Sandbox {
    Sandbox::start(SandboxOptions {
        scenario: Some("migrated".into()),
        extra_objects: extra,
        ..Default::default()
    })
    .expect("sandbox starts")
}

const EXTRA: &str =
    "SELECT Name FROM dbo.AgentGroups WHERE Name LIKE N'Extra Group %' ORDER BY Name";

#[tokio::test]
async fn a_result_of_many_packets_arrives_complete_in_order_with_its_count() {
    let sb = big(20_000);
    let mut c = connect(&sb).await;
    // Some 1.2 MB of rows: many times the packet size and the sandbox's
    // flush threshold, so most of it leaves before the query ends.
    for (sql, rpc) in [(EXTRA, false), (EXTRA, true)] {
        let stream = if rpc {
            c.query(sql, &[]).await.unwrap()
        } else {
            c.simple_query(sql).await.unwrap()
        };
        let rows = stream.into_first_result().await.unwrap();
        assert_eq!(rows.len(), 20_000);
        for (i, r) in rows.iter().enumerate() {
            let expected = format!("Extra Group {:07}", i + 1);
            assert_eq!(r.get::<&str, _>(0), Some(expected.as_str()));
        }
    }
    // The DONE of the SELECT carries its count, and the next statement's
    // follows it.
    let done = c
        .execute(format!("{EXTRA}; SELECT 1 AS one").as_str(), &[])
        .await
        .unwrap();
    assert_eq!(done.rows_affected(), &[20_000, 1]);
    // @@ROWCOUNT saw every row.
    let sets = run(&mut c, &format!("{EXTRA}; SELECT @@ROWCOUNT AS n"))
        .await
        .unwrap();
    assert_eq!(sets[1][0].get::<i32, _>(0), Some(20_000));
}

#[tokio::test]
async fn an_attention_in_the_middle_of_a_huge_result_is_acknowledged() {
    let sb = big(2_000);
    let mut c = connect(&sb).await;
    run(&mut c, "BEGIN TRANSACTION").await.unwrap();
    // 2009 * 2009 rows, about 150 MB: the client reads a few, then cancels.
    let sql = "SELECT a.Name, b.Name AS b FROM dbo.AgentGroups AS a \
               CROSS JOIN dbo.AgentGroups AS b";
    let all = 2_009 * 2_009;
    {
        let mut stream = c.simple_query(sql).await.unwrap();
        let mut rows = 0;
        while let Some(item) = stream.try_next().await.unwrap() {
            if let QueryItem::Row(_) = item {
                rows += 1;
                if rows == 5_000 {
                    break;
                }
            }
        }
        assert_eq!(rows, 5_000);
    }
    c.cancel_query().await.unwrap();
    // The statement stopped short of its end (a completed one would have
    // set @@ROWCOUNT to its count), and the session goes on, its
    // transaction still open.
    let sets = run(&mut c, "SELECT @@ROWCOUNT AS r, @@TRANCOUNT AS n")
        .await
        .unwrap();
    assert!(sets[0][0].get::<i32, _>(0).unwrap() < all);
    assert_eq!(sets[0][0].get::<i32, _>(1), Some(1));
    let row = c
        .query("SELECT @P1 AS v", &[&7i32])
        .await
        .unwrap()
        .into_row()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.get::<i32, _>(0), Some(7));
    run(&mut c, "ROLLBACK TRANSACTION").await.unwrap();
}

#[tokio::test]
async fn an_error_after_rows_have_left_ends_the_result_with_it() {
    let sb = big(5_000);
    let mut c = connect(&sb).await;
    // Row 4000 does not convert (245); the 3999 before it (some 180 KB)
    // have left by then. (In table order: with ORDER BY, SQLite would
    // convert every row before the first leaves.)
    let sql = "SELECT Name, CAST(CASE WHEN Name = N'Extra Group 0004000' THEN Name ELSE N'1' END AS int) AS v \
               FROM dbo.AgentGroups WHERE Name LIKE N'Extra Group %'; SELECT 2 AS two";
    let mut stream = c.simple_query(sql).await.unwrap();
    // tiberius reports a batch's error at its end, after the rows of the
    // statements that followed it.
    let mut rows = vec![0; 2];
    let err = loop {
        match stream.try_next().await {
            Ok(Some(QueryItem::Row(r))) => {
                rows[r.result_index()] += 1;
                if r.result_index() == 0 {
                    assert_eq!(r.get::<i32, _>(1), Some(1));
                }
            }
            Ok(Some(QueryItem::Metadata(_))) => {}
            Ok(None) => panic!("the conversion error was not reported"),
            Err(e) => break e,
        }
    };
    drop(stream);
    assert_eq!(rows, vec![3_999, 1]);
    assert_eq!(code(&err), 245);
    // The connection is clean afterwards.
    assert_eq!(scalar_i32(&mut c, "SELECT 3 AS three").await, Some(3));
}
