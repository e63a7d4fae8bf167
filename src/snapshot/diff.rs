//! `diff`: what changed between two snapshots, table by table: rows added,
//! removed and changed, matched by the primary key schema.json records
//! (tables without a key are compared as multisets of whole rows).

use super::rfc4180;
use super::schema::{Schema, Table};
use anyhow::{Context, Result};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::io::BufReader;
use std::path::Path;

/// A row as column name → value (None: NULL).
pub type RowMap = BTreeMap<String, Option<String>>;

/// One changed row.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Changed {
    /// Its primary key, column → value.
    pub key: RowMap,
    /// Changed columns: column → [before, after].
    pub columns: BTreeMap<String, [Option<String>; 2]>,
}

/// The differences of one table.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TableDiff {
    /// `schema.table`.
    pub table: String,
    /// How rows were matched: `primary key (ID)` or `whole row (no primary key)`.
    pub matched_by: String,
    /// Set when the table is in only one snapshot: `added` or `removed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table_change: Option<String>,
    /// Columns only in A (removed) and only in B (added); values in them
    /// are not compared.
    pub columns_removed: Vec<String>,
    /// Columns only in B.
    pub columns_added: Vec<String>,
    /// Rows only in B.
    pub added: Vec<RowMap>,
    /// Rows only in A.
    pub removed: Vec<RowMap>,
    /// Rows in both with other values.
    pub changed: Vec<Changed>,
}

impl TableDiff {
    /// Whether anything differs.
    pub fn differs(&self) -> bool {
        self.table_change.is_some()
            || !self.columns_added.is_empty()
            || !self.columns_removed.is_empty()
            || !self.added.is_empty()
            || !self.removed.is_empty()
            || !self.changed.is_empty()
    }
}

/// The whole comparison (the `--format json` document).
#[derive(Clone, Debug, Serialize)]
pub struct Diff {
    /// Snapshot A.
    pub a: String,
    /// Snapshot B (or `live`).
    pub b: String,
    /// Rows added, removed and changed, all tables.
    pub totals: Totals,
    /// Tables that differ (those that do not are left out).
    pub tables: Vec<TableDiff>,
}

/// Counts over all tables.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Totals {
    /// Rows added.
    pub added: usize,
    /// Rows removed.
    pub removed: usize,
    /// Rows changed.
    pub changed: usize,
    /// Tables compared.
    pub tables_compared: usize,
}

/// Compares the snapshots in folders `a` and `b`.
pub fn compare(a: &Path, b: &Path) -> Result<Diff> {
    let (sa, sb) = (Schema::load(a)?, Schema::load(b)?);
    let mut names: Vec<String> = sa.tables.iter().map(Table::full_name).collect();
    for t in &sb.tables {
        if sa.table(&t.full_name()).is_none() {
            names.push(t.full_name());
        }
    }
    let mut out = Diff {
        a: a.display().to_string(),
        b: b.display().to_string(),
        totals: Totals::default(),
        tables: Vec::new(),
    };
    for name in names {
        let d = table(a, sa.table(&name), b, sb.table(&name))?;
        out.totals.tables_compared += 1;
        out.totals.added += d.added.len();
        out.totals.removed += d.removed.len();
        out.totals.changed += d.changed.len();
        if d.differs() {
            out.tables.push(d);
        }
    }
    Ok(out)
}

/// Reads every row of one table's CSV as column → value.
fn each_row(dir: &Path, t: &Table, mut f: impl FnMut(RowMap)) -> Result<()> {
    let path = dir.join(&t.file);
    let file =
        std::fs::File::open(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut r = rfc4180::Reader::new(BufReader::new(file));
    let header: Vec<String> = r
        .next_record()?
        .unwrap_or_default()
        .into_iter()
        .map(Option::unwrap_or_default)
        .collect();
    while let Some(rec) = r
        .next_record()
        .with_context(|| path.display().to_string())?
    {
        f(header.iter().cloned().zip(rec).collect());
    }
    Ok(())
}

fn table(a: &Path, ta: Option<&Table>, b: &Path, tb: Option<&Table>) -> Result<TableDiff> {
    let any = ta.or(tb).expect("a table in one of the snapshots");
    let mut d = TableDiff {
        table: any.full_name(),
        matched_by: String::new(),
        table_change: None,
        columns_removed: Vec::new(),
        columns_added: Vec::new(),
        added: Vec::new(),
        removed: Vec::new(),
        changed: Vec::new(),
    };
    let (ta, tb) = match (ta, tb) {
        (Some(x), Some(y)) => (x, y),
        (Some(x), None) => {
            d.table_change = Some("removed".into());
            d.matched_by = "table only in A".into();
            each_row(a, x, |r| d.removed.push(r))?;
            return Ok(d);
        }
        (None, Some(y)) => {
            d.table_change = Some("added".into());
            d.matched_by = "table only in B".into();
            each_row(b, y, |r| d.added.push(r))?;
            return Ok(d);
        }
        (None, None) => unreachable!(),
    };
    let names = |t: &Table| t.columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
    let (ca, cb) = (names(ta), names(tb));
    d.columns_removed = ca.iter().filter(|c| !cb.contains(c)).cloned().collect();
    d.columns_added = cb.iter().filter(|c| !ca.contains(c)).cloned().collect();
    let common: Vec<String> = ca.iter().filter(|c| cb.contains(c)).cloned().collect();
    let project = |r: &RowMap| -> RowMap {
        common
            .iter()
            .map(|c| (c.clone(), r.get(c).cloned().flatten()))
            .collect()
    };
    let key = ta.primary_key.clone();
    let keyed = !key.is_empty() && key == tb.primary_key && key.iter().all(|k| common.contains(k));
    if keyed {
        d.matched_by = format!("primary key ({})", key.join(", "));
        let key_of = |r: &RowMap| -> RowMap {
            key.iter()
                .map(|k| (k.clone(), r.get(k).cloned().flatten()))
                .collect()
        };
        let mut before: HashMap<RowMap, RowMap> = HashMap::new();
        each_row(a, ta, |r| {
            before.insert(key_of(&r), project(&r));
        })?;
        each_row(b, tb, |r| {
            let k = key_of(&r);
            let now = project(&r);
            match before.remove(&k) {
                None => d.added.push(r),
                Some(old) if old != now => {
                    let columns = common
                        .iter()
                        .filter(|c| old.get(*c) != now.get(*c))
                        .map(|c| (c.clone(), [old[c].clone(), now[c].clone()]))
                        .collect();
                    d.changed.push(Changed { key: k, columns });
                }
                Some(_) => {}
            }
        })?;
        let mut gone: Vec<(RowMap, RowMap)> = before.into_iter().collect();
        gone.sort();
        d.removed = gone.into_iter().map(|(_, r)| r).collect();
    } else {
        d.matched_by = if key.is_empty() {
            "whole row (no primary key)".into()
        } else {
            "whole row (the primary key differs between the snapshots)".into()
        };
        let mut counts: HashMap<RowMap, i64> = HashMap::new();
        each_row(a, ta, |r| *counts.entry(project(&r)).or_default() += 1)?;
        each_row(b, tb, |r| *counts.entry(project(&r)).or_default() -= 1)?;
        let mut rows: Vec<(RowMap, i64)> = counts.into_iter().filter(|(_, n)| *n != 0).collect();
        rows.sort();
        for (r, n) in rows {
            for _ in 0..n.unsigned_abs() {
                if n > 0 {
                    d.removed.push(r.clone())
                } else {
                    d.added.push(r.clone())
                }
            }
        }
    }
    Ok(d)
}

/// One value for people: NULL, or the text quoted.
fn shown(v: &Option<String>) -> String {
    match v {
        None => "NULL".into(),
        Some(s) => format!("{s:?}"),
    }
}

fn row_text(r: &RowMap) -> String {
    r.iter()
        .map(|(k, v)| format!("{k}={}", shown(v)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The human report.
pub fn human(d: &Diff) -> String {
    let mut s = format!(
        "Comparing {} (A) with {} (B): {} tables.\n",
        d.a, d.b, d.totals.tables_compared
    );
    if d.tables.is_empty() {
        s.push_str("No differences.\n");
        return s;
    }
    for t in &d.tables {
        s.push_str(&format!(
            "\n{}: {} added, {} removed, {} changed (matched by {})\n",
            t.table,
            t.added.len(),
            t.removed.len(),
            t.changed.len(),
            t.matched_by
        ));
        if let Some(c) = &t.table_change {
            s.push_str(&format!("  table {c}\n"));
        }
        for c in &t.columns_removed {
            s.push_str(&format!("  column {c} removed (not compared)\n"));
        }
        for c in &t.columns_added {
            s.push_str(&format!("  column {c} added (not compared)\n"));
        }
        for r in &t.added {
            s.push_str(&format!("  + {}\n", row_text(r)));
        }
        for r in &t.removed {
            s.push_str(&format!("  - {}\n", row_text(r)));
        }
        for c in &t.changed {
            let cols: Vec<String> = c
                .columns
                .iter()
                .map(|(k, [x, y])| format!("{k}: {} -> {}", shown(x), shown(y)))
                .collect();
            s.push_str(&format!("  ~ {}: {}\n", row_text(&c.key), cols.join(", ")));
        }
    }
    s.push_str(&format!(
        "\nIn all: {} added, {} removed, {} changed.\n",
        d.totals.added, d.totals.removed, d.totals.changed
    ));
    s
}
