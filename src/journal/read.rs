//! Reading a journal back, line by line: the record, then each line after
//! it checked against the chain of digests as it comes. [`Journal::read`]
//! keeps the rows (a journal a person or a test looks at);
//! [`Journal::open`] only counts them, and [`Journal::rows`] streams
//! them again when they are needed, so that undo's memory does not grow
//! with the journal.

use super::format::{self, Line, RawRowsLine};
use super::{Edited, Journal, Kind, RowChange, TableChanges, FORMAT, VERSION};
use crate::value::DbValue;
use anyhow::{anyhow, bail, Context, Result};
use std::io::BufRead;
use std::path::Path;

/// The state of a journal being read.
struct Reader {
    journal: Journal,
    keep_rows: bool,
    /// Whether every digest so far matches.
    intact: bool,
    previous: String,
    /// Attempt lines seen.
    attempts: usize,
    /// The attempt whose rows are being collected, and its counts.
    rows_attempt: Option<usize>,
    counts: Vec<usize>,
}

impl Reader {
    /// Starts with the record line.
    fn new(record: &str, keep_rows: bool) -> Result<Reader> {
        let probe: serde_json::Value = serde_json::from_str(record)
            .context("it is not complete JSON (truncated or corrupted?)")?;
        if probe.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            bail!("it is JSON, but not written by rgs-repair (no \"format\": \"{FORMAT}\")");
        }
        let version = probe.get("version").and_then(|v| v.as_u64());
        if version != Some(u64::from(VERSION)) {
            bail!("it has journal version {version:?}; this build reads version {VERSION} (a journal of an earlier version is undone by the build that wrote it)");
        }
        let mut j: Journal = serde_json::from_value(probe)
            .map_err(|e| anyhow!("its content does not match the journal layout: {e}"))?;
        for t in &j.tables {
            format::refuse_empty_keys(t)?;
        }
        let intact = j.digest == j.computed_digest();
        let counts = j.tables.iter().map(|t| t.rows.len()).collect();
        if !keep_rows {
            for t in &mut j.tables {
                t.rows = Vec::new();
            }
        }
        j.status_at = j.created_at;
        Ok(Reader {
            previous: j.digest.clone(),
            journal: j,
            keep_rows,
            intact,
            attempts: 0,
            rows_attempt: None,
            counts,
        })
    }

    /// One line after the record.
    fn line(&mut self, n: usize, text: &str) -> Result<()> {
        if !self.keep_rows && self.counted(text) {
            return Ok(());
        }
        let line = Line::parse(text).map_err(|e| {
            anyhow!(
                "its line {} is neither rows nor an attempt of a journal ({e})",
                n + 1
            )
        })?;
        match line {
            Line::Attempt(a) => {
                self.attempts += 1;
                self.intact &= a.intact(self.attempts, &self.previous);
                self.previous = a.digest().to_string();
                let a = a.attempt();
                let j = &mut self.journal;
                j.status = a.outcome;
                j.status_at = a.at;
                j.error = a.reason.clone();
                j.attempts.push(a);
            }
            Line::Rows(r) => {
                self.intact &= r.attempt == self.attempts + 1 && r.intact(&self.previous);
                self.previous = r.digest().to_string();
                self.start_rows_of(r.attempt);
                let n_tables = self.journal.tables.len();
                let t = self.journal.tables.get_mut(r.table).ok_or_else(|| {
                    anyhow!(
                        "a line of rows names table {}, which it does not record ({n_tables} tables)",
                        r.table
                    )
                })?;
                self.counts[r.table] += r.rows.len();
                if self.keep_rows {
                    for v in r.rows {
                        let row = format::typed_row(t, v).map_err(|e| anyhow!(e))?;
                        check_row(self.journal.kind, t.schema.as_str(), &t.table, &row)?;
                        t.rows.push(row);
                    }
                } else {
                    // Counted and checked for shape only: each row is typed
                    // when it is read again to be sent.
                    let width = t.key_columns.len() + 1;
                    if let Some(v) = r.rows.iter().find(|v| {
                        v.len() != width || v[..width - 1].iter().any(serde_json::Value::is_null)
                    }) {
                        bail!(
                            "a row of {}.{} does not match its key columns ({v:?})",
                            t.schema,
                            t.table
                        );
                    }
                }
            }
        }
        Ok(())
    }

    /// A line of rows as the writer spells it, counted and checked
    /// without parsing its rows ([`RawRowsLine`]); false when it is not
    /// one, or its rows do not fit their table, and [`Reader::line`]
    /// reads it the long way (which explains what is wrong).
    fn counted(&mut self, text: &str) -> bool {
        let Some(r) = RawRowsLine::scan(text) else {
            return false;
        };
        let fits = self
            .journal
            .tables
            .get(r.table)
            .is_some_and(|t| r.fits(t.key_columns.len() + 1));
        if !fits {
            return false;
        }
        self.intact &= r.attempt == self.attempts + 1 && r.intact(&self.previous);
        self.previous = r.digest().to_string();
        self.start_rows_of(r.attempt);
        self.counts[r.table] += r.rows;
        true
    }

    /// A later attempt's rows replace an earlier one's: the last attempt's
    /// are the rows its UPDATE changed.
    fn start_rows_of(&mut self, attempt: usize) {
        if self.rows_attempt != Some(attempt) {
            self.rows_attempt = Some(attempt);
            self.counts = vec![0; self.journal.tables.len()];
            for t in &mut self.journal.tables {
                t.rows = Vec::new();
            }
        }
    }

    fn finish(mut self) -> Result<(Journal, bool)> {
        for t in &self.journal.tables {
            for r in &t.rows {
                check_row(self.journal.kind, &t.schema, &t.table, r)?;
            }
        }
        self.journal.tail = self.previous;
        // Kept rows count themselves.
        if !self.keep_rows {
            self.journal.row_counts = self.counts;
        }
        self.journal.rows_attempt = self.rows_attempt;
        Ok((self.journal, self.intact))
    }
}

/// Refuses a row whose key has a NULL (it does not match its key columns)
/// or whose owner on the changed side is NULL.
fn check_row(kind: Kind, schema: &str, table: &str, r: &RowChange) -> Result<()> {
    if r.key.iter().any(DbValue::is_null) {
        bail!(
            "a row of {schema}.{table} has a key that does not match its key columns ({:?})",
            r.key
        );
    }
    let (side, bad) = match kind {
        Kind::Fix => ("new", r.new.is_null()),
        Kind::Undo => ("old", r.old.is_null()),
    };
    if bad {
        bail!("a row of {schema}.{table} records a NULL {side} owner");
    }
    Ok(())
}

/// Hands each line of the file at `path` to `f` with its number (0: the
/// record), trailing white space removed, blank lines left out. A last line
/// without its newline was being appended when the process died: it never
/// recorded anything, and is left out too (the status stays what the lines
/// before say, which at worst is "pending": not confirmed).
fn each_line(path: &Path, mut f: impl FnMut(usize, &str) -> Result<()>) -> Result<()> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot read the journal {}", path.display()))?;
    let mut r = std::io::BufReader::with_capacity(1 << 16, file);
    let mut buf = String::new();
    let mut n = 0;
    loop {
        buf.clear();
        let read = r
            .read_line(&mut buf)
            .with_context(|| format!("cannot read the journal {}", path.display()))?;
        if read == 0 {
            break;
        }
        if !buf.ends_with('\n') && n > 0 {
            break;
        }
        let line = buf.trim_end();
        if line.trim().is_empty() {
            continue;
        }
        f(n, line)?;
        n += 1;
    }
    if n == 0 {
        bail!("it is empty");
    }
    Ok(())
}

impl Journal {
    /// Reads and validates a journal, keeping its rows. Refuses anything
    /// that is not a complete journal of this format, before any connection
    /// is made, and a journal edited since the tool wrote it ([`Edited`])
    /// unless `accept_edited`.
    pub fn read(path: &Path, accept_edited: bool) -> Result<Journal> {
        Journal::read_file(path, accept_edited, true)
    }

    /// [`Journal::read`] without keeping the rows: they are counted
    /// ([`Journal::row_count`]) and checked, and [`Journal::rows`]
    /// reads them again when needed.
    pub fn open(path: &Path, accept_edited: bool) -> Result<Journal> {
        Journal::read_file(path, accept_edited, false)
    }

    fn read_file(path: &Path, accept_edited: bool, keep_rows: bool) -> Result<Journal> {
        let mut reader: Option<Reader> = None;
        each_line(path, |n, line| {
            match &mut reader {
                None => reader = Some(Reader::new(line, keep_rows)?),
                Some(r) => r.line(n, line)?,
            }
            Ok(())
        })
        .with_context(|| format!("{} is not a usable rgs-repair journal", path.display()))?;
        let reader = reader.ok_or_else(|| anyhow!("{} is empty", path.display()))?;
        let (j, intact) = reader
            .finish()
            .with_context(|| format!("{} is not a usable rgs-repair journal", path.display()))?;
        if !accept_edited && !intact {
            return Err(Edited(path.to_path_buf()).into());
        }
        Ok(j)
    }

    /// Parses and validates journal text (not its digests).
    pub fn parse(text: &str) -> Result<Journal> {
        Journal::parse_checked(text).map(|(j, _)| j)
    }

    /// Parses journal text; also says whether every digest matches.
    pub(super) fn parse_checked(text: &str) -> Result<(Journal, bool)> {
        let (record, lines) = format::split(text)?;
        let mut r = Reader::new(record, true)?;
        for (i, l) in lines.iter().enumerate() {
            r.line(i + 1, l)?;
        }
        r.finish()
    }

    /// Every row of the journal (read from `path`, which [`Journal::open`]
    /// read) with its table's index, in file order, read as they are
    /// taken (a line of rows at a time): the record's rows, then the rows
    /// of the attempt the journal's rows come from.
    pub fn rows<'j>(&'j self, path: &Path) -> Result<JournalRows<'j>> {
        let file = std::fs::File::open(path)
            .with_context(|| format!("cannot read the journal {}", path.display()))?;
        Ok(JournalRows {
            journal: self,
            reader: std::io::BufReader::with_capacity(1 << 16, file),
            buf: String::new(),
            first: true,
            pending: Vec::new().into_iter(),
            done: false,
        })
    }
}

/// The rows of a journal, read a line at a time ([`Journal::rows`]).
pub struct JournalRows<'j> {
    journal: &'j Journal,
    reader: std::io::BufReader<std::fs::File>,
    buf: String,
    first: bool,
    pending: std::vec::IntoIter<(usize, RowChange)>,
    done: bool,
}

impl<'j> JournalRows<'j> {
    /// Reads the next line into `pending`.
    fn fill(&mut self) -> Result<()> {
        self.buf.clear();
        let read = self.reader.read_line(&mut self.buf)?;
        if read == 0 || !self.buf.ends_with('\n') && !self.first {
            self.done = true;
            return Ok(());
        }
        let line = self.buf.trim_end();
        if line.trim().is_empty() {
            return Ok(());
        }
        let changed = |e: serde_json::Error| anyhow!("the journal changed while it was read ({e})");
        let mut rows = Vec::new();
        if std::mem::take(&mut self.first) {
            let record: Journal = serde_json::from_str(line).map_err(changed)?;
            for (i, t) in record.tables.into_iter().enumerate() {
                rows.extend(t.rows.into_iter().map(|r| (i, r)));
            }
        } else if let Some(r) = RawRowsLine::scan(line) {
            // Spelled as the writer spells it: read without JSON values.
            if let Some(t) = self.rows_table(r.attempt, r.table)? {
                let typed = r.typed_rows(t).map_err(|e| anyhow!(e))?;
                rows.extend(typed.into_iter().map(|row| (r.table, row)));
            }
        } else if line.contains("\"rows\"") {
            if let Line::Rows(r) = Line::parse(line).map_err(changed)? {
                if let Some(t) = self.rows_table(r.attempt, r.table)? {
                    for v in r.rows {
                        rows.push((r.table, format::typed_row(t, v).map_err(|e| anyhow!(e))?));
                    }
                }
            }
        }
        self.pending = rows.into_iter();
        Ok(())
    }

    /// The table a line of rows of `attempt` belongs to, when that attempt
    /// is the one whose rows are read back (None: another attempt's line).
    fn rows_table(&self, attempt: usize, table: usize) -> Result<Option<&'j TableChanges>> {
        let journal = self.journal;
        if Some(attempt) != journal.rows_attempt {
            return Ok(None);
        }
        journal
            .tables
            .get(table)
            .map(Some)
            .ok_or_else(|| anyhow!("the journal changed while it was read"))
    }
}

impl Iterator for JournalRows<'_> {
    type Item = Result<(usize, RowChange)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(r) = self.pending.next() {
                return Some(Ok(r));
            }
            if self.done {
                return None;
            }
            if let Err(e) = self.fill() {
                self.done = true;
                return Some(Err(e));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{Edited, Status};

    /// A fix's journal written by the released version 4 (two attempts, the
    /// first rolled back; uniqueidentifier, int + nvarchar and bigint keys;
    /// names with quotes, a backslash and non-ASCII letters, and none).
    const V4: &str = include_str!("testdata/v4-fix.json");

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn a_version_4_journal_still_opens_verified_and_undoes_its_last_attempts_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "v4.json", V4);
        let opened = Journal::open(&path, false).unwrap();
        let read = Journal::read(&path, false).unwrap();
        assert_eq!(opened.status, Status::Committed);
        assert_eq!(opened.attempts.len(), 2);
        assert_eq!(opened.row_count(), 7);
        assert_eq!(
            (0..3).map(|i| opened.table_rows(i)).collect::<Vec<_>>(),
            [3, 2, 2]
        );
        assert_eq!(opened.tail, read.tail);
        let streamed: Vec<(usize, RowChange)> =
            opened.rows(&path).unwrap().collect::<Result<_>>().unwrap();
        let kept: Vec<(usize, RowChange)> = read
            .tables
            .iter()
            .enumerate()
            .flat_map(|(i, t)| t.rows.iter().map(move |r| (i, r.clone())))
            .collect();
        assert_eq!(streamed, kept);
        assert_eq!(kept[4].1.name.as_deref(), Some("Sales \"East\" \\ 2"));
        assert_eq!(kept[6].1.key, [DbValue::BigInt(i64::MIN)]);
    }

    #[test]
    fn an_edit_to_any_line_of_rows_is_noticed_when_opening() {
        let dir = tempfile::tempdir().unwrap();
        // A GUID (the line is still spelled as the writer spells it), an
        // integer, and a name with escapes (a line read the long way).
        for (from, to) in [
            ("00000000ABC2\",\"Helpdesk 2\"]],\"digest\":\"sha256:c8d3", "00000000ABC9\",\"Helpdesk 2\"]],\"digest\":\"sha256:c8d3"),
            ("[[1099511627776,\"Big\"],[-9223372036854775808,\"Least\"]],\"digest\":\"sha256:1548", "[[1099511627777,\"Big\"],[-9223372036854775808,\"Least\"]],\"digest\":\"sha256:1548"),
            ("\"Sales \\\"East\\\" \\\\ 2\"]],\"digest\":\"sha256:7dff", "\"Sales \\\"West\\\" \\\\ 2\"]],\"digest\":\"sha256:7dff"),
        ] {
            assert_eq!(V4.matches(from).count(), 1, "{from}");
            let path = write(&dir, "edited.json", &V4.replace(from, to));
            let e = Journal::open(&path, false).unwrap_err();
            assert!(e.downcast_ref::<Edited>().is_some(), "{from}: {e:#}");
            assert!(Journal::open(&path, true).is_ok());
        }
    }

    #[test]
    fn only_the_last_attempts_rows_are_read_back() {
        let dir = tempfile::tempdir().unwrap();
        // The rolled-back first attempt locked other rows than the second
        // (an edit here, accepted, so that the two differ); its lines are
        // spelled as the writer spells them, so the fast path reads them.
        let from = "[[\"00000000-0000-0000-0000-00000000ABC0\",\"Helpdesk 0\"]";
        assert_eq!(V4.matches(from).count(), 2);
        let edited = V4.replacen(
            from,
            "[[\"00000000-0000-0000-0000-00000000ABD0\",\"Helpdesk 0\"]",
            1,
        );
        let path = write(&dir, "attempts.json", &edited);
        let j = Journal::open(&path, true).unwrap();
        let keys: Vec<String> = j
            .rows(&path)
            .unwrap()
            .map(|r| r.unwrap())
            .filter(|(t, _)| *t == 0)
            .map(|(_, r)| r.key[0].to_string())
            .collect();
        assert_eq!(keys.len(), 3);
        assert_eq!(keys[0], "00000000-0000-0000-0000-00000000ABC0");
    }

    #[test]
    fn a_torn_last_line_is_not_read_as_rows() {
        let dir = tempfile::tempdir().unwrap();
        // What a crash in the middle of appending a line leaves.
        let torn = format!(
            "{V4}{{\"attempt\":3,\"table\":0,\"rows\":[[\"00000000-0000-0000-0000-00000000ABC0\",\"Help"
        );
        let path = write(&dir, "torn.json", &torn);
        let j = Journal::open(&path, false).unwrap();
        let rows: Vec<_> = j.rows(&path).unwrap().collect::<Result<_>>().unwrap();
        assert_eq!(rows.len(), 7);
    }

    #[test]
    fn a_line_of_rows_spelled_another_way_is_the_same_content() {
        let dir = tempfile::tempdir().unwrap();
        // Spaces and a needless escape: not how the writer spells it, so
        // read the long way, and still the same rows and digests.
        let respelled = V4
            .replace("[[0,\"Ünïcode", "[ [0, \"Ünïcode")
            .replace("\"a/b\"", "\"a\\/b\"");
        assert_ne!(respelled, V4);
        let path = write(&dir, "respelled.json", &respelled);
        let j = Journal::open(&path, false).unwrap();
        assert_eq!(j.row_count(), 7);
        let row = j.rows(&path).unwrap().nth(4).unwrap().unwrap().1;
        assert_eq!(row.key[1], DbValue::Text("a/b".into()));
    }
}
