//! A session's side of the table locks (`engine::locks`): readers wait for
//! another session's exclusive lock, writes and locking reads keep theirs
//! until the transaction ends, and the session's entry in the DMVs.

use super::SessionState;
use crate::engine::catalog::{object_id_of, TableInfo};
use crate::engine::errors;
use crate::engine::locks::{Mode, SessionInfo, WaitEnd};
use crate::engine::translate::{Action, QueryPlan, TableRead};
use crate::types::SqlError;

/// `sys.dm_exec_requests.command` of a statement.
pub(super) fn command_of(action: &Action) -> &'static str {
    match action {
        Action::Dml(p) => p.kind.verb(),
        Action::CreateTable(_) => "CREATE TABLE",
        Action::CreateIndex(_) => "CREATE INDEX",
        Action::DropTables { .. } => "DROP TABLE",
        Action::Begin => "BEGIN TRANSACTION",
        Action::Commit => "COMMIT TRANSACTION",
        Action::Rollback | Action::RollbackTo(_) => "ROLLBACK TRANSACTION",
        Action::WaitFor(_) => "WAITFOR",
        Action::Set(_) | Action::SetVar { .. } => "SET OPTION ON",
        _ => "SELECT",
    }
}

impl SessionState {
    /// `DB_ID()` of the current database.
    pub(super) fn db_id(&self) -> i64 {
        self.shared.db_id(&self.db)
    }

    /// Puts the session in the engine's list of live sessions.
    pub(super) fn register(&self) {
        let now = chrono::Local::now().naive_local();
        self.shared.locks.open(
            self.spid,
            SessionInfo {
                login: self.login.clone(),
                host: String::new(),
                program: String::new(),
                db_id: self.db_id(),
                login_time: now,
                running: false,
                request_start: now,
            },
        );
    }

    /// Makes the session's plain and locking reads ignore other sessions'
    /// table locks (`false`): they see the committed data without waiting,
    /// as an inspection behind the clients' backs should.
    pub(crate) fn set_lock_waits(&mut self, waits: bool) {
        self.lock_waits = waits;
    }

    /// Marks a request as running (or ended), for `sys.dm_exec_requests`.
    pub(crate) fn running(&self, running: bool) {
        let db_id = self.db_id();
        self.shared.locks.update(self.spid, |s| {
            s.running = running;
            s.db_id = db_id;
            if running {
                s.request_start = chrono::Local::now().naive_local();
            }
        });
    }

    /// Before a query reads: VIEW SERVER STATE for the DMVs (297), then
    /// for each table it reads, a wait for any other session's lock that
    /// conflicts (an exclusive lock, for a plain read; 1222 after
    /// LOCK_TIMEOUT), and the locks its hints keep to the end of the
    /// transaction. A locking read takes the database write lock first, so
    /// that only one session ever holds table locks in a database.
    pub(super) fn lock_reads(&mut self, p: &QueryPlan) -> Result<(), SqlError> {
        if p.server_state && self.shared.server_denied("VIEW SERVER STATE") {
            return Err(errors::no_server_permission());
        }
        if p.reads.is_empty() || !self.lock_waits {
            return Ok(());
        }
        if p.lock {
            self.acquire(p.nowait)?;
        }
        let db = self.db_id();
        let timeout = if p.nowait { 0 } else { self.lock_timeout };
        for (schema, name, read) in &p.reads {
            let mode = match read {
                TableRead::Uncommitted => continue,
                TableRead::Committed => Mode::S,
                TableRead::Locking(m) => *m,
            };
            let key = (db, object_id_of(schema, name));
            self.shared
                .locks
                .wait_for(self.spid, key, mode, self.command, timeout, || {
                    self.interrupted()
                })
                .map_err(|end| match end {
                    WaitEnd::TimedOut => errors::lock_timeout(),
                    WaitEnd::Cancelled => errors::cancelled(),
                })?;
            if matches!(read, TableRead::Locking(_)) && self.trancount > 0 && self.sqlite_tx {
                self.shared.locks.grant(self.spid, key.0, key.1, mode);
            }
        }
        Ok(())
    }

    /// After a write to `table`: within a transaction, the session keeps
    /// an exclusive lock on it until the transaction ends.
    pub(super) fn hold_written(&self, table: &TableInfo) {
        if self.trancount > 0 && self.sqlite_tx {
            let object = object_id_of(&table.schema, &table.name);
            self.shared
                .locks
                .grant(self.spid, self.db_id(), object, Mode::X);
        }
    }

    /// The transaction ended (or lost its SQLite transaction): its table
    /// locks go.
    pub(super) fn release_locks(&self) {
        self.shared.locks.release_all(self.spid);
    }
}
