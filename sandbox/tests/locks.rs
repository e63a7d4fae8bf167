//! Table locks as tiberius sees them: under READ COMMITTED without row
//! versioning (SQL Server's default), a reader of a table another session
//! has written in an open transaction waits, and after LOCK_TIMEOUT fails
//! with 1222; the DMVs name the holder.

use rgs_sandbox::{Sandbox, SandboxOptions};
use std::time::Duration;
use tiberius::error::Error;
use tiberius::{AuthMethod, Client, Config, EncryptionLevel, Row};
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, TokioAsyncWriteCompatExt};

type Conn = Client<Compat<TcpStream>>;

const WRITE_QUEUES: &str =
    "BEGIN TRANSACTION; UPDATE dbo.Queues SET Name = Name WHERE Name = N'Payroll Queue'";

fn sandbox() -> Sandbox {
    Sandbox::start(SandboxOptions {
        scenario: Some("migrated".into()),
        ..Default::default()
    })
    .expect("sandbox starts")
}

async fn connect(sb: &Sandbox, app: &str) -> Conn {
    let mut config = Config::new();
    config.host("127.0.0.1");
    config.port(sb.addr().port());
    config.authentication(AuthMethod::sql_server("sa", sb.password()));
    config.database("rgsconfig");
    config.application_name(app);
    config.encryption(EncryptionLevel::NotSupported);
    let tcp = TcpStream::connect(config.get_addr()).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    Client::connect(config, tcp.compat_write()).await.unwrap()
}

async fn batch(c: &mut Conn, sql: &str) -> tiberius::Result<Vec<Vec<Row>>> {
    c.simple_query(sql).await?.into_results().await
}

async fn spid(c: &mut Conn) -> i16 {
    let rows = batch(c, "SELECT CAST(@@SPID AS smallint) AS s")
        .await
        .unwrap();
    rows[0][0].get::<i16, _>(0).unwrap()
}

/// The (number, class, state, message) of a server error.
fn server_error(e: &Error) -> (u32, u8, u8, String) {
    match e {
        Error::Server(t) => (t.code(), t.class(), t.state(), t.message().to_string()),
        other => panic!("expected a server error, got {other}"),
    }
}

async fn count(c: &mut Conn, sql: &str) -> tiberius::Result<i64> {
    let rows = batch(c, sql).await?;
    Ok(rows[0][0].get::<i64, _>(0).unwrap())
}

#[tokio::test]
async fn a_reader_of_a_written_table_waits_then_fails_with_1222() {
    let sb = sandbox();
    let mut a = connect(&sb, "writer").await;
    let mut b = connect(&sb, "reader").await;
    let a_spid = spid(&mut a).await;
    batch(&mut a, WRITE_QUEUES).await.unwrap();

    batch(&mut b, "SET LOCK_TIMEOUT 500").await.unwrap();
    let e = count(&mut b, "SELECT COUNT_BIG(*) FROM dbo.Queues")
        .await
        .unwrap_err();
    assert_eq!(
        server_error(&e),
        (
            1222,
            16,
            51,
            "Lock request time out period exceeded.".to_string()
        )
    );
    // A subquery reads the table too.
    let e = count(
        &mut b,
        "SELECT COUNT_BIG(*) FROM dbo.AgentGroups g WHERE EXISTS (SELECT 1 FROM dbo.Queues q)",
    )
    .await
    .unwrap_err();
    assert_eq!(server_error(&e).0, 1222);
    // Another table is free; NOLOCK does not wait and reads what is committed.
    assert!(count(&mut b, "SELECT COUNT_BIG(*) FROM dbo.AgentGroups")
        .await
        .is_ok());
    let n = count(&mut b, "SELECT COUNT_BIG(*) FROM dbo.Queues WITH (NOLOCK)")
        .await
        .unwrap();
    assert!(n > 0);

    // A test's inspection behind the clients' backs does not wait.
    let committed = sb.query("SELECT COUNT_BIG(*) FROM dbo.Queues").unwrap();
    assert_eq!(committed.rows[0][0], rgs_sandbox::types::Value::Int(n));

    // The holder, as the product would look for it.
    let rows = batch(
        &mut b,
        "SELECT request_session_id, request_mode FROM sys.dm_tran_locks \
         WHERE resource_type = N'OBJECT' AND resource_database_id = DB_ID() \
         AND resource_associated_entity_id = OBJECT_ID(N'dbo.Queues') \
         AND request_status = N'GRANT' AND request_session_id <> @@SPID",
    )
    .await
    .unwrap();
    assert_eq!(rows[0].len(), 1, "{:?}", rows[0]);
    assert_eq!(rows[0][0].get::<i32, _>(0), Some(a_spid as i32));
    assert_eq!(rows[0][0].get::<&str, _>(1), Some("X"));

    batch(&mut a, "COMMIT TRANSACTION").await.unwrap();
    assert_eq!(
        count(&mut b, "SELECT COUNT_BIG(*) FROM dbo.Queues")
            .await
            .unwrap(),
        n
    );
    let rows = batch(
        &mut b,
        "SELECT COUNT(*) FROM sys.dm_tran_locks WHERE resource_type = N'OBJECT'",
    )
    .await
    .unwrap();
    assert_eq!(rows[0][0].get::<i32, _>(0), Some(0));
}

#[tokio::test]
async fn lock_timeout_zero_fails_at_once_and_a_writer_waits_too() {
    let sb = sandbox();
    let mut a = connect(&sb, "writer").await;
    let mut b = connect(&sb, "reader").await;
    batch(&mut a, WRITE_QUEUES).await.unwrap();
    batch(&mut b, "SET LOCK_TIMEOUT 0").await.unwrap();
    let e = count(&mut b, "SELECT COUNT_BIG(*) FROM dbo.Queues")
        .await
        .unwrap_err();
    assert_eq!(server_error(&e).0, 1222);
    let e = batch(&mut b, "UPDATE dbo.Queues SET Name = Name")
        .await
        .unwrap_err();
    assert_eq!(server_error(&e).0, 1222);
    // Rolled back: the lock goes with the transaction.
    batch(&mut a, "ROLLBACK TRANSACTION").await.unwrap();
    assert!(count(&mut b, "SELECT COUNT_BIG(*) FROM dbo.Queues")
        .await
        .is_ok());
}

#[tokio::test]
async fn an_update_lock_lets_readers_through_and_stops_other_update_locks() {
    let sb = sandbox();
    let mut a = connect(&sb, "planner").await;
    let mut b = connect(&sb, "reader").await;
    let a_spid = spid(&mut a).await;
    batch(
        &mut a,
        "BEGIN TRANSACTION; SELECT COUNT_BIG(*) FROM dbo.Queues WITH (UPDLOCK, HOLDLOCK)",
    )
    .await
    .unwrap();
    batch(&mut b, "SET LOCK_TIMEOUT 0").await.unwrap();
    assert!(count(&mut b, "SELECT COUNT_BIG(*) FROM dbo.Queues")
        .await
        .is_ok());
    let rows = batch(
        &mut b,
        "SELECT request_session_id, request_mode FROM sys.dm_tran_locks \
         WHERE resource_type = N'OBJECT' AND resource_associated_entity_id = OBJECT_ID(N'dbo.Queues')",
    )
    .await
    .unwrap();
    assert_eq!(rows[0].len(), 1);
    assert_eq!(rows[0][0].get::<i32, _>(0), Some(a_spid as i32));
    assert_eq!(rows[0][0].get::<&str, _>(1), Some("U"));
    let e = count(
        &mut b,
        "SELECT COUNT_BIG(*) FROM dbo.Queues WITH (UPDLOCK, HOLDLOCK)",
    )
    .await
    .unwrap_err();
    assert_eq!(server_error(&e).0, 1222);
    batch(&mut a, "COMMIT TRANSACTION").await.unwrap();
}

#[tokio::test]
async fn a_waiting_reader_shows_its_blocker_and_an_attention_cancels_it() {
    let sb = sandbox();
    let mut a = connect(&sb, "writer").await;
    let mut b = connect(&sb, "reader").await;
    let mut c = connect(&sb, "watcher").await;
    let a_spid = spid(&mut a).await;
    let b_spid = spid(&mut b).await;
    batch(&mut a, WRITE_QUEUES).await.unwrap();

    // LOCK_TIMEOUT -1 (the default): B waits until cancelled.
    let waiting = tokio::time::timeout(Duration::from_millis(300), async {
        batch(&mut b, "SELECT COUNT_BIG(*) FROM dbo.Queues").await
    })
    .await;
    assert!(waiting.is_err(), "the reader should still wait");

    let rows = batch(
        &mut c,
        "SELECT session_id, blocking_session_id, wait_type, status, command \
         FROM sys.dm_exec_requests WHERE blocking_session_id <> 0",
    )
    .await
    .unwrap();
    assert_eq!(rows[0].len(), 1, "{:?}", rows[0]);
    let r = &rows[0][0];
    assert_eq!(r.get::<i16, _>(0), Some(b_spid));
    assert_eq!(r.get::<i16, _>(1), Some(a_spid));
    assert_eq!(r.get::<&str, _>(2), Some("LCK_M_S"));
    assert_eq!(r.get::<&str, _>(3), Some("suspended"));
    assert_eq!(r.get::<&str, _>(4), Some("SELECT"));
    let rows = batch(
        &mut c,
        "SELECT request_session_id FROM sys.dm_tran_locks WHERE request_status = N'WAIT' \
         AND resource_associated_entity_id = OBJECT_ID(N'dbo.Queues')",
    )
    .await
    .unwrap();
    assert_eq!(rows[0][0].get::<i32, _>(0), Some(b_spid as i32));
    let rows = batch(
        &mut c,
        "SELECT login_name, program_name FROM sys.dm_exec_sessions WHERE session_id = @@SPID",
    )
    .await
    .unwrap();
    assert_eq!(rows[0][0].get::<&str, _>(0), Some("sa"));
    assert_eq!(rows[0][0].get::<&str, _>(1), Some("watcher"));

    b.cancel_query().await.unwrap();
    // Cancelled, not granted: A still holds its lock, B is usable.
    let rows = batch(&mut b, "SELECT 1 AS one").await.unwrap();
    assert_eq!(rows[0][0].get::<i32, _>(0), Some(1));
    let rows = batch(
        &mut c,
        "SELECT COUNT(*) FROM sys.dm_exec_requests WHERE blocking_session_id <> 0",
    )
    .await
    .unwrap();
    assert_eq!(rows[0][0].get::<i32, _>(0), Some(0));
    batch(&mut a, "ROLLBACK TRANSACTION").await.unwrap();
}

#[tokio::test]
async fn without_view_server_state_the_dmvs_fail_with_297() {
    let sb = sandbox();
    let mut c = connect(&sb, "product").await;
    assert!(batch(&mut c, "SELECT session_id FROM sys.dm_exec_sessions")
        .await
        .is_ok());
    sb.deny_server("VIEW SERVER STATE");
    for view in [
        "sys.dm_tran_locks",
        "sys.dm_exec_requests",
        "sys.dm_exec_sessions",
    ] {
        let e = batch(&mut c, &format!("SELECT COUNT(*) FROM {view}"))
            .await
            .unwrap_err();
        assert_eq!(
            server_error(&e),
            (
                297,
                16,
                1,
                "The user does not have permission to perform this action.".to_string()
            ),
            "{view}"
        );
    }
    // Other reads are not affected.
    assert!(count(&mut c, "SELECT COUNT_BIG(*) FROM dbo.Queues")
        .await
        .is_ok());
}
