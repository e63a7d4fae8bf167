//! Named instances and listeners, end to end: the built binary finds
//! `HOST\RTC` through the SQL Server Browser on UDP 1434, follows one
//! availability-group redirect, and says in one sentence why it could not.
//!
//! tiberius and this tool ask UDP port 1434 of the host, always, so the
//! Browser tests bind 127.0.0.1:1434: they run one at a time, and are
//! skipped (with a printed reason) where the port cannot be bound, except
//! in CI, where that is a failure.

mod common;
use common::*;
use rgs_sandbox::{BrowserMode, Sandbox, SandboxOptions};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// One test at a time owns UDP 127.0.0.1:1434.
static PORT_1434: Mutex<()> = Mutex::new(());

/// A named instance `RTC` loaded with `scenario`, with its Browser on
/// 127.0.0.1:1434 answering as `mode` says, and the lock on that port;
/// None (the test is skipped) when the port cannot be bound outside CI.
fn rtc(scenario: &str, mode: BrowserMode) -> Option<(Sandbox, MutexGuard<'static, ()>)> {
    let guard = PORT_1434.lock().unwrap_or_else(|p| p.into_inner());
    let start = || {
        Sandbox::start(SandboxOptions {
            scenario: Some(scenario.into()),
            instance: Some("RTC".into()),
            browser: Some("127.0.0.1:1434".parse().unwrap()),
            browser_mode: mode,
            ..SandboxOptions::default()
        })
    };
    // The previous test's Browser may still be letting go of the port.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut started = start();
    while started
        .as_ref()
        .is_err_and(|e| e.downcast_ref::<std::io::Error>().is_some())
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(200));
        started = start();
    }
    match started {
        Ok(sb) => Some((sb, guard)),
        Err(e) if e.downcast_ref::<std::io::Error>().is_some() => {
            if std::env::var_os("CI").is_some() {
                panic!("CI must be able to bind UDP 127.0.0.1:1434 for the SQL Server Browser tests: {e:#}");
            }
            eprintln!("skipped: cannot bind UDP 127.0.0.1:1434 for a SQL Server Browser ({e:#})");
            None
        }
        Err(e) => panic!("sandbox: {e:#}"),
    }
}

/// Exit 1 and one line on stderr (besides the -C warning) that contains
/// `words`; returns the line.
fn one_sentence(c: &mut assert_cmd::Command, words: &[&str]) -> String {
    let out = c.timeout(Duration::from_secs(30)).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.starts_with("warning:"))
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    for w in words {
        assert!(stderr.contains(w), "missing {w:?} in {stderr}");
    }
    lines[0].to_string()
}

#[test]
fn check_fix_and_undo_reach_a_named_instance_through_the_browser() {
    let Some((sb, _port)) = rtc("migrated", BrowserMode::Answer) else {
        return;
    };
    let before = snapshot(&sb);
    tool_at(&sb, r"127.0.0.1\rtc").arg("check").assert().code(3);
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("j.json");
    let j = j.to_str().unwrap();
    tool_at(&sb, r"localhost\RTC")
        .args(["fix", "--yes", "--journal", j])
        .assert()
        .code(0);
    assert_eq!(all_nulls(&sb), 0);
    let journal = journal(std::path::Path::new(j));
    assert!(
        journal.to_string().contains(r"RGS-SANDBOX\\RTC"),
        "{journal}"
    );
    tool_at(&sb, r"127.0.0.1\rtc").arg("check").assert().code(0);
    tool_at(&sb, r"localhost\RTC")
        .args(["undo", "--yes", "--journal", j])
        .assert()
        .code(0);
    assert_eq!(snapshot(&sb), before);
}

#[test]
fn an_unknown_instance_is_named_with_those_the_browser_lists() {
    let Some((_sb, _port)) = rtc("healthy", BrowserMode::Answer) else {
        return;
    };
    let line = one_sentence(
        tool_at(&_sb, r"127.0.0.1\NOSUCH").args(["--connect-timeout", "3", "check"]),
        &["NOSUCH", "127.0.0.1", "SQL Server Browser", "RTC"],
    );
    assert!(!line.contains("firewall"), "the Browser did answer: {line}");
}

#[test]
fn a_silent_browser_gives_up_within_the_connect_timeout_with_the_firewall_hint() {
    let Some((sb, _port)) = rtc("healthy", BrowserMode::Silent) else {
        return;
    };
    let started = Instant::now();
    one_sentence(
        tool_at(&sb, r"127.0.0.1\RTC").args(["--connect-timeout", "3", "check"]),
        &[
            "'RTC'",
            "127.0.0.1",
            "UDP",
            "1434",
            "firewall",
            "127.0.0.1,PORT",
        ],
    );
    assert!(
        started.elapsed() < Duration::from_millis(3500),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn a_browser_naming_a_closed_port_is_one_sentence() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let Some((sb, _port)) = rtc("healthy", BrowserMode::Port(closed)) else {
        return;
    };
    one_sentence(
        tool_at(&sb, r"127.0.0.1\RTC").args(["--connect-timeout", "3", "check"]),
        &[
            "'RTC'",
            "127.0.0.1",
            &closed.to_string(),
            "nothing accepts connections",
        ],
    );
}

#[test]
fn a_port_bypasses_the_browser_and_the_server_checks_the_instance_name() {
    // No Browser here: none is asked when a port is given.
    let sb = Sandbox::start(SandboxOptions {
        scenario: Some("healthy".into()),
        instance: Some("RTC".into()),
        ..SandboxOptions::default()
    })
    .unwrap();
    let port = sb.addr().port();
    tool_at(&sb, &format!(r"127.0.0.1\rtc,{port}"))
        .arg("check")
        .assert()
        .code(0);
    tool_at(&sb, &format!("127.0.0.1,{port}"))
        .arg("check")
        .assert()
        .code(0);
    one_sentence(
        tool_at(&sb, &format!(r"127.0.0.1\SQLEXPRESS,{port}")).arg("check"),
        &["SQLEXPRESS", "not instance"],
    );
}

/// A listener in front of `to` (host 127.0.0.1), whose own database is the
/// healthy scenario: a login it served itself would find nothing.
fn listener(to: &Sandbox) -> Sandbox {
    Sandbox::start(SandboxOptions {
        scenario: Some("healthy".into()),
        route_to: Some(("127.0.0.1".into(), to.addr().port())),
        ..SandboxOptions::default()
    })
    .unwrap()
}

fn at(sb: &Sandbox) -> String {
    format!("127.0.0.1,{}", sb.addr().port())
}

#[test]
fn check_fix_and_undo_follow_the_listener_to_the_primary() {
    let primary = sandbox("migrated");
    let agl = listener(&primary);
    let before = snapshot(&primary);
    let out = tool_at(&agl, &at(&agl))
        .args(["-v", "check"])
        .assert()
        .code(3)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let said = format!(
        "connected to {} (routed by the listener {})",
        at(&primary),
        at(&agl)
    );
    assert!(stderr.contains(&said), "{stderr}");

    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("j.json");
    let j = j.to_str().unwrap();
    tool_at(&agl, &at(&agl))
        .args(["fix", "--yes", "--journal", j])
        .assert()
        .code(0);
    assert_eq!(all_nulls(&primary), 0, "the primary was repaired");
    tool_at(&agl, &at(&agl))
        .args(["undo", "--yes", "--journal", j])
        .assert()
        .code(0);
    assert_eq!(snapshot(&primary), before);
}

#[test]
fn a_second_redirect_is_refused() {
    let primary = sandbox("migrated");
    let inner = listener(&primary);
    let outer = listener(&inner);
    let before = snapshot(&primary);
    one_sentence(
        tool_at(&outer, &at(&outer)).arg("check"),
        &[&at(&outer), &at(&inner), &at(&primary), "one redirect"],
    );
    assert_eq!(snapshot(&primary), before);
}

#[test]
fn undo_through_the_listener_after_a_failover_matches_the_same_database() {
    // The availability group's database: the same group_database_id on
    // both replicas, whose creation times differ (each was restored on its
    // own node).
    let group = uuid::Uuid::from_u128(0x6f9619ff_8b86_d011_b42d_00c04fc964ff);
    let a = sandbox("migrated");
    let b = sandbox("migrated");
    for r in [&a, &b] {
        r.engine()
            .set_group_database_id("rgsconfig", group)
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("j.json");
    let to_a = listener(&a);
    tool_at(&to_a, &at(&to_a))
        .args(["fix", "--yes", "--journal"])
        .arg(&j)
        .assert()
        .code(0);
    let journal = journal(&j);
    assert_eq!(journal["routed_to"], at(&a).as_str(), "{journal}");
    assert_eq!(
        journal["identity"]["group_database_id"]
            .as_str()
            .map(str::to_uppercase),
        Some(group.to_string().to_uppercase())
    );
    // The failover: B is primary now, with the change replicated to it.
    fix_yes(&b, &dir.path().join("replicated.json"));
    let fixed_b = snapshot(&b);
    let to_b = listener(&b);
    tool_at(&to_b, &at(&to_b))
        .args(["undo", "--yes", "--journal"])
        .arg(&j)
        .assert()
        .code(0);
    assert_ne!(snapshot(&b), fixed_b, "the undo ran on the new primary");
    assert_eq!(all_nulls(&b), 30);

    // Without the group, B is another database of the same name: refused.
    let c = sandbox("migrated");
    fix_yes(&c, &dir.path().join("c.json"));
    let elsewhere = tempfile::tempdir().unwrap();
    let copy = elsewhere.path().join("j.json");
    std::fs::copy(&j, &copy).unwrap();
    let to_c = listener(&c);
    tool_at(&to_c, &at(&to_c))
        .args(["undo", "--yes", "--journal"])
        .arg(&copy)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--restored-elsewhere"));
}
