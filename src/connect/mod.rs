//! Connecting: [`target`] turns flags or an ADO.NET connection string into a
//! [`Target`] (the way tiberius' `Config` describes a server), [`password`]
//! gets the password, [`connect`] logs in and [`errors`] turns every failure
//! into one sentence a DBA can act on; [`session`] is the open connection,
//! read-only unless `apply` holds it.
//!
//! Passwords live only in [`Password`], which never prints itself, and in
//! tiberius' own secret type; no message built here contains one.

mod ado;
mod browser;
pub mod errors;
pub mod inventory;
pub mod password;
pub mod session;
pub mod target;

pub use errors::DbError;
pub use password::Password;
pub use session::{Connection, Row, Streamed, Writer};
pub use target::{ConnectOptions, Encrypt, ServerSpec, Target, DEFAULT_DATABASE};

use anyhow::{anyhow, bail, Result};
use errors::{
    describe_browser_lookup, describe_io_error, describe_login_error, describe_routed_login_error,
};
use std::net::SocketAddr;
use std::time::Duration;
use tiberius::Client;
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, TokioAsyncWriteCompatExt};

/// The tiberius client over tokio.
pub type TdsClient = Client<Compat<TcpStream>>;

/// Logs in to the target, following one availability-group redirect: a
/// listener hands the login to the primary replica, which must take it.
pub async fn connect(target: &Target) -> Result<Connection> {
    // Before the network: a configuration error (such as -E without
    // Kerberos support) is the one to report.
    let config = target.config()?;
    let tcp = open_tcp(target).await?;
    let (host, port) = match Client::connect(config, tcp.compat_write()).await {
        Ok(client) => {
            tracing::debug!(server = %target.server, database = %target.database, "logged in");
            return Ok(Connection::new(
                client,
                target.server.to_string(),
                target.database.clone(),
                target.lock_timeout_ms(),
                None,
            ));
        }
        Err(tiberius::error::Error::Routing { host, port }) => (host, port),
        Err(e) => bail!(describe_login_error(&e, target)),
    };
    let routed_to = format!("{host},{port}");
    tracing::info!(listener = %target.server, to = %routed_to, "the listener routed the connection");
    let tcp = connect_addr(&host, port, target).await?;
    match Client::connect(target.routed_config(&host, port)?, tcp.compat_write()).await {
        Ok(client) => {
            tracing::info!("connected to {routed_to} (routed by the listener {})", target.server);
            Ok(Connection::new(
                client,
                target.server.to_string(),
                target.database.clone(),
                target.lock_timeout_ms(),
                Some(routed_to),
            ))
        }
        Err(tiberius::error::Error::Routing { host: again, port: again_port }) => bail!(
            "the listener {} routed the connection to {routed_to}, which routed it again, to {again},{again_port}: \
             this tool follows one redirect; connect to the primary replica directly with -S HOST,PORT",
            target.server
        ),
        Err(e) => bail!(describe_routed_login_error(&e, target, &routed_to)),
    }
}

/// How long to wait for each answer of the SQL Server Browser: a part of
/// the connect timeout, so that a silent Browser is reported as such before
/// the connect timeout ends the attempt.
fn browser_wait(connect_timeout: Duration) -> Duration {
    (connect_timeout / 4).clamp(Duration::from_millis(250), Duration::from_secs(2))
}

/// The TCP connection to the server as named: through the SQL Server
/// Browser for a named instance without a port, directly otherwise.
async fn open_tcp(target: &Target) -> Result<TcpStream> {
    let server = &target.server;
    let named = server.instance.as_deref().filter(|_| server.port.is_none());
    let attempt = async {
        match named {
            Some(instance) => {
                let wait = browser_wait(target.connect_timeout);
                match browser::resolve(&server.host, instance, wait).await {
                    browser::Lookup::Found(addr) => connect_found(addr, target).await,
                    other => Err(describe_browser_lookup(&other, target)),
                }
            }
            None => {
                let port = server.port.unwrap_or(1433);
                tcp_to(&server.host, port, target.multi_subnet_failover())
                    .await
                    .map_err(|e| describe_io_error(&e, target, &server.host, port))
            }
        }
    };
    with_timeout(target, &server.to_string(), attempt).await
}

/// Connects to the port the Browser named.
async fn connect_found(addr: SocketAddr, target: &Target) -> Result<TcpStream> {
    TcpStream::connect(addr).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::ConnectionRefused {
            anyhow!(
                "the SQL Server Browser on {} names TCP port {} for instance '{}', but nothing accepts connections there: \
                 is the instance running? (or give its current port as -S {},PORT)",
                target.server.host,
                addr.port(),
                target.server.instance.as_deref().unwrap_or_default(),
                target.server.host
            )
        } else {
            describe_io_error(&e, target, &target.server.host, addr.port())
        }
    })
}

/// The TCP connection to where a listener routed the login.
async fn connect_addr(host: &str, port: u16, target: &Target) -> Result<TcpStream> {
    let attempt = async {
        tcp_to(host, port, target.multi_subnet_failover()).await.map_err(|e| {
            anyhow!(
                "the listener {} routed the connection to {host},{port}, which could not be reached ({e}): check that the primary replica is up and reachable from here",
                target.server
            )
        })
    };
    with_timeout(target, &format!("{host},{port}"), attempt).await
}

/// TCP to `host`: one address after another, as the system resolver orders
/// them; or, with multi-subnet failover (an availability-group listener with
/// an address in each subnet, only one of which answers), all at once, the
/// first to answer winning, as ADO.NET's `MultiSubnetFailover` does.
async fn tcp_to(host: &str, port: u16, multi_subnet_failover: bool) -> std::io::Result<TcpStream> {
    if !multi_subnet_failover {
        return TcpStream::connect((host, port)).await;
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port)).await?.collect();
    first_to_answer(addrs).await
}

/// Connects to every address at once and keeps the first connection made;
/// the error of the last to fail when none answers.
async fn first_to_answer(addrs: Vec<SocketAddr>) -> std::io::Result<TcpStream> {
    let mut attempts = tokio::task::JoinSet::new();
    for a in addrs {
        attempts.spawn(TcpStream::connect(a));
    }
    let mut last = std::io::Error::new(
        std::io::ErrorKind::NotFound,
        "the name resolved to no address",
    );
    while let Some(done) = attempts.join_next().await {
        match done {
            Ok(Ok(tcp)) => return Ok(tcp), // dropping the set aborts the rest
            Ok(Err(e)) => last = e,
            Err(e) => last = std::io::Error::other(e),
        }
    }
    Err(last)
}

async fn with_timeout(
    target: &Target,
    what: &str,
    attempt: impl std::future::Future<Output = Result<TcpStream>>,
) -> Result<TcpStream> {
    let tcp = tokio::time::timeout(target.connect_timeout, attempt).await.map_err(|_| {
        anyhow!(
            "could not connect to {what} within {} s (--connect-timeout): the host did not answer; check the name, the port and any firewall",
            target.connect_timeout.as_secs()
        )
    })??;
    tcp.set_nodelay(true).ok();
    Ok(tcp)
}

#[cfg(test)]
mod tests {
    use super::first_to_answer;

    #[tokio::test]
    async fn multi_subnet_failover_takes_the_address_that_answers() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let live = listener.local_addr().unwrap();
        // A port nothing listens on: refused at once.
        let dead = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        // (No address that never answers is used: some networks accept any
        // connection, so such a test would depend on where it runs.)
        let tcp = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            first_to_answer(vec![dead, live]),
        )
        .await
        .expect("the live address answers")
        .unwrap();
        assert_eq!(tcp.peer_addr().unwrap(), live);
        assert!(first_to_answer(vec![dead]).await.is_err());
        assert!(first_to_answer(vec![]).await.is_err());
    }
}
