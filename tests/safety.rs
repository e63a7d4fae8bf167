//! Wrong places and races: read-only databases, mirrors and secondaries,
//! missing permissions, another session changing or locking planned rows,
//! and Ctrl-C during a fix. Each ends with a plain message, the documented
//! exit code, and nothing changed.

mod common;
use common::*;
use predicates::prelude::*;
use rgs_sandbox::fault::Fault;
use rgs_sandbox::server::DbState;
use std::time::Duration;

#[test]
fn read_only_database_check_works_and_fix_refuses_before_starting() {
    let sb = sandbox("migrated");
    sb.set_state(DbState::ReadOnly).unwrap();
    tool(&sb)
        .arg("check")
        .assert()
        .code(3)
        .stdout(predicate::str::contains("READ_ONLY"));
    let dir = tempfile::tempdir().unwrap();
    let before = snapshot(&sb);
    tool(&sb)
        .current_dir(dir.path())
        .args(["fix", "--yes"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("READ_ONLY").and(predicate::str::contains("primary replica")),
        );
    assert_eq!(snapshot(&sb), before);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no journal for a refused fix"
    );
    // A dry run still shows the plan, and says fix would refuse.
    tool(&sb)
        .args(["fix", "--dry-run"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("fix would refuse"));
}

#[test]
fn mirror_and_secondary_name_what_to_connect_to() {
    let sb = sandbox("migrated");
    sb.set_state(DbState::Mirror).unwrap();
    tool(&sb)
        .args(["fix", "--yes"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("954").and(predicate::str::contains("principal")));
    sb.set_state(DbState::Secondary).unwrap();
    tool(&sb)
        .arg("check")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("976").and(predicate::str::contains("primary replica")));
}

#[test]
fn missing_update_permission_stops_before_the_transaction() {
    let sb = sandbox("migrated");
    sb.deny("dbo.Queues", "UPDATE").unwrap();
    let before = snapshot(&sb);
    let dir = tempfile::tempdir().unwrap();
    tool(&sb)
        .current_dir(dir.path())
        .args(["fix", "--yes"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("may not UPDATE dbo.Queues"));
    assert_eq!(snapshot(&sb), before);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// Requests a fault-free `fix --dry-run` sends: the inspection.
// The tests below aim faults and locks at the fix's transaction, so they
// give --no-snapshot: the snapshot's own requests would come in between
// (a failure during the snapshot is tested on its own, below).
fn inspection_requests() -> u64 {
    let sb = sandbox("migrated");
    let base = sb.requests();
    tool(&sb).args(["fix", "--dry-run"]).assert().code(0);
    sb.requests() - base
}

#[test]
fn a_planned_row_changed_by_another_session_aborts_with_4() {
    // fix = the inspection (permissions included), then the transaction's
    // first request (session setup, BEGIN, every re-check): hold it back
    // while another session moves a row.
    let setup = inspection_requests() + 1;
    let sb = sandbox("migrated");
    sb.arm(Fault::parse(&format!("delay@{setup}:1500")).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = tool(&sb);
    cmd.current_dir(dir.path())
        .args(["fix", "--yes", "--no-snapshot", "--journal", "j.json"]);
    let run = std::thread::spawn(move || cmd.output().unwrap());
    std::thread::sleep(Duration::from_millis(700));
    sb.query("UPDATE [dbo].[Queues] SET [Name] = N'Renamed meanwhile', [OwnerPoolId] = '292CE760-0931-5108-91AE-08CD2BFAD04C' WHERE [Name] = N'Payroll Queue'").unwrap();
    let moved = snapshot(&sb);
    let out = run.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("changed after the plan was shown") && stderr.contains("dbo.Queues"),
        "{stderr}"
    );
    assert_eq!(snapshot(&sb), moved, "nothing changed by the aborted fix");
    let j = journal(&dir.path().join("j.json"));
    assert_eq!(j["status"], "rolled_back", "the failed attempt is recorded");
    assert!(
        j["attempts"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("changed after the plan was shown"),
        "{j}"
    );
}

#[test]
fn a_lock_held_by_another_session_fails_after_the_lock_timeout() {
    let sb = sandbox("migrated");
    let before = snapshot(&sb);
    let mut other = sb.engine().open_session(sb.database()).unwrap();
    // It holds an update lock on one planned table, as a session that read
    // it WITH (UPDLOCK, HOLDLOCK) would on SQL Server: the inspection reads
    // through it, the fix's writes wait for it.
    let items = other.execute("BEGIN TRANSACTION; SELECT [Name] FROM [dbo].[Queues] WITH (UPDLOCK, HOLDLOCK) WHERE [Name] = N'Payroll Queue';", &[]);
    assert!(
        !items
            .iter()
            .any(|i| matches!(i, rgs_sandbox::types::Item::Error(_))),
        "{items:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    tool(&sb)
        .current_dir(dir.path())
        .args([
            "fix",
            "--yes",
            "--no-snapshot",
            "--lock-timeout",
            "1",
            "--journal",
            "j.json",
        ])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("1222").and(predicate::str::contains("nothing was changed")),
        );
    assert!(started.elapsed() < Duration::from_secs(30));
    other.rollback_transaction();
    assert_eq!(snapshot(&sb), before);
}

/// Starts `rgs-repair ... fix --yes --journal j.json <extra>` in `dir`, in
/// the background, so a test can signal it.
#[cfg(unix)]
fn spawn_fix(
    sb: &rgs_sandbox::Sandbox,
    dir: &std::path::Path,
    extra: &[&str],
) -> std::process::Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("rgs-repair"))
        .env_clear()
        .env("RGS_PASSWORD", sb.password())
        .args([
            "-S",
            &format!("127.0.0.1,{}", sb.addr().port()),
            "-U",
            "sa",
            "-C",
        ])
        .args(["fix", "--yes", "--no-snapshot", "--journal", "j.json"])
        .args(extra)
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Runs `fix --yes` in `dir`, presses Ctrl-C (SIGINT) 1.2 s in, and
/// returns what the tool printed and its exit status.
#[cfg(unix)]
fn interrupted_fix(sb: &rgs_sandbox::Sandbox, dir: &std::path::Path) -> std::process::Output {
    let child = spawn_fix(sb, dir, &[]);
    signal_after(&child, "-INT", 1200);
    child.wait_with_output().unwrap()
}

/// Sends `signal` (`-INT`, `-TERM`) to `child` after `ms` milliseconds.
#[cfg(unix)]
fn signal_after(child: &std::process::Child, signal: &str, ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
    let status = std::process::Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[cfg(unix)]
#[test]
fn ctrl_c_during_fix_rolls_back_and_exits_4() {
    // Hold the first UPDATE back so the signal lands inside the transaction.
    // The transaction is open after its first request (setup, BEGIN,
    // re-checks); hold back the second (the UPDATEs) and press Ctrl-C.
    let begin = inspection_requests() + 1;
    let sb = sandbox("migrated");
    sb.arm(Fault::parse(&format!("delay@{}:3000", begin + 1)).unwrap());
    let before = snapshot(&sb);
    let dir = tempfile::tempdir().unwrap();
    let out = interrupted_fix(&sb, dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("Interrupted") && stderr.contains("rolled back"),
        "{stderr}"
    );
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(snapshot(&sb), before);
}

/// Ctrl-C while COMMIT is on its way is not a rollback: COMMIT is waited
/// for, the change is committed, and the tool says so next to
/// "Interrupted" instead of leaving "rolling back" as the last word.
#[cfg(unix)]
#[test]
fn ctrl_c_during_commit_says_the_fix_was_committed() {
    // Requests of the fix: the inspection's, then setup + BEGIN + re-checks,
    // the UPDATEs, COMMIT.
    let commit = inspection_requests() + 3;
    let sb = sandbox("migrated");
    sb.arm(Fault::parse(&format!("delay@{commit}:3000")).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let out = interrupted_fix(&sb, dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("Interrupted")
            && stderr.contains("unless its COMMIT is already under way")
            && stderr.contains("while COMMIT was under way: the fix was committed"),
        "{stderr}"
    );
    assert_eq!(all_nulls(&sb), 0);
    assert_eq!(journal(&dir.path().join("j.json"))["status"], "committed");
}

#[test]
fn a_deadlock_victim_is_rerun_then_given_up_cleanly() {
    // Each attempt starts with one request (session setup, BEGIN, the
    // re-checks); a failed one adds a ROLLBACK. Make that first request
    // the deadlock victim on every attempt.
    let begin = inspection_requests() + 1;
    let sb = sandbox("migrated");
    for n in [begin, begin + 2, begin + 4] {
        sb.arm(Fault::parse(&format!("error@{n}:1205")).unwrap());
    }
    let before = snapshot(&sb);
    let dir = tempfile::tempdir().unwrap();
    let out = tool(&sb)
        .current_dir(dir.path())
        .args([
            "fix",
            "--yes",
            "--no-snapshot",
            "--retries",
            "2",
            "--journal",
            "j.json",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.matches("Retrying").count(), 2, "{stderr}");
    assert!(
        stderr.contains("on all 3 attempts") && stderr.contains("nothing was changed"),
        "{stderr}"
    );
    assert_eq!(snapshot(&sb), before);

    // Two victims and three attempts allowed: the third commits.
    let sb = sandbox("migrated");
    for n in [begin, begin + 3] {
        sb.arm(Fault::parse(&format!("error@{n}:1205")).unwrap());
    }
    tool(&sb)
        .current_dir(dir.path())
        .args([
            "fix",
            "--yes",
            "--no-snapshot",
            "--retries",
            "2",
            "--journal",
            "k.json",
        ])
        .assert()
        .code(0);
    assert_eq!(all_nulls(&sb), 0);
    assert_eq!(journal(&dir.path().join("k.json"))["status"], "committed");
}

#[cfg(unix)]
#[test]
fn sigterm_during_a_lock_wait_rolls_back_and_exits_4() {
    let sb = sandbox("migrated");
    let before = snapshot(&sb);
    let mut other = sb.engine().open_session(sb.database()).unwrap();
    // An update lock on one planned table: the fix waits at its first write.
    other.execute(
        "BEGIN TRANSACTION; SELECT [Name] FROM [dbo].[Queues] WITH (UPDLOCK, HOLDLOCK) WHERE [Name] = N'Payroll Queue';",
        &[],
    );
    let dir = tempfile::tempdir().unwrap();
    let child = spawn_fix(&sb, dir.path(), &["--lock-timeout", "30"]);
    signal_after(&child, "-TERM", 2000);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("SIGTERM") && stderr.contains("rolled back"),
        "{stderr}"
    );
    other.rollback_transaction();
    assert_eq!(snapshot(&sb), before);
    assert_eq!(journal(&dir.path().join("j.json"))["status"], "rolled_back");
}

#[test]
fn a_failure_while_taking_the_snapshot_changes_nothing() {
    let first_snapshot_request = inspection_requests() + 1;
    let sb = sandbox("migrated");
    sb.arm(Fault::parse(&format!("error@{first_snapshot_request}:1205")).unwrap());
    let before = snapshot(&sb);
    let dir = tempfile::tempdir().unwrap();
    tool(&sb)
        .current_dir(dir.path())
        .args(["fix", "--yes", "--journal", "j.json"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("snapshot")
                .and(predicate::str::contains("nothing was changed"))
                .and(predicate::str::contains("--no-snapshot")),
        );
    assert_eq!(snapshot(&sb), before);
    assert!(!dir.path().join("j.json").exists());
    assert!(!dir.path().join("j.snapshot").exists());
}

#[test]
fn as_many_rows_as_planned_but_other_ones_abort_with_4() {
    // Inside the transaction, just before the Queues' summary under lock:
    // one planned queue gets an owner and another queue loses its own, so
    // the count is the plan's and only the checksum of the keys differs.
    let sb = sandbox("migrated");
    sb.inject_before(
        "[dbo].[Queues] AS t WITH (UPDLOCK, HOLDLOCK)",
        "UPDATE [dbo].[Queues] SET [OwnerPoolId] = NULL WHERE [ID] = (SELECT MIN([ID]) FROM [dbo].[Queues] WHERE [OwnerPoolId] IS NOT NULL); UPDATE [dbo].[Queues] SET [OwnerPoolId] = '292CE760-0931-5108-91AE-08CD2BFAD04C' WHERE [Name] = N'Payroll Queue'",
    );
    let dir = tempfile::tempdir().unwrap();
    tool(&sb)
        .current_dir(dir.path())
        .args(["fix", "--yes", "--no-snapshot", "--journal", "j.json"])
        .assert()
        .code(4)
        .stderr(
            predicate::str::contains("not the same rows")
                .and(predicate::str::contains("dbo.Queues")),
        );
    // Rolled back: the swap happened inside the aborted transaction too.
    assert_eq!(nulls(&sb, "Queues"), 9);
    let j = journal(&dir.path().join("j.json"));
    assert_eq!(j["status"], "rolled_back");
    assert!(
        j["tables"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["rows"].as_array().unwrap().is_empty()),
        "no row was journalled: {j}"
    );
}

#[test]
fn undo_stops_when_other_rows_of_the_same_count_hold_the_fixed_owner() {
    let sb = sandbox("migrated");
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("j.json");
    fix_yes(&sb, &j);
    // Two journalled queues: one changed after the fix (undo leaves it
    // alone), one still holding the fixed owner.
    let doc = journal(&j);
    let queues = doc["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "Queues")
        .unwrap()
        .clone();
    let (a, b) = (
        queues["rows"][0][0].as_str().unwrap().to_string(),
        queues["rows"][1][0].as_str().unwrap().to_string(),
    );
    sb.query(&format!(
        "UPDATE [dbo].[Queues] SET [OwnerPoolId] = NULL WHERE [ID] = '{a}'"
    ))
    .unwrap();
    let before = snapshot(&sb);
    // Inside the undo transaction, just before the Queues' summary under
    // lock: they swap, so as many rows as the preview showed hold the
    // fixed owner, but not the same ones.
    sb.inject_before(
        "[dbo].[Queues] AS t WITH (UPDLOCK, HOLDLOCK)",
        &format!("UPDATE [dbo].[Queues] SET [OwnerPoolId] = '292CE760-0931-5108-91AE-08CD2BFAD04C' WHERE [ID] = '{a}'; UPDATE [dbo].[Queues] SET [OwnerPoolId] = NULL WHERE [ID] = '{b}'"),
    );
    tool(&sb)
        .args(["undo", "--yes", "--journal"])
        .arg(&j)
        .assert()
        .code(4)
        .stderr(predicate::str::contains(
            "changed after the undo plan was shown",
        ));
    assert_eq!(snapshot(&sb), before, "rolled back, the swap with it");
}

#[test]
fn rows_read_under_lock_that_are_not_the_counted_ones_stop_the_fix() {
    // Between the Queues' summary under lock (which matches the plan) and
    // the read of their rows, a queue that had an owner loses it: the rows
    // read are more than the server counted a moment before.
    let sb = sandbox("migrated");
    let before = snapshot(&sb);
    sb.inject_before(
        "display_name FROM [dbo].[Queues] AS t WITH (UPDLOCK, HOLDLOCK)",
        "UPDATE [dbo].[Queues] SET [OwnerPoolId] = NULL WHERE [ID] = (SELECT MIN([ID]) FROM [dbo].[Queues] WHERE [OwnerPoolId] IS NOT NULL)",
    );
    let dir = tempfile::tempdir().unwrap();
    tool(&sb)
        .current_dir(dir.path())
        .args(["fix", "--yes", "--no-snapshot", "--journal", "j.json"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "read under lock where the server counted",
        ));
    assert_eq!(
        snapshot(&sb),
        before,
        "rolled back, the injected change with it"
    );
}
