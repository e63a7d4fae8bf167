//! The journal: a JSON record of every row a `fix` (or an `undo`) changes,
//! written and flushed to disk before the transaction starts and updated
//! with each attempt's outcome, so the change can be undone and audited. It
//! records who and where (OS user, host, login, the command line without
//! secrets), the database's identity and the plan's digest; it carries a
//! digest of its own, so an edited journal is noticed. It never holds a
//! password.
//!
//! `undo` writes a journal of its own (kind `undo`, linked to the fix's by
//! digest) and never rewrites the fix's.

mod audit;
mod files;
mod format;
mod read;

use crate::inspect::undo::{LeftAlone, UndoSummary, UndoTable};
pub use audit::{command_line, Audit};
use files::sync_dir;
pub use files::{check_new_path, default_path, find_undo, undo_path};

use crate::inspect::{Identity, Pool, TypedColumn};
use crate::plan::Plan;
use crate::quote::{quote_name, quote_two_part, QuotedTable};
use crate::value::DbValue;
use anyhow::{anyhow, bail, Context, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Marks a file as this tool's journal.
pub const FORMAT: &str = "rgs-repair-journal";
/// The journal layout version this build reads and writes.
pub const VERSION: u32 = 4;

/// What the journal records.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A fix: rows given an owner pool.
    Fix,
    /// An undo: rows of a fix put back to NULL.
    Undo,
}

/// One attempt at the transaction and how it ended.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Attempt {
    /// When it ended.
    pub at: DateTime<Utc>,
    /// How: committed, rolled back, or outcome unknown.
    pub outcome: Status,
    /// Why, when it did not commit (lock timeout, Ctrl-C, deadlock, ...).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
}

/// The journal another one follows (an undo's fix).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Link {
    /// Its path when it was read.
    pub journal: PathBuf,
    /// Its digest.
    pub digest: String,
}

/// Where the transaction stands.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Written before COMMIT; the commit has not been confirmed (a crash
    /// leaves this: run `check` to see whether the rows changed).
    Pending,
    /// The server confirmed the commit.
    Committed,
    /// The transaction was rolled back; nothing changed.
    RolledBack,
    /// The connection was lost while COMMIT was under way: the server may or
    /// may not have committed.
    CommitOutcomeUnknown,
}

/// One changed row.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RowChange {
    /// Primary key values, in the table's key order.
    pub key: Vec<DbValue>,
    /// The object's name, for people reading the journal.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name: Option<String>,
    /// The owner before.
    pub old: DbValue,
    /// The owner after.
    pub new: DbValue,
}

/// One table's changes. On disk in the compact form of [`format`].
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(try_from = "format::CompactTable")]
pub struct TableChanges {
    /// Schema.
    pub schema: String,
    /// Table.
    pub table: String,
    /// The owner column.
    pub owner_column: String,
    /// Key columns, in order.
    pub key_columns: Vec<TypedColumn>,
    /// Every row's owner before the change.
    pub old: DbValue,
    /// Every row's owner after the change.
    pub new: DbValue,
    /// The rows. A fix's are not in its record: each attempt streams the
    /// rows it locked into lines of their own, and the last attempt's are
    /// the ones read back here.
    pub rows: Vec<RowChange>,
}

impl Serialize for TableChanges {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        format::CompactTable::try_from(self.clone())
            .map_err(serde::ser::Error::custom)?
            .serialize(s)
    }
}

impl TableChanges {
    /// `schema.table`, for people.
    pub fn full_name(&self) -> String {
        format!("{}.{}", self.schema, self.table)
    }

    /// The quoted names undo's statements need.
    pub fn quoted(&self) -> Result<QuotedTable> {
        let too_long = |what: &str| anyhow!("a {what} name in the journal is too long");
        Ok(QuotedTable {
            table: quote_two_part(&self.schema, &self.table).ok_or_else(|| too_long("table"))?,
            owner: quote_name(&self.owner_column).ok_or_else(|| too_long("column"))?,
            keys: self
                .key_columns
                .iter()
                .map(|k| quote_name(&k.name))
                .collect::<Option<_>>()
                .ok_or_else(|| too_long("key column"))?,
            display: None,
        })
    }
}

/// A journalled row and what it holds now: the unit of an undo plan, shown
/// by `report` and acted on by `apply`.
#[derive(Clone, Debug, PartialEq)]
pub struct UndoRow {
    /// `schema.table`
    pub table: String,
    /// The journal's record.
    pub change: RowChange,
    /// The owner now (None: the row no longer exists).
    pub current: Option<DbValue>,
    /// Whether the server finds that owner equal to what the fix wrote
    /// (the owner column's collation decides, not this tool).
    pub holds_fixed: bool,
}

impl UndoRow {
    /// Whether undo puts it back: it still holds what the fix wrote.
    pub fn restorable(&self) -> bool {
        self.holds_fixed
    }
}

impl UndoRow {
    /// A journalled row of `table` as undo's preview found it: left alone
    /// when the server listed it in `left` (gone, or holding another
    /// owner), else it still holds the value the fix wrote.
    pub fn of(table: &str, change: RowChange, left: &LeftAlone) -> UndoRow {
        let (current, holds_fixed) = match left.get(&change.key) {
            Some(now) => (now.clone(), false),
            None => (Some(change.new.clone()), true),
        };
        UndoRow {
            table: table.to_string(),
            change,
            current,
            holds_fixed,
        }
    }
}

/// What undo's preview found for one journalled table: the server's summary
/// and the rows it leaves alone. The restorable rows are the others; they
/// are never downloaded.
#[derive(Clone, Debug, PartialEq)]
pub struct UndoTablePreview {
    /// `schema.table`
    pub table: String,
    /// Counts and the restorable rows' key checksum.
    pub summary: UndoSummary,
    /// The rows left alone, by key.
    pub left_alone: LeftAlone,
    /// The first journalled rows, for people.
    pub first: Vec<UndoRow>,
}

/// What an undo did.
#[derive(Clone, Debug, PartialEq)]
pub struct UndoRecord {
    /// When.
    pub at: DateTime<Utc>,
    /// Where the undo transaction stands.
    pub status: Status,
    /// Rows put back.
    pub restored: usize,
    /// Rows left alone because they changed after the fix.
    pub left_alone: usize,
}

/// A journal file's content.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Journal {
    /// Always [`FORMAT`].
    pub format: String,
    /// Layout version.
    pub version: u32,
    /// A fix or an undo.
    pub kind: Kind,
    /// The tool version that wrote it.
    pub tool_version: String,
    /// Server as the user named it.
    pub server: String,
    /// Database.
    pub database: String,
    /// Which database, beyond its name.
    pub identity: Identity,
    /// `host,port` a listener routed the connection to, when it did.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub routed_to: Option<String>,
    /// Set when the identity check was overridden (`--restored-elsewhere`):
    /// what differed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub identity_override: Option<String>,
    /// The snapshot of the changed tables taken before the change (a
    /// folder beside the journal; see `rgs-repair snapshot`), unless
    /// `--no-snapshot`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub snapshot: Option<PathBuf>,
    /// Who, where, how.
    pub audit: Audit,
    /// The digest of the plan this change carried out (for a fix).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub plan_digest: Option<String>,
    /// For an undo: the fix's journal.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub undoes: Option<Link>,
    /// The pool the fix gave the rows.
    pub pool: Pool,
    /// When the change was prepared.
    pub created_at: DateTime<Utc>,
    /// Where the change stands: the last attempt's outcome, read from the
    /// lines appended after the record (see [`format`]).
    #[serde(skip, default = "pending")]
    pub status: Status,
    /// When the status last changed.
    #[serde(skip, default = "Utc::now")]
    pub status_at: DateTime<Utc>,
    /// What went wrong, when it did.
    #[serde(skip)]
    pub error: Option<String>,
    /// Every attempt, in order.
    #[serde(skip)]
    pub attempts: Vec<Attempt>,
    /// Every changed row, per table.
    pub tables: Vec<TableChanges>,
    /// [`crate::digest`] of the record (everything above but the status
    /// and attempts), written once: what an undo's journal links to.
    pub digest: String,
    /// The digest of the file's last line, which the next line chains to.
    #[serde(skip)]
    tail: String,
    /// Rows per table as read from the file (the last attempt's), whether
    /// or not the reader kept them ([`Journal::open`] does not).
    #[serde(skip)]
    row_counts: Vec<usize>,
    /// The attempt whose rows are the journal's (None: the rows are in the
    /// record, or there are none).
    #[serde(skip)]
    rows_attempt: Option<usize>,
}

fn pending() -> Status {
    Status::Pending
}

impl Journal {
    /// The journal for a plan, pending.
    pub fn for_plan(plan: &Plan, audit: Audit) -> Journal {
        let now = Utc::now();
        Journal {
            format: FORMAT.to_string(),
            version: VERSION,
            kind: Kind::Fix,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            server: plan.server.clone(),
            database: plan.database.clone(),
            identity: plan.identity.clone(),
            routed_to: plan.routed_to.clone(),
            identity_override: None,
            snapshot: None,
            audit,
            plan_digest: Some(plan.digest.clone()),
            undoes: None,
            pool: plan.pool.clone(),
            created_at: now,
            status: Status::Pending,
            status_at: now,
            error: None,
            attempts: Vec::new(),
            tables: plan
                .tables
                .iter()
                .map(|t| TableChanges {
                    schema: t.table.schema.clone(),
                    table: t.table.table.clone(),
                    owner_column: t.table.owner.name.clone(),
                    key_columns: t.table.key.clone(),
                    old: DbValue::Null,
                    new: plan.pool.id.clone(),
                    rows: Vec::new(),
                })
                .collect(),
            digest: String::new(),
            tail: String::new(),
            row_counts: Vec::new(),
            rows_attempt: None,
        }
    }

    /// The journal of an undo of `fix` (read from `fix_path`), pending:
    /// the fix's tables with their owners swapped, in the same order; the
    /// rows it puts back are appended by its transaction, once they are
    /// known under lock ([`Journal::rows_for_next_attempt`]).
    pub fn for_undo(fix: &Journal, fix_path: &Path, identity: Identity, audit: Audit) -> Journal {
        let now = Utc::now();
        let tables = fix
            .tables
            .iter()
            .map(|t| TableChanges {
                old: t.new.clone(),
                new: DbValue::Null,
                rows: Vec::new(),
                ..t.clone()
            })
            .collect();
        Journal {
            kind: Kind::Undo,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            identity,
            routed_to: None,
            identity_override: None,
            snapshot: None,
            audit,
            plan_digest: None,
            undoes: Some(Link {
                journal: fix_path.to_path_buf(),
                digest: fix.digest.clone(),
            }),
            created_at: now,
            status: Status::Pending,
            status_at: now,
            error: None,
            attempts: Vec::new(),
            tables,
            digest: String::new(),
            tail: String::new(),
            row_counts: Vec::new(),
            rows_attempt: None,
            ..fix.clone()
        }
    }

    /// Records how an attempt ended; the journal's status follows the last
    /// one. Writes the file.
    pub fn record(&mut self, path: &Path, outcome: Status, reason: Option<String>) -> Result<()> {
        let now = Utc::now();
        self.attempts.push(Attempt {
            at: now,
            outcome,
            reason: reason.clone(),
        });
        self.status = outcome;
        self.status_at = now;
        self.error = reason;
        self.append_attempt(path)
    }

    /// The tables undo works on, quoted; refuses a journal whose rows had an
    /// owner before the fix (this version only puts back NULL).
    pub fn undo_tables(&self) -> Result<Vec<(&TableChanges, QuotedTable)>> {
        self.tables
            .iter()
            .map(|t| {
                if !t.old.is_null() || t.rows.iter().any(|r| !r.old.is_null()) {
                    bail!("{}: the journal records owners other than NULL before the fix; this version only puts back NULL", t.full_name());
                }
                Ok((t, t.quoted()?))
            })
            .collect()
    }

    /// The tables undo works on as the reads take them: quoted, with their
    /// key types (see [`Journal::undo_tables`]).
    pub fn journalled_tables(&self) -> Result<Vec<UndoTable>> {
        Ok(self
            .undo_tables()?
            .into_iter()
            .map(|(t, quoted)| UndoTable {
                quoted,
                key_types: t.key_columns.iter().map(|k| k.type_name.clone()).collect(),
            })
            .collect())
    }

    /// Rows in all (counted when read, even when not kept).
    pub fn row_count(&self) -> usize {
        let kept: usize = self.tables.iter().map(|t| t.rows.len()).sum();
        kept.max(self.row_counts.iter().sum())
    }

    /// Rows of table `i` (counted when read, even when not kept).
    pub fn table_rows(&self, i: usize) -> usize {
        let kept = self.tables.get(i).map_or(0, |t| t.rows.len());
        kept.max(self.row_counts.get(i).copied().unwrap_or(0))
    }

    fn computed_digest(&self) -> String {
        let mut unsigned = self.clone();
        unsigned.digest = String::new();
        crate::digest::of(&unsigned)
    }

    /// Writes the journal's record to a new file and flushes it to disk.
    /// Never overwrites: an existing file is somebody's record.
    pub fn create(&mut self, path: &Path) -> Result<()> {
        self.digest = self.computed_digest();
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .with_context(|| format!("cannot create the journal {}", path.display()))?;
        f.write_all(&self.to_bytes()?)?;
        f.sync_all()
            .with_context(|| format!("cannot flush the journal {} to disk", path.display()))?;
        sync_dir(path);
        self.tail = self.digest.clone();
        Ok(())
    }

    /// Appends the last attempt's line and flushes it to disk: one short
    /// line, whatever the number of rows.
    fn append_attempt(&mut self, path: &Path) -> Result<()> {
        let n = self.attempts.len();
        let line = format::AttemptLine::new(n, &self.attempts[n - 1], &self.tail);
        let mut bytes = serde_json::to_vec(&line)?;
        bytes.push(b'\n');
        let mut f = OpenOptions::new()
            .append(true)
            .open(path)
            .with_context(|| format!("cannot update the journal {}", path.display()))?;
        f.write_all(&bytes)?;
        f.sync_all()
            .with_context(|| format!("cannot flush the journal {} to disk", path.display()))?;
        self.tail = line.digest().to_string();
        Ok(())
    }

    /// Starts writing the rows the next attempt locks (see [`RowLog`]).
    pub fn rows_for_next_attempt(&self, path: &Path) -> Result<RowLog> {
        let f = OpenOptions::new()
            .append(true)
            .open(path)
            .with_context(|| format!("cannot update the journal {}", path.display()))?;
        Ok(RowLog {
            out: std::io::BufWriter::with_capacity(1 << 16, f),
            path: path.to_path_buf(),
            attempt: self.attempts.len() + 1,
            previous: self.tail.clone(),
            table: 0,
            pending: format::RowsText::new(),
            written: 0,
        })
    }

    /// Takes the rows `log` wrote as the journal's own (its tail moves on).
    pub fn rows_written(&mut self, log: RowLog) -> Result<u64> {
        let (tail, written) = log.finish()?;
        self.tail = tail;
        Ok(written)
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut signed = self.clone();
        signed.digest = self.computed_digest();
        let mut v = serde_json::to_vec(&signed)?;
        v.push(b'\n');
        Ok(v)
    }

    /// The whole file as [`Journal::create`] and each [`Journal::record`]
    /// would have written it, rows in the record (for tests and tools that
    /// write a journal in one go).
    pub fn to_file_text(&self) -> Result<String> {
        let mut signed = self.clone();
        signed.digest = self.computed_digest();
        let mut text = String::from_utf8(signed.to_bytes()?)?;
        let mut previous = signed.digest.clone();
        for (i, a) in signed.attempts.iter().enumerate() {
            let line = format::AttemptLine::new(i + 1, a, &previous);
            previous = line.digest().to_string();
            text.push_str(&serde_json::to_string(&line)?);
            text.push('\n');
        }
        Ok(text)
    }
}

/// How many rows one line of a [`RowLog`] holds.
const ROWS_PER_LINE: usize = 5_000;

/// The rows one attempt locks, appended to the journal as they arrive from
/// the server, a line of at most [`ROWS_PER_LINE`] rows at a time, each
/// chained to the line before; [`Journal::rows_written`] flushes them to
/// disk (before the UPDATE is sent). Memory stays bounded however many
/// rows there are.
pub struct RowLog {
    out: std::io::BufWriter<fs::File>,
    path: PathBuf,
    attempt: usize,
    previous: String,
    table: usize,
    pending: format::RowsText,
    written: u64,
}

impl RowLog {
    /// One row of table `table` (its index in the journal's tables).
    pub fn push(&mut self, table: usize, key: &[DbValue], name: Option<&str>) -> Result<()> {
        if table != self.table || self.pending.len() >= ROWS_PER_LINE {
            self.line()?;
            self.table = table;
        }
        self.pending.push(key, name);
        self.written += 1;
        Ok(())
    }

    fn line(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.previous =
            self.pending
                .write_line(&mut self.out, self.attempt, self.table, &self.previous)?;
        Ok(())
    }

    fn finish(mut self) -> Result<(String, u64)> {
        self.line()?;
        self.out.flush()?;
        self.out
            .get_ref()
            .sync_all()
            .with_context(|| format!("cannot flush the journal {} to disk", self.path.display()))?;
        Ok((self.previous, self.written))
    }
}

/// A journal whose content does not match its digest: edited after the tool
/// wrote it.
#[derive(Debug, thiserror::Error)]
#[error("the journal {} was edited after rgs-repair wrote it (its content does not match its digest), so it cannot be trusted to say which rows to put back. Use the original file; if the edit was deliberate and reviewed, add --accept-edited-journal", .0.display())]
pub struct Edited(pub PathBuf);

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn sample() -> Journal {
        let now = Utc::now();
        Journal {
            format: FORMAT.into(),
            version: VERSION,
            kind: Kind::Fix,
            tool_version: "0.1.0".into(),
            server: "sql01\\rtc".into(),
            database: "rgsconfig".into(),
            identity: Identity {
                server_name: "SQL01\\RTC".into(),
                machine_name: "SQL01".into(),
                database: "rgsconfig".into(),
                database_created: "2026-11-27T07:00:00.000".into(),
                group_database_id: None,
            },
            routed_to: None,
            identity_override: None,
            snapshot: None,
            audit: Audit::here("sa"),
            plan_digest: Some("sha256:00".into()),
            undoes: None,
            attempts: Vec::new(),
            pool: Pool {
                id: DbValue::Guid(Uuid::from_u128(1)),
                name: Some("pool01".into()),
            },
            created_at: now,
            status: Status::Pending,
            status_at: now,
            error: None,
            tables: vec![TableChanges {
                schema: "dbo".into(),
                table: "Agent]Groups".into(),
                owner_column: "OwnerPoolId".into(),
                key_columns: vec![TypedColumn {
                    name: "ID".into(),
                    type_name: "uniqueidentifier".into(),
                }],
                old: DbValue::Null,
                new: DbValue::Guid(Uuid::from_u128(1)),
                rows: vec![RowChange {
                    key: vec![DbValue::Guid(Uuid::from_u128(2))],
                    name: Some("Helpdesk".into()),
                    old: DbValue::Null,
                    new: DbValue::Guid(Uuid::from_u128(1)),
                }],
            }],
            digest: String::new(),
            tail: String::new(),
            row_counts: Vec::new(),
            rows_attempt: None,
        }
    }

    #[test]
    fn round_trips_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.json");
        let mut j = sample();
        j.create(&path).unwrap();
        assert_eq!(Journal::read(&path, false).unwrap(), j);
        j.record(&path, Status::Committed, None).unwrap();
        let back = Journal::read(&path, false).unwrap();
        assert_eq!(back.status, Status::Committed);
        assert_eq!(back.attempts.len(), 1);
        assert!(
            j.create(&path).is_err(),
            "create must not overwrite a journal"
        );
    }

    #[test]
    fn opening_refuses_a_row_line_that_does_not_match_its_key_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.json");
        let mut j = sample();
        j.tables[0].rows.clear();
        j.create(&path).unwrap();
        let mut log = j.rows_for_next_attempt(&path).unwrap();
        log.push(0, &[DbValue::Guid(Uuid::from_u128(3))], Some("ok"))
            .unwrap();
        log.push(0, &[DbValue::Int(1), DbValue::Int(2)], None)
            .unwrap();
        j.rows_written(log).unwrap();
        for e in [
            Journal::open(&path, false).unwrap_err(),
            Journal::read(&path, false).unwrap_err(),
        ] {
            assert!(format!("{e:#}").contains("key column"), "{e:#}");
        }
    }

    #[test]
    fn refuses_truncated_foreign_and_inconsistent_files() {
        let text = String::from_utf8(sample().to_bytes().unwrap()).unwrap();
        let e = Journal::parse(&text[..text.len() / 2]).unwrap_err();
        assert!(e.to_string().contains("truncated"), "{e}");
        assert!(Journal::parse(r#"{"name": "some other json"}"#)
            .unwrap_err()
            .to_string()
            .contains("not written by rgs-repair"));
        assert!(text.contains("\"version\":4"));
        assert!(Journal::parse(&text.replace("\"version\":4", "\"version\":9")).is_err());
        let mut j = sample();
        j.tables[0].rows[0].key.push(DbValue::Int(1));
        let t = String::from_utf8(j.to_bytes().unwrap()).unwrap();
        let e = Journal::parse(&t).unwrap_err().to_string();
        assert!(e.contains("key column"), "{e}");
        assert!(Journal::parse("").is_err());
    }

    #[test]
    fn outcomes_are_appended_never_rewriting_the_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.json");
        let mut j = sample();
        j.create(&path).unwrap();
        let record = std::fs::read(&path).unwrap();
        j.record(&path, Status::RolledBack, Some("deadlock".into()))
            .unwrap();
        j.record(&path, Status::Committed, None).unwrap();
        let after = std::fs::read(&path).unwrap();
        assert_eq!(
            &after[..record.len()],
            &record[..],
            "the record was rewritten"
        );
        let text = String::from_utf8(after).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert_eq!(text, j.to_file_text().unwrap());
        let back = Journal::read(&path, false).unwrap();
        assert_eq!(back.status, Status::Committed);
        assert_eq!(back.attempts.len(), 2);
        assert_eq!(back.digest, j.digest);
        // An attempt line changed by hand breaks the chain.
        std::fs::write(&path, text.replace("rolled_back", "committed")).unwrap();
        assert!(Journal::read(&path, false)
            .unwrap_err()
            .downcast_ref::<Edited>()
            .is_some());
        // One row is a short line: the key and the name.
        let mut two = sample();
        let extra = RowChange {
            key: vec![DbValue::Guid(Uuid::from_u128(3))],
            ..two.tables[0].rows[0].clone()
        };
        two.tables[0].rows.push(extra);
        let row_bytes = serde_json::to_string(&two).unwrap().len()
            - serde_json::to_string(&sample()).unwrap().len();
        assert!(row_bytes < 80, "{row_bytes} bytes for one row");
    }

    #[test]
    fn an_edited_journal_is_refused_unless_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.json");
        sample().create(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("Agent]Groups", "Queues")).unwrap();
        let e = Journal::read(&path, false).unwrap_err();
        assert!(e.downcast_ref::<Edited>().is_some(), "{e:#}");
        assert_eq!(
            Journal::read(&path, true).unwrap().tables[0].table,
            "Queues"
        );
        // Whitespace is not content.
        let mut j = sample();
        let p2 = dir.path().join("k.json");
        j.create(&p2).unwrap();
        let compact: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&p2).unwrap()).unwrap();
        std::fs::write(&p2, compact.to_string()).unwrap();
        assert!(Journal::read(&p2, false).is_ok());
    }

    #[test]
    fn secrets_never_reach_the_command_line_record() {
        let line = command_line(
            [
                "rgs-repair",
                "--connection-string",
                "Server=x;Password=hunter2",
                "--connection-string=Password=hunter3",
                "-P",
                "hunter4",
                "fix",
            ]
            .map(String::from),
        );
        assert!(!line.contains("hunter"), "{line}");
        assert!(line.contains("fix"), "{line}");
    }

    #[test]
    fn journal_paths_are_checked_before_anything_runs() {
        let dir = tempfile::tempdir().unwrap();
        assert!(check_new_path(&dir.path().join("new.json")).is_ok());
        let e = check_new_path(&dir.path().join("nope/j.json")).unwrap_err();
        assert!(e.to_string().contains("does not exist"), "{e}");
        std::fs::write(dir.path().join("old.json"), "x").unwrap();
        let e = check_new_path(&dir.path().join("old.json")).unwrap_err();
        assert!(e.to_string().contains("already exists"), "{e}");
    }

    #[test]
    fn default_name_is_safe() {
        let at = DateTime::parse_from_rfc3339("2026-11-25T10:20:30Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            default_path("rgs/config", at),
            PathBuf::from("rgs-repair-journal-rgs_config-20261125T102030Z.json")
        );
    }
}
