//! Executing batches: SQL Server's transaction model (@@TRANCOUNT nesting,
//! XACT_ABORT, statement- versus batch-aborting errors) on top of one
//! SQLite connection per session, and its locking (a write waits up to
//! LOCK_TIMEOUT for another session's open write transaction, then fails
//! with 1222).
//!
//! Locking model: the SQL-level BEGIN TRAN is lazy. Reads outside a write
//! run in autocommit mode and see the latest committed data (READ
//! COMMITTED). The first write, or SELECT with UPDLOCK, HOLDLOCK or XLOCK,
//! takes SQLite's database write lock (BEGIN IMMEDIATE) and keeps it until
//! COMMIT/ROLLBACK, so a session that holds it always reads its own
//! current snapshot. On top, table locks (`tablelock`, `engine::locks`):
//! within a transaction a written table is locked exclusively, so another
//! session's plain read of it waits (READ_COMMITTED_SNAPSHOT off, SQL
//! Server's default), as NOLOCK reads do not.

mod bulk;
mod bulkorder;
mod ddl;
mod raise;
mod run;
mod tablelock;
mod tablevar;
mod temptable;
mod trigger;
mod tx;

use super::catalog::{Catalog, DbSummary, SchemaInfo};
use super::datatype::{self, from_storage, DeclType};
use super::errors;
use super::functions::{self, FnShared};
use super::parse::{parse_batch, Parsed};
use super::translate::{plan, Action, Env, QueryPlan, SetOption, Var};
use super::Shared;
use crate::types::{Item, Param, Sink, SqlError, Value};
pub(crate) use bulk::premature_end as bulk_premature_end;
use rusqlite::types::Value as SqlVal;
use rusqlite::{Connection, ErrorCode};
use sqlparser::ast::Statement;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The interrupt flag and the handle of the session's current connection.
pub(crate) struct InterruptState {
    pub flag: AtomicBool,
    pub handle: Mutex<rusqlite::InterruptHandle>,
}

/// A [`Sink`] the front end keeps a handle to while the session streams.
pub type SharedSink = Arc<Mutex<dyn Sink>>;

/// Opens a connection to a database file with the sandbox's functions.
pub(crate) fn open_connection(path: &Path, fns: Arc<FnShared>) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    let _: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    // Temporary tables and table variables in memory, and a page cache
    // (256 MiB at most, taken only as pages are read) that holds a
    // million-row table, as SQL Server's buffer pool would: with 64 MiB an
    // UPDATE of a million rows spilled dirty pages to the file mid-way and
    // read them back, and each join read its pages through the file system
    // again (undo of 1M rows: a tenth of the sandbox's CPU in system time).
    conn.execute_batch(
        "PRAGMA synchronous=NORMAL; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-262144",
    )?;
    conn.set_prepared_statement_cache_capacity(64);
    functions::register(&conn, fns)?;
    Ok(conn)
}

/// Whether the statement flow goes on after a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    Abort,
}

/// Where an error came from, which decides what it aborts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ErrKind {
    /// Name resolution or unsupported syntax found when the statement was
    /// compiled: aborts the batch, leaves the transaction alone.
    Compile,
    /// A statement failed while running.
    Runtime,
}

pub(crate) struct SessionState {
    pub shared: Arc<Shared>,
    pub db: String,
    pub initial_db: String,
    pub conn: Connection,
    pub fns: Arc<FnShared>,
    pub interrupt: Arc<InterruptState>,
    pub spid: u16,
    pub login: String,
    trancount: u32,
    tx: Option<u64>,
    /// Whether the SQLite transaction (and so the write lock) is open.
    sqlite_tx: bool,
    nocount: bool,
    xact_abort: bool,
    lock_timeout: i64,
    rowcount: i64,
    last_error: i32,
    vars: HashMap<String, Var>,
    /// SQLite names of the TEMP tables of table variables not yet dropped.
    table_vars: Vec<String>,
    /// The session's temporary tables (`#name`).
    temps: temptable::TempTables,
    /// SAVE TRANSACTION names (lowercase) and their SQLite savepoints (None:
    /// saved before the first write, so rolling back to it ends the SQLite
    /// transaction).
    savepoints: Vec<(String, Option<String>)>,
    cat_cache: Option<(i64, Arc<Catalog>)>,
    /// DONEINPROCs of the trigger statements the current statement fired.
    trigger_items: Vec<Item>,
    /// Whether the current statement's error came from inside a trigger.
    trigger_failed: bool,
    /// The running statement's `sys.dm_exec_requests.command`.
    command: &'static str,
    /// Whether reads wait for other sessions' table locks.
    lock_waits: bool,
    /// The target of the INSERT BULK just run: the next request may be
    /// its BULK_LOAD message.
    bulk: Option<bulk::BulkTarget>,
    /// Where result sets stream to (None: they are whole `Item::Rows`).
    sink: Option<SharedSink>,
}

impl SessionState {
    pub fn new(
        shared: Arc<Shared>,
        db: String,
        path: &Path,
        spid: u16,
    ) -> Result<SessionState, SqlError> {
        let fns = Arc::new(FnShared::default());
        let conn = open_connection(path, fns.clone()).map_err(errors::internal)?;
        let interrupt = Arc::new(InterruptState {
            flag: AtomicBool::new(false),
            handle: Mutex::new(conn.get_interrupt_handle()),
        });
        let state = SessionState {
            shared,
            initial_db: db.clone(),
            db,
            conn,
            fns,
            interrupt,
            spid,
            login: "sa".into(),
            trancount: 0,
            tx: None,
            sqlite_tx: false,
            nocount: false,
            xact_abort: false,
            lock_timeout: -1,
            rowcount: 0,
            last_error: 0,
            vars: HashMap::new(),
            table_vars: Vec::new(),
            temps: Default::default(),
            savepoints: Vec::new(),
            cat_cache: None,
            trigger_items: Vec::new(),
            trigger_failed: false,
            command: "SELECT",
            lock_waits: true,
            bulk: None,
            sink: None,
        };
        state.register();
        Ok(state)
    }

    pub fn transaction(&self) -> Option<u64> {
        self.tx
    }

    fn interrupted(&self) -> bool {
        self.interrupt.flag.load(Ordering::SeqCst)
    }

    // ----- batch ------------------------------------------------------------

    pub fn execute(&mut self, sql: &str, params: &[Param]) -> Vec<Item> {
        self.interrupt.flag.store(false, Ordering::SeqCst);
        // A bulk target lasts until the next request only.
        self.bulk = None;
        self.drop_table_vars();
        self.vars.clear();
        self.publish_temp_tables();
        if super::bulk::is_insert_bulk(sql) {
            return self.insert_bulk(sql);
        }
        let items = self.run_batch(sql, params);
        // Table variables live as long as their batch.
        self.drop_table_vars();
        items
    }

    fn run_batch(&mut self, sql: &str, params: &[Param]) -> Vec<Item> {
        let mut items = Vec::new();
        let stmts = match parse_batch(sql) {
            Ok(s) => s,
            Err(e) => {
                self.last_error = e.number;
                items.push(Item::Error(e));
                return items;
            }
        };
        if let Err(e) = self.validate(&stmts, params) {
            self.last_error = e.number;
            items.push(Item::Error(e));
            return items;
        }
        self.run_list(&stmts, params, &mut items);
        items
    }

    fn dbs(&self) -> Vec<DbSummary> {
        self.shared.summaries()
    }

    fn env<'a>(
        &'a self,
        catalog: &'a Catalog,
        vars: &'a HashMap<String, Var>,
        params: &'a [Param],
        dbs: &'a [DbSummary],
        server: &'a str,
    ) -> Env<'a> {
        let db_id = dbs
            .iter()
            .find(|d| d.name.eq_ignore_ascii_case(&self.db))
            .map(|d| d.id)
            .unwrap_or(1);
        Env {
            catalog,
            db_name: &self.db,
            db_id,
            databases: dbs,
            server_name: server,
            version: self.shared.product_version().unwrap_or_default(),
            spid: self.spid,
            login: &self.login,
            trancount: self.trancount,
            rowcount: self.rowcount,
            last_error: self.last_error,
            lock_timeout: self.lock_timeout,
            params,
            vars,
            now_utc: chrono::Utc::now().naive_utc(),
            now_local: chrono::Local::now().naive_local(),
            locks: Some(&self.shared.locks),
        }
    }

    /// Translates the whole batch before anything runs, against a catalog
    /// that follows the batch's own DDL: a batch that does not translate
    /// runs no statement at all.
    fn validate(&mut self, stmts: &[Parsed], params: &[Param]) -> Result<(), SqlError> {
        let mut cat = (*self.catalog()?).clone();
        let mut vars = self.vars.clone();
        let dbs = self.dbs();
        let server = self.shared.server_name();
        let list: Vec<(&Statement, u32)> = stmts.iter().map(|(s, l)| (s, *l)).collect();
        self.validate_list(&list, &mut cat, &mut vars, params, &dbs, &server)
    }

    fn validate_list(
        &self,
        stmts: &[(&Statement, u32)],
        cat: &mut Catalog,
        vars: &mut HashMap<String, Var>,
        params: &[Param],
        dbs: &[DbSummary],
        server: &str,
    ) -> Result<(), SqlError> {
        for (stmt, line) in stmts {
            let action = {
                let env = self.env(cat, vars, params, dbs, server);
                plan(&env, stmt).map_err(|mut e| {
                    e.line = *line;
                    e
                })?
            };
            match action {
                Action::CreateTable(tp) => {
                    cat.tables
                        .retain(|t| t.sqlite.to_lowercase() != tp.table.sqlite.to_lowercase());
                    cat.tables.push(tp.table);
                }
                Action::DropTables { tables, .. } => {
                    for t in tables.into_iter().filter_map(|(_, t)| t) {
                        cat.tables.retain(|x| x.sqlite != t.sqlite);
                    }
                }
                Action::CreateSchema(name) if cat.schema(&name).is_none() => {
                    let id = cat.schemas.iter().map(|s| s.id).max().unwrap_or(4).max(4) + 1;
                    cat.schemas.push(SchemaInfo { id, name });
                }
                Action::Declare(list) => {
                    for (name, decl, _) in list {
                        vars.insert(name.to_lowercase(), Var::scalar(decl, SqlVal::Null));
                    }
                }
                Action::If {
                    then, otherwise, ..
                } => {
                    let then: Vec<(&Statement, u32)> = then.iter().map(|s| (s, *line)).collect();
                    self.validate_list(&then, cat, vars, params, dbs, server)?;
                    let otherwise: Vec<(&Statement, u32)> =
                        otherwise.iter().map(|s| (s, *line)).collect();
                    self.validate_list(&otherwise, cat, vars, params, dbs, server)?;
                }
                Action::DeclareTable(tp) | Action::CreateTempTable(tp) => {
                    vars.insert(
                        tp.table.name.to_lowercase(),
                        Var {
                            decl: datatype::DeclType::new(crate::types::SqlType::Int),
                            value: SqlVal::Null,
                            table: Some(Box::new(tp.table)),
                        },
                    );
                }
                // The rest of the batch runs in another database.
                Action::Use(_) => return Ok(()),
                _ => {}
            }
        }
        Ok(())
    }

    fn run_list(
        &mut self,
        stmts: &[(Statement, u32)],
        params: &[Param],
        items: &mut Vec<Item>,
    ) -> Flow {
        for (stmt, line) in stmts {
            if self.interrupted() {
                return self.fail(errors::cancelled(), *line, ErrKind::Runtime, items);
            }
            if self.run_stmt(stmt, *line, params, items) == Flow::Abort {
                return Flow::Abort;
            }
        }
        Flow::Continue
    }

    fn run_stmt(
        &mut self,
        stmt: &Statement,
        line: u32,
        params: &[Param],
        items: &mut Vec<Item>,
    ) -> Flow {
        if let Some(sql) = self.shared.take_injection(&stmt.to_string()) {
            self.run_injection(&sql);
        }
        let cat = match self.catalog() {
            Ok(c) => c,
            Err(e) => return self.fail(e, line, ErrKind::Runtime, items),
        };
        self.refresh_fn_ctx(&cat);
        let dbs = self.dbs();
        let server = self.shared.server_name();
        let action = {
            let env = self.env(&cat, &self.vars, params, &dbs, &server);
            plan(&env, stmt)
        };
        let action = match action {
            Ok(a) => a,
            Err(e) => return self.fail(e, line, ErrKind::Compile, items),
        };
        *self.fns.error.lock().unwrap_or_else(|p| p.into_inner()) = None;
        // RAISERROR sets @@ERROR itself.
        let raises = matches!(action, Action::RaisError(_));
        match self.exec(action, line, params, items) {
            Ok(flow) => {
                if !raises {
                    self.last_error = 0;
                }
                flow
            }
            Err(e) => self.fail(e, line, ErrKind::Runtime, items),
        }
    }

    /// An injected "concurrent" write (`Engine::inject_before`): runs in
    /// this session's transaction; its answer is dropped and the
    /// session's @@ROWCOUNT and @@ERROR are left as they were.
    fn run_injection(&mut self, sql: &str) {
        let (rowcount, last_error) = (self.rowcount, self.last_error);
        // Its results are dropped too, not streamed to the client.
        let sink = self.sink.take();
        if let Ok(stmts) = parse_batch(sql) {
            let mut ignored = Vec::new();
            self.run_list(&stmts, &[], &mut ignored);
        }
        self.sink = sink;
        self.rowcount = rowcount;
        self.last_error = last_error;
    }

    /// Reports an error and applies SQL Server's rules for what it aborts.
    fn fail(&mut self, mut e: SqlError, line: u32, kind: ErrKind, items: &mut Vec<Item>) -> Flow {
        e.line = line;
        self.last_error = e.number;
        let number = e.number;
        items.push(Item::Error(e));
        // SQLite may have rolled the whole transaction back (e.g. after an
        // interrupted write); SQL Server's client must hear of it.
        if self.sqlite_tx && self.conn.is_autocommit() {
            self.sqlite_tx = false;
            self.end_transaction(false, items);
        }
        if number == errors::CANCELLED {
            return Flow::Abort;
        }
        if number == 1205 {
            self.rollback_all(items);
            return Flow::Abort;
        }
        if kind == ErrKind::Compile {
            return Flow::Abort;
        }
        if self.xact_abort {
            self.rollback_all(items);
            return Flow::Abort;
        }
        Flow::Continue
    }

    /// An error inside a trigger: the transaction rolls back and the
    /// batch ends, whatever XACT_ABORT says.
    fn trigger_abort(&mut self, mut e: SqlError, line: u32, items: &mut Vec<Item>) -> Flow {
        e.line = line;
        self.last_error = e.number;
        items.push(Item::Error(e));
        self.rollback_all(items);
        Flow::Abort
    }

    fn done(&self, items: &mut Vec<Item>) {
        items.push(Item::Done {
            rows_affected: None,
        });
    }

    fn exec(
        &mut self,
        action: Action,
        line: u32,
        params: &[Param],
        items: &mut Vec<Item>,
    ) -> Result<Flow, SqlError> {
        self.command = tablelock::command_of(&action);
        match action {
            Action::Query(p) => self.exec_query(p, items)?,
            Action::Dml(p) => {
                let r = if tablevar::is_table_var(&p) {
                    self.table_var_dml(&p)
                } else if temptable::is_temp_table(&p) {
                    self.temp_table_dml(&p)
                } else {
                    let r = self.run_dml(&p);
                    self.hold_written(&p.table);
                    r
                };
                items.append(&mut self.trigger_items);
                let n = match r {
                    Ok(n) => n,
                    Err(e) if std::mem::take(&mut self.trigger_failed) => {
                        return Ok(self.trigger_abort(e, line, items));
                    }
                    Err(e) => return Err(e),
                };
                self.rowcount = n as i64;
                items.push(Item::Done {
                    rows_affected: (!self.nocount).then_some(n),
                });
            }
            Action::CreateTable(tp) => self.create_table(tp, items)?,
            Action::CreateIndex(ip) => self.create_index(ip, items)?,
            Action::DropTables { tables, if_exists } => {
                self.drop_tables(tables, if_exists, items)?
            }
            Action::CreateSchema(name) => self.create_schema(name, items)?,
            Action::Begin => {
                self.begin(items);
                self.done(items);
            }
            Action::Commit => {
                self.commit(items)?;
                self.done(items);
            }
            Action::Rollback => {
                if self.trancount == 0 {
                    return Err(errors::rollback_without_begin());
                }
                self.rollback_all(items);
                self.done(items);
            }
            Action::Save(name) => self.save(name, items)?,
            Action::RollbackTo(name) => {
                self.rollback_to(name, items)?;
                self.prune_temp_tables();
            }
            Action::Set(opt) => {
                self.set_option(opt);
                self.done(items);
            }
            Action::Print(p) => self.print(p, items)?,
            Action::Declare(list) => self.declare(list, items)?,
            Action::SetVar { name, plan } => self.set_var(&name, &plan, items)?,
            Action::If {
                cond,
                then,
                otherwise,
            } => {
                let v = self.eval_scalar(&cond)?;
                let branch = if v == SqlVal::Integer(1) {
                    then
                } else {
                    otherwise
                };
                let list: Vec<(Statement, u32)> = branch.into_iter().map(|s| (s, line)).collect();
                return Ok(self.run_list(&list, params, items));
            }
            Action::DeclareTable(tp) => self.declare_table(tp, items)?,
            Action::CreateTempTable(tp) => self.create_temp_table(tp, items)?,
            Action::RaisError(p) => self.raiserror(&p, line, items)?,
            Action::Return => {
                self.done(items);
                return Ok(Flow::Abort);
            }
            Action::WaitFor(d) => self.wait_for(d, items)?,
            Action::CreateTrigger(tp) => self.create_trigger(tp, items)?,
            Action::DropTrigger(t) => self.drop_trigger(t, items)?,
            Action::Use(name) => {
                self.use_database(&name)?;
                items.push(Item::Info {
                    number: 5701,
                    message: format!("Changed database context to '{}'.", self.db),
                });
                self.done(items);
            }
        }
        Ok(Flow::Continue)
    }

    /// SET NOCOUNT, XACT_ABORT, LOCK_TIMEOUT (others have no effect here).
    fn set_option(&mut self, opt: SetOption) {
        match opt {
            SetOption::NoCount(b) => self.nocount = b,
            SetOption::XactAbort(b) => self.xact_abort = b,
            SetOption::LockTimeout(n) => self.lock_timeout = n,
            SetOption::Ignored => {}
        }
    }

    /// SET @v = value: the plan converts the value to the variable's type.
    fn set_var(
        &mut self,
        name: &str,
        plan: &QueryPlan,
        items: &mut Vec<Item>,
    ) -> Result<(), SqlError> {
        let v = self.eval_scalar(plan)?;
        if let Some(var) = self.vars.get_mut(&name.to_lowercase()) {
            var.value = v;
        }
        self.rowcount = 1;
        self.done(items);
        Ok(())
    }

    // ----- connection state -------------------------------------------------

    fn use_database(&mut self, name: &str) -> Result<(), SqlError> {
        let Some((canonical, path)) = self.shared.path_of(name) else {
            return Err(errors::no_database(name));
        };
        if canonical == self.db {
            return Ok(());
        }
        if self.trancount > 0 {
            return Err(errors::other(
                226,
                16,
                6,
                "USE statement not allowed within multi-statement transaction.",
            ));
        }
        let conn = open_connection(&path, self.fns.clone()).map_err(errors::internal)?;
        *self
            .interrupt
            .handle
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = conn.get_interrupt_handle();
        self.conn = conn;
        self.forget_temp_tables();
        self.db = canonical;
        self.cat_cache = None;
        Ok(())
    }

    pub fn begin_transaction(&mut self) -> Vec<Item> {
        let mut items = Vec::new();
        self.bulk = None;
        self.begin(&mut items);
        items
    }

    pub fn commit_transaction(&mut self) -> Vec<Item> {
        let mut items = Vec::new();
        self.bulk = None;
        if let Err(e) = self.commit(&mut items) {
            items.push(Item::Error(e));
        }
        items
    }

    pub fn rollback_transaction(&mut self) -> Vec<Item> {
        let mut items = Vec::new();
        self.bulk = None;
        if self.trancount == 0 {
            items.push(Item::Error(errors::rollback_without_begin()));
        } else {
            self.rollback_all(&mut items);
        }
        items
    }

    pub fn reset(&mut self) {
        let mut items = Vec::new();
        self.rollback_all(&mut items);
        self.nocount = false;
        self.xact_abort = false;
        self.lock_timeout = -1;
        self.rowcount = 0;
        self.last_error = 0;
        self.drop_table_vars();
        self.vars.clear();
        self.drop_all_temp_tables();
        let initial = self.initial_db.clone();
        let _ = self.use_database(&initial);
    }
}

impl Drop for SessionState {
    fn drop(&mut self) {
        if self.sqlite_tx {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        self.shared.locks.close(self.spid);
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if matches!(f.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked))
}

/// A key value as SQL Server prints it in a duplicate key message.
fn key_text(v: &SqlVal, decl: DeclType) -> String {
    match from_storage(v.into(), decl.ty) {
        Value::Null => "<NULL>".into(),
        Value::Guid(g) => g.hyphenated().to_string(),
        Value::Text(s) => s,
        Value::Int(i) => i.to_string(),
        Value::Bit(b) => (b as i32).to_string(),
        Value::Float(f) => f.to_string(),
        Value::DateTime(dt) => datatype::format_datetime(&dt),
        Value::Binary(b) => format!(
            "0x{}",
            b.iter().map(|x| format!("{x:02X}")).collect::<String>()
        ),
    }
}
