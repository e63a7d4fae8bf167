//! Permissions, transactions, savepoints and the database write lock.

use super::{is_busy, SessionState};
use crate::engine::errors;
use crate::types::{Item, SqlError, TxChange};
use std::time::{Duration, Instant};

impl SessionState {
    // ----- permissions ------------------------------------------------------

    pub(super) fn check_perm(&self, schema: &str, name: &str, perm: &str) -> Result<(), SqlError> {
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

    pub(super) fn check_select(&self, tables: &[(String, String)]) -> Result<(), SqlError> {
        for (s, n) in tables {
            self.check_perm(s, n, "SELECT")?;
        }
        Ok(())
    }

    pub(super) fn check_writable(&self) -> Result<(), SqlError> {
        if self.shared.flags(&self.db).0 {
            return Err(errors::read_only_database(&self.db));
        }
        Ok(())
    }

    // ----- transactions and locks ------------------------------------------

    pub(super) fn begin(&mut self, items: &mut Vec<Item>) {
        if self.trancount == 0 {
            let id = self.shared.next_tx();
            self.tx = Some(id);
            items.push(Item::Tx(TxChange::Begin(id)));
        }
        self.trancount += 1;
    }

    pub(super) fn commit(&mut self, items: &mut Vec<Item>) -> Result<(), SqlError> {
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

    pub(super) fn end_transaction(&mut self, committed: bool, items: &mut Vec<Item>) {
        self.savepoints.clear();
        self.release_locks();
        if self.trancount > 0 {
            self.trancount = 0;
            self.end_temp_transaction(committed);
            if let Some(id) = self.tx.take() {
                items.push(Item::Tx(if committed {
                    TxChange::Commit(id)
                } else {
                    TxChange::Rollback(id)
                }));
            }
        }
    }

    pub(super) fn rollback_all(&mut self, items: &mut Vec<Item>) {
        if self.sqlite_tx {
            let _ = self.conn.execute_batch("ROLLBACK");
            self.sqlite_tx = false;
        }
        self.end_transaction(false, items);
    }

    /// Takes the database write lock (BEGIN IMMEDIATE), waiting up to the
    /// lock timeout for another session's write transaction: every write
    /// waits here, whatever table another session has locked.
    pub(super) fn acquire(&mut self, nowait: bool) -> Result<(), SqlError> {
        if self.sqlite_tx {
            return Ok(());
        }
        let timeout = if nowait { 0 } else { self.lock_timeout };
        let start = Instant::now();
        let db = self.db_id();
        let _ = self.conn.busy_timeout(Duration::ZERO);
        let result = loop {
            match self.conn.execute_batch("BEGIN IMMEDIATE") {
                Ok(()) => break Ok(()),
                Err(e) if is_busy(&e) => {
                    // Shown in sys.dm_exec_requests while it waits.
                    self.shared.locks.waiting_for_database(
                        self.spid,
                        db,
                        self.command,
                        Some(start),
                    );
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
        self.shared
            .locks
            .waiting_for_database(self.spid, db, self.command, None);
        let _ = self.conn.busy_timeout(Duration::from_secs(10));
        if result.is_ok() {
            self.sqlite_tx = true;
        }
        result
    }

    /// Runs `f` holding the write lock: within the session's transaction
    /// (under a savepoint, so a failing statement undoes only itself), or
    /// as an autocommit statement of its own.
    pub(super) fn write<T>(
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

    /// SAVE TRANSACTION: a SQLite savepoint once the write lock is held,
    /// else just the name (nothing to undo yet).
    pub(super) fn save(&mut self, name: String, items: &mut Vec<Item>) -> Result<(), SqlError> {
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
        Ok(())
    }

    /// ROLLBACK TRANSACTION name: to the savepoint, or everything for the
    /// outermost transaction's name.
    pub(super) fn rollback_to(
        &mut self,
        name: String,
        items: &mut Vec<Item>,
    ) -> Result<(), SqlError> {
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
                        // Table locks are held only with the write lock.
                        self.release_locks();
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
        Ok(())
    }
}
