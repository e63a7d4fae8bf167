//! `snapshot` and `diff` end to end: the built binary against in-process
//! sandboxes. Every row of every table comes back byte for byte (NULL and
//! the empty string apart), a folder in use is refused, memory stays
//! bounded at 100k rows, and diff names exactly the rows a fix changed.

mod common;

use common::*;
use rgs_repair::snapshot::rfc4180;
use rgs_sandbox::types::Value;
use rgs_sandbox::Sandbox;
use std::collections::HashMap;
use std::path::Path;

/// A value the sandbox returned, as the snapshot must write it.
fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::Bit(b) => Some(if *b { "1" } else { "0" }.into()),
        Value::Int(i) => Some(i.to_string()),
        Value::Guid(g) => Some(g.hyphenated().to_string().to_uppercase()),
        Value::Text(s) => Some(s.clone()),
        other => panic!("no text form in this test for {other:?}"),
    }
}

/// The records of a snapshot CSV: header, then rows.
fn csv(path: &Path) -> (Vec<String>, Vec<Vec<Option<String>>>) {
    let mut r = rfc4180::Reader::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let header = r
        .next_record()
        .unwrap()
        .unwrap()
        .into_iter()
        .map(Option::unwrap)
        .collect();
    let mut rows = Vec::new();
    while let Some(rec) = r.next_record().unwrap() {
        rows.push(rec);
    }
    (header, rows)
}

fn schema(dir: &Path) -> serde_json::Value {
    json(&std::fs::read(dir.join("schema.json")).unwrap())
}

/// `snapshot --out DIR`, which must succeed.
fn snap(sb: &Sandbox, dir: &Path) {
    tool(sb)
        .args(["snapshot", "--out"])
        .arg(dir)
        .assert()
        .code(0);
}

#[test]
fn every_row_of_every_table_comes_back_exactly() {
    let sb = sandbox("migrated");
    let long = "x".repeat(1000);
    sb.query(&format!(
        "INSERT INTO dbo.Queues (ID, Name, Description, OwnerPoolId) VALUES
         ('00000000-0000-0000-0000-0000000000A1', N'null description', NULL, NULL),
         ('00000000-0000-0000-0000-0000000000a2', N'empty description', N'', NULL),
         ('00000000-0000-0000-0000-0000000000A3', N'  comma, \"quote\" and
new line ', N'Zoë, 東京 🎧 ''single''', NULL),
         ('00000000-0000-0000-0000-0000000000A4', N'\"', N'{long}', NULL)"
    ))
    .unwrap();
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("before");
    snap(&sb, &dir);
    let s = schema(&dir);
    let tables = s["tables"].as_array().unwrap();
    assert_eq!(tables.len(), 10, "every user table, owner column or not");
    let mut total = 0;
    for t in tables {
        let name = format!(
            "[{}].[{}]",
            t["schema"].as_str().unwrap(),
            t["name"].as_str().unwrap()
        );
        let (header, mut rows) = csv(&dir.join(t["file"].as_str().unwrap()));
        let cols: Vec<&str> = t["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(header, cols, "{name}");
        let rs = sb.query(&format!("SELECT * FROM {name}")).unwrap();
        let mut want: Vec<Vec<Option<String>>> = rs
            .rows
            .iter()
            .map(|r| r.iter().map(as_text).collect())
            .collect();
        assert_eq!(t["rows"].as_u64().unwrap() as usize, want.len(), "{name}");
        rows.sort();
        want.sort();
        assert_eq!(rows, want, "{name}");
        total += rows.len();
    }
    assert_eq!(total, 148 + 4);
    // The rows as written: NULL unquoted, the empty string quoted, GUIDs
    // upper case, strings byte for byte.
    let queues = tables.iter().find(|t| t["name"] == "Queues").unwrap();
    let text = std::fs::read_to_string(dir.join(queues["file"].as_str().unwrap())).unwrap();
    assert!(
        text.contains("\r\n\"00000000-0000-0000-0000-0000000000A1\",\"null description\",,"),
        "{text}"
    );
    assert!(
        text.contains("\r\n\"00000000-0000-0000-0000-0000000000A2\",\"empty description\",\"\","),
        "{text}"
    );
    assert!(
        text.contains("\"  comma, \"\"quote\"\" and\nnew line \",\"Zoë, 東京 🎧 'single'\""),
        "{text}"
    );
    assert!(text.contains(&format!("\"\"\"\",\"{long}\"")));
    // Any RFC 4180 reader reads the files (NULL as an empty field).
    let mut r = ::csv::ReaderBuilder::new()
        .from_path(dir.join(queues["file"].as_str().unwrap()))
        .unwrap();
    assert_eq!(r.records().count(), 16);
    // Identity, isolation and the dialect are recorded.
    assert_eq!(s["server"]["identity"]["database"], "rgsconfig");
    assert_eq!(
        s["isolation"]["level"],
        "READ COMMITTED + TABLOCK, HOLDLOCK"
    );
    assert_eq!(s["csv"]["null"], "an empty unquoted field");
    assert_eq!(s["foreign_keys_declared"], true);
    let w = tables.iter().find(|t| t["name"] == "Workflows").unwrap();
    assert_eq!(w["primary_key"], serde_json::json!(["ID"]));
    assert_eq!(w["foreign_keys"].as_array().unwrap().len(), 3);
    // The temporary folder is gone.
    let names: Vec<String> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["before"]);
}

#[test]
fn types_are_written_as_sql_server_shows_them() {
    let sb = sandbox("healthy");
    sb.query(
        "CREATE TABLE dbo.Typed (K bigint NOT NULL, F float NULL, D datetime NULL, D2 datetime2 NULL, B varbinary(16) NULL, T tinyint NULL, V varchar(20) NULL, CONSTRAINT PK_Typed PRIMARY KEY (K));
         INSERT INTO dbo.Typed VALUES (9000000000, 0.1, '2024-02-29 13:45:30.007', '2024-02-29 13:45:30.1234567', 0x00AB, 255, 'plain'),
                                      (1, NULL, NULL, NULL, 0x, NULL, '')",
    )
    .unwrap();
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("s");
    snap(&sb, &dir);
    let s = schema(&dir);
    let t = s["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "Typed")
        .unwrap()
        .clone();
    let (_, rows) = csv(&dir.join(t["file"].as_str().unwrap()));
    let o = |v: &str| Some(v.to_string());
    assert_eq!(rows[0], [o("1"), None, None, None, o("0x"), None, o("")]);
    assert_eq!(
        rows[1],
        [
            o("9000000000"),
            o("0.1"),
            o("2024-02-29 13:45:30.007"),
            o("2024-02-29 13:45:30.1234567"),
            o("0x00AB"),
            o("255"),
            o("plain")
        ]
    );
}

#[test]
fn a_folder_in_use_is_refused_unless_forced() {
    let sb = sandbox("migrated");
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("s");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), "mine").unwrap();
    let out = tool(&sb)
        .args(["snapshot", "--out"])
        .arg(&dir)
        .assert()
        .code(2)
        .get_output()
        .clone();
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
    assert_eq!(
        std::fs::read_to_string(dir.join("notes.txt")).unwrap(),
        "mine"
    );
    assert_eq!(sb.connections(), 0, "refused before connecting");
    tool(&sb)
        .args(["snapshot", "--force", "--out"])
        .arg(&dir)
        .assert()
        .code(0);
    assert!(!dir.join("notes.txt").exists() && dir.join("schema.json").exists());
    // An empty folder is fine without --force.
    let empty = root.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    snap(&sb, &empty);
    let names: Vec<String> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn inventory_groups_objects_by_pool_and_follows_declared_keys() {
    let sb = sandbox("migrated");
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("s");
    snap(&sb, &dir);
    let md = std::fs::read_to_string(dir.join("inventory.md")).unwrap();
    let pool = md
        .find("## Pool lyncpool01.contoso.local (292CE760-0931-5108-91AE-08CD2BFAD04C)")
        .expect(&md);
    let none = md.find("## No owner").expect(&md);
    assert!(pool < none);
    // An owned workflow with its URIs and its queue (a declared key).
    let main = md.find("- **Main Reception** PrimaryUri `sip:reception@contoso.com` LineUri `tel:+14255550000`").expect(&md);
    assert!(pool < main && main < none);
    assert!(md.contains("Queues: Reception Queue"));
    // A group without owner, with its agents through AgentGroupAgents.
    let payroll = md
        .find("- **Payroll** (OwnerPoolId NULL); Agents: ")
        .expect(&md);
    assert!(payroll > none);
    assert!(md.contains("| dbo.AgentGroupAgents | 54 |"));
}

#[test]
fn without_declared_foreign_keys_the_inventory_says_so() {
    let sb = sandbox("migrated");
    // The three tables that declare keys, made again without them.
    sb.query(
        "DROP TABLE dbo.Workflows;
         DROP TABLE dbo.QueueAgentGroups;
         DROP TABLE dbo.AgentGroupAgents;
         CREATE TABLE dbo.AgentGroupAgents (GroupId uniqueidentifier NOT NULL, AgentId uniqueidentifier NOT NULL, CONSTRAINT PK_AgentGroupAgents PRIMARY KEY (GroupId, AgentId));
         INSERT INTO dbo.AgentGroupAgents SELECT g.ID, a.ID FROM dbo.AgentGroups AS g CROSS JOIN dbo.Agents AS a;",
    )
    .unwrap();
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("s");
    snap(&sb, &dir);
    let md = std::fs::read_to_string(dir.join("inventory.md")).unwrap();
    assert!(md.contains("The catalog declares no foreign keys"), "{md}");
    assert!(
        !md.contains("Agents: "),
        "no agents linked to groups by guess:\n{md}"
    );
    let pool = md.find("## Pool lyncpool01.contoso.local").expect(&md);
    let owned = md.find("- **Billing Enquiries**").expect(&md);
    let lost = md.find("- **Payroll** (OwnerPoolId NULL)").expect(&md);
    assert!(pool < owned && owned < lost, "{md}");
    assert_eq!(schema(&dir)["foreign_keys_declared"], false);
}

/// The rows of a `diff --format json` document's table, by name.
fn diff_json(sb: &Sandbox, args: &[&dyn AsRef<std::ffi::OsStr>], code: i32) -> serde_json::Value {
    let mut c = tool(sb);
    c.args(["diff", "--format", "json"]);
    for a in args {
        c.arg(a);
    }
    json(&c.assert().code(code).get_output().stdout)
}

#[test]
fn diff_names_exactly_the_rows_a_fix_changed() {
    let sb = sandbox("migrated");
    let root = tempfile::tempdir().unwrap();
    let (a, b) = (root.path().join("a"), root.path().join("b"));
    snap(&sb, &a);
    // Nothing changed yet: against itself and against the database.
    let same = diff_json(&sb, &[&a, &a], 0);
    assert_eq!(same["tables"], serde_json::json!([]));
    diff_json(&sb, &[&a, &"--live"], 0);
    fix_yes(&sb, &root.path().join("j.json"));
    snap(&sb, &b);
    let d = diff_json(&sb, &[&a, &b], 3);
    assert_eq!(d["totals"]["changed"], 30);
    assert_eq!(d["totals"]["added"], 0);
    assert_eq!(d["totals"]["removed"], 0);
    let mut changed = 0;
    for t in d["tables"].as_array().unwrap() {
        let name = t["table"].as_str().unwrap().strip_prefix("dbo.").unwrap();
        assert_eq!(t["matched_by"], "primary key (ID)");
        for c in t["changed"].as_array().unwrap() {
            let id = c["key"]["ID"].as_str().unwrap();
            assert_eq!(
                c["columns"],
                serde_json::json!({"OwnerPoolId": [null, "292CE760-0931-5108-91AE-08CD2BFAD04C"]}),
                "{name} {id}"
            );
            // It was NULL before the fix, in the database as in A.
            let file = std::fs::read_dir(&a)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .find(|f| f.ends_with(&format!("-dbo.{name}.csv")))
                .unwrap();
            let was = csv(&a.join(file));
            assert!(was
                .1
                .iter()
                .any(|r| r[0].as_deref() == Some(id) && r.last().unwrap().is_none()));
            changed += 1;
        }
    }
    assert_eq!(changed, 30);
    // The live database is B.
    let live = diff_json(&sb, &[&b, &"--live"], 0);
    assert_eq!(live["b"], "live");
    let live = diff_json(&sb, &[&a, &"--live"], 3);
    assert_eq!(live["totals"]["changed"], 30);
    // Human output, one line per row.
    let out = tool(&sb)
        .arg("diff")
        .arg(&a)
        .arg(&b)
        .assert()
        .code(3)
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains(
            "dbo.AgentGroups: 0 added, 0 removed, 9 changed (matched by primary key (ID))"
        ),
        "{out}"
    );
    assert!(
        out.contains("OwnerPoolId: NULL -> \"292CE760-0931-5108-91AE-08CD2BFAD04C\""),
        "{out}"
    );
}

#[test]
fn diff_reports_added_removed_and_keyless_rows() {
    let sb = sandbox("healthy");
    sb.query("CREATE TABLE dbo.Log (Line nvarchar(20) NULL)")
        .unwrap();
    sb.query("INSERT INTO dbo.Log VALUES (N'a'), (N'a'), (NULL), (N'')")
        .unwrap();
    let root = tempfile::tempdir().unwrap();
    let (a, b) = (root.path().join("a"), root.path().join("b"));
    snap(&sb, &a);
    sb.query("DELETE FROM dbo.DbConfigInt").unwrap();
    sb.query("INSERT INTO dbo.DbConfigInt VALUES (N'new', 7)")
        .unwrap();
    sb.query("INSERT INTO dbo.Log VALUES (N'a'), (N'b')")
        .unwrap();
    sb.query("DELETE FROM dbo.Log WHERE Line IS NULL").unwrap();
    snap(&sb, &b);
    let d = diff_json(&sb, &[&a, &b], 3);
    let t = |n: &str| {
        d["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["table"] == n)
            .unwrap()
            .clone()
    };
    let cfg = t("dbo.DbConfigInt");
    assert_eq!(
        cfg["added"],
        serde_json::json!([{"Name": "new", "Value": "7"}])
    );
    assert_eq!(cfg["removed"].as_array().unwrap().len(), 1);
    let log = t("dbo.Log");
    assert_eq!(log["matched_by"], "whole row (no primary key)");
    assert_eq!(
        log["added"],
        serde_json::json!([{"Line": "a"}, {"Line": "b"}])
    );
    assert_eq!(
        log["removed"],
        serde_json::json!([{"Line": null}]),
        "NULL and the empty string apart"
    );
    // Not snapshots: usage errors.
    tool(&sb)
        .arg("diff")
        .arg(root.path())
        .arg(&b)
        .assert()
        .code(2);
    tool(&sb).arg("diff").arg(&a).assert().code(2);
}

/// Runs `cmd` and returns its output and its peak resident memory in KiB
/// (VmHWM, read from /proc while it runs). Not getrusage: a child's
/// ru_maxrss includes the parent's memory at the moment of the spawn.
#[cfg(target_os = "linux")]
fn run_measured(mut cmd: std::process::Command) -> (std::process::Output, u64) {
    use std::process::Stdio;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    while child.try_wait().unwrap().is_none() {
        if let Ok(s) = std::fs::read_to_string(&status) {
            if let Some(kib) = s
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak = peak.max(kib);
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    (child.wait_with_output().unwrap(), peak)
}

#[cfg(target_os = "linux")]
#[test]
fn a_hundred_thousand_rows_round_trip_in_bounded_memory() {
    let sb = sandbox("healthy");
    // Rows of about 1 KB: collected in memory they would take well over the
    // bound; streamed, memory does not grow with them.
    let label = "é".repeat(500);
    sb.query(&format!(
        "CREATE TABLE dbo.Digits (d int NOT NULL, CONSTRAINT PK_Digits PRIMARY KEY (d));
         INSERT INTO dbo.Digits VALUES (0),(1),(2),(3),(4),(5),(6),(7),(8),(9);
         CREATE TABLE dbo.Big (ID int NOT NULL, G uniqueidentifier NOT NULL, Label nvarchar(1000) NULL, CONSTRAINT PK_Big PRIMARY KEY (ID));
         INSERT INTO dbo.Big (ID, G, Label)
         SELECT a.d + 10 * b.d + 100 * c.d + 1000 * e.d + 10000 * f.d, NEWID(), N'{label}'
         FROM dbo.Digits AS a CROSS JOIN dbo.Digits AS b CROSS JOIN dbo.Digits AS c
              CROSS JOIN dbo.Digits AS e CROSS JOIN dbo.Digits AS f;
         UPDATE dbo.Big SET Label = NULL WHERE ID = 7;
         UPDATE dbo.Big SET Label = N'' WHERE ID = 8;"
    ))
    .unwrap();
    assert_eq!(scalar(&sb, "SELECT COUNT(*) FROM dbo.Big"), 100_000);
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("big");
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("rgs-repair"));
    cmd.env_clear()
        .env("RGS_PASSWORD", sb.password())
        .args([
            "-S",
            &format!("127.0.0.1,{}", sb.addr().port()),
            "-U",
            "sa",
            "-C",
        ])
        .args(["--command-timeout", "600", "snapshot", "--out"])
        .arg(&dir);
    let (out, peak) = run_measured(cmd);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(peak > 0, "the peak was read");
    assert!(peak < 64 * 1024, "peak resident memory {peak} KiB");
    let s = schema(&dir);
    let t = s["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "Big")
        .unwrap()
        .clone();
    assert_eq!(t["rows"], 100_000);
    let rs = sb.query("SELECT ID, G, Label FROM dbo.Big").unwrap();
    let want: HashMap<String, Vec<Option<String>>> = rs
        .rows
        .iter()
        .map(|r| (as_text(&r[0]).unwrap(), r.iter().map(as_text).collect()))
        .collect();
    let (_, rows) = csv(&dir.join(t["file"].as_str().unwrap()));
    assert_eq!(rows.len(), 100_000);
    for r in &rows {
        assert_eq!(&want[r[0].as_ref().unwrap()], r);
    }
    assert_eq!(want["7"][2], None);
    assert_eq!(want["8"][2].as_deref(), Some(""));
}

#[test]
fn help_documents_the_exit_codes() {
    for (sub, code) in [
        ("snapshot", "2  usage error (DIR is not empty"),
        ("diff", "3  differences found"),
    ] {
        let out = assert_cmd::Command::cargo_bin("rgs-repair")
            .unwrap()
            .args([sub, "--help"])
            .assert()
            .code(0)
            .get_output()
            .stdout
            .clone();
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.contains("Exit codes:") && out.contains(code) && out.contains("--server"),
            "{out}"
        );
    }
}

#[test]
fn fix_writes_a_snapshot_of_what_it_changes_beside_its_journal() {
    let sb = sandbox("migrated");
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("j.json");
    fix_yes(&sb, &j);
    let snap = dir.path().join("j.snapshot");
    let s = schema(&snap);
    let tables: Vec<String> = s["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    // Exactly the tables the fix changed, as they were before it.
    assert_eq!(
        tables,
        ["AgentGroups", "HolidaySets", "HoursOfBusiness", "Queues"]
    );
    let nulls_before: u64 = s["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let file = snap.join(t["file"].as_str().unwrap());
            let (header, rows) = csv(&file);
            let owner = header.iter().position(|h| h == "OwnerPoolId").unwrap();
            rows.iter().filter(|r| r[owner].is_none()).count() as u64
        })
        .sum();
    assert_eq!(nulls_before, 30);
    let doc = journal(&j);
    assert_eq!(
        doc["snapshot"].as_str().map(std::path::PathBuf::from),
        Some(snap.clone())
    );
    // And a diff against the database now shows exactly the fixed rows.
    let out = tool(&sb)
        .args(["diff", "--format", "json"])
        .arg(&snap)
        .arg("--live")
        .assert()
        .code(3)
        .get_output()
        .stdout
        .clone();
    assert_eq!(json(&out)["totals"]["changed"], 30);

    // --no-snapshot writes none and the journal names none.
    let sb = sandbox("migrated");
    let k = dir.path().join("k.json");
    tool(&sb)
        .args(["fix", "--yes", "--no-snapshot", "--journal"])
        .arg(&k)
        .assert()
        .code(0);
    assert!(!dir.path().join("k.snapshot").exists());
    assert!(journal(&k).get("snapshot").is_none());
}

#[test]
fn a_snapshot_folder_in_the_way_is_refused_before_connecting() {
    let sb = sandbox("migrated");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("j.snapshot")).unwrap();
    std::fs::write(dir.path().join("j.snapshot/x"), "x").unwrap();
    let before = sb.connections();
    tool(&sb)
        .current_dir(dir.path())
        .args(["fix", "--yes", "--journal", "j.json"])
        .assert()
        .code(2);
    assert_eq!(sb.connections(), before);
    assert!(!dir.path().join("j.json").exists());
}
