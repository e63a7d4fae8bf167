//! Rendering for people (aligned tables, the objects by name, the next step)
//! and for programs (`--format json`). Pure functions of the data, so the
//! output is snapshot-tested.

use crate::apply::UndoRow;
use crate::inspect::{Finding, Inspection, ObjectRow};
use crate::journal::Journal;
use crate::plan::{self, Plan};
use serde_json::{json, Value};
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
pub fn check_human(i: &Inspection, connect_hint: &str) -> String {
    let mut out = String::new();
    let s = &i.server;
    let _ = writeln!(
        out,
        "Database {} on {} (SQL Server {}, {})",
        s.database, s.server, s.product_version, s.updateability
    );
    let _ = writeln!(out);
    let name_col = i.pool_table.name_column.as_deref().unwrap_or("Name");
    let _ = writeln!(
        out,
        "Owner pools ({}.{}):",
        i.pool_table.schema, i.pool_table.table
    );
    if i.pools.is_empty() {
        let _ = writeln!(out, "  (none)");
    } else {
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
    let _ = writeln!(out);
    let _ = writeln!(out, "Tables with an owner pool column:");
    let rows: Vec<Vec<String>> = i
        .tables
        .iter()
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
    let _ = writeln!(out);
    let findings = i.findings();
    if findings.is_empty() {
        let _ = writeln!(out, "Healthy: every object has an owner pool that exists.");
        return out;
    }
    let _ = writeln!(out, "Findings:");
    for f in &findings {
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
                object_lines(&mut out, objects, false);
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
                object_lines(&mut out, objects, true);
            }
            Finding::Unfixable { table, reason } => {
                let _ = writeln!(out, "  ! {table} {reason}; fix will leave it alone.");
            }
        }
    }
    let _ = writeln!(out);
    let nulls = findings
        .iter()
        .any(|f| matches!(f, Finding::NullOwner { .. }));
    if nulls && !i.pools.is_empty() {
        let pool = if i.pools.len() > 1 {
            " --pool ID|FQDN"
        } else {
            ""
        };
        let _ = writeln!(out, "Next step: rgs-repair{connect_hint} fix{pool} --dry-run   (shows the repair and changes nothing)");
    } else if i.pools.is_empty() {
        let _ = writeln!(out, "Next step: register the pool in the topology (dbo.OwnerPool is empty); this tool cannot choose an owner.");
    } else {
        let _ = writeln!(out, "Next step: objects owned by a pool that no longer exists are not changed by fix; re-import them with Import-CsRgsConfiguration -OverwriteOwner, or remove them.");
    }
    out
}

/// The `check` report as one JSON document.
pub fn check_json(i: &Inspection) -> Value {
    let findings = i.findings();
    json!({
        "database": i.server.database,
        "server": i.server.server,
        "server_name": i.server.server_name,
        "product_version": i.server.product_version,
        "updateability": i.server.updateability,
        "owner_pool_table": { "schema": i.pool_table.schema, "table": i.pool_table.table, "id_column": i.pool_table.id.name, "id_type": i.pool_table.id.type_name, "name_column": i.pool_table.name_column },
        "owner_pools": i.objects_per_pool().into_iter().map(|(p, n)| json!({ "id": p.id.to_string(), "name": p.name, "objects": n })).collect::<Vec<_>>(),
        "tables": i.tables.iter().map(|t| json!({
            "schema": t.table.schema,
            "table": t.table.table,
            "owner_column": t.table.owner.name,
            "owner_type": t.table.owner.type_name,
            "key_columns": t.table.key.iter().map(|k| &k.name).collect::<Vec<_>>(),
            "display_column": t.table.display_column,
            "rows": t.rows,
            "null_owner": t.null_owner.len(),
            "dangling_owner": t.dangling_owner.len(),
            "fixable": t.table.unfixable_reason().is_none(),
        })).collect::<Vec<_>>(),
        "findings": findings.iter().map(finding_json).collect::<Vec<_>>(),
        "healthy": findings.is_empty(),
    })
}

fn objects_json(objects: &[ObjectRow]) -> Vec<Value> {
    objects.iter().map(|o| json!({ "key": o.key.iter().map(ToString::to_string).collect::<Vec<_>>(), "name": o.name, "owner_pool_id": if o.owner.is_null() { Value::Null } else { Value::String(o.owner.to_string()) } })).collect()
}

fn finding_json(f: &Finding) -> Value {
    match f {
        Finding::NoOwnerPools => json!({ "kind": "no_owner_pools" }),
        Finding::NullOwner {
            table,
            count,
            objects,
        } => {
            json!({ "kind": "null_owner", "table": table, "count": count, "objects": objects_json(objects) })
        }
        Finding::DanglingOwner {
            table,
            count,
            objects,
        } => {
            json!({ "kind": "dangling_owner", "table": table, "count": count, "objects": objects_json(objects) })
        }
        Finding::Unfixable { table, reason } => {
            json!({ "kind": "unfixable", "table": table, "reason": reason })
        }
    }
}

/// The plan for people: per table, the rows and objects; then the T-SQL.
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
    for s in &p.skipped {
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
            "T-SQL, in one transaction (values are sent as parameters; @P1 is the pool ID):"
        );
        let _ = writeln!(out);
        for l in plan::script(p).lines() {
            let _ = writeln!(out, "    {l}");
        }
    }
    out
}

/// The plan as JSON.
pub fn plan_json(p: &Plan) -> Value {
    json!({
        "database": p.database,
        "server": p.server,
        "pool": { "id": p.pool.id.to_string(), "name": p.pool.name },
        "rows": p.row_count(),
        "tables": p.tables.iter().map(|t| json!({ "schema": t.table.schema, "table": t.table.table, "rows": t.rows.len(), "objects": objects_json(&t.rows) })).collect::<Vec<_>>(),
        "skipped": p.skipped,
        "sql": plan::script(p),
    })
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
