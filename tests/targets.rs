//! `check --targets FILE`: several sandboxes (healthy, migrated) and an
//! address where nothing listens, checked in one run by the built binary.

mod common;
use common::*;
use predicates::prelude::*;
use rgs_sandbox::Sandbox;
use std::path::{Path, PathBuf};

/// `127.0.0.1,PORT` of a sandbox, as `-S` takes it.
fn server(sb: &Sandbox) -> String {
    format!("127.0.0.1,{}", sb.addr().port())
}

/// `127.0.0.1,PORT` where nothing listens.
fn unreachable() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("127.0.0.1,{port}")
}

/// Writes `text` to `name` in `dir`.
fn file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// The binary with the common flags every target takes (-U sa -C), the
/// sandboxes' password in the environment, and no terminal.
fn tool_for(password: &str) -> assert_cmd::Command {
    let mut c = assert_cmd::Command::cargo_bin("rgs-repair").unwrap();
    c.env_clear()
        .env("RGS_PASSWORD", password)
        .env("NO_COLOR", "1")
        .args(["-U", "sa", "-C", "--connect-timeout", "5"]);
    c
}

/// Runs `check --targets path` plus `extra`, expects `code`, returns stdout.
fn run(password: &str, path: &Path, extra: &[&str], code: i32) -> String {
    let out = tool_for(password)
        .args(["check", "--targets"])
        .arg(path)
        .args(extra)
        .assert()
        .code(code)
        .get_output()
        .stdout
        .clone();
    String::from_utf8(out).unwrap()
}

/// The table's rows (the lines after the header, up to the blank line).
fn rows(out: &str) -> Vec<&str> {
    out.lines()
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .collect()
}

#[test]
fn healthy_migrated_and_unreachable_make_three_rows_and_exit_1() {
    let (h, m) = (sandbox("healthy"), sandbox("migrated"));
    let dir = tempfile::tempdir().unwrap();
    let down = unreachable();
    let text = format!(
        "# every pool\n\n{}\n{}   # the migrated one\n{down}\n",
        server(&h),
        server(&m)
    );
    let path = file(dir.path(), "pools.txt", &text);
    let out = run(h.password(), &path, &[], 1);
    let rows = rows(&out);
    assert_eq!(rows.len(), 3, "{out}");
    assert!(out.lines().next().unwrap().contains("TARGET"), "{out}");
    assert!(
        rows[0].contains(&server(&h)) && rows[0].ends_with("healthy"),
        "{out}"
    );
    assert!(
        rows[1].contains(&server(&m))
            && rows[1].ends_with("findings")
            && rows[1].contains("RGS001"),
        "{out}"
    );
    assert!(
        rows[2].contains(&format!("error: could not connect to {down}"))
            && rows[2].contains("nothing accepts connections"),
        "{out}"
    );
    assert!(
        out.contains("3 targets: 1 healthy, 1 with findings, 1 not checked (exit 1)."),
        "{out}"
    );
    // The migrated target's full report is one command away.
    assert!(
        out.contains(&format!(
            "rgs-repair -S {} -d rgsconfig -U sa -C",
            server(&m)
        )),
        "{out}"
    );
}

#[test]
fn the_exit_code_is_the_worst_of_the_targets() {
    let (h1, h2, m) = (sandbox("healthy"), sandbox("healthy"), sandbox("migrated"));
    let dir = tempfile::tempdir().unwrap();
    let all_healthy = file(
        dir.path(),
        "a.txt",
        &format!("{}\n{}\n", server(&h1), server(&h2)),
    );
    let out = run(h1.password(), &all_healthy, &[], 0);
    assert_eq!(rows(&out).len(), 2, "{out}");
    let with_findings = file(
        dir.path(),
        "b.txt",
        &format!("{}\n{}\n", server(&h1), server(&m)),
    );
    run(h1.password(), &with_findings, &[], 3);
    // --fail-on applies to every target: info findings fail a healthy one.
    run(h1.password(), &all_healthy, &["--fail-on", "info"], 3);
}

#[test]
fn json_is_one_document_with_each_check_and_each_error() {
    let (h, m) = (sandbox("healthy"), sandbox("migrated"));
    let dir = tempfile::tempdir().unwrap();
    let down = unreachable();
    let path = file(
        dir.path(),
        "pools.txt",
        &format!("{}\n{}\n{down}\n", server(&h), server(&m)),
    );
    let out = run(h.password(), &path, &["--format", "json"], 1);
    let doc = valid("check-targets", json(out.as_bytes()));
    assert_eq!(doc["exit_code"], 1);
    assert_eq!(
        (&doc["healthy"], &doc["with_findings"], &doc["errors"]),
        (&1.into(), &1.into(), &1.into())
    );
    let t = doc["targets"].as_array().unwrap();
    assert_eq!(t.len(), 3);
    assert_eq!(t[0]["status"], "healthy");
    assert_eq!(t[0]["exit_code"], 0);
    assert_eq!(t[0]["error"], serde_json::Value::Null);
    valid("check", t[0]["check"].clone());
    assert_eq!(t[1]["status"], "findings");
    assert_eq!(t[1]["exit_code"], 3);
    assert_eq!(t[1]["check"]["healthy"], false);
    // The same document a single check prints.
    let single = check_json(&m, 3);
    assert_eq!(t[1]["check"], single);
    assert_eq!(t[2]["target"], down.as_str());
    assert_eq!(t[2]["status"], "error");
    assert_eq!(t[2]["exit_code"], 1);
    assert_eq!(t[2]["check"], serde_json::Value::Null);
    assert!(
        t[2]["error"]
            .as_str()
            .unwrap()
            .contains("nothing accepts connections"),
        "{doc:#}"
    );
}

#[test]
fn a_toml_inventory_names_its_targets_and_a_failed_login_is_a_row() {
    let (h, m) = (sandbox("healthy"), sandbox("migrated"));
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        r#"
[[target]]
name = "pool-east"
server = "{}"

[[target]]
name = "pool-west"
connection_string = "Server={};User Id=sa;Password={};TrustServerCertificate=true"

[[target]]
name = "pool-north"
server = "{}"
user = "nobody"
"#,
        server(&h),
        server(&m),
        m.password(),
        server(&h),
    );
    let path = file(dir.path(), "inventory.toml", &text);
    // The file holds pool-west's password; RGS_PASSWORD is the others'.
    let out = run(h.password(), &path, &[], 1);
    let rows = rows(&out);
    assert_eq!(rows.len(), 3, "{out}");
    assert!(rows[0].trim_start().starts_with("pool-east") && rows[0].ends_with("healthy"));
    assert!(rows[1].trim_start().starts_with("pool-west") && rows[1].ends_with("findings"));
    assert!(
        rows[2].trim_start().starts_with("pool-north")
            && rows[2].contains("error: ")
            && rows[2].contains("nobody"),
        "{out}"
    );
    assert!(
        !out.contains(m.password()),
        "a password was printed:\n{out}"
    );
    let doc = valid(
        "check-targets",
        json(run(h.password(), &path, &["--format", "json"], 1).as_bytes()),
    );
    assert_eq!(doc["targets"][1]["target"], "pool-west");
    let error = doc["targets"][2]["error"].as_str().unwrap();
    assert!(
        error.contains("login failed for 'nobody'") && error.contains("18456"),
        "{doc:#}"
    );
    assert_eq!(doc["targets"][2]["status"], "error");
}

#[test]
fn a_bad_line_is_a_usage_error_that_does_not_echo_it() {
    let h = sandbox("healthy");
    let dir = tempfile::tempdir().unwrap();
    let path = file(
        dir.path(),
        "pools.txt",
        &format!("{}\nServer=x;Password=Hunter;2secret\n", server(&h)),
    );
    tool_for(h.password())
        .args(["check", "--targets"])
        .arg(&path)
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("line 2"))
        .stderr(predicate::str::contains("secret").not());
    let toml = file(
        dir.path(),
        "pools.toml",
        "[[target]]\nserver = \"a\"\npassword = \"2secret\"\n",
    );
    tool_for(h.password())
        .args(["check", "--targets"])
        .arg(&toml)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("target 1: unknown key 'password'"))
        .stderr(predicate::str::contains("secret").not());
    // -S names one server; --targets names them all.
    tool_for(h.password())
        .args(["-S", &server(&h), "check", "--targets"])
        .arg(&path)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("leave out -S"));
    tool_for(h.password())
        .args(["check", "--targets"])
        .arg(&path)
        .args(["--parallel", "0"])
        .assert()
        .code(2);
}

#[test]
fn the_result_does_not_depend_on_parallel() {
    let (h, m, m2) = (sandbox("healthy"), sandbox("migrated"), sandbox("dangling"));
    let dir = tempfile::tempdir().unwrap();
    let down = unreachable();
    let path = file(
        dir.path(),
        "pools.txt",
        &format!("{}\n{down}\n{}\n{}\n", server(&m), server(&h), server(&m2)),
    );
    let one = run(
        h.password(),
        &path,
        &["--parallel", "1", "--format", "json"],
        1,
    );
    let three = run(
        h.password(),
        &path,
        &["--parallel", "3", "--format", "json"],
        1,
    );
    let default = run(h.password(), &path, &["--format", "json"], 1);
    assert_eq!(json(one.as_bytes()), json(three.as_bytes()));
    assert_eq!(json(one.as_bytes()), json(default.as_bytes()));
    let doc = json(one.as_bytes());
    let order: Vec<&str> = doc["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["target"].as_str().unwrap())
        .collect();
    assert_eq!(order, [server(&m), down, server(&h), server(&m2)]);
}

#[test]
fn without_a_password_or_a_terminal_nothing_is_checked() {
    let h = sandbox("healthy");
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "pools.txt", &format!("{}\n", server(&h)));
    let mut c = assert_cmd::Command::cargo_bin("rgs-repair").unwrap();
    c.env_clear()
        .args(["-U", "sa", "-C", "check", "--targets"])
        .arg(&path)
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains("no password for 'sa'"));
    // --password-stdin: one line, for every login.
    let mut c = assert_cmd::Command::cargo_bin("rgs-repair").unwrap();
    let path = file(
        dir.path(),
        "two.txt",
        &format!("{}\n{}\n", server(&h), server(&h)),
    );
    c.env_clear()
        .args(["-U", "sa", "-C", "check", "--password-stdin", "--targets"])
        .arg(&path)
        .write_stdin(format!("{}\n", h.password()))
        .assert()
        .code(0);
}

/// A tmux pane running `command` (as tests/terminal.rs does), for the
/// hidden prompts; None (the test skipped) without tmux when
/// RGS_SKIP_TMUX is set.
struct Pane(String);

impl Pane {
    fn start(command: &str) -> Option<Pane> {
        if std::process::Command::new("tmux")
            .arg("-V")
            .output()
            .is_err()
        {
            assert!(
                std::env::var("RGS_SKIP_TMUX").is_ok(),
                "tmux is not installed: apt-get install tmux (or set RGS_SKIP_TMUX=1)"
            );
            return None;
        }
        let name = format!("rgs-targets-{}", std::process::id());
        let status = std::process::Command::new("tmux")
            .args(["-L", &name, "new-session", "-d", "-s", &name])
            .args(["-x", "250", "-y", "50"])
            .arg(format!("{command}; echo EXIT=$?; sleep 60"))
            .status()
            .unwrap();
        assert!(status.success());
        Some(Pane(name))
    }

    fn text(&self) -> String {
        let out = std::process::Command::new("tmux")
            .args([
                "-L",
                &self.0,
                "capture-pane",
                "-p",
                "-S",
                "-500",
                "-t",
                &self.0,
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn wait_for(&self, what: &str) -> String {
        for _ in 0..300 {
            let t = self.text();
            if t.contains(what) {
                return t;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("waited for {what:?}; screen:\n{}", self.text());
    }

    fn keys(&self, keys: &[&str]) {
        let status = std::process::Command::new("tmux")
            .args(["-L", &self.0, "send-keys", "-t", &self.0])
            .args(keys)
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        let _ = std::process::Command::new("tmux")
            .args(["-L", &self.0, "kill-server"])
            .status();
    }
}

#[test]
fn the_password_is_asked_once_per_distinct_login_before_any_check() {
    let (h, m) = (sandbox("healthy"), sandbox("migrated"));
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[[target]]\nname = \"east\"\nserver = \"{}\"\n\n[[target]]\nname = \"west\"\nserver = \"{}\"\n\n[[target]]\nname = \"north\"\nserver = \"{}\"\nuser = \"bob\"\n",
        server(&h),
        server(&m),
        server(&h)
    );
    let path = file(dir.path(), "inventory.toml", &text);
    let bin = assert_cmd::cargo::cargo_bin("rgs-repair");
    let Some(p) = Pane::start(&format!(
        "env -u RGS_PASSWORD {} -U sa -C check --targets {}",
        bin.display(),
        path.display()
    )) else {
        return;
    };
    p.wait_for("Password for sa");
    p.keys(&["-l", h.password()]);
    p.keys(&["Enter"]);
    p.wait_for("Password for bob");
    p.keys(&["-l", "Not-Bobs-2"]);
    p.keys(&["Enter"]);
    let t = p.wait_for("EXIT=");
    assert!(t.contains("EXIT=1"), "{t}");
    assert_eq!(t.matches("Password for sa").count(), 1, "{t}");
    assert_eq!(t.matches("Password for bob").count(), 1, "{t}");
    assert!(
        !t.contains(h.password()) && !t.contains("Not-Bobs-2"),
        "a password was echoed:\n{t}"
    );
    assert!(
        t.contains("3 targets: 1 healthy, 1 with findings, 1 not checked (exit 1)."),
        "{t}"
    );
    assert!(t.contains("login failed for 'bob'"), "{t}");
}

#[test]
fn a_password_in_the_file_is_used_and_never_printed_or_logged() {
    let h = sandbox("healthy");
    let dir = tempfile::tempdir().unwrap();
    let path = file(
        dir.path(),
        "pools.txt",
        &format!(
            "Server={};User Id=sa;Password={};TrustServerCertificate=true;Pooling=false\n",
            server(&h),
            h.password()
        ),
    );
    for format in ["human", "json"] {
        let out = assert_cmd::Command::cargo_bin("rgs-repair")
            .unwrap()
            .env_clear()
            .args(["-vvv", "check", "--format", format, "--targets"])
            .arg(&path)
            .assert()
            .code(0)
            .get_output()
            .clone();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!all.contains(h.password()), "{all}");
        assert!(all.contains("'pooling' is accepted and ignored"), "{all}");
    }
}
