//! Rendering for people (aligned tables, the objects by name, the next step)
//! and for programs (`--format json`). Pure functions of the data, so the
//! output is snapshot-tested. Each JSON document is one typed struct
//! ([`CheckJson`], [`FixJson`], [`UndoJson`]), its only definition.

use crate::inspect::{Finding, Inspection, ObjectRow};
use crate::journal::{Journal, UndoRow};
use crate::plan::{self, Plan, Skipped};
use crate::shell::Command;
use serde::Serialize;
use std::fmt::Write;
use std::path::Path;

/// How many objects per table the human output names.
pub const HUMAN_OBJECT_LIMIT: usize = 20;

/// Lays out rows as columns; numbers (all-digit cells) align right.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let numeric: Vec<bool> = (0..header.len())
        .map(|i| {
            !rows.is_empty()
                && rows
                    .iter()
                    .all(|r| !r[i].is_empty() && r[i].chars().all(|c| c.is_ascii_digit()))
        })
        .collect();
    let line = |cells: Vec<&str>| {
        let mut s = String::from(" ");
        for (i, c) in cells.iter().enumerate() {
            let pad = widths[i] - c.chars().count();
            s.push(' ');
            if numeric[i] {
                s.push_str(&" ".repeat(pad));
                s.push_str(c);
            } else {
                s.push_str(c);
                if i + 1 < cells.len() {
                    s.push_str(&" ".repeat(pad));
                }
            }
            s.push(' ');
        }
        s.trim_end().to_string()
    };
    let mut out = line(header.to_vec());
    out.push('\n');
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

fn object_lines(out: &mut String, objects: &[ObjectRow], show_owner: bool) {
    for o in objects.iter().take(HUMAN_OBJECT_LIMIT) {
        let name = o.name.as_deref().unwrap_or("(no name column)");
        if show_owner {
            let _ = writeln!(out, "      {}  {}  (owner {})", o.key_text(), name, o.owner);
        } else {
            let _ = writeln!(out, "      {}  {}", o.key_text(), name);
        }
    }
    if objects.len() > HUMAN_OBJECT_LIMIT {
        let _ = writeln!(
            out,
            "      ... and {} more (all are listed with --format json)",
            objects.len() - HUMAN_OBJECT_LIMIT
        );
    }
}

/// The `check` report for people.
///
/// `base` is the command that reaches this database again; the next step
/// is suggested with it.
pub fn check_human(i: &Inspection, base: &Command) -> String {
    let mut out = String::new();
    let s = &i.server;
    let _ = writeln!(
        out,
        "Database {} on {} (SQL Server {}, {})",
        s.database, s.server, s.product_version, s.updateability
    );
    let _ = writeln!(out);
    pools_human(&mut out, i);
    let _ = writeln!(out);
    tables_human(&mut out, i);
    let _ = writeln!(out);
    copies_human(&mut out, i);
    let findings = i.findings();
    if findings.is_empty() {
        let _ = writeln!(out, "Healthy: every object has an owner pool that exists.");
        return out;
    }
    let _ = writeln!(out, "Findings:");
    for f in &findings {
        finding_human(&mut out, f);
    }
    let _ = writeln!(out);
    next_step_human(&mut out, i, &findings, base);
    out
}

fn pools_human(out: &mut String, i: &Inspection) {
    let name_col = i.pool_table.name_column.as_deref().unwrap_or("Name");
    let _ = writeln!(
        out,
        "Owner pools ({}.{}):",
        i.pool_table.schema, i.pool_table.table
    );
    if i.pools.is_empty() {
        let _ = writeln!(out, "  (none)");
        return;
    }
    let rows: Vec<Vec<String>> = i
        .objects_per_pool()
        .into_iter()
        .map(|(p, n)| {
            vec![
                p.id.to_string(),
                p.name.clone().unwrap_or_default(),
                n.to_string(),
            ]
        })
        .collect();
    out.push_str(&table(&["ID", name_col, "Objects"], &rows));
}

fn tables_human(out: &mut String, i: &Inspection) {
    let _ = writeln!(out, "Tables with an owner pool column:");
    let rows: Vec<Vec<String>> = i
        .tables
        .iter()
        .filter(|t| t.table.copy_of.is_none())
        .map(|t| {
            vec![
                t.table.full_name(),
                t.rows.to_string(),
                t.null_owner.len().to_string(),
                t.dangling_owner.len().to_string(),
            ]
        })
        .collect();
    if rows.is_empty() {
        let _ = writeln!(out, "  (none)");
    } else {
        out.push_str(&table(
            &["Table", "Rows", "NULL owner", "Dangling owner"],
            &rows,
        ));
    }
}

/// Copies of object tables, under their own heading: counted, never
/// findings, and left alone by fix unless named with --table.
fn copies_human(out: &mut String, i: &Inspection) {
    let rows: Vec<Vec<String>> = i
        .copies()
        .map(|t| {
            vec![
                t.table.full_name(),
                t.table.copy_of.clone().unwrap_or_default(),
                t.rows.to_string(),
                t.null_owner.len().to_string(),
            ]
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "Copies of object tables (fix leaves them alone unless named with --table):"
    );
    out.push_str(&table(&["Table", "Copy of", "Rows", "NULL owner"], &rows));
    for t in i.copies().filter(|t| !t.null_owner.is_empty()) {
        let _ = writeln!(
            out,
            "  (i) {}: {} row(s) without an owner pool, in a copy of {}; not a finding.",
            t.table.full_name(),
            t.null_owner.len(),
            t.table.copy_of.as_deref().unwrap_or_default()
        );
    }
    let _ = writeln!(out);
}

fn finding_human(out: &mut String, f: &Finding) {
    match f {
        Finding::NoOwnerPools => {
            let _ = writeln!(
                out,
                "  ! dbo.OwnerPool is empty: no object can have a valid owner pool."
            );
        }
        Finding::NullOwner {
            table,
            count,
            objects,
        } => {
            let _ = writeln!(
                out,
                "  ! {table}: {count} object(s) without an owner pool (OwnerPoolId is NULL):"
            );
            object_lines(out, objects, false);
        }
        Finding::DanglingOwner {
            table,
            count,
            objects,
        } => {
            let _ = writeln!(
                out,
                "  ? {table}: {count} object(s) owned by a pool that is not in dbo.OwnerPool:"
            );
            object_lines(out, objects, true);
        }
        Finding::Unfixable { table, reason } => {
            let _ = writeln!(out, "  ! {table} {reason}; fix will leave it alone.");
        }
    }
}

fn next_step_human(out: &mut String, i: &Inspection, findings: &[Finding], base: &Command) {
    let nulls = findings
        .iter()
        .any(|f| matches!(f, Finding::NullOwner { .. }));
    if nulls && i.pools.len() == 1 {
        let fix = base.clone().args(["fix", "--dry-run"]);
        let _ = writeln!(
            out,
            "Next step: {fix}   (shows the repair and changes nothing)"
        );
    } else if nulls && i.pools.len() > 1 {
        let _ = writeln!(out, "Next step: choose the pool the objects belong to, and see the repair (changes nothing):");
        for p in &i.pools {
            let fix = base
                .clone()
                .args(["fix", "--pool", &p.id.to_string(), "--dry-run"]);
            let name = p.name.as_deref().unwrap_or_default();
            let _ = writeln!(out, "  {fix}   ({name})");
        }
    } else if i.pools.is_empty() {
        let _ = writeln!(out, "Next step: register the pool in the topology (dbo.OwnerPool is empty); this tool cannot choose an owner.");
    } else {
        let _ = writeln!(out, "Next step: objects owned by a pool that no longer exists are not changed by fix; re-import them with Import-CsRgsConfiguration -OverwriteOwner, or remove them.");
    }
}

/// `check --format json`.
#[derive(Serialize)]
pub struct CheckJson {
    /// `DB_NAME()`.
    pub database: String,
    /// The server as the user named it.
    pub server: String,
    /// `SERVERPROPERTY('ServerName')`.
    pub server_name: String,
    /// `SERVERPROPERTY('ProductVersion')`.
    pub product_version: String,
    /// READ_WRITE or READ_ONLY.
    pub updateability: String,
    /// Where the pools are.
    pub owner_pool_table: PoolTableJson,
    /// The pools, with how many objects each owns.
    pub owner_pools: Vec<PoolJson>,
    /// Every table with an owner column.
    pub tables: Vec<TableJson>,
    /// What is wrong.
    pub findings: Vec<FindingJson>,
    /// Whether `findings` is empty.
    pub healthy: bool,
}

/// `dbo.OwnerPool` as the catalog describes it.
#[derive(Serialize)]
pub struct PoolTableJson {
    /// Schema.
    pub schema: String,
    /// Table.
    pub table: String,
    /// The column `OwnerPoolId` refers to.
    pub id_column: String,
    /// Its type.
    pub id_type: String,
    /// The FQDN or name column, if any.
    pub name_column: Option<String>,
}

/// One owner pool.
#[derive(Serialize)]
pub struct PoolJson {
    /// Its ID, as text.
    pub id: String,
    /// FQDN or name.
    pub name: Option<String>,
    /// Objects it owns (only in `check`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub objects: Option<u64>,
}

/// One object table in `check`.
#[derive(Serialize)]
pub struct TableJson {
    /// Schema.
    pub schema: String,
    /// Table.
    pub table: String,
    /// The owner column.
    pub owner_column: String,
    /// Its type.
    pub owner_type: String,
    /// Primary key columns.
    pub key_columns: Vec<String>,
    /// The display column, if any.
    pub display_column: Option<String>,
    /// Rows in all.
    pub rows: u64,
    /// Rows with a NULL owner.
    pub null_owner: usize,
    /// Rows whose owner names no pool.
    pub dangling_owner: usize,
    /// Whether fix can change its rows one by one.
    pub fixable: bool,
    /// When the table looks like a copy of another object table: that
    /// table (fix leaves it alone unless named with --table).
    pub copy_of: Option<String>,
}

/// One finding.
#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FindingJson {
    /// `dbo.OwnerPool` is empty.
    NoOwnerPools,
    /// Objects with a NULL owner.
    NullOwner {
        /// `schema.table`
        table: String,
        /// How many.
        count: usize,
        /// Which.
        objects: Vec<ObjectJson>,
    },
    /// Objects whose owner names no pool.
    DanglingOwner {
        /// `schema.table`
        table: String,
        /// How many.
        count: usize,
        /// Which.
        objects: Vec<ObjectJson>,
    },
    /// A table fix leaves alone.
    Unfixable {
        /// `schema.table`
        table: String,
        /// Why.
        reason: String,
    },
}

/// One object row.
#[derive(Serialize)]
pub struct ObjectJson {
    /// Key values as text, in key order.
    pub key: Vec<String>,
    /// Display name.
    pub name: Option<String>,
    /// The current owner as text; null for none.
    pub owner_pool_id: Option<String>,
}

fn objects_json(objects: &[ObjectRow]) -> Vec<ObjectJson> {
    objects
        .iter()
        .map(|o| ObjectJson {
            key: o.key.iter().map(ToString::to_string).collect(),
            name: o.name.clone(),
            owner_pool_id: (!o.owner.is_null()).then(|| o.owner.to_string()),
        })
        .collect()
}

/// The `check` report as one JSON document.
pub fn check_json(i: &Inspection) -> CheckJson {
    let findings = i.findings();
    CheckJson {
        database: i.server.database.clone(),
        server: i.server.server.clone(),
        server_name: i.server.server_name.clone(),
        product_version: i.server.product_version.clone(),
        updateability: i.server.updateability.clone(),
        owner_pool_table: PoolTableJson {
            schema: i.pool_table.schema.clone(),
            table: i.pool_table.table.clone(),
            id_column: i.pool_table.id.name.clone(),
            id_type: i.pool_table.id.type_name.clone(),
            name_column: i.pool_table.name_column.clone(),
        },
        owner_pools: i
            .objects_per_pool()
            .into_iter()
            .map(|(p, n)| PoolJson {
                id: p.id.to_string(),
                name: p.name,
                objects: Some(n),
            })
            .collect(),
        tables: i
            .tables
            .iter()
            .map(|t| TableJson {
                schema: t.table.schema.clone(),
                table: t.table.table.clone(),
                owner_column: t.table.owner.name.clone(),
                owner_type: t.table.owner.type_name.clone(),
                key_columns: t.table.key.iter().map(|k| k.name.clone()).collect(),
                display_column: t.table.display_column.clone(),
                rows: t.rows,
                null_owner: t.null_owner.len(),
                dangling_owner: t.dangling_owner.len(),
                fixable: t.table.unfixable_reason().is_none(),
                copy_of: t.table.copy_of.clone(),
            })
            .collect(),
        healthy: findings.is_empty(),
        findings: findings.iter().map(finding_json).collect(),
    }
}

fn finding_json(f: &Finding) -> FindingJson {
    match f {
        Finding::NoOwnerPools => FindingJson::NoOwnerPools,
        Finding::NullOwner {
            table,
            count,
            objects,
        } => FindingJson::NullOwner {
            table: table.clone(),
            count: *count,
            objects: objects_json(objects),
        },
        Finding::DanglingOwner {
            table,
            count,
            objects,
        } => FindingJson::DanglingOwner {
            table: table.clone(),
            count: *count,
            objects: objects_json(objects),
        },
        Finding::Unfixable { table, reason } => FindingJson::Unfixable {
            table: table.clone(),
            reason: reason.clone(),
        },
    }
}

/// The plan for people: per table, the rows and objects; then, with
/// `with_sql`, the change script exactly as `--emit-sql` writes it.
pub fn plan_human(p: &Plan, with_sql: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Plan for {} on {}: give {} object(s) the owner pool {}",
        p.database,
        p.server,
        p.row_count(),
        p.pool.label()
    );
    let _ = writeln!(
        out,
        "(database {} on instance {}, machine {}, created {})",
        p.identity.database,
        p.identity.server_name,
        p.identity.machine_name,
        p.identity.database_created
    );
    let _ = writeln!(out);
    let rows: Vec<Vec<String>> = p
        .tables
        .iter()
        .map(|t| vec![t.table.full_name(), t.rows.len().to_string()])
        .collect();
    out.push_str(&table(&["Table", "Rows to change"], &rows));
    for t in &p.tables {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "  {} ({} row(s), OwnerPoolId NULL -> {}):",
            t.table.full_name(),
            t.rows.len(),
            p.pool.id
        );
        object_lines(&mut out, &t.rows, false);
    }
    for s in p.skipped.iter().chain(&p.copies) {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "  Left alone: {} ({} row(s) without owner): it {}.",
            s.table, s.rows, s.reason
        );
    }
    if with_sql {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "The change script (what --emit-sql writes; the tool itself sends the same statements with the values as parameters):"
        );
        let _ = writeln!(out);
        out.push_str(&plan::script(p));
    }
    out
}

/// A plan in JSON.
#[derive(Serialize)]
pub struct PlanJson {
    /// Database.
    pub database: String,
    /// Server as named by the user.
    pub server: String,
    /// The pool the rows get.
    pub pool: PoolJson,
    /// Rows to change in all.
    pub rows: usize,
    /// Per table.
    pub tables: Vec<PlanTableJson>,
    /// Tables with NULL owners left alone.
    pub skipped: Vec<Skipped>,
    /// The T-SQL, as the dry run shows it.
    pub sql: String,
}

/// One table of a plan.
#[derive(Serialize)]
pub struct PlanTableJson {
    /// Schema.
    pub schema: String,
    /// Table.
    pub table: String,
    /// Rows to change.
    pub rows: usize,
    /// Which.
    pub objects: Vec<ObjectJson>,
}

/// The plan as JSON.
pub fn plan_json(p: &Plan) -> PlanJson {
    PlanJson {
        database: p.database.clone(),
        server: p.server.clone(),
        pool: PoolJson {
            id: p.pool.id.to_string(),
            name: p.pool.name.clone(),
            objects: None,
        },
        rows: p.row_count(),
        tables: p
            .tables
            .iter()
            .map(|t| PlanTableJson {
                schema: t.table.schema.clone(),
                table: t.table.table.clone(),
                rows: t.rows.len(),
                objects: objects_json(&t.rows),
            })
            .collect(),
        skipped: p.skipped.clone(),
        sql: plan::script(p),
    }
}

/// `fix --format json`: the plan (null when there is nothing to do) and
/// what happened.
#[derive(Serialize)]
pub struct FixJson<'a> {
    /// The plan shown or applied.
    pub plan: Option<PlanJson>,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// Whether the change was committed.
    pub committed: bool,
    /// Rows changed (only when something was attempted or there was nothing to do).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<usize>,
    /// Attempts the commit took (after deadlocks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    /// The journal written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub journal: Option<&'a Path>,
    /// Set when no object in scope lacks an owner.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub nothing_to_do: bool,
}

/// `undo --format json`.
#[derive(Serialize)]
pub struct UndoJson<'a> {
    /// The fix's journal.
    pub journal: &'a Path,
    /// The undo's own journal, once written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub undo_journal: Option<&'a Path>,
    /// Whether this was a dry run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
    /// Rows that would go back (dry run, or nothing to put back).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restorable: Option<usize>,
    /// Rows put back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restored: Option<usize>,
    /// Rows left alone because they changed since the fix.
    pub left_alone: usize,
    /// Whether the undo was committed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub committed: Option<bool>,
}

/// Prints a JSON document on standard output.
pub fn print_json<T: Serialize>(v: &T) {
    println!(
        "{}",
        serde_json::to_string_pretty(v).expect("report structs serialize")
    );
}

/// What undo will do, for people.
pub fn undo_human(j: &Journal, rows: &[UndoRow]) -> String {
    let mut out = String::new();
    let restorable: Vec<&UndoRow> = rows.iter().filter(|r| r.restorable()).collect();
    let _ = writeln!(
        out,
        "Undo of the fix of {} ({} on {}, pool {}): {} of {} journalled row(s) go back to OwnerPoolId NULL",
        j.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
        j.database,
        j.server,
        j.pool.label(),
        restorable.len(),
        rows.len()
    );
    let mut tables: Vec<&str> = rows.iter().map(|r| r.table.as_str()).collect();
    tables.dedup();
    for t in tables {
        let here: Vec<&UndoRow> = rows.iter().filter(|r| r.table == t).collect();
        let _ = writeln!(out);
        let _ = writeln!(out, "  {t}:");
        for r in here.iter().take(HUMAN_OBJECT_LIMIT) {
            let key = r
                .change
                .key
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            let name = r.change.name.as_deref().unwrap_or("");
            let state = match &r.current {
                _ if r.restorable() => "put back".to_string(),
                None => "left alone: the row no longer exists".to_string(),
                Some(v) => format!("left alone: changed since the fix (owner now {v})"),
            };
            let _ = writeln!(out, "      {key}  {name}  {state}");
        }
        if here.len() > HUMAN_OBJECT_LIMIT {
            let _ = writeln!(
                out,
                "      ... and {} more",
                here.len() - HUMAN_OBJECT_LIMIT
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_numbers_right() {
        let t = table(
            &["Table", "Rows"],
            &[
                vec!["dbo.AgentGroups".into(), "12".into()],
                vec!["dbo.Q".into(), "3".into()],
            ],
        );
        assert_eq!(
            t,
            "  Table            Rows\n  dbo.AgentGroups    12\n  dbo.Q               3\n"
        );
    }
}
