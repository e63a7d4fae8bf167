//! Helpers shared by the engine tests (`engine_*.rs`): an engine loaded
//! with the product's schema and fixtures, batches that must succeed or
//! fail, and the product's SQL templates.

// Each test binary compiles this module and uses only part of it.
#![allow(dead_code, unused_imports)]

pub use rgs_sandbox::engine::{Engine, Session, CANCELLED};
pub use rgs_sandbox::types::{Item, Param, ResultSet, SqlError, SqlType, TxChange, Value};
pub use std::path::PathBuf;
pub use std::time::{Duration, Instant};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// An engine with rgsconfig holding schema.sql and, if given, a scenario.
pub fn engine_with(scenario: Option<&str>) -> Engine {
    let e = Engine::new().unwrap();
    assert!(e.attach_database("rgsconfig", None).unwrap());
    e.run_script("rgsconfig", &read("sql/fixtures/schema.sql"))
        .unwrap();
    if let Some(s) = scenario {
        e.run_script("rgsconfig", &read(&format!("sql/fixtures/{s}.sql")))
            .unwrap();
    }
    e
}

pub fn session(e: &Engine) -> Session {
    e.open_session("rgsconfig").unwrap()
}

pub fn errors(items: &[Item]) -> Vec<&SqlError> {
    items
        .iter()
        .filter_map(|i| {
            if let Item::Error(e) = i {
                Some(e)
            } else {
                None
            }
        })
        .collect()
}

pub fn rows(items: &[Item]) -> Vec<&ResultSet> {
    items
        .iter()
        .filter_map(|i| if let Item::Rows(r) = i { Some(r) } else { None })
        .collect()
}

/// Runs a batch that must succeed and returns its items.
pub fn ok(s: &mut Session, sql: &str, params: &[Param]) -> Vec<Item> {
    let items = s.execute(sql, params);
    assert!(errors(&items).is_empty(), "{sql}\n=> {items:?}");
    items
}

/// The single result set of a batch.
pub fn one(s: &mut Session, sql: &str, params: &[Param]) -> ResultSet {
    let items = ok(s, sql, params);
    let r = rows(&items);
    assert_eq!(r.len(), 1, "{items:?}");
    r[0].clone()
}

/// The error of a batch that must fail.
pub fn fails(s: &mut Session, sql: &str) -> SqlError {
    let items = s.execute(sql, &[]);
    errors(&items)
        .first()
        .map(|e| (*e).clone())
        .unwrap_or_else(|| panic!("{sql} did not fail: {items:?}"))
}

pub fn scalar(e: &Engine, sql: &str) -> Value {
    let rs = e.query("rgsconfig", sql).unwrap();
    assert_eq!(rs.rows.len(), 1, "{sql}: {rs:?}");
    rs.rows[0][0].clone()
}

pub fn guid(s: &str) -> uuid::Uuid {
    uuid::Uuid::parse_str(s).unwrap()
}

pub fn param(name: &str, ty: SqlType, value: Value) -> Param {
    Param {
        name: name.into(),
        ty,
        value,
    }
}

/// A template of sql/ with `{name}` placeholders replaced.
/// `finding_rows.sql`'s `{which}` is filled as for both kinds at once (a
/// NULL or a dangling owner) and `{top}` left empty, unless given; a
/// `{display}` not given is a typed NULL.
pub fn template(file: &str, subs: &[(&str, &str)]) -> String {
    let mut s = read(&format!("sql/{file}"));
    let given = |k: &str| subs.iter().any(|(n, _)| *n == k);
    let mut defaults: Vec<(&str, &str)> = Vec::new();
    if !given("which") {
        defaults.push((
            "which",
            "t.{owner} IS NULL OR NOT EXISTS (SELECT 1 FROM {pool_table} AS p WHERE p.{pool_id} = t.{owner})",
        ));
    }
    if !given("top") {
        defaults.push(("top", ""));
    }
    if !given("key_checksum") {
        defaults.push(("key_checksum", "CAST(NULL AS int)"));
    }
    if !given("display") {
        defaults.push(("display", "CAST(NULL AS nvarchar(256))"));
    }
    for (k, v) in defaults.iter().chain(subs) {
        s = s.replace(&format!("{{{k}}}"), v);
    }
    let code: String = s
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect();
    assert!(
        !code.contains('{'),
        "unsubstituted placeholder in {file}: {s}"
    );
    s
}

pub const POOL1: &str = "292CE760-0931-5108-91AE-08CD2BFAD04C";
pub const POOL2: &str = "406DF8CA-10FF-5287-A934-EB972948497B";
