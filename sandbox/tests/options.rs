//! Sandbox options for the product's performance and cost tests: latency
//! on every answer, large scenarios, and request counts.

use rgs_sandbox::types::Value;
use rgs_sandbox::{Sandbox, SandboxOptions};
use std::time::{Duration, Instant};
use tiberius::{AuthMethod, Client, Config, EncryptionLevel};
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, TokioAsyncWriteCompatExt};

type Conn = Client<Compat<TcpStream>>;

fn start(opts: SandboxOptions) -> Sandbox {
    Sandbox::start(SandboxOptions {
        scenario: Some("migrated".into()),
        ..opts
    })
    .expect("sandbox starts")
}

async fn connect(sb: &Sandbox) -> Conn {
    let mut config = Config::new();
    config.host("127.0.0.1");
    config.port(sb.addr().port());
    config.authentication(AuthMethod::sql_server("sa", sb.password()));
    config.database("rgsconfig");
    config.encryption(EncryptionLevel::NotSupported);
    let tcp = TcpStream::connect(config.get_addr()).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    Client::connect(config, tcp.compat_write()).await.unwrap()
}

fn int(sb: &Sandbox, sql: &str) -> i64 {
    match &sb.query(sql).expect("query runs").rows[0][0] {
        Value::Int(n) => *n,
        other => panic!("{sql}: {other:?}"),
    }
}

#[tokio::test]
async fn latency_delays_the_login_and_every_answer() {
    let latency = Duration::from_millis(150);
    let sb = start(SandboxOptions {
        latency: Some(latency),
        ..Default::default()
    });
    let t0 = Instant::now();
    let mut c = connect(&sb).await;
    // The PRELOGIN answer and the login answer.
    assert!(t0.elapsed() >= 2 * latency, "{:?}", t0.elapsed());
    for _ in 0..2 {
        let t = Instant::now();
        c.simple_query("SELECT 1")
            .await
            .unwrap()
            .into_results()
            .await
            .unwrap();
        assert!(t.elapsed() >= latency, "{:?}", t.elapsed());
    }
    let t = Instant::now();
    let e = c.simple_query("SELECT nope FROM nowhere").await;
    assert!(e.is_err());
    assert!(t.elapsed() >= latency, "errors are answers too");
}

#[tokio::test]
async fn extra_objects_and_tables_enlarge_the_scenario() {
    let plain = start(SandboxOptions::default());
    let sb = start(SandboxOptions {
        extra_objects: 1500,
        extra_tables: 3,
        ..Default::default()
    });
    let nulls = "SELECT COUNT(*) FROM dbo.AgentGroups WHERE OwnerPoolId IS NULL";
    assert_eq!(int(&sb, nulls), int(&plain, nulls) + 1500);
    assert_eq!(
        int(&sb, "SELECT COUNT(DISTINCT ID) FROM dbo.AgentGroups"),
        int(&plain, "SELECT COUNT(*) FROM dbo.AgentGroups") + 1500
    );
    assert_eq!(
        int(
            &sb,
            "SELECT COUNT(DISTINCT Name) FROM dbo.AgentGroups WHERE Name LIKE N'Extra Group %'"
        ),
        1500
    );
    assert_eq!(
        int(
            &sb,
            "SELECT COUNT(*) FROM sys.tables t JOIN sys.columns c ON c.object_id = t.object_id \
             WHERE t.name LIKE N'ExtraObjects%' AND c.name = N'OwnerPoolId'"
        ),
        3
    );
    for t in ["ExtraObjects01", "ExtraObjects02", "ExtraObjects03"] {
        assert_eq!(
            int(
                &sb,
                &format!("SELECT COUNT(*) FROM dbo.{t} WHERE OwnerPoolId IS NULL")
            ),
            3,
            "{t}"
        );
    }
    // Through TDS, the new rows read like the scenario's own.
    let mut c = connect(&sb).await;
    let rows = c
        .simple_query("SELECT TOP 1 ID, RoutingMethod FROM dbo.AgentGroups WHERE Name = N'Extra Group 0001500'")
        .await
        .unwrap()
        .into_first_result()
        .await
        .unwrap();
    assert!(rows[0].get::<uuid_like::Guid, _>(0).is_some());
}

/// tiberius decodes uniqueidentifier as its re-exported `Uuid`.
mod uuid_like {
    pub type Guid = tiberius::Uuid;
}

#[tokio::test]
async fn requests_count_what_clients_send_after_login() {
    let sb = start(SandboxOptions::default());
    let mut a = connect(&sb).await;
    let mut b = connect(&sb).await;
    // Logging in sends none.
    assert_eq!(sb.requests(), 0);
    a.simple_query("SELECT 1; SELECT 2")
        .await
        .unwrap()
        .into_results()
        .await
        .unwrap();
    a.query("SELECT @P1", &[&1i32])
        .await
        .unwrap()
        .into_results()
        .await
        .unwrap();
    b.simple_query("BEGIN TRANSACTION")
        .await
        .unwrap()
        .into_results()
        .await
        .unwrap();
    b.simple_query("ROLLBACK TRANSACTION")
        .await
        .unwrap()
        .into_results()
        .await
        .unwrap();
    assert!(a.simple_query("SELECT nope FROM nowhere").await.is_err());
    // Engine queries bypass TDS.
    sb.query("SELECT 1").unwrap();
    assert_eq!(sb.requests(), 5);
    assert_eq!(sb.reset_requests(), 5);
    assert_eq!(sb.requests(), 0);
    let mut c = connect(&sb).await;
    c.simple_query("SELECT 1")
        .await
        .unwrap()
        .into_results()
        .await
        .unwrap();
    a.simple_query("SELECT 1")
        .await
        .unwrap()
        .into_results()
        .await
        .unwrap();
    assert_eq!(sb.requests(), 2);
}
