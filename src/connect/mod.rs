//! Connecting: [`target`] turns flags or an ADO.NET connection string into a
//! [`Target`] (the way tiberius' `Config` describes a server), [`password`]
//! gets the password, [`connect`] logs in and [`errors`] turns every failure
//! into one sentence a DBA can act on; [`session`] is the open connection,
//! read-only unless `apply` holds it.
//!
//! Passwords live only in [`Password`], which never prints itself, and in
//! tiberius' own secret type; no message built here contains one.

mod ado;
pub mod errors;
pub mod password;
pub mod session;
pub mod target;

pub use errors::DbError;
pub use password::Password;
pub use session::{Connection, Row, Writer};
pub use target::{ConnectOptions, Encrypt, ServerSpec, Target, DEFAULT_DATABASE};

use anyhow::{anyhow, bail, Result};
use errors::{describe_browser_error, describe_io_error, describe_login_error};
use tiberius::{Client, Config};
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, TokioAsyncWriteCompatExt};

/// The tiberius client over tokio.
pub type TdsClient = Client<Compat<TcpStream>>;

/// Logs in to the target, following one availability-group redirect.
pub async fn connect(target: &Target) -> Result<Connection> {
    let mut config = target.config()?;
    let mut redirected = false;
    loop {
        let tcp = open_tcp(target, &config).await?;
        match Client::connect(config.clone(), tcp.compat_write()).await {
            Ok(client) => {
                tracing::debug!(server = %target.server, database = %target.database, "logged in");
                return Ok(Connection::new(
                    client,
                    target.server.to_string(),
                    target.database.clone(),
                ));
            }
            Err(tiberius::error::Error::Routing { host, port }) if !redirected => {
                tracing::info!(%host, port, "server redirected the connection");
                config.host(&host);
                config.port(port);
                redirected = true;
            }
            Err(e) => bail!(describe_login_error(&e, target)),
        }
    }
}

async fn open_tcp(target: &Target, config: &Config) -> Result<TcpStream> {
    use tiberius::SqlBrowser;
    let addr = config.get_addr();
    let attempt = async {
        if target.server.instance.is_some() && target.server.port.is_none() {
            TcpStream::connect_named(config)
                .await
                .map_err(|e| describe_browser_error(&e, target))
        } else {
            TcpStream::connect(&addr)
                .await
                .map_err(|e| describe_io_error(&e, target))
        }
    };
    let tcp = tokio::time::timeout(target.connect_timeout, attempt).await.map_err(|_| {
        anyhow!(
            "could not connect to {} within {} s (--connect-timeout): the host did not answer; check the name, the port and any firewall",
            target.server,
            target.connect_timeout.as_secs()
        )
    })??;
    tcp.set_nodelay(true).ok();
    Ok(tcp)
}
