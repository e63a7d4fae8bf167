//! A column-level DENY (issue 9): HAS_PERMS_BY_NAME on the table still
//! answers 1, on the column 0, and an UPDATE setting the column fails
//! with 230 inside the transaction.

mod tds_common;

use tds_common::*;

const PERMS: &str = "SELECT HAS_PERMS_BY_NAME(N'dbo.AgentGroups', N'OBJECT', N'UPDATE'),
    HAS_PERMS_BY_NAME(N'dbo.AgentGroups', N'OBJECT', N'UPDATE', N'OwnerPoolId', N'COLUMN'),
    HAS_PERMS_BY_NAME(N'dbo.AgentGroups', N'OBJECT', N'UPDATE', N'Description', N'COLUMN')";

async fn perms(c: &mut Conn) -> Vec<Option<i32>> {
    let rows = run(c, PERMS).await.unwrap();
    (0..3).map(|i| rows[0][0].get::<i32, _>(i)).collect()
}

#[tokio::test]
async fn a_denied_column_passes_the_table_check_and_fails_the_update() {
    let sb = sandbox("migrated");
    let mut c = connect(&sb).await;
    assert_eq!(perms(&mut c).await, vec![Some(1), Some(1), Some(1)]);
    sb.deny_column("[dbo].[AgentGroups]", "OwnerPoolId", "UPDATE")
        .unwrap();
    assert_eq!(perms(&mut c).await, vec![Some(1), Some(0), Some(1)]);
    let e = run(
        &mut c,
        "UPDATE dbo.AgentGroups SET OwnerPoolId = (SELECT ID FROM dbo.OwnerPool) WHERE OwnerPoolId IS NULL",
    )
    .await
    .unwrap_err();
    assert_eq!(code(&e), 230);
    assert!(e.to_string().contains(
        "The UPDATE permission was denied on the column 'OwnerPoolId' of the object 'AgentGroups', database 'rgsconfig', schema 'dbo'."
    ), "{e}");
    // Other columns of the table stay writable.
    let r = c
        .execute(
            "UPDATE dbo.AgentGroups SET Description = N'x' WHERE OwnerPoolId IS NULL",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(r.rows_affected(), &[9]);
}
