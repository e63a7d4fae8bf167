//! The writing half: the `fix` and `undo` transactions. Each runs on one
//! connection with `SET XACT_ABORT ON` and a lock timeout, re-reads the rows
//! under `UPDLOCK, HOLDLOCK` and stops if they are not what was shown,
//! checks every row count, and writes the journal to disk before COMMIT.

use crate::connect::{Connection, DbError};
use crate::error::Stop;
use crate::inspect::QuotedTable;
use crate::journal::{Journal, RowChange, Status, TableChanges, UndoRecord};
use crate::plan::{self, Plan};
use crate::sql;
use crate::value::DbValue;
use anyhow::{anyhow, bail, Result};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::time::Duration;
use tiberius::ToSql;
use tokio_util::sync::CancellationToken;

/// SQL Server's "chosen as deadlock victim": the transaction may be rerun.
pub const DEADLOCK_VICTIM: u32 = 1205;

/// How a write runs.
#[derive(Clone, Debug)]
pub struct WriteOptions {
    /// `SET LOCK_TIMEOUT`, milliseconds.
    pub lock_timeout_ms: u32,
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

fn deadlocked(e: &anyhow::Error) -> bool {
    e.downcast_ref::<DbError>().and_then(DbError::code) == Some(DEADLOCK_VICTIM)
}

fn lost(e: &anyhow::Error) -> bool {
    matches!(e.downcast_ref::<DbError>(), Some(DbError::Lost(_)))
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

/// After Ctrl-C dropped a request in flight: tell the server to stop it
/// (attention), so the rollback that follows does not wait for it.
async fn cancel_in_flight(conn: &mut Connection) {
    match tokio::time::timeout(Duration::from_secs(10), conn.cancel()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!("attention after Ctrl-C: {e:#}"),
        Err(_) => tracing::warn!("the server did not acknowledge the attention within 10 s"),
    }
}

/// Rolls back after a failed attempt. If the connection is gone, the server
/// rolls back by itself when it notices the session ended.
async fn rollback(conn: &mut Connection) {
    if let Err(e) = conn.batch(sql::ROLLBACK).await {
        tracing::warn!("rollback after failure: {e:#}");
    }
}

/// Whether a failed attempt may be rerun: a deadlock victim, with retries left.
fn may_rerun(e: &anyhow::Error, attempt: u32, opts: &WriteOptions) -> bool {
    deadlocked(e) && attempt <= opts.retries
}

/// Rolls back what the deadlock left and waits, doubling the pause each time.
async fn pause_before_rerun(conn: &mut Connection, attempt: u32, opts: &WriteOptions) {
    rollback(conn).await;
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
    conn: &mut Connection,
    abort: Abort,
    attempt: u32,
    what: &str,
) -> (anyhow::Error, String) {
    let was_lost = matches!(&abort, Abort::Failed(e) if lost(e));
    if matches!(abort, Abort::Cancelled) {
        cancel_in_flight(conn).await;
    }
    if !was_lost {
        rollback(conn).await;
    }
    match abort {
        Abort::Moved(m) => (Stop::NotDone(m.clone()).into(), m),
        Abort::Cancelled => {
            let m =
                format!("interrupted (Ctrl-C): the {what} was rolled back; nothing was changed");
            (Stop::NotDone(m.clone()).into(), m)
        }
        Abort::Failed(e) => {
            let m =
                explain_failure(&e, attempt, was_lost).replace("the fix", &format!("the {what}"));
            (anyhow!(m.clone()), m)
        }
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

/// Runs the fix transaction for `plan`, writing `journal` to `path` before
/// the commit and marking it afterwards.
pub async fn fix(
    conn: &mut Connection,
    plan: &Plan,
    journal: &mut Journal,
    path: &Path,
    opts: &WriteOptions,
) -> Result<FixDone> {
    let mut journal_written = false;
    let mut attempt = 0;
    loop {
        attempt += 1;
        match fix_attempt(conn, plan, journal, path, &mut journal_written, opts).await {
            Ok(()) => {}
            Err(Abort::Failed(e)) if may_rerun(&e, attempt, opts) => {
                pause_before_rerun(conn, attempt, opts).await;
                continue;
            }
            Err(abort) => {
                let (err, note) = settle(conn, abort, attempt, "fix").await;
                if journal_written {
                    journal.mark(path, Status::RolledBack, Some(note))?;
                }
                return Err(err);
            }
        }
        // COMMIT: from here a lost connection leaves the outcome unknown.
        if opts.cancel.is_cancelled() {
            rollback(conn).await;
            journal.mark(
                path,
                Status::RolledBack,
                Some("interrupted before COMMIT".into()),
            )?;
            return Err(Stop::NotDone("interrupted (Ctrl-C) before COMMIT: the transaction was rolled back; nothing was changed".into()).into());
        }
        return match conn.batch(sql::COMMIT).await {
            Ok(()) => {
                journal.mark(path, Status::Committed, None)?;
                Ok(FixDone {
                    rows: plan.row_count(),
                    attempts: attempt,
                })
            }
            Err(e) if lost(&e) => {
                let m = format!(
                    "the connection was lost while COMMIT was under way ({e:#}); the outcome is unknown. The journal {} is marked \"commit outcome unknown\": run `rgs-repair check` to see whether the rows changed; if they did, `rgs-repair undo --journal {}` can still put them back",
                    path.display(),
                    path.display()
                );
                journal.mark(path, Status::CommitOutcomeUnknown, Some(format!("{e:#}")))?;
                Err(anyhow!(m))
            }
            Err(e) => {
                rollback(conn).await;
                journal.mark(path, Status::RolledBack, Some(format!("{e:#}")))?;
                Err(anyhow!(
                    "COMMIT failed and the transaction was rolled back; nothing was changed: {e:#}"
                ))
            }
        };
    }
}

fn explain_failure(e: &anyhow::Error, attempts: u32, lost: bool) -> String {
    let code = e.downcast_ref::<DbError>().and_then(DbError::code);
    let what = match code {
        Some(1222) => "a lock timeout (SQL Server error 1222): another session, perhaps the Response Group service, holds locks on rows the fix needs; retry at a quiet time or raise --lock-timeout".to_string(),
        Some(DEADLOCK_VICTIM) => format!("deadlocks (SQL Server error 1205) on all {attempts} attempts; retry at a quiet time"),
        Some(229) => "permission denied (SQL Server error 229): the login may not change these tables".to_string(),
        Some(9002) => "the transaction log is full (SQL Server error 9002): ask for log space or a log backup, then retry".to_string(),
        _ => format!("{e:#}"),
    };
    if lost {
        format!("the fix stopped before COMMIT because the connection was lost ({what}); the server rolls back an unfinished transaction when its connection ends, so nothing was changed. Run `rgs-repair check` to confirm")
    } else {
        format!("the fix stopped and was rolled back; nothing was changed. Reason: {what}")
    }
}

async fn fix_attempt(
    conn: &mut Connection,
    plan: &Plan,
    journal: &mut Journal,
    path: &Path,
    journal_written: &mut bool,
    opts: &WriteOptions,
) -> Result<(), Abort> {
    let c = &opts.cancel;
    step(c, conn.batch(&plan::session_setup(opts.lock_timeout_ms))).await?;
    step(c, conn.batch(sql::BEGIN)).await?;
    for t in &plan.tables {
        let s = plan::table_sql(&t.table);
        let name = t.table.full_name();
        let now: BTreeSet<Vec<DbValue>> = step(c, conn.rows(&s.recheck, &[]))
            .await?
            .into_iter()
            .map(|r| r.values)
            .collect();
        let planned: BTreeSet<Vec<DbValue>> = t.rows.iter().map(|r| r.key.clone()).collect();
        if now != planned {
            let gone = planned.difference(&now).count();
            let new = now.difference(&planned).count();
            return Err(Abort::Moved(format!(
                "the database changed after the plan was shown: in {name}, {gone} planned row(s) no longer lack an owner and {new} other row(s) now do. Nothing was changed; run the command again to see a new plan"
            )));
        }
        let pool: &dyn ToSql = &plan.pool.id;
        let n = step(c, conn.execute(&s.update, &[pool])).await?;
        if n != t.rows.len() as u64 {
            return Err(Abort::Failed(anyhow!(
                "{name}: the UPDATE changed {n} row(s) where the plan has {}",
                t.rows.len()
            )));
        }
        let left = step(c, conn.rows(&s.verify, &[]))
            .await?
            .first()
            .map_or(-1, |r| r.int(0));
        if left != 0 {
            return Err(Abort::Failed(anyhow!(
                "{name}: {left} row(s) still lack an owner after the UPDATE"
            )));
        }
    }
    // Durable before COMMIT: if anything dies after the commit, the record
    // of what changed already exists.
    let write = if *journal_written {
        journal.replace(path)
    } else {
        journal.create(path)
    };
    write.map_err(Abort::Failed)?;
    *journal_written = true;
    Ok(())
}

/// A journalled table ready for undo.
struct UndoTable<'a> {
    changes: &'a TableChanges,
    q: QuotedTable,
}

fn undo_tables(journal: &Journal) -> Result<Vec<UndoTable<'_>>> {
    journal
        .tables
        .iter()
        .map(|t| {
            if t.rows.iter().any(|r| !r.old.is_null()) {
                bail!("{}.{}: the journal records owners other than NULL before the fix; this version only puts back NULL", t.schema, t.table);
            }
            let q = QuotedTable {
                table: crate::quote::quote_two_part(&t.schema, &t.table).ok_or_else(|| anyhow!("a table name in the journal is too long"))?,
                owner: crate::quote::quote_name(&t.owner_column).ok_or_else(|| anyhow!("a column name in the journal is too long"))?,
                keys: t
                    .key_columns
                    .iter()
                    .map(|k| crate::quote::quote_name(&k.name))
                    .collect::<Option<_>>()
                    .ok_or_else(|| anyhow!("a key column name in the journal is too long"))?,
                display: None,
            };
            Ok(UndoTable { changes: t, q })
        })
        .collect()
}

/// A journalled row and what it holds now.
#[derive(Clone, Debug, PartialEq)]
pub struct UndoRow {
    /// `schema.table`
    pub table: String,
    /// The journal's record.
    pub change: RowChange,
    /// The owner now (None: the row no longer exists).
    pub current: Option<DbValue>,
}

impl UndoRow {
    /// Whether undo puts it back: it still holds what the fix wrote.
    pub fn restorable(&self) -> bool {
        self.current
            .as_ref()
            .is_some_and(|c| c.sql_eq(&self.change.new))
    }
}

/// Reads the current owner of every journalled row (locking when inside a
/// transaction, since the template carries UPDLOCK, HOLDLOCK).
async fn read_current(
    conn: &mut Connection,
    tables: &[UndoTable<'_>],
    cancel: &CancellationToken,
) -> Result<Vec<UndoRow>, Abort> {
    let mut out = Vec::new();
    for t in tables {
        let nkeys = t.q.keys.len();
        let name = format!("{}.{}", t.changes.schema, t.changes.table);
        for chunk in t.changes.rows.chunks(t.q.rows_per_statement()) {
            let sql_text = sql::render(
                sql::UNDO_RECHECK,
                &[
                    ("keys", &t.q.key_list()),
                    ("owner", &t.q.owner),
                    ("table", &t.q.table),
                    ("key_match", &t.q.key_match(chunk.len(), 1)),
                ],
            );
            let params: Vec<&dyn ToSql> = chunk
                .iter()
                .flat_map(|r| r.key.iter().map(|v| v as &dyn ToSql))
                .collect();
            let found: HashMap<Vec<DbValue>, DbValue> = step(cancel, conn.rows(&sql_text, &params))
                .await?
                .into_iter()
                .filter(|f| f.values.len() == nkeys + 1)
                .map(|mut f| {
                    let owner = f.values.pop().unwrap_or(DbValue::Null);
                    (f.values.iter().map(DbValue::normalized).collect(), owner)
                })
                .collect();
            for r in chunk {
                let key: Vec<DbValue> = r.key.iter().map(DbValue::normalized).collect();
                out.push(UndoRow {
                    table: name.clone(),
                    change: r.clone(),
                    current: found.get(&key).cloned(),
                });
            }
        }
    }
    Ok(out)
}

/// Reads what undo would do, without locking or changing anything.
pub async fn undo_preview(conn: &mut Connection, journal: &Journal) -> Result<Vec<UndoRow>> {
    let tables = undo_tables(journal)?;
    read_current(conn, &tables, &CancellationToken::new())
        .await
        .map_err(|a| match a {
            Abort::Failed(e) => e,
            Abort::Moved(m) => anyhow!(m),
            Abort::Cancelled => anyhow!("interrupted"),
        })
}

/// Runs the undo transaction: puts back exactly the rows `preview` showed as
/// restorable, or stops if the database moved since.
pub async fn undo(
    conn: &mut Connection,
    journal: &mut Journal,
    path: &Path,
    preview: &[UndoRow],
    opts: &WriteOptions,
) -> Result<UndoRecord> {
    let tables = undo_tables(journal)?;
    let mut attempt = 0;
    let restored = loop {
        attempt += 1;
        match undo_attempt(conn, &tables, preview, opts).await {
            Ok(n) => break n,
            Err(Abort::Failed(e)) if may_rerun(&e, attempt, opts) => {
                pause_before_rerun(conn, attempt, opts).await
            }
            Err(abort) => return Err(settle(conn, abort, attempt, "undo").await.0),
        }
    };
    let left_alone = preview.len() - restored;
    if opts.cancel.is_cancelled() {
        rollback(conn).await;
        return Err(Stop::NotDone(
            "interrupted (Ctrl-C) before COMMIT: the undo was rolled back; nothing was changed"
                .into(),
        )
        .into());
    }
    let record = match conn.batch(sql::COMMIT).await {
        Ok(()) => UndoRecord {
            at: chrono::Utc::now(),
            status: Status::Committed,
            restored,
            left_alone,
        },
        Err(e) if lost(&e) => {
            let rec = UndoRecord {
                at: chrono::Utc::now(),
                status: Status::CommitOutcomeUnknown,
                restored,
                left_alone,
            };
            journal.undo = Some(rec);
            journal.replace(path)?;
            bail!("the connection was lost while the undo's COMMIT was under way ({e:#}); the outcome is unknown. Run `rgs-repair check`; running undo again is safe, since it only touches rows that still hold the fixed owner");
        }
        Err(e) => {
            rollback(conn).await;
            bail!("the undo's COMMIT failed and was rolled back; nothing was changed: {e:#}");
        }
    };
    journal.undo = Some(record.clone());
    journal.replace(path)?;
    Ok(record)
}

async fn undo_attempt(
    conn: &mut Connection,
    tables: &[UndoTable<'_>],
    preview: &[UndoRow],
    opts: &WriteOptions,
) -> Result<usize, Abort> {
    let c = &opts.cancel;
    step(c, conn.batch(&plan::session_setup(opts.lock_timeout_ms))).await?;
    step(c, conn.batch(sql::BEGIN)).await?;
    let now = read_current(conn, tables, c).await?;
    let restorable_then: Vec<&UndoRow> = preview.iter().filter(|r| r.restorable()).collect();
    let restorable_now: Vec<&UndoRow> = now.iter().filter(|r| r.restorable()).collect();
    if restorable_then != restorable_now {
        return Err(Abort::Moved(
            "the database changed after the undo plan was shown (some journalled rows changed owner meanwhile). Nothing was changed; run undo again to see the new list".into(),
        ));
    }
    let mut total = 0u64;
    for t in tables {
        let name = format!("{}.{}", t.changes.schema, t.changes.table);
        let rows: Vec<&RowChange> = restorable_now
            .iter()
            .filter(|r| r.table == name)
            .map(|r| &r.change)
            .collect();
        for chunk in rows.chunks(t.q.rows_per_statement()) {
            // All rows of one journal share the new owner (the fix's pool).
            let new: &dyn ToSql = &chunk[0].new;
            let sql_text = sql::render(
                sql::UNDO_UPDATE,
                &[
                    ("table", &t.q.table),
                    ("owner", &t.q.owner),
                    ("key_match", &t.q.key_match(chunk.len(), 2)),
                ],
            );
            let mut params: Vec<&dyn ToSql> = vec![new];
            params.extend(
                chunk
                    .iter()
                    .flat_map(|r| r.key.iter().map(|v| v as &dyn ToSql)),
            );
            let n = step(c, conn.execute(&sql_text, &params)).await?;
            if n != chunk.len() as u64 {
                return Err(Abort::Failed(anyhow!(
                    "{name}: the undo UPDATE changed {n} row(s) where {} were expected",
                    chunk.len()
                )));
            }
            total += n;
        }
    }
    Ok(total as usize)
}
