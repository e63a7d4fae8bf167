//! Shared by the end-to-end tests: a sandbox per test, and the built binary
//! pointed at it.
#![allow(dead_code)]

use assert_cmd::Command;
use rgs_sandbox::{Sandbox, SandboxOptions};
use std::path::Path;

/// A sandbox loaded with `scenario`.
pub fn sandbox(scenario: &str) -> Sandbox {
    Sandbox::start(SandboxOptions {
        scenario: Some(scenario.to_string()),
        ..SandboxOptions::default()
    })
    .expect("sandbox starts")
}

/// The binary with the connection flags for `sb`, and no terminal.
pub fn tool(sb: &Sandbox) -> Command {
    let mut c = Command::cargo_bin("rgs-repair").unwrap();
    c.env_clear()
        .env("RGS_PASSWORD", sb.password())
        .env("NO_COLOR", "1")
        .args([
            "-S",
            &format!("127.0.0.1,{}", sb.addr().port()),
            "-U",
            "sa",
            "-C",
        ]);
    c
}

/// Runs a query on the sandbox's database and returns the first column of
/// the first row as an integer.
pub fn scalar(sb: &Sandbox, sql: &str) -> i64 {
    let rs = sb.query(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    match rs.rows.first().and_then(|r| r.first()) {
        Some(rgs_sandbox::types::Value::Int(n)) => *n,
        other => panic!("{sql}: expected an integer, got {other:?}"),
    }
}

/// Rows with a NULL owner in one table.
pub fn nulls(sb: &Sandbox, table: &str) -> i64 {
    scalar(
        sb,
        &format!("SELECT COUNT(*) FROM [dbo].[{table}] WHERE [OwnerPoolId] IS NULL"),
    )
}

/// Rows with a NULL owner in every object table of the fixtures.
pub fn all_nulls(sb: &Sandbox) -> i64 {
    [
        "Agents",
        "AgentGroups",
        "Queues",
        "Workflows",
        "HolidaySets",
        "HoursOfBusiness",
    ]
    .iter()
    .map(|t| nulls(sb, t))
    .sum()
}

/// Every (table, ID, owner) of the object tables, for before/after comparisons.
pub fn snapshot(sb: &Sandbox) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for t in [
        "Agents",
        "AgentGroups",
        "Queues",
        "Workflows",
        "HolidaySets",
        "HoursOfBusiness",
    ] {
        let rs = sb
            .query(&format!(
                "SELECT [ID], [OwnerPoolId] FROM [dbo].[{t}] ORDER BY [ID]"
            ))
            .unwrap();
        for r in rs.rows {
            out.push((t.to_string(), format!("{:?}", r[0]), format!("{:?}", r[1])));
        }
    }
    out.sort();
    out
}

/// The JSON a command printed.
pub fn json(out: &[u8]) -> serde_json::Value {
    serde_json::from_slice(out)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(out)))
}

/// Reads a journal file (JSON Lines: the record, then one line per
/// attempt) as one JSON document: the record with `attempts` and `status`
/// (the last attempt's outcome, or `pending`) added.
pub fn journal(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap();
    // A saved plan is one (pretty) JSON document.
    if let Ok(doc) = serde_json::from_str::<serde_json::Value>(&text) {
        if doc.get("format").and_then(|f| f.as_str()) != Some("rgs-repair-journal") {
            return doc;
        }
    }
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let mut doc = json(lines.next().unwrap_or_default().as_bytes());
    let (rows, attempts): (Vec<serde_json::Value>, Vec<serde_json::Value>) = lines
        .map(|l| json(l.as_bytes()))
        .partition(|l| l.get("rows").is_some());
    // A fix's rows are in lines of their own, per attempt: the last
    // attempt's are the rows its UPDATE changed.
    let last = rows.iter().filter_map(|r| r["attempt"].as_u64()).max();
    for r in rows.iter().filter(|r| r["attempt"].as_u64() == last) {
        let t = r["table"].as_u64().unwrap() as usize;
        let list = doc["tables"][t]["rows"].as_array_mut().unwrap();
        list.extend(r["rows"].as_array().unwrap().iter().cloned());
    }
    let status = attempts
        .last()
        .map_or(serde_json::json!("pending"), |a| a["outcome"].clone());
    doc["status"] = status;
    doc["error"] = attempts
        .last()
        .and_then(|a| a.get("reason").cloned())
        .unwrap_or(serde_json::Value::Null);
    doc["attempts"] = serde_json::Value::Array(attempts);
    doc
}

/// Standard output as text, with the sandbox's port and times replaced so
/// snapshots are stable.
pub fn stable(out: &[u8], sb: &Sandbox) -> String {
    let port = sb.addr().port().to_string();
    let mut s = String::from_utf8_lossy(out).replace(&port, "PORT");
    // Journal paths and timestamps.
    let re_time = regex_lite::Regex::new(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC").unwrap();
    s = re_time.replace_all(&s, "TIME").into_owned();
    let re_journal = regex_lite::Regex::new(r"\S*rgs-repair-journal\S*\.json").unwrap();
    s = re_journal.replace_all(&s, "JOURNAL").into_owned();
    // The database's creation time (its identity) and the plan's digest.
    let re_created =
        regex_lite::Regex::new(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?").unwrap();
    s = re_created.replace_all(&s, "CREATED").into_owned();
    let re_digest = regex_lite::Regex::new(r"sha256:[0-9a-f]{64}").unwrap();
    re_digest.replace_all(&s, "sha256:DIGEST").into_owned()
}

/// Runs `check --format json`, expects exit `code`, and returns the document.
pub fn check_json(sb: &Sandbox, code: i32) -> serde_json::Value {
    let out = tool(sb)
        .args(["check", "--format", "json"])
        .assert()
        .code(code)
        .get_output()
        .stdout
        .clone();
    valid("check", json(&out))
}

/// The journal an undo wrote beside the fix's journal `fix` (the newest
/// `<name>.undo-*.json`).
pub fn undo_journal(fix: &Path) -> serde_json::Value {
    let stem = fix.file_stem().unwrap().to_string_lossy().into_owned();
    let dir = fix.parent().unwrap();
    let mut found: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("{stem}.undo-"))
        })
        .collect();
    found.sort();
    journal(
        found
            .last()
            .unwrap_or_else(|| panic!("no undo journal beside {}", fix.display())),
    )
}

/// Runs a command line as printed by the tool (`rgs-repair ...`) through
/// `sh`, with the built binary for `rgs-repair`, the sandbox's password in
/// the environment, and `extra` appended.
pub fn run_printed(sb: &Sandbox, printed: &str, extra: &str) -> std::process::Output {
    let bin = assert_cmd::cargo::cargo_bin("rgs-repair");
    let rest = printed
        .trim()
        .strip_prefix("rgs-repair ")
        .unwrap_or_else(|| panic!("not a suggested command: {printed}"));
    let line = format!("'{}' {rest} {extra}", bin.display());
    std::process::Command::new("sh")
        .arg("-c")
        .arg(&line)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RGS_PASSWORD", sb.password())
        .output()
        .unwrap()
}

/// The text after `marker` on the line where it appears in `out`, up to
/// `end` when given.
pub fn line_after(out: &str, marker: &str, end: Option<&str>) -> String {
    let line = out
        .lines()
        .find(|l| l.contains(marker))
        .unwrap_or_else(|| panic!("no line with {marker:?} in:\n{out}"));
    let rest = &line[line.find(marker).unwrap() + marker.len()..];
    match end.and_then(|e| rest.find(e)) {
        Some(i) => rest[..i].trim().to_string(),
        None => rest.trim().to_string(),
    }
}

/// Checks `doc` against the published schema `schemas/<kind>.schema.json`
/// and returns it.
pub fn valid(kind: &str, doc: serde_json::Value) -> serde_json::Value {
    let path = format!("{}/schemas/{kind}.schema.json", env!("CARGO_MANIFEST_DIR"));
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
    assert!(
        errors.is_empty(),
        "not a valid {kind} document: {errors:?}\n{doc:#}"
    );
    doc
}

/// `fix --yes --journal PATH`, which must commit.
pub fn fix_yes(sb: &Sandbox, journal: &Path) {
    tool(sb)
        .args(["fix", "--yes", "--journal"])
        .arg(journal)
        .assert()
        .code(0);
}

/// The binary logging in to `server` (as `-S` takes it) with the password
/// of `sb`, and no terminal: for servers reached through a SQL Server
/// Browser or a listener rather than at `sb`'s own port.
pub fn tool_at(sb: &Sandbox, server: &str) -> Command {
    let mut c = Command::cargo_bin("rgs-repair").unwrap();
    c.env_clear()
        .env("RGS_PASSWORD", sb.password())
        .env("NO_COLOR", "1")
        .args(["-S", server, "-U", "sa", "-C"]);
    c
}
