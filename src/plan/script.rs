//! The change script: the whole repair as one T-SQL batch a DBA can run by
//! hand (SSMS, `sqlcmd -b -i`), with the guards the tool applies when it
//! runs the plan itself, written as real checks: it refuses another server
//! or database, compares each table's rows without an owner with the plan
//! under `UPDLOCK, HOLDLOCK` (their count, and the server's checksum of
//! their keys), checks every `@@ROWCOUNT`, and
//! raises an error (RAISERROR, so that it runs on SQL Server 2008 R2) and
//! rolls back on any difference. The dry run prints this same text.

use super::Plan;
use crate::quote::QuotedTable;
use crate::value::DbValue;
use std::fmt::Write;

/// The change script for `plan`.
pub fn script(plan: &Plan) -> String {
    let mut out = String::new();
    header(&mut out, plan);
    let _ = writeln!(out, "SET NOCOUNT ON;");
    let _ = writeln!(out, "SET XACT_ABORT ON;");
    let _ = writeln!(out, "SET LOCK_TIMEOUT {};", plan.lock_timeout_ms);
    identity_check(&mut out, plan);
    let _ = writeln!(out, "DECLARE @pool {};", sql_type(&pool_type(plan)));
    let _ = writeln!(out, "SET @pool = {};", sql_literal(&plan.pool.id));
    let _ = writeln!(out, "DECLARE @rows bigint;");
    let _ = writeln!(out, "DECLARE @checksum int;");
    let _ = writeln!(out, "BEGIN TRANSACTION;");
    for t in &plan.tables {
        table_step(&mut out, t);
    }
    let _ = writeln!(out, "COMMIT TRANSACTION;");
    let _ = writeln!(
        out,
        "PRINT {};",
        nstring(&format!(
            "rgs-repair: committed; {} object(s) now have the owner pool {}.",
            plan.row_count(),
            plan.pool.label()
        ))
    );
    out
}

fn header(out: &mut String, plan: &Plan) {
    let id = &plan.identity;
    let _ = writeln!(
        out,
        "-- rgs-repair {}: change script for plan {}",
        plan.tool_version, plan.digest
    );
    let _ = writeln!(
        out,
        "-- Database {} on {} (created {}).",
        id.database, id.server_name, id.database_created
    );
    let _ = writeln!(
        out,
        "-- Gives {} object(s) in {} table(s) the owner pool {}.",
        plan.row_count(),
        plan.tables.len(),
        plan.pool.label()
    );
    let _ = writeln!(
        out,
        "-- Run it as one batch (no GO), in SSMS or with sqlcmd -b -i FILE. It changes"
    );
    let _ = writeln!(
        out,
        "-- nothing unless it runs on that database and each table's rows without an"
    );
    let _ = writeln!(
        out,
        "-- owner are exactly the planned ones; then it updates them in one transaction,"
    );
    let _ = writeln!(out, "-- checks every row count, and commits.");
}

fn identity_check(out: &mut String, plan: &Plan) {
    let id = &plan.identity;
    let _ = writeln!(
        out,
        "IF @@SERVERNAME <> {} OR DB_NAME() <> {}",
        nstring(&id.server_name),
        nstring(&id.database)
    );
    let _ = writeln!(
        out,
        "    OR (SELECT CONVERT(nvarchar(30), create_date, 126) FROM sys.databases WHERE database_id = DB_ID()) <> {}",
        nstring(&id.database_created)
    );
    let _ = writeln!(out, "BEGIN");
    raise(
        out,
        &format!(
            "rgs-repair: this script is for database {} (created {}) on {}; it ran elsewhere and changed nothing.",
            percent(&id.database),
            percent(&id.database_created),
            percent(&id.server_name)
        ),
        None,
    );
    let _ = writeln!(out, "    RETURN;");
    let _ = writeln!(out, "END;");
}

fn table_step(out: &mut String, t: &super::TablePlan) {
    let q: QuotedTable = super::quoted(&t.table);
    let name = t.table.full_name();
    let pname = percent(&name);
    let planned = t.rows;
    // The same summary the tool compares (sql/null_owner_summary.sql): the
    // count and the server's checksum of the keys of the rows without an
    // owner, under lock until COMMIT.
    let same_rows = match t.checksum {
        Some(c) => format!("@checksum IS NULL OR @checksum <> {c}"),
        None => "@checksum IS NOT NULL".to_string(),
    };
    let _ = writeln!(
        out,
        "-- {name}: {planned} planned row(s), key checksum {}",
        t.checksum.map_or("NULL".to_string(), |c| c.to_string())
    );
    let _ = writeln!(
        out,
        "SELECT @rows = COUNT_BIG(*), @checksum = CHECKSUM_AGG(BINARY_CHECKSUM({})) FROM {} WITH (UPDLOCK, HOLDLOCK) WHERE {} IS NULL;",
        q.key_list(),
        q.table,
        q.owner
    );
    let _ = writeln!(out, "IF @rows <> {planned} OR {same_rows}");
    let _ = writeln!(out, "BEGIN");
    let _ = writeln!(out, "    ROLLBACK TRANSACTION;");
    raise(out, &format!("rgs-repair: in {pname} the rows without an owner are not the {planned} planned ones (%I64d now lack an owner); nothing was changed. Make a new plan."), Some("@rows"));
    let _ = writeln!(out, "    RETURN;");
    let _ = writeln!(out, "END;");
    let _ = writeln!(
        out,
        "UPDATE {} SET {} = @pool WHERE {} IS NULL;",
        q.table, q.owner, q.owner
    );
    let _ = writeln!(out, "SET @rows = @@ROWCOUNT;");
    let _ = writeln!(out, "IF @rows <> {planned}");
    let _ = writeln!(out, "BEGIN");
    let _ = writeln!(out, "    ROLLBACK TRANSACTION;");
    raise(out, &format!("rgs-repair: the UPDATE of {pname} changed %I64d row(s) where the plan has {planned}; nothing was changed."), Some("@rows"));
    let _ = writeln!(out, "    RETURN;");
    let _ = writeln!(out, "END;");
    let _ = writeln!(
        out,
        "IF EXISTS (SELECT 1 FROM {} WHERE {} IS NULL)",
        q.table, q.owner
    );
    let _ = writeln!(out, "BEGIN");
    let _ = writeln!(out, "    ROLLBACK TRANSACTION;");
    raise(
        out,
        &format!("rgs-repair: rows of {pname} still lack an owner after the UPDATE; nothing was changed."),
        None,
    );
    let _ = writeln!(out, "    RETURN;");
    let _ = writeln!(out, "END;");
}

/// `RAISERROR(N'...', 16, 1[, arg]);`. `message` is a RAISERROR format:
/// its own `%` directives stay, a `%` that comes from a name is doubled by
/// the caller through [`percent`].
fn raise(out: &mut String, message: &str, arg: Option<&str>) {
    let arg = arg.map(|a| format!(", {a}")).unwrap_or_default();
    let _ = writeln!(out, "    RAISERROR({}, 16, 1{arg});", nstring(message));
}

/// A name placed in a RAISERROR format, with `%` doubled so that it prints
/// as itself.
pub fn percent(s: &str) -> String {
    s.replace('%', "%%")
}

/// The owner column's type, which `@pool` takes.
fn pool_type(plan: &Plan) -> String {
    plan.tables
        .first()
        .map(|t| t.table.owner.type_name.clone())
        .unwrap_or_else(|| "sql_variant".to_string())
}

/// A declared type for a catalog type name: strings get the longest length
/// a key may have (900 bytes).
fn sql_type(type_name: &str) -> String {
    let t = type_name.to_ascii_lowercase();
    match t.as_str() {
        "nvarchar" | "nchar" => format!("{t}(450)"),
        "varchar" | "char" => format!("{t}(900)"),
        _ => t,
    }
}

/// `N'...'` with quotes doubled: a string literal SQL Server reads back as
/// exactly `s`.
pub fn nstring(s: &str) -> String {
    format!("N'{}'", s.replace('\'', "''"))
}

/// A value as a T-SQL literal. Only the script carries literals: the tool
/// itself always sends values as parameters.
pub fn sql_literal(v: &DbValue) -> String {
    match v {
        DbValue::Null => "NULL".to_string(),
        DbValue::Guid(_) => format!("'{v}'"),
        DbValue::Text(s) => nstring(s),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_escaped_as_sql_server_reads_them() {
        assert_eq!(sql_literal(&DbValue::Text("o'pool".into())), "N'o''pool'");
        assert_eq!(nstring("a''b"), "N'a''''b'");
        assert_eq!(sql_literal(&DbValue::BigInt(-5)), "-5");
        assert_eq!(percent("50%"), "50%%");
    }
}
