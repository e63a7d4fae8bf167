//! The journal on disk (version 4): JSON Lines. The first line is the
//! record of the change, written and flushed before the transaction starts
//! and never rewritten. Each attempt then appends the rows it locked (a fix
//! streams them from the server in lines of a few thousand, flushed before
//! its UPDATE is sent) and one line with its outcome, so COMMIT's outcome
//! costs one short line, not a rewrite of every row. Each line carries a
//! digest: the first its own, each later one chained to the line before,
//! so an edit anywhere shows. The last attempt's rows are the changed ones.
//!
//! Rows are compact: a table states its owner before and after once, and a
//! row is a JSON array of its key values (typed by the table's key columns)
//! followed by the object's name.

use super::{Attempt, RowChange, Status, TableChanges};
use crate::inspect::TypedColumn;
use crate::value::DbValue;
use anyhow::{anyhow, bail, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A table as the journal file holds it.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CompactTable {
    schema: String,
    table: String,
    owner_column: String,
    key_columns: Vec<TypedColumn>,
    /// Every row's owner before the change.
    old: DbValue,
    /// Every row's owner after the change.
    new: DbValue,
    /// `[key values..., name]` per row.
    rows: Vec<Vec<Value>>,
}

impl TryFrom<TableChanges> for CompactTable {
    type Error = String;

    fn try_from(t: TableChanges) -> Result<Self, String> {
        if t.rows.iter().any(|r| r.old != t.old || r.new != t.new) {
            return Err(format!(
                "{}.{}: rows with different owners cannot share one journal table",
                t.schema, t.table
            ));
        }
        let rows = t
            .rows
            .iter()
            .map(|r| compact_row(&r.key, r.name.as_deref()))
            .collect();
        Ok(CompactTable {
            schema: t.schema,
            table: t.table,
            owner_column: t.owner_column,
            key_columns: t.key_columns,
            old: t.old,
            new: t.new,
            rows,
        })
    }
}

/// A row as the journal file holds it: its key values, then its name.
pub(super) fn compact_row(key: &[DbValue], name: Option<&str>) -> Vec<Value> {
    let mut v: Vec<Value> = key.iter().map(plain).collect();
    v.push(name.map_or(Value::Null, |n| Value::String(n.to_string())));
    v
}

/// A compact row read back for `table`, whose rows have its owners.
pub(super) fn typed_row(table: &TableChanges, v: Vec<Value>) -> Result<RowChange, String> {
    let raw: Vec<Raw<'_>> = v.iter().map(Raw::of).collect();
    typed_raw_row(table, &raw)
}

/// A row's values as its line spells them: what [`typed`] reads, from
/// parsed JSON or straight from a line's text ([`RawRowsLine`]).
#[derive(Clone, Copy)]
enum Raw<'a> {
    Null,
    Str(&'a str),
    Int(i64),
    /// Any other JSON value (never a valid key or name).
    Other(&'a Value),
}

impl<'a> Raw<'a> {
    fn of(v: &'a Value) -> Raw<'a> {
        match v {
            Value::Null => Raw::Null,
            Value::String(s) => Raw::Str(s),
            Value::Number(n) if n.as_i64().is_some() => Raw::Int(n.as_i64().unwrap_or(0)),
            other => Raw::Other(other),
        }
    }
}

impl std::fmt::Display for Raw<'_> {
    /// As JSON spells it (for messages).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Raw::Null => f.write_str("null"),
            Raw::Str(s) => write!(f, "{}", Value::String((*s).to_string())),
            Raw::Int(i) => write!(f, "{i}"),
            Raw::Other(v) => write!(f, "{v}"),
        }
    }
}

/// [`typed_row`] over a row's values as spelled.
fn typed_raw_row(table: &TableChanges, v: &[Raw<'_>]) -> Result<RowChange, String> {
    let n = table.key_columns.len();
    if v.len() != n + 1 {
        return Err(format!(
            "a row of {}.{} has {} values where its {n} key column(s) and a name make {}",
            table.schema,
            table.table,
            v.len(),
            n + 1
        ));
    }
    let name = match v[n] {
        Raw::Str(s) => Some(s.to_string()),
        Raw::Null => None,
        _ => return Err("an object name that is not text".to_string()),
    };
    let key = v[..n]
        .iter()
        .zip(&table.key_columns)
        .map(|(v, col)| typed(&col.type_name, *v))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RowChange {
        key,
        name,
        old: table.old.clone(),
        new: table.new.clone(),
    })
}

impl TryFrom<CompactTable> for TableChanges {
    type Error = String;

    fn try_from(c: CompactTable) -> Result<Self, String> {
        let mut t = TableChanges {
            schema: c.schema,
            table: c.table,
            owner_column: c.owner_column,
            key_columns: c.key_columns,
            old: c.old,
            new: c.new,
            rows: Vec::new(),
        };
        t.rows = c
            .rows
            .into_iter()
            .map(|v| typed_row(&t, v))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(t)
    }
}

/// A key value as plain JSON: its type is the key column's.
fn plain(v: &DbValue) -> Value {
    match v {
        DbValue::Null => Value::Null,
        DbValue::Guid(_) | DbValue::Text(_) => Value::String(v.to_string()),
        DbValue::Bit(b) => Value::from(u8::from(*b)),
        other => other.as_i64().map_or(Value::Null, Value::from),
    }
}

/// A plain JSON key value read back as the SQL type `type_name`.
fn typed(type_name: &str, v: Raw<'_>) -> Result<DbValue, String> {
    let bad = || format!("a key value {v} that is not a {type_name}");
    let int = || match v {
        Raw::Int(i) => Ok(i),
        _ => Err(bad()),
    };
    let text = || match v {
        Raw::Str(s) => Ok(s),
        _ => Err(bad()),
    };
    let is = |t: &str| type_name.eq_ignore_ascii_case(t);
    Ok(if is("uniqueidentifier") {
        DbValue::Guid(
            text()
                .ok()
                .and_then(|s| uuid::Uuid::parse_str(s).ok())
                .ok_or_else(bad)?,
        )
    } else if is("bit") {
        DbValue::Bit(match int()? {
            0 => false,
            1 => true,
            _ => return Err(bad()),
        })
    } else if is("tinyint") {
        DbValue::TinyInt(u8::try_from(int()?).map_err(|_| bad())?)
    } else if is("smallint") {
        DbValue::SmallInt(i16::try_from(int()?).map_err(|_| bad())?)
    } else if is("int") {
        DbValue::Int(i32::try_from(int()?).map_err(|_| bad())?)
    } else if is("bigint") {
        DbValue::BigInt(int()?)
    } else if ["nvarchar", "varchar", "nchar", "char", "sysname"]
        .iter()
        .any(|t| is(t))
    {
        DbValue::Text(text()?.to_string())
    } else {
        return Err(format!(
            "a key column of type {}, which no journal holds",
            type_name.to_ascii_lowercase()
        ));
    })
}

/// One appended line: how an attempt ended, chained to the line before.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AttemptLine {
    /// 1 for the first attempt.
    attempt: usize,
    at: DateTime<Utc>,
    outcome: Status,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    reason: Option<String>,
    /// [`crate::digest`] of the previous line's digest and this line.
    digest: String,
}

#[derive(Serialize)]
struct Chained<'a> {
    previous: &'a str,
    attempt: usize,
    at: &'a DateTime<Utc>,
    outcome: &'a Status,
    reason: &'a Option<String>,
}

impl AttemptLine {
    /// The line for attempt number `n` (from 1), after the line whose digest
    /// is `previous`.
    pub(super) fn new(n: usize, a: &Attempt, previous: &str) -> AttemptLine {
        let digest = crate::digest::of(&Chained {
            previous,
            attempt: n,
            at: &a.at,
            outcome: &a.outcome,
            reason: &a.reason,
        });
        AttemptLine {
            attempt: n,
            at: a.at,
            outcome: a.outcome,
            reason: a.reason.clone(),
            digest,
        }
    }

    /// Its digest.
    pub(super) fn digest(&self) -> &str {
        &self.digest
    }

    /// Whether its digest matches its content after `previous`.
    pub(super) fn intact(&self, n: usize, previous: &str) -> bool {
        let a = self.attempt();
        self.attempt == n && AttemptLine::new(n, &a, previous).digest == self.digest
    }

    /// The attempt it records.
    pub(super) fn attempt(&self) -> Attempt {
        Attempt {
            at: self.at,
            outcome: self.outcome,
            reason: self.reason.clone(),
        }
    }
}

/// One appended line of rows: some of the rows one attempt locked in one
/// table (its index in the record's tables), streamed as the server sent
/// them and chained like the attempt lines. The rows of the last attempt
/// are the ones its UPDATE changed.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RowsLine {
    pub(super) attempt: usize,
    pub(super) table: usize,
    pub(super) rows: Vec<Vec<Value>>,
    digest: String,
}

#[derive(Serialize)]
struct RowsChained<'a> {
    previous: &'a str,
    attempt: usize,
    table: usize,
    rows: &'a [Vec<Value>],
}

impl RowsLine {
    /// The line for `rows` of `table` in attempt `attempt`, after the line
    /// whose digest is `previous`: the spelling [`RowsText`] writes by hand
    /// (its tests hold it to this one).
    #[cfg(test)]
    pub(super) fn new(
        attempt: usize,
        table: usize,
        rows: Vec<Vec<Value>>,
        previous: &str,
    ) -> RowsLine {
        let digest = crate::digest::of(&RowsChained {
            previous,
            attempt,
            table,
            rows: &rows,
        });
        RowsLine {
            attempt,
            table,
            rows,
            digest,
        }
    }

    /// Its digest.
    pub(super) fn digest(&self) -> &str {
        &self.digest
    }

    /// Whether its digest matches its content after `previous`.
    pub(super) fn intact(&self, previous: &str) -> bool {
        crate::digest::of(&RowsChained {
            previous,
            attempt: self.attempt,
            table: self.table,
            rows: &self.rows,
        }) == self.digest
    }
}

/// A line of rows exactly as [`RowLog`](super::RowLog) writes it, read
/// without building its rows: `{"attempt":N,"table":T,"rows":[...],
/// "digest":"..."}`, compact, its strings without escapes, its numbers
/// integers. Its `rows` text is then what serializing the parsed rows
/// again would give, so its digest is taken over that text as it is:
/// opening a large journal neither allocates a value per row nor writes
/// them out again. Any other spelling of the same line (spaces, escapes,
/// another key order) is not matched here, and is read by [`Line::parse`]
/// and checked the long way, which gives the same answer.
pub(super) struct RawRowsLine<'a> {
    pub(super) attempt: usize,
    pub(super) table: usize,
    /// How many rows.
    pub(super) rows: usize,
    raw_rows: &'a str,
    digest: &'a str,
    /// Every row's length when they are all the same (None: they differ).
    width: Option<usize>,
    /// Whether a value other than a row's last is null.
    null_key: bool,
}

impl<'a> RawRowsLine<'a> {
    /// The line read this way, or None when it is not spelled as the
    /// writer spells it.
    pub(super) fn scan(text: &'a str) -> Option<RawRowsLine<'a>> {
        let mut s = Scanner {
            b: text.as_bytes(),
            i: 0,
        };
        s.literal(b"{\"attempt\":")?;
        let attempt = s.count()?;
        s.literal(b",\"table\":")?;
        let table = s.count()?;
        s.literal(b",\"rows\":")?;
        let start = s.i;
        let shape = s.rows()?;
        let raw_rows = &text[start..s.i];
        s.literal(b",\"digest\":\"")?;
        let at = s.i;
        s.plain_string_body()?;
        let digest = &text[at..s.i - 1];
        s.literal(b"}")?;
        if s.i != s.b.len() {
            return None;
        }
        Some(RawRowsLine {
            attempt,
            table,
            rows: shape.rows,
            raw_rows,
            digest,
            width: shape.width,
            null_key: shape.null_key,
        })
    }

    /// Its digest as written.
    pub(super) fn digest(&self) -> &'a str {
        self.digest
    }

    /// Its rows read for `table` as [`typed_row`] reads them, straight from
    /// the text (which [`RawRowsLine::scan`] found spelled as the writer
    /// spells it): no JSON value is built per row.
    pub(super) fn typed_rows(&self, table: &TableChanges) -> Result<Vec<RowChange>, String> {
        let mut s = Scanner {
            b: self.raw_rows.as_bytes(),
            i: 0,
        };
        let bad = || "a line of rows that could not be read again".to_string();
        let mut out = Vec::with_capacity(self.rows);
        let mut row: Vec<Raw<'_>> = Vec::new();
        s.literal(b"[").ok_or_else(bad)?;
        if s.literal(b"]").is_some() {
            return Ok(out);
        }
        loop {
            s.literal(b"[").ok_or_else(bad)?;
            row.clear();
            loop {
                row.push(s.raw_value(self.raw_rows).ok_or_else(bad)?);
                match s.peek() {
                    Some(b',') => s.i += 1,
                    Some(b']') => break,
                    _ => return Err(bad()),
                }
            }
            s.i += 1;
            out.push(typed_raw_row(table, &row)?);
            match s.peek() {
                Some(b',') => s.i += 1,
                Some(b']') => return Ok(out),
                _ => return Err(bad()),
            }
        }
    }

    /// Whether every row is `width` values (its key's and a name) with no
    /// null key value: the check [`Line::parse`]'s caller makes on parsed
    /// rows.
    pub(super) fn fits(&self, width: usize) -> bool {
        self.rows == 0 || self.width == Some(width) && !self.null_key
    }

    /// Whether its digest matches its content after `previous`: the same
    /// bytes [`RowsLine::intact`] hashes, the rows' text taken as it is.
    pub(super) fn intact(&self, previous: &str) -> bool {
        rows_digest(previous, self.attempt, self.table, self.raw_rows.as_bytes()) == self.digest
    }
}

/// The digest of a line of rows whose `rows` array is the text `raw_rows`,
/// chained after `previous`: the same bytes [`RowsLine::new`] hashes
/// (the JSON of `RowsChained`), assembled around the rows' text as it is.
fn rows_digest(previous: &str, attempt: usize, table: usize, raw_rows: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"{\"previous\":");
    // A string always serializes.
    h.update(serde_json::to_vec(previous).unwrap_or_default());
    h.update(format!(",\"attempt\":{attempt},\"table\":{table},\"rows\":").as_bytes());
    h.update(raw_rows);
    h.update(b"}");
    let mut hex = String::with_capacity(7 + 64);
    hex.push_str("sha256:");
    for b in h.finalize() {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

/// The rows of one line being written, kept as the JSON text of their
/// array, spelled exactly as serializing a [`RowsLine`] of
/// [`compact_row`]s spells it. A fix streams a million rows through this:
/// writing each row's text once, rather than building a JSON value per row
/// and serializing the line twice (for its digest, then for the file), is
/// most of what journalling a row costs.
pub(super) struct RowsText {
    /// `[` and the rows so far, comma-separated.
    buf: Vec<u8>,
    rows: usize,
}

impl RowsText {
    /// No rows yet.
    pub(super) fn new() -> RowsText {
        RowsText {
            buf: b"[".to_vec(),
            rows: 0,
        }
    }

    /// How many rows it holds.
    pub(super) fn len(&self) -> usize {
        self.rows
    }

    /// Whether it holds no row.
    pub(super) fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Appends a row: its key values, then its name (what
    /// [`compact_row`] makes of them, as text).
    pub(super) fn push(&mut self, key: &[DbValue], name: Option<&str>) {
        if self.rows > 0 {
            self.buf.push(b',');
        }
        self.buf.push(b'[');
        for v in key {
            self.value(v);
            self.buf.push(b',');
        }
        match name {
            Some(n) => self.string(n),
            None => self.buf.extend_from_slice(b"null"),
        }
        self.buf.push(b']');
        self.rows += 1;
    }

    /// One key value as [`plain`] gives it.
    fn value(&mut self, v: &DbValue) {
        use std::io::Write;
        match v {
            DbValue::Null => self.buf.extend_from_slice(b"null"),
            DbValue::Guid(g) => {
                let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
                self.buf.push(b'"');
                self.buf
                    .extend_from_slice(g.hyphenated().encode_upper(&mut text).as_bytes());
                self.buf.push(b'"');
            }
            DbValue::Text(s) => self.string(s),
            DbValue::Bit(b) => self.buf.push(if *b { b'1' } else { b'0' }),
            other => match other.as_i64() {
                // Writing to a Vec cannot fail.
                Some(i) => {
                    let _ = write!(self.buf, "{i}");
                }
                None => self.buf.extend_from_slice(b"null"),
            },
        }
    }

    fn string(&mut self, s: &str) {
        // Writing a string to a Vec cannot fail; serde_json escapes it as it
        // escapes a `Value::String`.
        let _ = serde_json::to_writer(&mut self.buf, s);
    }

    /// Writes the line (`{"attempt":..,"table":..,"rows":[..],"digest":".."}`
    /// and a newline) to `out`, chained after `previous`, and starts the
    /// next one empty. Returns the line's digest.
    pub(super) fn write_line(
        &mut self,
        out: &mut impl std::io::Write,
        attempt: usize,
        table: usize,
        previous: &str,
    ) -> std::io::Result<String> {
        self.buf.push(b']');
        let digest = rows_digest(previous, attempt, table, &self.buf);
        write!(out, "{{\"attempt\":{attempt},\"table\":{table},\"rows\":")?;
        out.write_all(&self.buf)?;
        writeln!(out, ",\"digest\":\"{digest}\"}}")?;
        self.buf.clear();
        self.buf.push(b'[');
        self.rows = 0;
        Ok(digest)
    }
}

/// What [`Scanner::rows`] found.
struct Shape {
    rows: usize,
    width: Option<usize>,
    null_key: bool,
}

/// A cursor over a line, matching only the writer's spelling.
struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn literal(&mut self, l: &[u8]) -> Option<()> {
        self.b[self.i..].starts_with(l).then(|| self.i += l.len())
    }

    /// Digits as serde_json writes a `usize`: no sign, no leading zero.
    fn count(&mut self) -> Option<usize> {
        let start = self.i;
        self.integer(false)?;
        std::str::from_utf8(&self.b[start..self.i])
            .ok()?
            .parse()
            .ok()
    }

    /// An integer as serde_json writes an `i64` or `u64` (`-0` is read back
    /// as a float, so it is not one); digits kept few enough to fit.
    fn integer(&mut self, signed: bool) -> Option<()> {
        let negative = signed && self.peek() == Some(b'-');
        if negative {
            self.i += 1;
        }
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        let digits = &self.b[start..self.i];
        let most = if negative { 18 } else { 19 };
        let ok = match digits {
            [] => false,
            [b'0'] => !negative,
            [b'0', ..] => false,
            d => d.len() <= most,
        };
        ok.then_some(())
    }

    /// After the opening quote: up to and past the closing one, refusing
    /// escapes (serde_json writes no others than those it must, and which
    /// it must is not worth checking here) and control characters.
    fn plain_string_body(&mut self) -> Option<()> {
        let rest = &self.b[self.i..];
        let end = rest
            .iter()
            .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
        (rest[end] == b'"').then(|| self.i += end + 1)
    }

    /// One value of a row as spelled in `text` (the scanned bytes').
    fn raw_value<'t>(&mut self, text: &'t str) -> Option<Raw<'t>> {
        let start = self.i;
        match self.peek()? {
            b'"' => {
                self.i += 1;
                self.plain_string_body()?;
                text.get(start + 1..self.i - 1).map(Raw::Str)
            }
            b'n' => self.literal(b"null").map(|()| Raw::Null),
            _ => {
                self.integer(true)?;
                text.get(start..self.i)?.parse().ok().map(Raw::Int)
            }
        }
    }

    /// One value of a row; whether it is null.
    fn value(&mut self) -> Option<bool> {
        match self.peek()? {
            b'"' => {
                self.i += 1;
                self.plain_string_body().map(|()| false)
            }
            b'n' => self.literal(b"null").map(|()| true),
            _ => self.integer(true).map(|()| false),
        }
    }

    /// `[[v,...],...]`.
    fn rows(&mut self) -> Option<Shape> {
        let mut shape = Shape {
            rows: 0,
            width: None,
            null_key: false,
        };
        self.literal(b"[")?;
        if self.literal(b"]").is_some() {
            return Some(shape);
        }
        loop {
            self.literal(b"[")?;
            let mut len = 0;
            loop {
                let null = self.value()?;
                len += 1;
                match self.peek()? {
                    b',' => shape.null_key |= null,
                    b']' => break,
                    _ => return None,
                }
                self.i += 1;
            }
            self.i += 1;
            shape.width = match (shape.rows, shape.width) {
                (0, _) => Some(len),
                (_, Some(w)) if w == len => Some(w),
                _ => None,
            };
            shape.rows += 1;
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(shape);
                }
                _ => return None,
            }
        }
    }
}

/// A line after the record.
pub(super) enum Line {
    /// Rows an attempt locked.
    Rows(RowsLine),
    /// How an attempt ended.
    Attempt(AttemptLine),
}

impl Line {
    /// Parses a line after the record. Which kind it is shows in its first
    /// key (serde writes the fields in order): rows lines start with
    /// `{"attempt":N,"table":`; parsing straight into that kind avoids
    /// buffering a large line to try each kind in turn.
    pub(super) fn parse(text: &str) -> serde_json::Result<Line> {
        let head = &text[..text.len().min(48)];
        if head.contains("\"table\":") {
            serde_json::from_str(text).map(Line::Rows)
        } else {
            serde_json::from_str(text).map(Line::Attempt)
        }
    }
}

/// A journal file split into its record line and its attempt lines. A last
/// line without its newline was being appended when the process died: it
/// never recorded anything, and is left out (the status stays what the
/// lines before say, which at worst is "pending": not confirmed).
pub(super) fn split(text: &str) -> Result<(&str, Vec<&str>)> {
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    if lines.len() > 1 && lines.last().is_some_and(|l| !l.ends_with('\n')) {
        lines.pop();
    }
    let mut lines = lines.into_iter().map(str::trim_end);
    let first = lines
        .next()
        .filter(|l| !l.trim().is_empty())
        .ok_or_else(|| anyhow!("it is empty"))?;
    let rest: Vec<&str> = lines.filter(|l| !l.trim().is_empty()).collect();
    Ok((first, rest))
}

/// Refuses an impossible journal table (rows of the wrong width are caught
/// when it is read).
pub(super) fn refuse_empty_keys(t: &TableChanges) -> Result<()> {
    if t.key_columns.is_empty() {
        bail!("table {}.{} has no key columns", t.schema, t.table);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_type_round_trips_as_plain_json() {
        for (ty, v) in [
            ("uniqueidentifier", DbValue::Guid(uuid::Uuid::from_u128(7))),
            ("bit", DbValue::Bit(true)),
            ("bit", DbValue::Bit(false)),
            ("tinyint", DbValue::TinyInt(255)),
            ("smallint", DbValue::SmallInt(-3)),
            ("int", DbValue::Int(42)),
            ("bigint", DbValue::BigInt(1 << 40)),
            ("nvarchar", DbValue::Text("Ünïcode ]'\"".into())),
        ] {
            assert_eq!(typed(ty, Raw::of(&plain(&v))).unwrap(), v, "{ty}");
            assert_eq!(
                typed(&ty.to_uppercase(), Raw::of(&plain(&v))).unwrap(),
                v,
                "{ty}"
            );
        }
        assert!(typed("int", Raw::of(&Value::from(1i64 << 40))).is_err());
        assert!(typed("bit", Raw::of(&Value::from(2))).is_err());
        for not_an_integer in [Value::from(1.5), Value::from(u64::MAX), Value::from(true)] {
            assert!(
                typed("bigint", Raw::of(&not_an_integer)).is_err(),
                "{not_an_integer}"
            );
        }
        assert!(typed("uniqueidentifier", Raw::of(&Value::from("nope"))).is_err());
        assert_eq!(
            typed("int", Raw::of(&Value::from("7"))).unwrap_err(),
            "a key value \"7\" that is not a int"
        );
        assert!(typed("xml", Raw::of(&Value::from("x"))).is_err());
    }

    fn written(rows: Vec<Vec<Value>>) -> String {
        serde_json::to_string(&RowsLine::new(3, 1, rows, "sha256:ab\"c")).unwrap()
    }

    #[test]
    fn rows_written_as_text_are_the_line_serde_writes() {
        let guid = |n| DbValue::Guid(uuid::Uuid::from_u128(n));
        let rows: Vec<(Vec<DbValue>, Option<&str>)> = vec![
            (
                vec![guid(0xABC)],
                Some("Helpdesk [1], \"x\" \\ \u{1} \t é 😀"),
            ),
            (vec![guid(u128::MAX)], None),
            (vec![guid(0)], Some("")),
            (
                vec![
                    DbValue::Int(-5),
                    DbValue::Text("Ünïcode ]'/,\n".into()),
                    DbValue::Bit(true),
                    DbValue::Bit(false),
                    DbValue::TinyInt(255),
                    DbValue::SmallInt(-32768),
                    DbValue::BigInt(i64::MIN),
                    DbValue::Null,
                ],
                Some("y"),
            ),
        ];
        let mut text = RowsText::new();
        let mut out = Vec::new();
        // An empty line too, and a second line after the first, whose text
        // starts afresh.
        for (attempt, table, previous, n) in [
            (1, 0, "", 0),
            (3, 1, "sha256:ab\"c", rows.len()),
            (3, 2, "x", 1),
        ] {
            for (key, name) in &rows[..n] {
                text.push(key, *name);
            }
            assert_eq!((text.len(), text.is_empty()), (n, n == 0));
            out.clear();
            let digest = text.write_line(&mut out, attempt, table, previous).unwrap();
            let expected = RowsLine::new(
                attempt,
                table,
                rows[..n]
                    .iter()
                    .map(|(k, name)| compact_row(k, *name))
                    .collect(),
                previous,
            );
            assert_eq!(
                String::from_utf8(out.clone()).unwrap(),
                format!("{}\n", serde_json::to_string(&expected).unwrap())
            );
            assert_eq!(digest, expected.digest());
            assert!(text.is_empty());
        }
    }

    #[test]
    fn lines_of_rows_as_the_writer_spells_them_are_checked_without_parsing_the_rows() {
        let guid = DbValue::Guid(uuid::Uuid::from_u128(0xABC));
        for rows in [
            vec![],
            vec![compact_row(std::slice::from_ref(&guid), Some("Helpdesk"))],
            vec![
                compact_row(
                    &[DbValue::Int(0), DbValue::Text("Ünïcode ]'/".into())],
                    None,
                ),
                compact_row(
                    &[DbValue::BigInt(-(1 << 40)), DbValue::Text("x".into())],
                    Some("y"),
                ),
                compact_row(
                    &[DbValue::BigInt(i64::MAX), DbValue::Text(String::new())],
                    Some(""),
                ),
            ],
        ] {
            let n = rows.len();
            let text = written(rows);
            let raw = RawRowsLine::scan(&text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!((raw.attempt, raw.table, raw.rows), (3, 1, n));
            assert!(raw.intact("sha256:ab\"c"), "{text}");
            assert!(!raw.intact("sha256:abc"), "{text}");
            let parsed: RowsLine = serde_json::from_str(&text).unwrap();
            assert_eq!(raw.digest(), parsed.digest());
        }
    }

    fn table(key_types: &[&str]) -> TableChanges {
        TableChanges {
            schema: "dbo".into(),
            table: "T".into(),
            owner_column: "OwnerPoolId".into(),
            key_columns: key_types
                .iter()
                .enumerate()
                .map(|(i, t)| TypedColumn {
                    name: format!("K{i}"),
                    type_name: (*t).into(),
                })
                .collect(),
            old: DbValue::Null,
            new: DbValue::Guid(uuid::Uuid::from_u128(1)),
            rows: Vec::new(),
        }
    }

    #[test]
    fn rows_read_from_a_lines_text_are_the_rows_parsing_it_gives() {
        let guid = |n| DbValue::Guid(uuid::Uuid::from_u128(n));
        for (types, rows) in [
            (vec!["uniqueidentifier"], vec![]),
            (
                vec!["uniqueidentifier"],
                vec![
                    compact_row(&[guid(0xABC)], Some("Helpdesk [1], \"x\"")),
                    compact_row(&[guid(u128::MAX)], None),
                    compact_row(&[guid(7)], Some("")),
                ],
            ),
            (
                vec!["int", "nvarchar"],
                vec![
                    compact_row(
                        &[DbValue::Int(-5), DbValue::Text("Ünïcode ]'/,".into())],
                        None,
                    ),
                    compact_row(&[DbValue::Int(0), DbValue::Text(String::new())], Some("y")),
                ],
            ),
            (
                vec!["BIGINT"],
                vec![compact_row(&[DbValue::BigInt(i64::MAX)], Some("n"))],
            ),
            // Not a row of this table: both ways refuse it alike.
            (
                vec!["int"],
                vec![compact_row(&[DbValue::Int(1), DbValue::Int(2)], None)],
            ),
            (vec!["int"], vec![vec![Value::from("1"), Value::Null]]),
        ] {
            let t = table(&types);
            let text = written(rows.clone());
            let parsed: Result<Vec<RowChange>, String> =
                rows.into_iter().map(|r| typed_row(&t, r)).collect();
            match RawRowsLine::scan(&text) {
                Some(raw) => assert_eq!(raw.typed_rows(&t), parsed, "{text}"),
                // An escape: only the parser reads it.
                None => assert!(text.contains('\\'), "{text}"),
            }
        }
    }

    #[test]
    fn lines_of_rows_spelled_otherwise_are_left_to_the_parser() {
        let rows = vec![compact_row(&[DbValue::Int(5)], Some("a\"b"))];
        assert!(RawRowsLine::scan(&written(rows)).is_none(), "an escape");
        for v in [
            Value::from(-0.0),
            Value::from(1.5),
            Value::from(true),
            Value::from(u64::MAX),
            Value::from(i64::MIN),
            Value::from("tab\there"),
        ] {
            let text = written(vec![vec![v.clone(), Value::Null]]);
            assert!(RawRowsLine::scan(&text).is_none(), "{text}");
        }
        let text = written(vec![compact_row(&[DbValue::Int(5)], None)]);
        for other in [
            text.replacen("[[", "[ [", 1),
            text.replacen("5", "05", 1),
            text.replacen("\"table\"", "\"table\" ", 1),
            text.replacen(
                "{\"attempt\":3,\"table\":1",
                "{\"table\":1,\"attempt\":3",
                1,
            ),
            format!("{text} "),
            text.replacen("[[5,null]]", "[[-0,null]]", 1),
        ] {
            assert!(RawRowsLine::scan(&other).is_none(), "{other}");
        }
    }

    #[test]
    fn a_scanned_line_fits_its_table_only_when_every_row_does() {
        let fits =
            |rows: Vec<Vec<Value>>, width| RawRowsLine::scan(&written(rows)).unwrap().fits(width);
        let row = |k: Value| vec![k, Value::Null];
        assert!(fits(vec![row(1.into()), row(2.into())], 2));
        assert!(fits(vec![], 5));
        assert!(!fits(vec![row(1.into())], 3));
        assert!(!fits(
            vec![row(1.into()), vec![1.into(), 2.into(), Value::Null]],
            2
        ));
        assert!(!fits(vec![row(1.into()), row(Value::Null)], 2));
    }

    #[test]
    fn a_torn_last_line_is_left_out() {
        let (first, rest) = split("{\"a\":1}\n{\"attempt\":1}\n{\"att").unwrap();
        assert_eq!(first, "{\"a\":1}");
        assert_eq!(rest, vec!["{\"attempt\":1}"]);
        assert!(split("").is_err());
        // A first line without its newline is still the record (a
        // truncated one fails to parse as JSON later).
        assert_eq!(split("{\"a\"").unwrap().0, "{\"a\"");
    }
}
