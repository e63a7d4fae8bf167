//! SQLite functions and collations that give translated SQL SQL Server's
//! semantics: conversions with SQL Server's errors, LEN, QUOTENAME, T-SQL
//! LIKE, OBJECT_ID / HAS_PERMS_BY_NAME against the current catalog, and
//! the `GUID` collation (SQL Server's uniqueidentifier order).
//!
//! A function that fails stores the `SqlError` in the connection's
//! `FnShared::error` slot before failing the SQLite statement, so the
//! session reports SQL Server's error rather than SQLite's text.

use super::catalog::split_name;
use super::datatype::{self, convert, guid_store, DeclType, Mode};
use super::errors;
use crate::types::SqlError;
use rusqlite::functions::{Context, FunctionFlags};
use rusqlite::types::{Value as SqlVal, ValueRef};
use rusqlite::Connection;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// What the catalog-dependent functions know, refreshed by the session
/// before each statement.
#[derive(Debug, Default, Clone)]
pub(crate) struct FnCtx {
    /// Current database name.
    pub db_name: String,
    /// Lowercase `schema.name` of tables -> object id.
    pub tables: HashMap<String, i64>,
    /// Lowercase `schema.name` of constraints -> (object id, type code).
    pub constraints: HashMap<String, (i64, &'static str)>,
    /// Object id -> name.
    pub names: HashMap<i64, String>,
    /// Denied (lowercase `schema.table`, uppercase permission).
    pub denied: HashSet<(String, String)>,
    /// Whether the database is read-only.
    pub read_only: bool,
    /// The session's temporary tables: lowercase `#name` -> object id.
    pub temp_tables: HashMap<String, i64>,
}

/// State shared between a session and its connection's functions.
#[derive(Debug, Default)]
pub(crate) struct FnShared {
    pub error: Mutex<Option<SqlError>>,
    pub ctx: Mutex<FnCtx>,
}

fn fail(shared: &FnShared, e: SqlError) -> rusqlite::Error {
    let msg = e.message.clone();
    *shared.error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
    rusqlite::Error::UserFunctionError(msg.into())
}

fn text_arg(ctx: &Context<'_>, i: usize) -> Option<String> {
    match ctx.get_raw(i) {
        ValueRef::Null => None,
        ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Integer(n) => Some(n.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
        ValueRef::Blob(b) => Some(String::from_utf8_lossy(b).into_owned()),
    }
}

/// Registers the functions and collations on a new connection.
pub(crate) fn register(conn: &Connection, shared: Arc<FnShared>) -> rusqlite::Result<()> {
    for (name, cmp) in super::collation::sqlite_collations() {
        conn.create_collation(name, cmp)?;
    }
    register_conversions(conn, &shared)?;
    register_clock(conn)?;
    register_strings(conn)?;
    register_patterns(conn)?;
    register_metadata(conn, &shared)?;
    super::checksum::register(conn)?;
    Ok(())
}

/// CAST/CONVERT, assignment to a column and the division check: SQL
/// Server's conversions and errors, which SQLite's own would not give.
fn register_conversions(conn: &Connection, shared: &Arc<FnShared>) -> rusqlite::Result<()> {
    let det = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    // sbx_cast(value, target spec, source type name [, style [, try]])
    let s = Arc::clone(shared);
    conn.create_scalar_function("sbx_cast", -1, det, move |ctx| {
        let spec = text_arg(ctx, 1).unwrap_or_default();
        let src = text_arg(ctx, 2).unwrap_or_default();
        let style = if ctx.len() > 3 {
            ctx.get::<Option<i64>>(3)?
        } else {
            None
        };
        let try_ = ctx.len() > 4 && ctx.get::<i64>(4)? != 0;
        let target = DeclType::parse(&spec)
            .ok_or_else(|| fail(&s, errors::internal(format!("bad type {spec}"))))?;
        let mode = if try_ { Mode::TryCast } else { Mode::Cast };
        convert(ctx.get_raw(0), target, &src, style, &mode).map_err(|e| fail(&s, e))
    })?;

    // sbx_assign(value, target spec, source type, table, column)
    let s = Arc::clone(shared);
    conn.create_scalar_function("sbx_assign", 5, det, move |ctx| {
        let spec = text_arg(ctx, 1).unwrap_or_default();
        let src = text_arg(ctx, 2).unwrap_or_default();
        let table = text_arg(ctx, 3).unwrap_or_default();
        let column = text_arg(ctx, 4).unwrap_or_default();
        let target = DeclType::parse(&spec)
            .ok_or_else(|| fail(&s, errors::internal(format!("bad type {spec}"))))?;
        convert(
            ctx.get_raw(0),
            target,
            &src,
            None,
            &Mode::Assign {
                table: &table,
                column: &column,
            },
        )
        .map_err(|e| fail(&s, e))
    })?;

    // Divisor check: SQL Server fails a division by zero, SQLite gives NULL.
    let s = Arc::clone(shared);
    conn.create_scalar_function("sbx_nz", 1, det, move |ctx| {
        let zero = match ctx.get_raw(0) {
            ValueRef::Integer(0) => true,
            ValueRef::Real(f) => f == 0.0,
            _ => false,
        };
        if zero {
            return Err(fail(&s, errors::divide_by_zero()));
        }
        Ok(SqlVal::from(ctx.get_raw(0)))
    })?;
    Ok(())
}

/// NEWID() and the clock.
fn register_clock(conn: &Connection) -> rusqlite::Result<()> {
    let volatile = FunctionFlags::SQLITE_UTF8;
    conn.create_scalar_function("sbx_newid", 0, volatile, |_| {
        Ok(guid_store(&uuid::Uuid::new_v4()))
    })?;

    // sbx_now('utc' | 'local'): the current time as stored text.
    conn.create_scalar_function("sbx_now", 1, volatile, |ctx| {
        let kind = text_arg(ctx, 0).unwrap_or_default();
        let now = if kind == "local" {
            chrono::Local::now().naive_local()
        } else {
            chrono::Utc::now().naive_utc()
        };
        Ok(datatype::format_datetime(&now))
    })?;
    Ok(())
}

/// String functions with SQL Server's semantics (trailing spaces, Unicode
/// case, LIKE classes).
fn register_strings(conn: &Connection) -> rusqlite::Result<()> {
    let det = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    // LEN: characters without trailing spaces.
    conn.create_scalar_function("sbx_len", 1, det, |ctx| {
        Ok(match ctx.get_raw(0) {
            ValueRef::Null => None,
            ValueRef::Blob(b) => Some(b.len() as i64),
            _ => text_arg(ctx, 0).map(|t| t.trim_end_matches(' ').chars().count() as i64),
        })
    })?;

    conn.create_scalar_function("sbx_upper", 1, det, |ctx| {
        Ok(text_arg(ctx, 0).map(|t| t.to_uppercase()))
    })?;
    conn.create_scalar_function("sbx_lower", 1, det, |ctx| {
        Ok(text_arg(ctx, 0).map(|t| t.to_lowercase()))
    })?;

    conn.create_scalar_function("sbx_left", 2, det, |ctx| {
        let n: Option<i64> = ctx.get(1)?;
        Ok(match (text_arg(ctx, 0), n) {
            (Some(t), Some(n)) => Some(t.chars().take(n.max(0) as usize).collect::<String>()),
            _ => None,
        })
    })?;
    conn.create_scalar_function("sbx_right", 2, det, |ctx| {
        let n: Option<i64> = ctx.get(1)?;
        Ok(match (text_arg(ctx, 0), n) {
            (Some(t), Some(n)) => {
                let len = t.chars().count();
                Some(
                    t.chars()
                        .skip(len.saturating_sub(n.max(0) as usize))
                        .collect::<String>(),
                )
            }
            _ => None,
        })
    })?;

    Ok(())
}

/// QUOTENAME and LIKE, with SQL Server's quoting and pattern classes.
fn register_patterns(conn: &Connection) -> rusqlite::Result<()> {
    let det = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    // QUOTENAME(name [, quote char])
    conn.create_scalar_function("sbx_quotename", -1, det, |ctx| {
        let Some(name) = text_arg(ctx, 0) else {
            return Ok(None);
        };
        let q = if ctx.len() > 1 {
            text_arg(ctx, 1)
        } else {
            Some("[".into())
        };
        let Some(q) = q else { return Ok(None) };
        if name.chars().count() > 128 {
            return Ok(None);
        }
        Ok(match q.as_str() {
            "[" | "]" => Some(format!("[{}]", name.replace(']', "]]"))),
            "\"" => Some(format!("\"{}\"", name.replace('"', "\"\""))),
            "'" => Some(format!("'{}'", name.replace('\'', "''"))),
            "`" => Some(format!("`{}`", name.replace('`', "``"))),
            "(" | ")" => Some(format!("({name})")),
            "<" | ">" => Some(format!("<{name}>")),
            "{" | "}" => Some(format!("{{{name}}}")),
            _ => None,
        })
    })?;

    // T-SQL LIKE (case-insensitive, with [set] classes): 1, 0 or NULL.
    // sbx_like folds case (case-insensitive collations), sbx_like_cs does
    // not (case-sensitive and binary ones).
    for (name, fold) in [("sbx_like", true), ("sbx_like_cs", false)] {
        conn.create_scalar_function(name, -1, det, move |ctx| {
            let (Some(v), Some(p)) = (text_arg(ctx, 0), text_arg(ctx, 1)) else {
                return Ok(None);
            };
            let esc = if ctx.len() > 2 {
                text_arg(ctx, 2).and_then(|e| e.chars().next())
            } else {
                None
            };
            let (v, p) = if fold {
                (v.to_lowercase(), p.to_lowercase())
            } else {
                (v, p)
            };
            let v: Vec<char> = v.chars().collect();
            let p: Vec<char> = p.chars().collect();
            Ok(Some(like(&v, &p, esc) as i64))
        })?;
    }
    Ok(())
}

/// Metadata functions: they read the session's current catalog and
/// permissions through `FnShared`.
fn register_metadata(conn: &Connection, shared: &Arc<FnShared>) -> rusqlite::Result<()> {
    let volatile = FunctionFlags::SQLITE_UTF8;
    // OBJECT_ID(name [, type])
    let s = Arc::clone(shared);
    conn.create_scalar_function("sbx_object_id", -1, volatile, move |ctx| {
        let Some(name) = text_arg(ctx, 0) else {
            return Ok(None);
        };
        let ty = if ctx.len() > 1 {
            text_arg(ctx, 1).map(|t| t.trim().to_uppercase())
        } else {
            None
        };
        let c = s.ctx.lock().unwrap_or_else(|p| p.into_inner());
        Ok(object_id(&c, &name, ty.as_deref()))
    })?;

    // OBJECT_NAME(id)
    let s = Arc::clone(shared);
    conn.create_scalar_function("sbx_object_name", 1, volatile, move |ctx| {
        let id: Option<i64> = ctx.get(0)?;
        let c = s.ctx.lock().unwrap_or_else(|p| p.into_inner());
        Ok(id.and_then(|id| c.names.get(&id).cloned()))
    })?;

    // HAS_PERMS_BY_NAME(securable, class, permission)
    let s = Arc::clone(shared);
    conn.create_scalar_function("sbx_has_perms", 5, volatile, move |ctx| {
        let name = text_arg(ctx, 0);
        let class = text_arg(ctx, 1).unwrap_or_default().trim().to_uppercase();
        let perm = text_arg(ctx, 2).unwrap_or_default().trim().to_uppercase();
        let sub = text_arg(ctx, 3);
        let sub_class = text_arg(ctx, 4).map(|c| c.trim().to_uppercase());
        let c = s.ctx.lock().unwrap_or_else(|p| p.into_inner());
        let table = has_perms(&c, name.as_deref(), &class, &perm);
        match (sub, sub_class.as_deref()) {
            (None, None) => Ok(table),
            (Some(col), Some("COLUMN")) if class == "OBJECT" => Ok(table.and_then(|v| {
                let (key, _, _) = resolve(&c, name.as_deref()?)?;
                let denied = c.denied.contains(&(key, column_permission(&perm, &col)));
                Some(if denied { 0 } else { v })
            })),
            _ => Ok(None),
        }
    })?;
    Ok(())
}

/// How a column-level permission is kept among the denied permissions:
/// `UPDATE(COLUMN)`, all uppercase as table permissions are kept.
pub(crate) fn column_permission(perm: &str, column: &str) -> String {
    format!(
        "{}({})",
        perm.trim().to_uppercase(),
        column
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_uppercase()
    )
}

/// Resolves a T-SQL object name string against the function context.
fn resolve(c: &FnCtx, name: &str) -> Option<(String, i64, &'static str)> {
    let parts = split_name(name)?;
    let (db, schema, obj) = match parts.as_slice() {
        [o] => (None, "dbo".to_string(), o.clone()),
        [s, o] => (None, s.clone(), o.clone()),
        [d, s, o] => (Some(d.clone()), s.clone(), o.clone()),
        _ => return None,
    };
    if obj.starts_with('#') {
        // Temporary tables live in tempdb: `tempdb..#k`, `tempdb.dbo.#k`.
        let in_tempdb = db.is_some_and(|d| d.eq_ignore_ascii_case("tempdb"));
        let key = obj.to_lowercase();
        let id = c.temp_tables.get(&key).filter(|_| in_tempdb)?;
        return Some((key, *id, "U"));
    }
    if let Some(d) = db {
        if !d.is_empty() && d.to_lowercase() != c.db_name.to_lowercase() {
            return None;
        }
    }
    let schema = if schema.is_empty() {
        "dbo".to_string()
    } else {
        schema
    };
    let key = format!("{}.{}", schema.to_lowercase(), obj.to_lowercase());
    if let Some(id) = c.tables.get(&key) {
        return Some((key, *id, "U"));
    }
    c.constraints.get(&key).map(|(id, ty)| (key, *id, *ty))
}

fn object_id(c: &FnCtx, name: &str, ty: Option<&str>) -> Option<i64> {
    let (_, id, t) = resolve(c, name)?;
    match ty {
        Some(want) if want != t => None,
        _ => Some(id),
    }
}

fn has_perms(c: &FnCtx, name: Option<&str>, class: &str, perm: &str) -> Option<i64> {
    const WRITES: &[&str] = &[
        "UPDATE",
        "INSERT",
        "DELETE",
        "ALTER",
        "CONTROL",
        "TAKE OWNERSHIP",
    ];
    let write = WRITES.contains(&perm);
    match class {
        "OBJECT" => {
            let (key, _, _) = resolve(c, name?)?;
            if (write && c.read_only) || c.denied.contains(&(key, perm.to_string())) {
                Some(0)
            } else {
                Some(1)
            }
        }
        "DATABASE" => {
            if let Some(n) = name {
                if n.to_lowercase() != c.db_name.to_lowercase() {
                    return None;
                }
            }
            Some(if write && c.read_only { 0 } else { 1 })
        }
        "SERVER" => Some(1),
        _ => None,
    }
}

/// T-SQL LIKE over lowercase chars: `%`, `_`, `[abc]`, `[a-z]`, `[^a]`,
/// and an optional escape character.
fn like(v: &[char], p: &[char], esc: Option<char>) -> bool {
    if p.is_empty() {
        return v.is_empty();
    }
    match p[0] {
        c if Some(c) == esc && p.len() > 1 => {
            !v.is_empty() && v[0] == p[1] && like(&v[1..], &p[2..], esc)
        }
        '%' => (0..=v.len()).any(|i| like(&v[i..], &p[1..], esc)),
        '_' => !v.is_empty() && like(&v[1..], &p[1..], esc),
        '[' => {
            let Some(end) = p.iter().skip(2).position(|c| *c == ']').map(|i| i + 2) else {
                return !v.is_empty() && v[0] == '[' && like(&v[1..], &p[1..], esc);
            };
            if v.is_empty() {
                return false;
            }
            let mut set = &p[1..end];
            let negate = set.first() == Some(&'^');
            if negate {
                set = &set[1..];
            }
            let mut hit = false;
            let mut i = 0;
            while i < set.len() {
                if i + 2 < set.len() && set[i + 1] == '-' {
                    if set[i] <= v[0] && v[0] <= set[i + 2] {
                        hit = true;
                    }
                    i += 3;
                } else {
                    if set[i] == v[0] {
                        hit = true;
                    }
                    i += 1;
                }
            }
            hit != negate && like(&v[1..], &p[end + 1..], esc)
        }
        c => !v.is_empty() && v[0] == c && like(&v[1..], &p[1..], esc),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(v: &str, p: &str) -> bool {
        like(
            &v.chars().collect::<Vec<_>>(),
            &p.chars().collect::<Vec<_>>(),
            None,
        )
    }

    #[test]
    fn tsql_like() {
        assert!(l("abc", "a%"));
        assert!(l("abc", "_b_"));
        assert!(l("abc", "[a-c]bc"));
        assert!(!l("abc", "[^a]bc"));
        assert!(l("a[c", "a[[]c"));
        assert!(!l("abc", "ab"));
        assert!(l("", "%"));
    }

    #[test]
    fn perms_and_object_ids() {
        let mut c = FnCtx {
            db_name: "rgsconfig".into(),
            ..Default::default()
        };
        c.tables.insert("dbo.queues".into(), 42);
        assert_eq!(object_id(&c, "[dbo].[Queues]", None), Some(42));
        assert_eq!(object_id(&c, "rgsconfig.dbo.Queues", Some("U")), Some(42));
        assert_eq!(object_id(&c, "Queues", Some("P")), None);
        assert_eq!(object_id(&c, "master.dbo.Queues", None), None);
        assert_eq!(
            has_perms(&c, Some("[dbo].[Queues]"), "OBJECT", "UPDATE"),
            Some(1)
        );
        assert_eq!(
            has_perms(&c, Some("[dbo].[Nope]"), "OBJECT", "UPDATE"),
            None
        );
        c.denied.insert(("dbo.queues".into(), "UPDATE".into()));
        assert_eq!(
            has_perms(&c, Some("[dbo].[Queues]"), "OBJECT", "UPDATE"),
            Some(0)
        );
        assert_eq!(
            has_perms(&c, Some("[dbo].[Queues]"), "OBJECT", "SELECT"),
            Some(1)
        );
        c.read_only = true;
        assert_eq!(
            has_perms(&c, Some("dbo.Queues"), "OBJECT", "INSERT"),
            Some(0)
        );
    }
}
