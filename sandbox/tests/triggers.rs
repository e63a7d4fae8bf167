//! AFTER triggers as SQL Server runs them (issue 9): the trigger's
//! statements answer with DONEINPROC counts before the triggering
//! statement's DONE, in the same transaction; @@ROWCOUNT stays the
//! triggering statement's.

mod tds_common;

use tds_common::*;

const MIGRATED_NULL_GROUPS: u64 = 9;
const SET_OWNER: &str = "UPDATE dbo.AgentGroups SET OwnerPoolId = (SELECT ID FROM dbo.OwnerPool) WHERE OwnerPoolId IS NULL";

#[tokio::test]
async fn update_answers_with_the_trigger_count_before_its_own() {
    let sb = sandbox("triggers");
    let mut c = connect(&sb).await;
    // A second table so that the counts differ: the trigger's INSERT
    // reports the audit rows, the UPDATE its rows.
    let r = c.execute(SET_OWNER, &[]).await.unwrap();
    assert_eq!(
        r.rows_affected(),
        &[MIGRATED_NULL_GROUPS, MIGRATED_NULL_GROUPS]
    );
    assert_eq!(
        count_in(&sb, "SELECT COUNT(*) FROM dbo.AgentGroupsAudit WHERE OldOwnerPoolId IS NULL AND NewOwnerPoolId IS NOT NULL"),
        MIGRATED_NULL_GROUPS as i64
    );
    // Without NULL owners left, the trigger still fires, with 0 rows.
    let r = c.execute(SET_OWNER, &[]).await.unwrap();
    assert_eq!(r.rows_affected(), &[0, 0]);
}

#[tokio::test]
async fn nocount_in_the_trigger_hides_its_count() {
    let sb = sandbox("triggers");
    let mut c = connect(&sb).await;
    c.simple_query("CREATE TABLE dbo.Seen (ID uniqueidentifier NOT NULL)")
        .await
        .unwrap()
        .into_results()
        .await
        .unwrap();
    c.simple_query(
        "CREATE TRIGGER dbo.trg_Queues ON dbo.Queues FOR UPDATE, DELETE AS
         SET NOCOUNT ON;
         INSERT INTO dbo.Seen (ID) SELECT ID FROM deleted;",
    )
    .await
    .unwrap()
    .into_results()
    .await
    .unwrap();
    let r = c
        .execute(
            "UPDATE dbo.Queues SET Description = N'x' WHERE OwnerPoolId IS NULL",
            &[],
        )
        .await
        .unwrap();
    // NOCOUNT ON in a trigger suppresses its DONEINPROC altogether.
    assert_eq!(r.rows_affected(), &[9]);
    assert_eq!(count_in(&sb, "SELECT COUNT(*) FROM dbo.Seen"), 9);
    let tr = sb
        .query("SELECT t.name, t.type, t.is_disabled, t.is_instead_of_trigger, t.parent_class FROM sys.triggers AS t WHERE t.parent_id = OBJECT_ID(N'dbo.Queues')")
        .unwrap();
    assert_eq!(
        tr.rows,
        vec![vec![
            Value::Text("trg_Queues".into()),
            Value::Text("TR".into()),
            Value::Bit(false),
            Value::Bit(false),
            Value::Int(1)
        ]]
    );
}

#[tokio::test]
async fn rowcount_after_the_update_is_the_updates() {
    let sb = sandbox("triggers");
    let mut c = connect(&sb).await;
    // One group of the nine: the trigger inserts one audit row (count 1);
    // a second statement in the trigger would change @@ROWCOUNT if the
    // caller's were not restored, so compare against the UPDATE's 3.
    let sql = "UPDATE dbo.AgentGroups SET Description = N'd' WHERE OwnerPoolId IS NOT NULL;
               SELECT @@ROWCOUNT;";
    c.simple_query("DELETE FROM dbo.AgentGroupsAudit")
        .await
        .unwrap()
        .into_results()
        .await
        .unwrap();
    c.simple_query("CREATE TABLE dbo.One (X int NOT NULL);")
        .await
        .unwrap()
        .into_results()
        .await
        .unwrap();
    c.simple_query(
        "CREATE TRIGGER dbo.trg_One ON dbo.AgentGroups AFTER UPDATE AS
         BEGIN INSERT INTO dbo.One (X) VALUES (1); END",
    )
    .await
    .unwrap()
    .into_results()
    .await
    .unwrap();
    assert_eq!(scalar_i32(&mut c, sql).await, Some(3));
}

#[tokio::test]
async fn rollback_removes_the_audit_rows_and_trigger_errors_abort() {
    let sb = sandbox("triggers");
    let mut c = connect(&sb).await;
    let sql = format!("BEGIN TRAN; {SET_OWNER}; ROLLBACK;");
    c.simple_query(sql)
        .await
        .unwrap()
        .into_results()
        .await
        .unwrap();
    assert_eq!(
        count_in(&sb, "SELECT COUNT(*) FROM dbo.AgentGroupsAudit"),
        0
    );
    assert_eq!(
        count_in(
            &sb,
            "SELECT COUNT(*) FROM dbo.AgentGroups WHERE OwnerPoolId IS NULL"
        ),
        MIGRATED_NULL_GROUPS as i64
    );
    // A trigger that fails (NULL into a NOT NULL column) undoes the
    // UPDATE and the whole transaction, and ends the batch.
    c.simple_query("CREATE TABLE dbo.Strict (X int NOT NULL)")
        .await
        .unwrap()
        .into_results()
        .await
        .unwrap();
    c.simple_query(
        "CREATE TRIGGER dbo.trg_Strict ON dbo.AgentGroups AFTER UPDATE AS
         INSERT INTO dbo.Strict (X) SELECT NULL FROM inserted",
    )
    .await
    .unwrap()
    .into_results()
    .await
    .unwrap();
    let e = run(
        &mut c,
        &format!("BEGIN TRAN; {SET_OWNER}; SELECT 1; COMMIT;"),
    )
    .await
    .unwrap_err();
    assert_eq!(code(&e), 515);
    drop(c);
    assert_eq!(
        count_in(&sb, "SELECT COUNT(*) FROM dbo.AgentGroupsAudit"),
        0
    );
    assert_eq!(
        count_in(
            &sb,
            "SELECT COUNT(*) FROM dbo.AgentGroups WHERE OwnerPoolId IS NULL"
        ),
        MIGRATED_NULL_GROUPS as i64
    );
}

#[tokio::test]
async fn unsupported_trigger_bodies_and_output_are_refused() {
    let sb = sandbox("triggers");
    let mut c = connect(&sb).await;
    assert_eq!(
        err(
            &mut c,
            "CREATE TRIGGER dbo.t1 ON dbo.Queues AFTER UPDATE AS SELECT 1"
        )
        .await,
        102
    );
    assert_eq!(
        err(
            &mut c,
            "CREATE TRIGGER dbo.t2 ON dbo.Queues INSTEAD OF UPDATE AS DELETE FROM dbo.Queues"
        )
        .await,
        102
    );
    assert_eq!(
        err(&mut c, "SELECT 1; CREATE TRIGGER dbo.t3 ON dbo.Queues AFTER UPDATE AS DELETE FROM dbo.Queues WHERE 1 = 0")
            .await,
        111
    );
    assert_eq!(
        err(
            &mut c,
            "CREATE TRIGGER dbo.t4 ON dbo.Nope AFTER UPDATE AS DELETE FROM dbo.Queues WHERE 1 = 0"
        )
        .await,
        8197
    );
    assert_eq!(
        err(
            &mut c,
            "UPDATE dbo.AgentGroups SET Description = N'x' OUTPUT inserted.ID"
        )
        .await,
        334
    );
    assert_eq!(err(&mut c, "DROP TRIGGER dbo.nope").await, 3701);
    // Dropped, the trigger no longer fires.
    c.simple_query("DROP TRIGGER [dbo].[trg_AgentGroups_Audit]")
        .await
        .unwrap()
        .into_results()
        .await
        .unwrap();
    let r = c.execute(SET_OWNER, &[]).await.unwrap();
    assert_eq!(r.rows_affected(), &[MIGRATED_NULL_GROUPS]);
}

async fn err(c: &mut Conn, sql: &str) -> u32 {
    code(&run(c, sql).await.unwrap_err())
}
