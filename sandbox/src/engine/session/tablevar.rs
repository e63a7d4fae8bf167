//! Table variables at run time: TEMP tables of the session's connection,
//! written without the database's write lock (they live in tempdb in SQL
//! Server, where no other session can see them) and dropped when the
//! batch ends.
//!
//! Unlike SQL Server, rows written to a table variable inside an open
//! transaction are undone by its ROLLBACK (SQLite's TEMP tables are
//! transactional); rows written before the transaction's first write are
//! kept, which is how a change script fills its table variables.

use super::SessionState;
use crate::engine::datatype::{quote_ident, DeclType};
use crate::engine::translate::{DmlPlan, TablePlan, Var};
use crate::types::{Item, SqlError, SqlType};
use rusqlite::types::Value as SqlVal;

/// Whether a DML statement's target is a table variable.
pub(super) fn is_table_var(p: &DmlPlan) -> bool {
    p.table.name.starts_with('@')
}

impl SessionState {
    /// DECLARE @t TABLE: creates the TEMP table.
    pub(super) fn declare_table(
        &mut self,
        tp: TablePlan,
        items: &mut Vec<Item>,
    ) -> Result<(), SqlError> {
        for d in &tp.ddl {
            self.conn.execute_batch(d).map_err(|e| self.map_err(e))?;
        }
        self.table_vars.push(tp.table.sqlite.clone());
        self.vars.insert(
            tp.table.name.to_lowercase(),
            Var {
                decl: DeclType::new(SqlType::Int),
                value: SqlVal::Null,
                table: Some(Box::new(tp.table)),
            },
        );
        self.done(items);
        Ok(())
    }

    /// INSERT/UPDATE/DELETE of a table variable: all or nothing, under a
    /// savepoint of its own.
    pub(super) fn table_var_dml(&mut self, p: &DmlPlan) -> Result<u64, SqlError> {
        for (s, n) in &p.tables {
            if !n.starts_with('@') {
                self.check_perm(s, n, "SELECT")?;
            }
        }
        self.conn
            .execute_batch("SAVEPOINT sbx_tv")
            .map_err(|e| self.map_err(e))?;
        let r = Self::prepare(&self.conn, &p.sql).and_then(|mut st| st.raw_execute());
        let r = match r {
            Ok(n) => Ok(n as u64),
            Err(e) => {
                let err = self.dml_error(e, p);
                let _ = self.conn.execute_batch("ROLLBACK TO sbx_tv");
                Err(err)
            }
        };
        let _ = self.conn.execute_batch("RELEASE sbx_tv");
        r
    }

    /// Drops the batch's table variables. A DROP inside an open
    /// transaction would come back with its ROLLBACK, so such tables are
    /// dropped again once no transaction is open; their names are never
    /// reused.
    pub(super) fn drop_table_vars(&mut self) {
        let names = std::mem::take(&mut self.table_vars);
        let mut left = Vec::new();
        for n in names {
            let dropped = self
                .conn
                .execute_batch(&format!("DROP TABLE IF EXISTS temp.{}", quote_ident(&n)));
            if dropped.is_err() || !self.conn.is_autocommit() {
                left.push(n);
            }
        }
        self.table_vars = left;
        self.vars.retain(|_, v| v.table.is_none());
    }
}
