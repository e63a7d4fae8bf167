//! The repair's cost against the sandbox, next to what a DBA would run by
//! hand (issue 10): `cargo bench --bench repair` (release build) prints a
//! Markdown table for BENCHMARKS.md.
//!
//! For each size (rows without an owner added to the `migrated` scenario's
//! 30) and each network latency (the sandbox delays every answer, as a link
//! to a remote back end would), it runs, interleaved, for `--rounds`
//! rounds, each on a fresh sandbox with the same data:
//!
//! - the tool: `check`, `check --format json`, `fix --dry-run`, `fix --yes`,
//!   `undo --yes`: wall time, requests after login (the sandbox counts
//!   them) and the process's peak RSS;
//! - the DBA's script through FreeTDS `bsqldb`: one set-based UPDATE per
//!   table in one batch; a plain `COUNT(*)` per table; and, at 1,000 rows
//!   only, a row-by-row repair (one UPDATE per row).
//!
//! Options (after `--`): `--sizes 1000,100000,1000000` `--latency 0,20`
//! `--rounds 2` `--tables N` (extra object tables, for the 30-table case).
//! The numbers depend on the machine; BENCHMARKS.md says which one.

use rgs_sandbox::{Sandbox, SandboxOptions};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const POOL: &str = "292CE760-0931-5108-91AE-08CD2BFAD04C";
const TOOL: &str = env!("CARGO_BIN_EXE_rgs-repair");

struct Options {
    sizes: Vec<u64>,
    latencies: Vec<u64>,
    rounds: usize,
    tables: u64,
}

fn options() -> Options {
    let mut o = Options {
        sizes: vec![1_000, 100_000, 1_000_000],
        latencies: vec![0, 20],
        rounds: 2,
        tables: 0,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let list = |v: &str| -> Vec<u64> { v.split(',').map(|n| n.trim().parse().unwrap()).collect() };
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--sizes" => o.sizes = list(&value),
            "--latency" => o.latencies = list(&value),
            "--rounds" => o.rounds = value.parse().unwrap(),
            "--tables" => o.tables = value.parse().unwrap(),
            // `cargo bench` passes --bench.
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    o
}

/// One measured run.
#[derive(Clone, Copy, Default)]
struct Run {
    time: Duration,
    requests: u64,
    rss_kib: i64,
}

fn start(size: u64, latency: u64, tables: u64) -> Sandbox {
    Sandbox::start(SandboxOptions {
        scenario: Some("migrated".into()),
        extra_objects: size,
        extra_tables: tables,
        latency: (latency > 0).then(|| Duration::from_millis(latency)),
        ..SandboxOptions::default()
    })
    .expect("sandbox starts")
}

/// Runs `cmd`, waits with wait4 for its peak RSS, and counts the sandbox's
/// requests meanwhile.
// The child is reaped by wait4 (which also gives its peak RSS), not by
// Child::wait.
#[allow(clippy::zombie_processes)]
fn measure(sb: &Sandbox, mut cmd: Command, expect: &[i32]) -> Run {
    let before = sb.requests();
    let started = Instant::now();
    let child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    let pid = child.id() as libc::pid_t;
    // The peak RSS from /proc while it runs: wait4's ru_maxrss also counts
    // what the child inherited from this (large) process before exec.
    let watch = std::thread::spawn(move || {
        let mut peak_kib = 0i64;
        let path = format!("/proc/{pid}/status");
        while let Ok(status) = std::fs::read_to_string(&path) {
            if status.contains("State:\tZ") {
                break;
            }
            if let Some(kib) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
            {
                peak_kib = peak_kib.max(kib);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        peak_kib
    });
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let time = started.elapsed();
    assert_eq!(rc, pid, "wait4");
    let _ = usage;
    let rss_kib = watch.join().unwrap_or(0);
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    if !expect.contains(&code) {
        let mut err = String::new();
        if let Some(mut e) = child.stderr {
            let _ = std::io::Read::read_to_string(&mut e, &mut err);
        }
        panic!("{cmd:?} exited {code}: {err}");
    }
    Run {
        time,
        requests: sb.requests() - before,
        rss_kib,
    }
}

fn tool(sb: &Sandbox, dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(TOOL);
    c.current_dir(dir)
        .env_clear()
        .env("RGS_PASSWORD", sb.password())
        .args([
            "-S",
            &format!("127.0.0.1,{}", sb.addr().port()),
            "-U",
            "sa",
            "-C",
        ])
        .args(args);
    c
}

fn bsqldb(sb: &Sandbox, dir: &Path, script: &str) -> Command {
    let file = dir.join(format!("script-{}.sql", script.len()));
    std::fs::write(&file, script).unwrap();
    let conf = dir.join("freetds.conf");
    std::fs::write(
        &conf,
        "[global]\n\ttds version = 7.4\n\tencryption = request\n",
    )
    .unwrap();
    let mut c = Command::new("bsqldb");
    c.args(["-S", &format!("127.0.0.1:{}", sb.addr().port())])
        .args(["-U", "sa", "-P", sb.password(), "-D", sb.database(), "-i"])
        .arg(&file)
        .env("FREETDSCONF", &conf);
    c
}

/// Every object table of the sandbox: the schema's and the extra ones.
fn object_tables(sb: &Sandbox) -> Vec<String> {
    let rs = sb
        .query("SELECT t.name FROM sys.tables AS t JOIN sys.columns AS c ON c.object_id = t.object_id WHERE c.name = N'OwnerPoolId' ORDER BY t.name")
        .unwrap();
    rs.rows
        .iter()
        .map(|r| match &r[0] {
            rgs_sandbox::types::Value::Text(s) => s.clone(),
            other => panic!("{other:?}"),
        })
        .collect()
}

fn dba_script(tables: &[String]) -> String {
    let mut s = String::from("SET XACT_ABORT ON;\nBEGIN TRANSACTION;\n");
    for t in tables {
        let _ = writeln!(
            s,
            "UPDATE [dbo].[{t}] SET [OwnerPoolId] = '{POOL}' WHERE [OwnerPoolId] IS NULL;"
        );
    }
    s.push_str("COMMIT TRANSACTION;\n");
    s
}

fn count_script(tables: &[String]) -> String {
    tables
        .iter()
        .map(|t| format!("SELECT COUNT(*) FROM [dbo].[{t}] WHERE [OwnerPoolId] IS NULL;\n"))
        .collect()
}

fn row_by_row_script(sb: &Sandbox, tables: &[String]) -> String {
    let mut s = String::from("SET XACT_ABORT ON;\nBEGIN TRANSACTION;\n");
    for t in tables {
        let rs = sb
            .query(&format!(
                "SELECT [ID] FROM [dbo].[{t}] WHERE [OwnerPoolId] IS NULL"
            ))
            .unwrap();
        for r in rs.rows {
            let id = match &r[0] {
                rgs_sandbox::types::Value::Guid(g) => g.hyphenated().to_string(),
                other => format!("{other:?}"),
            };
            let _ = writeln!(
                s,
                "UPDATE [dbo].[{t}] SET [OwnerPoolId] = '{POOL}' WHERE [ID] = '{id}';"
            );
        }
    }
    s.push_str("COMMIT TRANSACTION;\n");
    s
}

/// One line of the table: what ran, its runs, and what its time is
/// compared with.
type Line<'a> = (&'a str, &'a [Run], Option<(&'a str, Run)>);

#[derive(Default)]
struct Row {
    check: Vec<Run>,
    check_json: Vec<Run>,
    dry: Vec<Run>,
    fix: Vec<Run>,
    fix_snapshot: Vec<Run>,
    undo: Vec<Run>,
    script: Vec<Run>,
    count: Vec<Run>,
    row_by_row: Vec<Run>,
}

fn best(runs: &[Run]) -> Option<Run> {
    runs.iter().copied().min_by_key(|r| r.time)
}

fn main() {
    if Command::new("bsqldb").arg("-h").output().is_err() {
        eprintln!("bsqldb is needed (apt-get install freetds-bin)");
        std::process::exit(1);
    }
    let o = options();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| rows | latency | command | time (best of {}) | requests | peak RSS | ratio |",
        o.rounds
    );
    let _ = writeln!(out, "|---:|---:|---|---:|---:|---:|---|");
    for &size in &o.sizes {
        for &latency in &o.latencies {
            let mut row = Row::default();
            for round in 0..o.rounds {
                eprintln!("rows {size}, latency {latency} ms, round {}", round + 1);
                let dir = tempfile::tempdir().unwrap();
                let d = dir.path();
                // The tool's whole story on one sandbox.
                let sb = start(size, latency, o.tables);
                let j: PathBuf = d.join("j.json");
                let js = j.to_str().unwrap();
                row.check.push(measure(&sb, tool(&sb, d, &["check"]), &[3]));
                row.check_json.push(measure(
                    &sb,
                    tool(&sb, d, &["check", "--format", "json"]),
                    &[3],
                ));
                row.dry
                    .push(measure(&sb, tool(&sb, d, &["fix", "--dry-run"]), &[0]));
                row.fix.push(measure(
                    &sb,
                    tool(&sb, d, &["fix", "--yes", "--no-snapshot", "--journal", js]),
                    &[0],
                ));
                row.undo.push(measure(
                    &sb,
                    tool(&sb, d, &["undo", "--yes", "--journal", js]),
                    &[0],
                ));
                // The default: a snapshot of the changed tables first.
                let k = d.join("k.json");
                let fix = ["fix", "--yes", "--journal", k.to_str().unwrap()];
                row.fix_snapshot
                    .push(measure(&sb, tool(&sb, d, &fix), &[0]));
                drop(sb);
                // The same data, by hand.
                let sb = start(size, latency, o.tables);
                let tables = object_tables(&sb);
                row.count
                    .push(measure(&sb, bsqldb(&sb, d, &count_script(&tables)), &[0]));
                if size <= 1_000 {
                    let script = row_by_row_script(&sb, &tables);
                    let sb2 = start(size, latency, o.tables);
                    row.row_by_row
                        .push(measure(&sb2, bsqldb(&sb2, d, &script), &[0]));
                }
                row.script
                    .push(measure(&sb, bsqldb(&sb, d, &dba_script(&tables)), &[0]));
            }
            let script = best(&row.script).unwrap();
            let fix = best(&row.fix).unwrap();
            let lines: [Line; 9] = [
                ("check", &row.check, None),
                ("check --format json", &row.check_json, None),
                ("fix --dry-run", &row.dry, None),
                (
                    "fix --yes --no-snapshot",
                    &row.fix,
                    Some(("the script", script)),
                ),
                (
                    "fix --yes (with its snapshot)",
                    &row.fix_snapshot,
                    Some(("the script", script)),
                ),
                ("undo --yes", &row.undo, Some(("the fix", fix))),
                ("DBA's script (bsqldb)", &row.script, None),
                ("COUNT(*) per table (bsqldb)", &row.count, None),
                (
                    "row by row (bsqldb)",
                    &row.row_by_row,
                    Some(("the script", script)),
                ),
            ];
            for (what, runs, against) in lines {
                let Some(r) = best(runs) else { continue };
                let ratio = against.map_or(String::new(), |(name, a)| {
                    format!("{:.1}x {name}", r.time.as_secs_f64() / a.time.as_secs_f64())
                });
                let _ = writeln!(
                    out,
                    "| {size} | {latency} ms | {what} | {:.3} s | {} | {:.0} MiB | {ratio} |",
                    r.time.as_secs_f64(),
                    r.requests,
                    r.rss_kib as f64 / 1024.0
                );
            }
        }
    }
    println!("{out}");
}
