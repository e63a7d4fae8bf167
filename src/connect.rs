//! Connecting: sqlcmd-style flags or an ADO.NET connection string become one
//! [`Target`]; [`connect`] logs in with tiberius and turns every failure into
//! one plain sentence a DBA can act on.
//!
//! Passwords live only in [`Password`], which never prints itself, and in
//! tiberius' own secret type; no message built here contains one.

use crate::value::DbValue;
use anyhow::{anyhow, bail, Context, Result};
use std::fmt;
use std::io::{BufRead, IsTerminal};
use std::time::Duration;
use tiberius::{AuthMethod, Client, Config, EncryptionLevel, ToSql};
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, TokioAsyncWriteCompatExt};

/// The `-N` choices, as in sqlcmd and ADO.NET's `Encrypt`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Encrypt {
    /// TDS 8.0: TLS before anything else, certificate always verified unless -C.
    Strict,
    /// Encrypt everything; fail if the server cannot.
    Mandatory,
    /// Encrypt the login only, unless the server asks for more.
    Optional,
    /// No TLS at all (only for servers that cannot do TLS).
    Disable,
}

impl Encrypt {
    fn level(self) -> EncryptionLevel {
        match self {
            Encrypt::Strict => EncryptionLevel::Strict,
            Encrypt::Mandatory => EncryptionLevel::Required,
            Encrypt::Optional => EncryptionLevel::Off,
            Encrypt::Disable => EncryptionLevel::NotSupported,
        }
    }
}

/// What the user said about where and how to connect (flags, environment
/// or connection string); see [`Target::resolve`].
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    /// `-S HOST[\INSTANCE][,PORT]`
    pub server: Option<String>,
    /// `-d`; None means the default, `rgsconfig`.
    pub database: Option<String>,
    /// `-U`
    pub user: Option<String>,
    /// `-E`
    pub integrated: bool,
    /// `-N`
    pub encrypt: Encrypt,
    /// `-C`
    pub trust_server_certificate: bool,
    /// `--connect-timeout`
    pub connect_timeout: Duration,
    /// How long to wait for any one answer of the server.
    pub command_timeout: Duration,
    /// `--connection-string` (ADO.NET), instead of the flags above.
    pub connection_string: Option<String>,
    /// `--password-stdin`
    pub password_stdin: bool,
}

/// The database used when none is named.
pub const DEFAULT_DATABASE: &str = "rgsconfig";

/// A password. It prints as `***` in every format, so it cannot end up in a
/// log line, an error or the journal by accident.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Wraps a password.
    pub fn new(p: impl Into<String>) -> Self {
        Password(p.into())
    }
    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// `HOST[\INSTANCE][,PORT]`, as sqlcmd's `-S` and ADO.NET's `Server` take it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerSpec {
    /// Host name or address.
    pub host: String,
    /// Named instance, resolved through the SQL Server Browser unless a port
    /// is given.
    pub instance: Option<String>,
    /// TCP port.
    pub port: Option<u16>,
}

impl ServerSpec {
    /// Parses `[tcp:]HOST[\INSTANCE][,PORT]`; `.`, `(local)` and `localhost`
    /// mean this machine.
    pub fn parse(s: &str) -> Result<ServerSpec> {
        let mut s = s.trim();
        if s.len() >= 4 && s[..4].eq_ignore_ascii_case("tcp:") {
            s = &s[4..];
        } else if let Some((proto, _)) = s.split_once(':') {
            if ["np", "lpc", "admin"].contains(&proto.to_ascii_lowercase().as_str()) {
                bail!("only TCP connections are supported; '{proto}:' (named pipes or shared memory) is not");
            }
        }
        let (rest, port) = match s.rsplit_once(',') {
            Some((h, p)) => {
                let port: u16 = p.trim().parse().ok().filter(|p| *p != 0).ok_or_else(|| {
                    anyhow!(
                        "'{}' is not a TCP port number (in the server name '{s}')",
                        p.trim()
                    )
                })?;
                (h, Some(port))
            }
            None => (s, None),
        };
        let (host, instance) = match rest.split_once('\\') {
            Some((h, i)) if !i.trim().is_empty() => (h, Some(i.trim().to_string())),
            Some((_, _)) => bail!("the server name '{s}' ends in '\\' without an instance name"),
            None => (rest, None),
        };
        let host = host.trim();
        if host.is_empty() {
            bail!("the server name '{s}' has no host");
        }
        let host = if host == "." || host.eq_ignore_ascii_case("(local)") {
            "localhost"
        } else {
            host
        };
        // MSSQLSERVER is the default instance's name: no Browser look-up.
        let instance = instance.filter(|i| !i.eq_ignore_ascii_case("MSSQLSERVER"));
        Ok(ServerSpec {
            host: host.to_string(),
            instance,
            port,
        })
    }
}

impl fmt::Display for ServerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.host)?;
        if let Some(i) = &self.instance {
            write!(f, "\\{i}")?;
        }
        if let Some(p) = self.port {
            write!(f, ",{p}")?;
        }
        Ok(())
    }
}

/// How the login authenticates.
#[derive(Clone, Debug)]
enum Auth {
    Sql {
        user: String,
        password: Password,
    },
    /// Windows authentication with explicit DOMAIN\user and password (NTLM
    /// through SSPI on Windows, sspi-rs elsewhere).
    #[cfg_attr(not(any(windows, unix)), allow(dead_code))]
    Windows {
        user: String,
        password: Password,
    },
    /// The logged-on user's own credentials (SSPI on Windows, Kerberos
    /// through GSSAPI elsewhere when built with the `gssapi` feature).
    Integrated,
}

/// A resolved place to connect to, with its credentials.
#[derive(Clone, Debug)]
pub struct Target {
    /// Where.
    pub server: ServerSpec,
    /// Which database.
    pub database: String,
    auth: Auth,
    encrypt: Encrypt,
    trust_server_certificate: bool,
    connect_timeout: Duration,
    command_timeout: Duration,
}

/// The settings of an ADO.NET connection string the tool understands.
#[derive(Debug, Default, PartialEq)]
struct AdoSettings {
    server: Option<String>,
    database: Option<String>,
    user: Option<String>,
    password: Option<String>,
    integrated: bool,
    encrypt: Option<Encrypt>,
    trust: Option<bool>,
    timeout: Option<u64>,
}

fn parse_bool(key: &str, v: &str) -> Result<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "sspi" => Ok(true),
        "false" | "no" | "0" => Ok(false),
        _ => bail!("the connection string's '{key}' must be true or false"),
    }
}

/// Splits an ADO.NET connection string into key/value pairs: `;`
/// separated, values optionally in single or double quotes (a doubled quote
/// inside stands for one). Error messages name keys, never values, since a
/// value may be a password.
fn ado_pairs(s: &str) -> Result<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ';') {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        loop {
            match chars.next() {
                Some('=') if chars.peek() == Some(&'=') => {
                    chars.next();
                    key.push('=');
                }
                Some('=') => break,
                Some(';') | None => bail!(
                    "the connection string has a part without '=' ('{}')",
                    key.trim()
                ),
                Some(c) => key.push(c),
            }
        }
        let key = key.trim().to_ascii_lowercase();
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        match chars.peek().copied() {
            Some(q @ ('"' | '\'')) => {
                chars.next();
                loop {
                    match chars.next() {
                        Some(c) if c == q && chars.peek() == Some(&q) => {
                            chars.next();
                            value.push(q);
                        }
                        Some(c) if c == q => break,
                        Some(c) => value.push(c),
                        None => {
                            bail!("the connection string's value for '{key}' has no closing quote")
                        }
                    }
                }
                while chars.peek().is_some_and(|c| c.is_whitespace()) {
                    chars.next();
                }
                match chars.next() {
                    None | Some(';') => {}
                    Some(_) => {
                        bail!("the connection string has text after the quoted value of '{key}'")
                    }
                }
            }
            _ => {
                for c in chars.by_ref() {
                    if c == ';' {
                        break;
                    }
                    value.push(c);
                }
                value = value.trim().to_string();
            }
        }
        if key.is_empty() {
            bail!("the connection string has a value without a key");
        }
        pairs.push((key, value));
    }
    Ok(pairs)
}

fn parse_ado(s: &str) -> Result<AdoSettings> {
    let mut a = AdoSettings::default();
    for (key, value) in ado_pairs(s)? {
        match key.as_str() {
            "server" | "data source" | "address" | "addr" | "network address" => {
                a.server = Some(value)
            }
            "database" | "initial catalog" => a.database = Some(value),
            "user id" | "uid" | "user" => a.user = Some(value),
            "password" | "pwd" => a.password = Some(value),
            "integrated security" | "integratedsecurity" | "trusted_connection" => {
                a.integrated = parse_bool(&key, &value)?
            }
            "encrypt" => {
                a.encrypt = Some(match value.trim().to_ascii_lowercase().as_str() {
                    "true" | "yes" | "mandatory" => Encrypt::Mandatory,
                    "false" | "no" | "optional" => Encrypt::Optional,
                    "strict" => Encrypt::Strict,
                    "disable" | "disabled" => Encrypt::Disable,
                    _ => bail!(
                        "the connection string's 'encrypt' must be true, false, strict or disable"
                    ),
                })
            }
            "trustservercertificate" | "trust server certificate" => {
                a.trust = Some(parse_bool(&key, &value)?)
            }
            "connect timeout" | "connection timeout" | "timeout" => {
                a.timeout = Some(value.trim().parse().map_err(|_| {
                    anyhow!("the connection string's '{key}' must be a number of seconds")
                })?)
            }
            // Accepted and not needed by this tool.
            "application name"
            | "app"
            | "workstation id"
            | "wsid"
            | "persist security info"
            | "pooling"
            | "multipleactiveresultsets"
            | "multisubnetfailover"
            | "packet size"
            | "applicationintent"
            | "application intent" => {}
            other => {
                bail!("the connection string has a keyword this tool does not know: '{other}'")
            }
        }
    }
    Ok(a)
}

impl Target {
    /// Resolves options, environment and connection string into a target,
    /// asking for the password when it is needed and not given.
    pub fn resolve(opts: &ConnectOptions) -> Result<Target> {
        let mut server = opts.server.clone();
        let mut database = opts.database.clone();
        let mut user = opts.user.clone();
        let mut integrated = opts.integrated;
        let mut encrypt = opts.encrypt;
        let mut trust = opts.trust_server_certificate;
        let mut connect_timeout = opts.connect_timeout;
        let mut password = None;
        if let Some(cs) = &opts.connection_string {
            let a = parse_ado(cs).context("the connection string is malformed")?;
            if a.server.is_some() {
                server = a.server;
            }
            database = a.database.or(database);
            user = a.user.or(user);
            integrated |= a.integrated;
            encrypt = a.encrypt.unwrap_or(encrypt);
            trust = a.trust.unwrap_or(trust);
            if let Some(t) = a.timeout {
                connect_timeout = Duration::from_secs(t);
            }
            password = a.password.map(Password::new);
        }
        let server = ServerSpec::parse(server.as_deref().ok_or_else(|| {
            anyhow!("no server given: use -S HOST[\\INSTANCE][,PORT], RGS_SERVER, or --connection-string")
        })?)?;
        let auth = if integrated {
            match user {
                Some(user) => Auth::Windows {
                    password: get_password(password, opts, &user)?,
                    user,
                },
                None => Auth::Integrated,
            }
        } else {
            let user = user.ok_or_else(|| {
                anyhow!("no login given: use -U LOGIN (SQL authentication) or -E (Windows authentication)")
            })?;
            Auth::Sql {
                password: get_password(password, opts, &user)?,
                user,
            }
        };
        Ok(Target {
            server,
            database: database.unwrap_or_else(|| DEFAULT_DATABASE.to_string()),
            auth,
            encrypt,
            trust_server_certificate: trust,
            connect_timeout,
            command_timeout: opts.command_timeout,
        })
    }

    /// The login name as the server will see it (`(integrated)` for the
    /// current Windows user).
    pub fn login(&self) -> String {
        match &self.auth {
            Auth::Sql { user, .. } | Auth::Windows { user, .. } => user.clone(),
            Auth::Integrated => "(Windows authentication, current user)".to_string(),
        }
    }

    /// Whether the server's certificate goes unverified (`-C`).
    pub fn trusts_server_certificate(&self) -> bool {
        self.trust_server_certificate && self.encrypt != Encrypt::Disable
    }

    fn config(&self) -> Result<Config> {
        let mut c = Config::new();
        c.host(&self.server.host);
        if let Some(p) = self.server.port {
            c.port(p);
        } else if let Some(i) = &self.server.instance {
            c.instance_name(i);
        }
        c.database(&self.database);
        c.application_name("rgs-repair");
        c.encryption(self.encrypt.level());
        if self.trust_server_certificate {
            c.trust_cert();
        }
        c.handshake_timeout(Some(self.connect_timeout));
        c.command_timeout(Some(self.command_timeout));
        c.authentication(match &self.auth {
            Auth::Sql { user, password } => AuthMethod::sql_server(user, password.expose()),
            Auth::Windows { user, password } => windows_auth(user, password)?,
            Auth::Integrated => integrated_auth()?,
        });
        Ok(c)
    }
}

#[cfg(any(windows, unix))]
fn windows_auth(user: &str, password: &Password) -> Result<AuthMethod> {
    if !user.contains('\\') && !user.contains('@') {
        bail!("with -E and -U, give the Windows account as DOMAIN\\user");
    }
    Ok(AuthMethod::windows(user, password.expose()))
}

#[cfg(not(any(windows, unix)))]
fn windows_auth(_: &str, _: &Password) -> Result<AuthMethod> {
    bail!("Windows authentication is not available on this platform")
}

#[cfg(any(windows, feature = "gssapi"))]
fn integrated_auth() -> Result<AuthMethod> {
    Ok(AuthMethod::Integrated)
}

#[cfg(not(any(windows, feature = "gssapi")))]
fn integrated_auth() -> Result<AuthMethod> {
    bail!(
        "-E without -U needs Kerberos, which this build does not include (rebuild with --features gssapi); \
         or give -U DOMAIN\\user with -E to log in with NTLM"
    )
}

/// The password: from the connection string, `RGS_PASSWORD`,
/// `--password-stdin`, or a hidden prompt on a terminal, in that order.
fn get_password(given: Option<Password>, opts: &ConnectOptions, user: &str) -> Result<Password> {
    if let Some(p) = given {
        return Ok(p);
    }
    if let Ok(p) = std::env::var("RGS_PASSWORD") {
        return Ok(Password::new(p));
    }
    if opts.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("could not read the password from standard input")?;
        let line = line.trim_end_matches(['\r', '\n']);
        return Ok(Password::new(line));
    }
    if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
        let p = dialoguer::Password::new()
            .with_prompt(format!("Password for {user}"))
            .allow_empty_password(true)
            .interact()
            .context("could not read the password")?;
        return Ok(Password::new(p));
    }
    bail!("no password for '{user}': set RGS_PASSWORD, use --password-stdin, or run in a terminal to be asked")
}

/// The tiberius client over tokio.
pub type TdsClient = Client<Compat<TcpStream>>;

/// An open, logged-in connection.
pub struct Connection {
    client: TdsClient,
    /// The server as the user named it.
    pub server: String,
    /// The database connected to.
    pub database: String,
    requests: u64,
}

/// Logs in to the target, following one availability-group redirect.
pub async fn connect(target: &Target) -> Result<Connection> {
    let mut config = target.config()?;
    let mut redirected = false;
    loop {
        let tcp = open_tcp(target, &config).await?;
        match Client::connect(config.clone(), tcp.compat_write()).await {
            Ok(client) => {
                tracing::debug!(server = %target.server, database = %target.database, "logged in");
                return Ok(Connection {
                    client,
                    server: target.server.to_string(),
                    database: target.database.clone(),
                    requests: 0,
                });
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

fn describe_io_error(e: &std::io::Error, target: &Target) -> anyhow::Error {
    use std::io::ErrorKind as K;
    let port = target.server.port.unwrap_or(1433);
    match e.kind() {
        K::ConnectionRefused => anyhow!(
            "could not connect to {}: nothing accepts connections on TCP port {port} (is SQL Server running there, with TCP/IP enabled?)",
            target.server
        ),
        K::TimedOut => anyhow!("could not connect to {}: the connection timed out", target.server),
        _ if e.to_string().contains("lookup") || e.to_string().contains("not known") || e.kind() == K::NotFound => {
            anyhow!("could not find the host '{}': the name does not resolve (check -S)", target.server.host)
        }
        _ => anyhow!("could not connect to {}: {e}", target.server),
    }
}

fn describe_browser_error(e: &tiberius::error::Error, target: &Target) -> anyhow::Error {
    use tiberius::error::Error as E;
    match e {
        E::Io {
            kind: std::io::ErrorKind::ConnectionRefused,
            ..
        }
        | E::Io {
            kind: std::io::ErrorKind::NotFound,
            ..
        }
        | E::Conversion(_)
        | E::Protocol(_) => {
            let instance = target.server.instance.as_deref().unwrap_or_default();
            let msg = e.to_string();
            if msg.contains("lookup") || msg.contains("resolve") {
                return anyhow!(
                    "could not find the host '{}': the name does not resolve (check -S)",
                    target.server.host
                );
            }
            anyhow!(
                "the SQL Server Browser on {} did not report an instance named '{instance}' (UDP 1434): check the instance name, \
                 or give the instance's TCP port as {},PORT",
                target.server.host,
                target.server.host
            )
        }
        other => anyhow!("could not connect to {}: {other}", target.server),
    }
}

/// Server error numbers a DBA meets when connecting, with what to do.
fn describe_login_error(e: &tiberius::error::Error, target: &Target) -> String {
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
            format!("the TLS handshake with {} failed ({msg}): {hint}", target.server)
        }
        E::Io { kind: std::io::ErrorKind::TimedOut, .. } => format!(
            "{} did not complete the login within {} s (--connect-timeout)",
            target.server,
            target.connect_timeout.as_secs()
        ),
        E::Io { message, .. } if message.to_ascii_lowercase().contains("tls") || message.contains("certificate") => format!(
            "the TLS handshake with {} failed ({message}): if the server uses a self-signed certificate, add -C to trust it",
            target.server
        ),
        E::Protocol(m) if m.to_ascii_lowercase().contains("encrypt") => format!(
            "{} and this tool could not agree on encryption ({m}): try -N optional, or check the server's Force Encryption setting",
            target.server
        ),
        other => format!("could not log in to {}: {other}", target.server),
    }
}

/// One result row as plain values, with its column names.
#[derive(Debug, Clone)]
pub struct Row {
    /// Values in column order.
    pub values: Vec<DbValue>,
}

impl Row {
    /// The value in column `i`.
    pub fn get(&self, i: usize) -> &DbValue {
        &self.values[i]
    }

    /// Column `i` as text; empty for NULL.
    pub fn text(&self, i: usize) -> String {
        match &self.values[i] {
            DbValue::Null => String::new(),
            v => v.to_string(),
        }
    }

    /// Column `i` as an integer (0 for NULL).
    pub fn int(&self, i: usize) -> i64 {
        self.values[i].as_i64().unwrap_or(0)
    }
}

impl Connection {
    /// Runs a query (parameters as `@P1`...) and returns the rows of its
    /// result sets, in order.
    pub async fn rows(&mut self, sql: &str, params: &[&dyn ToSql]) -> Result<Vec<Row>> {
        self.count(sql);
        let stream = self.client.query(sql, params).await.map_err(server_error)?;
        let rows = stream.into_first_result().await.map_err(server_error)?;
        rows.into_iter()
            .map(|r| {
                let values = r
                    .into_iter()
                    .map(DbValue::from_column)
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Row { values })
            })
            .collect()
    }

    /// Runs a statement and returns the rows it affected.
    pub async fn execute(&mut self, sql: &str, params: &[&dyn ToSql]) -> Result<u64> {
        self.count(sql);
        let r = self
            .client
            .execute(sql, params)
            .await
            .map_err(server_error)?;
        Ok(r.total())
    }

    /// Runs a batch without parameters (SET, BEGIN, COMMIT).
    pub async fn batch(&mut self, sql: &str) -> Result<()> {
        self.count(sql);
        let stream = self.client.simple_query(sql).await.map_err(server_error)?;
        stream.into_results().await.map_err(server_error)?;
        Ok(())
    }

    /// Sends an attention, cancelling what the server is running.
    pub async fn cancel(&mut self) -> Result<()> {
        self.client.cancel_query().await.map_err(server_error)
    }

    /// How many requests this connection has sent.
    pub fn requests(&self) -> u64 {
        self.requests
    }

    fn count(&mut self, sql: &str) {
        self.requests += 1;
        let first = crate::sql::strip_comments(sql);
        let first = first.lines().next().unwrap_or_default();
        tracing::debug!(request = self.requests, sql = first, "sending");
    }
}

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
    /// The connection broke or timed out: the server's state is unknown.
    #[error("the connection to the server was lost ({0})")]
    Lost(String),
    /// Anything else tiberius reports.
    #[error("{0}")]
    Other(String),
}

impl DbError {
    /// SQL Server's error number, when the server sent one.
    pub fn code(&self) -> Option<u32> {
        match self {
            DbError::Server { code, .. } => Some(*code),
            _ => None,
        }
    }
}

fn server_error(e: tiberius::error::Error) -> anyhow::Error {
    use tiberius::error::Error as E;
    let e = match e {
        E::Server(t) => DbError::Server {
            code: t.code(),
            message: t.message().to_string(),
        },
        E::Io { kind, message } => {
            if kind == std::io::ErrorKind::TimedOut {
                DbError::Lost(format!("no answer within the command timeout: {message}"))
            } else {
                DbError::Lost(message)
            }
        }
        other => DbError::Other(other.to_string()),
    };
    e.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_as_sqlcmd_takes_them() {
        let s = ServerSpec::parse(r"sqlbe01.contoso.local\rtc").unwrap();
        assert_eq!(
            (s.host.as_str(), s.instance.as_deref(), s.port),
            ("sqlbe01.contoso.local", Some("rtc"), None)
        );
        let s = ServerSpec::parse("tcp:10.0.0.5,14330").unwrap();
        assert_eq!(
            (s.host.as_str(), s.instance, s.port),
            ("10.0.0.5", None, Some(14330))
        );
        let s = ServerSpec::parse(r"(local)\RTC,50001").unwrap();
        assert_eq!(
            (s.host.as_str(), s.instance.as_deref(), s.port),
            ("localhost", Some("RTC"), Some(50001))
        );
        assert_eq!(
            ServerSpec::parse(r"host\MSSQLSERVER").unwrap().instance,
            None
        );
        assert_eq!(ServerSpec::parse(r"h\i,1").unwrap().to_string(), r"h\i,1");
        assert!(ServerSpec::parse("host,notaport").is_err());
        assert!(ServerSpec::parse("host,0").is_err());
        assert!(ServerSpec::parse(r"host\").is_err());
        assert!(ServerSpec::parse("np:\\\\.\\pipe\\sql").is_err());
        assert!(ServerSpec::parse(",1433").is_err());
    }

    #[test]
    fn ado_strings_parse_with_quotes() {
        let a = parse_ado("Server=tcp:sql01\\RTC,1433;Database=rgsconfig;User Id=sa;Password=\"p;w\"\"d\";TrustServerCertificate=true;Encrypt=strict").unwrap();
        assert_eq!(a.server.as_deref(), Some("tcp:sql01\\RTC,1433"));
        assert_eq!(a.database.as_deref(), Some("rgsconfig"));
        assert_eq!(a.user.as_deref(), Some("sa"));
        assert_eq!(a.password.as_deref(), Some("p;w\"d"));
        assert_eq!(a.trust, Some(true));
        assert_eq!(a.encrypt, Some(Encrypt::Strict));
        let a = parse_ado("Data Source=sql01;Initial Catalog=x;Integrated Security=SSPI;").unwrap();
        assert!(a.integrated);
        assert_eq!(a.database.as_deref(), Some("x"));
    }

    #[test]
    fn malformed_ado_strings_never_echo_values() {
        for bad in [
            "Server",
            "Server=x;Password='secret",
            "Server=x;Bogus=secret",
            "Encrypt=secret",
            "Password='a'secret",
        ] {
            let e = parse_ado(bad).unwrap_err().to_string();
            assert!(!e.contains("secret"), "{e}");
        }
    }

    #[test]
    fn passwords_never_print() {
        let p = Password::new("hunter2");
        assert_eq!(format!("{p} {p:?}"), "*** ***");
        let t = Target {
            server: ServerSpec::parse("h").unwrap(),
            database: "d".into(),
            auth: Auth::Sql {
                user: "sa".into(),
                password: p,
            },
            encrypt: Encrypt::Mandatory,
            trust_server_certificate: false,
            connect_timeout: Duration::from_secs(1),
            command_timeout: Duration::from_secs(1),
        };
        assert!(!format!("{t:?}").contains("hunter2"));
    }
}
