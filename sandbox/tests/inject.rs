//! `Sandbox::inject_before` (issue 9): a concurrent writer landing between
//! two statements of one request, so that a guard on the row count fires.

mod tds_common;

use tds_common::*;

const COUNT_NULL: &str = "SELECT COUNT(*) FROM dbo.AgentGroups WHERE OwnerPoolId IS NULL";
const FIX: &str = "UPDATE dbo.AgentGroups SET OwnerPoolId = (SELECT ID FROM dbo.OwnerPool) WHERE OwnerPoolId IS NULL";
/// Makes the three owned groups of `migrated` unowned too.
const UNOWN: &str = "UPDATE dbo.AgentGroups SET OwnerPoolId = NULL WHERE OwnerPoolId IS NOT NULL";

#[tokio::test]
async fn an_injected_write_lands_between_two_statements_of_one_batch() {
    let sb = sandbox("migrated");
    let mut c = connect(&sb).await;
    sb.inject_before("update dbo.agentgroups set ownerpoolid = (select", UNOWN);
    let batch =
        format!("SET XACT_ABORT ON; BEGIN TRAN; {COUNT_NULL}; {FIX}; SELECT @@ROWCOUNT; COMMIT;");
    let rows = run(&mut c, &batch).await.unwrap();
    // The count read before the UPDATE says 9; the UPDATE, run after the
    // injected writer, touches 12.
    assert_eq!(rows[0][0].get::<i32, _>(0), Some(9));
    assert_eq!(rows[1][0].get::<i32, _>(0), Some(12));
    assert_eq!(count_in(&sb, COUNT_NULL), 0);
    // Once only.
    run(&mut c, UNOWN).await.unwrap();
    let r = c.execute(FIX, &[]).await.unwrap();
    assert_eq!(r.rows_affected(), &[12]);
}

#[tokio::test]
async fn injection_matches_rpc_statements_and_only_its_pattern() {
    let sb = sandbox("migrated");
    let mut c = connect(&sb).await;
    sb.inject_before("dbo.Queues", UNOWN);
    // Not the pattern: nothing injected.
    let r = c.execute(FIX, &[]).await.unwrap();
    assert_eq!(r.rows_affected(), &[9]);
    // An RPC (sp_executesql) statement matching it.
    let r = c
        .execute(
            "UPDATE dbo.Queues SET Description = @P1 WHERE OwnerPoolId IS NULL",
            &[&"x"],
        )
        .await
        .unwrap();
    assert_eq!(r.rows_affected(), &[9]);
    assert_eq!(count_in(&sb, COUNT_NULL), 12);
}
