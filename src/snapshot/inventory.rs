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
            .or_else(|| schema.tables.iter().find(|t| t.name.eq_ignore_ascii_case(n)))
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
            ["uri", "sip", "tel", "number"].iter().any(|w| n.contains(w))
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
        id.database, id.server_name, schema.server.product_version, schema.taken_at, schema.isolation.level
    )?;
    let pool = find(schema, &["OwnerPool"]);
    let kinds: Vec<(&str, Loaded<'_>)> = KINDS
        .iter()
        .filter_map(|(h, names)| find(schema, names).map(|t| (*h, t)))
        .map(|(h, t)| load(dir, t).map(|l| (h, l)))
        .collect::<Result<_>>()?;
    if !schema.foreign_keys_declared {
        writeln!(md, "The catalog declares no foreign keys, so this file does not link objects to owner pools or agents to groups: it would have to guess from column names. The tables are listed flat, with their owner column as stored.\n")?;
        if let Some(p) = pool {
            flat(&mut md, "Owner pools", &load(dir, p)?)?;
        }
        for (h, l) in &kinds {
            flat(&mut md, h, l)?;
        }
    } else {
        linked(&mut md, schema, dir, pool, &kinds)?;
    }
    other_tables(&mut md, schema, pool, &kinds)?;
    Ok(md)
}

/// A table as a Markdown table: label, key, owner and URI columns.
fn flat(md: &mut String, heading: &str, l: &Loaded<'_>) -> Result<()> {
    let t = l.table;
    writeln!(md, "## {heading} ({}, {} rows)\n", t.full_name(), t.rows)?;
    let mut cols: Vec<String> = t.primary_key.clone();
    for c in ["Name", "DisplayName", "Fqdn", "OwnerPoolId"] {
        if let Some(i) = t.column_index(c) {
            cols.push(t.columns[i].name.clone());
        }
    }
    cols.extend(uri_columns(t));
    cols.dedup();
    rows_table(md, l, &cols, l.rows.iter().collect())
}

fn rows_table(md: &mut String, l: &Loaded<'_>, cols: &[String], rows: Vec<&Vec<Option<String>>>) -> Result<()> {
    writeln!(md, "| {} |", cols.join(" | "))?;
    writeln!(md, "|{}", " --- |".repeat(cols.len()))?;
    for r in &rows {
        let cells: Vec<String> = cols.iter().map(|c| cell(l.value(r, c))).collect();
        writeln!(md, "| {} |", cells.join(" | "))?;
    }
    if l.table.rows as usize > l.rows.len() {
        writeln!(md, "\n(first {} of {} rows; the CSV has them all)", l.rows.len(), l.table.rows)?;
    }
    writeln!(md)?;
    Ok(())
}

/// Objects per owner pool, along the declared foreign keys.
fn linked(
    md: &mut String,
    schema: &Schema,
    dir: &Path,
    pool: Option<&Table>,
    kinds: &[(&str, Loaded<'_>)],
) -> Result<()> {
    writeln!(md, "Objects are grouped by owner pool and agents by group along the foreign keys the catalog declares; a table without such a key is listed under \"Not linked\".\n")?;
    let pools = match pool {
        Some(p) => load(dir, p)?,
        None => {
            writeln!(md, "The database has no dbo.OwnerPool table.\n")?;
            Loaded { table: &schema.tables[0], rows: Vec::new() }
        }
    };
    // For each kind: the owner column that references the pool table.
    let owner_of = |t: &Table| -> Option<(String, String)> {
        let p = pool?;
        t.foreign_keys
            .iter()
            .find(|f| f.references.eq_ignore_ascii_case(&p.full_name()) && f.columns.len() == 1)
            .map(|f| (f.columns[0].clone(), f.referenced_columns[0].clone()))
    };
    let members = membership(schema, dir, kinds)?;
    let mut sections: Vec<(String, Option<String>)> = pools
        .rows
        .iter()
        .map(|r| (format!("Pool {} ({})", pools.label(r), pools.key_text(r)), Some(pools.key_text(r))))
        .collect();
    sections.push(("No owner".into(), None));
    for (title, pool_key) in &sections {
        writeln!(md, "## {title}\n")?;
        for (heading, l) in kinds {
            let Some((owner_col, pool_col)) = owner_of(l.table) else { continue };
            let rows: Vec<&Vec<Option<String>>> = l
                .rows
                .iter()
                .filter(|r| {
                    let owner = l.value(r, &owner_col);
                    let owned_by = |k: &str| pools.rows.iter().any(|p| pools.value(p, &pool_col).is_some_and(|v| v.eq_ignore_ascii_case(k)) && Some(pools.key_text(p)) == *pool_key);
                    match (pool_key, owner) {
                        (Some(_), Some(o)) => owned_by(o),
                        (None, Some(o)) => !pools.rows.iter().any(|p| pools.value(p, &pool_col).is_some_and(|v| v.eq_ignore_ascii_case(o))),
                        (None, None) => true,
                        (Some(_), None) => false,
                    }
                })
                .collect();
            if rows.is_empty() {
                continue;
            }
            writeln!(md, "### {heading} ({})\n", l.table.full_name())?;
            for r in rows {
                let mut line = format!("- **{}**", cell(Some(&l.label(r))));
                for c in uri_columns(l.table) {
                    if let Some(v) = l.value(r, &c) {
                        let _ = write!(line, " {c} `{}`", cell(Some(v)));
                    }
                }
                if pool_key.is_none() {
                    let _ = write!(line, " (owner {})", cell(l.value(r, &owner_col)));
                }
                if let Some(agents) = members.get(&(l.table.full_name(), l.key_text(r))) {
                    let _ = write!(line, ": agents {}", agents.join(", "));
                }
                writeln!(md, "{line}")?;
            }
            writeln!(md)?;
        }
    }
    let unlinked: Vec<&str> = kinds
        .iter()
        .filter(|(_, l)| owner_of(l.table).is_none())
        .map(|(h, _)| *h)
        .collect();
    if !unlinked.is_empty() {
        writeln!(md, "## Not linked\n\nNo declared foreign key links these to dbo.OwnerPool: {}.\n", unlinked.join(", "))?;
        for (h, l) in kinds.iter().filter(|(_, l)| owner_of(l.table).is_none()) {
            flat(md, h, l)?;
        }
    }
    Ok(())
}

/// Agents per group, along a membership table with declared foreign keys
/// to the groups and to the agents: (group table, group key) -> agents.
fn membership(schema: &Schema, dir: &Path, kinds: &[(&str, Loaded<'_>)]) -> Result<HashMap<(String, String), Vec<String>>> {
    let mut out = HashMap::new();
    let get = |h: &str| kinds.iter().find(|(k, _)| *k == h).map(|(_, l)| l);
    let (Some(groups), Some(agents)) = (get("Agent groups"), get("Agents")) else {
        return Ok(out);
    };
    for m in &schema.tables {
        let to = |t: &Table| {
            m.foreign_keys
                .iter()
                .find(|f| f.references.eq_ignore_ascii_case(&t.full_name()) && f.referenced_columns == t.primary_key)
        };
        let (Some(fg), Some(fa)) = (to(groups.table), to(agents.table)) else { continue };
        let ml = load(dir, m)?;
        let agent_by_key: HashMap<Vec<Option<String>>, &Vec<Option<String>>> = agents
            .rows
            .iter()
            .map(|r| (agents.values(r, &agents.table.primary_key), r))
            .collect();
        for r in &ml.rows {
            let g = ml.values(r, &fg.columns);
            let a = ml.values(r, &fa.columns);
            let text = match agent_by_key.get(&a) {
                Some(ar) => {
                    let sip = uri_columns(agents.table).into_iter().find_map(|c| agents.value(ar, &c).map(str::to_string));
                    match sip {
                        Some(s) => format!("{} <{}>", agents.label(ar), s),
                        None => agents.label(ar),
                    }
                }
                None => format!("(agent {} not found)", a.iter().map(|v| v.as_deref().unwrap_or("NULL")).collect::<Vec<_>>().join(", ")),
            };
            let gkey = g.iter().map(|v| v.as_deref().unwrap_or("NULL")).collect::<Vec<_>>().join(", ");
            out.entry((groups.table.full_name(), gkey)).or_insert_with(Vec::new).push(cell(Some(&text)));
        }
    }
    Ok(out)
}

/// Every table not shown above, with its row count and file.
fn other_tables(md: &mut String, schema: &Schema, pool: Option<&Table>, kinds: &[(&str, Loaded<'_>)]) -> Result<()> {
    writeln!(md, "## Every table\n")?;
    writeln!(md, "| table | rows | file | foreign keys |")?;
    writeln!(md, "| --- | --- | --- | --- |")?;
    for t in &schema.tables {
        let fks: Vec<String> = t
            .foreign_keys
            .iter()
            .map(|f| format!("({}) → {}", f.columns.join(", "), f.references))
            .collect();
        writeln!(md, "| {} | {} | {} | {} |", cell(Some(&t.full_name())), t.rows, t.file, cell(Some(&fks.join("; "))))?;
    }
    let _ = (pool, kinds);
    Ok(())
}
