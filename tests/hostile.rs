//! Odd and hostile catalogs: names with `]`, quotes, spaces, semicolons and
//! non-ASCII letters, `OwnerPoolId` in other cases, pool IDs of every type,
//! composite keys, tables without a key, and 100,000 rows. The tool must
//! find, fix and undo them without ever splicing a name unquoted or a value
//! at all.

mod common;
use common::*;
use predicates::prelude::*;
use rgs_sandbox::{Sandbox, SandboxOptions};

/// The reconstructed schema's tables, which a new sandbox always has; a
/// table before those its foreign keys refer to, the order they drop in.
const SCHEMA_TABLES: &[&str] = &[
    "Workflows",
    "QueueAgentGroups",
    "AgentGroupAgents",
    "OwnerPool",
    "Agents",
    "AgentGroups",
    "Queues",
    "HolidaySets",
    "HoursOfBusiness",
    "DbConfigInt",
];

/// A sandbox whose rgsconfig holds only what `script` creates.
fn sandbox_with_script(script: &str) -> Sandbox {
    let sb = Sandbox::start(SandboxOptions::default()).unwrap();
    let drop: String = SCHEMA_TABLES
        .iter()
        .map(|t| format!("DROP TABLE [dbo].[{t}];\n"))
        .collect();
    sb.engine().run_script(sb.database(), &drop).unwrap();
    sb.engine()
        .run_script(sb.database(), script)
        .unwrap_or_else(|e| panic!("{e}\n{script}"));
    sb
}

fn count(sb: &Sandbox, sql: &str) -> i64 {
    scalar(sb, sql)
}

/// Pool ID types and a literal of each for pools 1 and 2.
const POOL_TYPES: &[(&str, &str, &str)] = &[
    (
        "uniqueidentifier",
        "'0F0E0D0C-0B0A-0908-0706-050403020100'",
        "'11111111-2222-3333-4444-555555555555'",
    ),
    ("int", "1", "2"),
    ("bigint", "5000000000", "5000000001"),
    ("nvarchar(64)", "N'pool-one'", "N'pool-two'"),
];

fn hostile_script(pool_type: &str, p1: &str, p2: &str) -> String {
    format!(
        "SET NOCOUNT ON;
CREATE TABLE [dbo].[OwnerPool] ([ID] {pool_type} NOT NULL, [Fqdn] nvarchar(256) NOT NULL, CONSTRAINT [PK_OwnerPool] PRIMARY KEY ([ID]));
INSERT INTO [dbo].[OwnerPool] ([ID], [Fqdn]) VALUES ({p1}, N'lyncpool01.contoso.local');
GO
CREATE SCHEMA [bäckup ]] '; x];
GO
CREATE TABLE [bäckup ]] '; x].[Agent Groups; DROP TABLE x--] ([ID] int NOT NULL, [Näme] nvarchar(100) NULL, [OWNERPOOLID] {pool_type} NULL, CONSTRAINT [PK_odd] PRIMARY KEY ([ID]));
CREATE TABLE [dbo].[Größe \"quoted\" 'too'] ([K1] int NOT NULL, [K2] nvarchar(20) NOT NULL, [DisplayName] nvarchar(50) NULL, [ownerPoolId] {pool_type} NULL, CONSTRAINT [PK_G] PRIMARY KEY ([K1], [K2]));
CREATE TABLE [dbo].[NoKey] ([Name] nvarchar(50) NULL, [OwnerPoolId] {pool_type} NULL);
INSERT INTO [bäckup ]] '; x].[Agent Groups; DROP TABLE x--] ([ID], [Näme], [OWNERPOOLID]) VALUES (1, N'Grüße ]] ''quoted''', NULL), (2, N'ok', {p1}), (3, N'old pool', {p2}), (4, NULL, NULL);
INSERT INTO [dbo].[Größe \"quoted\" 'too'] ([K1], [K2], [DisplayName], [ownerPoolId]) VALUES (1, N'a]b', N'x', NULL), (1, N'a''b', N'y', NULL), (2, N'a;b', N'z', {p1});
INSERT INTO [dbo].[NoKey] ([Name], [OwnerPoolId]) VALUES (N'n1', NULL), (N'n2', {p1});
"
    )
}

#[test]
fn hostile_names_and_every_pool_id_type() {
    for (ty, p1, p2) in POOL_TYPES {
        let sb = sandbox_with_script(&hostile_script(ty, p1, p2));
        let odd = "[bäckup ]] '; x].[Agent Groups; DROP TABLE x--]";
        let gr = "[dbo].[Größe \"quoted\" 'too']";
        let j = check_json(&sb, 3);
        let t = |name: &str| {
            j["tables"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["table"] == name)
                .unwrap_or_else(|| panic!("{ty}: {name} missing in {j}"))
                .clone()
        };
        let a = t("Agent Groups; DROP TABLE x--");
        assert_eq!(
            (
                a["schema"].as_str().unwrap(),
                a["null_owner"].as_u64().unwrap(),
                a["dangling_owner"].as_u64().unwrap()
            ),
            ("bäckup ] '; x", 2, 1),
            "{ty}"
        );
        assert_eq!(t("Größe \"quoted\" 'too'")["null_owner"], 2, "{ty}");
        assert_eq!(t("NoKey")["fixable"], false, "{ty}");
        assert!(
            j["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["kind"] == "unfixable" && f["table"] == "dbo.NoKey"),
            "{ty}"
        );

        let dir = tempfile::tempdir().unwrap();
        let jp = dir.path().join("j.json");
        tool(&sb)
            .args(["fix", "--yes", "--journal"])
            .arg(&jp)
            .assert()
            .code(0)
            .stdout(
                predicate::str::contains("Committed: 4 object(s)")
                    .and(predicate::str::contains("Left alone: dbo.NoKey")),
            );
        assert_eq!(
            count(
                &sb,
                &format!("SELECT COUNT(*) FROM {odd} WHERE [OWNERPOOLID] IS NULL")
            ),
            0,
            "{ty}"
        );
        assert_eq!(
            count(
                &sb,
                &format!("SELECT COUNT(*) FROM {odd} WHERE [OWNERPOOLID] = {p1}")
            ),
            3,
            "{ty}"
        );
        assert_eq!(
            count(
                &sb,
                &format!("SELECT COUNT(*) FROM {odd} WHERE [OWNERPOOLID] = {p2}")
            ),
            1,
            "{ty}: dangling left alone"
        );
        assert_eq!(
            count(
                &sb,
                &format!("SELECT COUNT(*) FROM {gr} WHERE [ownerPoolId] = {p1}")
            ),
            3,
            "{ty}"
        );
        assert_eq!(
            count(
                &sb,
                "SELECT COUNT(*) FROM [dbo].[NoKey] WHERE [OwnerPoolId] IS NULL"
            ),
            1,
            "{ty}: keyless table untouched"
        );

        tool(&sb)
            .args(["undo", "--yes", "--journal"])
            .arg(&jp)
            .assert()
            .code(0);
        assert_eq!(
            count(
                &sb,
                &format!("SELECT COUNT(*) FROM {odd} WHERE [OWNERPOOLID] IS NULL")
            ),
            2,
            "{ty}"
        );
        assert_eq!(
            count(
                &sb,
                &format!("SELECT COUNT(*) FROM {gr} WHERE [ownerPoolId] IS NULL AND [K1] = 1")
            ),
            2,
            "{ty}"
        );
        assert_eq!(
            count(&sb, "SELECT COUNT(*) FROM [dbo].[OwnerPool]"),
            1,
            "{ty}: nothing else touched"
        );
    }
}

#[test]
fn a_hundred_thousand_rows() {
    let mut script = String::from(
        "SET NOCOUNT ON;
CREATE TABLE [dbo].[OwnerPool] ([ID] int NOT NULL, [Fqdn] nvarchar(256) NOT NULL, CONSTRAINT [PK_OwnerPool] PRIMARY KEY ([ID]));
INSERT INTO [dbo].[OwnerPool] ([ID], [Fqdn]) VALUES (7, N'lyncpool01.contoso.local');
CREATE TABLE [dbo].[Queues] ([ID] int NOT NULL, [Name] nvarchar(50) NOT NULL, [OwnerPoolId] int NULL, CONSTRAINT [PK_Queues] PRIMARY KEY ([ID]));
",
    );
    for batch in 0..100 {
        script.push_str("INSERT INTO [dbo].[Queues] ([ID], [Name], [OwnerPoolId]) VALUES ");
        let rows: Vec<String> = (0..1000)
            .map(|i| {
                let id = batch * 1000 + i;
                format!(
                    "({id}, N'Queue {id}', {})",
                    if id % 10 == 0 { "7" } else { "NULL" }
                )
            })
            .collect();
        script.push_str(&rows.join(", "));
        script.push_str(";\n");
    }
    let sb = sandbox_with_script(&script);
    tool(&sb).arg("check").assert().code(3).stdout(
        predicate::str::contains("90000 object(s) without an owner pool")
            .and(predicate::str::contains("... and 89980 more")),
    );
    let dir = tempfile::tempdir().unwrap();
    let jp = dir.path().join("j.json");
    tool(&sb)
        .args(["fix", "--yes", "--journal"])
        .arg(&jp)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("Committed: 90000 object(s)"));
    assert_eq!(
        count(
            &sb,
            "SELECT COUNT(*) FROM [dbo].[Queues] WHERE [OwnerPoolId] = 7"
        ),
        100_000
    );
    tool(&sb)
        .args(["undo", "--yes", "--journal"])
        .arg(&jp)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("90000 row(s) put back"));
    assert_eq!(
        count(
            &sb,
            "SELECT COUNT(*) FROM [dbo].[Queues] WHERE [OwnerPoolId] IS NULL"
        ),
        90_000
    );
}
