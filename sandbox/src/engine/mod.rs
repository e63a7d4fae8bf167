//! The SQL engine: T-SQL translated to SQLite, catalog views, transactions
//! and SQL Server's error numbers.
//!
//! Each database is a SQLite file in WAL mode (a temporary file unless the
//! caller gives one); each session has its own SQLite connection, so a
//! transaction is invisible to other sessions until it commits. Modules:
//! `parse` (sqlparser's MsSqlDialect), `translate` (T-SQL to SQLite, the one
//! place that decides what is supported), `catalog` (sys.* and
//! INFORMATION_SCHEMA views from SQLite's schema), `datatype` (types and
//! conversions), `functions` (SQLite functions with SQL Server semantics),
//! `session` (execution, transactions, locking), `script` (GO batches).

mod bulk;
mod catalog;
mod checksum;
pub(crate) mod collation;
mod created;
mod datatype;
pub(crate) mod errors;
mod functions;
mod locks;
pub(crate) mod parse;
mod script;
mod session;
mod translate;
mod version;

pub(crate) use datatype::{guid_store_tail, stored_guid};
pub use errors::CANCELLED;
pub(crate) use session::bulk_premature_end;
pub use version::{ProductVersion, DEFAULT_VERSION};

use crate::types::{Column, Item, Param, ResultSet, SqlError, Value};
use catalog::DbSummary;
pub use session::SharedSink;
use session::{InterruptState, SessionState};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// One database of the sandbox.
#[derive(Debug, Clone)]
struct DbEntry {
    name: String,
    path: PathBuf,
    id: i64,
    read_only: bool,
    /// `sys.databases.create_date`, kept in the file.
    created: chrono::NaiveDateTime,
    /// `sys.databases.group_database_id`: set when the database stands for
    /// one in an availability group (the same on every replica).
    group_database_id: Option<uuid::Uuid>,
    /// Denied (lowercase `schema.table`, uppercase permission).
    denied: HashSet<(String, String)>,
}

/// State shared by the engine and all its sessions.
pub(crate) struct Shared {
    dir: tempfile::TempDir,
    dbs: Mutex<Vec<DbEntry>>,
    next_tx: AtomicU64,
    next_spid: AtomicU64,
    server_name: Mutex<String>,
    /// The version answered as; None: [`DEFAULT_VERSION`].
    version: Mutex<Option<ProductVersion>>,
    /// Pending `inject_before` statements: (lowercase pattern, SQL).
    injections: Mutex<Vec<(String, String)>>,
    /// Table locks, waits and live sessions.
    locks: locks::LockTable,
    /// Server permissions denied to every login (uppercase, `VIEW SERVER
    /// STATE`).
    server_denied: Mutex<HashSet<String>>,
}

impl Shared {
    /// The SQL to run before a statement whose text contains a pending
    /// pattern, taken (each injection runs once).
    pub(crate) fn take_injection(&self, statement: &str) -> Option<String> {
        let mut list = self.injections.lock().unwrap_or_else(|p| p.into_inner());
        if list.is_empty() {
            return None;
        }
        let text = statement.to_lowercase();
        let i = list.iter().position(|(p, _)| text.contains(p.as_str()))?;
        Some(list.remove(i).1)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<DbEntry>> {
        self.dbs.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn find(&self, name: &str) -> Option<DbEntry> {
        self.lock()
            .iter()
            .find(|d| d.name.eq_ignore_ascii_case(name))
            .cloned()
    }

    pub(crate) fn summaries(&self) -> Vec<DbSummary> {
        self.lock()
            .iter()
            .map(|d| DbSummary {
                name: d.name.clone(),
                id: d.id,
                read_only: d.read_only,
                created: d.created,
                group_database_id: d.group_database_id,
            })
            .collect()
    }

    /// (read-only, denied permissions) of a database.
    pub(crate) fn flags(&self, db: &str) -> (bool, HashSet<(String, String)>) {
        self.find(db)
            .map(|d| (d.read_only, d.denied))
            .unwrap_or_default()
    }

    pub(crate) fn path_of(&self, name: &str) -> Option<(String, PathBuf)> {
        self.find(name).map(|d| (d.name, d.path))
    }

    /// The id of a database (`DB_ID()`); 0 when there is none.
    pub(crate) fn db_id(&self, name: &str) -> i64 {
        self.find(name).map_or(0, |d| d.id)
    }

    /// Whether a server permission is denied to every login.
    pub(crate) fn server_denied(&self, permission: &str) -> bool {
        self.server_denied
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(permission)
    }

    pub(crate) fn next_tx(&self) -> u64 {
        self.next_tx.fetch_add(1, Ordering::SeqCst)
    }

    /// The version set with `set_product_version`, if any.
    pub(crate) fn product_version(&self) -> Option<ProductVersion> {
        *self.version.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn server_name(&self) -> String {
        self.server_name
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Prepares a database file: WAL mode, the engine's side table and the
/// database's creation time. Returns whether the file held no user
/// objects, and the creation time.
fn init_file(path: &Path) -> anyhow::Result<(bool, chrono::NaiveDateTime)> {
    let conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let _: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    refuse_display_text_guids(&conn, path)?;
    let user_tables: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> ?1",
        [catalog::META_TABLE],
        |r| r.get(0),
    )?;
    conn.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS {} (kind TEXT NOT NULL, name TEXT NOT NULL, value TEXT)",
        catalog::META_TABLE
    ))?;
    let created = created::database_created(&conn)?;
    Ok((user_tables == 0, created))
}

/// Refuses a database file made by a sandbox that stored uniqueidentifier
/// values as display text under a `GUID` collation (its columns say
/// `COLLATE GUID`): this one stores them in another form (see
/// `datatype`), and the two would not find each other's keys.
fn refuse_display_text_guids(conn: &rusqlite::Connection, path: &Path) -> anyhow::Result<()> {
    let old: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE sql LIKE '%COLLATE GUID%'",
        [],
        |r| r.get(0),
    )?;
    if old > 0 {
        anyhow::bail!(
            "{} was made by an earlier version of the sandbox, which stored uniqueidentifier values in another form; make it again (start the sandbox with a new --db-file)",
            path.display()
        );
    }
    Ok(())
}

/// All databases of one sandbox. Cheap to clone; shared by every connection.
#[derive(Clone)]
pub struct Engine {
    shared: Arc<Shared>,
}

impl Engine {
    /// A new engine holding the empty `master` database.
    pub fn new() -> anyhow::Result<Engine> {
        let dir = tempfile::Builder::new().prefix("rgs-sandbox-").tempdir()?;
        let master = dir.path().join("master.sqlite");
        let (_, created) = init_file(&master)?;
        let shared = Shared {
            dir,
            dbs: Mutex::new(vec![DbEntry {
                name: "master".into(),
                path: master,
                id: 1,
                read_only: false,
                created,
                group_database_id: None,
                denied: HashSet::new(),
            }]),
            next_tx: AtomicU64::new(1),
            next_spid: AtomicU64::new(0),
            server_name: Mutex::new("RGS-SANDBOX".into()),
            version: Mutex::new(None),
            injections: Mutex::new(Vec::new()),
            locks: locks::LockTable::default(),
            server_denied: Mutex::new(HashSet::new()),
        };
        Ok(Engine {
            shared: Arc::new(shared),
        })
    }

    /// Creates database `name`, in a temporary file (`file` None) or in the
    /// given SQLite file. Returns true when the database is new (empty), false
    /// when `file` already held a database.
    pub fn attach_database(&self, name: &str, file: Option<&Path>) -> anyhow::Result<bool> {
        if name.is_empty() || self.shared.find(name).is_some() {
            anyhow::bail!("database {name:?} already exists");
        }
        let id = self
            .shared
            .lock()
            .iter()
            .map(|d| d.id)
            .max()
            .unwrap_or(4)
            .max(4)
            + 1;
        let path = match file {
            Some(p) => p.to_path_buf(),
            None => {
                let safe: String = name
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                    .collect();
                self.shared.dir.path().join(format!("{id}-{safe}.sqlite"))
            }
        };
        let (fresh, created) = init_file(&path)?;
        self.shared.lock().push(DbEntry {
            name: name.to_string(),
            path,
            id,
            read_only: false,
            created,
            group_database_id: None,
            denied: HashSet::new(),
        });
        Ok(fresh)
    }

    /// A SQLite connection to a database, with the sandbox's collations
    /// and functions, for bulk loads that bypass T-SQL.
    pub(crate) fn raw_connection(&self, database: &str) -> anyhow::Result<rusqlite::Connection> {
        let (_, path) = self
            .shared
            .path_of(database)
            .ok_or_else(|| anyhow::anyhow!("no database {database:?}"))?;
        Ok(session::open_connection(&path, Default::default())?)
    }

    /// The names of the databases, master first.
    pub fn databases(&self) -> Vec<String> {
        self.shared.lock().iter().map(|d| d.name.clone()).collect()
    }

    /// Makes a database read-only (or writable again), as `ALTER DATABASE
    /// ... SET READ_ONLY` would: writes fail with 3906, DATABASEPROPERTYEX
    /// reports READ_ONLY, HAS_PERMS_BY_NAME gives 0 for write permissions.
    pub fn set_read_only(&self, database: &str, read_only: bool) -> anyhow::Result<()> {
        let mut dbs = self.shared.lock();
        let d = dbs
            .iter_mut()
            .find(|d| d.name.eq_ignore_ascii_case(database))
            .ok_or_else(|| anyhow::anyhow!("no database {database:?}"))?;
        d.read_only = read_only;
        Ok(())
    }

    /// Denies (`allowed` false) or grants again a permission (`SELECT`,
    /// `INSERT`, `UPDATE`, `DELETE`) on a table for every login, as `DENY
    /// UPDATE ON dbo.Queues TO ...` would: the statement fails with 229 and
    /// HAS_PERMS_BY_NAME gives 0. `table` is `schema.table`, brackets allowed.
    pub fn set_permission(
        &self,
        database: &str,
        table: &str,
        permission: &str,
        allowed: bool,
    ) -> anyhow::Result<()> {
        let parts = catalog::split_name(table)
            .ok_or_else(|| anyhow::anyhow!("bad table name {table:?}"))?;
        let (schema, name) = match parts.as_slice() {
            [t] => ("dbo".to_string(), t.clone()),
            [s, t] => (s.clone(), t.clone()),
            _ => anyhow::bail!("bad table name {table:?}"),
        };
        let key = (
            format!("{}.{}", schema.to_lowercase(), name.to_lowercase()),
            permission.trim().to_uppercase(),
        );
        let mut dbs = self.shared.lock();
        let d = dbs
            .iter_mut()
            .find(|d| d.name.eq_ignore_ascii_case(database))
            .ok_or_else(|| anyhow::anyhow!("no database {database:?}"))?;
        if allowed {
            d.denied.remove(&key);
        } else {
            d.denied.insert(key);
        }
        Ok(())
    }

    /// Denies (`allowed` false) or grants again a permission on one column
    /// of a table, as `DENY UPDATE (OwnerPoolId) ON dbo.AgentGroups TO ...`
    /// would: an UPDATE that sets the column fails with 230, and
    /// `HAS_PERMS_BY_NAME(table, 'OBJECT', perm, column, 'COLUMN')` gives 0
    /// while the table-level form still gives 1.
    pub fn set_column_permission(
        &self,
        database: &str,
        table: &str,
        column: &str,
        permission: &str,
        allowed: bool,
    ) -> anyhow::Result<()> {
        let perm = functions::column_permission(permission, column);
        self.set_permission(database, table, &perm, allowed)
    }

    /// Denies (`allowed` false) or grants again a server permission to
    /// every login, as `DENY VIEW SERVER STATE TO ...` would. `VIEW SERVER
    /// STATE` is the one the sandbox checks: without it, reading
    /// `sys.dm_tran_locks`, `sys.dm_exec_requests` or
    /// `sys.dm_exec_sessions` fails with error 297.
    pub fn set_server_permission(&self, permission: &str, allowed: bool) {
        let key = permission
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_uppercase();
        let mut denied = self
            .shared
            .server_denied
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if allowed {
            denied.remove(&key);
        } else {
            denied.insert(key);
        }
    }

    /// Makes `database` a member of an availability group: its
    /// `sys.databases.group_database_id`, the same on every replica, is `id`.
    pub fn set_group_database_id(&self, database: &str, id: uuid::Uuid) -> anyhow::Result<()> {
        let mut dbs = self.shared.lock();
        let d = dbs
            .iter_mut()
            .find(|d| d.name.eq_ignore_ascii_case(database))
            .ok_or_else(|| anyhow::anyhow!("no database {database:?}"))?;
        d.group_database_id = Some(id);
        Ok(())
    }

    /// Sets what `@@SERVERNAME` and `SERVERPROPERTY('ServerName')` return
    /// (default `RGS-SANDBOX`).
    pub fn set_server_name(&self, name: &str) {
        *self
            .shared
            .server_name
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = name.to_string();
    }

    /// Answers as SQL Server `version` (`10.50.6000.34` for 2008 R2 SP3):
    /// `SERVERPROPERTY('ProductVersion')`, `@@VERSION`, the PRELOGIN and
    /// LOGINACK versions and the TDS version (7.3 below 11); below 11 the
    /// T-SQL and catalog columns of SQL Server 2012 and later are refused
    /// with 2008 R2's errors (195, 102, 156, 207, 208).
    pub fn set_product_version(&self, version: &str) -> anyhow::Result<()> {
        let v = ProductVersion::parse(version)?;
        *self
            .shared
            .version
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(v);
        Ok(())
    }

    /// The version set with [`Engine::set_product_version`], if any.
    pub fn product_version(&self) -> Option<ProductVersion> {
        self.shared.product_version()
    }

    /// The next time any session is about to run a statement whose text
    /// contains `pattern` (case-insensitive; matched against each
    /// statement of a batch or RPC as the sandbox prints it: keywords
    /// uppercase, names as written), that session first runs `sql`, once,
    /// inside its own transaction: as if another writer had landed just
    /// before the statement. Errors of `sql` are not reported; the
    /// statement's @@ROWCOUNT and @@ERROR are not disturbed.
    pub fn inject_before(&self, pattern: &str, sql: &str) {
        self.shared
            .injections
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((pattern.to_lowercase(), sql.to_string()));
    }

    /// Runs a script as sqlcmd would: batches separated by `GO` lines, each
    /// executed like a client's SQLBatch in one session. Stops at the first
    /// error, whose line is the script's line.
    pub fn run_script(&self, database: &str, script: &str) -> Result<(), SqlError> {
        let mut session = self.open_session(database)?;
        for batch in script::split_batches(script) {
            for _ in 0..batch.count {
                let items = session.execute(&batch.text, &[]);
                if let Some(mut e) = items.into_iter().find_map(|i| match i {
                    Item::Error(e) => Some(e),
                    _ => None,
                }) {
                    e.line = batch.first_line + e.line.max(1) - 1;
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// A new session (one per client connection). Error 4060 when the
    /// database does not exist.
    pub fn open_session(&self, database: &str) -> Result<Session, SqlError> {
        let Some(entry) = self.shared.find(database) else {
            return Err(errors::cannot_open_database(database));
        };
        let spid = 51 + (self.shared.next_spid.fetch_add(1, Ordering::SeqCst) % 30000) as u16;
        let state = SessionState::new(self.shared.clone(), entry.name, &entry.path, spid)?;
        Ok(Session { state })
    }

    /// Runs one T-SQL query in a fresh session and returns its last result
    /// set: for tests that inspect the data directly. It sees the committed
    /// data and never waits for another session's table locks.
    pub fn query(&self, database: &str, sql: &str) -> Result<ResultSet, SqlError> {
        let mut s = self.open_session(database)?;
        s.state.set_lock_waits(false);
        let mut last = None;
        for item in s.execute(sql, &[]) {
            match item {
                Item::Error(e) => return Err(e),
                Item::Rows(rs) => last = Some(rs),
                _ => {}
            }
        }
        Ok(last.unwrap_or_default())
    }
}

/// One client connection's session: its own SQLite connection, transaction
/// state and SET options.
pub struct Session {
    state: SessionState,
}

/// Cancels the statement a session is running, from another thread
/// (TDS attention).
#[derive(Clone)]
pub struct Interrupter {
    state: Arc<InterruptState>,
}

impl Interrupter {
    /// Interrupts the running statement, if any: the batch stops with an
    /// `Item::Error` numbered `CANCELLED`, and the transaction stays as it
    /// was (unless SQLite had to roll back an interrupted write, reported
    /// as `Item::Tx(Rollback)`). Has no effect on the next batch.
    pub fn interrupt(&self) {
        self.state.flag.store(true, Ordering::SeqCst);
        self.state
            .handle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .interrupt();
    }
}

impl Session {
    /// The current database's name.
    pub fn database(&self) -> &str {
        &self.state.db
    }

    /// The session id (`@@SPID`), for the front end's packet headers.
    pub fn spid(&self) -> u16 {
        self.state.spid
    }

    /// Sets the login name `SUSER_SNAME()` reports (default `sa`).
    pub fn set_login(&mut self, login: &str) {
        self.state.login = login.to_string();
        self.state.shared.locks.update(self.state.spid, |s| {
            s.login = login.to_string();
        });
    }

    /// Sets the client's host and program names (LOGIN7), which
    /// `sys.dm_exec_sessions` shows.
    pub fn set_client(&mut self, host: &str, program: &str) {
        self.state.shared.locks.update(self.state.spid, |s| {
            s.host = host.to_string();
            s.program = program.to_string();
        });
    }

    /// Runs a SQLBatch (no params) or an `sp_executesql` statement (params).
    pub fn execute(&mut self, sql: &str, params: &[Param]) -> Vec<Item> {
        self.state.running(true);
        let items = self.state.execute(sql, params);
        self.state.running(false);
        items
    }

    /// A BULK_LOAD message (after an `INSERT BULK` batch): `columns` as
    /// its COLMETADATA describes them, then its rows, each value as the
    /// column's type decodes it. Inserts them into the INSERT BULK's
    /// table, all or nothing, and answers DONE with the row count; 4804
    /// when no INSERT BULK came just before. A row that fails to decode
    /// is an `Err` of the iterator: the load stops and rolls back.
    pub fn bulk_load(
        &mut self,
        columns: &[Column],
        rows: &mut dyn Iterator<Item = Result<Vec<Value>, SqlError>>,
    ) -> Vec<Item> {
        self.state.running(true);
        let items = self.state.bulk_load(columns, rows);
        self.state.running(false);
        items
    }

    /// Streams the result sets of the next requests to `sink` (None: back
    /// to whole `Item::Rows`). The items `execute` returns are then only
    /// those not yet handed to the sink.
    pub fn stream_to(&mut self, sink: Option<SharedSink>) {
        self.state.set_sink(sink);
    }

    /// Transaction manager request TM_BEGIN_XACT.
    pub fn begin_transaction(&mut self) -> Vec<Item> {
        self.state.begin_transaction()
    }

    /// Transaction manager request TM_COMMIT_XACT.
    pub fn commit_transaction(&mut self) -> Vec<Item> {
        self.state.commit_transaction()
    }

    /// Transaction manager request TM_ROLLBACK_XACT.
    pub fn rollback_transaction(&mut self) -> Vec<Item> {
        self.state.rollback_transaction()
    }

    /// The open transaction's descriptor, if one is open.
    pub fn transaction(&self) -> Option<u64> {
        self.state.transaction()
    }

    /// A handle to cancel this session's running statement.
    pub fn interrupter(&self) -> Interrupter {
        Interrupter {
            state: self.state.interrupt.clone(),
        }
    }

    /// RESETCONNECTION: roll back any transaction and restore default SET
    /// options.
    pub fn reset(&mut self) {
        self.state.reset()
    }
}
