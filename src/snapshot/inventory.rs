//! `inventory.md`: the configuration as a person reads it. Per owner pool
//! (and "no owner"): the workflows with their SIP and tel URIs, the queues,
//! the agent groups with their agents, the holiday sets and business hours.
//! Rows are linked only along the foreign keys the catalog declares; where
//! it declares none, the file says so and lists the tables flat rather than
//! guessing links from column names.

use super::rfc4180;
use super::schema::{Schema, Table};
use anyhow::Result;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::BufReader;
use std::path::Path;

/// Rows read per table for the inventory; the CSV has them all.
const MAX_ROWS: usize = 10_000;

/// The object kinds, in the order the file shows them: a heading and the
/// table names (any case, any schema) that hold them.
const KINDS: &[(&str, &[&str])] = &[
    ("Workflows", &["Workflows"]),
    ("Queues", &["Queues"]),
    ("Agent groups", &["AgentGroups"]),
    ("Holiday sets", &["HolidaySets"]),
    ("Business hours", &["HoursOfBusiness", "BusinessHours"]),
    ("Agents", &["Agents"]),
];

/// A table's rows as read back from its CSV.
struct Loaded<'a> {
    table: &'a Table,
    rows: Vec<Vec<Option<String>>>,
}

impl Loaded<'_> {
    fn value<'r>(&self, row: &'r [Option<String>], column: &str) -> Option<&'r str> {
        self.table
            .column_index(column)
            .and_then(|i| row.get(i))
            .and_then(|v| v.as_deref())
    }

    /// Name or DisplayName, else the key.
    fn label(&self, row: &[Option<String>]) -> String {
        ["Name", "DisplayName", "Fqdn"]
            .iter()
            .find_map(|c| self.value(row, c))
            .map(str::to_string)
            .unwrap_or_else(|| self.key_text(row))
    }

    fn key_text(&self, row: &[Option<String>]) -> String {
        self.table
            .primary_key
            .iter()
            .map(|k| self.value(row, k).unwrap_or("NULL").to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The key of `row` as the values of `columns`.
    fn values(&self, row: &[Option<String>], columns: &[String]) -> Vec<Option<String>> {
        columns
            .iter()
            .map(|c| self.value(row, c).map(str::to_string))
            .collect()
    }
}

/// Reads up to [`MAX_ROWS`] rows of `t` from the snapshot in `dir`.
fn load<'a>(dir: &Path, t: &'a Table) -> Result<Loaded<'a>> {
    let mut r = rfc4180::Reader::new(BufReader::new(std::fs::File::open(dir.join(&t.file))?));
    r.next_record()?;
    let mut rows = Vec::new();
    while rows.len() < MAX_ROWS {
        match r.next_record()? {
            Some(row) => rows.push(row),
            None => break,
        }
    }
    Ok(Loaded { table: t, rows })
}

fn find<'a>(schema: &'a Schema, names: &[&str]) -> Option<&'a Table> {
    names.iter().find_map(|n| {
        schema
            .tables
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(n) && t.schema.eq_ignore_ascii_case("dbo"))
            .or_else(|| {
                schema
                    .tables
                    .iter()
                    .find(|t| t.name.eq_ignore_ascii_case(n))
            })
    })
}

/// Markdown-safe table cell.
fn cell(v: Option<&str>) -> String {
    match v {
        None => "NULL".into(),
        Some(s) => s.replace('|', "\\|").replace(['\r', '\n'], " "),
    }
}

/// URI-like columns of a table, found by name (PrimaryUri, LineUri,
/// SipAddress, DisplayNumber...).
fn uri_columns(t: &Table) -> Vec<String> {
    t.columns
        .iter()
        .filter(|c| {
            let n = c.name.to_ascii_lowercase();
            ["uri", "sip", "tel", "number"]
                .iter()
                .any(|w| n.contains(w))
        })
        .map(|c| c.name.clone())
        .collect()
}

/// The text of inventory.md for the snapshot written in `dir`.
pub fn write(schema: &Schema, dir: &Path) -> Result<String> {
    let mut md = String::new();
    let id = &schema.server.identity;
    writeln!(md, "# Response Group configuration: {}\n", id.database)?;
    writeln!(
        md,
        "Snapshot of database `{}` on `{}` (SQL Server {}), taken {} ({}).\n",
        id.database,
        id.server_name,
        schema.server.product_version,
        schema.taken_at,
        schema.isolation.level
    )?;
    let kinds: Vec<(&str, Loaded<'_>)> = KINDS
        .iter()
        .filter_map(|(h, names)| find(schema, names).map(|t| (*h, t)))
        .map(|(h, t)| load(dir, t).map(|l| (h, l)))
        .collect::<Result<_>>()?;
    let pools = find(schema, &["OwnerPool"])
        .map(|p| load(dir, p))
        .transpose()?;
    writeln!(
        md,
        "Objects are grouped by their OwnerPoolId, read as dbo.OwnerPool's ID as `check` reads it."
    )?;
    if schema.foreign_keys_declared {
        writeln!(md, "Other links (a workflow's queue, a group's agents...) follow only the foreign keys the catalog declares; they are listed in the last table.\n")?;
    } else {
        writeln!(md, "The catalog declares no foreign keys, so this file links nothing else (which queue a workflow uses, which agents a group has): it would have to guess from column names. The objects are listed without links.\n")?;
    }
    let links = Links::build(schema, dir, &kinds)?;
    let mut sections: Vec<(String, Option<String>)> = Vec::new();
    if let Some(p) = &pools {
        for r in &p.rows {
            let id = pool_id(p, r);
            sections.push((
                format!("Pool {} ({})", p.label(r), id.clone().unwrap_or_default()),
                id,
            ));
        }
    } else {
        writeln!(md, "The database has no dbo.OwnerPool table.\n")?;
    }
    sections.push(("No owner (OwnerPoolId NULL or naming no pool)".into(), None));
    let known: Vec<String> = sections.iter().filter_map(|(_, k)| k.clone()).collect();
    for (title, pool_key) in &sections {
        writeln!(md, "## {title}\n")?;
        let mut any = false;
        for (heading, l) in &kinds {
            let owner_col = l
                .table
                .column_index(OWNER)
                .map(|i| l.table.columns[i].name.clone());
            let rows: Vec<&Vec<Option<String>>> = l
                .rows
                .iter()
                .filter(|r| {
                    let owner = owner_col.as_deref().and_then(|c| l.value(r, c));
                    let owner = owner.map(str::to_ascii_uppercase);
                    match pool_key {
                        Some(k) => owner.as_deref() == Some(k.as_str()),
                        None => owner.is_none_or(|o| !known.contains(&o)),
                    }
                })
                .collect();
            if rows.is_empty() {
                continue;
            }
            any = true;
            writeln!(md, "### {heading} ({})\n", l.table.full_name())?;
            for r in rows {
                let mut line = format!("- **{}**", cell(Some(&l.label(r))));
                for c in uri_columns(l.table) {
                    if let Some(v) = l.value(r, &c) {
                        let _ = write!(line, " {c} `{}`", cell(Some(v)));
                    }
                }
                if pool_key.is_none() {
                    let owner = owner_col.as_deref().and_then(|c| l.value(r, c));
                    let _ = write!(line, " (OwnerPoolId {})", cell(owner));
                }
                for (what, names) in links.of(l.table, &l.key_text(r)) {
                    let _ = write!(line, "; {what}: {}", names.join(", "));
                }
                writeln!(md, "{line}")?;
            }
            writeln!(md)?;
        }
        if !any {
            writeln!(md, "(nothing)\n")?;
        }
    }
    every_table(&mut md, schema)?;
    Ok(md)
}

/// The owner column, in any case.
const OWNER: &str = "OwnerPoolId";

/// A pool row's ID (its `ID` column, else its one key column), upper case
/// so that GUIDs compare as SQL Server compares them.
fn pool_id(p: &Loaded<'_>, r: &[Option<String>]) -> Option<String> {
    let col = p
        .table
        .column_index("ID")
        .map(|i| p.table.columns[i].name.clone())
        .or_else(|| (p.table.primary_key.len() == 1).then(|| p.table.primary_key[0].clone()))?;
    p.value(r, &col).map(str::to_ascii_uppercase)
}

/// Links along declared foreign keys: (table, row key) -> (what, labels).
struct Links(HashMap<RowRef, Vec<Linked>>);

/// A row: its table's `schema.table` and its key as text.
type RowRef = (String, String);
/// What a row links to: the kind (`Queues`) and the rows' labels.
type Linked = (String, Vec<String>);

impl Links {
    /// From each object table's own foreign keys to another object table
    /// (a workflow's queue), and from link tables with keys to two object
    /// tables (a group's agents: the kind listed first gets the other).
    fn build(schema: &Schema, dir: &Path, kinds: &[(&str, Loaded<'_>)]) -> Result<Links> {
        let mut map: HashMap<RowRef, Vec<Linked>> = HashMap::new();
        let kind_of = |name: &str| {
            kinds
                .iter()
                .position(|(_, l)| l.table.full_name().eq_ignore_ascii_case(name))
        };
        let mut add = |table: &Table, key: String, what: &str, label: String| {
            let entry = map.entry((table.full_name(), key)).or_default();
            match entry.iter_mut().find(|(w, _)| w == what) {
                Some((_, v)) => v.push(label),
                None => entry.push((what.to_string(), vec![label])),
            }
        };
        for (_, l) in kinds {
            for fk in &l.table.foreign_keys {
                let Some(k) = kind_of(&fk.references) else {
                    continue;
                };
                let target = &kinds[k].1;
                let by_key = target.index(&fk.referenced_columns);
                for r in &l.rows {
                    let v = l.values(r, &fk.columns);
                    if v.iter().all(Option::is_none) {
                        continue;
                    }
                    let label = by_key.get(&v).map_or_else(
                        || format!("{} (not found)", show(&v)),
                        |t| target.labelled(t),
                    );
                    add(l.table, l.key_text(r), kinds[k].0, label);
                }
            }
        }
        for m in &schema.tables {
            if kind_of(&m.full_name()).is_some() {
                continue;
            }
            let ends: Vec<(usize, &crate::snapshot::schema::ForeignKey)> = m
                .foreign_keys
                .iter()
                .filter_map(|f| kind_of(&f.references).map(|k| (k, f)))
                .collect();
            let [(a, fa), (b, fb)] = ends.as_slice() else {
                continue;
            };
            let ((from, ff), (to, ft)) = if a <= b {
                ((*a, fa), (*b, fb))
            } else {
                ((*b, fb), (*a, fa))
            };
            let (owner, target) = (&kinds[from].1, &kinds[to].1);
            let by_key = target.index(&ft.referenced_columns);
            let owner_key_cols = &ff.referenced_columns;
            let ml = load(dir, m)?;
            for r in &ml.rows {
                let okey = ml.values(r, &ff.columns);
                let tkey = ml.values(r, &ft.columns);
                let label = by_key.get(&tkey).map_or_else(
                    || format!("{} (not found)", show(&tkey)),
                    |t| target.labelled(t),
                );
                // The owner's row key as key_text shows it (key order).
                let text = owner
                    .table
                    .primary_key
                    .iter()
                    .map(|k| {
                        owner_key_cols
                            .iter()
                            .position(|c| c.eq_ignore_ascii_case(k))
                            .and_then(|i| okey[i].clone())
                            .unwrap_or_else(|| "NULL".into())
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                add(owner.table, text, kinds[to].0, label);
            }
        }
        Ok(Links(map))
    }

    fn of(&self, t: &Table, key: &str) -> Vec<Linked> {
        self.0
            .get(&(t.full_name(), key.to_string()))
            .cloned()
            .unwrap_or_default()
    }
}

fn show(v: &[Option<String>]) -> String {
    v.iter()
        .map(|x| x.as_deref().unwrap_or("NULL"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Loaded<'_> {
    /// Rows by the values of `columns` (a referenced key).
    fn index(&self, columns: &[String]) -> HashMap<Vec<Option<String>>, &Vec<Option<String>>> {
        self.rows
            .iter()
            .map(|r| (self.values(r, columns), r))
            .collect()
    }

    /// The label and a SIP address when the table has one.
    fn labelled(&self, r: &[Option<String>]) -> String {
        let sip = uri_columns(self.table)
            .into_iter()
            .find_map(|c| self.value(r, &c).map(str::to_string));
        match sip {
            Some(s) => cell(Some(&format!("{} <{s}>", self.label(r)))),
            None => cell(Some(&self.label(r))),
        }
    }
}

/// Every table, with its row count, file and declared foreign keys.
fn every_table(md: &mut String, schema: &Schema) -> Result<()> {
    writeln!(md, "## Every table\n")?;
    writeln!(md, "| table | rows | file | foreign keys |")?;
    writeln!(md, "| --- | --- | --- | --- |")?;
    for t in &schema.tables {
        let fks: Vec<String> = t
            .foreign_keys
            .iter()
            .map(|f| {
                format!(
                    "({}) → {} ({})",
                    f.columns.join(", "),
                    f.references,
                    f.referenced_columns.join(", ")
                )
            })
            .collect();
        let fks = if fks.is_empty() {
            "none declared".to_string()
        } else {
            fks.join("; ")
        };
        writeln!(
            md,
            "| {} | {} | {} | {} |",
            cell(Some(&t.full_name())),
            t.rows,
            t.file,
            cell(Some(&fks))
        )?;
    }
    Ok(())
}
