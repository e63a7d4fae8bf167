//! The writing room: the `fix` and `undo` transactions, and the only code
//! that can write. Each runs on one connection with `SET XACT_ABORT ON` and
//! a lock timeout, re-reads the rows under `UPDLOCK, HOLDLOCK` and stops if
//! they are not what was shown, checks every row count, and writes the
//! journal to disk before COMMIT. Both go through one loop ([`run`]):
//! reruns after a deadlock, rollback and settling after a failure, COMMIT
//! and its unknown outcome.
//!
//! A [`Writer`] (the write half of a connection) can only be had with a
//! [`WriteKey`], and only this module can make one.

use crate::connect::{Connection, DbError, Streamed, Writer};
use crate::error::Stop;
use crate::inspect;
use crate::inspect::undo::UndoSummary;
use crate::journal::{Journal, RowLog, Status, UndoRecord, UndoTablePreview};
use crate::plan::{self, Plan};
use crate::sql;
use crate::value::DbValue;
use anyhow::{anyhow, Result};
use std::path::Path;
use std::time::Duration;
use tiberius::ToSql;
use tokio_util::sync::CancellationToken;

/// The key to a connection's write half. Its field is private, so no module
/// but this one can make one: a write from anywhere else does not compile.
pub struct WriteKey(());

/// SQL Server's "chosen as deadlock victim": the transaction may be rerun.
pub const DEADLOCK_VICTIM: u32 = 1205;

/// How a write runs.
#[derive(Clone, Debug)]
pub struct WriteOptions {
    /// `SET LOCK_TIMEOUT`, milliseconds; -1 waits as long as it takes.
    pub lock_timeout_ms: i32,
    /// How many times a deadlock victim is rerun.
    pub retries: u32,
    /// First pause before a rerun; doubled each time.
    pub backoff: Duration,
    /// Set by Ctrl-C: roll back and stop.
    pub cancel: CancellationToken,
}

/// Why a transaction did not commit, before COMMIT was sent.
enum Abort {
    /// The rows are not what the plan showed: nothing changed, exit 4.
    Moved(String),
    /// Ctrl-C.
    Cancelled,
    /// An error; the transaction is rolled back.
    Failed(anyhow::Error),
}

impl From<anyhow::Error> for Abort {
    fn from(e: anyhow::Error) -> Self {
        Abort::Failed(e)
    }
}

/// One kind of transaction: its statements up to COMMIT. [`run`] does the
/// rest, the same for fix and undo, and keeps the journal of each attempt.
trait Transaction {
    /// What a committed attempt reports.
    type Done;
    /// `fix` or `undo`, as messages name it.
    const WHAT: &'static str;

    /// Runs the statements of one attempt, stopping before COMMIT; what it
    /// must record before the change is sent goes to `journal` (at `path`).
    async fn attempt(
        &mut self,
        w: &mut Writer<'_>,
        opts: &WriteOptions,
        journal: &mut Journal,
        path: &Path,
    ) -> Result<Self::Done, Abort>;

    /// What to tell the user when the connection was lost during COMMIT
    /// (`error`); the journal is at `path`.
    fn outcome_unknown(&self, path: &Path, error: &str) -> String;
}

fn deadlocked(e: &anyhow::Error) -> bool {
    e.downcast_ref::<DbError>().and_then(DbError::code) == Some(DEADLOCK_VICTIM)
}

fn lost(e: &anyhow::Error) -> bool {
    // After a command timeout the tool has given up on the connection too.
    matches!(
        e.downcast_ref::<DbError>(),
        Some(DbError::Lost(_) | DbError::TimedOut)
    )
}

/// Runs one step unless Ctrl-C comes first.
async fn step<T>(
    cancel: &CancellationToken,
    fut: impl std::future::Future<Output = Result<T>>,
) -> Result<T, Abort> {
    tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(Abort::Cancelled),
        r = fut => r.map_err(Abort::Failed),
    }
}

/// Runs `tx` to COMMIT with `journal` at `path`: writes the journal (and
/// flushes it to disk) before the transaction starts, reruns a deadlock
/// victim with backoff, rolls back and settles anything else, tells an
/// unknown COMMIT outcome apart, and records every attempt's outcome in the
/// journal. Returns what the attempt did and how many attempts it took.
async fn run<T: Transaction>(
    conn: &mut Connection,
    tx: &mut T,
    journal: &mut Journal,
    path: &Path,
    opts: &WriteOptions,
) -> Result<(T::Done, u32)> {
    // Durable before the transaction, so before COMMIT: if anything dies
    // after the commit, the record of what changed already exists.
    journal.create(path)?;
    let mut w = conn.writer(&WriteKey(()));
    let mut attempt = 0;
    let done = loop {
        attempt += 1;
        match tx.attempt(&mut w, opts, journal, path).await {
            Ok(done) => break done,
            Err(Abort::Failed(e)) if deadlocked(&e) && attempt <= opts.retries => {
                journal.record(
                    path,
                    Status::RolledBack,
                    Some(format!(
                        "chosen as deadlock victim (SQL Server error 1205); rerun {attempt} of {}",
                        opts.retries
                    )),
                )?;
                pause_before_rerun(&mut w, attempt, opts).await;
            }
            Err(abort) => {
                let (err, note) = settle(&mut w, abort, attempt, T::WHAT).await;
                journal.record(path, Status::RolledBack, Some(note))?;
                return Err(err);
            }
        }
    };
    // COMMIT: from here a lost connection leaves the outcome unknown.
    if opts.cancel.is_cancelled() {
        rollback(&mut w).await;
        journal.record(
            path,
            Status::RolledBack,
            Some("interrupted before COMMIT".into()),
        )?;
        return Err(Stop::NotDone(format!(
            "interrupted before COMMIT: the {} was rolled back; nothing was changed",
            T::WHAT
        ))
        .into());
    }
    match w.batch(&sql::commit()).await {
        Ok(()) => {
            journal.record(path, Status::Committed, None)?;
            if opts.cancel.is_cancelled() {
                // Ctrl-C during COMMIT: it was not interrupted, and did
                // commit; say so next to "Interrupted".
                eprintln!(
                    "The interrupt came while COMMIT was under way: the {} was committed.",
                    T::WHAT
                );
            }
            Ok((done, attempt))
        }
        Err(e) if lost(&e) => {
            let error = format!("{e:#}");
            journal.record(path, Status::CommitOutcomeUnknown, Some(error.clone()))?;
            Err(anyhow!(tx.outcome_unknown(path, &error)))
        }
        Err(e) => {
            rollback(&mut w).await;
            journal.record(
                path,
                Status::RolledBack,
                Some(format!("COMMIT failed: {e:#}")),
            )?;
            Err(anyhow!(
                "the {}'s COMMIT failed and the transaction was rolled back; nothing was changed: {e:#}",
                T::WHAT
            ))
        }
    }
}

/// After Ctrl-C dropped a request in flight: tell the server to stop it
/// (attention), so the rollback that follows does not wait for it.
async fn cancel_in_flight(w: &mut Writer<'_>) {
    match tokio::time::timeout(Duration::from_secs(10), w.cancel()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!("attention after Ctrl-C: {e:#}"),
        Err(_) => tracing::warn!("the server did not acknowledge the attention within 10 s"),
    }
}

/// Rolls back after a failed attempt. If the connection is gone, the server
/// rolls back by itself when it notices the session ended.
async fn rollback(w: &mut Writer<'_>) {
    if let Err(e) = w.batch(&sql::rollback()).await {
        tracing::warn!("rollback after failure: {e:#}");
    }
}

/// Rolls back what the deadlock left and waits, doubling the pause each time.
async fn pause_before_rerun(w: &mut Writer<'_>, attempt: u32, opts: &WriteOptions) {
    rollback(w).await;
    let pause = opts.backoff * 2u32.saturating_pow(attempt - 1);
    tracing::warn!(
        attempt,
        "chosen as deadlock victim; rerunning the transaction in {pause:?}"
    );
    eprintln!(
        "SQL Server chose this transaction as a deadlock victim (error 1205); nothing was changed. Retrying ({attempt} of {}) in {} ms.",
        opts.retries,
        pause.as_millis()
    );
    tokio::time::sleep(pause).await;
}

/// Ends an attempt that stopped before COMMIT: stops the request in flight
/// after Ctrl-C, rolls back (unless the connection is gone, in which case
/// the server rolls back), and returns the error to report with the note
/// for the journal.
async fn settle(
    w: &mut Writer<'_>,
    abort: Abort,
    attempts: u32,
    what: &str,
) -> (anyhow::Error, String) {
    let was_lost = matches!(&abort, Abort::Failed(e) if lost(e));
    if matches!(abort, Abort::Cancelled) {
        cancel_in_flight(w).await;
    }
    if !was_lost {
        rollback(w).await;
    }
    match abort {
        Abort::Moved(m) => (Stop::NotDone(m.clone()).into(), m),
        Abort::Cancelled => {
            let m = format!(
                "interrupted (Ctrl-C or SIGTERM): the {what} was rolled back; nothing was changed"
            );
            (Stop::NotDone(m.clone()).into(), m)
        }
        Abort::Failed(e) => {
            let m = explain_failure(&e, attempts, was_lost, what);
            (anyhow!(m.clone()), m)
        }
    }
}

fn explain_failure(e: &anyhow::Error, attempts: u32, lost: bool, what: &str) -> String {
    let code = e.downcast_ref::<DbError>().and_then(DbError::code);
    let reason = match (code, e.downcast_ref::<DbError>()) {
        (_, Some(DbError::Blocked { holders })) => format!("a lock timeout (SQL Server error 1222): another session holds locks on rows the {what} needs ({holders}); retry at a quiet time or raise --lock-timeout"),
        _ => String::new(),
    };
    let reason = if !reason.is_empty() {
        reason
    } else {
        match code {
        Some(1222) => format!("a lock timeout (SQL Server error 1222): another session, perhaps the Response Group service, holds locks on rows the {what} needs; retry at a quiet time or raise --lock-timeout"),
        Some(DEADLOCK_VICTIM) => format!("deadlocks (SQL Server error 1205) on all {attempts} attempts; retry at a quiet time"),
        Some(229) => "permission denied (SQL Server error 229): the login may not change these tables".to_string(),
        Some(9002) => "the transaction log is full (SQL Server error 9002): ask for log space or a log backup, then retry".to_string(),
        _ => format!("{e:#}"),
    }
    };
    let timed_out = matches!(e.downcast_ref::<DbError>(), Some(DbError::TimedOut));
    if timed_out {
        format!("the {what} stopped before COMMIT: the server gave no answer within the command timeout (--command-timeout), so the tool closed the connection; the server rolls back an unfinished transaction when its connection ends, so nothing was changed. Run `rgs-repair check` to confirm")
    } else if lost {
        format!("the {what} stopped before COMMIT because the connection was lost ({reason}); the server rolls back an unfinished transaction when its connection ends, so nothing was changed. Run `rgs-repair check` to confirm")
    } else {
        format!("the {what} stopped and was rolled back; nothing was changed. Reason: {reason}")
    }
}

/// What a committed fix did.
#[derive(Debug)]
pub struct FixDone {
    /// Rows changed.
    pub rows: usize,
    /// Attempts it took (more than 1 after deadlocks).
    pub attempts: u32,
}

/// The fix transaction for one plan.
struct FixTx<'a> {
    plan: &'a Plan,
}

impl Transaction for FixTx<'_> {
    type Done = ();
    const WHAT: &'static str = "fix";

    /// Three round trips whatever the number of tables or rows: session
    /// settings, BEGIN, every table's summary of its rows without an owner
    /// under lock (compared with the plan as it arrives) and those rows
    /// themselves, streamed into the journal and flushed to disk; then
    /// every table's UPDATE with its own row count and its verify; COMMIT
    /// is sent by [`run`].
    async fn attempt(
        &mut self,
        w: &mut Writer<'_>,
        opts: &WriteOptions,
        journal: &mut Journal,
        path: &Path,
    ) -> Result<(), Abort> {
        let c = &opts.cancel;
        let plan = self.plan;
        let statements: Vec<plan::TableSql> = plan
            .tables
            .iter()
            .map(|t| plan::table_sql(&t.table))
            .collect();
        let start = sql::session_setup(opts.lock_timeout_ms).then(
            std::iter::once(sql::Statement::Write(sql::begin()))
                .chain(
                    statements
                        .iter()
                        .map(|s| sql::Statement::Read(s.summary.clone())),
                )
                .chain(
                    statements
                        .iter()
                        .map(|s| sql::Statement::Read(s.recheck.clone())),
                ),
        );
        let n = plan.tables.len();
        let mut log = journal.rows_for_next_attempt(path)?;
        let mut locked = Locked {
            summaries: vec![None; n],
            moved: None,
            compared: false,
            rows: vec![0; n],
        };
        let read = step(
            c,
            w.each(&start, &[], |piece| locked.take(plan, &mut log, piece)),
        )
        .await;
        // The lines written belong to the journal whatever happens next, so
        // that the attempt's outcome line chains to them.
        let written = journal.rows_written(log);
        read?;
        written?;
        if !locked.compared {
            locked.moved = compare_with_plan(plan, &locked.summaries);
        }
        if let Some(m) = locked.moved {
            return Err(Abort::Moved(m));
        }
        for (t, read) in plan.tables.iter().zip(&locked.rows) {
            if *read != t.rows {
                return Err(Abort::Failed(anyhow!(
                    "{}: {read} row(s) were read under lock where the server counted {} a moment before",
                    t.table.full_name(),
                    t.rows
                )));
            }
        }
        let change = sql::Write::empty().then(statements.iter().flat_map(|s| {
            [
                sql::Statement::Write(s.update.clone()),
                sql::Statement::Read(s.verify.clone()),
            ]
        }));
        let pool: &dyn ToSql = &plan.pool.id;
        let answers = step(c, w.results(&change, &[pool])).await?;
        if answers.len() != 2 * n {
            return Err(Abort::Failed(anyhow!(
                "the server answered {} result sets where the fix expects {}",
                answers.len(),
                2 * n
            )));
        }
        for (t, pair) in plan.tables.iter().zip(answers.chunks(2)) {
            check_counts(t, first_int(&pair[0]), first_int(&pair[1]))?;
        }
        Ok(())
    }

    fn outcome_unknown(&self, path: &Path, error: &str) -> String {
        let path = path.display();
        format!(
            "the connection was lost while COMMIT was under way ({error}); the outcome is unknown. The journal {path} is marked \"commit outcome unknown\": run `rgs-repair check` to see whether the rows changed; if they did, `rgs-repair undo --journal {path}` can still put them back"
        )
    }
}

/// The single number a counting statement selected; None when it selected
/// nothing.
fn first_int(rows: &[crate::connect::Row]) -> Option<i64> {
    rows.first().and_then(|r| r.get(0).as_i64())
}

/// What the fix's first request returned so far: each table's summary
/// under lock, then its rows, which go to the journal once every summary
/// matched the plan.
struct Locked {
    summaries: Vec<Option<(i64, Option<i64>)>>,
    /// Why the rows are not the planned ones, once compared.
    moved: Option<String>,
    compared: bool,
    /// Rows read under lock, per table.
    rows: Vec<u64>,
}

impl Locked {
    fn take(&mut self, plan: &Plan, log: &mut RowLog, piece: Streamed) -> Result<()> {
        let n = plan.tables.len();
        match piece {
            Streamed::Set(_) => Ok(()),
            Streamed::Row(i, row) if i < n => {
                self.summaries[i] = Some((row.int(0), row.get(1).as_i64()));
                Ok(())
            }
            Streamed::Row(i, row) => {
                if !self.compared {
                    self.compared = true;
                    self.moved = compare_with_plan(plan, &self.summaries);
                }
                let Some(t) = plan.tables.get(i - n) else {
                    return Ok(());
                };
                if self.moved.is_some() {
                    return Ok(());
                }
                self.rows[i - n] += 1;
                let keys = t.table.key.len();
                let name = match row.get(keys) {
                    DbValue::Null => None,
                    DbValue::Text(s) => Some(std::borrow::Cow::Borrowed(s.as_str())),
                    v => Some(std::borrow::Cow::Owned(v.to_string())),
                };
                log.push(
                    i - n,
                    row.values.get(..keys).unwrap_or(&[]),
                    name.as_deref(),
                )
            }
        }
    }
}

/// The summaries read under lock must be the plan's: as many rows without
/// an owner, with the same checksum of their keys. Says how they differ.
fn compare_with_plan(plan: &Plan, summaries: &[Option<(i64, Option<i64>)>]) -> Option<String> {
    for (t, now) in plan.tables.iter().zip(summaries) {
        let (rows, checksum) = now.unwrap_or((0, None));
        let name = t.table.full_name();
        if rows != t.rows as i64 {
            return Some(format!(
                "the database changed after the plan was shown: in {name}, the plan has {} row(s) without an owner and {rows} lack one now. Nothing was changed; run the command again to see a new plan",
                t.rows
            ));
        }
        if checksum != t.checksum {
            return Some(format!(
                "the database changed after the plan was shown: in {name}, {rows} row(s) lack an owner as planned, but not the same rows (the server's checksum of their keys differs). Nothing was changed; run the command again to see a new plan"
            ));
        }
    }
    None
}

/// The UPDATE changed exactly the planned rows (its own count, not its
/// triggers'), and none of the table's rows lacks an owner after it.
fn check_counts(t: &plan::TablePlan, changed: Option<i64>, left: Option<i64>) -> Result<(), Abort> {
    let name = t.table.full_name();
    let planned = t.rows as i64;
    if changed != Some(planned) {
        return Err(Abort::Failed(anyhow!(
            "{name}: the UPDATE changed {} row(s) where the plan has {planned}",
            changed.map_or_else(|| "an unknown number of".to_string(), |n| n.to_string())
        )));
    }
    if left != Some(0) {
        return Err(Abort::Failed(anyhow!(
            "{name}: {} row(s) still lack an owner after the UPDATE",
            left.map_or_else(|| "an unknown number of".to_string(), |n| n.to_string())
        )));
    }
    Ok(())
}

/// Runs the fix transaction for `plan`, with `journal` written to `path`
/// before it starts and kept up to date with each attempt.
pub async fn fix(
    conn: &mut Connection,
    plan: &Plan,
    journal: &mut Journal,
    path: &Path,
    opts: &WriteOptions,
) -> Result<FixDone> {
    let ((), attempts) = run(conn, &mut FixTx { plan }, journal, path, opts).await?;
    Ok(FixDone {
        rows: plan.row_count(),
        attempts,
    })
}

/// The undo transaction for the fix journalled in `fix` (at `fix_path`).
struct UndoTx<'a> {
    fix: &'a Journal,
    fix_path: &'a Path,
    preview: &'a [UndoTablePreview],
}

impl Transaction for UndoTx<'_> {
    type Done = u64;
    const WHAT: &'static str = "undo";

    /// Three round trips whatever the number of rows: session settings,
    /// BEGIN and every journalled table's summary under lock, through the
    /// keys sent once before (see [`inspect::undo::upload_keys`]); once the
    /// tool has compared them with the preview and written the rows it
    /// puts back to the undo's journal (flushed to disk), every table's
    /// UPDATE with its own row count; COMMIT is sent by [`run`].
    async fn attempt(
        &mut self,
        w: &mut Writer<'_>,
        opts: &WriteOptions,
        journal: &mut Journal,
        path: &Path,
    ) -> Result<u64, Abort> {
        let c = &opts.cancel;
        let tables = self.fix.journalled_tables()?;
        let start = sql::session_setup(opts.lock_timeout_ms).then(
            std::iter::once(sql::Statement::Write(sql::begin())).chain(
                inspect::undo::summaries(&tables, true)
                    .into_iter()
                    .map(sql::Statement::Read),
            ),
        );
        let fixed: &dyn ToSql = &self.fix.pool.id;
        // The rows it puts back (the fix's rows but those the preview leaves
        // alone) go to the undo's journal while the server locks and sums
        // up the rows; they are on disk before the UPDATE is sent, and
        // belong to this attempt's lines whatever happens next.
        let log = journal.rows_for_next_attempt(path)?;
        let copy = {
            let fix = self.fix.clone();
            let fix_path = self.fix_path.to_path_buf();
            let left: Vec<_> = self.preview.iter().map(|p| p.left_alone.clone()).collect();
            tokio::task::spawn_blocking(move || put_back_rows(&fix, &fix_path, &left, log))
        };
        let sets = step(c, w.results(&start, &[fixed])).await;
        let (log, wrote) = copy
            .await
            .map_err(|e| Abort::Failed(anyhow!("writing the undo's journal stopped: {e}")))?;
        let written = journal.rows_written(log);
        wrote?;
        written?;
        let sets = sets?;
        if sets.len() != tables.len() {
            return Err(Abort::Failed(anyhow!(
                "the server answered {} re-checks where the journal has {} tables",
                sets.len(),
                tables.len()
            )));
        }
        for (then, set) in self.preview.iter().zip(&sets) {
            if UndoSummary::from_rows(set) != then.summary {
                return Err(Abort::Moved(format!(
                    "the database changed after the undo plan was shown (journalled rows of {} changed owner meanwhile). Nothing was changed; run undo again to see the new list",
                    then.table
                )));
            }
        }
        let change = sql::Write::empty().then(
            tables
                .iter()
                .enumerate()
                .map(|(i, t)| sql::Statement::Write(sql::undo_update(&t.quoted, i + 1))),
        );
        let counts = step(c, w.results(&change, &[fixed])).await?;
        let mut total = 0;
        for (n, then) in self.preview.iter().enumerate() {
            let expected = then.summary.restorable;
            let changed = counts.get(n).and_then(|rows| first_int(rows));
            if changed != Some(expected as i64) {
                return Err(Abort::Failed(anyhow!(
                    "{}: the undo UPDATE changed {} row(s) where {expected} were expected",
                    then.table,
                    changed.map_or_else(|| "an unknown number of".to_string(), |n| n.to_string())
                )));
            }
            total += expected;
        }
        Ok(total)
    }

    fn outcome_unknown(&self, path: &Path, error: &str) -> String {
        format!("the connection was lost while the undo's COMMIT was under way ({error}); the outcome is unknown (the undo's journal {} says so). Run `rgs-repair check`; running undo again is safe, since it only touches rows that still hold the fixed owner", path.display())
    }
}

/// Writes the fix's journalled rows (read again from `fix_path`) but those
/// `left` alone to `log`; returns the log with how the writing went.
fn put_back_rows(
    fix: &Journal,
    fix_path: &Path,
    left: &[crate::inspect::undo::LeftAlone],
    mut log: RowLog,
) -> (RowLog, Result<()>) {
    let mut write = || -> Result<()> {
        for row in fix.rows(fix_path)? {
            let (i, row) = row?;
            if !left.get(i).is_some_and(|l| l.contains_key(&row.key)) {
                log.push(i, &row.key, row.name.as_deref())?;
            }
        }
        Ok(())
    };
    let wrote = write();
    (log, wrote)
}

/// Runs the undo transaction: puts back exactly the rows the preview showed
/// as restorable (the same count and key checksum under lock), or stops if
/// the database moved since. `journal` (the undo's own, see
/// [`Journal::for_undo`]) is written to `path` before it starts.
pub async fn undo(
    conn: &mut Connection,
    fix: &Journal,
    fix_path: &Path,
    preview: &[UndoTablePreview],
    journal: &mut Journal,
    path: &Path,
    opts: &WriteOptions,
) -> Result<UndoRecord> {
    let mut tx = UndoTx {
        fix,
        fix_path,
        preview,
    };
    let (restored, _) = run(conn, &mut tx, journal, path, opts).await?;
    let journalled: u64 = preview.iter().map(|p| p.summary.journalled).sum();
    Ok(UndoRecord {
        at: chrono::Utc::now(),
        status: Status::Committed,
        restored: restored as usize,
        left_alone: (journalled - restored) as usize,
    })
}
