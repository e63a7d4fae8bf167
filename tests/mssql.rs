//! The same stories against a real SQL Server: ignored unless
//! `RGS_TEST_MSSQL` holds an ADO.NET connection string (for example the
//! docker-compose server: `Server=tcp:127.0.0.1,1433;Database=rgsconfig;
//! User Id=sa;Password=...;TrustServerCertificate=true`). Each test resets
//! rgsconfig and loads a scenario from sql/fixtures/, so run them one at a
//! time: `cargo test --test mssql -- --ignored --test-threads=1`.

use assert_cmd::Command;
use predicates::prelude::*;
use tiberius::{Client, Config};
use tokio::net::TcpStream;
use tokio_util::compat::TokioAsyncWriteCompatExt;

const RESET: &str = include_str!("../sql/fixtures/reset.sql");
const SCHEMA: &str = include_str!("../sql/fixtures/schema.sql");

fn conn_string() -> String {
    std::env::var("RGS_TEST_MSSQL")
        .expect("set RGS_TEST_MSSQL to an ADO.NET connection string to run these tests")
}

fn scenario(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/sql/fixtures/{name}.sql",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

async fn client() -> Client<tokio_util::compat::Compat<TcpStream>> {
    let config = Config::from_ado_string(&conn_string()).unwrap();
    let tcp = TcpStream::connect(config.get_addr()).await.unwrap();
    Client::connect(config, tcp.compat_write()).await.unwrap()
}

fn block<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Resets rgsconfig and loads a scenario, batch by batch as sqlcmd would.
fn load(name: &str) {
    block(async {
        let mut c = client().await;
        for script in [RESET, SCHEMA, &scenario(name)] {
            for batch in script.split("\nGO") {
                if !batch.trim().is_empty() {
                    c.simple_query(batch)
                        .await
                        .unwrap()
                        .into_results()
                        .await
                        .unwrap();
                }
            }
        }
    })
}

fn scalar(sql: &str) -> i64 {
    block(async {
        let mut c = client().await;
        let row = c
            .simple_query(sql)
            .await
            .unwrap()
            .into_row()
            .await
            .unwrap()
            .unwrap();
        row.get::<i32, _>(0).map(i64::from).unwrap()
    })
}

fn nulls() -> i64 {
    [
        "Agents",
        "AgentGroups",
        "Queues",
        "Workflows",
        "HolidaySets",
        "HoursOfBusiness",
    ]
    .iter()
    .map(|t| {
        scalar(&format!(
            "SELECT COUNT(*) FROM [dbo].[{t}] WHERE [OwnerPoolId] IS NULL"
        ))
    })
    .sum()
}

/// `fix --yes --no-snapshot`, which must succeed; its journal's folder
/// (kept while the test needs it) and path.
fn fix_yes() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("j.json");
    tool()
        .args(["fix", "--yes", "--no-snapshot", "--journal"])
        .arg(&j)
        .assert()
        .code(0);
    (dir, j)
}

fn tool() -> Command {
    let mut c = Command::cargo_bin("rgs-repair").unwrap();
    c.env_clear().env("RGS_CONNECTION_STRING", conn_string());
    c
}

#[test]
#[ignore = "needs a SQL Server: set RGS_TEST_MSSQL"]
fn mssql_migrated_check_dry_run_fix_undo() {
    load("migrated");
    assert_eq!(nulls(), 30);
    tool().arg("check").assert().code(3);
    tool().args(["fix", "--dry-run"]).assert().code(0);
    assert_eq!(nulls(), 30);
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("j.json");
    tool()
        .args(["fix", "--yes", "--journal"])
        .arg(&j)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("Committed: 30"));
    assert_eq!(nulls(), 0);
    tool().arg("check").assert().code(0);
    tool()
        .args(["undo", "--yes", "--journal"])
        .arg(&j)
        .assert()
        .code(0);
    assert_eq!(nulls(), 30);
}

#[test]
#[ignore = "needs a SQL Server: set RGS_TEST_MSSQL"]
fn mssql_healthy() {
    load("healthy");
    tool().arg("check").assert().code(0);
    tool()
        .args(["fix", "--yes"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("Nothing to do"));
}

#[test]
#[ignore = "needs a SQL Server: set RGS_TEST_MSSQL"]
fn mssql_unlinked_findings_through_declared_foreign_keys() {
    // sys.foreign_keys / sys.foreign_key_columns, the line URI columns and
    // the NOT EXISTS finding queries on a real server (tests/findings.rs).
    load("unlinked");
    let out = tool()
        .args(["check", "--format", "json"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let j: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let codes: Vec<&str> = j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["RGS005", "RGS006", "RGS007", "RGS008", "RGS009"]);
    tool()
        .args(["check", "--fail-on", "warning"])
        .assert()
        .code(3);
}

#[test]
#[ignore = "needs a SQL Server: set RGS_TEST_MSSQL"]
fn mssql_multi_pool() {
    load("multi-pool");
    tool().arg("check").assert().code(3);
    tool().args(["fix", "--yes"]).assert().code(2);
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("j.json");
    tool()
        .args([
            "fix",
            "--yes",
            "--pool",
            "lyncpool02.fabrikam.local",
            "--journal",
        ])
        .arg(&j)
        .assert()
        .code(0);
    assert_eq!(nulls(), 0);
    tool()
        .args(["undo", "--yes", "--journal"])
        .arg(&j)
        .assert()
        .code(0);
    assert_eq!(nulls(), 13);
}

#[test]
#[ignore = "needs a SQL Server: set RGS_TEST_MSSQL"]
fn mssql_dangling_and_empty_pool() {
    load("dangling");
    tool().arg("check").assert().code(3);
    tool()
        .args(["fix", "--yes"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("Nothing to do"));
    load("empty-pool");
    tool().arg("check").assert().code(3);
    tool().args(["fix", "--yes"]).assert().code(2);
}

/// Runs a script as one batch, as SSMS or `sqlcmd -b -i` would; returns the
/// server's error message when it raised one.
fn run_script(script: &str) -> Result<(), String> {
    block(async {
        let mut c = client().await;
        let result = match c.simple_query(script).await {
            Ok(s) => s
                .into_results()
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        result
    })
}

#[test]
#[ignore = "needs a SQL Server: set RGS_TEST_MSSQL"]
fn mssql_saved_plan_applies_and_refuses_a_moved_database() {
    load("migrated");
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.json");
    tool()
        .args(["fix", "--dry-run", "--save-plan"])
        .arg(&plan)
        .assert()
        .code(0);
    tool()
        .args(["fix", "--yes", "--plan"])
        .arg(&plan)
        .arg("--journal")
        .arg(dir.path().join("j.json"))
        .assert()
        .code(0);
    assert_eq!(nulls(), 0);

    load("migrated");
    let plan2 = dir.path().join("plan2.json");
    tool()
        .args(["fix", "--dry-run", "--save-plan"])
        .arg(&plan2)
        .assert()
        .code(0);
    run_script("UPDATE [dbo].[Agents] SET [OwnerPoolId] = NULL WHERE [ID] = (SELECT MIN([ID]) FROM [dbo].[Agents])").unwrap();
    tool()
        .args(["fix", "--yes", "--plan"])
        .arg(&plan2)
        .arg("--journal")
        .arg(dir.path().join("j2.json"))
        .assert()
        .code(4);
    assert_eq!(nulls(), 31);
}

#[test]
#[ignore = "needs a SQL Server: set RGS_TEST_MSSQL"]
fn mssql_change_script_repairs_and_refuses_a_moved_database() {
    load("migrated");
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("change.sql");
    tool()
        .args(["fix", "--dry-run", "--emit-sql"])
        .arg(&f)
        .assert()
        .code(0);
    run_script(&std::fs::read_to_string(&f).unwrap()).unwrap();
    assert_eq!(nulls(), 0);
    tool().arg("check").assert().code(0);

    load("migrated");
    let g = dir.path().join("change2.sql");
    tool()
        .args(["fix", "--dry-run", "--emit-sql"])
        .arg(&g)
        .assert()
        .code(0);
    run_script("UPDATE [dbo].[Queues] SET [OwnerPoolId] = (SELECT TOP 1 [ID] FROM [dbo].[OwnerPool]) WHERE [Name] = N'Payroll Queue'").unwrap();
    let e = run_script(&std::fs::read_to_string(&g).unwrap()).unwrap_err();
    assert!(e.contains("not the 9 planned ones"), "{e}");
    assert_eq!(nulls(), 29, "nothing changed by the refused script");
}

// ----- issue 9: what a real back end does -----------------------------------

#[test]
#[ignore = "needs a SQL Server: set RGS_TEST_MSSQL"]
fn mssql_an_audit_trigger_does_not_count_as_the_fixs_rows() {
    load("triggers");
    let planned = scalar("SELECT COUNT(*) FROM [dbo].[AgentGroups] WHERE [OwnerPoolId] IS NULL");
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("j.json");
    tool()
        .args(["fix", "--yes", "--journal"])
        .arg(&j)
        .assert()
        .code(0);
    assert_eq!(nulls(), 0);
    assert_eq!(
        scalar("SELECT COUNT(*) FROM [dbo].[AgentGroupsAudit]"),
        planned
    );
    tool()
        .args(["undo", "--yes", "--journal"])
        .arg(&j)
        .assert()
        .code(0);
    assert_eq!(nulls(), 30);
}

#[test]
#[ignore = "needs a SQL Server: set RGS_TEST_MSSQL"]
fn mssql_a_blocked_reader_stops_after_the_lock_timeout_naming_the_session() {
    load("migrated");
    block(async {
        let mut holder = client().await;
        let spid = holder
            .simple_query("SELECT CAST(@@SPID AS int)")
            .await
            .unwrap()
            .into_row()
            .await
            .unwrap()
            .unwrap()
            .get::<i32, _>(0)
            .unwrap();
        holder
            .simple_query("BEGIN TRANSACTION; UPDATE [dbo].[Queues] SET [Name] = [Name];")
            .await
            .unwrap()
            .into_results()
            .await
            .unwrap();
        let out = tokio::task::spawn_blocking(|| {
            tool()
                .args(["check", "--lock-timeout", "1"])
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("1222"), "{stderr}");
        // The test login (sa) may see other sessions.
        assert!(stderr.contains(&format!("session {spid}")), "{stderr}");
        holder
            .simple_query("ROLLBACK TRANSACTION;")
            .await
            .unwrap()
            .into_results()
            .await
            .unwrap();
    });
}

#[test]
#[ignore = "needs a SQL Server: set RGS_TEST_MSSQL"]
fn mssql_a_case_sensitive_collation_decides_what_is_dangling() {
    load("case-sensitive");
    let out = tool()
        .args(["check", "--format", "json"])
        .assert()
        .code(3)
        .get_output()
        .stdout
        .clone();
    let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let dangling = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "dangling_owner")
        .count();
    assert_eq!(dangling, 1, "{doc:#}");
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("j.json");
    tool()
        .args(["fix", "--yes", "--journal"])
        .arg(&j)
        .assert()
        .code(0);
    tool()
        .args(["undo", "--yes", "--journal"])
        .arg(&j)
        .assert()
        .code(0);
}

/// The test's connection string with another login.
fn as_login(user: &str, password: &str) -> String {
    let cs = conn_string();
    let kept: Vec<&str> = cs
        .split(';')
        .filter(|kv| {
            let k = kv
                .split('=')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            !matches!(k.as_str(), "user id" | "uid" | "user" | "password" | "pwd")
        })
        .collect();
    format!("{};User Id={user};Password={password}", kept.join(";"))
}

#[test]
#[ignore = "needs a SQL Server: set RGS_TEST_MSSQL"]
fn mssql_a_column_level_deny_is_refused_before_the_transaction() {
    load("migrated");
    let pw = "Rgs-Test-Deny-1!";
    run_script(&format!(
        "IF SUSER_ID(N'rgs_test_deny') IS NULL CREATE LOGIN [rgs_test_deny] WITH PASSWORD = N'{pw}', CHECK_POLICY = OFF;
         IF USER_ID(N'rgs_test_deny') IS NULL CREATE USER [rgs_test_deny] FOR LOGIN [rgs_test_deny];
         EXEC sp_addrolemember N'db_datareader', N'rgs_test_deny';
         EXEC sp_addrolemember N'db_datawriter', N'rgs_test_deny';
         DENY UPDATE ([OwnerPoolId]) ON [dbo].[Queues] TO [rgs_test_deny];"
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    Command::cargo_bin("rgs-repair")
        .unwrap()
        .env_clear()
        .env("RGS_CONNECTION_STRING", as_login("rgs_test_deny", pw))
        .current_dir(dir.path())
        .args(["fix", "--yes", "--journal", "j.json"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("column OwnerPoolId of dbo.Queues"));
    assert_eq!(nulls(), 30);
    assert!(!dir.path().join("j.json").exists());
    run_script("DROP USER [rgs_test_deny];").unwrap();
}

#[test]
#[ignore = "needs a SQL Server: set RGS_TEST_MSSQL"]
fn mssql_connection_string_keys_and_read_only_intent() {
    load("migrated");
    let cs = format!(
        "{};MultiSubnetFailover=True;Application Name=rgs-test",
        conn_string()
    );
    Command::cargo_bin("rgs-repair")
        .unwrap()
        .env_clear()
        .env("RGS_CONNECTION_STRING", &cs)
        .arg("check")
        .assert()
        .code(3);
    // Reading with ReadOnly intent works on a primary too (no listener).
    Command::cargo_bin("rgs-repair")
        .unwrap()
        .env_clear()
        .env(
            "RGS_CONNECTION_STRING",
            format!("{cs};ApplicationIntent=ReadOnly"),
        )
        .arg("check")
        .assert()
        .code(3);
    Command::cargo_bin("rgs-repair")
        .unwrap()
        .env_clear()
        .env(
            "RGS_CONNECTION_STRING",
            format!("{cs};ApplicationIntent=ReadOnly"),
        )
        .args(["fix", "--yes"])
        .assert()
        .code(2);
    assert_eq!(nulls(), 30);
}

#[test]
#[ignore = "needs a SQL Server: set RGS_TEST_MSSQL"]
fn mssql_snapshot_both_isolations_and_diff_after_fix() {
    load("migrated");
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("c"),
    );
    // ALLOW_SNAPSHOT_ISOLATION OFF (the default): shared table locks.
    run_script("ALTER DATABASE [rgsconfig] SET ALLOW_SNAPSHOT_ISOLATION OFF").unwrap();
    tool().args(["snapshot", "--out"]).arg(&a).assert().code(0);
    let schema: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.join("schema.json")).unwrap()).unwrap();
    assert_eq!(
        schema["isolation"]["level"],
        "READ COMMITTED + TABLOCK, HOLDLOCK"
    );
    let rows: u64 = schema["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["rows"].as_u64().unwrap())
        .sum();
    assert_eq!(rows as i64, {
        let mut n = 0;
        for t in schema["tables"].as_array().unwrap() {
            n += scalar(&format!(
                "SELECT COUNT(*) FROM [{}].[{}]",
                t["schema"].as_str().unwrap(),
                t["name"].as_str().unwrap()
            ));
        }
        n
    });
    // ON: SNAPSHOT isolation.
    run_script("ALTER DATABASE [rgsconfig] SET ALLOW_SNAPSHOT_ISOLATION ON").unwrap();
    tool().args(["snapshot", "--out"]).arg(&b).assert().code(0);
    let schema: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("schema.json")).unwrap()).unwrap();
    assert_eq!(schema["isolation"]["level"], "SNAPSHOT");
    run_script("ALTER DATABASE [rgsconfig] SET ALLOW_SNAPSHOT_ISOLATION OFF").unwrap();
    tool().arg("diff").arg(&a).arg(&b).assert().code(0);
    let j = dir.path().join("j.json");
    tool()
        .args(["fix", "--yes", "--journal"])
        .arg(&j)
        .assert()
        .code(0);
    tool().args(["snapshot", "--out"]).arg(&c).assert().code(0);
    let out = tool()
        .args(["diff", "--format", "json"])
        .arg(&a)
        .arg(&c)
        .assert()
        .code(3)
        .get_output()
        .stdout
        .clone();
    let d: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(d["totals"]["changed"], 30);
    tool().arg("diff").arg(&c).arg("--live").assert().code(0);
}

// ----- issue 10: the plan by count and key checksum ------------------------

/// Swaps which queue lacks an owner: as many rows as planned, other ones.
const SWAP_QUEUES: &str = "UPDATE [dbo].[Queues] SET [OwnerPoolId] = NULL WHERE [ID] = (SELECT MIN([ID]) FROM [dbo].[Queues] WHERE [OwnerPoolId] IS NOT NULL); UPDATE [dbo].[Queues] SET [OwnerPoolId] = (SELECT TOP 1 [ID] FROM [dbo].[OwnerPool]) WHERE [Name] = N'Payroll Queue'";

#[test]
#[ignore = "needs a SQL Server: set RGS_TEST_MSSQL"]
fn mssql_other_rows_of_the_planned_count_are_refused_by_the_checksum() {
    load("migrated");
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.json");
    let script = dir.path().join("change.sql");
    tool()
        .args(["fix", "--dry-run", "--save-plan"])
        .arg(&plan)
        .arg("--emit-sql")
        .arg(&script)
        .assert()
        .code(0);
    run_script(SWAP_QUEUES).unwrap();
    assert_eq!(nulls(), 30);
    // The saved plan: compared with a new inspection.
    tool()
        .args(["fix", "--yes", "--plan"])
        .arg(&plan)
        .arg("--journal")
        .arg(dir.path().join("j.json"))
        .assert()
        .code(4)
        .stderr(predicate::str::contains("not the same rows"));
    // The change script: its guard under lock.
    let e = run_script(&std::fs::read_to_string(&script).unwrap()).unwrap_err();
    assert!(e.contains("not the 9 planned ones"), "{e}");
    assert_eq!(nulls(), 30, "nothing changed");
}

#[test]
#[ignore = "needs a SQL Server: set RGS_TEST_MSSQL"]
fn mssql_check_names_the_first_objects_and_json_lists_all() {
    load("migrated");
    // More agent groups without an owner than a report for people names.
    run_script("INSERT INTO [dbo].[AgentGroups] ([ID], [Name], [RoutingMethod], [AgentAlertTime], [ParticipationPolicy], [OwnerPoolId]) SELECT TOP (40) NEWID(), N'extra ' + CAST(o.[object_id] AS nvarchar(20)), 0, 20, 0, NULL FROM sys.all_objects AS o").unwrap();
    let out = tool()
        .arg("check")
        .assert()
        .code(3)
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("... and 29 more"), "{out}");
    let out = tool()
        .args(["check", "--format", "json"])
        .assert()
        .code(3)
        .get_output()
        .stdout
        .clone();
    let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let f = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "null_owner" && f["table"] == "dbo.AgentGroups")
        .unwrap()
        .clone();
    assert_eq!(f["count"], 49);
    assert_eq!(f["objects"].as_array().unwrap().len(), 49);
}

#[test]
#[ignore = "needs a SQL Server: set RGS_TEST_MSSQL"]
fn mssql_findings_beyond_ownership_are_counted_and_intersected_on_the_server() {
    // finding_unused_count.sql / finding_unused.sql with two use paths
    // (NOT EXISTS AND-ed), finding_no_line_uri_count.sql and the TOP (@Pn)
    // row statements, on a real server.
    load("unlinked");
    run_script(
        "CREATE TABLE [dbo].[QueueOverflowGroups] ([QueueId] uniqueidentifier NOT NULL, [GroupId] uniqueidentifier NOT NULL,
             CONSTRAINT [PK_QueueOverflowGroups] PRIMARY KEY ([QueueId], [GroupId]),
             CONSTRAINT [FK_QueueOverflowGroups_Queues] FOREIGN KEY ([QueueId]) REFERENCES [dbo].[Queues] ([ID]),
             CONSTRAINT [FK_QueueOverflowGroups_AgentGroups] FOREIGN KEY ([GroupId]) REFERENCES [dbo].[AgentGroups] ([ID]));
         INSERT INTO [dbo].[QueueOverflowGroups] ([QueueId], [GroupId])
             SELECT (SELECT TOP (1) q.[ID] FROM [dbo].[Queues] AS q ORDER BY q.[ID]), g.[ID] FROM [dbo].[AgentGroups] AS g WHERE g.[Name] = N'Facilities';
         INSERT INTO [dbo].[AgentGroups] ([ID], [Name], [RoutingMethod], [AgentAlertTime], [ParticipationPolicy], [OwnerPoolId])
             SELECT TOP (30) NEWID(), N'spare ' + CAST(o.[object_id] AS nvarchar(20)), 0, 20, 0, (SELECT TOP (1) g.[OwnerPoolId] FROM [dbo].[AgentGroups] AS g WHERE g.[Name] = N'Facilities')
             FROM sys.all_objects AS o;",
    )
    .unwrap();
    let out = tool()
        .arg("check")
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains("RGS007 dbo.AgentGroups: 30 object(s) no row of dbo.Queues uses:"),
        "{out}"
    );
    assert!(out.contains("... and 10 more"), "{out}");
    assert!(!out.contains("Facilities"), "{out}");
    let out = tool()
        .args(["check", "--format", "json"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let find = |code: &str| {
        doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["code"] == code)
            .unwrap()
            .clone()
    };
    let groups = find("RGS007");
    assert_eq!(groups["count"], 30);
    assert_eq!(groups["objects"].as_array().unwrap().len(), 30);
    let uri = find("RGS005");
    assert_eq!(
        uri["count"].as_u64().unwrap() as usize,
        uri["objects"].as_array().unwrap().len()
    );
}

#[test]
#[ignore = "needs a SQL Server: set RGS_TEST_MSSQL"]
fn mssql_a_large_undo_bulk_loads_its_keys_and_is_summed_up_on_the_server() {
    load("migrated");
    // Enough agent groups without an owner that undo sends their keys by
    // bulk load (INSERT BULK into #rgs_undo_N), and one that changes after
    // the fix so that the left-alone listing runs too.
    run_script("INSERT INTO [dbo].[AgentGroups] ([ID], [Name], [RoutingMethod], [AgentAlertTime], [ParticipationPolicy], [OwnerPoolId]) SELECT TOP (6000) NEWID(), N'bulk ' + CAST(ROW_NUMBER() OVER (ORDER BY a.[object_id]) AS nvarchar(20)), 0, 20, 0, NULL FROM sys.all_objects AS a CROSS JOIN sys.all_objects AS b").unwrap();
    let before = nulls();
    let (_dir, j) = fix_yes();
    assert_eq!(nulls(), 0);
    run_script("UPDATE [dbo].[AgentGroups] SET [OwnerPoolId] = NULL WHERE [Name] = N'bulk 1'")
        .unwrap();
    let out = tool()
        .args(["undo", "--yes", "--journal"])
        .arg(&j)
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("1 left alone"), "{out}");
    assert_eq!(nulls(), before);
}

#[test]
#[ignore = "needs a SQL Server: set RGS_TEST_MSSQL"]
fn mssql_a_plans_checksum_read_with_the_owner_counts_is_the_servers_own() {
    // The plan's checksum comes from the owner counts
    // (CHECKSUM_AGG over a CASE, in the GROUP BY); the fix compares it with
    // the plain summary under lock. Both must be the server's one value.
    load("migrated");
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.json");
    tool()
        .args(["fix", "--dry-run", "--save-plan"])
        .arg(&plan)
        .assert()
        .code(0);
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&plan).unwrap()).unwrap();
    let tables = doc["plan"]["tables"].as_array().unwrap();
    assert_eq!(tables.len(), 4);
    for t in tables {
        let name = t["table"]["table"].as_str().unwrap();
        let direct = scalar(&format!(
            "SELECT CHECKSUM_AGG(BINARY_CHECKSUM([ID])) FROM [dbo].[{name}] WHERE [OwnerPoolId] IS NULL"
        ));
        assert_eq!(t["checksum"].as_i64(), Some(direct), "{name}");
    }
}

#[test]
#[ignore = "needs a SQL Server: set RGS_TEST_MSSQL"]
fn mssql_undo_sends_its_last_keys_with_its_preview_up_to_the_parameter_limit() {
    // undo's last INSERT batch of keys shares the preview's request when
    // the two take at most 2,098 parameters (2,100 with sp_executesql's
    // statement and declaration): 54 more object tables make 58 journalled
    // tables, 117 preview parameters, and 1,981 keys the largest batch
    // that shares; a real server must take that request.
    load("migrated");
    let mut ddl = String::new();
    for i in 0..54 {
        ddl.push_str(&format!(
            "IF OBJECT_ID(N'dbo.ExtraObjects{i:02}', N'U') IS NOT NULL DROP TABLE [dbo].[ExtraObjects{i:02}];
             CREATE TABLE [dbo].[ExtraObjects{i:02}] ([ID] uniqueidentifier NOT NULL PRIMARY KEY, [Name] nvarchar(256) NOT NULL, [OwnerPoolId] uniqueidentifier NULL);
             INSERT INTO [dbo].[ExtraObjects{i:02}] ([ID], [Name], [OwnerPoolId]) SELECT TOP (3) NEWID(), N'extra', NULL FROM sys.all_objects;\n"
        ));
    }
    run_script(&ddl).unwrap();
    let extra = || -> i64 {
        (0..54)
            .map(|i| {
                scalar(&format!(
                    "SELECT COUNT(*) FROM [dbo].[ExtraObjects{i:02}] WHERE [OwnerPoolId] IS NULL"
                ))
            })
            .sum()
    };
    let more = 1981 - nulls() - extra();
    run_script(&format!("INSERT INTO [dbo].[ExtraObjects00] ([ID], [Name], [OwnerPoolId]) SELECT TOP ({more}) NEWID(), N'more', NULL FROM sys.all_objects AS a CROSS JOIN sys.all_objects AS b")).unwrap();
    assert_eq!(nulls() + extra(), 1981);
    let (_dir, j) = fix_yes();
    assert_eq!(nulls() + extra(), 0);
    tool()
        .args(["undo", "--yes", "--journal"])
        .arg(&j)
        .assert()
        .code(0);
    assert_eq!(nulls() + extra(), 1981);
    let mut drop = String::new();
    for i in 0..54 {
        drop.push_str(&format!("DROP TABLE [dbo].[ExtraObjects{i:02}];\n"));
    }
    run_script(&drop).unwrap();
}
