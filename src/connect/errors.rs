//! Every failure a DBA can meet, turned into one plain sentence with what to
//! do: login and TLS errors, the SQL Server Browser, unreachable hosts, and
//! errors from the server while a command runs ([`DbError`]).

use super::browser::Lookup;
use super::target::Target;
use anyhow::anyhow;

pub(super) fn describe_io_error(
    e: &std::io::Error,
    target: &Target,
    host: &str,
    port: u16,
) -> anyhow::Error {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused => anyhow!(
            "could not connect to {}: nothing accepts connections on TCP port {port} (is SQL Server running there, with TCP/IP enabled?)",
            target.server
        ),
        K::TimedOut => anyhow!("could not connect to {}: the connection timed out", target.server),
        _ if e.to_string().contains("lookup") || e.to_string().contains("not known") || e.kind() == K::NotFound => {
            anyhow!("could not find the host '{host}': the name does not resolve (check -S; for a named instance quote it, -S 'HOST\\INSTANCE': an unquoted backslash is removed by the shell)")
        }
        _ => anyhow!("could not connect to {}: {e}", target.server),
    }
}

/// Why the SQL Server Browser did not give a port for the named instance.
pub(super) fn describe_browser_lookup(lookup: &Lookup, target: &Target) -> anyhow::Error {
    let host = &target.server.host;
    let instance = target.server.instance.as_deref().unwrap_or_default();
    match lookup {
        Lookup::Found(addr) => anyhow!("the SQL Server Browser on {host} named {addr} for instance '{instance}'"),
        Lookup::NoSuchHost => {
            anyhow!("could not find the host '{host}': the name does not resolve (check -S; for a named instance quote it, -S 'HOST\\INSTANCE': an unquoted backslash is removed by the shell)")
        }
        Lookup::Silent => anyhow!(
            "could not find instance '{instance}' on {host}: the SQL Server Browser did not answer on UDP port 1434 \
             (is the SQL Server Browser service running, and does the firewall let UDP 1434 through?); \
             or give the instance's TCP port as -S {host},PORT"
        ),
        Lookup::Unknown { listed } => {
            let known = if listed.is_empty() {
                "none".to_string()
            } else {
                listed.join(", ")
            };
            anyhow!(
                "the SQL Server Browser on {host} does not know an instance named '{instance}' (it lists: {known}): \
                 check the instance name in -S, or give the instance's TCP port as -S {host},PORT"
            )
        }
        Lookup::NoTcp => anyhow!(
            "instance '{instance}' on {host} does not accept TCP connections (the SQL Server Browser lists no TCP port for it): \
             enable TCP/IP for the instance in SQL Server Configuration Manager"
        ),
    }
}

/// A failed login at the server a listener routed the connection to.
pub(super) fn describe_routed_login_error(
    e: &tiberius::error::Error,
    target: &Target,
    routed_to: &str,
) -> String {
    format!(
        "{} (the listener {} routed the connection to {routed_to})",
        describe_login_error(e, target),
        target.server
    )
}

/// Server error numbers a DBA meets when connecting, with what to do.
pub(super) fn describe_login_error(e: &tiberius::error::Error, target: &Target) -> String {
    use tiberius::error::Error as E;
    match e {
        E::Server(t) => match t.code() {
            18456 => format!(
                "login failed for '{}' on {} (SQL Server error 18456): check the login and password, and that the server accepts this kind of login (-E for Windows authentication)",
                target.login(),
                target.server
            ),
            4060 => format!(
                "cannot open database '{}' on {} (SQL Server error 4060): it does not exist there, or the login may not open it",
                target.database, target.server
            ),
            954 | 955 | 976 | 978 | 983 => format!(
                "database '{}' on {} cannot be used from here (SQL Server error {}): it is a mirror or a non-readable secondary; connect to the principal or primary replica instead. Server said: {}",
                target.database,
                target.server,
                t.code(),
                t.message()
            ),
            code => format!("{} refused the login (SQL Server error {code}): {}", target.server, t.message()),
        },
        E::Tls(msg) => {
            let hint = if target.trust_server_certificate {
                "check that the server's TLS settings match -N"
            } else {
                "if the server uses a self-signed certificate (common on older back ends), add -C to trust it"
            };
            format!("the TLS handshake with {} failed: {}; {hint}", target.server, tls_reason(msg))
        }
        E::Io { kind: std::io::ErrorKind::TimedOut, .. } => format!(
            "{} did not complete the login within {} s (--connect-timeout)",
            target.server,
            target.connect_timeout.as_secs()
        ),
        E::Io { message, .. } if message.to_ascii_lowercase().contains("tls") || message.contains("certificate") => format!(
            "the TLS handshake with {} failed: {}; if the server uses a self-signed certificate, add -C to trust it",
            target.server,
            tls_reason(message)
        ),
        E::Io { message, .. } if target.uses_windows_auth() => format!(
            "could not log in to {} with Windows authentication: the security package (SSPI) gave up ({}); check that this machine is in the domain and reaches a domain controller, or log in with -U LOGIN",
            target.server,
            io_reason(message)
        ),
        E::Io { message, .. } => format!(
            "could not log in to {}: the connection broke during the login ({}); check that -S names a SQL Server and that its TLS settings match -N",
            target.server,
            io_reason(message)
        ),
        E::Protocol(m) if m.contains("rejected the requested instance") => format!(
            "the server at {} is not instance '{}': it refused that name at login; check the instance name, and the port if one is given",
            target.server,
            target.server.instance.as_deref().unwrap_or_default()
        ),
        E::Protocol(m) if m.to_ascii_lowercase().contains("encrypt") => format!(
            "{} and this tool could not agree on encryption: try -N optional, or check the server's Force Encryption setting",
            target.server
        ),
        other => {
            // The library's own words stay in the log (-vv), not the message.
            tracing::debug!(error = %other, "login failed");
            format!(
                "could not log in to {}: the server's answer to the login was not understood; check that -S names a SQL Server (run with -vv for details)",
                target.server
            )
        }
    }
}

/// SQL Server's "Lock request time out period exceeded".
pub const LOCK_TIMEOUT: u32 = 1222;

/// An error from the server while a command ran.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The server answered with an error.
    #[error("SQL Server error {code}: {message}")]
    Server {
        /// SQL Server's error number.
        code: u32,
        /// Its message.
        message: String,
    },
    /// The connection broke: the server's state is unknown.
    #[error("the connection to the server was lost ({0})")]
    Lost(String),
    /// No answer within `--command-timeout`: the tool gave up waiting and
    /// closed the connection, so the server's state is unknown.
    #[error("no answer from the server within the command timeout (--command-timeout); the tool stopped waiting and closed the connection")]
    TimedOut,
    /// A read waited for another session's lock past the lock timeout
    /// (SQL Server error 1222): who holds it, as far as the login may see.
    #[error("a read was blocked by another session's lock for longer than the lock timeout (SQL Server error 1222; {holders}); nothing was changed: retry at a quiet time or give a longer --lock-timeout")]
    Blocked {
        /// The sessions holding locks in the database, or why they cannot
        /// be named.
        holders: String,
    },
    /// Anything else tiberius reports.
    #[error("{0}")]
    Other(String),
}

impl DbError {
    /// SQL Server's error number, when the server sent one.
    pub fn code(&self) -> Option<u32> {
        match self {
            DbError::Server { code, .. } => Some(*code),
            DbError::Blocked { .. } => Some(LOCK_TIMEOUT),
            _ => None,
        }
    }
}

/// What a TLS failure means, in words, without the TLS library's own text.
fn tls_reason(msg: &str) -> &'static str {
    let m = msg.to_ascii_lowercase();
    if m.contains("unknownissuer")
        || m.contains("unknown issuer")
        || m.contains("self signed")
        || m.contains("self-signed")
        || m.contains("trust")
    {
        "the server's certificate is not signed by an authority this machine trusts"
    } else if m.contains("notvalidforname") || m.contains("name") {
        "the server's certificate does not name this server"
    } else if m.contains("expired") {
        "the server's certificate has expired"
    } else if m.contains("version") || m.contains("handshakefailure") || m.contains("cipher") {
        "the server and this tool share no TLS version or cipher"
    } else {
        "the server's TLS answer was not accepted"
    }
}

/// An I/O failure in words, without the library's own text.
fn io_reason(msg: &str) -> String {
    // tiberius wraps the operating system's words in its own sentence.
    let msg = msg
        .trim_start_matches("An error occurred during the attempt of performing I/O:")
        .trim();
    let m = msg.to_ascii_lowercase();
    if m.contains("bytes remaining on stream") || m.contains("eof") || m.contains("unexpected end")
    {
        "the server closed the connection".to_string()
    } else if m.contains("reset") {
        "the connection was reset".to_string()
    } else if m.contains("os error 0") {
        "no reason given".to_string()
    } else if m.contains("broken pipe") {
        "the connection was closed while sending".to_string()
    } else {
        msg.to_string()
    }
}

pub(super) fn server_error(e: tiberius::error::Error) -> anyhow::Error {
    use tiberius::error::Error as E;
    let e = match e {
        E::Server(t) => DbError::Server {
            code: t.code(),
            message: t.message().to_string(),
        },
        E::Io { kind, message } => {
            if kind == std::io::ErrorKind::TimedOut {
                tracing::debug!(%message, "command timeout");
                DbError::TimedOut
            } else {
                DbError::Lost(io_reason(&message))
            }
        }
        other => {
            tracing::debug!(error = %other, "unexpected answer");
            DbError::Other(
                "the server's answer was not understood (run with -vv for details)".into(),
            )
        }
    };
    e.into()
}
