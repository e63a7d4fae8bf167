//! The product's change script, end to end: a script shaped as
//! `fix --dry-run --emit-sql` writes it (one batch, table variables of
//! planned keys, guarded UPDATEs, RAISERROR + RETURN on any difference) run
//! by FreeTDS's `bsqldb` as a DBA would run it with `sqlcmd -b -i`.
//! Skipped, saying so, when bsqldb is not installed.

use rgs_sandbox::types::{ResultSet, Value};
use rgs_sandbox::{Sandbox, SandboxOptions};
use std::fmt::Write;
use std::path::PathBuf;
use std::process::Command;

const POOL: &str = "292CE760-0931-5108-91AE-08CD2BFAD04C";
/// The tables of the `migrated` scenario that have rows without an owner.
const TABLES: &[&str] = &["AgentGroups", "Queues", "HolidaySets", "HoursOfBusiness"];
/// Every table of the schema, compared before and after a refused run.
const ALL_TABLES: &[&str] = &[
    "OwnerPool",
    "Agents",
    "AgentGroups",
    "AgentGroupAgents",
    "Queues",
    "Workflows",
    "HolidaySets",
    "HoursOfBusiness",
    "DbConfigInt",
];

fn bsqldb() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    let found = std::env::split_paths(&path)
        .map(|d| d.join("bsqldb"))
        .find(|p| p.is_file());
    if found.is_none() {
        // eprintln! is captured for a passing test: this line is not, so
        // the skip shows in a plain `cargo test` run.
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            b"skipped: bsqldb not installed (apt-get install -y freetds-bin)\n",
        );
        // `.ci/run` installs FreeTDS: there a missing bsqldb is a failure.
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have bsqldb (freetds-bin)"
        );
    }
    found
}

fn start() -> Sandbox {
    Sandbox::start(SandboxOptions {
        scenario: Some("migrated".into()),
        ..Default::default()
    })
    .expect("sandbox starts")
}

fn text(v: &Value) -> String {
    match v {
        Value::Text(s) => s.clone(),
        Value::Guid(g) => g.hyphenated().to_string().to_uppercase(),
        other => panic!("unexpected {other:?}"),
    }
}

fn count(sb: &Sandbox, sql: &str) -> i64 {
    match &sb.query(sql).unwrap().rows[0][0] {
        Value::Int(n) => *n,
        other => panic!("{other:?}"),
    }
}

fn nstring(s: &str) -> String {
    format!("N'{}'", s.replace('\'', "''"))
}

/// The planned keys: each table's rows without an owner, now.
fn planned(sb: &Sandbox) -> Vec<Vec<String>> {
    TABLES
        .iter()
        .map(|t| {
            let rs = sb
                .query(&format!(
                    "SELECT ID FROM dbo.{t} WHERE OwnerPoolId IS NULL ORDER BY ID"
                ))
                .unwrap();
            rs.rows.iter().map(|r| text(&r[0])).collect()
        })
        .collect()
}

fn header(sb: &Sandbox) -> String {
    let created = text(
        &sb.query("SELECT CONVERT(nvarchar(30), create_date, 126) FROM sys.databases WHERE database_id = DB_ID()")
            .unwrap()
            .rows[0][0],
    );
    let mut out = String::new();
    let _ = writeln!(
        out,
        "-- rgs-repair 0.1.0: change script for plan sha256:test"
    );
    let _ = writeln!(
        out,
        "-- Database rgsconfig on RGS-SANDBOX (created {created})."
    );
    let _ = writeln!(
        out,
        "SET NOCOUNT ON;\nSET XACT_ABORT ON;\nSET LOCK_TIMEOUT 10000;"
    );
    let _ = writeln!(
        out,
        "IF @@SERVERNAME <> N'RGS-SANDBOX' OR DB_NAME() <> N'rgsconfig'"
    );
    let _ = writeln!(out, "    OR (SELECT CONVERT(nvarchar(30), create_date, 126) FROM sys.databases WHERE database_id = DB_ID()) <> {}", nstring(&created));
    let _ = writeln!(out, "BEGIN\n    RAISERROR(N'rgs-repair: this script is for database rgsconfig (created {created}) on RGS-SANDBOX; it ran elsewhere and changed nothing.', 16, 1);\n    RETURN;\nEND;");
    let _ = writeln!(
        out,
        "DECLARE @pool uniqueidentifier;\nSET @pool = '{POOL}';\nDECLARE @rows bigint;"
    );
    out
}

/// One table's guarded step, as the product writes it.
fn step(out: &mut String, n: usize, table: &str, planned: usize) {
    let t = format!("[dbo].[{table}]");
    let fail = |out: &mut String, msg: &str, arg: &str| {
        let _ = writeln!(out, "BEGIN\n    ROLLBACK TRANSACTION;\n    RAISERROR(N'{msg}', 16, 1{arg});\n    RETURN;\nEND;");
    };
    let _ = writeln!(out, "-- dbo.{table}: {planned} planned row(s)");
    let _ = writeln!(out, "SELECT @rows = COUNT_BIG(*) FROM {t} WITH (UPDLOCK, HOLDLOCK) WHERE [OwnerPoolId] IS NULL;");
    let _ = writeln!(out, "IF @rows <> {planned} OR EXISTS (SELECT 1 FROM @planned_{n} AS p WHERE NOT EXISTS (SELECT 1 FROM {t} AS t WHERE t.[ID] = p.[ID] AND t.[OwnerPoolId] IS NULL))");
    fail(out, &format!("rgs-repair: in dbo.{table} the rows without an owner are not the {planned} planned ones (%I64d now lack an owner); nothing was changed. Make a new plan."), ", @rows");
    let _ = writeln!(out, "UPDATE {t} SET [OwnerPoolId] = @pool WHERE [OwnerPoolId] IS NULL;\nSET @rows = @@ROWCOUNT;\nIF @rows <> {planned}");
    fail(out, &format!("rgs-repair: the UPDATE of dbo.{table} changed %I64d row(s) where the plan has {planned}; nothing was changed."), ", @rows");
    let _ = writeln!(
        out,
        "IF EXISTS (SELECT 1 FROM {t} WHERE [OwnerPoolId] IS NULL)"
    );
    fail(out, &format!("rgs-repair: rows of dbo.{table} still lack an owner after the UPDATE; nothing was changed."), "");
}

/// The change script for the sandbox's current rows without an owner.
fn script(sb: &Sandbox) -> (String, usize) {
    let keys = planned(sb);
    let mut out = header(sb);
    for (i, ids) in keys.iter().enumerate() {
        let n = i + 1;
        let _ = writeln!(
            out,
            "DECLARE @planned_{n} TABLE ([ID] uniqueidentifier NOT NULL, PRIMARY KEY ([ID]));"
        );
        let rows: Vec<String> = ids.iter().map(|id| format!("    ('{id}')")).collect();
        let _ = writeln!(
            out,
            "INSERT INTO @planned_{n} ([ID]) VALUES\n{};",
            rows.join(",\n")
        );
    }
    let _ = writeln!(out, "BEGIN TRANSACTION;");
    for (i, (table, ids)) in TABLES.iter().zip(&keys).enumerate() {
        step(&mut out, i + 1, table, ids.len());
    }
    let total: usize = keys.iter().map(Vec::len).sum();
    let _ = writeln!(out, "COMMIT TRANSACTION;");
    let _ = writeln!(out, "PRINT N'rgs-repair: committed; {total} object(s) now have the owner pool {POOL} (lyncpool01.contoso.local).';");
    (out, total)
}

struct Run {
    success: bool,
    output: String,
}

fn run_bsqldb(bin: &PathBuf, sb: &Sandbox, script: &str) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("change.sql");
    std::fs::write(&file, script).unwrap();
    let conf = dir.path().join("freetds.conf");
    std::fs::write(
        &conf,
        "[global]\n\ttds version = 7.4\n\tencryption = request\n",
    )
    .unwrap();
    let out = Command::new(bin)
        .args(["-S", &format!("127.0.0.1:{}", sb.addr().port())])
        .args(["-U", "sa", "-P", sb.password(), "-D", sb.database()])
        .arg("-i")
        .arg(&file)
        .env("TDSVER", "7.4")
        .env("FREETDSCONF", &conf)
        .output()
        .expect("bsqldb runs");
    Run {
        success: out.status.success(),
        output: format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

fn snapshot(sb: &Sandbox) -> Vec<ResultSet> {
    ALL_TABLES
        .iter()
        .map(|t| {
            sb.query(&format!("SELECT * FROM dbo.{t} ORDER BY 1"))
                .unwrap()
        })
        .collect()
}

#[test]
fn change_script_runs_through_bsqldb() {
    let Some(bin) = bsqldb() else {
        return;
    };
    let sb = start();
    let (text, total) = script(&sb);
    assert_eq!(total, 30);
    let run = run_bsqldb(&bin, &sb, &text);
    assert!(run.success, "bsqldb failed:\n{}\n{text}", run.output);
    assert!(!run.output.contains("Msg "), "{}", run.output);
    for t in TABLES {
        assert_eq!(
            count(
                &sb,
                &format!("SELECT COUNT(*) FROM dbo.{t} WHERE OwnerPoolId IS NULL")
            ),
            0
        );
    }
    assert_eq!(
        count(
            &sb,
            &format!("SELECT COUNT(*) FROM dbo.AgentGroups WHERE OwnerPoolId = '{POOL}'")
        ),
        12
    );
}

#[test]
fn change_script_refuses_a_changed_database_through_bsqldb() {
    let Some(bin) = bsqldb() else {
        return;
    };
    let sb = start();
    let (text, _) = script(&sb);
    // One planned row of the last table gets an owner after the plan: the
    // earlier tables' UPDATEs have run when the script finds out.
    let changed = planned(&sb)[3][0].clone();
    sb.query(&format!(
        "UPDATE dbo.HoursOfBusiness SET OwnerPoolId = '{POOL}' WHERE ID = '{changed}'"
    ))
    .unwrap();
    let before = snapshot(&sb);
    let run = run_bsqldb(&bin, &sb, &text);
    assert!(!run.success, "bsqldb must fail:\n{}", run.output);
    assert!(run.output.contains("Msg 50000"), "{}", run.output);
    assert!(
        run.output.contains("rgs-repair: in dbo.HoursOfBusiness the rows without an owner are not the 7 planned ones (6 now lack an owner); nothing was changed. Make a new plan."),
        "{}",
        run.output
    );
    assert!(!run.output.contains("committed"), "{}", run.output);
    assert_eq!(snapshot(&sb), before, "nothing changed");
    // Another database (here: the script of another sandbox) is refused
    // before anything is read.
    let other = start();
    let run = run_bsqldb(&bin, &other, &text);
    assert!(!run.success);
    assert!(
        run.output.contains("it ran elsewhere and changed nothing"),
        "{}",
        run.output
    );
    assert_eq!(
        count(
            &other,
            "SELECT COUNT(*) FROM dbo.AgentGroups WHERE OwnerPoolId IS NULL"
        ),
        9
    );
}
