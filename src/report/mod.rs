//! Rendering for people (aligned tables, the objects by name, the next step)
//! and for programs ([`json`]: `--format json`). Pure functions of the data,
//! so the output is snapshot-tested.

pub mod json;
pub mod targets;

pub use json::{check_json, plan_json, print_json, FixJson, FixOutcome, UndoJson, UndoOutcome};

use crate::inspect::{Finding, Inspection, ObjectRow};
use crate::journal::{Journal, UndoTablePreview};
use crate::plan::{self, Plan};
use crate::shell::Command;
use std::fmt::Write;

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

/// Names the first objects of `total` (`objects` may be all of them or
/// only the first ones an inspection read).
fn object_lines(out: &mut String, objects: &[ObjectRow], total: usize, show_owner: bool) {
    for o in objects.iter().take(HUMAN_OBJECT_LIMIT) {
        let name = o.name.as_deref().unwrap_or("(no name column)");
        if show_owner {
            let _ = writeln!(out, "      {}  {}  (owner {})", o.key_text(), name, o.owner);
        } else {
            let _ = writeln!(out, "      {}  {}", o.key_text(), name);
        }
    }
    let shown = objects.len().min(HUMAN_OBJECT_LIMIT);
    if total > shown {
        let _ = writeln!(
            out,
            "      ... and {} more (all are listed with --format json)",
            total - shown
        );
    }
}

/// The `check` report for people.
///
/// `base` is the command that reaches this database again; the next step
/// is suggested with it.
/// `findings` are the inspection's and the others `check` read.
pub fn check_human(i: &Inspection, findings: &[Finding], base: &Command) -> String {
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
    let errors = findings
        .iter()
        .any(|f| f.entry().severity == crate::findings::Severity::Error);
    if !errors {
        let _ = writeln!(out, "Healthy: every object has an owner pool that exists.");
        if findings.is_empty() {
            return out;
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "Findings:");
    for f in findings {
        finding_human(&mut out, f);
        let _ = writeln!(out, "      remedy: {}", f.entry().remedy);
    }
    if errors {
        let _ = writeln!(out);
        next_step_human(&mut out, i, findings, base);
    }
    out
}

/// The mark a finding's first line starts with: `!` error, `?` warning,
/// `i` information; then its code.
fn mark(f: &Finding) -> String {
    let m = match f.entry().severity {
        crate::findings::Severity::Error => "!",
        crate::findings::Severity::Warning => "?",
        crate::findings::Severity::Info => "i",
    };
    format!("{m} {}", f.code())
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
                t.null_count.to_string(),
                t.dangling_count.to_string(),
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
                t.null_count.to_string(),
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
    for t in i.copies().filter(|t| t.null_count > 0) {
        let _ = writeln!(
            out,
            "  (i) {}: {} row(s) without an owner pool, in a copy of {}; not a finding.",
            t.table.full_name(),
            t.null_count,
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
                "  {} dbo.OwnerPool is empty: no object can have a valid owner pool.",
                mark(f)
            );
        }
        Finding::NullOwner {
            table,
            count,
            objects,
        } => {
            let _ = writeln!(
                out,
                "  {} {table}: {count} object(s) without an owner pool (OwnerPoolId is NULL):",
                mark(f)
            );
            object_lines(out, objects, *count, false);
        }
        Finding::DanglingOwner {
            table,
            count,
            objects,
        } => {
            let _ = writeln!(
                out,
                "  {} {table}: {count} object(s) owned by a pool that is not in dbo.OwnerPool:",
                mark(f)
            );
            object_lines(out, objects, *count, true);
        }
        Finding::Unfixable { table, reason } => {
            let _ = writeln!(
                out,
                "  {} {table} {reason}; fix will leave it alone.",
                mark(f)
            );
        }
        Finding::NoLineUri {
            table,
            column,
            count,
            objects,
        } => {
            let _ = writeln!(
                out,
                "  {} {table}: {count} object(s) without a line URI ({column} is empty):",
                mark(f)
            );
            object_lines(out, objects, *count, false);
        }
        Finding::Unused {
            table,
            by,
            count,
            objects,
            ..
        } => {
            let _ = writeln!(
                out,
                "  {} {table}: {count} object(s) no row of {by} uses:",
                mark(f)
            );
            object_lines(out, objects, *count, false);
        }
        Finding::IdlePools { pools } => {
            let _ = writeln!(out, "  {} owner pool(s) that own no object:", mark(f));
            for p in pools {
                let _ = writeln!(out, "      {}", p.label());
            }
        }
        Finding::LinksNotDeclared { links } => {
            let _ = writeln!(
                out,
                "  {} links not declared in sys.foreign_keys, so not checked: {}",
                mark(f),
                links.join(", ")
            );
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
        .map(|t| vec![t.table.full_name(), t.rows.to_string()])
        .collect();
    out.push_str(&table(&["Table", "Rows to change"], &rows));
    for t in &p.tables {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "  {} ({} row(s), OwnerPoolId NULL -> {}):",
            t.table.full_name(),
            t.rows,
            p.pool.id
        );
        object_lines(&mut out, &t.sample, t.rows as usize, false);
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

/// What undo will do, for people: per journalled table its first rows
/// and what happens to each, and how many more there are.
pub fn undo_human(j: &Journal, preview: &[UndoTablePreview]) -> String {
    let mut out = String::new();
    let restorable: u64 = preview.iter().map(|p| p.summary.restorable).sum();
    let journalled: u64 = preview.iter().map(|p| p.summary.journalled).sum();
    let _ = writeln!(
        out,
        "Undo of the fix of {} ({} on {}, pool {}): {} of {} journalled row(s) go back to OwnerPoolId NULL",
        j.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
        j.database,
        j.server,
        j.pool.label(),
        restorable,
        journalled
    );
    for p in preview.iter().filter(|p| p.summary.journalled > 0) {
        let _ = writeln!(out);
        let _ = writeln!(out, "  {}:", p.table);
        for r in p.first.iter().take(HUMAN_OBJECT_LIMIT) {
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
        let shown = p.first.len().min(HUMAN_OBJECT_LIMIT) as u64;
        if p.summary.journalled > shown {
            let _ = writeln!(out, "      ... and {} more", p.summary.journalled - shown);
        }
        let left = p.summary.journalled - p.summary.restorable;
        let unshown_left = p.left_alone.len() - p.first.iter().filter(|r| !r.restorable()).count();
        if left > 0 && unshown_left > 0 {
            let _ = writeln!(
                out,
                "      ({left} of them left alone: changed since the fix or gone; all are listed with --format json)"
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
