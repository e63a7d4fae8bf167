//! Sandbox behaviour tests that change the server's situation while it runs:
//! faults armed after start, database states (read-only, mirror, non-readable
//! secondary), denied permissions, and statements deep enough to need a large
//! stack.

use rgs_sandbox::fault::Fault;
use rgs_sandbox::{DbState, Sandbox, SandboxOptions};
use tiberius::error::Error;
use tiberius::{AuthMethod, Client, Config, EncryptionLevel, Row, ToSql};
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, TokioAsyncWriteCompatExt};

type Conn = Client<Compat<TcpStream>>;

fn sandbox_in(state: DbState) -> Sandbox {
    Sandbox::start(SandboxOptions {
        scenario: Some("migrated".into()),
        state,
        ..Default::default()
    })
    .expect("sandbox starts")
}

fn sandbox() -> Sandbox {
    sandbox_in(DbState::Online)
}

fn config(sb: &Sandbox, database: Option<&str>) -> Config {
    let mut config = Config::new();
    config.host("127.0.0.1");
    config.port(sb.addr().port());
    config.authentication(AuthMethod::sql_server("sa", sb.password()));
    if let Some(db) = database {
        config.database(db);
    }
    config.encryption(EncryptionLevel::Required);
    config.trust_cert();
    config
}

async fn try_connect(sb: &Sandbox, database: Option<&str>) -> tiberius::Result<Conn> {
    let config = config(sb, database);
    let tcp = TcpStream::connect(config.get_addr()).await?;
    tcp.set_nodelay(true)?;
    Client::connect(config, tcp.compat_write()).await
}

async fn connect(sb: &Sandbox) -> Conn {
    try_connect(sb, Some("rgsconfig"))
        .await
        .expect("login succeeds")
}

async fn batch(c: &mut Conn, sql: &str) -> tiberius::Result<Vec<Vec<Row>>> {
    c.simple_query(sql).await?.into_results().await
}

fn server_code(e: &Error) -> Option<(u32, u8)> {
    match e {
        Error::Server(t) => Some((t.code(), t.class())),
        _ => None,
    }
}

async fn scalar_i32(c: &mut Conn, sql: &str) -> Option<i32> {
    batch(c, sql).await.unwrap()[0][0].get::<i32, _>(0)
}

const UPDATE_ONE: &str =
    "UPDATE [dbo].[AgentGroups] SET [Description] = N'x' WHERE [ID] = (SELECT MIN([ID]) FROM [dbo].[AgentGroups])";

/// `([ID] = @P2) OR ([ID] = @P3) ...` as the product's `{key_match}`.
fn or_chain(terms: usize, per_term: usize, first: usize) -> String {
    let cols = ["[GroupId]", "[AgentId]"];
    (0..terms)
        .map(|t| {
            let parts: Vec<String> = (0..per_term)
                .map(|k| format!("{} = @P{}", cols[k], first + t * per_term + k))
                .collect();
            format!("({})", parts.join(" AND "))
        })
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// A request's outcome: rows counted, or the server's error number.
async fn outcome(c: &mut Conn, sql: String, params: &[&dyn ToSql]) -> Result<usize, u32> {
    let rows = match c.query(sql, params).await {
        Ok(stream) => stream.into_first_result().await,
        Err(e) => Err(e),
    };
    match rows {
        Ok(rows) => Ok(rows.len()),
        Err(e) => Err(server_code(&e)
            .unwrap_or_else(|| panic!("the sandbox must answer, not drop the connection: {e}"))
            .0),
    }
}

#[tokio::test]
async fn deep_or_chains_and_long_in_lists_answer() {
    let sb = sandbox();
    let mut c = connect(&sb).await;
    let ids: Vec<uuid::Uuid> = (0..2000).map(|_| uuid::Uuid::new_v4()).collect();
    let params: Vec<&dyn ToSql> = ids.iter().map(|g| g as &dyn ToSql).collect();

    // 2000 single-key terms, 2000 parameters: once overflowed a 2 MiB
    // stack and aborted the test process.
    let sql = format!(
        "SELECT [ID] FROM [dbo].[AgentGroups] WITH (UPDLOCK, HOLDLOCK) WHERE {}",
        or_chain(2000, 1, 1).replace("[GroupId]", "[ID]")
    );
    let single = outcome(&mut c, sql, &params).await;
    // Composite keys: 1000 terms of two columns each, 2000 parameters.
    let sql = format!(
        "SELECT [GroupId], [AgentId] FROM [dbo].[AgentGroupAgents] WHERE {}",
        or_chain(1000, 2, 1)
    );
    let composite = outcome(&mut c, sql, &params).await;
    // Answering at all is what this test guards; whether the engine runs
    // chains deeper than SQLite's expression depth (1000) is its own test
    // below.
    for r in [single, composite] {
        assert!(matches!(r, Ok(0) | Err(_)), "{r:?}");
    }

    // An IN list of 1000 parameters after @P1, as the undo UPDATE sends it.
    let list: Vec<String> = (2..=1001).map(|i| format!("@P{i}")).collect();
    let sql = format!(
        "UPDATE [dbo].[AgentGroups] SET [OwnerPoolId] = NULL WHERE [OwnerPoolId] = @P1 AND ([ID] IN ({}))",
        list.join(", ")
    );
    let result = c.execute(sql, &params[..1001]).await.unwrap();
    assert_eq!(result.total(), 0);

    assert_eq!(scalar_i32(&mut c, "SELECT 1").await, Some(1));
}

#[tokio::test]
async fn deep_or_chains_run() {
    let sb = sandbox();
    let mut c = connect(&sb).await;
    let ids: Vec<uuid::Uuid> = (0..2000).map(|_| uuid::Uuid::new_v4()).collect();
    let params: Vec<&dyn ToSql> = ids.iter().map(|g| g as &dyn ToSql).collect();
    let sql = format!(
        "SELECT [ID] FROM [dbo].[AgentGroups] WHERE {}",
        or_chain(2000, 1, 1).replace("[GroupId]", "[ID]")
    );
    assert_eq!(outcome(&mut c, sql, &params).await, Ok(0));
    let sql = format!(
        "SELECT [GroupId], [AgentId] FROM [dbo].[AgentGroupAgents] WHERE {}",
        or_chain(1000, 2, 1)
    );
    assert_eq!(outcome(&mut c, sql, &params).await, Ok(0));
}

#[tokio::test]
async fn extreme_nesting_is_8631_not_a_crash() {
    let sb = sandbox();
    let mut c = connect(&sb).await;
    let terms: Vec<String> = (0..20_000).map(|i| format!("([ID] = N'{i}')")).collect();
    let sql = format!(
        "SELECT [ID] FROM [dbo].[AgentGroups] WHERE {}",
        terms.join(" OR ")
    );
    let e = batch(&mut c, &sql).await.unwrap_err();
    assert_eq!(server_code(&e), Some((8631, 17)), "{e}");
    assert!(e
        .to_string()
        .contains("Server stack limit has been reached"));
    assert_eq!(scalar_i32(&mut c, "SELECT 1").await, Some(1));
}

#[tokio::test]
async fn armed_fault_fires_only_on_later_connections() {
    let sb = sandbox();
    let mut before = connect(&sb).await;
    assert_eq!(batch(&mut before, UPDATE_ONE).await.unwrap().len(), 0);

    sb.arm(Fault::parse("error@2:1205").unwrap());
    assert_eq!(sb.pending_faults().len(), 1);
    // The connection opened before arming passes its request 2 and more.
    for _ in 0..3 {
        assert_eq!(scalar_i32(&mut before, "SELECT 1").await, Some(1));
    }
    assert_eq!(sb.pending_faults().len(), 1);

    let mut after = connect(&sb).await;
    assert_eq!(scalar_i32(&mut after, "SELECT 1").await, Some(1));
    let e = batch(&mut after, UPDATE_ONE).await.unwrap_err();
    assert_eq!(server_code(&e), Some((1205, 13)), "{e}");
    assert!(sb.pending_faults().is_empty());

    // Fired once: the next new connection runs its request 2.
    let mut third = connect(&sb).await;
    assert_eq!(scalar_i32(&mut third, "SELECT 1").await, Some(1));
    assert_eq!(scalar_i32(&mut third, "SELECT 2").await, Some(2));
}

#[tokio::test]
async fn read_only_database_logs_in_reads_and_refuses_writes() {
    let sb = sandbox_in(DbState::ReadOnly);
    assert_eq!(sb.state(), DbState::ReadOnly);
    let mut c = connect(&sb).await;
    let row = c
        .query(include_str!("../../sql/server_info.sql"), &[])
        .await
        .unwrap()
        .into_row()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.get::<&str, _>("updateability"), Some("READ_ONLY"));
    assert!(
        scalar_i32(&mut c, "SELECT COUNT(*) FROM [dbo].[AgentGroups]")
            .await
            .unwrap()
            > 0
    );
    let e = batch(&mut c, UPDATE_ONE).await.unwrap_err();
    assert_eq!(server_code(&e).map(|x| x.0), Some(3906), "{e}");
    assert!(e
        .to_string()
        .contains("Failed to update database \"rgsconfig\" because the database is read-only."));
}

async fn assert_login_refused(sb: &Sandbox, number: u32, text: &str) {
    let e = try_connect(sb, Some("rgsconfig")).await.unwrap_err();
    assert_eq!(server_code(&e), Some((number, 14)), "{e:?}");
    assert!(e.to_string().contains(text), "{e}");
    // master stays reachable, but not the database through USE.
    let mut m = try_connect(sb, Some("master")).await.unwrap();
    assert_eq!(scalar_i32(&mut m, "SELECT 1").await, Some(1));
    let e = batch(&mut m, "USE [rgsconfig]").await.unwrap_err();
    assert_eq!(server_code(&e), Some((number, 14)), "{e:?}");
    let mut m = try_connect(sb, None).await.unwrap();
    assert_eq!(scalar_i32(&mut m, "SELECT 1").await, Some(1));
}

#[tokio::test]
async fn mirror_refuses_logins_with_954() {
    let sb = sandbox_in(DbState::Mirror);
    assert_login_refused(
        &sb,
        954,
        "The database \"rgsconfig\" cannot be opened. It is acting as a mirror database.",
    )
    .await;
}

#[tokio::test]
async fn non_readable_secondary_refuses_logins_with_976() {
    let sb = sandbox_in(DbState::Secondary);
    assert_login_refused(
        &sb,
        976,
        "The target database, 'rgsconfig', is participating in an availability group and is currently not accessible for queries.",
    )
    .await;
}

#[tokio::test]
async fn state_changes_at_run_time() {
    let sb = sandbox();
    let mut c = connect(&sb).await;
    assert_eq!(batch(&mut c, UPDATE_ONE).await.unwrap().len(), 0);

    // Read-only: the open connection stays, its writes fail.
    sb.set_state(DbState::ReadOnly).unwrap();
    let e = batch(&mut c, UPDATE_ONE).await.unwrap_err();
    assert_eq!(server_code(&e).map(|x| x.0), Some(3906), "{e}");
    assert_eq!(scalar_i32(&mut c, "SELECT 1").await, Some(1));

    // Failover to mirror: the open connection is closed, new logins fail.
    sb.set_state(DbState::Mirror).unwrap();
    let e = batch(&mut c, "SELECT 1").await.unwrap_err();
    assert_eq!(server_code(&e), None, "expected a closed connection: {e}");
    let e = try_connect(&sb, Some("rgsconfig")).await.unwrap_err();
    assert_eq!(server_code(&e), Some((954, 14)), "{e:?}");

    // Back online: logins and writes work again.
    sb.set_state(DbState::Online).unwrap();
    let mut c = connect(&sb).await;
    assert_eq!(batch(&mut c, UPDATE_ONE).await.unwrap().len(), 0);
}

#[tokio::test]
async fn denied_update_is_229_and_has_perms_0() {
    let sb = sandbox();
    sb.deny("[dbo].[AgentGroups]", "UPDATE").unwrap();
    let mut c = connect(&sb).await;
    for (table, want) in [("[dbo].[AgentGroups]", 0), ("[dbo].[Queues]", 1)] {
        let row = c
            .query(
                include_str!("../../sql/permissions.sql")
                    .replace("{table_param}", "@P1")
                    .replace("{column_param}", "@P2"),
                &[&table, &"OwnerPoolId"],
            )
            .await
            .unwrap()
            .into_row()
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.get::<i32, _>("can_update"), Some(want), "{table}");
    }
    let e = batch(&mut c, UPDATE_ONE).await.unwrap_err();
    assert_eq!(server_code(&e), Some((229, 14)), "{e}");
    assert!(sb.deny("a.b.c.d", "UPDATE").is_err());
}
