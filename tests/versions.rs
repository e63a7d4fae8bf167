//! The core story against SQL Server 2008 R2 (10.50) and 2022 (16.0): the
//! sandbox answering as 2008 R2 refuses 2012+ T-SQL with 2008 R2's errors,
//! so a story that ends well proves nothing the tool sends needs a later
//! version; and the change script runs through FreeTDS at TDS 7.3.

mod common;
use common::*;
use rgs_sandbox::{Sandbox, SandboxOptions};

/// What a refused statement leaves in the tool's messages.
const REFUSALS: &[&str] = &[
    "Incorrect syntax",
    "is not a recognized built-in function name",
    "Invalid column name",
    "Invalid object name",
];

fn sandbox_as(version: Option<&str>) -> Sandbox {
    Sandbox::start(SandboxOptions {
        scenario: Some("migrated".into()),
        product_version: version.map(str::to_string),
        ..SandboxOptions::default()
    })
    .expect("sandbox starts")
}

/// Runs the tool with `args`, expects exit `code`, and that nothing it
/// sent was refused.
fn step(sb: &Sandbox, args: &[&str], code: i32) -> String {
    let out = tool(sb).args(args).output().unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(code), "{args:?}:\n{all}");
    for r in REFUSALS {
        assert!(!all.contains(r), "{args:?}: {r}:\n{all}");
    }
    all
}

fn story(version: Option<&str>) {
    let sb = sandbox_as(version);
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("j.json");
    let script = dir.path().join("change.sql");
    let (j, script) = (j.to_str().unwrap(), script.to_str().unwrap());
    step(&sb, &["check"], 3);
    step(&sb, &["fix", "--dry-run"], 0);
    step(&sb, &["fix", "--dry-run", "--emit-sql", script], 0);
    assert_eq!(all_nulls(&sb), 30, "dry runs change nothing");
    step(&sb, &["fix", "--yes", "--journal", j], 0);
    assert_eq!(all_nulls(&sb), 0);
    step(&sb, &["check"], 0);
    step(&sb, &["undo", "--yes", "--journal", j], 0);
    assert_eq!(all_nulls(&sb), 30);
}

#[test]
fn the_core_story_runs_on_sql_server_2008_r2() {
    story(Some("10.50.6000.34"));
}

#[test]
fn the_core_story_runs_on_sql_server_2022() {
    story(None);
}

/// The emitted change script, run by FreeTDS's bsqldb speaking TDS 7.3
/// against 2008 R2 (skipped, saying so, where bsqldb is not installed).
#[test]
fn the_change_script_runs_through_freetds_on_sql_server_2008_r2() {
    let sb = sandbox_as(Some("10.50.6000.34"));
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("change.sql");
    step(
        &sb,
        &["fix", "--dry-run", "--emit-sql", script.to_str().unwrap()],
        0,
    );
    if std::process::Command::new("bsqldb")
        .arg("-h")
        .output()
        .is_err()
    {
        eprintln!("skipped: bsqldb (freetds-bin) is not installed");
        assert!(std::env::var("CI").is_err(), "CI must have freetds-bin");
        return;
    }
    let conf = dir.path().join("freetds.conf");
    std::fs::write(
        &conf,
        "[global]\n\ttds version = 7.3\n\tencryption = request\n",
    )
    .unwrap();
    let out = std::process::Command::new("bsqldb")
        .args(["-S", &format!("127.0.0.1:{}", sb.addr().port())])
        .args(["-U", "sa", "-P", sb.password(), "-D", "rgsconfig", "-i"])
        .arg(&script)
        .env("TDSVER", "7.3")
        .env("FREETDSCONF", &conf)
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{all}");
    assert!(all.contains("rgs-repair: committed; 30 object(s)"), "{all}");
    assert_eq!(all_nulls(&sb), 0);
    step(&sb, &["check"], 0);
}
