//! What a real back end does that a naive client gets wrong (issue 9):
//! connection-string keys, triggers, readers blocked by another session's
//! lock, collations, column permissions, and SQL Server 2008 R2.

mod common;
use common::*;
use predicates::prelude::*;

/// A port nothing listens on: a test that passes against it proves the tool
/// refused before connecting.
fn nowhere() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("127.0.0.1,{}", l.local_addr().unwrap().port())
}

#[test]
fn a_read_only_intent_is_refused_for_writes_before_connecting() {
    let server = nowhere();
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["-K", "ReadOnly", "fix", "--yes"],
        vec!["fix", "--yes", "--application-intent", "ReadOnly"],
    ] {
        let mut c = assert_cmd::Command::cargo_bin("rgs-repair").unwrap();
        c.env_clear()
            .env("RGS_PASSWORD", "x")
            .current_dir(dir.path())
            .args(["-S", &server, "-U", "sa"])
            .args(&args);
        let out = c.assert().code(2).get_output().clone();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("ApplicationIntent=ReadOnly"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("could not connect"), "{stderr}");
    }
    let mut c = assert_cmd::Command::cargo_bin("rgs-repair").unwrap();
    c.env_clear()
        .env("RGS_PASSWORD", "x")
        .args([
            "--connection-string",
            &format!("Server=tcp:{server};User Id=sa;ApplicationIntent=ReadOnly"),
            "fix",
            "--yes",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("readable secondary"));
}

#[test]
fn a_read_only_intent_is_refused_for_undo_before_connecting() {
    let sb = sandbox("migrated");
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("j.json");
    fix_yes(&sb, &j);
    let before = sb.connections();
    tool(&sb)
        .args(["-K", "ReadOnly", "undo", "--yes", "--journal"])
        .arg(&j)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("readable secondary"));
    assert_eq!(sb.connections(), before, "it connected");
    assert_eq!(all_nulls(&sb), 0);
}

#[test]
fn a_read_only_intent_still_reads() {
    let sb = sandbox("migrated");
    tool(&sb).args(["-K", "ReadOnly", "check"]).assert().code(3);
    tool(&sb)
        .args(["-K", "ReadOnly", "fix", "--dry-run"])
        .assert()
        .code(0);
}

#[test]
fn connection_string_keys_are_honoured_or_named() {
    let sb = sandbox("migrated");
    let cs = format!(
        "{};MultiSubnetFailover=True;Application Name=change-4711;Packet Size=8192;Pooling=false;MultipleActiveResultSets=True",
        sb.ado_connection_string()
    );
    let out = assert_cmd::Command::cargo_bin("rgs-repair")
        .unwrap()
        .env_clear()
        .args(["--connection-string", &cs, "check"])
        .assert()
        .code(3)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("'pooling' is accepted and ignored"),
        "{stderr}"
    );
    assert!(
        stderr.contains("'multipleactiveresultsets' is accepted and ignored"),
        "{stderr}"
    );
    assert!(!stderr.contains("multisubnetfailover"), "{stderr}");
}

#[test]
fn multi_subnet_failover_connects_and_is_repeated_in_suggestions() {
    let sb = sandbox("migrated");
    let out = tool(&sb)
        .args(["-M", "check"])
        .assert()
        .code(3)
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8_lossy(&out);
    let next = line_after(&out, "Next step", None);
    assert!(next.contains(" -M "), "{next}");
}

#[test]
fn a_trigger_on_an_object_table_does_not_count_as_the_fixs_rows() {
    let sb = sandbox("triggers");
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("j.json");
    let planned = nulls(&sb, "AgentGroups");
    assert!(planned > 0);
    tool(&sb)
        .args(["fix", "--yes", "--journal"])
        .arg(&j)
        .assert()
        .code(0);
    assert_eq!(all_nulls(&sb), 0);
    // The audit trigger ran once per changed row, in the same transaction.
    assert_eq!(
        scalar(&sb, "SELECT COUNT(*) FROM [dbo].[AgentGroupsAudit]"),
        planned
    );
    tool(&sb)
        .args(["undo", "--yes", "--journal"])
        .arg(&j)
        .assert()
        .code(0);
    assert_eq!(nulls(&sb, "AgentGroups"), planned);
    assert_eq!(
        scalar(&sb, "SELECT COUNT(*) FROM [dbo].[AgentGroupsAudit]"),
        2 * planned
    );
}

/// Another session's uncommitted UPDATE of one object table, held open.
fn hold_write(sb: &rgs_sandbox::Sandbox, table: &str) -> rgs_sandbox::engine::Session {
    let mut other = sb.engine().open_session(sb.database()).unwrap();
    let items = other.execute(
        &format!("BEGIN TRANSACTION; UPDATE [dbo].[{table}] SET [Name] = [Name];"),
        &[],
    );
    assert!(
        !items
            .iter()
            .any(|i| matches!(i, rgs_sandbox::types::Item::Error(_))),
        "{items:?}"
    );
    other
}

#[test]
fn a_reader_blocked_by_another_session_stops_after_the_lock_timeout_and_names_it() {
    let sb = sandbox("migrated");
    let mut other = hold_write(&sb, "Queues");
    let spid = other.spid();
    let started = std::time::Instant::now();
    let out = tool(&sb)
        .args(["check", "--lock-timeout", "1"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("1222"), "{stderr}");
    assert!(stderr.contains(&format!("session {spid}")), "{stderr}");
    assert!(!stderr.contains("connection was lost"), "{stderr}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    // The dry run too.
    tool(&sb)
        .args(["fix", "--dry-run", "--lock-timeout", "1"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("blocked by another session"));
    other.rollback_transaction();
    tool(&sb).args(["check"]).assert().code(3);
}

#[test]
fn a_login_that_may_not_see_other_sessions_is_told_how_to_find_the_blocker() {
    let sb = sandbox("migrated");
    sb.deny_server("VIEW SERVER STATE");
    let mut other = hold_write(&sb, "AgentGroups");
    tool(&sb)
        .args(["check", "--lock-timeout", "0.5"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("1222")
                .and(predicate::str::contains("VIEW SERVER STATE"))
                .and(predicate::str::contains("blocking_session_id")),
        );
    other.rollback_transaction();
}

#[test]
fn an_owner_that_differs_only_in_case_is_dangling_on_a_case_sensitive_collation() {
    let sb = sandbox("case-sensitive");
    let doc = check_json(&sb, 3);
    let dangling: Vec<&serde_json::Value> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "dangling_owner")
        .collect();
    assert_eq!(dangling.len(), 1, "{doc:#}");
    assert_eq!(dangling[0]["count"], 1);
    // Fix and undo still work, matching keys and owners as the server does.
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("j.json");
    tool(&sb)
        .args(["fix", "--yes", "--journal"])
        .arg(&j)
        .assert()
        .code(0);
    let doc = check_json(&sb, 3);
    assert!(doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["kind"] != "null_owner"));
    tool(&sb)
        .args(["undo", "--yes", "--journal"])
        .arg(&j)
        .assert()
        .code(0);
}

#[test]
fn a_column_level_deny_is_refused_before_the_transaction() {
    let sb = sandbox("migrated");
    sb.deny_column("dbo.Queues", "OwnerPoolId", "UPDATE")
        .unwrap();
    let before = snapshot(&sb);
    let dir = tempfile::tempdir().unwrap();
    let begun = sb.requests();
    tool(&sb)
        .current_dir(dir.path())
        .args(["fix", "--yes", "--journal", "j.json"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("column OwnerPoolId of dbo.Queues")
                .and(predicate::str::contains("nothing was changed")),
        );
    assert_eq!(snapshot(&sb), before);
    // Refused from what inspect read: no transaction was begun.
    assert!(sb.requests() - begun <= 3);
    assert!(!dir.path().join("j.json").exists());
}

/// The guards inside the transaction, each made to fire by a writer that
/// lands between two statements (something the locks forbid on a real
/// server, so only a fault can show the guard works).
#[test]
fn the_updates_own_row_count_guard_fires() {
    let sb = sandbox("migrated");
    let before = snapshot(&sb);
    // One more row loses its owner just before the fix's UPDATE.
    sb.inject_before(
        "UPDATE [dbo].[Queues] SET [OwnerPoolId] = @P1",
        "UPDATE [dbo].[Queues] SET [OwnerPoolId] = NULL WHERE [Name] = N'Billing Queue'",
    );
    let dir = tempfile::tempdir().unwrap();
    tool(&sb)
        .current_dir(dir.path())
        .args(["fix", "--yes", "--journal", "j.json"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("the UPDATE changed")
                .and(predicate::str::contains("where the plan has")),
        );
    assert_eq!(snapshot(&sb), before);
}

#[test]
fn the_verify_guard_fires() {
    let sb = sandbox("migrated");
    let before = snapshot(&sb);
    // Between the Queues' UPDATE and their verify, a fixed queue loses its
    // owner again.
    sb.inject_before(
        "AS remaining FROM [dbo].[Queues]",
        "UPDATE [dbo].[Queues] SET [OwnerPoolId] = NULL WHERE [Name] = N'Billing Queue'",
    );
    let dir = tempfile::tempdir().unwrap();
    tool(&sb)
        .current_dir(dir.path())
        .args(["fix", "--yes", "--journal", "j.json"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "still lack an owner after the UPDATE",
        ));
    assert_eq!(snapshot(&sb), before);
}

#[test]
fn the_undo_row_count_guard_fires() {
    let sb = sandbox("migrated");
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("j.json");
    fix_yes(&sb, &j);
    let fixed = snapshot(&sb);
    sb.inject_before(
        "SET [OwnerPoolId] = NULL",
        "UPDATE [dbo].[AgentGroups] SET [OwnerPoolId] = NULL",
    );
    tool(&sb)
        .args(["undo", "--yes", "--journal"])
        .arg(&j)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("the undo UPDATE changed"));
    assert_eq!(snapshot(&sb), fixed);
}
