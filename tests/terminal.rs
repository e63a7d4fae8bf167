//! The tool at a real terminal (tmux): the hidden password prompt, the pool
//! choice and the confirmation, as a DBA meets them. Needs tmux (`.ci/run`
//! installs it); without it these tests fail and say so, unless
//! RGS_SKIP_TMUX=1.

mod common;
use common::*;
use std::process::Command;
use std::time::{Duration, Instant};

struct Pane {
    name: String,
}

impl Pane {
    fn start(command: &str) -> Option<Pane> {
        if Command::new("tmux").arg("-V").output().is_err() {
            assert!(
                std::env::var("RGS_SKIP_TMUX").is_ok(),
                "tmux is not installed: apt-get install tmux (or set RGS_SKIP_TMUX=1)"
            );
            return None;
        }
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name = format!("rgs-{}-{n}", std::process::id());
        let status = Command::new("tmux")
            .args([
                "-L",
                &name,
                "new-session",
                "-d",
                "-s",
                &name,
                "-x",
                "200",
                "-y",
                "50",
            ])
            .arg(format!("{command}; echo EXIT=$?; sleep 60"))
            .status()
            .unwrap();
        assert!(status.success());
        Some(Pane { name })
    }

    fn text(&self) -> String {
        let out = Command::new("tmux")
            .args([
                "-L",
                &self.name,
                "capture-pane",
                "-p",
                "-S",
                "-500",
                "-t",
                &self.name,
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn wait_for(&self, what: &str) -> String {
        let started = Instant::now();
        loop {
            let t = self.text();
            if t.contains(what) {
                return t;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "waited for {what:?}; screen:\n{t}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn keys(&self, keys: &[&str]) {
        let status = Command::new("tmux")
            .args(["-L", &self.name, "send-keys", "-t", &self.name])
            .args(keys)
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.name, "kill-server"])
            .status();
    }
}

fn command_line(sb: &rgs_sandbox::Sandbox, env_password: bool, rest: &str) -> String {
    let bin = assert_cmd::cargo::cargo_bin("rgs-repair");
    let pw = if env_password {
        format!("RGS_PASSWORD='{}' ", sb.password())
    } else {
        String::new()
    };
    format!(
        "env -u RGS_PASSWORD {pw}{} -S 127.0.0.1,{} -U sa -C {rest}",
        bin.display(),
        sb.addr().port()
    )
}

#[test]
fn password_prompt_is_hidden() {
    let sb = sandbox("healthy");
    let Some(p) = Pane::start(&command_line(&sb, false, "check")) else {
        return;
    };
    p.wait_for("Password for sa");
    p.keys(&[sb.password(), "Enter"]);
    let t = p.wait_for("EXIT=");
    assert!(t.contains("EXIT=0") && t.contains("Healthy"), "{t}");
    assert!(!t.contains(sb.password()), "the password was echoed:\n{t}");
}

impl Pane {
    /// Whether the terminal shows its cursor (a prompt may hide it).
    fn cursor_visible(&self) -> bool {
        let out = Command::new("tmux")
            .args([
                "-L",
                &self.name,
                "display-message",
                "-p",
                "-t",
                &self.name,
                "#{cursor_flag}",
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim() == "1"
    }
}

const QUESTION: &str = "Type yes to apply, anything else to stop:";

#[test]
fn the_pool_picker_has_no_default_and_the_question_names_the_pool() {
    let sb = sandbox("multi-pool");
    let before = snapshot(&sb);
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("j.json");
    let cmd = command_line(&sb, true, &format!("fix --journal {}", j.display()));

    // Enter alone chooses nothing.
    let Some(p) = Pane::start(&cmd) else { return };
    p.wait_for("Pool (number, ID or FQDN; Enter to stop):");
    p.keys(&["Enter"]);
    let t = p.wait_for("EXIT=");
    assert!(
        t.contains("EXIT=4") && t.contains("no owner pool chosen"),
        "{t}"
    );
    assert_eq!(snapshot(&sb), before);
    assert!(!j.exists());
    drop(p);

    let Some(p) = Pane::start(&cmd) else { return };
    p.wait_for("Pool (number, ID or FQDN; Enter to stop):");
    p.keys(&["2", "Enter"]);
    let t = p.wait_for(QUESTION);
    assert!(
        t.contains("to the pool 406DF8CA-10FF-5287-A934-EB972948497B (lyncpool02.fabrikam.local)?"),
        "{t}"
    );
    p.keys(&["yes", "Enter"]);
    let t = p.wait_for("EXIT=");
    assert!(t.contains("EXIT=0"), "{t}");
    assert_eq!(all_nulls(&sb), 0);
    assert_eq!(journal(&j)["pool"]["name"], "lyncpool02.fabrikam.local");
}

#[test]
fn only_the_word_yes_typed_in_full_confirms() {
    let sb = sandbox("migrated");
    let before = snapshot(&sb);
    let dir = tempfile::tempdir().unwrap();
    for (answer, exit) in [("y", 4), ("yikes, wait", 4), ("yes please", 4), ("yes", 0)] {
        let j = dir.path().join(format!("{}.json", answer.len()));
        let Some(p) = Pane::start(&command_line(
            &sb,
            true,
            &format!("fix --journal {}", j.display()),
        )) else {
            return;
        };
        p.wait_for(QUESTION);
        p.keys(&["-l", answer]);
        p.keys(&["Enter"]);
        let t = p.wait_for("EXIT=");
        assert!(t.contains(&format!("EXIT={exit}")), "{answer:?}: {t}");
        if exit == 4 {
            assert!(t.contains("not confirmed"), "{t}");
            assert_eq!(snapshot(&sb), before, "{answer:?} changed data");
        }
    }
    assert_eq!(all_nulls(&sb), 0);
}

#[test]
fn keys_typed_before_the_question_are_thrown_away() {
    let sb = sandbox("migrated");
    let before = snapshot(&sb);
    // Hold the first request back, so the keys arrive while the tool reads.
    sb.arm(rgs_sandbox::fault::Fault::parse("delay@1:2500").unwrap());
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("j.json");
    let Some(p) = Pane::start(&command_line(
        &sb,
        true,
        &format!("fix --journal {}", j.display()),
    )) else {
        return;
    };
    std::thread::sleep(Duration::from_millis(700));
    p.keys(&["yes", "Enter"]);
    p.wait_for(QUESTION);
    std::thread::sleep(Duration::from_millis(1000));
    assert!(
        !p.text().contains("EXIT="),
        "the early yes answered:\n{}",
        p.text()
    );
    assert_eq!(snapshot(&sb), before);
    p.keys(&["no", "Enter"]);
    let t = p.wait_for("EXIT=");
    assert!(t.contains("EXIT=4"), "{t}");
    assert_eq!(snapshot(&sb), before);
}

#[test]
fn ctrl_c_end_of_input_and_sigterm_at_the_question_are_no() {
    let sb = sandbox("migrated");
    let before = snapshot(&sb);
    let dir = tempfile::tempdir().unwrap();
    for (n, keys) in [(1, "C-c"), (2, "C-d"), (3, "TERM")] {
        let j = dir.path().join(format!("j{n}.json"));
        let Some(p) = Pane::start(&command_line(
            &sb,
            true,
            &format!("fix --journal {}", j.display()),
        )) else {
            return;
        };
        p.wait_for(QUESTION);
        if keys == "TERM" {
            // The tool's own process: the pane's shell has the same words
            // on its command line.
            let out = Command::new("pgrep")
                .args(["-f", &j.display().to_string()])
                .output()
                .unwrap();
            let pids: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .filter(|pid| {
                    std::fs::read_to_string(format!("/proc/{pid}/comm"))
                        .is_ok_and(|c| c.trim() == "rgs-repair")
                })
                .map(str::to_string)
                .collect();
            assert_eq!(pids.len(), 1, "{pids:?}");
            let status = Command::new("kill")
                .args(["-TERM", &pids[0]])
                .status()
                .unwrap();
            assert!(status.success());
        } else {
            p.keys(&[keys]);
        }
        let t = p.wait_for("EXIT=");
        assert!(t.contains("EXIT=4"), "{keys}: {t}");
        assert!(p.cursor_visible(), "{keys}: the cursor was left hidden");
        assert_eq!(snapshot(&sb), before, "{keys}");
        assert!(!j.exists(), "{keys}: no journal without a yes");
    }
}

#[test]
fn password_stdin_leaves_the_terminal_for_the_question() {
    let sb = sandbox("migrated");
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("j.json");
    let cmd = format!(
        "printf '%s\\n' '{}' | {}",
        sb.password(),
        command_line(
            &sb,
            false,
            &format!("--password-stdin fix --journal {}", j.display())
        )
    );
    let Some(p) = Pane::start(&cmd) else { return };
    p.wait_for(QUESTION);
    p.keys(&["yes", "Enter"]);
    let t = p.wait_for("EXIT=");
    assert!(t.contains("EXIT=0"), "{t}");
    assert_eq!(all_nulls(&sb), 0);
}

#[test]
fn a_saved_plan_still_asks_before_it_applies() {
    let sb = sandbox("migrated");
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.json");
    tool(&sb)
        .args(["fix", "--dry-run", "--save-plan"])
        .arg(&plan)
        .assert()
        .code(0);
    let before = snapshot(&sb);
    let j = dir.path().join("j.json");
    let cmd = command_line(
        &sb,
        true,
        &format!("fix --plan {} --journal {}", plan.display(), j.display()),
    );
    let Some(p) = Pane::start(&cmd) else { return };
    let t = p.wait_for(QUESTION);
    assert!(t.contains("still matches the database"), "{t}");
    p.keys(&["no", "Enter"]);
    let t = p.wait_for("EXIT=");
    assert!(t.contains("EXIT=4"), "{t}");
    assert_eq!(snapshot(&sb), before);
}

#[test]
fn a_slow_step_shows_what_it_is_doing_and_clears_it() {
    // The second request after login (the catalog) answers after 4 s.
    let sb = rgs_sandbox::Sandbox::start(rgs_sandbox::SandboxOptions {
        scenario: Some("migrated".into()),
        faults: vec![rgs_sandbox::fault::Fault::parse("delay@2:4000").unwrap()],
        ..Default::default()
    })
    .unwrap();
    let Some(p) = Pane::start(&command_line(&sb, true, "check")) else {
        return;
    };
    let t = p.wait_for("Reading rgsconfig (");
    assert!(!t.contains("EXIT="), "{t}");
    let t = p.wait_for("EXIT=");
    assert!(t.contains("EXIT=3"), "{t}");
    assert!(
        !t.contains("Reading rgsconfig"),
        "the spinner was left on screen:\n{t}"
    );
}

#[test]
fn no_progress_is_printed_off_a_terminal() {
    let sb = rgs_sandbox::Sandbox::start(rgs_sandbox::SandboxOptions {
        scenario: Some("migrated".into()),
        faults: vec![rgs_sandbox::fault::Fault::parse("delay@2:2500").unwrap()],
        ..Default::default()
    })
    .unwrap();
    let out = tool(&sb).arg("check").assert().code(3).get_output().clone();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("Reading"));
}
