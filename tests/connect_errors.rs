//! Bad connection input: each a one-sentence message within the connect
//! timeout, exit code 1, and no password in it.

mod common;
use common::*;
use predicates::prelude::*;
use rgs_sandbox::server::TlsMode;
use rgs_sandbox::{Sandbox, SandboxOptions};
use std::time::{Duration, Instant};

fn bin() -> assert_cmd::Command {
    let mut c = assert_cmd::Command::cargo_bin("rgs-repair").unwrap();
    c.env_clear()
        .env("RGS_PASSWORD", "not-used-Pw1")
        .timeout(Duration::from_secs(30));
    c
}

/// Exit 1 and one line on stderr that contains `words`, within `limit`.
fn one_sentence(mut c: assert_cmd::Command, words: &[&str], limit: Duration) {
    let started = Instant::now();
    let out = c.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        started.elapsed() < limit,
        "took {:?}: {stderr}",
        started.elapsed()
    );
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.starts_with("warning:"))
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    for w in words {
        assert!(stderr.contains(w), "missing {w:?} in {stderr}");
    }
    assert!(!stderr.contains("not-used-Pw1"));
}

#[test]
fn malformed_connection_strings() {
    for (cs, word) in [
        (
            "Server=tcp:127.0.0.1,1;User Id=sa;Password='not-used-Pw1",
            "no closing quote",
        ),
        (
            "Server=tcp:127.0.0.1,1;Bogus=1",
            "keyword this tool does not know: 'bogus'",
        ),
        (
            "Server=tcp:127.0.0.1,notaport;User Id=sa",
            "not a TCP port number",
        ),
        (
            "Server=tcp:127.0.0.1,1;Encrypt=maybe;User Id=sa",
            "'encrypt' must be",
        ),
        ("justtext", "without '='"),
    ] {
        let mut c = bin();
        c.args(["--connection-string", cs, "check"]);
        one_sentence(c, &[word], Duration::from_secs(5));
    }
}

#[test]
fn unknown_host() {
    let mut c = bin();
    c.args([
        "-S",
        "no-such-host.invalid",
        "-U",
        "sa",
        "--connect-timeout",
        "3",
        "check",
    ]);
    let out = c.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    // Without DNS the look-up may fail at once or time out: either way, one
    // sentence naming the host.
    assert!(
        stderr.contains("no-such-host.invalid") && stderr.lines().count() == 1,
        "{stderr}"
    );
}

#[test]
fn unknown_named_instance() {
    let mut c = bin();
    c.args([
        "-S",
        r"127.0.0.1\NOSUCHINSTANCE",
        "-U",
        "sa",
        "--connect-timeout",
        "5",
        "check",
    ]);
    one_sentence(
        c,
        &["NOSUCHINSTANCE", "SQL Server Browser"],
        Duration::from_secs(10),
    );
}

#[test]
fn tls_refused_by_the_server() {
    let sb = Sandbox::start(SandboxOptions {
        scenario: Some("healthy".into()),
        tls: TlsMode::Refuse,
        ..SandboxOptions::default()
    })
    .unwrap();
    let mut c = bin();
    c.env("RGS_PASSWORD", sb.password()).args([
        "-S",
        &format!("127.0.0.1,{}", sb.addr().port()),
        "-U",
        "sa",
        "-C",
        "check",
    ]);
    one_sentence(c, &["encrypt"], Duration::from_secs(10));
    // The user may choose to go without TLS, knowingly.
    tool(&sb).args(["-N", "disable", "check"]).assert().code(0);
}

#[test]
fn integrated_without_kerberos_says_what_to_do() {
    if cfg!(any(windows, feature = "gssapi")) {
        return;
    }
    let mut c = bin();
    c.args(["-S", "127.0.0.1,1", "-E", "check"]);
    one_sentence(
        c,
        &["--features gssapi", "DOMAIN\\user"],
        Duration::from_secs(5),
    );
}

#[test]
fn strict_encryption_works_against_the_sandbox() {
    let sb = sandbox("healthy");
    tool(&sb).args(["-N", "strict", "check"]).assert().code(0);
    tool(&sb).args(["-N", "optional", "check"]).assert().code(0);
}

#[test]
fn an_unverified_certificate_is_refused_without_c() {
    let sb = sandbox("healthy");
    let mut c = bin();
    c.env("RGS_PASSWORD", sb.password()).args([
        "-S",
        &format!("127.0.0.1,{}", sb.addr().port()),
        "-U",
        "sa",
        "check",
    ]);
    one_sentence(c, &["-C"], Duration::from_secs(10));
}

#[test]
fn the_sandbox_command_prints_its_address_first() {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("rgs-repair"))
        .env_clear()
        .args([
            "sandbox",
            "--listen",
            "127.0.0.1:0",
            "--scenario",
            "migrated",
            "--password",
            "Another-Pw-42",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    // Kept open: the sandbox keeps printing after the first line.
    let mut out = BufReader::new(child.stdout.take().unwrap());
    out.read_line(&mut first).unwrap();
    let addr = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line: {first}"))
        .to_string();
    let port = addr.rsplit(':').next().unwrap();
    let mut c = assert_cmd::Command::cargo_bin("rgs-repair").unwrap();
    c.env_clear().env("RGS_PASSWORD", "Another-Pw-42").args([
        "-S",
        &format!("127.0.0.1,{port}"),
        "-U",
        "sa",
        "-C",
        "check",
    ]);
    c.assert().code(3);
    drop(out);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_bad_fault_spec_is_a_usage_error() {
    let mut c = bin();
    c.args(["sandbox", "--listen", "127.0.0.1:0", "--fault", "explode@3"]);
    c.assert()
        .code(2)
        .stderr(predicate::str::contains("--fault explode@3"));
}
