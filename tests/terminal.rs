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

#[test]
fn choose_a_pool_then_decline_then_accept() {
    let sb = sandbox("multi-pool");
    let before = snapshot(&sb);
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("j.json");
    let cmd = command_line(&sb, true, &format!("fix --journal {}", j.display()));

    let Some(p) = Pane::start(&cmd) else { return };
    p.wait_for("which one gets the objects without an owner?");
    p.keys(&["Down", "Enter"]);
    p.wait_for("[y/N]");
    p.keys(&["Enter"]); // the default is No
    let t = p.wait_for("EXIT=");
    assert!(t.contains("EXIT=4") && t.contains("not confirmed"), "{t}");
    assert_eq!(snapshot(&sb), before);
    assert!(!j.exists());
    drop(p);

    let Some(p) = Pane::start(&cmd) else { return };
    p.wait_for("which one gets the objects without an owner?");
    p.keys(&["Down", "Enter"]);
    p.wait_for("[y/N]");
    p.keys(&["y"]);
    let t = p.wait_for("EXIT=");
    assert!(
        t.contains("EXIT=0") && t.contains("lyncpool02.fabrikam.local"),
        "{t}"
    );
    assert_eq!(all_nulls(&sb), 0);
    assert_eq!(journal(&j)["pool"]["name"], "lyncpool02.fabrikam.local");
}
