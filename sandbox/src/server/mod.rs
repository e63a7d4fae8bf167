//! Accepting connections and running sessions: the TDS connection state
//! machine (PRELOGIN, TLS, LOGIN7, requests, attention), fault injection and
//! the [`Sandbox`] handle that tests and the CLI start and stop.

mod batch;
mod connection;
mod login;
mod stream;

#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use batch::scan_request_text;
pub use batch::MAX_EXPRESSION_OPERATORS;
use login::accept_loop;

use crate::browser::{Browser, BrowserInstance, BrowserMode};
use crate::engine::Engine;
use crate::fault::{Fault, FaultSet};
use crate::scenario;
use crate::tds::tls::TlsConfigs;
use crate::types::{ResultSet, SqlError};
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::info;

/// The `sa` password when neither `--password` nor `RGS_SANDBOX_PASSWORD` is given.
pub const DEFAULT_PASSWORD: &str = "Sandbox-Passw0rd";

/// The only login.
pub const LOGIN: &str = "sa";

/// Server name in ERROR and INFO tokens.
pub const SERVER_NAME: &str = "RGS-SANDBOX";

/// Version announced in PRELOGIN and LOGINACK: SQL Server 2022 (16.0.4135).
pub const PRODUCT_VERSION: (u8, u8, u16) = (16, 0, 4135);

/// Program name in LOGINACK, as SQL Server sends it.
pub const PROGRAM_NAME: &str = "Microsoft SQL Server";

const TDS_7_4: u32 = 0x7400_0004;

/// Whether the sandbox offers TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// Offer TLS with a self-signed certificate, negotiating as SQL Server
    /// does (full encryption, login-only, or none, as the client asks).
    #[default]
    Offer,
    /// Answer every client ENCRYPT_NOT_SUP, as a server without a
    /// certificate does: clients that require encryption fail.
    Refuse,
}

/// The situation of the scenario database, as a high-availability setup
/// can leave it. `master` is always online.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DbState {
    /// Readable and writable: a standalone database or an availability
    /// group primary.
    #[default]
    Online,
    /// A readable availability-group secondary or a read-only database:
    /// logins work, `DATABASEPROPERTYEX(..., 'Updateability')` is
    /// `READ_ONLY`, and every write fails with error 3906.
    ReadOnly,
    /// A database mirroring mirror: logins to it fail with error 954 and
    /// then 18456, as does `USE` from another database.
    Mirror,
    /// A non-readable availability-group secondary: logins to it fail with
    /// error 976 and then 18456, as does `USE` from another database.
    Secondary,
}

impl DbState {
    /// The error SQL Server gives when a login or `USE` asks for a database
    /// in this state, None when the database can be opened.
    pub fn open_error(self, database: &str) -> Option<SqlError> {
        let (number, message) = match self {
            DbState::Online | DbState::ReadOnly => return None,
            DbState::Mirror => (
                954,
                format!("The database \"{database}\" cannot be opened. It is acting as a mirror database."),
            ),
            DbState::Secondary => (
                976,
                format!(
                    "The target database, '{database}', is participating in an availability group and is currently not accessible for queries. Either data movement is suspended or the availability replica is not enabled for read access. To allow read-only access to this and other databases in the availability group, enable read access to one or more secondary availability replicas in the group.  For more information, see the ALTER AVAILABILITY GROUP statement in SQL Server Books Online."
                ),
            ),
        };
        Some(SqlError {
            number,
            severity: 14,
            state: 1,
            message,
            line: 1,
        })
    }
}

impl fmt::Display for DbState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DbState::Online => "online",
            DbState::ReadOnly => "read-only",
            DbState::Mirror => "mirror",
            DbState::Secondary => "secondary",
        })
    }
}

impl std::str::FromStr for DbState {
    type Err = String;

    /// Parses `online`, `read-only`, `mirror` or `secondary` (for a
    /// command-line option).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "online" => Ok(DbState::Online),
            "read-only" | "readonly" => Ok(DbState::ReadOnly),
            "mirror" => Ok(DbState::Mirror),
            "secondary" => Ok(DbState::Secondary),
            _ => Err(format!(
                "invalid database state '{s}': expected online, read-only, mirror or secondary"
            )),
        }
    }
}

/// How to start a sandbox.
#[derive(Clone)]
pub struct SandboxOptions {
    /// Address to listen on (port 0: any free port).
    pub listen: SocketAddr,
    /// Scenario script to load into a fresh database (see [`scenario::names`]).
    pub scenario: Option<String>,
    /// Name of the scenario database.
    pub database: String,
    /// The `sa` password.
    pub password: String,
    /// SQLite file holding the database; a temporary file when None.
    pub db_file: Option<PathBuf>,
    /// Faults to inject.
    pub faults: Vec<Fault>,
    /// TLS offer.
    pub tls: TlsMode,
    /// State of the scenario database (after the scenario is loaded).
    pub state: DbState,
    /// Instance name (`RTC` for `host\RTC`); None for the default
    /// instance, MSSQLSERVER. PRELOGIN validates it as SQL Server does, and
    /// `@@SERVERNAME` reads `RGS-SANDBOX\RTC`.
    pub instance: Option<String>,
    /// UDP address of a SQL Server Browser answering for this instance
    /// (clients look on port 1434 of the host); None: no Browser.
    pub browser: Option<SocketAddr>,
    /// How that Browser answers.
    pub browser_mode: BrowserMode,
    /// Act as an availability-group listener: a login with read-write
    /// intent is routed (ENVCHANGE 20) to this `(host, port)`, the
    /// primary; a read-only intent login is served here.
    pub route_to: Option<(String, u16)>,
    /// The SQL Server version to answer as (`10.50.6000.34`: SQL Server 2008
    /// R2, TDS 7.3, 2012+ T-SQL refused); None: 16.0.1000.6. See
    /// [`Engine::set_product_version`].
    pub product_version: Option<String>,
    /// Delay before every message the sandbox sends (the PRELOGIN answer,
    /// the login answer, each request's answer, attention
    /// acknowledgements), as a remote link would add; None: no delay.
    pub latency: Option<Duration>,
    /// Rows added to `dbo.AgentGroups` after the scenario, all without an
    /// owner pool (`OwnerPoolId` NULL): a large repair (see
    /// [`crate::scenario::add_extra_objects`]).
    pub extra_objects: u64,
    /// Object tables added after the scenario (`dbo.ExtraObjects01`...),
    /// each with an `OwnerPoolId` column and three rows without an owner
    /// (see [`crate::scenario::add_extra_tables`]).
    pub extra_tables: u64,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            scenario: None,
            database: "rgsconfig".to_string(),
            password: DEFAULT_PASSWORD.to_string(),
            db_file: None,
            faults: Vec::new(),
            tls: TlsMode::Offer,
            state: DbState::Online,
            instance: None,
            browser: None,
            browser_mode: BrowserMode::Answer,
            route_to: None,
            product_version: None,
            latency: None,
            extra_objects: 0,
            extra_tables: 0,
        }
    }
}

impl fmt::Debug for SandboxOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxOptions")
            .field("listen", &self.listen)
            .field("scenario", &self.scenario)
            .field("database", &self.database)
            .field("password", &"<redacted>")
            .field("db_file", &self.db_file)
            .field("faults", &self.faults)
            .field("tls", &self.tls)
            .field("state", &self.state)
            .field("instance", &self.instance)
            .field("browser", &self.browser)
            .field("browser_mode", &self.browser_mode)
            .field("route_to", &self.route_to)
            .field("product_version", &self.product_version)
            .field("latency", &self.latency)
            .field("extra_objects", &self.extra_objects)
            .field("extra_tables", &self.extra_tables)
            .finish()
    }
}

/// State shared by the listener and every connection.
struct Shared {
    engine: Engine,
    /// The scenario database, the one [`DbState`] applies to.
    database: String,
    state: Mutex<DbState>,
    password: String,
    faults: FaultSet,
    tls: Option<TlsConfigs>,
    requests: AtomicU64,
    connections: AtomicU64,
    /// The instance name; None for the default instance.
    instance: Option<String>,
    /// Where read-write logins are routed, when this is a listener.
    route_to: Option<(String, u16)>,
    /// Delay before every message sent.
    latency: Option<Duration>,
}

impl Shared {
    fn state(&self) -> DbState {
        *self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The error for opening `database` (by login or `USE`) in the
    /// scenario database's current state; None when it can be opened.
    fn open_error(&self, database: &str) -> Option<SqlError> {
        if !database.eq_ignore_ascii_case(&self.database) {
            return None;
        }
        self.state().open_error(&self.database)
    }
}

/// Stack of every sandbox thread that runs requests. The engine walks
/// statements recursively, and the product sends `{key_match}` OR chains
/// of up to ~2000 terms, which parse into trees that deep: unoptimised
/// builds need several megabytes for them, more than the 2 MiB default.
/// Only touched pages are committed, so a large reservation is cheap.
pub const THREAD_STACK_SIZE: usize = 256 << 20;

/// A running sandbox. Stops when dropped.
pub struct Sandbox {
    addr: SocketAddr,
    database: String,
    shared: Arc<Shared>,
    browser: Option<Browser>,
    shutdown: Option<tokio::sync::watch::Sender<bool>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sandbox")
            .field("addr", &self.addr)
            .field("database", &self.database)
            .field("instance", &self.shared.instance)
            .field("browser", &self.browser)
            .finish()
    }
}

impl Sandbox {
    /// Creates the engine and the database (loading `schema.sql` and the
    /// scenario when the database is new), binds, and returns once the
    /// sandbox accepts connections. Runs its own tokio runtime on a
    /// background thread, so it may be called from sync or async code.
    pub fn start(opts: SandboxOptions) -> anyhow::Result<Sandbox> {
        let script = opts.scenario.as_deref().map(scenario::lookup).transpose()?;
        let engine = Engine::new()?;
        // Before the scenario, which must load on that version too.
        if let Some(v) = &opts.product_version {
            engine.set_product_version(v)?;
        }
        let fresh = engine.attach_database(&opts.database, opts.db_file.as_deref())?;
        if fresh {
            engine
                .run_script(&opts.database, scenario::SCHEMA)
                .map_err(|e| anyhow::anyhow!("loading schema.sql into {}: {e}", opts.database))?;
            if let (Some(name), Some(script)) = (opts.scenario.as_deref(), script) {
                engine.run_script(&opts.database, script).map_err(|e| {
                    anyhow::anyhow!("loading scenario {name} into {}: {e}", opts.database)
                })?;
            }
            scenario::add_extra_objects(&engine, &opts.database, opts.extra_objects)?;
            scenario::add_extra_tables(&engine, &opts.database, opts.extra_tables)?;
        } else if let Some(name) = opts.scenario.as_deref() {
            info!(
                scenario = name,
                "database file already holds a database; scenario not loaded"
            );
        }
        let tls = match opts.tls {
            TlsMode::Offer => Some(TlsConfigs::generate()?),
            TlsMode::Refuse => None,
        };

        let listener = std::net::TcpListener::bind(opts.listen)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("rgs-sandbox")
            // Applies to the blocking pool too, where requests run.
            .thread_stack_size(THREAD_STACK_SIZE)
            .enable_all()
            .build()?;

        // After the scenario: loading it writes.
        if opts.state == DbState::ReadOnly {
            engine.set_read_only(&opts.database, true)?;
        }
        if let Some(instance) = &opts.instance {
            engine.set_server_name(&format!("{SERVER_NAME}\\{instance}"));
        }
        let browser = match opts.browser {
            Some(at) => Some(start_browser(at, &opts, addr.port())?),
            None => None,
        };
        let shared = Arc::new(Shared {
            engine,
            database: opts.database.clone(),
            state: Mutex::new(opts.state),
            password: opts.password,
            faults: FaultSet::new(opts.faults),
            tls,
            requests: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            instance: opts.instance.clone(),
            route_to: opts.route_to.clone(),
            latency: opts.latency,
        });
        let (tx, rx) = tokio::sync::watch::channel(false);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<io::Result<()>>();
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("rgs-sandbox-listener".into())
            .spawn(move || {
                runtime.block_on(accept_loop(thread_shared, listener, rx, ready_tx));
                // Requests still running in the engine get a moment to finish;
                // connections are dropped (closed) with the runtime.
                runtime.shutdown_timeout(Duration::from_secs(2));
            })?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => anyhow::bail!("the sandbox listener thread ended before it was ready"),
        }
        info!(%addr, database = %opts.database, scenario = ?opts.scenario, state = %opts.state, instance = ?opts.instance, route_to = ?opts.route_to, "sandbox listening");
        Ok(Sandbox {
            addr,
            database: opts.database,
            shared,
            browser,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The instance name; None for the default instance.
    pub fn instance(&self) -> Option<&str> {
        self.shared.instance.as_deref()
    }

    /// The UDP address of its SQL Server Browser, when it has one.
    pub fn browser_addr(&self) -> Option<SocketAddr> {
        self.browser.as_ref().map(Browser::addr)
    }

    /// The engine, to inspect or change data behind the clients' backs.
    pub fn engine(&self) -> &Engine {
        &self.shared.engine
    }

    /// The scenario database's name.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// Runs one query on the scenario database in a fresh session, which
    /// sees the committed data without waiting for clients' locks.
    pub fn query(&self, sql: &str) -> Result<ResultSet, SqlError> {
        self.shared.engine.query(&self.database, sql)
    }

    /// The `sa` password.
    pub fn password(&self) -> &str {
        &self.shared.password
    }

    /// An ADO.NET-style connection string for this sandbox (tiberius'
    /// `Config::from_ado_string` accepts it). It asks for encryption and
    /// trusts the self-signed certificate.
    pub fn ado_connection_string(&self) -> String {
        let host = if self.addr.ip().is_unspecified() {
            "127.0.0.1".to_string()
        } else {
            self.addr.ip().to_string()
        };
        let pw = &self.shared.password;
        let pw = if pw.contains([';', '"', '\'', '{', '}']) || pw.trim() != pw {
            format!("\"{}\"", pw.replace('"', "\"\""))
        } else {
            pw.clone()
        };
        format!(
            "Server=tcp:{host},{};Database={};User Id={LOGIN};Password={pw};TrustServerCertificate=true",
            self.addr.port(),
            self.database
        )
    }

    /// Requests received over all connections since start (or since the
    /// last [`Sandbox::reset_requests`]). A request is one client message
    /// after login: a SQL batch, an RPC (`sp_executesql`, which tiberius
    /// sends for every parameterised query) or a transaction manager
    /// request (BEGIN/COMMIT/ROLLBACK/SAVE). Not counted: PRELOGIN, the TLS
    /// handshake, LOGIN7 (so connecting costs 0), attention (cancel)
    /// messages, and [`Sandbox::query`] or [`Engine`] calls, which bypass
    /// TDS. A request is counted when it arrives, before any fault
    /// injected at it, so one answered by a fault counts too.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// Sets the request count back to 0 and returns what it was: call it
    /// after setting up, run the tool, then [`Sandbox::requests`] is the
    /// number of requests the tool sent after login (over all its
    /// connections). Per-connection numbering (what `--fault` and
    /// [`Sandbox::arm`] count) is not affected.
    pub fn reset_requests(&self) -> u64 {
        self.shared.requests.swap(0, Ordering::SeqCst)
    }

    /// Connections accepted since start.
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Faults that have not fired yet.
    pub fn pending_faults(&self) -> Vec<Fault> {
        self.shared.faults.pending()
    }

    /// Adds a fault while running. It fires, once, at request
    /// `fault.request` (counted per connection as always) of the first
    /// connection that gets there among those accepted after this call:
    /// connections already open never see it, so a test can change data on
    /// one connection and then fault the product's next one.
    pub fn arm(&self, fault: Fault) {
        let after = self.shared.connections.load(Ordering::SeqCst);
        info!(fault = %fault, after_connection = after, "fault armed");
        self.shared.faults.arm(fault, after);
    }

    /// The scenario database's state.
    pub fn state(&self) -> DbState {
        self.shared.state()
    }

    /// Changes the scenario database's state, as a failover or `ALTER
    /// DATABASE` would. New logins see it at once. Open connections to the
    /// database keep running when it becomes [`DbState::ReadOnly`] (their
    /// next write fails with 3906); when it becomes [`DbState::Mirror`] or
    /// [`DbState::Secondary`] they are closed at their next request, as a
    /// failover severs them.
    pub fn set_state(&self, state: DbState) -> anyhow::Result<()> {
        let mut current = self.shared.state.lock().unwrap_or_else(|p| p.into_inner());
        self.shared
            .engine
            .set_read_only(&self.database, state == DbState::ReadOnly)?;
        info!(database = %self.database, from = %*current, to = %state, "database state changed");
        *current = state;
        Ok(())
    }

    /// Denies `permission` (`SELECT`, `INSERT`, `UPDATE` or `DELETE`) on
    /// `table` (`dbo.Queues`, `[dbo].[Queues]` or `Queues`) in the scenario
    /// database to every login, as `DENY UPDATE ON dbo.Queues TO ...`
    /// would: `HAS_PERMS_BY_NAME` gives 0 and the statement fails with 229.
    pub fn deny(&self, table: &str, permission: &str) -> anyhow::Result<()> {
        self.shared
            .engine
            .set_permission(&self.database, table, permission, false)
    }

    /// Denies `permission` (e.g. `UPDATE`) on one column of `table` in the
    /// scenario database, as `DENY UPDATE (OwnerPoolId) ON dbo.AgentGroups
    /// TO ...` would: an UPDATE setting the column fails with 230 while the
    /// table-level HAS_PERMS_BY_NAME still answers 1.
    pub fn deny_column(&self, table: &str, column: &str, permission: &str) -> anyhow::Result<()> {
        self.shared
            .engine
            .set_column_permission(&self.database, table, column, permission, false)
    }

    /// The next time any session is about to run a statement whose text
    /// contains `pattern` (case-insensitive, per statement of a batch or
    /// RPC), it first runs `sql` in that session's transaction, once: a
    /// concurrent writer landing between two statements. See
    /// [`Engine::inject_before`].
    pub fn inject_before(&self, pattern: &str, sql: &str) {
        self.shared.engine.inject_before(pattern, sql)
    }

    /// Denies a server permission to every login, as `DENY VIEW SERVER
    /// STATE TO ...` would. `VIEW SERVER STATE` is the one the sandbox
    /// checks: without it `sys.dm_tran_locks`, `sys.dm_exec_requests` and
    /// `sys.dm_exec_sessions` fail with error 297 ("The user does not have
    /// permission to perform this action.", severity 16, state 1).
    pub fn deny_server(&self, permission: &str) {
        self.shared.engine.set_server_permission(permission, false);
    }

    /// Serves until Ctrl-C, then stops.
    pub fn wait(&mut self) -> anyhow::Result<()> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(tokio::signal::ctrl_c())?;
        info!("Ctrl-C: stopping the sandbox");
        self.stop();
        Ok(())
    }

    /// Stops accepting, closes all connections and waits for the listener
    /// thread. Idempotent.
    pub fn stop(&mut self) {
        if let Some(mut b) = self.browser.take() {
            b.stop();
        }
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The Browser for a sandbox listening on TCP `port`: it reports the
/// instance (MSSQLSERVER for the default instance) on that port, or as
/// `opts.browser_mode` says.
fn start_browser(at: SocketAddr, opts: &SandboxOptions, port: u16) -> anyhow::Result<Browser> {
    let known = BrowserInstance {
        server: SERVER_NAME.to_string(),
        instance: opts
            .instance
            .clone()
            .unwrap_or_else(|| "MSSQLSERVER".to_string()),
        port,
    };
    Browser::start(at, known, opts.browser_mode).map_err(|e| {
        anyhow::Error::new(e).context(format!("binding the SQL Server Browser on UDP {at}"))
    })
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_states_parse_and_open_errors() {
        for s in [
            DbState::Online,
            DbState::ReadOnly,
            DbState::Mirror,
            DbState::Secondary,
        ] {
            assert_eq!(s.to_string().parse::<DbState>(), Ok(s));
        }
        assert!("primary".parse::<DbState>().is_err());
        assert!(DbState::ReadOnly.open_error("rgsconfig").is_none());
        let e = DbState::Mirror.open_error("rgsconfig").unwrap();
        assert_eq!((e.number, e.severity), (954, 14));
        assert_eq!(
            e.message,
            "The database \"rgsconfig\" cannot be opened. It is acting as a mirror database."
        );
        let e = DbState::Secondary.open_error("rgsconfig").unwrap();
        assert_eq!((e.number, e.severity), (976, 14));
        assert!(e
            .message
            .starts_with("The target database, 'rgsconfig', is participating"));
    }

    #[test]
    fn options_debug_hides_the_password() {
        let o = SandboxOptions {
            password: "Hidden-Pw1".into(),
            ..Default::default()
        };
        assert!(!format!("{o:?}").contains("Hidden-Pw1"));
        assert_eq!(o.database, "rgsconfig");
        assert_eq!(o.listen.port(), 0);
    }
}
