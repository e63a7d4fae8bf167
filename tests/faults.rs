//! The fault matrix: for every request `fix` and `undo` send, and for each
//! kind of fault, the database ends exactly as it was or exactly as planned,
//! the journal never claims a commit that did not happen, and the exit code
//! and message say what went wrong.

mod common;
use common::*;
use rgs_sandbox::fault::Fault;
use rgs_sandbox::{Sandbox, SandboxOptions};
use std::path::Path;

fn sandbox_with(scenario: &str, faults: &[&str]) -> Sandbox {
    Sandbox::start(SandboxOptions {
        scenario: Some(scenario.to_string()),
        faults: faults.iter().map(|f| Fault::parse(f).unwrap()).collect(),
        ..SandboxOptions::default()
    })
    .unwrap()
}

/// Fault kinds, each with words the tool's message must contain.
const KINDS: &[(&str, &[&str])] = &[
    ("drop@{n}", &["connection"]),
    ("error@{n}:1205", &["1205"]),
    ("error@{n}:1222", &["1222"]),
    ("error@{n}:229", &["229"]),
    ("error@{n}:9002", &["9002"]),
    ("delay@{n}:1500", &["timeout"]),
];

struct Outcome {
    code: i32,
    stderr: String,
}

/// Runs `fix` or `undo` with a short command timeout and one rerun.
fn run(sb: &Sandbox, command: &str, journal: &Path) -> Outcome {
    let out = tool(sb)
        .args([
            "--command-timeout",
            "1",
            command,
            "--yes",
            "--retries",
            "1",
            "--journal",
        ])
        .arg(journal)
        .output()
        .unwrap();
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn run_fix(sb: &Sandbox, journal: &Path) -> Outcome {
    run(sb, "fix", journal)
}

fn run_undo(sb: &Sandbox, journal: &Path) -> Outcome {
    run(sb, "undo", journal)
}

fn status(journal: &Path) -> Option<String> {
    journal.exists().then(|| journal_status(journal))
}

fn journal_status(journal: &Path) -> String {
    common::journal(journal)["status"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A delayed request still runs once the delay is over, after the tool has
/// given up: wait for it before looking at the data.
fn settle(spec: &str) {
    if spec.starts_with("delay") {
        std::thread::sleep(std::time::Duration::from_millis(900));
    }
}

type Snapshot = Vec<(String, String, String)>;

/// The properties every faulted run must keep.
fn judge(
    spec: &str,
    words: &[&str],
    o: &Outcome,
    now: &Snapshot,
    before: &Snapshot,
    after: &Snapshot,
    status: Option<&str>,
) {
    let ctx = format!("fault {spec}: exit {} stderr: {}", o.code, o.stderr);
    assert!(now == before || now == after, "partial change under {ctx}");
    if now == before {
        assert_ne!(
            status,
            Some("committed"),
            "the journal claims a commit that did not happen: {ctx}"
        );
    }
    if status == Some("committed") {
        assert_eq!(now, after, "{ctx}");
    }
    let stderr = o.stderr.to_lowercase();
    if o.code == 0 {
        // Only a deadlock victim inside the transaction may end well: it is
        // rerun, and says so.
        assert!(spec.contains(":1205") && now == after, "exit 0 under {ctx}");
        assert!(stderr.contains("1205"), "{ctx}");
        return;
    }
    assert!(
        words.iter().all(|w| stderr.contains(&w.to_lowercase())),
        "the message does not name the fault: {ctx}"
    );
    if status == Some("commit_outcome_unknown") {
        // The answer to COMMIT never came: either state is possible, and the
        // tool must say it does not know.
        assert!(stderr.contains("unknown"), "{ctx}");
    } else {
        assert_eq!(now, before, "failed, yet changed: {ctx}");
    }
}

/// The states the database may be in: before, or after the full fix.
fn states() -> (Snapshot, Snapshot, u64) {
    let sb = sandbox("migrated");
    let before = snapshot(&sb);
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("j.json");
    let base = sb.requests();
    assert_eq!(run_fix(&sb, &j).code, 0);
    let requests = sb.requests() - base;
    (before, snapshot(&sb), requests)
}

#[test]
fn fix_is_all_or_nothing_under_every_fault_at_every_request() {
    let (before, after, requests) = states();
    // Inspection (3), the transaction's re-checks, changes and COMMIT (3).
    assert!(requests >= 5, "fix sent only {requests} requests");
    let mut injected = 0;
    for n in 1..=requests {
        for (spec, words) in KINDS {
            let spec = spec.replace("{n}", &n.to_string());
            let sb = sandbox_with("migrated", &[&spec]);
            let dir = tempfile::tempdir().unwrap();
            let j = dir.path().join("j.json");
            let o = run_fix(&sb, &j);
            injected += 1;
            settle(&spec);
            judge(
                &spec,
                words,
                &o,
                &snapshot(&sb),
                &before,
                &after,
                status(&j).as_deref(),
            );
        }
    }
    // judge() fails the test unless each run left the database as it was
    // or fully fixed; reaching here means every one did.
    eprintln!(
        "fix: {injected} faults injected over {requests} requests; each run ended all-or-nothing"
    );
}

#[test]
fn lost_commit_answer_is_reported_as_unknown_and_undo_still_works() {
    let (_, after, requests) = states();
    // COMMIT is the last request fix sends.
    let sb = sandbox_with("migrated", &[&format!("drop-after@{requests}")]);
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("j.json");
    let o = run_fix(&sb, &j);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(
        o.stderr.contains("outcome is unknown") && o.stderr.contains("check"),
        "{}",
        o.stderr
    );
    assert_eq!(journal_status(&j), "commit_outcome_unknown");
    // The server did commit here: undo must put the rows back.
    assert_eq!(snapshot(&sb), after);
    assert_eq!(run_undo(&sb, &j).code, 0);
    assert_eq!(all_nulls(&sb), 30);
}

#[test]
fn undo_is_all_or_nothing_under_every_fault_at_every_request() {
    // Fix once to get a journal and the request count of an undo.
    let sb = sandbox("migrated");
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("j.json");
    assert_eq!(run_fix(&sb, &j).code, 0);
    let fixed = snapshot(&sb);
    let base = sb.requests();
    assert_eq!(run_undo(&sb, &j).code, 0);
    let undone = snapshot(&sb);
    let requests = sb.requests() - base;

    let mut injected = 0;
    for n in 1..=requests {
        for (spec, words) in KINDS {
            let spec = spec.replace("{n}", &n.to_string());
            // A sandbox in the fixed state: load migrated, fix without faults,
            // then arm the fault for the undo's connection.
            let sb = sandbox_with("migrated", &[]);
            let jj = tempfile::tempdir().unwrap();
            let jp = jj.path().join("j.json");
            assert_eq!(run_fix(&sb, &jp).code, 0);
            assert_eq!(snapshot(&sb), fixed);
            sb.arm(Fault::parse(&spec).unwrap());
            let o = run_undo(&sb, &jp);
            injected += 1;
            settle(&spec);
            // The undo's own journal, when it got as far as writing one.
            let has_undo_journal = std::fs::read_dir(jj.path()).unwrap().any(|e| {
                e.unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("j.undo-")
            });
            let undo_status = has_undo_journal
                .then(|| {
                    common::undo_journal(&jp)["status"]
                        .as_str()
                        .map(str::to_string)
                })
                .flatten();
            judge(
                &spec,
                words,
                &o,
                &snapshot(&sb),
                &fixed,
                &undone,
                undo_status.as_deref(),
            );
        }
    }
    eprintln!(
        "undo: {injected} faults injected over {requests} requests; each run ended all-or-nothing"
    );
}
