//! End to end: the built binary against a sandbox per test, through every
//! scenario and every exit code of check, fix and undo.

mod common;
use common::*;
use predicates::prelude::*;

const POOL01: &str = "292CE760-0931-5108-91AE-08CD2BFAD04C";
const POOL02: &str = "406DF8CA-10FF-5287-A934-EB972948497B";

#[test]
fn migrated_check_reports_every_null_owner_and_exits_3() {
    let sb = sandbox("migrated");
    let j = check_json(&sb, 3);
    assert_eq!(j["database"], "rgsconfig");
    assert_eq!(j["healthy"], false);
    assert_eq!(j["owner_pools"][0]["id"], POOL01);
    assert_eq!(j["owner_pools"][0]["name"], "lyncpool01.contoso.local");
    let table = |name: &str| {
        j["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["table"] == name)
            .unwrap_or_else(|| panic!("{name} missing"))
            .clone()
    };
    for (t, rows, null) in [
        ("AgentGroups", 12, 9),
        ("Queues", 12, 9),
        ("HolidaySets", 5, 5),
        ("HoursOfBusiness", 7, 7),
        ("Agents", 32, 0),
        ("Workflows", 12, 0),
    ] {
        let x = table(t);
        assert_eq!(
            (
                x["rows"].as_u64().unwrap(),
                x["null_owner"].as_u64().unwrap(),
                x["dangling_owner"].as_u64().unwrap()
            ),
            (rows, null, 0),
            "{t}"
        );
        assert_eq!(x["schema"], "dbo");
    }
    // Tables without an owner column are not object tables.
    assert!(j["tables"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["table"] != "AgentGroupAgents" && t["table"] != "OwnerPool"));
    let null_findings: u64 = j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "null_owner")
        .map(|f| f["objects"].as_array().unwrap().len() as u64)
        .sum();
    assert_eq!(null_findings, 30);
}

#[test]
fn migrated_check_human_output() {
    let sb = sandbox("migrated");
    let out = tool(&sb)
        .arg("check")
        .assert()
        .code(3)
        .get_output()
        .stdout
        .clone();
    let text = stable(&out, &sb);
    assert!(text.contains("Next step: rgs-repair"), "{text}");
    insta::assert_snapshot!("check_migrated", text);
}

#[test]
fn migrated_dry_run_changes_nothing_and_shows_the_sql() {
    let sb = sandbox("migrated");
    let before = snapshot(&sb);
    let out = tool(&sb)
        .args(["fix", "--dry-run"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let text = stable(&out, &sb);
    assert!(
        text.contains("SET XACT_ABORT ON;")
            && text.contains("WITH (UPDLOCK, HOLDLOCK)")
            && text.contains("Dry run: nothing was changed."),
        "{text}"
    );
    assert_eq!(snapshot(&sb), before);
    insta::assert_snapshot!("fix_dry_run_migrated", text);
}

#[test]
fn migrated_fix_then_check_then_undo_restores_exactly() {
    let sb = sandbox("migrated");
    let dir = tempfile::tempdir().unwrap();
    let jpath = dir.path().join("j.json");
    let before = snapshot(&sb);
    assert_eq!(all_nulls(&sb), 30);

    tool(&sb)
        .args(["fix", "--yes", "--journal"])
        .arg(&jpath)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("Committed: 30 object(s)"))
        .stdout(predicate::str::contains(jpath.to_str().unwrap()));
    assert_eq!(all_nulls(&sb), 0);
    let j = journal(&jpath);
    assert_eq!(j["status"], "committed");
    assert_eq!(
        j["pool"]["id"]["value"].as_str().unwrap().to_uppercase(),
        POOL01
    );
    let rows: usize = j["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["rows"].as_array().unwrap().len())
        .sum();
    assert_eq!(rows, 30);
    assert!(!std::fs::read_to_string(&jpath)
        .unwrap()
        .contains(sb.password()));

    tool(&sb)
        .arg("check")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("Healthy"));
    // A second fix has nothing to do.
    tool(&sb)
        .args(["fix", "--yes"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("Nothing to do"));

    tool(&sb)
        .args(["undo", "--yes", "--journal"])
        .arg(&jpath)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("30 row(s) put back"));
    assert_eq!(
        snapshot(&sb),
        before,
        "undo must restore exactly the journalled rows"
    );
    let undone = undo_journal(&jpath);
    assert_eq!(
        (undone["kind"].as_str(), undone["status"].as_str()),
        (Some("undo"), Some("committed"))
    );
    // The same journal cannot be undone twice.
    tool(&sb)
        .args(["undo", "--yes", "--journal"])
        .arg(&jpath)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("already undone"));
}

#[test]
fn fix_without_terminal_or_yes_refuses_with_4() {
    let sb = sandbox("migrated");
    let dir = tempfile::tempdir().unwrap();
    let before = snapshot(&sb);
    tool(&sb)
        .current_dir(dir.path())
        .arg("fix")
        .assert()
        .code(4)
        .stderr(predicate::str::contains("no terminal to confirm"));
    assert_eq!(snapshot(&sb), before);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no journal without a change"
    );
}

#[test]
fn fix_default_journal_path_is_in_the_working_directory() {
    let sb = sandbox("migrated");
    let dir = tempfile::tempdir().unwrap();
    tool(&sb)
        .current_dir(dir.path())
        .args(["fix", "--yes"])
        .assert()
        .code(0);
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    // The journal, and the snapshot of the changed tables beside it.
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        names[0].starts_with("rgs-repair-journal-rgsconfig-") && names[0].ends_with(".json"),
        "{names:?}"
    );
    assert_eq!(
        names[1],
        names[0].replace(".json", ".snapshot"),
        "{names:?}"
    );
}

#[test]
fn fix_table_scope_changes_only_those_tables() {
    let sb = sandbox("migrated");
    let dir = tempfile::tempdir().unwrap();
    tool(&sb)
        .args([
            "fix",
            "--yes",
            "--table",
            "AgentGroups",
            "--table",
            "dbo.queues",
            "--journal",
        ])
        .arg(dir.path().join("j.json"))
        .assert()
        .code(0);
    assert_eq!(
        (
            nulls(&sb, "AgentGroups"),
            nulls(&sb, "Queues"),
            nulls(&sb, "HolidaySets"),
            nulls(&sb, "HoursOfBusiness")
        ),
        (0, 0, 5, 7)
    );
    tool(&sb)
        .args([
            "fix",
            "--yes",
            "--exclude-table",
            "HolidaySets",
            "--journal",
        ])
        .arg(dir.path().join("k.json"))
        .assert()
        .code(0);
    assert_eq!(
        (nulls(&sb, "HolidaySets"), nulls(&sb, "HoursOfBusiness")),
        (5, 0)
    );
    tool(&sb)
        .args(["fix", "--dry-run", "--table", "NoSuchTable"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("dbo.AgentGroups"));
}

#[test]
fn healthy_check_exits_0_and_fix_has_nothing_to_do() {
    let sb = sandbox("healthy");
    let j = check_json(&sb, 0);
    assert_eq!(j["healthy"], true);
    // Only informational findings (SIP-only workflows, agents in no group).
    assert!(j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["severity"] == "info"));
    tool(&sb)
        .args(["fix", "--dry-run"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("Nothing to do"));
    tool(&sb)
        .args(["fix", "--yes"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("Nothing to do"));
}

#[test]
fn multi_pool_needs_a_pool_and_fixes_with_the_chosen_one() {
    let sb = sandbox("multi-pool");
    let j = check_json(&sb, 3);
    let pools = j["owner_pools"].as_array().unwrap();
    assert_eq!(pools.len(), 2);
    let owned = |id: &str| {
        pools.iter().find(|p| p["id"] == id).unwrap()["objects"]
            .as_u64()
            .unwrap()
    };
    assert_eq!((owned(POOL01), owned(POOL02)), (28, 19));
    assert!(
        j["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["severity"] == "error")
            .all(|f| f["kind"] == "null_owner"),
        "several pools are not a finding"
    );

    let before = snapshot(&sb);
    tool(&sb).args(["fix", "--yes"]).assert().code(2).stderr(
        predicate::str::contains("--pool")
            .and(predicate::str::contains("lyncpool02.fabrikam.local")),
    );
    tool(&sb)
        .args(["fix", "--yes", "--pool", "nosuchpool.contoso.local"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("matches no row"));
    assert_eq!(snapshot(&sb), before);

    let dir = tempfile::tempdir().unwrap();
    let jpath = dir.path().join("j.json");
    tool(&sb)
        .args([
            "fix",
            "--yes",
            "--pool",
            "LYNCPOOL02.fabrikam.local",
            "--journal",
        ])
        .arg(&jpath)
        .assert()
        .code(0);
    assert_eq!(all_nulls(&sb), 0);
    let owned02 = scalar(
        &sb,
        &format!("SELECT COUNT(*) FROM [dbo].[AgentGroups] WHERE [OwnerPoolId] = '{POOL02}'"),
    );
    assert_eq!(owned02, 3 + 3);
    tool(&sb)
        .args(["undo", "--yes", "--journal"])
        .arg(&jpath)
        .assert()
        .code(0);
    assert_eq!(snapshot(&sb), before);
}

#[test]
fn multi_pool_by_id() {
    let sb = sandbox("multi-pool");
    let dir = tempfile::tempdir().unwrap();
    tool(&sb)
        .args([
            "fix",
            "--yes",
            "--pool",
            &POOL01.to_lowercase(),
            "--journal",
        ])
        .arg(dir.path().join("j.json"))
        .assert()
        .code(0);
    assert_eq!(all_nulls(&sb), 0);
}

#[test]
fn dangling_owners_are_reported_and_left_alone() {
    let sb = sandbox("dangling");
    let j = check_json(&sb, 3);
    let dangling: u64 = j["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["dangling_owner"].as_u64().unwrap())
        .sum();
    assert_eq!(dangling, 15);
    assert!(j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error")
        .all(|f| f["kind"] == "dangling_owner"));
    let before = snapshot(&sb);
    tool(&sb).args(["fix", "--yes"]).assert().code(0).stdout(
        predicate::str::contains("Nothing to do").and(predicate::str::contains("15 object(s)")),
    );
    assert_eq!(snapshot(&sb), before);
}

#[test]
fn empty_owner_pool_table() {
    let sb = sandbox("empty-pool");
    let j = check_json(&sb, 3);
    assert_eq!(j["findings"][0]["kind"], "no_owner_pools");
    let before = snapshot(&sb);
    tool(&sb)
        .args(["fix", "--yes"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("dbo.OwnerPool is empty"));
    assert_eq!(snapshot(&sb), before);
}

#[test]
fn a_database_that_is_not_rgsconfig_is_refused() {
    let sb = sandbox("migrated");
    tool(&sb)
        .args(["-d", "master", "check"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no dbo.OwnerPool table"));
    tool(&sb)
        .args(["-d", "master", "fix", "--yes"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no dbo.OwnerPool table"));
}

#[test]
fn undo_leaves_rows_changed_since_the_fix_alone() {
    let sb = sandbox("migrated");
    let dir = tempfile::tempdir().unwrap();
    let jpath = dir.path().join("j.json");
    tool(&sb)
        .args(["fix", "--yes", "--journal"])
        .arg(&jpath)
        .assert()
        .code(0);
    // An administrator moves one fixed group to another owner afterwards.
    let j = journal(&jpath);
    let groups = j["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "AgentGroups")
        .unwrap();
    // A row is [key values..., name].
    let id = groups["rows"][0][0].as_str().unwrap().to_uppercase();
    sb.query(&format!(
        "UPDATE [dbo].[AgentGroups] SET [OwnerPoolId] = '{POOL02}' WHERE [ID] = '{id}'"
    ))
    .unwrap();

    tool(&sb)
        .args(["undo", "--dry-run", "--journal"])
        .arg(&jpath)
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "left alone: changed since the fix",
        ));
    assert_eq!(all_nulls(&sb), 0, "dry run changes nothing");
    tool(&sb)
        .args(["undo", "--yes", "--journal"])
        .arg(&jpath)
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "29 row(s) put back to OwnerPoolId NULL; 1 left alone",
        ));
    assert_eq!(all_nulls(&sb), 29);
    assert_eq!(scalar(&sb, &format!("SELECT COUNT(*) FROM [dbo].[AgentGroups] WHERE [ID] = '{id}' AND [OwnerPoolId] = '{POOL02}'")), 1);
}

#[test]
fn undo_without_terminal_or_yes_refuses_with_4() {
    let sb = sandbox("migrated");
    let dir = tempfile::tempdir().unwrap();
    let jpath = dir.path().join("j.json");
    tool(&sb)
        .args(["fix", "--yes", "--journal"])
        .arg(&jpath)
        .assert()
        .code(0);
    tool(&sb)
        .args(["undo", "--journal"])
        .arg(&jpath)
        .assert()
        .code(4);
    assert_eq!(all_nulls(&sb), 0);
}

#[test]
fn bad_journals_are_refused_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "truncated.json",
            "{\"format\": \"rgs-repair-journal\", \"version\": 1, \"tab",
        ),
        ("foreign.json", "{\"hello\": 1}"),
        ("empty.json", ""),
    ];
    for (name, text) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        // Port 9 on loopback: nothing listens; reaching the connection step would say "could not connect".
        let mut c = assert_cmd::Command::cargo_bin("rgs-repair").unwrap();
        c.env_clear()
            .env("RGS_PASSWORD", "x")
            .args([
                "-S",
                "127.0.0.1,9",
                "-U",
                "sa",
                "undo",
                "--yes",
                "--journal",
            ])
            .arg(&p);
        c.assert().code(1).stderr(
            predicate::str::contains("not a usable rgs-repair journal")
                .and(predicate::str::contains("could not connect").not()),
        );
    }
    let mut c = assert_cmd::Command::cargo_bin("rgs-repair").unwrap();
    c.env_clear()
        .args(["undo", "--journal"])
        .arg(dir.path().join("missing.json"));
    c.assert()
        .code(1)
        .stderr(predicate::str::contains("cannot read the journal"));
}

#[test]
fn wrong_password_is_one_sentence_and_exit_1() {
    let sb = sandbox("healthy");
    tool(&sb)
        .env("RGS_PASSWORD", "wrong-password")
        .arg("check")
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("login failed for 'sa'")
                .and(predicate::str::contains("18456")),
        );
}

#[test]
fn unknown_database_is_named() {
    let sb = sandbox("healthy");
    tool(&sb)
        .args(["-d", "nosuchdb", "check"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot open database 'nosuchdb'"));
}

#[test]
fn closed_port_is_one_sentence_and_exit_1() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    let mut c = assert_cmd::Command::cargo_bin("rgs-repair").unwrap();
    c.env_clear().env("RGS_PASSWORD", "x").args([
        "-S",
        &format!("127.0.0.1,{port}"),
        "-U",
        "sa",
        "--connect-timeout",
        "5",
        "check",
    ]);
    c.assert()
        .code(1)
        .stderr(predicate::str::contains("nothing accepts connections"));
}

#[test]
fn usage_errors_exit_2() {
    let mut c = assert_cmd::Command::cargo_bin("rgs-repair").unwrap();
    c.env_clear()
        .args(["fix", "--no-such-flag"])
        .assert()
        .code(2);
    let mut c = assert_cmd::Command::cargo_bin("rgs-repair").unwrap();
    c.env_clear()
        .args(["check"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no server given"));
}

#[test]
fn connection_string_works_and_is_never_echoed() {
    let sb = sandbox("migrated");
    let mut c = assert_cmd::Command::cargo_bin("rgs-repair").unwrap();
    let out = c
        .env_clear()
        .args([
            "--connection-string",
            &sb.ado_connection_string(),
            "-v",
            "-v",
            "-v",
            "check",
        ])
        .assert()
        .code(3)
        .get_output()
        .clone();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains(sb.password()), "password leaked");
}

#[test]
fn help_documents_exit_codes_and_flags() {
    let mut c = assert_cmd::Command::cargo_bin("rgs-repair").unwrap();
    c.arg("--help").assert().code(0).stdout(
        predicate::str::contains("Exit codes:")
            .and(predicate::str::contains("--trust-server-certificate")),
    );
    for sub in ["check", "fix", "undo"] {
        let mut c = assert_cmd::Command::cargo_bin("rgs-repair").unwrap();
        c.args([sub, "--help"]).assert().code(0).stdout(
            predicate::str::contains("Exit codes:").and(predicate::str::contains("--server")),
        );
    }
}

#[test]
fn demo_tells_the_whole_story() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = assert_cmd::Command::cargo_bin("rgs-repair").unwrap();
    c.env_clear()
        .current_dir(dir.path())
        .arg("demo")
        .assert()
        .code(0)
        .stdout(
            predicate::str::contains("==> 1. Look")
                .and(predicate::str::contains("Dry run: nothing was changed."))
                .and(predicate::str::contains("Committed: 30 object(s)"))
                .and(predicate::str::contains("Healthy"))
                .and(predicate::str::contains("Committed: 30 row(s) put back")),
        );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "the demo leaves no files behind"
    );
}
