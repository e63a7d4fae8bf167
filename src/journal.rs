//! The journal: a JSON record of every row `fix` changed, written and
//! flushed to disk before the commit, so the change can be undone and
//! audited. It never holds a password.

use crate::inspect::{Pool, TypedColumn};
use crate::plan::Plan;
use crate::quote::{quote_name, quote_two_part, QuotedTable};
use crate::value::DbValue;
use anyhow::{anyhow, bail, Context, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Marks a file as this tool's journal.
pub const FORMAT: &str = "rgs-repair-journal";
/// The journal layout version this build reads and writes.
pub const VERSION: u32 = 1;

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

/// One table's changes.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TableChanges {
    /// Schema.
    pub schema: String,
    /// Table.
    pub table: String,
    /// The owner column.
    pub owner_column: String,
    /// Key columns, in order.
    pub key_columns: Vec<TypedColumn>,
    /// The rows.
    pub rows: Vec<RowChange>,
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

    /// The journalled keys, in journal order.
    pub fn keys(&self) -> Vec<&[DbValue]> {
        self.rows.iter().map(|r| r.key.as_slice()).collect()
    }

    /// Each journalled row with the owner it holds now, from
    /// `current` (keys [`DbValue::normalized`]; a row missing from it no
    /// longer exists).
    pub fn undo_rows(&self, current: &HashMap<Vec<DbValue>, DbValue>) -> Vec<UndoRow> {
        let name = self.full_name();
        self.rows
            .iter()
            .map(|r| {
                let key: Vec<DbValue> = r.key.iter().map(DbValue::normalized).collect();
                UndoRow {
                    table: name.clone(),
                    change: r.clone(),
                    current: current.get(&key).cloned(),
                }
            })
            .collect()
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
}

impl UndoRow {
    /// Whether undo puts it back: it still holds what the fix wrote.
    pub fn restorable(&self) -> bool {
        self.current
            .as_ref()
            .is_some_and(|c| c.sql_eq(&self.change.new))
    }
}

/// What an undo did with this journal.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
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
pub struct Journal {
    /// Always [`FORMAT`].
    pub format: String,
    /// Layout version.
    pub version: u32,
    /// The tool version that wrote it.
    pub tool_version: String,
    /// Server as the user named it.
    pub server: String,
    /// Database.
    pub database: String,
    /// The login that made the change (never its password).
    pub login: String,
    /// The pool the rows were given.
    pub pool: Pool,
    /// When the transaction was prepared.
    pub created_at: DateTime<Utc>,
    /// Where the transaction stands.
    pub status: Status,
    /// When the status last changed.
    pub status_at: DateTime<Utc>,
    /// What went wrong, when it did.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
    /// Every changed row, per table.
    pub tables: Vec<TableChanges>,
    /// Set once `undo` has run.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub undo: Option<UndoRecord>,
}

impl Journal {
    /// The journal for a plan, pending.
    pub fn for_plan(plan: &Plan, login: &str) -> Journal {
        let now = Utc::now();
        Journal {
            format: FORMAT.to_string(),
            version: VERSION,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            server: plan.server.clone(),
            database: plan.database.clone(),
            login: login.to_string(),
            pool: plan.pool.clone(),
            created_at: now,
            status: Status::Pending,
            status_at: now,
            error: None,
            tables: plan
                .tables
                .iter()
                .map(|t| TableChanges {
                    schema: t.table.schema.clone(),
                    table: t.table.table.clone(),
                    owner_column: t.table.owner.name.clone(),
                    key_columns: t.table.key.clone(),
                    rows: t
                        .rows
                        .iter()
                        .map(|r| RowChange {
                            key: r.key.clone(),
                            name: r.name.clone(),
                            old: r.owner.clone(),
                            new: plan.pool.id.clone(),
                        })
                        .collect(),
                })
                .collect(),
            undo: None,
        }
    }

    /// The tables undo works on, quoted; refuses a journal whose rows had an
    /// owner before the fix (this version only puts back NULL).
    pub fn undo_tables(&self) -> Result<Vec<(&TableChanges, QuotedTable)>> {
        self.tables
            .iter()
            .map(|t| {
                if t.rows.iter().any(|r| !r.old.is_null()) {
                    bail!("{}: the journal records owners other than NULL before the fix; this version only puts back NULL", t.full_name());
                }
                Ok((t, t.quoted()?))
            })
            .collect()
    }

    /// Rows in all.
    pub fn row_count(&self) -> usize {
        self.tables.iter().map(|t| t.rows.len()).sum()
    }

    /// Reads and validates a journal. Refuses anything that is not a
    /// complete journal of this format, before any connection is made.
    pub fn read(path: &Path) -> Result<Journal> {
        let text = fs::read_to_string(path)
            .with_context(|| format!("cannot read the journal {}", path.display()))?;
        Journal::parse(&text)
            .with_context(|| format!("{} is not a usable rgs-repair journal", path.display()))
    }

    /// Parses and validates journal text.
    pub fn parse(text: &str) -> Result<Journal> {
        let probe: serde_json::Value = serde_json::from_str(text)
            .context("it is not complete JSON (truncated or corrupted?)")?;
        if probe.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            bail!("it is JSON, but not written by rgs-repair (no \"format\": \"{FORMAT}\")");
        }
        let version = probe.get("version").and_then(|v| v.as_u64());
        if version != Some(u64::from(VERSION)) {
            bail!("it has journal version {version:?}; this build reads version {VERSION}");
        }
        let j: Journal = serde_json::from_value(probe)
            .context("its content does not match the journal layout")?;
        for t in &j.tables {
            if t.key_columns.is_empty() {
                bail!("table {}.{} has no key columns", t.schema, t.table);
            }
            if let Some(r) = t
                .rows
                .iter()
                .find(|r| r.key.len() != t.key_columns.len() || r.key.iter().any(DbValue::is_null))
            {
                bail!(
                    "a row of {}.{} has a key that does not match its key columns ({:?})",
                    t.schema,
                    t.table,
                    r.key
                );
            }
            if t.rows.iter().any(|r| r.new.is_null()) {
                bail!("a row of {}.{} records a NULL new owner", t.schema, t.table);
            }
        }
        Ok(j)
    }

    /// Writes the journal to a new file and flushes it to disk. Never
    /// overwrites: an existing file is somebody's record.
    pub fn create(&self, path: &Path) -> Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .with_context(|| format!("cannot create the journal {}", path.display()))?;
        f.write_all(&self.to_bytes()?)?;
        f.sync_all()
            .with_context(|| format!("cannot flush the journal {} to disk", path.display()))?;
        sync_dir(path);
        Ok(())
    }

    /// Replaces the journal file atomically (write, flush, rename), so a
    /// crash leaves either the old or the new content, never half.
    pub fn replace(&self, path: &Path) -> Result<()> {
        let tmp = path.with_extension("json.tmp");
        {
            let mut f =
                File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
            f.write_all(&self.to_bytes()?)?;
            f.sync_all()?;
        }
        fs::rename(&tmp, path)
            .with_context(|| format!("cannot update the journal {}", path.display()))?;
        sync_dir(path);
        Ok(())
    }

    /// Sets the status and writes the file.
    pub fn mark(&mut self, path: &Path, status: Status, error: Option<String>) -> Result<()> {
        self.status = status;
        self.status_at = Utc::now();
        self.error = error;
        self.replace(path)
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut v = serde_json::to_vec_pretty(self)?;
        v.push(b'\n');
        Ok(v)
    }
}

#[cfg(unix)]
fn sync_dir(path: &Path) {
    // The file's directory entry must be durable too, or a crash can lose a
    // fully flushed file.
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(not(unix))]
fn sync_dir(_: &Path) {}

/// `./rgs-repair-journal-<database>-<UTC timestamp>.json`, with characters
/// that are awkward in file names replaced.
pub fn default_path(database: &str, at: DateTime<Utc>) -> PathBuf {
    let safe: String = database
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    PathBuf::from(format!(
        "rgs-repair-journal-{safe}-{}.json",
        at.format("%Y%m%dT%H%M%SZ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn sample() -> Journal {
        let now = Utc::now();
        Journal {
            format: FORMAT.into(),
            version: VERSION,
            tool_version: "0.1.0".into(),
            server: "sql01\\rtc".into(),
            database: "rgsconfig".into(),
            login: "sa".into(),
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
                rows: vec![RowChange {
                    key: vec![DbValue::Guid(Uuid::from_u128(2))],
                    name: Some("Helpdesk".into()),
                    old: DbValue::Null,
                    new: DbValue::Guid(Uuid::from_u128(1)),
                }],
            }],
            undo: None,
        }
    }

    #[test]
    fn round_trips_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.json");
        let mut j = sample();
        j.create(&path).unwrap();
        assert_eq!(Journal::read(&path).unwrap(), j);
        j.mark(&path, Status::Committed, None).unwrap();
        assert_eq!(Journal::read(&path).unwrap().status, Status::Committed);
        assert!(
            j.create(&path).is_err(),
            "create must not overwrite a journal"
        );
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
        assert!(Journal::parse(&text.replace("\"version\": 1", "\"version\": 9")).is_err());
        let mut j = sample();
        j.tables[0].rows[0].key.push(DbValue::Int(1));
        let t = String::from_utf8(j.to_bytes().unwrap()).unwrap();
        assert!(Journal::parse(&t)
            .unwrap_err()
            .to_string()
            .contains("does not match its key columns"));
        assert!(Journal::parse("").is_err());
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
