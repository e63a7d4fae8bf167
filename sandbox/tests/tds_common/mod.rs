//! Helpers for the tests that talk to a running sandbox through tiberius.

// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

pub use rgs_sandbox::types::Value;
pub use rgs_sandbox::{Sandbox, SandboxOptions};
pub use tiberius::error::Error;
use tiberius::{AuthMethod, Client, Config, EncryptionLevel};
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, TokioAsyncWriteCompatExt};

/// A tiberius connection to the sandbox.
pub type Conn = Client<Compat<TcpStream>>;

/// A sandbox holding a scenario.
pub fn sandbox(scenario: &str) -> Sandbox {
    Sandbox::start(SandboxOptions {
        scenario: Some(scenario.into()),
        ..Default::default()
    })
    .expect("sandbox starts")
}

/// A connection as `sa` to rgsconfig, TLS on.
pub async fn connect(sb: &Sandbox) -> Conn {
    let mut config = Config::new();
    config.host("127.0.0.1");
    config.port(sb.addr().port());
    config.authentication(AuthMethod::sql_server("sa", sb.password()));
    config.database("rgsconfig");
    config.encryption(EncryptionLevel::Required);
    config.trust_cert();
    let tcp = TcpStream::connect(config.get_addr()).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    Client::connect(config, tcp.compat_write())
        .await
        .expect("login succeeds")
}

/// The server error number of a failed request.
pub fn code(e: &Error) -> u32 {
    code_of(e)
}

fn code_of(e: &Error) -> u32 {
    match e {
        Error::Server(t) => t.code(),
        other => panic!("expected a server error, got {other:?}"),
    }
}

/// The first value of a sandbox query, as an integer.
pub fn count_in(sb: &Sandbox, sql: &str) -> i64 {
    match &sb.query(sql).expect("sandbox query").rows[0][0] {
        Value::Int(n) => *n,
        other => panic!("expected a count, got {other:?}"),
    }
}

/// The first column of the first row of a batch, as i32.
pub async fn scalar_i32(c: &mut Conn, sql: &str) -> Option<i32> {
    let rows = c
        .simple_query(sql)
        .await
        .unwrap()
        .into_first_result()
        .await
        .unwrap();
    rows[0].get::<i32, _>(0)
}

/// Runs a batch: its result sets, or its first error (whether tiberius
/// reports it from the first token or from a later one).
pub async fn run(c: &mut Conn, sql: &str) -> tiberius::Result<Vec<Vec<tiberius::Row>>> {
    c.simple_query(sql).await?.into_results().await
}
