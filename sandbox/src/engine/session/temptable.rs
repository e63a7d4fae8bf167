//! Local temporary tables (`#name`) at run time: TEMP tables of the
//! session's connection, which live until DROP TABLE, a session reset or
//! the end of the connection (when SQLite drops them with it).
//!
//! They live in SQLite's `temp` database, so writing them never takes the
//! user database's write lock, as SQL Server's live in tempdb: a session
//! fills its `#keys` while another holds a write transaction.
//!
//! Unlike table variables they are transactional, as in SQL Server: a
//! ROLLBACK undoes rows written, tables created and tables dropped inside
//! the transaction. Inside the session's SQLite transaction (once the
//! write lock is held) SQLite undoes them itself. Before that, writes run
//! in autocommit (taking the lock for them would block on other
//! sessions), so the first such write to a table copies it, and a
//! ROLLBACK puts the copy back; a table dropped inside a transaction is
//! only dropped in SQLite when the transaction commits.
//!
//! Left alone: ROLLBACK TRANSACTION to a savepoint undoes only what the
//! SQLite savepoint undoes (autocommitted writes made before the write
//! lock stay), and USE, which opens a new SQLite connection, loses the
//! session's temporary tables.

use super::SessionState;
use crate::engine::catalog::TableInfo;
use crate::engine::datatype::{quote_ident, DeclType};
use crate::engine::errors;
use crate::engine::translate::{DmlPlan, TablePlan, Var};
use crate::types::{Item, SqlError, SqlType};
use rusqlite::types::Value as SqlVal;
use std::collections::HashMap;

/// The session's temporary tables and what its open transaction did to
/// them.
#[derive(Debug, Default)]
pub(super) struct TempTables {
    /// Tables by lowercase `#name`.
    pub(super) live: HashMap<String, TableInfo>,
    /// SQLite names of the tables created in the open transaction.
    created: Vec<String>,
    /// Tables dropped in the open transaction that existed before it:
    /// still in SQLite until it commits.
    dropped: Vec<TableInfo>,
    /// (table, copy) for each table written outside SQLite's transaction
    /// in the open transaction: SQLite names, the copy holding the rows
    /// as they were before.
    copies: Vec<(String, String)>,
}

/// Whether a DML statement's target is a temporary table.
pub(super) fn is_temp_table(p: &DmlPlan) -> bool {
    p.table.name.starts_with('#')
}

fn temp(sqlite: &str) -> String {
    format!("temp.{}", quote_ident(sqlite))
}

impl SessionState {
    /// Makes the session's temporary tables visible to translation, as
    /// table-valued entries of the variables under their `#` names.
    pub(super) fn publish_temp_tables(&mut self) {
        self.vars.retain(|k, _| !k.starts_with('#'));
        for (k, t) in &self.temps.live {
            self.vars.insert(
                k.clone(),
                Var {
                    decl: DeclType::new(SqlType::Int),
                    value: SqlVal::Null,
                    table: Some(Box::new(t.clone())),
                },
            );
        }
    }

    /// Lowercase `#name` -> object id, for OBJECT_ID('tempdb..#name').
    pub(super) fn temp_object_ids(&self) -> HashMap<String, i64> {
        self.temps
            .live
            .iter()
            .map(|(k, t)| (k.clone(), t.object_id))
            .collect()
    }

    /// CREATE TABLE #name: Msg 2714 if the session has one already.
    pub(super) fn create_temp_table(
        &mut self,
        tp: TablePlan,
        items: &mut Vec<Item>,
    ) -> Result<(), SqlError> {
        let key = tp.table.name.to_lowercase();
        if self.temps.live.contains_key(&key) {
            return Err(errors::already_exists(&tp.table.name));
        }
        self.savepoint("sbx_tt", |s| {
            for d in &tp.ddl {
                s.conn.execute_batch(d).map_err(|e| s.map_err(e))?;
            }
            Ok(())
        })?;
        if self.trancount > 0 {
            self.temps.created.push(tp.table.sqlite.clone());
        }
        self.temps.live.insert(key, tp.table);
        self.publish_temp_tables();
        self.rowcount = 0;
        self.done(items);
        Ok(())
    }

    /// DROP TABLE #name. Inside a transaction a table that existed before
    /// it stays in SQLite until COMMIT, so that ROLLBACK can bring it back.
    pub(super) fn drop_temp_table(&mut self, t: &TableInfo) -> Result<(), SqlError> {
        self.temps.live.remove(&t.name.to_lowercase());
        self.publish_temp_tables();
        if self.trancount > 0 && !self.temps.created.contains(&t.sqlite) {
            self.temps.dropped.push(t.clone());
            return Ok(());
        }
        self.conn
            .execute_batch(&format!("DROP TABLE IF EXISTS {}", temp(&t.sqlite)))
            .map_err(|e| self.map_err(e))
    }

    /// INSERT/UPDATE/DELETE of a temporary table: inside a transaction
    /// but outside SQLite's, the table is copied first (once) so that a
    /// ROLLBACK can undo the write.
    pub(super) fn temp_table_dml(&mut self, p: &DmlPlan) -> Result<u64, SqlError> {
        self.keep_temp_before(&p.table.sqlite)?;
        self.table_var_dml(p)
    }

    /// Before a write to a temporary table: inside a transaction but
    /// outside SQLite's, the table is copied (once) so that a ROLLBACK
    /// can undo the write.
    pub(super) fn keep_temp_before(&mut self, sqlite: &str) -> Result<(), SqlError> {
        let sqlite = &sqlite.to_string();
        if self.trancount > 0
            && !self.sqlite_tx
            && !self.temps.created.contains(sqlite)
            && !self.temps.copies.iter().any(|(t, _)| t == sqlite)
        {
            let copy = format!("{sqlite}|before");
            self.conn
                .execute_batch(&format!(
                    "DROP TABLE IF EXISTS {c}; CREATE TEMP TABLE {} AS SELECT * FROM {}",
                    quote_ident(&copy),
                    temp(sqlite),
                    c = temp(&copy),
                ))
                .map_err(|e| self.map_err(e))?;
            self.temps.copies.push((sqlite.clone(), copy));
        }
        Ok(())
    }

    /// The end of the session's transaction, after SQLite's COMMIT or
    /// ROLLBACK: drops what COMMIT made final, or undoes what ROLLBACK
    /// must (SQLite has undone the rest).
    pub(super) fn end_temp_transaction(&mut self, committed: bool) {
        let t = std::mem::take(&mut self.temps);
        self.temps.live = t.live;
        let mut sql = Vec::new();
        if committed {
            sql.extend(
                t.dropped
                    .iter()
                    .map(|d| format!("DROP TABLE IF EXISTS {}", temp(&d.sqlite))),
            );
        } else {
            for c in &t.created {
                self.temps.live.retain(|_, x| x.sqlite != *c);
                sql.push(format!("DROP TABLE IF EXISTS {}", temp(c)));
            }
            for d in t.dropped {
                self.temps.live.insert(d.name.to_lowercase(), d);
            }
            for (table, copy) in &t.copies {
                sql.push(format!(
                    "DELETE FROM {t}; INSERT INTO {t} SELECT * FROM {c}",
                    t = temp(table),
                    c = temp(copy)
                ));
            }
        }
        sql.extend(
            t.copies
                .iter()
                .map(|(_, c)| format!("DROP TABLE IF EXISTS {}", temp(c))),
        );
        for s in sql {
            if let Err(e) = self.conn.execute_batch(&s) {
                tracing::warn!(error = %e, "temporary table cleanup failed");
            }
        }
        self.publish_temp_tables();
    }

    /// After ROLLBACK TRANSACTION to a savepoint: forgets the tables
    /// whose CREATE SQLite has undone.
    pub(super) fn prune_temp_tables(&mut self) {
        let exists = |s: &SessionState, sqlite: &str| {
            s.conn
                .query_row(
                    "SELECT 1 FROM sqlite_temp_master WHERE type = 'table' AND name = ?1",
                    [sqlite],
                    |_| Ok(()),
                )
                .is_ok()
        };
        let gone: Vec<String> = self
            .temps
            .live
            .iter()
            .filter(|(_, t)| !exists(self, &t.sqlite))
            .map(|(k, _)| k.clone())
            .collect();
        for k in gone {
            self.temps.live.remove(&k);
        }
        self.publish_temp_tables();
    }

    /// A session reset: every temporary table goes (after the reset's
    /// ROLLBACK).
    pub(super) fn drop_all_temp_tables(&mut self) {
        let t = std::mem::take(&mut self.temps);
        let names = t
            .live
            .values()
            .chain(t.dropped.iter())
            .map(|x| x.sqlite.clone())
            .chain(t.created)
            .chain(t.copies.into_iter().map(|(_, c)| c));
        for n in names {
            let _ = self
                .conn
                .execute_batch(&format!("DROP TABLE IF EXISTS {}", temp(&n)));
        }
        self.publish_temp_tables();
    }

    /// USE opened a new connection: its TEMP tables are gone with the old.
    pub(super) fn forget_temp_tables(&mut self) {
        self.temps = TempTables::default();
        self.publish_temp_tables();
    }

    /// Runs `f` under a SQLite savepoint of its own: all or nothing,
    /// inside the session's SQLite transaction or in autocommit.
    pub(super) fn savepoint(
        &mut self,
        name: &str,
        f: impl FnOnce(&mut Self) -> Result<(), SqlError>,
    ) -> Result<(), SqlError> {
        self.conn
            .execute_batch(&format!("SAVEPOINT {name}"))
            .map_err(|e| self.map_err(e))?;
        let r = f(self);
        if r.is_err() {
            let _ = self.conn.execute_batch(&format!("ROLLBACK TO {name}"));
        }
        let _ = self.conn.execute_batch(&format!("RELEASE {name}"));
        r
    }
}
