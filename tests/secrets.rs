//! The password never appears in any output, at any log level, in the
//! journal, the JSON, an error message or a panic.

mod common;
use rgs_sandbox::{Sandbox, SandboxOptions};
use std::process::Stdio;

const SECRET: &str = "Zq9-unique-S3cret-4711";

fn sandbox() -> Sandbox {
    Sandbox::start(SandboxOptions {
        scenario: Some("migrated".into()),
        password: SECRET.into(),
        ..SandboxOptions::default()
    })
    .unwrap()
}

fn bin() -> std::process::Command {
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("rgs-repair"));
    c.env_clear()
        .env("RUST_LOG", "trace")
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null());
    c
}

#[test]
fn the_password_appears_nowhere() {
    let sb = sandbox();
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.json");
    let server = format!("127.0.0.1,{}", sb.addr().port());
    let flags = ["-S", server.as_str(), "-U", "sa", "-C", "-vvv"];
    let j = journal.to_str().unwrap();
    let runs: Vec<(Vec<&str>, &str)> = vec![
        (vec!["check"], "env"),
        (vec!["--format", "json", "check"], "env"),
        (vec!["fix", "--dry-run"], "env"),
        (vec!["--format", "json", "fix", "--dry-run"], "env"),
        (vec!["fix"], "env"),
        (vec!["fix", "--yes", "--journal", j], "env"),
        (vec!["undo", "--dry-run", "--journal", j], "stdin"),
        (vec!["undo", "--yes", "--journal", j], "stdin"),
        (vec!["check"], "wrong"),
        (vec!["-d", "nosuchdb", "check"], "env"),
        (vec!["-N", "disable", "check"], "env"),
    ];
    let mut seen = 0;
    for (args, how) in runs {
        let mut c = bin();
        c.args(flags).args(&args).current_dir(dir.path());
        match how {
            "env" => {
                c.env("RGS_PASSWORD", SECRET);
            }
            "wrong" => {
                c.env("RGS_PASSWORD", format!("{SECRET}-wrong"));
            }
            _ => {
                c.arg("--password-stdin").stdin(Stdio::piped());
            }
        }
        let mut child = c
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if how == "stdin" {
            use std::io::Write;
            writeln!(child.stdin.take().unwrap(), "{SECRET}").unwrap();
        }
        let out = child.wait_with_output().unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !all.contains(SECRET),
            "{args:?} printed the password:\n{all}"
        );
        assert!(!all.contains("panicked"), "{args:?} panicked:\n{all}");
        seen += all.len();
    }
    // Connection strings carry the password inside: not echoed either.
    let out = bin()
        .args([
            "--connection-string",
            &sb.ado_connection_string(),
            "-vvv",
            "check",
        ])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains(SECRET)
            && !String::from_utf8_lossy(&out.stdout).contains(SECRET)
    );
    let bad = sb
        .ado_connection_string()
        .replace("Database=", "Bogus=x;Database=");
    let out = bin()
        .args(["--connection-string", &bad, "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(!String::from_utf8_lossy(&out.stderr).contains(SECRET));
    // Every file the runs left behind, the fix's snapshot folder included.
    let mut folders = vec![dir.path().to_path_buf()];
    while let Some(folder) = folders.pop() {
        for e in std::fs::read_dir(&folder).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                folders.push(path);
                continue;
            }
            let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
            assert!(
                !text.contains(SECRET),
                "{} holds the password",
                path.display()
            );
        }
    }
    assert!(journal.exists());
    assert!(
        seen > 10_000,
        "the verbose runs printed too little to mean anything ({seen} bytes)"
    );
}
