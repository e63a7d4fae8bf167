//! A production change, as the change board sees it: the plan that was
//! reviewed is the plan that runs, the script for boards that run their own,
//! identities that keep a plan or a journal on its database, suggested
//! commands that can be pasted, copies of tables left alone, and a journal
//! fit for an audit trail.

mod common;
use common::*;
use predicates::prelude::*;
use std::path::Path;

const POOL01: &str = "292CE760-0931-5108-91AE-08CD2BFAD04C";

fn save_plan(sb: &rgs_sandbox::Sandbox, dir: &Path) -> (std::path::PathBuf, String) {
    let p = dir.join("plan.json");
    let out = tool(sb)
        .args(["fix", "--dry-run", "--save-plan"])
        .arg(&p)
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8_lossy(&out).into_owned();
    let digest = line_after(&text, "Plan digest: ", None);
    assert!(digest.starts_with("sha256:"), "{text}");
    assert_eq!(journal(&p)["plan"]["digest"], digest.as_str());
    (p, digest)
}

#[test]
fn a_saved_plan_applies_exactly_and_the_journal_names_its_digest() {
    let sb = sandbox("migrated");
    let dir = tempfile::tempdir().unwrap();
    let (plan, digest) = save_plan(&sb, dir.path());
    let j = dir.path().join("j.json");
    tool(&sb)
        .args(["fix", "--yes", "--plan"])
        .arg(&plan)
        .arg("--journal")
        .arg(&j)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("Committed: 30 object(s)"));
    assert_eq!(all_nulls(&sb), 0);
    assert_eq!(journal(&j)["plan_digest"], digest.as_str());
}

#[test]
fn a_saved_plan_refuses_more_or_fewer_rows_than_planned() {
    for (change, words) in [
        (
            "UPDATE [dbo].[Agents] SET [OwnerPoolId] = NULL WHERE [ID] = (SELECT MIN([ID]) FROM [dbo].[Agents])",
            "not in the plan; 1 row(s) lack an owner now",
        ),
        (
            "UPDATE [dbo].[Queues] SET [OwnerPoolId] = '292CE760-0931-5108-91AE-08CD2BFAD04C' WHERE [Name] = N'Payroll Queue'",
            "the plan has 9 row(s) without an owner; 8 lack one now",
        ),
        (
            // As many rows as planned, but not the same ones.
            "UPDATE [dbo].[Queues] SET [OwnerPoolId] = NULL WHERE [ID] = (SELECT MIN([ID]) FROM [dbo].[Queues] WHERE [OwnerPoolId] IS NOT NULL); UPDATE [dbo].[Queues] SET [OwnerPoolId] = '292CE760-0931-5108-91AE-08CD2BFAD04C' WHERE [Name] = N'Payroll Queue'",
            "not the same rows",
        ),
    ] {
        let sb = sandbox("migrated");
        let dir = tempfile::tempdir().unwrap();
        let (plan, _) = save_plan(&sb, dir.path());
        sb.query(change).unwrap();
        let moved = snapshot(&sb);
        let j = dir.path().join("j.json");
        tool(&sb)
            .args(["fix", "--yes", "--plan"])
            .arg(&plan)
            .arg("--journal")
            .arg(&j)
            .assert()
            .code(4)
            .stderr(predicate::str::contains(words).and(predicate::str::contains("Nothing was changed")));
        assert_eq!(snapshot(&sb), moved, "{change}");
        assert!(!j.exists(), "no journal for a refused plan");
    }
}

#[test]
fn an_edited_plan_is_refused() {
    let sb = sandbox("migrated");
    let dir = tempfile::tempdir().unwrap();
    let (plan, _) = save_plan(&sb, dir.path());
    let text = std::fs::read_to_string(&plan).unwrap();
    // One planned table taken out by hand: the digest no longer matches.
    let edited = text.replacen("\"HolidaySets\"", "\"HolidaySetz\"", 1);
    assert_ne!(text, edited);
    std::fs::write(&plan, edited).unwrap();
    let before = snapshot(&sb);
    tool(&sb)
        .args(["fix", "--yes", "--plan"])
        .arg(&plan)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("edited"));
    assert_eq!(snapshot(&sb), before);
}

#[test]
fn a_plan_or_journal_for_another_database_is_refused_unless_restored_elsewhere() {
    let a = sandbox("migrated");
    let b = sandbox("migrated");
    let dir = tempfile::tempdir().unwrap();
    let (plan, _) = save_plan(&a, dir.path());
    let before = snapshot(&b);
    tool(&b)
        .args(["fix", "--yes", "--plan"])
        .arg(&plan)
        .arg("--journal")
        .arg(dir.path().join("jb.json"))
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("created")
                .and(predicate::str::contains("--restored-elsewhere")),
        );
    assert_eq!(snapshot(&b), before);

    // A journal of a fix on A does not undo B, whose rows look the same.
    let ja = dir.path().join("ja.json");
    fix_yes(&a, &ja);
    tool(&b)
        .args(["fix", "--yes", "--journal"])
        .arg(dir.path().join("jb2.json"))
        .assert()
        .code(0);
    let fixed_b = snapshot(&b);
    tool(&b)
        .args(["undo", "--yes", "--journal"])
        .arg(&ja)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--restored-elsewhere"));
    assert_eq!(snapshot(&b), fixed_b, "B untouched");

    // Overridden, it runs and says so in the undo's journal.
    tool(&b)
        .args(["undo", "--yes", "--restored-elsewhere", "--journal"])
        .arg(&ja)
        .assert()
        .code(0);
    let uj = undo_journal(&ja);
    assert!(
        uj["identity_override"]
            .as_str()
            .unwrap()
            .contains("created"),
        "{uj}"
    );
}

#[test]
fn undo_writes_its_own_journal_and_never_rewrites_the_fix_journal() {
    let sb = sandbox("migrated");
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("j.json");
    fix_yes(&sb, &j);
    let fix_bytes = std::fs::read(&j).unwrap();
    let fix = journal(&j);
    tool(&sb)
        .args(["undo", "--yes", "--journal"])
        .arg(&j)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("The undo's journal:"));
    assert_eq!(
        std::fs::read(&j).unwrap(),
        fix_bytes,
        "the fix's journal is untouched"
    );
    let u = undo_journal(&j);
    assert_eq!(u["kind"], "undo");
    assert_eq!(u["status"], "committed");
    assert_eq!(u["undoes"]["digest"], fix["digest"]);
    let rows: usize = u["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["rows"].as_array().unwrap().len())
        .sum();
    assert_eq!(rows, 30);
}

#[test]
fn the_journal_is_an_audit_record_and_edits_are_refused() {
    let sb = sandbox("migrated");
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("j.json");
    tool(&sb)
        .env("USER", "dba-anna")
        .args(["fix", "--yes", "--journal"])
        .arg(&j)
        .assert()
        .code(0);
    let v = journal(&j);
    assert_eq!(v["audit"]["os_user"], "dba-anna");
    assert!(!v["audit"]["host"].as_str().unwrap().is_empty());
    assert_eq!(v["audit"]["login"], "sa");
    let line = v["audit"]["command_line"].as_str().unwrap();
    assert!(line.contains("fix --yes --journal"), "{line}");
    assert!(
        v["identity"]["database_created"].as_str().unwrap().len() >= 19,
        "{v}"
    );
    assert!(v["plan_digest"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(v["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(v["attempts"][0]["outcome"], "committed");
    assert!(v["digest"].as_str().unwrap().starts_with("sha256:"));

    // A changed table name: undo would claim the rows no longer exist.
    let text = std::fs::read_to_string(&j).unwrap();
    std::fs::write(&j, text.replace("\"Queues\"", "\"Queuez\"")).unwrap();
    let fixed = snapshot(&sb);
    tool(&sb)
        .args(["undo", "--yes", "--journal"])
        .arg(&j)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("edited")
                .and(predicate::str::contains("--accept-edited-journal")),
        );
    assert_eq!(snapshot(&sb), fixed);
}

#[test]
fn a_rolled_back_attempt_is_recorded_with_its_reason() {
    let sb = sandbox("migrated");
    let before = snapshot(&sb);
    let mut other = sb.engine().open_session(sb.database()).unwrap();
    // An update lock on one planned table: the inspection reads through
    // it, the fix's writes wait for it.
    other.execute(
        "BEGIN TRANSACTION; SELECT [Name] FROM [dbo].[Queues] WITH (UPDLOCK, HOLDLOCK) WHERE [Name] = N'Payroll Queue';",
        &[],
    );
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("j.json");
    // --no-snapshot: the snapshot's locking reads would wait on the
    // sandbox, whose locking reads serialize (SQL Server lets them share
    // the table with an update lock); the attempt is what is tested here.
    tool(&sb)
        .args([
            "fix",
            "--yes",
            "--no-snapshot",
            "--lock-timeout",
            "1",
            "--journal",
        ])
        .arg(&j)
        .assert()
        .code(1);
    other.rollback_transaction();
    assert_eq!(snapshot(&sb), before);
    let v = journal(&j);
    assert_eq!(v["status"], "rolled_back");
    assert_eq!(v["attempts"][0]["outcome"], "rolled_back");
    assert!(
        v["attempts"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("1222"),
        "{v}"
    );
}

#[test]
fn output_files_are_checked_before_connecting() {
    // Port 9 on loopback: nothing listens; a check that came after the
    // connection would say "could not connect".
    let dir = tempfile::tempdir().unwrap();
    let existing = dir.path().join("old.json");
    std::fs::write(&existing, "{}").unwrap();
    let missing_dir = dir.path().join("no/such/dir/j.json");
    for (args, words) in [
        (
            vec!["fix", "--yes", "--journal", missing_dir.to_str().unwrap()],
            "does not exist",
        ),
        (
            vec!["fix", "--yes", "--journal", existing.to_str().unwrap()],
            "already exists",
        ),
        (
            vec![
                "fix",
                "--dry-run",
                "--save-plan",
                existing.to_str().unwrap(),
            ],
            "already exists",
        ),
    ] {
        let mut c = assert_cmd::Command::cargo_bin("rgs-repair").unwrap();
        c.env_clear()
            .env("RGS_PASSWORD", "x")
            .args(["-S", "127.0.0.1,9", "-U", "sa"])
            .args(&args);
        c.assert().code(1).stdout("").stderr(
            predicate::str::contains(words)
                .and(predicate::str::contains("could not connect").not()),
        );
    }
}

#[test]
fn a_table_both_named_and_excluded_is_a_usage_error() {
    let sb = sandbox("migrated");
    tool(&sb)
        .args([
            "fix",
            "--dry-run",
            "--table",
            "Queues",
            "--exclude-table",
            "dbo.queues",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("both name dbo.Queues"));
}

fn make_copy(sb: &rgs_sandbox::Sandbox) {
    sb.query(
        "CREATE TABLE [dbo].[AgentGroups_bak20261127] ([ID] uniqueidentifier NOT NULL PRIMARY KEY, [Name] nvarchar(256) NULL, [OwnerPoolId] uniqueidentifier NULL)",
    )
    .unwrap();
    sb.query("INSERT INTO [dbo].[AgentGroups_bak20261127] ([ID], [Name], [OwnerPoolId]) SELECT [ID], [Name], [OwnerPoolId] FROM [dbo].[AgentGroups]")
        .unwrap();
}

#[test]
fn a_dbas_copy_of_a_table_is_listed_apart_and_left_alone_unless_named() {
    let sb = sandbox("migrated");
    make_copy(&sb);
    tool(&sb).arg("check").assert().code(3).stdout(
        predicate::str::contains("Copies of object tables")
            .and(predicate::str::contains("dbo.AgentGroups_bak20261127"))
            .and(predicate::str::contains(
                "9 row(s) without an owner pool, in a copy of dbo.AgentGroups",
            )),
    );
    let dir = tempfile::tempdir().unwrap();
    tool(&sb)
        .args(["fix", "--yes", "--journal"])
        .arg(dir.path().join("j.json"))
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "Left alone: dbo.AgentGroups_bak20261127 (9 row(s) without owner): it looks like a copy of dbo.AgentGroups",
        ));
    assert_eq!(all_nulls(&sb), 0);
    assert_eq!(
        nulls(&sb, "AgentGroups_bak20261127"),
        9,
        "the copy is left as it was"
    );
    // Only copies have NULL owners now: healthy.
    tool(&sb).arg("check").assert().code(0);
    tool(&sb)
        .args([
            "fix",
            "--yes",
            "--table",
            "AgentGroups_bak20261127",
            "--journal",
        ])
        .arg(dir.path().join("k.json"))
        .assert()
        .code(0);
    assert_eq!(nulls(&sb, "AgentGroups_bak20261127"), 0);
}

#[test]
fn suggested_commands_do_what_they_say_when_pasted() {
    let sb = sandbox("migrated");
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("my journal.json");
    // check -> "Next step:" runs a dry run of the same database.
    let out = tool(&sb).arg("check").output().unwrap();
    let next = line_after(
        &String::from_utf8_lossy(&out.stdout),
        "Next step: ",
        Some("   ("),
    );
    let o = run_printed(&sb, &next, "");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{next}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("Dry run: nothing was changed"));

    // A narrowed dry run's "To apply:" keeps the scope, options and journal.
    let out = tool(&sb)
        .args([
            "-N",
            "optional",
            "fix",
            "--dry-run",
            "--table",
            "dbo.Queues",
            "--lock-timeout",
            "5",
            "--journal",
        ])
        .arg(&j)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let apply = line_after(&text, "To apply: ", Some("   ("));
    for flag in ["--table dbo.Queues", "--lock-timeout 5", "-N optional", "'"] {
        assert!(apply.contains(flag), "{flag} missing from {apply}");
    }
    assert!(!apply.contains(sb.password()));
    let o = run_printed(&sb, &apply, "--yes");
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{apply}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(nulls(&sb, "Queues"), 0);
    assert_eq!(
        nulls(&sb, "AgentGroups"),
        9,
        "only the planned scope changed"
    );
    assert!(j.exists(), "the journal went where the dry run said");

    // The undo hint puts the rows back.
    let undo = line_after(&stdout, "To put the rows back: ", None);
    let o = run_printed(&sb, &undo, "--yes");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{undo}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(nulls(&sb, "Queues"), 9);
}

#[test]
fn with_several_pools_each_suggested_command_names_its_pool() {
    let sb = sandbox("multi-pool");
    let out = tool(&sb).arg("check").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_start().starts_with("rgs-repair ") && l.contains("--pool"))
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(!text.contains("ID|FQDN"), "no placeholder: {text}");
    for l in lines {
        let cmd = l.split("   (").next().unwrap();
        let o = run_printed(&sb, cmd, "");
        assert_eq!(
            o.status.code(),
            Some(0),
            "{cmd}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
fn the_dry_run_prints_the_change_script_it_emits() {
    let sb = sandbox("migrated");
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("change.sql");
    let out = tool(&sb)
        .args(["fix", "--dry-run", "--emit-sql"])
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let script = std::fs::read_to_string(&f).unwrap();
    assert!(
        script.contains("RAISERROR(") && script.contains("COMMIT TRANSACTION;"),
        "{script}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&script),
        "the printed T-SQL differs from the file"
    );
    assert_eq!(all_nulls(&sb), 30, "a dry run changes nothing");
}

/// bsqldb, FreeTDS's batch client, when installed (`.ci/run` installs it).
fn bsqldb(sb: &rgs_sandbox::Sandbox, script: &Path) -> Option<std::process::Output> {
    if std::process::Command::new("bsqldb")
        .arg("-h")
        .output()
        .is_err()
    {
        // Past the test harness, which hides a passing test's eprintln!.
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            b"skipped: bsqldb (freetds-bin) is not installed\n",
        );
        assert!(std::env::var("CI").is_err(), "CI must have freetds-bin");
        return None;
    }
    Some(
        std::process::Command::new("bsqldb")
            .args([
                "-S",
                &format!("127.0.0.1:{}", sb.addr().port()),
                "-U",
                "sa",
                "-P",
                sb.password(),
                "-D",
                "rgsconfig",
                "-i",
            ])
            .arg(script)
            .output()
            .unwrap(),
    )
}

#[test]
fn the_change_script_run_by_freetds_repairs_like_fix_and_refuses_a_moved_database() {
    // The same end state as fix.
    let fixed = sandbox("migrated");
    tool(&fixed)
        .args(["fix", "--yes", "--journal"])
        .arg(tempfile::tempdir().unwrap().path().join("j.json"))
        .assert()
        .code(0);
    let sb = sandbox("migrated");
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("change.sql");
    tool(&sb)
        .args(["fix", "--dry-run", "--emit-sql"])
        .arg(&f)
        .assert()
        .code(0);
    let Some(out) = bsqldb(&sb, &f) else { return };
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{all}");
    assert!(all.contains("rgs-repair: committed; 30 object(s)"), "{all}");
    assert_eq!(snapshot(&sb), snapshot(&fixed));
    tool(&sb).arg("check").assert().code(0);

    // One planned row changed after the script was written: an error, and
    // nothing changed.
    let sb = sandbox("migrated");
    tool(&sb)
        .args(["fix", "--dry-run", "--emit-sql"])
        .arg(dir.path().join("b.sql"))
        .assert()
        .code(0);
    sb.query(&format!(
        "UPDATE [dbo].[Queues] SET [OwnerPoolId] = '{POOL01}' WHERE [Name] = N'Payroll Queue'"
    ))
    .unwrap();
    let moved = snapshot(&sb);
    let out = bsqldb(&sb, &dir.path().join("b.sql")).unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains("not the 9 planned ones"), "{all}");
    assert!(!all.contains("committed;"), "{all}");
    assert_eq!(snapshot(&sb), moved);

    // On another database of the same name: refused before anything.
    let other = sandbox("migrated");
    let before = snapshot(&other);
    let out = bsqldb(&other, &f).unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        all.contains("it ran elsewhere and changed nothing"),
        "{all}"
    );
    assert_eq!(snapshot(&other), before);
}
