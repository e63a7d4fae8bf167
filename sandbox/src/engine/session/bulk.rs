//! Bulk load at run time: `INSERT BULK` checks its target and remembers
//! it; the BULK_LOAD message that follows inserts its rows with prepared
//! statements under one savepoint (all or nothing, as SQL Server loads one
//! batch), inside the session's transaction when one is open, sorted by
//! the clustered index when the table has one (`bulkorder`), and then 64
//! rows a statement.
//!
//! As SQL Server's default bulk load does: no trigger fires; a NULL takes
//! the column's default unless KEEP_NULLS was asked for; PRIMARY KEY,
//! UNIQUE and NOT NULL are enforced (2627, 2601, 515); INSERT permission
//! is checked. The sandbox enforces no CHECK or FOREIGN KEY constraint
//! anyway, so CHECK_CONSTRAINTS changes nothing.

use super::bulkorder::{RowOrder, RUN_VALUES};
use super::{ErrKind, SessionState};
use crate::engine::bulk;
use crate::engine::catalog::TableInfo;
use crate::engine::datatype::{convert, param_storage, quote_ident, Mode};
use crate::engine::errors;
use crate::engine::translate::{DmlKind, DmlPlan, Sql};
use crate::types::{Column, Item, SqlError, Value};
use rusqlite::types::{Value as SqlVal, ValueRef};

/// What an INSERT BULK prepared for the session's next BULK_LOAD message.
#[derive(Debug, Clone)]
pub(crate) struct BulkTarget {
    table: TableInfo,
    /// Positions in `table.columns`, in the order the rows carry them.
    columns: Vec<usize>,
    keep_nulls: bool,
}

/// Msg 4804: bulk data that ends too early, or that came without a
/// preceding INSERT BULK (the server has no row format to read it with).
pub(crate) fn premature_end() -> SqlError {
    errors::other(
        4804,
        17,
        1,
        "While reading current row from host, a premature end-of-message was encountered--an incoming data stream was interrupted when the server expected to see more data. The host program may have terminated. Ensure that you are using a supported client application programming interface (API).",
    )
}

impl SessionState {
    /// INSERT BULK: the table, its columns and the INSERT permission are
    /// checked now; the rows come with the next request.
    pub(super) fn insert_bulk(&mut self, sql: &str) -> Vec<Item> {
        let mut items = Vec::new();
        match self.bulk_target(sql) {
            Ok(t) => {
                self.bulk = Some(t);
                self.done(&mut items);
            }
            Err(e) => {
                self.fail(e, 1, ErrKind::Compile, &mut items);
            }
        }
        items
    }

    fn bulk_target(&mut self, sql: &str) -> Result<BulkTarget, SqlError> {
        let b = bulk::parse(sql)?;
        let table = self.bulk_table(&b.table)?;
        if !table.name.starts_with('#') {
            self.check_writable()?;
            self.check_perm(&table.schema, &table.name, "INSERT")?;
        }
        let mut columns = Vec::with_capacity(b.columns.len());
        for c in &b.columns {
            let i = table.column(c).ok_or_else(|| errors::invalid_column(c))?;
            if columns.contains(&i) {
                return Err(errors::other(
                    264,
                    16,
                    1,
                    format!("The column name '{c}' is specified more than once in the SET clause or column list of an INSERT. A column cannot be assigned more than one value in the same clause. Modify the clause to make sure that a column is updated only once. If this statement updates or inserts columns into a view, column aliasing can conceal the duplication."),
                ));
            }
            columns.push(i);
        }
        Ok(BulkTarget {
            table,
            columns,
            keep_nulls: b.keep_nulls,
        })
    }

    /// The session's `#name` (also as `tempdb..#name`) or a table of the
    /// current database: 208 otherwise.
    fn bulk_table(&mut self, parts: &[String]) -> Result<TableInfo, SqlError> {
        let shown = parts.join(".");
        let missing = || errors::invalid_object(&shown);
        let name = parts.last().ok_or_else(missing)?;
        if name.starts_with('#') {
            let in_tempdb = match parts.len() {
                1 => true,
                _ => parts[0].is_empty() || parts[0].eq_ignore_ascii_case("tempdb"),
            };
            return self
                .temps
                .live
                .get(&name.to_lowercase())
                .filter(|_| in_tempdb)
                .cloned()
                .ok_or_else(missing);
        }
        let (db, schema) = match parts {
            [_] => (None, None),
            [s, _] => (None, Some(s.as_str())),
            [d, s, _] => (Some(d.as_str()), Some(s.as_str())),
            _ => return Err(missing()),
        };
        if db.is_some_and(|d| !d.is_empty() && !d.eq_ignore_ascii_case(&self.db)) {
            return Err(missing());
        }
        let schema = schema.filter(|s| !s.is_empty());
        self.catalog()?
            .table(schema, name)
            .cloned()
            .ok_or_else(missing)
    }

    /// A BULK_LOAD message: `columns` as its COLMETADATA describes them,
    /// then its rows. Answers the DONE with the row count, or the error.
    pub(crate) fn bulk_load(
        &mut self,
        columns: &[Column],
        rows: &mut dyn Iterator<Item = Result<Vec<Value>, SqlError>>,
    ) -> Vec<Item> {
        let mut items = Vec::new();
        self.interrupt
            .flag
            .store(false, std::sync::atomic::Ordering::SeqCst);
        self.command = "BULK INSERT";
        let Some(target) = self.bulk.take() else {
            self.fail(premature_end(), 1, ErrKind::Runtime, &mut items);
            return items;
        };
        match self.load(&target, columns, rows) {
            Ok(n) => {
                self.rowcount = n as i64;
                self.last_error = 0;
                items.push(Item::Done {
                    rows_affected: Some(n),
                });
            }
            Err(e) => {
                self.fail(e, 1, ErrKind::Runtime, &mut items);
            }
        }
        items
    }

    fn load(
        &mut self,
        t: &BulkTarget,
        wire: &[Column],
        rows: &mut dyn Iterator<Item = Result<Vec<Value>, SqlError>>,
    ) -> Result<u64, SqlError> {
        if wire.is_empty() {
            // The front end could not read the column descriptions.
            if let Some(Err(e)) = rows.next() {
                return Err(e);
            }
        }
        if wire.len() != t.columns.len() {
            return Err(premature_end());
        }
        let sql = self.bulk_sql(t)?;
        let sql = (sql.0.as_str(), sql.1.as_str());
        if t.table.name.starts_with('#') {
            self.keep_temp_before(&t.table.sqlite)?;
            let mut n = 0;
            self.savepoint("sbx_bulk", |s| {
                n = s.insert_rows(t, sql, wire, rows)?;
                Ok(())
            })?;
            Ok(n)
        } else {
            self.check_perm(&t.table.schema, &t.table.name, "INSERT")?;
            let n = self.write(false, |s| s.insert_rows(t, sql, wire, rows))?;
            self.hold_written(&t.table);
            Ok(n)
        }
    }

    /// `INSERT INTO t (cols) VALUES (?1, ...)` for one row, and the same
    /// for [`chunk_rows`] rows at once (`VALUES (...), (...), ...`); without
    /// KEEP_NULLS a NULL takes the column's default, as SQL Server's bulk
    /// load does.
    fn bulk_sql(&self, t: &BulkTarget) -> Result<(String, String), SqlError> {
        let mut defaults = std::collections::HashMap::new();
        if !t.keep_nulls {
            let pragma = format!("PRAGMA table_info({})", quote_ident(&t.table.sqlite));
            let mut st = self.conn.prepare(&pragma).map_err(|e| self.map_err(e))?;
            let found = st
                .query_map([], |r| {
                    Ok((r.get::<_, String>(1)?, r.get::<_, Option<String>>(4)?))
                })
                .and_then(|m| m.collect::<Result<Vec<_>, _>>())
                .map_err(|e| self.map_err(e))?;
            defaults.extend(found.into_iter().filter_map(|(c, d)| Some((c, d?))));
        }
        let names: Vec<String> = t
            .columns
            .iter()
            .map(|&i| quote_ident(&t.table.columns[i].name))
            .collect();
        let width = t.columns.len();
        let row = |r: usize| -> String {
            let values: Vec<String> = t
                .columns
                .iter()
                .enumerate()
                .map(|(k, &i)| {
                    let n = r * width + k + 1;
                    match defaults.get(&t.table.columns[i].name) {
                        Some(d) => format!("coalesce(?{n}, ({d}))"),
                        None => format!("?{n}"),
                    }
                })
                .collect();
            format!("({})", values.join(", "))
        };
        let head = format!(
            "INSERT INTO {} ({}) VALUES ",
            quote_ident(&t.table.sqlite),
            names.join(", ")
        );
        let rows: Vec<String> = (0..chunk_rows(width)).map(row).collect();
        Ok((
            format!("{head}{}", row(0)),
            format!("{head}{}", rows.join(", ")),
        ))
    }

    /// Converts each value to its column's type (SQL Server's errors) and
    /// inserts the rows, in runs sorted by the clustered index when the
    /// table has one (see [`RowOrder`]); stops at the first failure.
    fn insert_rows(
        &self,
        t: &BulkTarget,
        (sql, chunk_sql): (&str, &str),
        wire: &[Column],
        rows: &mut dyn Iterator<Item = Result<Vec<Value>, SqlError>>,
    ) -> Result<u64, SqlError> {
        let qualified = format!("{}.{}.{}", self.db, t.table.schema, t.table.name);
        let mut st = self.conn.prepare(sql).map_err(|e| self.map_err(e))?;
        let order = RowOrder::of(&t.table, &t.columns);
        // Only a sorted run is inserted in chunks: arrival order goes a row
        // at a time, as it comes.
        let mut chunk = match order {
            Some(_) => Some(self.conn.prepare(chunk_sql).map_err(|e| self.map_err(e))?),
            None => None,
        };
        // Rows waiting to be sorted, `wire.len()` values each.
        let mut run: Vec<SqlVal> = Vec::new();
        let mut n = 0u64;
        for row in rows {
            let row = row?;
            if n % 1024 == 0 && self.interrupted() {
                return Err(errors::cancelled());
            }
            if row.len() != wire.len() {
                return Err(premature_end());
            }
            let vals = convert_row(t, &qualified, wire, &row)?;
            n += 1;
            match &order {
                Some(o) => {
                    run.extend(vals);
                    if run.len() >= RUN_VALUES {
                        self.insert_run(&mut st, chunk.as_mut(), t, sql, o, &mut run)?;
                    }
                }
                None => self.insert_row(&mut st, t, sql, &vals)?,
            }
        }
        if let Some(o) = &order {
            self.insert_run(&mut st, chunk.as_mut(), t, sql, o, &mut run)?;
        }
        Ok(n)
    }

    /// Inserts (and empties) a run of converted rows in key order,
    /// [`chunk_rows`] rows a statement through `chunk` where it is given
    /// (SQLite's cost per statement is most of a short row's); a chunk that
    /// breaks a constraint is inserted again a row at a time, so that the
    /// error names the row as a single insert does.
    fn insert_run(
        &self,
        st: &mut rusqlite::Statement<'_>,
        mut chunk: Option<&mut rusqlite::Statement<'_>>,
        t: &BulkTarget,
        sql: &str,
        order: &RowOrder,
        run: &mut Vec<SqlVal>,
    ) -> Result<(), SqlError> {
        let width = t.columns.len();
        let per = chunk_rows(width);
        let sorted = order.sorted(run, width);
        let row = |i: u32| &run[i as usize * width..(i as usize + 1) * width];
        for (n, group) in sorted.chunks(per).enumerate() {
            if n % 16 == 15 && self.interrupted() {
                return Err(errors::cancelled());
            }
            if let Some(c) = chunk.as_deref_mut().filter(|_| group.len() == per) {
                let mut bound = Ok(());
                for (k, v) in group.iter().flat_map(|&i| row(i)).enumerate() {
                    bound = bound.and(c.raw_bind_parameter(k + 1, v));
                }
                if bound.is_ok() {
                    match c.raw_execute() {
                        Ok(_) => continue,
                        // A key or NOT NULL violation: SQLite undid the
                        // statement, and a row at a time finds the row at
                        // fault.
                        Err(rusqlite::Error::SqliteFailure(f, _))
                            if f.code == rusqlite::ErrorCode::ConstraintViolation => {}
                        // Anything else (the disk, an interrupt) may have
                        // ended more than the statement: stop here, as a
                        // single row's failure does.
                        Err(e) => return Err(self.bulk_error(e, t, sql, row(group[0]))),
                    }
                }
                // A value the chunk could not bind was never sent; a row
                // at a time reports it as a single insert does.
            }
            for &i in group {
                self.insert_row(st, t, sql, row(i))?;
            }
        }
        run.clear();
        Ok(())
    }

    /// Inserts one converted row.
    fn insert_row(
        &self,
        st: &mut rusqlite::Statement<'_>,
        t: &BulkTarget,
        sql: &str,
        vals: &[SqlVal],
    ) -> Result<(), SqlError> {
        for (k, v) in vals.iter().enumerate() {
            st.raw_bind_parameter(k + 1, v)
                .map_err(|e| self.map_err(e))?;
        }
        match st.raw_execute() {
            Ok(_) => Ok(()),
            Err(e) => Err(self.bulk_error(e, t, sql, vals)),
        }
    }

    /// SQL Server's error for a row that failed (the duplicate key named
    /// as an INSERT's error names it).
    fn bulk_error(
        &self,
        e: rusqlite::Error,
        t: &BulkTarget,
        sql: &str,
        row: &[SqlVal],
    ) -> SqlError {
        let probe: Vec<String> = std::iter::once("NULL".to_string())
            .chain((0..t.table.columns.len()).map(
                |i| match t.columns.iter().position(|&c| c == i) {
                    Some(k) => format!("?{}", k + 1),
                    None => "NULL".into(),
                },
            ))
            .collect();
        let plan = DmlPlan {
            sql: Sql {
                text: sql.to_string(),
                binds: Vec::new(),
            },
            kind: DmlKind::Insert,
            table: t.table.clone(),
            probe: Some(Sql {
                text: format!("SELECT {}", probe.join(", ")),
                binds: row.to_vec(),
            }),
            nowait: false,
            tables: Vec::new(),
            set_columns: Vec::new(),
        };
        self.dml_error(e, &plan)
    }
}

/// Rows a chunked insert carries: 64, or fewer for rows so wide that 64
/// would pass SQLite's limit of 32,766 parameters a statement.
fn chunk_rows(width: usize) -> usize {
    (32_766 / width.max(1)).clamp(1, 64)
}

/// One row's values converted to their columns' types, with SQL Server's
/// errors (`qualified` names the table in them).
fn convert_row(
    t: &BulkTarget,
    qualified: &str,
    wire: &[Column],
    row: &[Value],
) -> Result<Vec<SqlVal>, SqlError> {
    let mut vals = Vec::with_capacity(row.len());
    for (k, v) in row.iter().enumerate() {
        let col = &t.table.columns[t.columns[k]];
        let stored = param_storage(wire[k].ty, v);
        let mode = Mode::Assign {
            table: qualified,
            column: &col.name,
        };
        vals.push(convert(
            ValueRef::from(&stored),
            col.decl,
            wire[k].ty.type_name(),
            None,
            &mode,
        )?);
    }
    Ok(vals)
}
