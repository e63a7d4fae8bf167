//! AFTER triggers at run time. The triggering statement runs with SQLite
//! TEMP triggers copying the before and after images of exactly the rows
//! it touches into two TEMP tables (`deleted`, `inserted`); then each T-SQL
//! trigger's statements run in the same transaction, each answering with a
//! DONEINPROC before the triggering statement's own DONE, as in SQL Server.
//! An error inside a trigger rolls the transaction back and ends the batch
//! (triggers run as if XACT_ABORT were ON).

use super::SessionState;
use crate::engine::catalog::{TableInfo, TriggerInfo};
use crate::engine::datatype::quote_ident;
use crate::engine::errors;
use crate::engine::translate::{
    check_body_action, plan, pseudo_tables, trigger_body, Action, DmlPlan, SetOption, TriggerPlan,
};
use crate::types::{Item, SqlError};
use std::sync::atomic::{AtomicU64, Ordering};

/// Makes every capture's TEMP names unique (nested triggers each have one).
static NEXT: AtomicU64 = AtomicU64::new(1);

/// SQL Server's nesting limit for triggers.
const MAX_NESTING: u32 = 32;

/// The TEMP tables and TEMP trigger of one firing.
struct Capture {
    inserted: String,
    deleted: String,
    trigger: String,
}

impl SessionState {
    /// CREATE TRIGGER: its marker table, in one write.
    pub(super) fn create_trigger(
        &mut self,
        tp: TriggerPlan,
        items: &mut Vec<Item>,
    ) -> Result<(), SqlError> {
        let cat = self.catalog()?;
        if cat.trigger(&tp.schema, &tp.name).is_some() || cat.object_exists(&tp.schema, &tp.name) {
            return Err(errors::already_exists(&tp.name));
        }
        let marker = quote_ident(&TriggerInfo::marker(&tp.schema, &tp.name));
        self.write(false, |s| {
            s.conn
                .execute_batch(&format!(
                    "CREATE TABLE {marker} (parent TEXT, events TEXT, disabled INT, definition TEXT)"
                ))
                .and_then(|_| {
                    s.conn.execute(
                        &format!("INSERT INTO {marker} VALUES (?1, ?2, 0, ?3)"),
                        [&tp.table.sqlite, &tp.events, &tp.definition],
                    )
                })
                .map(|_| ())
                .map_err(|e| s.map_err(e))
        })?;
        self.done(items);
        Ok(())
    }

    /// DROP TRIGGER.
    pub(super) fn drop_trigger(
        &mut self,
        t: Option<TriggerInfo>,
        items: &mut Vec<Item>,
    ) -> Result<(), SqlError> {
        if let Some(t) = t {
            self.drop_trigger_markers(&[t])?;
        }
        self.done(items);
        Ok(())
    }

    /// Drops triggers' marker tables (DROP TRIGGER, or DROP TABLE of
    /// their table).
    pub(super) fn drop_trigger_markers(&mut self, list: &[TriggerInfo]) -> Result<(), SqlError> {
        if list.is_empty() {
            return Ok(());
        }
        self.write(false, |s| {
            for t in list {
                let marker = quote_ident(&TriggerInfo::marker(&t.schema, &t.name));
                s.conn
                    .execute_batch(&format!("DROP TABLE IF EXISTS {marker}"))
                    .map_err(|e| s.map_err(e))?;
            }
            Ok(())
        })
    }

    /// Runs a DML statement's SQL and then the AFTER triggers on its table
    /// (with the write lock held). `depth` counts nested triggers.
    pub(super) fn dml_fired(&mut self, p: &DmlPlan, depth: u32) -> Result<u64, SqlError> {
        let cat = self.catalog()?;
        let triggers: Vec<TriggerInfo> = cat
            .triggers_for(&p.table.sqlite, p.kind.verb())
            .into_iter()
            .cloned()
            .collect();
        if triggers.is_empty() {
            return self.dml_sql(p);
        }
        if depth >= MAX_NESTING {
            self.trigger_failed = true;
            return Err(errors::other(
                217,
                16,
                1,
                "Maximum stored procedure, function, trigger, or view nesting level exceeded (limit 32).",
            ));
        }
        let cap = self.start_capture(&p.table, p.kind.verb())?;
        let r = self.dml_sql(p);
        let _ = self.conn.execute_batch(&format!(
            "DROP TRIGGER IF EXISTS temp.{}",
            quote_ident(&cap.trigger)
        ));
        let fired = r.and_then(|n| {
            for t in &triggers {
                self.run_trigger(t, &p.table, &cap, depth)?;
            }
            Ok(n)
        });
        let _ = self.conn.execute_batch(&format!(
            "DROP TABLE IF EXISTS temp.{}; DROP TABLE IF EXISTS temp.{}",
            quote_ident(&cap.inserted),
            quote_ident(&cap.deleted)
        ));
        fired
    }

    /// The statement's own SQL.
    fn dml_sql(&mut self, p: &DmlPlan) -> Result<u64, SqlError> {
        let r = Self::prepare(&self.conn, &p.sql).and_then(|mut st| st.raw_execute());
        match r {
            Ok(n) => Ok(n as u64),
            Err(e) => Err(self.dml_error(e, p)),
        }
    }

    /// TEMP tables shaped like the table, and a TEMP trigger filling them.
    fn start_capture(&mut self, t: &TableInfo, verb: &str) -> Result<Capture, SqlError> {
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        let cap = Capture {
            inserted: format!("sbx_inserted|{id}"),
            deleted: format!("sbx_deleted|{id}"),
            trigger: format!("sbx_capture|{id}"),
        };
        let cols: Vec<String> = t.columns.iter().map(|c| quote_ident(&c.name)).collect();
        let image = |row: &str| {
            cols.iter()
                .map(|c| format!("{row}.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut body = String::new();
        if verb != "INSERT" {
            body.push_str(&format!(
                "INSERT INTO {} VALUES ({}); ",
                quote_ident(&cap.deleted),
                image("OLD")
            ));
        }
        if verb != "DELETE" {
            body.push_str(&format!(
                "INSERT INTO {} VALUES ({}); ",
                quote_ident(&cap.inserted),
                image("NEW")
            ));
        }
        let table = quote_ident(&t.sqlite);
        let sql = format!(
            "CREATE TEMP TABLE {ins} AS SELECT * FROM main.{table} WHERE 0; \
             CREATE TEMP TABLE {del} AS SELECT * FROM main.{table} WHERE 0; \
             CREATE TEMP TRIGGER {trg} AFTER {verb} ON {table} BEGIN {body}END;",
            ins = quote_ident(&cap.inserted),
            del = quote_ident(&cap.deleted),
            trg = quote_ident(&cap.trigger),
        );
        self.conn.execute_batch(&sql).map_err(|e| self.map_err(e))?;
        Ok(cap)
    }

    /// One trigger's statements, with `inserted`/`deleted` bound to the
    /// capture. NOCOUNT set inside the trigger ends with it.
    fn run_trigger(
        &mut self,
        t: &TriggerInfo,
        table: &TableInfo,
        cap: &Capture,
        depth: u32,
    ) -> Result<(), SqlError> {
        let fail = |s: &mut Self, e: SqlError| {
            s.trigger_failed = true;
            e
        };
        let body = trigger_body(&t.definition).map_err(|e| fail(self, e))?;
        let vars = pseudo_tables(table, &cap.inserted, &cap.deleted);
        let mut nocount = self.nocount;
        for stmt in &body {
            let cat = self.catalog().map_err(|e| fail(self, e))?;
            let dbs = self.dbs();
            let server = self.shared.server_name();
            let action = {
                let env = self.env(&cat, &vars, &[], &dbs, &server);
                plan(&env, stmt).and_then(|a| check_body_action(a, stmt))
            };
            match action.map_err(|e| fail(self, e))? {
                Action::Set(SetOption::NoCount(b)) => nocount = b,
                Action::Dml(dp) => {
                    let n = self.dml_fired(&dp, depth + 1).map_err(|e| fail(self, e))?;
                    self.rowcount = n as i64;
                    // NOCOUNT ON suppresses a trigger statement's
                    // DONEINPROC altogether, not only its count.
                    if !nocount {
                        self.trigger_items.push(Item::DoneInProc {
                            rows_affected: Some(n),
                        });
                    }
                }
                _ => return Err(fail(self, crate::engine::translate::refuse(stmt))),
            }
        }
        Ok(())
    }
}
