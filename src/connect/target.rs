//! Where and how to connect: sqlcmd-style flags, the environment or an
//! ADO.NET connection string become one [`Target`], which knows how to
//! describe itself to tiberius ([`Target::config`]). Nothing here touches
//! the network.

use super::ado::parse_ado;
use super::password::{get_password, Password};
use anyhow::{anyhow, bail, Context, Result};
use std::fmt;
use std::time::Duration;
use tiberius::{AuthMethod, Config, EncryptionLevel};

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
    /// `-M`: connect to every address of the name at once, first answer wins.
    pub multi_subnet_failover: bool,
    /// `-K ReadOnly` (Some(true)) or `-K ReadWrite` (Some(false)).
    pub read_only_intent: Option<bool>,
    /// `SET LOCK_TIMEOUT` for every statement of the session, reads
    /// included, milliseconds (-1: as long as it takes).
    pub lock_timeout_ms: i32,
}

impl ConnectOptions {
    /// Whether these options ask for a readable secondary (`-K ReadOnly`, or
    /// `ApplicationIntent=ReadOnly` in the connection string, unless `-K`
    /// says otherwise); known without resolving the target or asking for a
    /// password.
    pub fn read_only_intent(&self) -> Result<bool> {
        if let Some(flag) = self.read_only_intent {
            return Ok(flag);
        }
        Ok(match &self.connection_string {
            Some(cs) => parse_ado(cs)
                .context("the connection string is malformed")?
                .read_only_intent
                .unwrap_or(false),
            None => false,
        })
    }
}

/// The database used when none is named.
pub const DEFAULT_DATABASE: &str = "rgsconfig";
/// `--connect-timeout` when none is given, seconds.
pub const DEFAULT_CONNECT_TIMEOUT: u64 = 15;
/// `--command-timeout` when none is given, seconds.
pub const DEFAULT_COMMAND_TIMEOUT: u64 = 60;

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
        if let Some((h, p)) = s.rsplit_once(':') {
            if !h.is_empty() && !h.contains(':') && p.trim().parse::<u16>().is_ok() {
                bail!("'{s}' gives the port after a colon; SQL Server names it after a comma: -S {h},{}", p.trim());
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
pub(super) enum Auth {
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
    pub(super) auth: Auth,
    pub(super) encrypt: Encrypt,
    pub(super) trust_server_certificate: bool,
    pub(super) connect_timeout: Duration,
    pub(super) command_timeout: Duration,
    pub(super) lock_timeout_ms: i32,
    pub(super) extra: Extra,
}

/// The rest of what a connection string or sqlcmd flag may set, all of it
/// passed on to tiberius.
#[derive(Clone, Debug, Default)]
pub(super) struct Extra {
    /// `ApplicationIntent=ReadOnly` / `-K ReadOnly`.
    pub(super) read_only_intent: bool,
    /// `MultiSubnetFailover=True` / `-M`.
    pub(super) multi_subnet_failover: bool,
    pub(super) application_name: Option<String>,
    pub(super) workstation_id: Option<String>,
    pub(super) packet_size: Option<u32>,
    pub(super) hostname_in_certificate: Option<String>,
    pub(super) trust_cert_ca: Option<String>,
    /// Connection-string keys accepted and not acted on.
    pub(super) ignored: Vec<String>,
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
        let mut extra = Extra {
            read_only_intent: opts.read_only_intent.unwrap_or(false),
            multi_subnet_failover: opts.multi_subnet_failover,
            ..Extra::default()
        };
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
            // A flag given with the string wins, as for the other settings.
            extra.read_only_intent = opts
                .read_only_intent
                .or(a.read_only_intent)
                .unwrap_or(false);
            extra.multi_subnet_failover |= a.multi_subnet_failover.unwrap_or(false);
            extra.application_name = a.application_name;
            extra.workstation_id = a.workstation_id;
            extra.packet_size = a.packet_size;
            extra.hostname_in_certificate = a.hostname_in_certificate;
            extra.trust_cert_ca = a.trust_cert_ca;
            extra.ignored = a.ignored;
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
            lock_timeout_ms: opts.lock_timeout_ms,
            extra,
        })
    }

    /// `SET LOCK_TIMEOUT` for the session, milliseconds.
    pub fn lock_timeout_ms(&self) -> i32 {
        self.lock_timeout_ms
    }

    /// Whether the login asks for a readable secondary (`ApplicationIntent=
    /// ReadOnly`, `-K ReadOnly`): fine for reading, never for a write.
    pub fn read_only_intent(&self) -> bool {
        self.extra.read_only_intent
    }

    /// Whether every address of the server's name is tried at once.
    pub fn multi_subnet_failover(&self) -> bool {
        self.extra.multi_subnet_failover
    }

    /// Connection-string keys that were accepted and are not acted on.
    pub fn ignored_keys(&self) -> &[String] {
        &self.extra.ignored
    }


    /// The login name as the server will see it (`(integrated)` for the
    /// current Windows user).
    pub fn login(&self) -> String {
        match &self.auth {
            Auth::Sql { user, .. } | Auth::Windows { user, .. } => user.clone(),
            Auth::Integrated => "(Windows authentication, current user)".to_string(),
        }
    }

    /// The connection flags that reach this target again, for a suggested
    /// command: never a password (it comes from `RGS_PASSWORD` or the
    /// prompt), and the flags rather than a connection string, which may
    /// hold one.
    pub fn flags(&self) -> Vec<String> {
        let mut f = vec![
            "-S".to_string(),
            self.server.to_string(),
            "-d".to_string(),
            self.database.clone(),
        ];
        match &self.auth {
            Auth::Sql { user, .. } => f.extend(["-U".to_string(), user.clone()]),
            Auth::Windows { user, .. } => {
                f.extend(["-E".to_string(), "-U".to_string(), user.clone()])
            }
            Auth::Integrated => f.push("-E".to_string()),
        }
        if self.encrypt != Encrypt::Mandatory {
            let level = match self.encrypt {
                Encrypt::Strict => "strict",
                Encrypt::Mandatory => "mandatory",
                Encrypt::Optional => "optional",
                Encrypt::Disable => "disable",
            };
            f.extend(["-N".to_string(), level.to_string()]);
        }
        if self.trust_server_certificate {
            f.push("-C".to_string());
        }
        if self.extra.multi_subnet_failover {
            f.push("-M".to_string());
        }
        if self.connect_timeout != Duration::from_secs(DEFAULT_CONNECT_TIMEOUT) {
            f.extend([
                "--connect-timeout".to_string(),
                self.connect_timeout.as_secs().to_string(),
            ]);
        }
        if self.command_timeout != Duration::from_secs(DEFAULT_COMMAND_TIMEOUT) {
            f.extend([
                "--command-timeout".to_string(),
                self.command_timeout.as_secs().to_string(),
            ]);
        }
        f
    }

    /// Whether the login uses Windows authentication (`-E`).
    pub fn uses_windows_auth(&self) -> bool {
        matches!(self.auth, Auth::Windows { .. } | Auth::Integrated)
    }

    /// Whether the server's certificate goes unverified (`-C`).
    pub fn trusts_server_certificate(&self) -> bool {
        self.trust_server_certificate && self.encrypt != Encrypt::Disable
    }

    /// The tiberius configuration for the server as named. A named
    /// instance's name goes into PRELOGIN, which the server checks, also
    /// when a port is given.
    pub(super) fn config(&self) -> Result<Config> {
        let mut c = self.settings()?;
        c.host(&self.server.host);
        if let Some(p) = self.server.port {
            c.port(p);
        }
        if let Some(i) = &self.server.instance {
            c.instance_name(i);
        }
        Ok(c)
    }

    /// The configuration for the server a listener routed the login to:
    /// its host and port, and no instance name, which names the listener's
    /// instance and not necessarily the primary's.
    pub(super) fn routed_config(&self, host: &str, port: u16) -> Result<Config> {
        let mut c = self.settings()?;
        c.host(host);
        c.port(port);
        Ok(c)
    }

    /// Everything but where: database, encryption, timeouts, credentials.
    fn settings(&self) -> Result<Config> {
        let mut c = Config::new();
        c.database(&self.database);
        c.application_name(
            self.extra
                .application_name
                .as_deref()
                .unwrap_or("rgs-repair"),
        );
        if let Some(w) = &self.extra.workstation_id {
            c.client_name(w);
        }
        if let Some(n) = self.extra.packet_size {
            c.packet_size(n);
        }
        if let Some(h) = &self.extra.hostname_in_certificate {
            c.hostname_in_certificate(h);
        }
        if let Some(ca) = &self.extra.trust_cert_ca {
            c.trust_cert_ca(ca);
        }
        c.readonly(self.extra.read_only_intent);
        c.multi_subnet_failover(self.extra.multi_subnet_failover);
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
    fn targets_never_print_their_password() {
        let t = Target {
            server: ServerSpec::parse("h").unwrap(),
            database: "d".into(),
            auth: Auth::Sql {
                user: "sa".into(),
                password: Password::new("hunter2"),
            },
            encrypt: Encrypt::Mandatory,
            trust_server_certificate: false,
            connect_timeout: Duration::from_secs(1),
            command_timeout: Duration::from_secs(1),
            lock_timeout_ms: 10_000,
            extra: Extra::default(),
        };
        assert!(!format!("{t:?}").contains("hunter2"));
    }
}
