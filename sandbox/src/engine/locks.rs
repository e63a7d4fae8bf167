//! Table locks between sessions, as SQL Server's default READ COMMITTED
//! (READ_COMMITTED_SNAPSHOT off) makes them matter to a client: a reader
//! of a table that another session has written in an open transaction
//! waits until that transaction ends or LOCK_TIMEOUT runs out (1222).
//!
//! Granularity is the table (an OBJECT resource), not the row: a session
//! that wrote a table holds X on it, a session that read it with UPDLOCK
//! holds U, with HOLDLOCK (or another locking hint) S, until its
//! transaction ends. Plain reads take no lock that outlives the statement;
//! they only wait for a conflicting one. Underneath, SQLite still allows
//! one writer per database, and a session takes these locks only once it
//! holds that write lock (and gives them up when it loses it): so two
//! writers of different tables still serialize there, which SQL Server
//! would not make them do, and no two sessions ever wait for each other.
//!
//! The table also knows every live session and what each one waits for,
//! which is what `sys.dm_tran_locks`, `sys.dm_exec_requests` and
//! `sys.dm_exec_sessions` show.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A lock mode, as `sys.dm_tran_locks.request_mode` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Mode {
    /// Shared: what a plain read asks for, and HOLDLOCK keeps.
    S,
    /// Update: UPDLOCK.
    U,
    /// Exclusive: a write, or XLOCK.
    X,
}

impl Mode {
    /// `request_mode`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::S => "S",
            Mode::U => "U",
            Mode::X => "X",
        }
    }

    /// SQL Server's compatibility matrix for these three modes.
    fn compatible(self, other: Mode) -> bool {
        matches!(
            (self, other),
            (Mode::S, Mode::S) | (Mode::S, Mode::U) | (Mode::U, Mode::S)
        )
    }
}

/// What a session waits for.
#[derive(Debug, Clone)]
pub(crate) enum Resource {
    /// A table: (database id, object id).
    Object(i64, i64),
    /// A database's write lock (SQLite's one writer).
    Database(i64),
}

/// A lock held on a table.
#[derive(Debug, Clone)]
pub(crate) struct Held {
    pub spid: u16,
    pub db_id: i64,
    pub object_id: i64,
    pub mode: Mode,
}

/// A session's wait.
#[derive(Debug, Clone)]
pub(crate) struct Waiting {
    pub spid: u16,
    pub resource: Resource,
    pub mode: Mode,
    pub since: Instant,
    /// The session it waits for (0 when it is not known).
    pub blocker: u16,
    /// `sys.dm_exec_requests.command`.
    pub command: &'static str,
}

/// A live session, for `sys.dm_exec_sessions`.
#[derive(Debug, Clone)]
pub(crate) struct SessionInfo {
    pub login: String,
    pub host: String,
    pub program: String,
    pub db_id: i64,
    pub login_time: chrono::NaiveDateTime,
    /// A request is running.
    pub running: bool,
    /// When the running (or last) request started.
    pub request_start: chrono::NaiveDateTime,
}

/// Everything the DMVs show, copied out at one moment.
#[derive(Debug, Clone, Default)]
pub(crate) struct LockSnapshot {
    pub held: Vec<Held>,
    pub waiting: Vec<Waiting>,
    pub sessions: BTreeMap<u16, SessionInfo>,
}

#[derive(Default)]
struct State {
    held: Vec<Held>,
    waiting: HashMap<u16, Waiting>,
    sessions: BTreeMap<u16, SessionInfo>,
}

/// How a wait ended when it did not get the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WaitEnd {
    /// LOCK_TIMEOUT ran out: 1222.
    TimedOut,
    /// An attention cancelled the statement.
    Cancelled,
}

/// The locks of one engine (all its databases).
#[derive(Default)]
pub(crate) struct LockTable {
    state: Mutex<State>,
    changed: Condvar,
}

/// How often a waiter looks at its interrupt flag.
const POLL: Duration = Duration::from_millis(10);

impl LockTable {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The session holding a lock on the table that `mode` conflicts
    /// with, other than `spid`.
    fn conflict(st: &State, spid: u16, db_id: i64, object_id: i64, mode: Mode) -> Option<u16> {
        st.held
            .iter()
            .find(|h| {
                h.spid != spid
                    && h.db_id == db_id
                    && h.object_id == object_id
                    && !h.mode.compatible(mode)
            })
            .map(|h| h.spid)
    }

    /// Waits until no other session holds a lock on the table that `mode`
    /// conflicts with. `timeout_ms` is LOCK_TIMEOUT: -1 waits forever, 0
    /// not at all. Does not take the lock (see [`LockTable::grant`]).
    pub fn wait_for(
        &self,
        spid: u16,
        (db_id, object_id): (i64, i64),
        mode: Mode,
        command: &'static str,
        timeout_ms: i64,
        interrupted: impl Fn() -> bool,
    ) -> Result<(), WaitEnd> {
        let start = Instant::now();
        let mut st = self.lock();
        let result = loop {
            let Some(blocker) = Self::conflict(&st, spid, db_id, object_id, mode) else {
                break Ok(());
            };
            if interrupted() {
                break Err(WaitEnd::Cancelled);
            }
            let waited = start.elapsed();
            let left = if timeout_ms >= 0 {
                let limit = Duration::from_millis(timeout_ms as u64);
                if waited >= limit {
                    break Err(WaitEnd::TimedOut);
                }
                (limit - waited).min(POLL)
            } else {
                POLL
            };
            st.waiting.entry(spid).or_insert_with(|| Waiting {
                spid,
                resource: Resource::Object(db_id, object_id),
                mode,
                since: start,
                blocker,
                command,
            });
            if let Some(w) = st.waiting.get_mut(&spid) {
                w.blocker = blocker;
            }
            st = self
                .changed
                .wait_timeout(st, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        };
        st.waiting.remove(&spid);
        result
    }

    /// Records that `spid` holds `mode` on the table (keeping the stronger
    /// mode when it already holds one).
    pub fn grant(&self, spid: u16, db_id: i64, object_id: i64, mode: Mode) {
        let mut st = self.lock();
        match st
            .held
            .iter_mut()
            .find(|h| h.spid == spid && h.db_id == db_id && h.object_id == object_id)
        {
            Some(h) => h.mode = h.mode.max(mode),
            None => st.held.push(Held {
                spid,
                db_id,
                object_id,
                mode,
            }),
        }
    }

    /// Releases every table lock of `spid` (its transaction ended).
    pub fn release_all(&self, spid: u16) {
        let mut st = self.lock();
        let before = st.held.len();
        st.held.retain(|h| h.spid != spid);
        if st.held.len() != before {
            self.changed.notify_all();
        }
    }

    /// Records that `spid` waits (since `since`) for a database's write
    /// lock, or stopped waiting (`since` None). The blocker shown is a
    /// session holding a table lock in that database: only the session
    /// with the write lock can.
    pub fn waiting_for_database(
        &self,
        spid: u16,
        db_id: i64,
        command: &'static str,
        since: Option<Instant>,
    ) {
        let mut st = self.lock();
        match since {
            Some(since) => {
                let blocker = st
                    .held
                    .iter()
                    .find(|h| h.db_id == db_id && h.spid != spid)
                    .map_or(0, |h| h.spid);
                st.waiting.insert(
                    spid,
                    Waiting {
                        spid,
                        resource: Resource::Database(db_id),
                        mode: Mode::X,
                        since,
                        blocker,
                        command,
                    },
                );
            }
            None => {
                st.waiting.remove(&spid);
            }
        }
    }

    /// A session opened.
    pub fn open(&self, spid: u16, info: SessionInfo) {
        self.lock().sessions.insert(spid, info);
    }

    /// Changes a live session's entry.
    pub fn update(&self, spid: u16, f: impl FnOnce(&mut SessionInfo)) {
        if let Some(s) = self.lock().sessions.get_mut(&spid) {
            f(s);
        }
    }

    /// A session closed: it holds and waits for nothing any more.
    pub fn close(&self, spid: u16) {
        let mut st = self.lock();
        st.sessions.remove(&spid);
        st.waiting.remove(&spid);
        st.held.retain(|h| h.spid != spid);
        self.changed.notify_all();
    }

    /// A copy of the state, for the DMVs.
    pub fn snapshot(&self) -> LockSnapshot {
        let st = self.lock();
        LockSnapshot {
            held: st.held.clone(),
            waiting: st.waiting.values().cloned().collect(),
            sessions: st.sessions.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn modes_conflict_as_in_sql_server() {
        assert!(Mode::S.compatible(Mode::S));
        assert!(Mode::S.compatible(Mode::U) && Mode::U.compatible(Mode::S));
        assert!(!Mode::U.compatible(Mode::U));
        assert!(!Mode::S.compatible(Mode::X) && !Mode::X.compatible(Mode::S));
    }

    #[test]
    fn a_reader_waits_for_an_exclusive_lock_until_it_is_released() {
        let t = Arc::new(LockTable::default());
        t.grant(51, 5, 100, Mode::X);
        // Own locks never block; other tables are free.
        assert_eq!(
            t.wait_for(51, (5, 100), Mode::S, "SELECT", 0, || false),
            Ok(())
        );
        assert_eq!(
            t.wait_for(52, (5, 101), Mode::S, "SELECT", 0, || false),
            Ok(())
        );
        assert_eq!(
            t.wait_for(52, (5, 100), Mode::S, "SELECT", 0, || false),
            Err(WaitEnd::TimedOut)
        );
        assert_eq!(
            t.wait_for(52, (5, 100), Mode::S, "SELECT", -1, || true),
            Err(WaitEnd::Cancelled)
        );
        let t2 = t.clone();
        let reader =
            std::thread::spawn(move || t2.wait_for(52, (5, 100), Mode::S, "SELECT", -1, || false));
        while t.snapshot().waiting.is_empty() {
            std::thread::sleep(Duration::from_millis(1));
        }
        let w = &t.snapshot().waiting[0];
        assert_eq!((w.spid, w.blocker), (52, 51));
        t.release_all(51);
        assert_eq!(reader.join().unwrap(), Ok(()));
        assert!(t.snapshot().waiting.is_empty());
    }

    #[test]
    fn grants_keep_the_stronger_mode_and_close_releases() {
        let t = LockTable::default();
        t.grant(51, 5, 100, Mode::U);
        t.grant(51, 5, 100, Mode::S);
        assert_eq!(t.snapshot().held[0].mode, Mode::U);
        assert_eq!(
            t.wait_for(52, (5, 100), Mode::S, "SELECT", 0, || false),
            Ok(())
        );
        assert_eq!(
            t.wait_for(52, (5, 100), Mode::U, "SELECT", 0, || false),
            Err(WaitEnd::TimedOut)
        );
        t.close(51);
        assert!(t.snapshot().held.is_empty());
    }
}
