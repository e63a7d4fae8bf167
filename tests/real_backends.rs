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
        vec!["-K", "ReadOnly", "undo", "--yes", "--journal", "j.json"],
    ] {
        let mut c = assert_cmd::Command::cargo_bin("rgs-repair").unwrap();
        c.env_clear()
            .env("RGS_PASSWORD", "x")
            .current_dir(dir.path())
            .args(["-S", &server, "-U", "sa"])
            .args(&args);
        if args.contains(&"undo") {
            std::fs::write(dir.path().join("j.json"), "{}").unwrap();
        }
        let out = c.assert().code(2).get_output().clone();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("ApplicationIntent=ReadOnly"), "{args:?}: {stderr}");
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
fn a_read_only_intent_still_reads() {
    let sb = sandbox("migrated");
    tool(&sb).args(["-K", "ReadOnly", "check"]).assert().code(3);
    tool(&sb).args(["-K", "ReadOnly", "fix", "--dry-run"]).assert().code(0);
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
    assert!(stderr.contains("'pooling' is accepted and ignored"), "{stderr}");
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
