//! Running translated statements on SQLite: queries, DML (with SQL
//! Server's duplicate key messages), variables and WAITFOR.

use super::{key_text, SessionState};
use crate::engine::catalog::{IndexInfo, IndexKind};
use crate::engine::datatype::{from_storage, quote_ident, DeclType};
use crate::engine::errors;
use crate::engine::translate::{DmlPlan, QueryPlan, Sql, Var};
use crate::types::{Cell, Item, ResultSet, Sink, SqlError, SqlType, Value};
use rusqlite::types::{Value as SqlVal, ValueRef};
use rusqlite::{Connection, ErrorCode};
use std::collections::HashSet;
use std::time::{Duration, Instant};

impl SessionState {
    // ----- running SQL ------------------------------------------------------

    pub(super) fn prepare<'c>(
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

    pub(super) fn raw_rows(&self, sql: &Sql) -> Result<Vec<Vec<SqlVal>>, SqlError> {
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

    pub(super) fn run_query_raw(&mut self, p: &QueryPlan) -> Result<Vec<Vec<SqlVal>>, SqlError> {
        self.reading(p, |s| s.raw_rows(&p.sql))
    }

    /// Runs `read` under the locks the query takes: waits for other
    /// sessions' table locks, and for a locking read outside a
    /// transaction holds the write lock only for the statement.
    fn reading<T>(
        &mut self,
        p: &QueryPlan,
        read: impl FnOnce(&Self) -> Result<T, SqlError>,
    ) -> Result<T, SqlError> {
        self.lock_reads(p)?;
        if p.lock {
            self.acquire(p.nowait)?;
            let r = read(self);
            if self.trancount == 0 {
                let _ = self
                    .conn
                    .execute_batch(if r.is_ok() { "COMMIT" } else { "ROLLBACK" });
                self.sqlite_tx = false;
            }
            r
        } else {
            read(self)
        }
    }

    /// Where result sets stream to, if anywhere.
    pub(crate) fn set_sink(&mut self, sink: Option<super::SharedSink>) {
        self.sink = sink;
    }

    /// A result set streamed to `sink` as SQLite steps, after the items
    /// before it: no row is kept. Returns the row count.
    fn stream_query(
        &mut self,
        p: &QueryPlan,
        sink: &super::SharedSink,
        items: &mut Vec<Item>,
    ) -> Result<u64, SqlError> {
        let mut sink = sink.lock().unwrap_or_else(|p| p.into_inner());
        sink.items(items);
        self.reading(p, |s| s.stream_rows(p, &mut *sink))
    }

    fn stream_rows(&self, p: &QueryPlan, sink: &mut dyn Sink) -> Result<u64, SqlError> {
        let mut st = Self::prepare(&self.conn, &p.sql).map_err(|e| self.map_err(e))?;
        let mut rows = st.raw_query();
        sink.begin_rows(&p.columns);
        let mut n = 0u64;
        while let Some(row) = rows.next().map_err(|e| self.map_err(e))? {
            if self.interrupted() {
                return Err(errors::cancelled());
            }
            sink.begin_row();
            for (i, c) in p.columns.iter().enumerate() {
                let v = row.get_ref(i).map_err(|e| self.map_err(e))?;
                sink.cell(stored_cell(v, c.ty))?;
            }
            sink.end_row()?;
            n += 1;
        }
        sink.end_rows(n);
        Ok(n)
    }

    pub(super) fn run_query(&mut self, p: &QueryPlan) -> Result<ResultSet, SqlError> {
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

    pub(super) fn eval_scalar(&mut self, p: &QueryPlan) -> Result<SqlVal, SqlError> {
        let rows = self.run_query_raw(p)?;
        Ok(rows
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .unwrap_or(SqlVal::Null))
    }

    pub(super) fn run_dml(&mut self, p: &DmlPlan) -> Result<u64, SqlError> {
        self.check_perm(&p.table.schema, &p.table.name, p.kind.verb())?;
        self.check_column_perms(p)?;
        for (s, n) in &p.tables {
            if !(s == &p.table.schema && n == &p.table.name) {
                self.check_perm(s, n, "SELECT")?;
            }
        }
        self.trigger_failed = false;
        self.write(p.nowait, |s| s.dml_fired(p, 0))
    }

    /// Column-level DENY UPDATE on a column the UPDATE sets: Msg 230.
    fn check_column_perms(&self, p: &DmlPlan) -> Result<(), SqlError> {
        let (_, denied) = self.shared.flags(&self.db);
        let t = &p.table;
        let key = format!("{}.{}", t.schema.to_lowercase(), t.name.to_lowercase());
        for c in &p.set_columns {
            let perm = crate::engine::functions::column_permission(p.kind.verb(), c);
            if denied.contains(&(key.clone(), perm)) {
                return Err(errors::column_permission_denied(
                    p.kind.verb(),
                    c,
                    &t.name,
                    &self.db,
                    &t.schema,
                ));
            }
        }
        Ok(())
    }

    /// SQL Server's error for a failed INSERT/UPDATE/DELETE.
    pub(super) fn dml_error(&self, e: rusqlite::Error, p: &DmlPlan) -> SqlError {
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
    pub(super) fn find_duplicate(&self, p: &DmlPlan, index: &IndexInfo) -> Option<String> {
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
    pub(super) fn map_err(&self, e: rusqlite::Error) -> SqlError {
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

    /// A SELECT: a result set, or `SELECT @v = ...` assigning from its last row.
    pub(super) fn exec_query(
        &mut self,
        p: QueryPlan,
        items: &mut Vec<Item>,
    ) -> Result<(), SqlError> {
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
        } else if let Some(sink) = self.sink.clone() {
            self.rowcount = self.stream_query(&p, &sink, items)? as i64;
        } else {
            let rs = self.run_query(&p)?;
            self.rowcount = rs.rows.len() as i64;
            items.push(Item::Rows(rs));
        }
        Ok(())
    }

    /// PRINT: an INFO message.
    pub(super) fn print(&mut self, p: QueryPlan, items: &mut Vec<Item>) -> Result<(), SqlError> {
        let v = self.eval_scalar(&p)?;
        let text = match from_storage((&v).into(), p.columns[0].ty) {
            Value::Text(s) => s,
            _ => String::new(),
        };
        items.push(Item::Info {
            number: 0,
            message: text,
        });
        Ok(())
    }

    /// DECLARE: each variable with its initial value (NULL if none).
    pub(super) fn declare(
        &mut self,
        list: Vec<(String, DeclType, Option<QueryPlan>)>,
        items: &mut Vec<Item>,
    ) -> Result<(), SqlError> {
        for (name, decl, init) in list {
            let value = match init {
                Some(p) => self.eval_scalar(&p)?,
                None => SqlVal::Null,
            };
            self.vars
                .insert(name.to_lowercase(), Var::scalar(decl, value));
        }
        self.done(items);
        Ok(())
    }

    /// WAITFOR DELAY: sleeps in short steps so that an attention cancels it.
    pub(super) fn wait_for(&mut self, d: Duration, items: &mut Vec<Item>) -> Result<(), SqlError> {
        let end = Instant::now() + d;
        while Instant::now() < end {
            if self.interrupted() {
                return Err(errors::cancelled());
            }
            std::thread::sleep((end - Instant::now()).min(Duration::from_millis(10)));
        }
        self.done(items);
        Ok(())
    }
}

/// A stored value as the client gets it: text as it is (it is the common
/// case, and copying it would cost an allocation a row), anything else
/// converted as `from_storage` converts it.
fn stored_cell(v: ValueRef<'_>, ty: SqlType) -> Cell<'_> {
    match (ty, v) {
        (SqlType::NVarChar(_) | SqlType::VarChar(_), ValueRef::Text(t)) => {
            match std::str::from_utf8(t) {
                Ok(s) => Cell::Text(s),
                Err(_) => Cell::Value(from_storage(v, ty)),
            }
        }
        _ => Cell::Value(from_storage(v, ty)),
    }
}
