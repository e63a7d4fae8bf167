//! Accepting connections and running sessions: the TDS connection state
//! machine (PRELOGIN, TLS, LOGIN7, requests, attention), fault injection and
//! the [`Sandbox`] handle that tests and the CLI start and stop.

use crate::engine::{Engine, Interrupter, Session};
use crate::fault::{self, Fault, FaultKind, FaultSet};
use crate::scenario;
use crate::tds::login7::{self, Login7};
use crate::tds::packet::{
    packet_type, status, Message, DEFAULT_PACKET_SIZE, MAX_PACKET_SIZE, MIN_PACKET_SIZE,
};
use crate::tds::prelogin;
use crate::tds::request::{self, DecodeError, Request, TmRequest};
use crate::tds::response::{self, Framing};
use crate::tds::tls::TlsConfigs;
use crate::tds::tokens::{self, done_status, env, token};
use crate::tds::transport::Transport;
use crate::types::{Item, ResultSet, SqlError};
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpStream;
use tracing::{debug, info, warn};

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
    shutdown: Option<tokio::sync::watch::Sender<bool>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sandbox")
            .field("addr", &self.addr)
            .field("database", &self.database)
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
        let shared = Arc::new(Shared {
            engine,
            database: opts.database.clone(),
            state: Mutex::new(opts.state),
            password: opts.password,
            faults: FaultSet::new(opts.faults),
            tls,
            requests: AtomicU64::new(0),
            connections: AtomicU64::new(0),
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
        info!(%addr, database = %opts.database, scenario = ?opts.scenario, state = %opts.state, "sandbox listening");
        Ok(Sandbox {
            addr,
            database: opts.database,
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The engine, to inspect or change data behind the clients' backs.
    pub fn engine(&self) -> &Engine {
        &self.shared.engine
    }

    /// The scenario database's name.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// Runs one query on the scenario database in a fresh session.
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

    /// Requests (SQL batches, RPCs, transaction manager requests) received
    /// since start, over all connections.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
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
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn accept_loop(
    shared: Arc<Shared>,
    listener: std::net::TcpListener,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    ready: std::sync::mpsc::Sender<io::Result<()>>,
) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => {
            let _ = ready.send(Ok(()));
            l
        }
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    let _ = tcp.set_nodelay(true);
                    let id = shared.connections.fetch_add(1, Ordering::SeqCst) + 1;
                    let shared = shared.clone();
                    tokio::spawn(async move {
                        match serve(shared, tcp, id).await {
                            Ok(()) => debug!(conn = id, %peer, "connection closed"),
                            Err(e) => debug!(conn = id, %peer, error = %e, "connection ended"),
                        }
                    });
                }
                Err(e) => {
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }
}

fn protocol_error(msg: impl fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

/// SQL Server's SPIDs for user connections start above 50.
fn spid_for(conn: u64) -> u16 {
    (51 + (conn - 1) % 30_000) as u16
}

/// One connection from PRELOGIN to close.
async fn serve(shared: Arc<Shared>, tcp: TcpStream, conn: u64) -> io::Result<()> {
    let spid = spid_for(conn);
    let mut t = Transport::new(tcp, spid);

    // TDS 8.0 clients start with a TLS ClientHello instead of PRELOGIN.
    let Some(first) = t.peek_byte().await? else {
        return Ok(());
    };
    let strict = first == 0x16;
    if strict {
        let Some(tls) = &shared.tls else {
            t.close().await;
            return Err(protocol_error(
                "TDS 8.0 TLS handshake refused: TLS is disabled",
            ));
        };
        t.start_tls_strict(tls.strict.clone()).await?;
    }

    let Some(msg) = t.read_message().await? else {
        return Ok(());
    };
    if msg.ty != packet_type::PRELOGIN {
        t.close().await;
        return Err(protocol_error(format!(
            "expected PRELOGIN, got packet type {:#04x}",
            msg.ty
        )));
    }
    let pre = prelogin::parse(&msg.payload).map_err(protocol_error)?;
    let encryption = prelogin::negotiate(pre.encryption, shared.tls.is_some());
    let answer = prelogin::response(
        encryption,
        prelogin::instance_ok(&pre.instance),
        PRODUCT_VERSION,
    );
    t.write_message(packet_type::REPLY, &answer, DEFAULT_PACKET_SIZE)
        .await?;
    let mut login_only_tls = false;
    if !strict && encryption != prelogin::ENCRYPT_NOT_SUP {
        let tls = shared
            .tls
            .as_ref()
            .expect("TLS offered only with a certificate");
        t.start_tls_in_prelogin(tls.tds7.clone()).await?;
        login_only_tls = encryption == prelogin::ENCRYPT_OFF;
    }
    debug!(conn, strict, encryption, client_encryption = ?pre.encryption, "prelogin done");

    let Some(mut msg) = t.read_message().await? else {
        return Ok(());
    };
    if login_only_tls {
        t.drop_tls();
    }
    if msg.ty != packet_type::LOGIN7 {
        t.close().await;
        return Err(protocol_error(format!(
            "expected LOGIN7, got packet type {:#04x}",
            msg.ty
        )));
    }
    let login = login7::decode(&msg.payload);
    // The record holds the (merely scrambled) password.
    msg.payload.fill(0);
    let login = login.map_err(protocol_error)?;
    let Some((session, packet_size)) = log_in(&shared, &mut t, &login, conn).await? else {
        t.close().await;
        return Ok(());
    };
    drop(login);
    let spid = session.spid();

    let mut c = Connection {
        shared,
        t,
        conn,
        spid,
        packet_size,
        interrupter: session.interrupter(),
        session: Some(session),
        requests: 0,
        xact_abort: false,
    };
    let result = c.run().await;
    c.t.close().await;
    result
}

fn login_failed(user: &str) -> SqlError {
    SqlError {
        number: 18456,
        severity: 14,
        state: 1,
        message: format!("Login failed for user '{user}'."),
        line: 1,
    }
}

/// Checks the login and opens the session; on failure answers as SQL
/// Server does (ERROR, DONE with DONE_ERROR) and returns None.
async fn log_in(
    shared: &Arc<Shared>,
    t: &mut Transport,
    login: &Login7,
    conn: u64,
) -> io::Result<Option<(Session, usize)>> {
    debug!(
        conn,
        user = %login.username,
        app = %login.app_name,
        host = %login.hostname,
        database = %login.database,
        tls = t.is_tls(),
        "login"
    );
    let fail = |errors: Vec<SqlError>| {
        let mut out = Vec::new();
        for e in &errors {
            tokens::error(&mut out, e, SERVER_NAME, "");
        }
        tokens::done(&mut out, token::DONE, done_status::ERROR, 0, 0);
        out
    };

    if login.integrated_security() {
        let e = SqlError {
            number: 18452,
            severity: 14,
            state: 1,
            message: "Login failed. The login is from an untrusted domain and cannot be used with Integrated authentication."
                .into(),
            line: 1,
        };
        t.write_message(packet_type::REPLY, &fail(vec![e]), DEFAULT_PACKET_SIZE)
            .await?;
        return Ok(None);
    }
    if !login.username.eq_ignore_ascii_case(LOGIN) || !login.password.matches(&shared.password) {
        info!(conn, user = %login.username, "login failed: wrong user name or password");
        t.write_message(
            packet_type::REPLY,
            &fail(vec![login_failed(&login.username)]),
            DEFAULT_PACKET_SIZE,
        )
        .await?;
        return Ok(None);
    }

    let database = if login.database.is_empty() {
        "master".to_string()
    } else {
        login.database.clone()
    };
    if let Some(e) = shared.open_error(&database) {
        info!(conn, database = %database, error = %e, "login failed: database not available");
        t.write_message(
            packet_type::REPLY,
            &fail(vec![e, login_failed(&login.username)]),
            DEFAULT_PACKET_SIZE,
        )
        .await?;
        return Ok(None);
    }
    let engine = shared.engine.clone();
    let db = database.clone();
    let opened = tokio::task::spawn_blocking(move || engine.open_session(&db))
        .await
        .map_err(|e| io::Error::other(format!("engine panicked opening a session: {e}")))?;
    let mut session = match opened {
        Ok(s) => s,
        Err(mut e) => {
            info!(conn, database = %database, error = %e, "login failed: cannot open database");
            if e.number == 4060 {
                // SQL Server reports 4060 with severity 11.
                e.severity = 11;
            }
            t.write_message(
                packet_type::REPLY,
                &fail(vec![e, login_failed(&login.username)]),
                DEFAULT_PACKET_SIZE,
            )
            .await?;
            return Ok(None);
        }
    };

    session.set_login(LOGIN);
    t.set_spid(session.spid());
    let packet_size = match login.packet_size as usize {
        0 => DEFAULT_PACKET_SIZE,
        n => n.clamp(MIN_PACKET_SIZE, MAX_PACKET_SIZE),
    };
    let tds_version = if login.tds_version >= TDS_7_4 {
        TDS_7_4
    } else {
        login.tds_version
    };
    let db = session.database().to_string();
    let mut out = Vec::new();
    tokens::env_text(&mut out, env::DATABASE, &db, "master");
    tokens::info(
        &mut out,
        5701,
        2,
        &format!("Changed database context to '{db}'."),
        SERVER_NAME,
        "",
        1,
    );
    tokens::env_collation(&mut out);
    tokens::env_text(&mut out, env::LANGUAGE, "us_english", "");
    tokens::info(
        &mut out,
        5703,
        1,
        "Changed language setting to us_english.",
        SERVER_NAME,
        "",
        1,
    );
    tokens::login_ack(&mut out, tds_version, PROGRAM_NAME, PRODUCT_VERSION);
    if login.has_feature_ext() {
        tokens::feature_ext_ack_none(&mut out);
    }
    tokens::env_text(
        &mut out,
        env::PACKET_SIZE,
        &packet_size.to_string(),
        &DEFAULT_PACKET_SIZE.to_string(),
    );
    tokens::done(&mut out, token::DONE, 0, 0, 0);
    t.write_message(packet_type::REPLY, &out, DEFAULT_PACKET_SIZE)
        .await?;
    Ok(Some((session, packet_size)))
}

/// A logged-in connection.
struct Connection {
    shared: Arc<Shared>,
    t: Transport,
    conn: u64,
    spid: u16,
    packet_size: usize,
    interrupter: Interrupter,
    /// None only while a request runs on a blocking thread.
    session: Option<Session>,
    /// Requests received on this connection.
    requests: u64,
    /// SET XACT_ABORT as last set by this connection's SQL, to decide
    /// whether an injected error also rolls the transaction back.
    xact_abort: bool,
}

/// How a running request ended.
enum Outcome {
    Done(Vec<Item>),
    Attention(Vec<Item>),
    ClientGone,
}

fn truncate(s: &str, n: usize) -> String {
    let mut out: String = s.chars().take(n).collect();
    if s.chars().count() > n {
        out.push('…');
    }
    out
}

/// The last `SET XACT_ABORT ON|OFF` in `sql`, if any.
fn xact_abort_setting(sql: &str) -> Option<bool> {
    let words: Vec<String> = sql
        .split(|c: char| c.is_whitespace() || c == ';')
        .filter(|w| !w.is_empty())
        .map(|w| w.to_ascii_uppercase())
        .collect();
    let mut last = None;
    for w in words.windows(3) {
        if w[0] == "SET" && w[1] == "XACT_ABORT" {
            match w[2].as_str() {
                "ON" => last = Some(true),
                "OFF" => last = Some(false),
                _ => {}
            }
        }
    }
    last
}

/// Most operators one `;`-separated part of a request may hold. The
/// engine translates operator chains (`... OR ... OR ...`) recursively, one
/// stack frame of about 10 KiB (unoptimised build) per operator, and a
/// stack overflow aborts the whole process with every test in it. With
/// [`THREAD_STACK_SIZE`] 20,000 operators were measured to pass, so this
/// keeps a margin of two while staying far above what the product sends
/// (sp_executesql allows at most 2100 parameters, so its `{key_match}` has
/// at most ~2100 comparisons with as many ANDs and ORs).
pub const MAX_EXPRESSION_OPERATORS: usize = 10_000;

/// SQL Server's answer to a statement nested too deeply for its stack.
fn stack_limit_error() -> SqlError {
    SqlError {
        number: 8631,
        severity: 17,
        state: 1,
        message: "Internal error: Server stack limit has been reached. Please look for potentially deep nesting in your query, and try to simplify it.".into(),
        line: 1,
    }
}

/// An upper bound of how deep the engine recurses for `sql`: per
/// `;`-separated part, the operators (each may add a level to a chain)
/// plus the deepest parenthesis nesting, the largest over all parts.
/// Strings, quoted identifiers and comments do not count. Other nesting
/// (CASE, subqueries) is capped at 50 levels by the SQL parser, so only
/// operator chains can grow without bound.
fn expression_depth(sql: &str) -> usize {
    const WORDS: &[&str] = &[
        "AND",
        "OR",
        "NOT",
        "LIKE",
        "IN",
        "IS",
        "BETWEEN",
        "ESCAPE",
        "COLLATE",
        "UNION",
        "EXCEPT",
        "INTERSECT",
    ];
    let b = sql.as_bytes();
    let (mut i, mut ops, mut depth, mut deepest, mut worst) = (0, 0usize, 0usize, 0usize, 0usize);
    // Skips to just after the closing `close`, where a doubled `close`
    // is an escaped one (strings, bracketed and quoted identifiers).
    let skip_quoted = |mut i: usize, close: u8| -> usize {
        while i < b.len() {
            if b[i] == close {
                if b.get(i + 1) == Some(&close) {
                    i += 2;
                    continue;
                }
                return i + 1;
            }
            i += 1;
        }
        i
    };
    while i < b.len() {
        let c = b[i];
        match c {
            b'\'' => i = skip_quoted(i + 1, b'\''),
            b'[' => i = skip_quoted(i + 1, b']'),
            b'"' => i = skip_quoted(i + 1, b'"'),
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                // T-SQL block comments nest.
                let mut level = 0usize;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        level += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        level -= 1;
                        i += 2;
                        if level == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            b'(' => {
                depth += 1;
                deepest = deepest.max(depth);
                i += 1;
            }
            b')' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b';' if depth == 0 => {
                worst = worst.max(ops + deepest);
                ops = 0;
                deepest = 0;
                i += 1;
            }
            b'+' | b'-' | b'*' | b'/' | b'%' | b'&' | b'|' | b'^' | b'=' | b'<' | b'>' | b'!' => {
                ops += 1;
                i += 1;
            }
            c if c.is_ascii_alphanumeric() || c == b'_' || c == b'@' || c == b'#' => {
                let start = i;
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'_' | b'@' | b'#' | b'$'))
                {
                    i += 1;
                }
                let word = &sql[start..i];
                if WORDS.iter().any(|w| w.eq_ignore_ascii_case(word)) {
                    ops += 1;
                }
            }
            _ => i += 1,
        }
    }
    worst.max(ops + deepest)
}

/// Runs every scan the connection makes of a request's SQL text, for the
/// fuzz target: they see arbitrary client text and must not panic.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn scan_request_text(sql: &str) {
    let _ = xact_abort_setting(sql);
    let _ = used_databases(sql);
    let _ = expression_depth(sql);
    let _ = fault::permission_target(sql);
}

/// The databases named by `USE` statements in `sql`, found the simple way
/// (the word after each USE, brackets removed): enough to refuse switching
/// to an unavailable database, and at worst a false refusal when a string
/// or comment contains "use <database>".
fn used_databases(sql: &str) -> Vec<String> {
    let words: Vec<&str> = sql
        .split(|c: char| c.is_whitespace() || c == ';')
        .filter(|w| !w.is_empty())
        .collect();
    words
        .windows(2)
        .filter(|w| w[0].eq_ignore_ascii_case("USE"))
        .map(|w| {
            let name = w[1].strip_prefix('[').unwrap_or(w[1]);
            let name = name.strip_suffix(']').unwrap_or(name);
            name.replace("]]", "]")
        })
        .collect()
}

fn run_request(session: &mut Session, req: &Request) -> Vec<Item> {
    let quoted = |name: &str| format!("[{}]", name.replace(']', "]]"));
    let has_error = |items: &[Item]| items.iter().any(|i| matches!(i, Item::Error(_)));
    match req {
        Request::Batch { sql } => session.execute(sql, &[]),
        Request::ExecuteSql { sql, params } => session.execute(sql, params),
        Request::Transaction(TmRequest::Begin) => session.begin_transaction(),
        Request::Transaction(TmRequest::Commit { then_begin }) => {
            let mut items = session.commit_transaction();
            if *then_begin && !has_error(&items) {
                items.extend(session.begin_transaction());
            }
            items
        }
        Request::Transaction(TmRequest::Rollback { name, then_begin }) => {
            let mut items = if name.is_empty() {
                session.rollback_transaction()
            } else {
                session.execute(&format!("ROLLBACK TRANSACTION {}", quoted(name)), &[])
            };
            if *then_begin && !has_error(&items) {
                items.extend(session.begin_transaction());
            }
            items
        }
        Request::Transaction(TmRequest::Save { name }) => {
            session.execute(&format!("SAVE TRANSACTION {}", quoted(name)), &[])
        }
    }
}

impl Connection {
    async fn reply(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.t
            .write_message(packet_type::REPLY, bytes, self.packet_size)
            .await
    }

    /// Runs `f` on the session on a blocking thread.
    async fn with_session<T: Send + 'static>(
        &mut self,
        f: impl FnOnce(&mut Session) -> T + Send + 'static,
    ) -> io::Result<T> {
        let mut session = self
            .session
            .take()
            .expect("session present between requests");
        let (session, out) = tokio::task::spawn_blocking(move || {
            let out = f(&mut session);
            (session, out)
        })
        .await
        .map_err(|e| io::Error::other(format!("engine panicked: {e}")))?;
        self.session = Some(session);
        Ok(out)
    }

    async fn run(&mut self) -> io::Result<()> {
        loop {
            let Some(msg) = self.t.read_message().await? else {
                return Ok(());
            };
            match msg.ty {
                packet_type::ATTENTION => {
                    // Nothing runs: acknowledge so the client's cancel completes.
                    let ack = response::attention_ack(&[]);
                    self.reply(&ack).await?;
                }
                packet_type::SQL_BATCH | packet_type::RPC | packet_type::TRANSACTION_MANAGER => {
                    if !self.request(msg).await? {
                        return Ok(());
                    }
                }
                other => {
                    return Err(protocol_error(format!(
                        "unsupported packet type {other:#04x} after login"
                    )));
                }
            }
        }
    }

    /// Handles one request. False when the connection must close.
    async fn request(&mut self, msg: Message) -> io::Result<bool> {
        self.requests += 1;
        let n = self.requests;
        self.shared.requests.fetch_add(1, Ordering::SeqCst);
        let framing = Framing {
            server: SERVER_NAME,
            procedure: (msg.ty == packet_type::RPC).then_some("sp_executesql"),
        };
        let reset =
            msg.status & (status::RESET_CONNECTION | status::RESET_CONNECTION_SKIP_TRAN) != 0;

        let decoded = match request::decode(&msg) {
            Ok(d) => Ok(d.request),
            Err(DecodeError::Protocol(e)) => {
                warn!(conn = self.conn, request = n, error = %e, "malformed request; closing");
                return Ok(false);
            }
            Err(DecodeError::Sql(e)) => Err(e),
        };
        match &decoded {
            Ok(req) => debug!(
                conn = self.conn,
                request = n,
                kind = req.kind(),
                sql = %truncate(req.sql().unwrap_or(""), 200),
                "request"
            ),
            Err(e) => debug!(conn = self.conn, request = n, error = %e, "request refused"),
        }
        let sql = decoded
            .as_ref()
            .ok()
            .and_then(|r| r.sql())
            .unwrap_or("")
            .to_string();

        let database = self
            .session
            .as_ref()
            .map(|s| s.database().to_string())
            .unwrap_or_default();
        if self.shared.open_error(&database).is_some() {
            info!(conn = self.conn, request = n, database = %database, state = %self.shared.state(), "database no longer available; closing");
            return Ok(false);
        }
        let used = used_databases(&sql);
        if let Some(e) = used.iter().find_map(|db| self.shared.open_error(db)) {
            let bytes = response::encode(&[Item::Error(e)], framing);
            self.reply(&bytes).await?;
            return Ok(true);
        }

        if expression_depth(&sql) > MAX_EXPRESSION_OPERATORS {
            warn!(
                conn = self.conn,
                request = n,
                "statement nested too deeply for the sandbox's stack: 8631"
            );
            let bytes = response::encode(&[Item::Error(stack_limit_error())], framing);
            self.reply(&bytes).await?;
            return Ok(true);
        }

        let faults = self.shared.faults.take(self.conn, n);
        let mut drop_after = false;
        for f in &faults {
            info!(conn = self.conn, request = n, fault = %Fault { request: n, kind: *f }, "injecting fault");
            match *f {
                FaultKind::Drop => return Ok(false),
                FaultKind::DropAfter => drop_after = true,
                FaultKind::Delay(ms) => {
                    let sleep = tokio::time::sleep(Duration::from_millis(ms));
                    tokio::pin!(sleep);
                    tokio::select! {
                        _ = &mut sleep => {}
                        m = self.t.read_message() => match m? {
                            Some(m) if m.ty == packet_type::ATTENTION => {
                                let ack = response::attention_ack(&[]);
                                self.reply(&ack).await?;
                                return Ok(true);
                            }
                            _ => return Ok(false),
                        }
                    }
                }
                FaultKind::Error(number) => {
                    let (action, object) = fault::permission_target(&sql);
                    let e = fault::sql_server_error(number, self.spid, &database, &action, &object);
                    let mut items = vec![Item::Error(e)];
                    let in_tran = self
                        .session
                        .as_ref()
                        .and_then(|s| s.transaction())
                        .is_some();
                    if in_tran && fault::aborts_transaction(number, self.xact_abort) {
                        let rolled = self.with_session(|s| s.rollback_transaction()).await?;
                        items.extend(rolled.into_iter().filter(|i| matches!(i, Item::Tx(_))));
                    }
                    let bytes = response::encode(&items, framing);
                    self.reply(&bytes).await?;
                    return Ok(true);
                }
            }
        }

        let req = match decoded {
            Ok(req) => req,
            Err(e) => {
                if drop_after {
                    return Ok(false);
                }
                let bytes = response::encode(&[Item::Error(e)], framing);
                self.reply(&bytes).await?;
                return Ok(true);
            }
        };
        let xact_abort = req.sql().and_then(xact_abort_setting);
        let outcome = self.execute(req, reset).await?;
        let items = match outcome {
            Outcome::ClientGone => return Ok(false),
            Outcome::Attention(items) => {
                debug!(
                    conn = self.conn,
                    request = n,
                    "attention: request cancelled"
                );
                if drop_after {
                    return Ok(false);
                }
                let ack = response::attention_ack(&items);
                self.reply(&ack).await?;
                return Ok(true);
            }
            Outcome::Done(items) => items,
        };
        if reset {
            self.xact_abort = false;
        }
        if let Some(setting) = xact_abort {
            self.xact_abort = setting;
        }
        if drop_after {
            return Ok(false);
        }
        let bytes = response::encode(&items, framing);
        self.reply(&bytes).await?;
        Ok(true)
    }

    /// Runs the request on a blocking thread while watching for an
    /// attention from the client.
    async fn execute(&mut self, req: Request, reset: bool) -> io::Result<Outcome> {
        let mut session = self
            .session
            .take()
            .expect("session present between requests");
        let mut handle = tokio::task::spawn_blocking(move || {
            if reset {
                session.reset();
            }
            let items = run_request(&mut session, &req);
            (session, items)
        });
        let mut attention = false;
        let mut reading = true;
        let (session, items) = loop {
            tokio::select! {
                joined = &mut handle => break joined.map_err(|e| io::Error::other(format!("engine panicked: {e}")))?,
                m = self.t.read_message(), if reading => match m {
                    Ok(Some(m)) if m.ty == packet_type::ATTENTION => {
                        attention = true;
                        reading = false;
                        self.interrupter.interrupt();
                    }
                    Ok(Some(m)) => {
                        warn!(conn = self.conn, ty = m.ty, "a new request arrived while one runs; closing");
                        self.interrupter.interrupt();
                        let (session, _) = handle.await.map_err(|e| io::Error::other(format!("engine panicked: {e}")))?;
                        self.session = Some(session);
                        return Ok(Outcome::ClientGone);
                    }
                    Ok(None) | Err(_) => {
                        // The client left: let the statement finish, then close.
                        let (session, _) = handle.await.map_err(|e| io::Error::other(format!("engine panicked: {e}")))?;
                        self.session = Some(session);
                        return Ok(Outcome::ClientGone);
                    }
                }
            }
        };
        self.session = Some(session);
        Ok(if attention {
            Outcome::Attention(items)
        } else {
            Outcome::Done(items)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_xact_abort_settings() {
        assert_eq!(
            xact_abort_setting("SET XACT_ABORT ON;\nSET LOCK_TIMEOUT 5000;"),
            Some(true)
        );
        assert_eq!(xact_abort_setting("set  xact_abort   off"), Some(false));
        assert_eq!(
            xact_abort_setting("SET XACT_ABORT ON; SET XACT_ABORT OFF;"),
            Some(false)
        );
        assert_eq!(xact_abort_setting("SELECT 1"), None);
    }

    #[test]
    fn estimates_expression_depth() {
        assert_eq!(expression_depth("SELECT 1"), 0);
        assert_eq!(
            expression_depth("SELECT a FROM t WHERE a = 1 AND (b = 2 OR c = 3)"),
            6
        );
        // Quoted text and comments do not count.
        assert_eq!(
            expression_depth("SELECT 'a AND b + (c' AS [x OR y] -- AND OR\n/* OR /* AND */ + */"),
            0
        );
        // Each ;-separated statement on its own.
        assert_eq!(expression_depth("SELECT 1+1; SELECT 1+1+1;"), 2);
        let chain = vec!["([a] = @P1 AND [b] = @P2)"; 2000].join(" OR ");
        let d = expression_depth(&chain);
        assert!((7_999..=8_001).contains(&d), "{d}");
        assert!(d <= MAX_EXPRESSION_OPERATORS);
        let chain = vec!["[ID] = N'x'"; 20_000].join(" OR ");
        assert!(expression_depth(&chain) > MAX_EXPRESSION_OPERATORS);
        assert_eq!(stack_limit_error().number, 8631);
    }

    #[test]
    fn finds_used_databases() {
        assert_eq!(
            used_databases("use [rgsconfig];SELECT 1\nUSE master"),
            vec!["rgsconfig".to_string(), "master".to_string()]
        );
        assert!(used_databases("SELECT 1 AS [use]").is_empty());
    }

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

    #[test]
    fn spids_start_above_50() {
        assert_eq!(spid_for(1), 51);
        assert_eq!(spid_for(2), 52);
    }
}
