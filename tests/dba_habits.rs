//! A DBA's habits from sqlcmd and the shell: -P refused with the reason,
//! -l and -?, quiet and verbose logging, colour, a log file, completions and
//! a man page, and a `sandbox --help` that shows only the sandbox's flags.

mod common;
use common::*;
use predicates::prelude::*;

fn bin() -> assert_cmd::Command {
    let mut c = assert_cmd::Command::cargo_bin("rgs-repair").unwrap();
    c.env_clear();
    c
}

#[test]
fn dash_p_is_refused_without_echoing_the_password() {
    bin()
        .args([
            "-S",
            "127.0.0.1,9",
            "-U",
            "sa",
            "-P",
            "Hunter2-secret",
            "check",
        ])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("-P is refused")
                .and(predicate::str::contains("RGS_PASSWORD"))
                .and(predicate::str::contains("Hunter2-secret").not()),
        );
}

#[test]
fn sqlcmd_letters_work() {
    bin()
        .arg("-?")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("Usage: rgs-repair"));
    let sb = sandbox("healthy");
    tool(&sb).args(["-l", "5", "check"]).assert().code(0);
    // 0 waits as long as it takes, as in ADO.NET.
    tool(&sb).args(["check", "-l", "0"]).assert().code(0);
}

#[test]
fn flags_go_before_or_after_the_command() {
    let sb = sandbox("migrated");
    let port = sb.addr().port().to_string();
    bin()
        .env("RGS_PASSWORD", sb.password())
        .args([
            "check",
            "-S",
            &format!("127.0.0.1,{port}"),
            "-U",
            "sa",
            "-C",
            "--format",
            "json",
        ])
        .assert()
        .code(3)
        .stdout(predicate::str::contains("\"schema_version\""));
}

#[test]
fn the_default_log_level_adds_nothing_and_quiet_removes_notes() {
    let sb = sandbox("healthy");
    let out = tool(&sb)
        .env("RGS_PASSWORD", "wrong-password")
        .arg("check")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        !stderr.contains("ERROR") && !stderr.contains("code=18456"),
        "a library log line leaked:\n{stderr}"
    );
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "{stderr}"
    );

    let out = tool(&sb).args(["--quiet", "check"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "",
        "--quiet leaves stderr empty"
    );

    let out = tool(&sb).args(["-v", "check"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("16.0"),
        "-v names the server version:\n{stderr}"
    );
    let out = tool(&sb).args(["-vv", "check"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("request=") && stderr.contains("elapsed"),
        "-vv shows each request and its time:\n{stderr}"
    );
}

#[test]
fn colour_follows_the_flag_and_no_color() {
    let sb = sandbox("healthy");
    let stderr = |args: &[&str], no_color: bool| {
        let mut c = tool(&sb);
        if !no_color {
            c.env_remove("NO_COLOR");
        }
        let out = c.args(args).arg("check").output().unwrap();
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    assert!(stderr(&["-v", "--color", "always"], false).contains('\u{1b}'));
    assert!(!stderr(&["-v", "--color", "never"], false).contains('\u{1b}'));
    assert!(
        !stderr(&["-v"], true).contains('\u{1b}'),
        "auto: not a terminal"
    );
}

#[test]
fn a_log_file_holds_the_detail_and_never_the_password() {
    let sb = sandbox("migrated");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("rgs.log");
    tool(&sb)
        .args(["--log-file"])
        .arg(&log)
        .args(["fix", "--yes", "--journal"])
        .arg(dir.path().join("j.json"))
        .assert()
        .code(0);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("request="), "{text}");
    assert!(!text.contains(sb.password()));
}

#[test]
fn completions_and_the_man_page_generate() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        bin().args(["completions", shell]).assert().code(0).stdout(
            predicate::str::contains("rgs-repair").and(predicate::str::contains("journal")),
        );
    }
    bin().arg("man").assert().code(0).stdout(
        predicate::str::contains(".TH rgs-repair 1").and(predicate::str::contains("check")),
    );
}

#[test]
fn sandbox_help_shows_only_the_sandbox_flags() {
    let out = bin().args(["sandbox", "--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("--listen") && text.contains("--scenario"),
        "{text}"
    );
    for client in [
        "--server",
        "-S,",
        "--user",
        "--format",
        "--connection-string",
    ] {
        assert!(
            !text.contains(client),
            "{client} in sandbox --help:\n{text}"
        );
    }
}

#[test]
fn lock_timeout_minus_one_waits_as_long_as_it_takes() {
    let sb = sandbox("migrated");
    let out = tool(&sb)
        .args(["fix", "--dry-run", "--lock-timeout", "-1"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("SET LOCK_TIMEOUT -1;"), "{text}");
    assert!(
        line_after(&text, "To apply: ", None).contains("--lock-timeout -1"),
        "{text}"
    );
    let dir = tempfile::tempdir().unwrap();
    tool(&sb)
        .args(["fix", "--yes", "--lock-timeout", "-1", "--journal"])
        .arg(dir.path().join("j.json"))
        .assert()
        .code(0);
    // A command timeout would end that wait first: said, not hidden.
    tool(&sb)
        .args([
            "--command-timeout",
            "5",
            "fix",
            "--dry-run",
            "--lock-timeout",
            "-1",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--command-timeout"));
}

#[test]
fn messages_are_the_tools_own_sentences_with_hints() {
    let one_line = |args: &[&str]| -> String {
        let out = bin().env("RGS_PASSWORD", "x").args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let e = one_line(&["-S", "sqlbe01:1433", "-U", "sa", "check"]);
    assert!(e.contains("-S sqlbe01,1433"), "{e}");
    // An unquoted sqlbe01\rtc reaches the tool as sqlbe01rtc.
    let e = one_line(&["-S", "sqlbe01rtc.invalid", "-U", "sa", "-l", "5", "check"]);
    assert!(e.contains("quote it"), "{e}");

    // No library text: an unverified certificate, a command timeout.
    let sb = sandbox("healthy");
    let out = bin()
        .env("RGS_PASSWORD", sb.password())
        .args([
            "-S",
            &format!("127.0.0.1,{}", sb.addr().port()),
            "-U",
            "sa",
            "check",
        ])
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{e}");
    assert!(
        e.contains("add -C") && e.contains("not signed by an authority"),
        "{e}"
    );
    for library in [
        "Config::",
        "trust_cert_ca",
        "native-tls",
        "tiberius",
        "rustls",
    ] {
        assert!(!e.contains(library), "{library} in: {e}");
    }
    sb.arm(rgs_sandbox::fault::Fault::parse("delay@1:3000").unwrap());
    let out = tool(&sb)
        .args(["--command-timeout", "1", "check"])
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{e}");
    assert!(
        e.contains("--command-timeout") && !e.contains("Config::"),
        "{e}"
    );
}

/// The README's "Use: the DBA's day", in its order, against a sandbox.
#[test]
fn the_readme_day_runs_in_order() {
    let sb = sandbox("migrated");
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], code: i32| {
        tool(&sb)
            .current_dir(dir.path())
            .args(args)
            .assert()
            .code(code)
            .get_output()
            .clone()
    };
    run(&["snapshot", "--out", "rgsconfig-before"], 0);
    run(&["check"], 3);
    run(&["fix", "--dry-run", "--save-plan", "rgs-plan.json"], 0);
    run(
        &[
            "fix",
            "--plan",
            "rgs-plan.json",
            "--yes",
            "--journal",
            "j.json",
        ],
        0,
    );
    assert!(dir.path().join("j.snapshot").is_dir());
    let out = run(&["check", "--format", "json"], 0);
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"healthy\": true"));
    run(&["diff", "rgsconfig-before", "--live"], 3);
    run(&["undo", "--yes", "--journal", "j.json"], 0);
    run(&["diff", "rgsconfig-before", "--live"], 0);
}
