//! Large repairs (issue 10): reports name the first objects and count the
//! rest, `check --format json` lists every object (streamed, not held),
//! and the request counts stay fixed however many rows there are. The
//! memory and time goals are measured by `benches/repair.rs`, not here.

mod common;
use common::*;
use rgs_sandbox::{Sandbox, SandboxOptions};

/// The `migrated` scenario with `extra` more agent groups without an owner.
fn large(extra: u64) -> Sandbox {
    Sandbox::start(SandboxOptions {
        scenario: Some("migrated".into()),
        extra_objects: extra,
        ..SandboxOptions::default()
    })
    .expect("sandbox starts")
}

fn agent_group_nulls(sb: &Sandbox) -> i64 {
    nulls(sb, "AgentGroups")
}

/// Agent groups no queue uses (RGS007), counted here with the fixtures'
/// one link table, independently of the tool's statements.
fn unused_groups(sb: &Sandbox) -> i64 {
    scalar(
        sb,
        "SELECT COUNT(*) FROM [dbo].[AgentGroups] AS g WHERE NOT EXISTS (SELECT 1 FROM [dbo].[QueueAgentGroups] AS l WHERE l.[GroupId] = g.[ID])",
    )
}

/// The one finding of `doc` of that kind and table.
fn finding<'a>(doc: &'a serde_json::Value, kind: &str, table: &str) -> &'a serde_json::Value {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == kind && f["table"] == table)
        .unwrap_or_else(|| panic!("no {kind} finding of {table}"))
}

#[test]
fn check_for_people_names_the_first_objects_and_counts_the_rest() {
    let sb = large(2_500);
    let total = agent_group_nulls(&sb);
    let out = tool(&sb)
        .arg("check")
        .assert()
        .code(3)
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains(&format!(
            "dbo.AgentGroups: {total} object(s) without an owner pool"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("... and {} more", total - 20)),
        "{out}"
    );
}

#[test]
fn check_for_people_counts_the_unused_groups_and_names_the_first() {
    let sb = large(2_500);
    let unused = unused_groups(&sb);
    assert!(unused >= 2_500, "{unused}");
    let out = tool(&sb)
        .arg("check")
        .assert()
        .code(3)
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    let head = format!("RGS007 dbo.AgentGroups: {unused} object(s) no row of dbo.Queues uses:");
    let at = lines
        .iter()
        .position(|l| l.contains(&head))
        .unwrap_or_else(|| panic!("no line with {head:?} in\n{out}"));
    // The first 20, then the rest counted, not named.
    assert!(
        lines[at + 1..=at + 20]
            .iter()
            .all(|l| l.starts_with("      ") && !l.contains("...")),
        "{out}"
    );
    assert_eq!(
        lines[at + 21].trim(),
        format!(
            "... and {} more (all are listed with --format json)",
            unused - 20
        ),
        "{out}"
    );
}

#[test]
fn check_as_json_lists_every_unused_group_with_the_exact_count() {
    let sb = large(2_500);
    let unused = unused_groups(&sb) as usize;
    let doc = check_json(&sb, 3);
    let f = finding(&doc, "unused", "dbo.AgentGroups");
    assert_eq!(f["code"], "RGS007");
    assert_eq!(f["used_by"], "dbo.Queues");
    assert_eq!(f["count"], unused);
    let objects = f["objects"].as_array().unwrap();
    assert_eq!(objects.len(), unused);
    let keys: std::collections::HashSet<&str> = objects
        .iter()
        .map(|o| o["key"][0].as_str().unwrap())
        .collect();
    assert_eq!(keys.len(), unused, "every group once");
    assert!(objects.iter().any(|o| o["name"] == "Extra Group 0002500"));
    // In the server's key order.
    let first = scalar_text(
        &sb,
        "SELECT TOP (1) CAST(g.[ID] AS nvarchar(36)) FROM [dbo].[AgentGroups] AS g WHERE NOT EXISTS (SELECT 1 FROM [dbo].[QueueAgentGroups] AS l WHERE l.[GroupId] = g.[ID]) ORDER BY g.[ID]",
    );
    let listed = objects[0]["key"][0].as_str().unwrap();
    assert!(listed.eq_ignore_ascii_case(&first), "{listed} vs {first}");
    // The lists streamed before and after it are complete too.
    let nulls_listed = finding(&doc, "null_owner", "dbo.AgentGroups")["objects"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(nulls_listed, agent_group_nulls(&sb) as usize);
    let no_line_uri = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "RGS005")
        .count();
    assert_eq!(no_line_uri, 1, "the line URI finding before it is there");
}

#[test]
fn check_as_json_lists_every_object_in_key_order() {
    let sb = large(2_500);
    let total = agent_group_nulls(&sb) as usize;
    let doc = check_json(&sb, 3);
    let f = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "null_owner" && f["table"] == "dbo.AgentGroups")
        .expect("the agent groups finding");
    assert_eq!(f["count"], total);
    let objects = f["objects"].as_array().unwrap();
    assert_eq!(objects.len(), total);
    // Every other finding of the document is still there, after the long list.
    let queues = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "null_owner" && f["table"] == "dbo.Queues")
        .expect("the queues finding");
    assert_eq!(
        queues["objects"].as_array().unwrap().len(),
        nulls(&sb, "Queues") as usize
    );
    // The server's key order (uniqueidentifier order, which is not the text's).
    let keys: Vec<&str> = objects
        .iter()
        .map(|o| o["key"][0].as_str().unwrap())
        .collect();
    let first = scalar_text(
        &sb,
        "SELECT TOP (1) CAST([ID] AS nvarchar(36)) FROM [dbo].[AgentGroups] WHERE [OwnerPoolId] IS NULL ORDER BY [ID]",
    );
    assert!(
        keys[0].eq_ignore_ascii_case(&first),
        "{} vs {first}",
        keys[0]
    );
}

#[test]
fn the_round_trips_do_not_grow_with_the_rows() {
    // 2,500 groups without an owner, none in a queue: every finding that
    // names objects, the unused ones included, counted on the server.
    let sb = large(2_500);
    assert!(unused_groups(&sb) >= 2_500);
    for args in [
        &["check"][..],
        &["check", "--format", "json"],
        &["fix", "--dry-run"],
    ] {
        let before = sb.requests();
        let _ = tool(&sb).args(args).assert();
        let sent = sb.requests() - before;
        assert!(sent <= 3, "{args:?} sent {sent} requests");
    }
}

fn scalar_text(sb: &Sandbox, sql: &str) -> String {
    let rs = sb.query(sql).unwrap();
    match &rs.rows[0][0] {
        rgs_sandbox::types::Value::Text(s) => s.clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_large_fix_streams_every_row_into_the_journal_and_undo_puts_them_back() {
    let sb = large(12_000);
    let before = snapshot(&sb);
    let planned = all_nulls(&sb) as usize;
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("j.json");
    let start = sb.requests();
    tool(&sb)
        .args(["fix", "--yes", "--no-snapshot", "--journal"])
        .arg(&j)
        .assert()
        .code(0);
    let fix = sb.requests() - start;
    assert!(fix <= 6, "fix --yes sent {fix} requests");
    assert_eq!(all_nulls(&sb), 0);
    // The rows are in lines of their own, a few thousand to a line.
    let text = std::fs::read_to_string(&j).unwrap();
    let row_lines = text.lines().filter(|l| l.contains("\"rows\":[[")).count();
    assert!(row_lines >= 3, "{row_lines} lines of rows");
    let doc = journal(&j);
    let journalled: usize = doc["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["rows"].as_array().unwrap().len())
        .sum();
    assert_eq!(journalled, planned);
    assert_eq!(doc["status"], "committed");
    let start = sb.requests();
    tool(&sb)
        .args(["undo", "--yes", "--journal"])
        .arg(&j)
        .assert()
        .code(0);
    // The keys once (the large table by bulk load, three requests; the
    // small ones in shared INSERT batches), then a fixed number.
    let undo = sb.requests() - start;
    assert!(
        undo as usize <= 6 + planned / 1000,
        "undo --yes sent {undo} requests for {planned} keys"
    );
    assert_eq!(snapshot(&sb), before, "undo put every row back");
}

/// `undo --format json` of a large fix, as a dry run and committed: every
/// journalled row is listed once (read from the journal as the document is
/// written), one changed after the fix among them, and the counts the
/// document states before its rows add up.
#[test]
fn a_large_undo_in_json_lists_every_journalled_row() {
    let sb = large(12_000);
    let planned = all_nulls(&sb) as usize;
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("j.json");
    tool(&sb)
        .args(["fix", "--yes", "--no-snapshot", "--journal"])
        .arg(&j)
        .assert()
        .code(0);
    // Changed since the fix: left alone, and listed as such.
    sb.query(
        "UPDATE [dbo].[AgentGroups] SET [OwnerPoolId] = NULL WHERE [Name] = N'Extra Group 0006000'",
    )
    .unwrap();
    let undo = |args: &[&str]| {
        let out = tool(&sb)
            .args(["--format", "json", "undo", "--journal"])
            .arg(&j)
            .args(args)
            .assert()
            .code(0)
            .get_output()
            .stdout
            .clone();
        valid("undo", json(&out))
    };
    for (doc, restored) in [(undo(&["--dry-run"]), 0), (undo(&["--yes"]), planned - 1)] {
        let rows = doc["rows"].as_array().unwrap();
        assert_eq!(rows.len(), planned);
        let keys: std::collections::HashSet<(&str, &str)> = rows
            .iter()
            .map(|r| (r["table"].as_str().unwrap(), r["key"][0].as_str().unwrap()))
            .collect();
        assert_eq!(keys.len(), planned, "every row once");
        let left: Vec<&serde_json::Value> =
            rows.iter().filter(|r| r["state"] != "put_back").collect();
        assert_eq!(left.len(), 1, "{left:?}");
        assert_eq!(left[0]["name"], "Extra Group 0006000");
        assert_eq!(left[0]["state"], "changed_since_fix");
        assert_eq!(doc["restorable"], planned - 1);
        assert_eq!(doc["left_alone"], 1);
        assert_eq!(doc["restored"], restored);
    }
    assert_eq!(all_nulls(&sb) as usize, planned, "undo put the rows back");
}
