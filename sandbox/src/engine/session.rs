//! Executing batches: SQL Server's transaction model (@@TRANCOUNT nesting,
//! XACT_ABORT, statement- versus batch-aborting errors) on top of one
//! SQLite connection per session, and its locking (a write waits up to
//! LOCK_TIMEOUT for another session's open write transaction, then fails
//! with 1222).
//!
//! Locking model: the SQL-level BEGIN TRAN is lazy. Reads outside a write
//! run in autocommit mode and see the latest committed data (READ
//! COMMITTED, never blocked). The first write, or SELECT with UPDLOCK,
//! HOLDLOCK or XLOCK, takes SQLite's database write lock (BEGIN IMMEDIATE)
//! and keeps it until COMMIT/ROLLBACK, so a session that holds it always
//! reads its own current snapshot. Locks are per database, not per row.

use super::catalog::{
    Catalog, DbSummary, IndexInfo, IndexKind, SchemaInfo, META_TABLE, SCHEMA_PREFIX,
};
use super::datatype::{self, from_storage, quote_ident, DeclType};
use super::errors;
use super::functions::{self, FnCtx, FnShared};
use super::parse::{parse_batch, Parsed};
use super::translate::{plan, Action, DmlPlan, Env, QueryPlan, SetOption, Sql, Var};
use super::Shared;
use crate::types::{Item, Param, ResultSet, SqlError, TxChange, Value};
use rusqlite::types::Value as SqlVal;
use rusqlite::{Connection, ErrorCode};
use sqlparser::ast::Statement;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The interrupt flag and the handle of the session's current connection.
pub(crate) struct InterruptState {
    pub flag: AtomicBool,
    pub handle: Mutex<rusqlite::InterruptHandle>,
}

/// Opens a connection to a database file with the sandbox's functions.
pub(crate) fn open_connection(path: &Path, fns: Arc<FnShared>) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    let _: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    conn.execute_batch("PRAGMA synchronous=NORMAL")?;
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
    /// SAVE TRANSACTION names (lowercase) and their SQLite savepoints (None:
    /// saved before the first write, so rolling back to it ends the SQLite
    /// transaction).
    savepoints: Vec<(String, Option<String>)>,
    cat_cache: Option<(i64, Arc<Catalog>)>,
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
        Ok(SessionState {
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
            savepoints: Vec::new(),
            cat_cache: None,
        })
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
        self.vars.clear();
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
                        vars.insert(
                            name.to_lowercase(),
                            Var {
                                decl,
                                value: SqlVal::Null,
                            },
                        );
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
        match self.exec(action, line, params, items) {
            Ok(flow) => {
                self.last_error = 0;
                flow
            }
            Err(e) => self.fail(e, line, ErrKind::Runtime, items),
        }
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
        match action {
            Action::Query(p) => {
                self.check_select(&p.tables)?;
                if let Some(names) = &p.assign {
                    let rows = self.run_query_raw(&p)?;
                    if let Some(last) = rows.last() {
                        for (name, v) in names.iter().zip(last.iter()) {
                            if let Some(var) = self.vars.get_mut(&name.to_lowercase()) {
                                var.value = v.clone();
                            }
                        }
                    }
                    self.rowcount = rows.len() as i64;
                    items.push(Item::Done {
                        rows_affected: (!self.nocount).then_some(rows.len() as u64),
                    });
                } else {
                    let rs = self.run_query(&p)?;
                    self.rowcount = rs.rows.len() as i64;
                    items.push(Item::Rows(rs));
                }
            }
            Action::Dml(p) => {
                let n = self.run_dml(&p)?;
                self.rowcount = n as i64;
                items.push(Item::Done {
                    rows_affected: (!self.nocount).then_some(n),
                });
            }
            Action::CreateTable(tp) => {
                let cat = self.catalog()?;
                if cat.schema(&tp.table.schema).is_none() {
                    return Err(errors::no_schema(&tp.table.schema));
                }
                if cat.object_exists(&tp.table.schema, &tp.table.name) {
                    return Err(errors::already_exists(&tp.table.name));
                }
                for i in &tp.table.indexes {
                    if cat.object_exists(&tp.table.schema, &i.name) {
                        return Err(errors::already_exists(&i.name));
                    }
                }
                let created = datatype::format_datetime(&chrono::Local::now().naive_local());
                let sqlite = tp.table.sqlite.clone();
                self.write(false, |s| {
                    for d in &tp.ddl {
                        s.conn.execute_batch(d).map_err(|e| s.map_err(e))?;
                    }
                    s.conn
                        .execute(
                            &format!("INSERT INTO {META_TABLE} (kind, name, value) VALUES ('created', ?1, ?2)"),
                            [&sqlite, &created],
                        )
                        .map_err(|e| s.map_err(e))?;
                    Ok(())
                })?;
                self.rowcount = 0;
                self.done(items);
            }
            Action::CreateIndex(ip) => {
                let cat = self.catalog()?;
                let t = cat
                    .tables
                    .iter()
                    .find(|t| t.sqlite == ip.table.sqlite)
                    .cloned()
                    .unwrap_or(ip.table.clone());
                if t.indexes
                    .iter()
                    .any(|i| i.name.to_lowercase() == ip.index.name.to_lowercase())
                {
                    return Err(errors::other(
                        1913,
                        16,
                        1,
                        format!(
                            "The operation failed because an index or statistics with name '{}' already exists on table '{}.{}'.",
                            ip.index.name, t.schema, t.name
                        ),
                    ));
                }
                if ip.index.clustered {
                    if let Some(c) = t.indexes.iter().find(|i| i.clustered) {
                        return Err(errors::other(
                            1902,
                            16,
                            3,
                            format!(
                                "Cannot create more than one clustered index on table '{}.{}'. Drop the existing clustered index '{}' before creating another.",
                                t.schema, t.name, c.name
                            ),
                        ));
                    }
                }
                self.write(false, |s| {
                    s.conn.execute_batch(&ip.ddl).map_err(|e| s.map_err(e))
                })?;
                self.done(items);
            }
            Action::DropTables { tables, if_exists } => {
                for (display, t) in tables {
                    match t {
                        Some(t) => {
                            self.write(false, |s| {
                                s.conn
                                    .execute_batch(&format!(
                                        "DROP TABLE {}",
                                        quote_ident(&t.sqlite)
                                    ))
                                    .map_err(|e| s.map_err(e))?;
                                s.conn
                                    .execute(
                                        &format!("DELETE FROM {META_TABLE} WHERE name = ?1"),
                                        [&t.sqlite],
                                    )
                                    .map_err(|e| s.map_err(e))?;
                                Ok(())
                            })?;
                        }
                        None if if_exists => {}
                        None => return Err(errors::cannot_drop(&display)),
                    }
                }
                self.done(items);
            }
            Action::CreateSchema(name) => {
                if self.catalog()?.schema(&name).is_some() {
                    return Err(errors::already_exists(&name));
                }
                let marker = quote_ident(&format!("{SCHEMA_PREFIX}{name}"));
                self.write(false, |s| {
                    s.conn
                        .execute_batch(&format!("CREATE TABLE {marker} (x)"))
                        .map_err(|e| s.map_err(e))
                })?;
                self.done(items);
            }
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
            Action::Save(name) => {
                if self.trancount == 0 {
                    return Err(errors::other(
                        628,
                        16,
                        0,
                        "Cannot issue SAVE TRANSACTION when there is no active transaction.",
                    ));
                }
                let sp = if self.sqlite_tx {
                    let sp = format!("sbx_sp_{}", self.savepoints.len() + 1);
                    self.conn
                        .execute_batch(&format!("SAVEPOINT {sp}"))
                        .map_err(|e| self.map_err(e))?;
                    Some(sp)
                } else {
                    None
                };
                self.savepoints.push((name.to_lowercase(), sp));
                self.done(items);
            }
            Action::RollbackTo(name) => {
                if self.trancount == 0 {
                    return Err(errors::rollback_without_begin());
                }
                let l = name.to_lowercase();
                match self.savepoints.iter().rposition(|(n, _)| *n == l) {
                    Some(k) => {
                        match self.savepoints[k].1.clone() {
                            Some(sp) => {
                                self.conn
                                    .execute_batch(&format!("ROLLBACK TO {sp}"))
                                    .map_err(|e| self.map_err(e))?;
                            }
                            None if self.sqlite_tx => {
                                let _ = self.conn.execute_batch("ROLLBACK");
                                self.sqlite_tx = false;
                            }
                            None => {}
                        }
                        self.savepoints.truncate(k + 1);
                    }
                    // The name of the outermost transaction (names given to
                    // BEGIN TRAN are not kept): everything rolls back.
                    None => self.rollback_all(items),
                }
                self.done(items);
            }
            Action::Set(opt) => {
                match opt {
                    SetOption::NoCount(b) => self.nocount = b,
                    SetOption::XactAbort(b) => self.xact_abort = b,
                    SetOption::LockTimeout(n) => self.lock_timeout = n,
                    SetOption::Ignored => {}
                }
                self.done(items);
            }
            Action::Print(p) => {
                let v = self.eval_scalar(&p)?;
                let text = match from_storage((&v).into(), p.columns[0].ty) {
                    Value::Text(s) => s,
                    _ => String::new(),
                };
                items.push(Item::Info {
                    number: 0,
                    message: text,
                });
            }
            Action::Declare(list) => {
                for (name, decl, init) in list {
                    let value = match init {
                        Some(p) => self.eval_scalar(&p)?,
                        None => SqlVal::Null,
                    };
                    self.vars.insert(name.to_lowercase(), Var { decl, value });
                }
                self.done(items);
            }
            Action::SetVar { name, plan } => {
                let v = self.eval_scalar(&plan)?;
                if let Some(var) = self.vars.get_mut(&name.to_lowercase()) {
                    var.value = v;
                }
                self.rowcount = 1;
                self.done(items);
            }
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
            Action::WaitFor(d) => {
                let end = Instant::now() + d;
                while Instant::now() < end {
                    if self.interrupted() {
                        return Err(errors::cancelled());
                    }
                    std::thread::sleep((end - Instant::now()).min(Duration::from_millis(10)));
                }
                self.done(items);
            }
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

    // ----- catalog ----------------------------------------------------------

    fn catalog(&mut self) -> Result<Arc<Catalog>, SqlError> {
        let version: i64 = self
            .conn
            .query_row("PRAGMA schema_version", [], |r| r.get(0))
            .map_err(errors::internal)?;
        if let Some((v, c)) = &self.cat_cache {
            if *v == version {
                return Ok(c.clone());
            }
        }
        let c = Arc::new(Catalog::load(&self.conn).map_err(errors::internal)?);
        self.cat_cache = Some((version, c.clone()));
        Ok(c)
    }

    fn refresh_fn_ctx(&self, cat: &Catalog) {
        let (read_only, denied) = self.shared.flags(&self.db);
        let mut ctx = FnCtx {
            db_name: self.db.clone(),
            read_only,
            denied,
            ..Default::default()
        };
        for t in &cat.tables {
            let key = format!("{}.{}", t.schema.to_lowercase(), t.name.to_lowercase());
            ctx.tables.insert(key, t.object_id);
            ctx.names.insert(t.object_id, t.name.clone());
            for i in t.indexes.iter().filter(|i| i.kind != IndexKind::Index) {
                let ty = if i.kind == IndexKind::PrimaryKey {
                    "PK"
                } else {
                    "UQ"
                };
                let id = i.constraint_object_id(t);
                ctx.constraints.insert(
                    format!("{}.{}", t.schema.to_lowercase(), i.name.to_lowercase()),
                    (id, ty),
                );
                ctx.names.insert(id, i.name.clone());
            }
        }
        *self.fns.ctx.lock().unwrap_or_else(|p| p.into_inner()) = ctx;
    }

    // ----- permissions ------------------------------------------------------

    fn check_perm(&self, schema: &str, name: &str, perm: &str) -> Result<(), SqlError> {
        let (_, denied) = self.shared.flags(&self.db);
        let key = (
            format!("{}.{}", schema.to_lowercase(), name.to_lowercase()),
            perm.to_string(),
        );
        if denied.contains(&key) {
            return Err(errors::permission_denied(perm, name, &self.db, schema));
        }
        Ok(())
    }

    fn check_select(&self, tables: &[(String, String)]) -> Result<(), SqlError> {
        for (s, n) in tables {
            self.check_perm(s, n, "SELECT")?;
        }
        Ok(())
    }

    fn check_writable(&self) -> Result<(), SqlError> {
        if self.shared.flags(&self.db).0 {
            return Err(errors::read_only_database(&self.db));
        }
        Ok(())
    }

    // ----- transactions and locks ------------------------------------------

    fn begin(&mut self, items: &mut Vec<Item>) {
        if self.trancount == 0 {
            let id = self.shared.next_tx();
            self.tx = Some(id);
            items.push(Item::Tx(TxChange::Begin(id)));
        }
        self.trancount += 1;
    }

    fn commit(&mut self, items: &mut Vec<Item>) -> Result<(), SqlError> {
        if self.trancount == 0 {
            return Err(errors::commit_without_begin());
        }
        if self.trancount > 1 {
            self.trancount -= 1;
            return Ok(());
        }
        if self.sqlite_tx {
            if let Err(e) = self.conn.execute_batch("COMMIT") {
                let err = self.map_err(e);
                self.rollback_all(items);
                return Err(err);
            }
            self.sqlite_tx = false;
        }
        self.end_transaction(true, items);
        Ok(())
    }

    fn end_transaction(&mut self, committed: bool, items: &mut Vec<Item>) {
        self.savepoints.clear();
        if self.trancount > 0 {
            self.trancount = 0;
            if let Some(id) = self.tx.take() {
                items.push(Item::Tx(if committed {
                    TxChange::Commit(id)
                } else {
                    TxChange::Rollback(id)
                }));
            }
        }
    }

    fn rollback_all(&mut self, items: &mut Vec<Item>) {
        if self.sqlite_tx {
            let _ = self.conn.execute_batch("ROLLBACK");
            self.sqlite_tx = false;
        }
        self.end_transaction(false, items);
    }

    /// Takes the database write lock (BEGIN IMMEDIATE), waiting up to the
    /// lock timeout for another session's write transaction.
    fn acquire(&mut self, nowait: bool) -> Result<(), SqlError> {
        if self.sqlite_tx {
            return Ok(());
        }
        let timeout = if nowait { 0 } else { self.lock_timeout };
        let start = Instant::now();
        let _ = self.conn.busy_timeout(Duration::ZERO);
        let result = loop {
            match self.conn.execute_batch("BEGIN IMMEDIATE") {
                Ok(()) => break Ok(()),
                Err(e) if is_busy(&e) => {
                    if self.interrupted() {
                        break Err(errors::cancelled());
                    }
                    let waited = start.elapsed();
                    if timeout >= 0 && waited >= Duration::from_millis(timeout as u64) {
                        break Err(errors::lock_timeout());
                    }
                    let left = if timeout >= 0 {
                        Duration::from_millis(timeout as u64).saturating_sub(waited)
                    } else {
                        Duration::from_millis(5)
                    };
                    std::thread::sleep(
                        left.clamp(Duration::from_millis(1), Duration::from_millis(5)),
                    );
                }
                Err(e) => break Err(self.map_err(e)),
            }
        };
        let _ = self.conn.busy_timeout(Duration::from_secs(10));
        if result.is_ok() {
            self.sqlite_tx = true;
        }
        result
    }

    /// Runs `f` holding the write lock: within the session's transaction
    /// (under a savepoint, so a failing statement undoes only itself), or
    /// as an autocommit statement of its own.
    fn write<T>(
        &mut self,
        nowait: bool,
        f: impl FnOnce(&mut Self) -> Result<T, SqlError>,
    ) -> Result<T, SqlError> {
        self.check_writable()?;
        self.acquire(nowait)?;
        if self.trancount > 0 {
            let _ = self.conn.execute_batch("SAVEPOINT sbx_stmt");
            let r = f(self);
            if r.is_err() && !self.conn.is_autocommit() {
                let _ = self.conn.execute_batch("ROLLBACK TO sbx_stmt");
            }
            if !self.conn.is_autocommit() {
                let _ = self.conn.execute_batch("RELEASE sbx_stmt");
            }
            r
        } else {
            let r = f(self);
            let end = if r.is_ok() {
                self.conn.execute_batch("COMMIT")
            } else {
                self.conn.execute_batch("ROLLBACK")
            };
            self.sqlite_tx = false;
            match (r, end) {
                (Ok(v), Ok(())) => Ok(v),
                (Ok(_), Err(e)) => {
                    let _ = self.conn.execute_batch("ROLLBACK");
                    Err(self.map_err(e))
                }
                (Err(e), _) => Err(e),
            }
        }
    }

    // ----- running SQL ------------------------------------------------------

    fn prepare<'c>(
        conn: &'c Connection,
        sql: &Sql,
    ) -> rusqlite::Result<rusqlite::CachedStatement<'c>> {
        let mut st = conn.prepare_cached(&sql.text)?;
        let n = st.parameter_count();
        for (i, v) in sql.binds.iter().enumerate().take(n) {
            st.raw_bind_parameter(i + 1, v)?;
        }
        Ok(st)
    }

    fn raw_rows(&self, sql: &Sql) -> Result<Vec<Vec<SqlVal>>, SqlError> {
        let run = || -> rusqlite::Result<Vec<Vec<SqlVal>>> {
            let mut st = Self::prepare(&self.conn, sql)?;
            let ncols = st.column_count();
            let mut rows = st.raw_query();
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                let mut row = Vec::with_capacity(ncols);
                for i in 0..ncols {
                    row.push(r.get::<_, SqlVal>(i)?);
                }
                out.push(row);
            }
            Ok(out)
        };
        run().map_err(|e| self.map_err(e))
    }

    fn run_query_raw(&mut self, p: &QueryPlan) -> Result<Vec<Vec<SqlVal>>, SqlError> {
        if p.lock {
            self.acquire(p.nowait)?;
            let r = self.raw_rows(&p.sql);
            if self.trancount == 0 {
                let _ = self
                    .conn
                    .execute_batch(if r.is_ok() { "COMMIT" } else { "ROLLBACK" });
                self.sqlite_tx = false;
            }
            r
        } else {
            self.raw_rows(&p.sql)
        }
    }

    fn run_query(&mut self, p: &QueryPlan) -> Result<ResultSet, SqlError> {
        let raw = self.run_query_raw(p)?;
        let rows = raw
            .iter()
            .map(|r| {
                r.iter()
                    .zip(p.columns.iter())
                    .map(|(v, c)| from_storage(v.into(), c.ty))
                    .collect()
            })
            .collect();
        Ok(ResultSet {
            columns: p.columns.clone(),
            rows,
        })
    }

    fn eval_scalar(&mut self, p: &QueryPlan) -> Result<SqlVal, SqlError> {
        let rows = self.run_query_raw(p)?;
        Ok(rows
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .unwrap_or(SqlVal::Null))
    }

    fn run_dml(&mut self, p: &DmlPlan) -> Result<u64, SqlError> {
        self.check_perm(&p.table.schema, &p.table.name, p.kind.verb())?;
        for (s, n) in &p.tables {
            if !(s == &p.table.schema && n == &p.table.name) {
                self.check_perm(s, n, "SELECT")?;
            }
        }
        self.write(p.nowait, |s| {
            let r = Self::prepare(&s.conn, &p.sql).and_then(|mut st| st.raw_execute());
            match r {
                Ok(n) => Ok(n as u64),
                Err(e) => Err(s.dml_error(e, p)),
            }
        })
    }

    /// SQL Server's error for a failed INSERT/UPDATE/DELETE.
    fn dml_error(&self, e: rusqlite::Error, p: &DmlPlan) -> SqlError {
        if let Some(err) = self
            .fns
            .error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            return err;
        }
        let (code, msg) = match &e {
            rusqlite::Error::SqliteFailure(f, m) => {
                (f.extended_code, m.clone().unwrap_or_default())
            }
            _ => return self.map_err(e),
        };
        let t = &p.table;
        let qualified = format!("{}.{}.{}", self.db, t.schema, t.name);
        if code == rusqlite::ffi::SQLITE_CONSTRAINT_NOTNULL {
            let col = msg
                .strip_prefix("NOT NULL constraint failed: ")
                .and_then(|r| r.strip_prefix(&format!("{}.", t.sqlite)))
                .unwrap_or("")
                .to_string();
            return errors::null_insert(&col, &qualified, p.kind.verb());
        }
        if code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE {
            let failed = msg.strip_prefix("UNIQUE constraint failed: ").unwrap_or("");
            let index = t.indexes.iter().filter(|i| i.unique).find(|i| {
                let cols: Vec<String> = i
                    .columns
                    .iter()
                    .map(|(c, _)| format!("{}.{}", t.sqlite, t.columns[*c].name))
                    .collect();
                cols.join(", ") == failed
            });
            if let Some(index) = index {
                let value = self.find_duplicate(p, index).unwrap_or_default();
                let object = format!("{}.{}", t.schema, t.name);
                return match index.kind {
                    IndexKind::PrimaryKey => {
                        errors::duplicate_key("PRIMARY KEY", &index.name, &object, &value)
                    }
                    IndexKind::UniqueConstraint => {
                        errors::duplicate_key("UNIQUE KEY", &index.name, &object, &value)
                    }
                    IndexKind::Index => errors::duplicate_index_key(&object, &index.name, &value),
                };
            }
        }
        self.map_err(e)
    }

    /// The key value that violated `index`, found by re-reading what the
    /// failed statement would have written.
    fn find_duplicate(&self, p: &DmlPlan, index: &IndexInfo) -> Option<String> {
        let probe = p.probe.as_ref()?;
        let rows = self.raw_rows(probe).ok()?;
        let t = &p.table;
        let mut seen = HashSet::new();
        let cond: Vec<String> = index
            .columns
            .iter()
            .enumerate()
            .map(|(n, (c, _))| format!("{} = ?{}", quote_ident(&t.columns[*c].name), n + 1))
            .collect();
        let rowid_param = index.columns.len() + 1;
        let check = format!(
            "SELECT 1 FROM {} WHERE {} AND (?{rowid_param} IS NULL OR rowid <> ?{rowid_param}) LIMIT 1",
            quote_ident(&t.sqlite),
            cond.join(" AND ")
        );
        for row in rows {
            let key: Vec<SqlVal> = index
                .columns
                .iter()
                .map(|(c, _)| row[c + 1].clone())
                .collect();
            if key.contains(&SqlVal::Null) {
                continue;
            }
            let shown: Vec<String> = index
                .columns
                .iter()
                .zip(key.iter())
                .map(|((c, _), v)| key_text(v, t.columns[*c].decl))
                .collect();
            let norm = shown.iter().map(|s| s.to_lowercase()).collect::<Vec<_>>();
            if !seen.insert(norm) {
                return Some(shown.join(", "));
            }
            let mut binds = key.clone();
            binds.push(row[0].clone());
            let found = self
                .raw_rows(&Sql {
                    text: check.clone(),
                    binds,
                })
                .ok()?;
            if !found.is_empty() {
                return Some(shown.join(", "));
            }
        }
        None
    }

    /// Maps a SQLite failure to SQL Server's error.
    fn map_err(&self, e: rusqlite::Error) -> SqlError {
        if let Some(err) = self
            .fns
            .error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            return err;
        }
        match &e {
            rusqlite::Error::SqliteFailure(f, msg) => {
                let msg = msg.clone().unwrap_or_default();
                match f.code {
                    ErrorCode::OperationInterrupted => errors::cancelled(),
                    ErrorCode::DatabaseBusy
                        if f.extended_code == rusqlite::ffi::SQLITE_BUSY_SNAPSHOT =>
                    {
                        errors::deadlock(self.spid)
                    }
                    ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => errors::lock_timeout(),
                    ErrorCode::ReadOnly => errors::read_only_database(&self.db),
                    _ => {
                        if let Some(n) = msg.strip_prefix("no such table: ") {
                            errors::invalid_object(n)
                        } else if let Some(n) = msg.strip_prefix("no such column: ") {
                            errors::invalid_column(n.rsplit('.').next().unwrap_or(n))
                        } else if msg.starts_with("misuse of aggregate") {
                            errors::other(
                                147,
                                15,
                                1,
                                "An aggregate may not appear in the WHERE clause unless it is in a subquery contained in a HAVING clause or a select list, and the column being aggregated is an outer reference.",
                            )
                        } else if msg.contains("syntax error") {
                            errors::internal(format!("{msg} (translated SQL rejected by SQLite)"))
                        } else {
                            errors::internal(msg)
                        }
                    }
                }
            }
            other => errors::internal(other),
        }
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
        self.db = canonical;
        self.cat_cache = None;
        Ok(())
    }

    pub fn begin_transaction(&mut self) -> Vec<Item> {
        let mut items = Vec::new();
        self.begin(&mut items);
        items
    }

    pub fn commit_transaction(&mut self) -> Vec<Item> {
        let mut items = Vec::new();
        if let Err(e) = self.commit(&mut items) {
            items.push(Item::Error(e));
        }
        items
    }

    pub fn rollback_transaction(&mut self) -> Vec<Item> {
        let mut items = Vec::new();
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
        self.vars.clear();
        let initial = self.initial_db.clone();
        let _ = self.use_database(&initial);
    }
}

impl Drop for SessionState {
    fn drop(&mut self) {
        if self.sqlite_tx {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
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
