//! The findings beyond ownership (RGS005-RGS010, docs/findings.md) against
//! the `unlinked` scenario, their codes in both outputs, and `--fail-on`.

mod common;

use common::*;
use predicates::prelude::*;

/// (code, table, names) of each finding of a check document.
fn found(j: &serde_json::Value) -> Vec<(String, String, Vec<String>)> {
    j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let mut names: Vec<String> = f["objects"]
                .as_array()
                .map(|o| {
                    o.iter()
                        .map(|o| o["name"].as_str().unwrap().to_string())
                        .collect()
                })
                .or_else(|| {
                    f["pools"].as_array().map(|p| {
                        p.iter()
                            .map(|p| p["name"].as_str().unwrap().to_string())
                            .collect()
                    })
                })
                .or_else(|| {
                    f["links"]
                        .as_array()
                        .map(|l| l.iter().map(|l| l.as_str().unwrap().to_string()).collect())
                })
                .unwrap_or_default();
            names.sort();
            (
                f["code"].as_str().unwrap().to_string(),
                f["table"].as_str().unwrap_or("").to_string(),
                names,
            )
        })
        .collect()
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

#[test]
fn loose_ends_are_reported_with_codes_and_change_nothing() {
    let sb = sandbox("unlinked");
    let before = snapshot(&sb);
    // Informational and warning findings do not fail check by default.
    let j = check_json(&sb, 0);
    assert_eq!(j["healthy"], true);
    assert_eq!(
        found(&j),
        vec![
            (
                "RGS005".into(),
                "dbo.Workflows".into(),
                s(&["Helpdesk Escalations", "Service Desk Overflow"])
            ),
            (
                "RGS006".into(),
                "dbo.Agents".into(),
                s(&["David Okafor", "Samuel Ito", "Tanya Petrova"])
            ),
            (
                "RGS007".into(),
                "dbo.AgentGroups".into(),
                s(&["Facilities"])
            ),
            ("RGS008".into(), "dbo.Queues".into(), s(&["Payroll Queue"])),
            (
                "RGS009".into(),
                "".into(),
                s(&["lyncpool02.fabrikam.local"])
            ),
        ]
    );
    let f = &j["findings"][0];
    assert_eq!(f["severity"], "info");
    assert_eq!(f["kind"], "no_line_uri");
    assert_eq!(f["column"], "LineUri");
    assert!(f["remedy"]
        .as_str()
        .unwrap()
        .contains("Set-CsRgsWorkflow -LineUri"));
    assert_eq!(j["findings"][4]["severity"], "warning");
    assert_eq!(j["findings"][2]["used_by"], "dbo.Queues");
    // People see the code, the objects and the remedy.
    tool(&sb).arg("check").assert().code(0).stdout(
        predicate::str::contains(
            "i RGS007 dbo.AgentGroups: 1 object(s) no row of dbo.Queues uses:",
        )
        .and(predicate::str::contains("Facilities"))
        .and(predicate::str::contains(
            "? RGS009 owner pool(s) that own no object",
        ))
        .and(predicate::str::contains(
            "remedy: check the pool with `Get-CsPool`",
        )),
    );
    assert_eq!(snapshot(&sb), before);
}

#[test]
fn ownership_findings_carry_their_codes() {
    let sb = sandbox("migrated");
    let j = check_json(&sb, 3);
    assert_eq!(j["healthy"], false);
    let nulls: Vec<_> = j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "null_owner")
        .collect();
    assert!(!nulls.is_empty());
    for f in nulls {
        assert_eq!(f["code"], "RGS001");
        assert_eq!(f["severity"], "error");
        assert!(f["remedy"].as_str().unwrap().contains("rgs-repair fix"));
    }
    let j = check_json(&sandbox("dangling"), 3);
    assert!(j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["kind"] == "dangling_owner" && f["code"] == "RGS002"));
    let j = check_json(&sandbox("empty-pool"), 3);
    assert_eq!(j["findings"][0]["code"], "RGS003");
}

#[test]
fn fail_on_chooses_what_makes_check_exit_3() {
    let sb = sandbox("unlinked");
    for (args, code) in [
        (vec!["--fail-on", "info"], 3),
        (vec!["--fail-on", "warning"], 3),
        (vec!["--fail-on", "error"], 0),
        (vec!["--fail-on", "RGS001,rgs009"], 3),
        (vec!["--fail-on", "RGS001", "--fail-on", "RGS002"], 0),
        (vec!["--fail-on", "RGS008"], 3),
    ] {
        tool(&sb).arg("check").args(&args).assert().code(code);
    }
    tool(&sb)
        .args(["check", "--fail-on", "RGS999"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("neither a finding code"));
    // A list replaces the default: NULL owners then do not fail.
    let migrated = sandbox("migrated");
    tool(&migrated)
        .args(["check", "--fail-on", "RGS009"])
        .assert()
        .code(0);
    tool(&migrated).arg("check").assert().code(3);
}

#[test]
fn links_the_catalog_does_not_declare_are_not_guessed() {
    let sb = sandbox("unlinked");
    // The same memberships without foreign keys, and no queue -> group table.
    sb.query(
        "CREATE TABLE dbo.Members (GroupId uniqueidentifier NOT NULL, AgentId uniqueidentifier NOT NULL,
             CONSTRAINT PK_Members PRIMARY KEY (GroupId, AgentId));
         INSERT INTO dbo.Members (GroupId, AgentId) SELECT GroupId, AgentId FROM dbo.AgentGroupAgents;
         DROP TABLE dbo.AgentGroupAgents; DROP TABLE dbo.QueueAgentGroups;",
    )
    .unwrap();
    let j = check_json(&sb, 0);
    let codes: Vec<String> = found(&j).into_iter().map(|f| f.0).collect();
    assert_eq!(codes, s(&["RGS005", "RGS008", "RGS009", "RGS010"]));
    let f = j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "RGS010")
        .unwrap();
    assert_eq!(
        f["links"],
        serde_json::json!([
            "dbo.AgentGroups -> dbo.Agents",
            "dbo.Queues -> dbo.AgentGroups"
        ])
    );
}

#[test]
fn a_row_is_unused_only_when_no_declared_way_uses_it() {
    let sb = sandbox("unlinked");
    // A second way a queue uses groups; Facilities (in no queue's group
    // list) is used this way, and a new group is used no way at all.
    sb.query(
        "CREATE TABLE dbo.QueueOverflowGroups (QueueId uniqueidentifier NOT NULL, GroupId uniqueidentifier NOT NULL,
             CONSTRAINT PK_QueueOverflowGroups PRIMARY KEY (QueueId, GroupId),
             CONSTRAINT FK_QueueOverflowGroups_Queues FOREIGN KEY (QueueId) REFERENCES dbo.Queues (ID),
             CONSTRAINT FK_QueueOverflowGroups_AgentGroups FOREIGN KEY (GroupId) REFERENCES dbo.AgentGroups (ID));
         INSERT INTO dbo.QueueOverflowGroups (QueueId, GroupId)
             SELECT (SELECT TOP (1) q.ID FROM dbo.Queues AS q ORDER BY q.ID), g.ID FROM dbo.AgentGroups AS g WHERE g.Name = N'Facilities';
         INSERT INTO dbo.AgentGroups (ID, Name, RoutingMethod, AgentAlertTime, ParticipationPolicy, OwnerPoolId)
             SELECT 'F0000000-0000-0000-0000-000000000001', N'Spare', 0, 20, 0, OwnerPoolId FROM dbo.AgentGroups WHERE Name = N'Facilities';",
    )
    .unwrap();
    let j = check_json(&sb, 0);
    let unused: Vec<_> = found(&j).into_iter().filter(|f| f.0 == "RGS007").collect();
    assert_eq!(
        unused,
        vec![("RGS007".into(), "dbo.AgentGroups".into(), s(&["Spare"]))]
    );
    let f = j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "RGS007")
        .unwrap();
    assert_eq!(f["count"], 1);
}
