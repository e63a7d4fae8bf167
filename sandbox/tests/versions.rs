//! `product_version` (issue 9): a sandbox answering as SQL Server 2008 R2
//! (10.50) reports that version, speaks TDS 7.3, and refuses the T-SQL of
//! 2012 and later with 2008 R2's errors; the default (16.0) accepts what
//! the sandbox implements of it.

mod tds_common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use tds_common::*;

const R2: &str = "10.50.6000.34";

fn sandbox_as(version: Option<&str>) -> Sandbox {
    Sandbox::start(SandboxOptions {
        scenario: Some("migrated".into()),
        product_version: version.map(str::to_string),
        ..Default::default()
    })
    .expect("sandbox starts")
}

/// The first column of the first row, as text.
async fn text(c: &mut Conn, sql: &str) -> Option<String> {
    let rows = run(c, sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows[0][0].get::<&str, _>(0).map(str::to_string)
}

#[tokio::test]
async fn sql_server_2008_r2_says_so() {
    let sb = sandbox_as(Some(R2));
    let mut c = connect(&sb).await;
    let props = "SELECT CAST(SERVERPROPERTY('ProductVersion') AS nvarchar(128))";
    assert_eq!(text(&mut c, props).await.as_deref(), Some(R2));
    let level = "SELECT CAST(SERVERPROPERTY('ProductLevel') AS nvarchar(128))";
    assert_eq!(text(&mut c, level).await.as_deref(), Some("SP3"));
    let major = "SELECT CAST(SERVERPROPERTY('ProductMajorVersion') AS nvarchar(128))";
    assert_eq!(text(&mut c, major).await, None);
    let v = text(&mut c, "SELECT @@VERSION").await.unwrap();
    assert!(
        v.starts_with("Microsoft SQL Server 2008 R2 (SP3) - 10.50.6000.34"),
        "{v}"
    );
    // The default is SQL Server 2022.
    let sb = sandbox_as(None);
    let mut c = connect(&sb).await;
    assert_eq!(text(&mut c, props).await.as_deref(), Some("16.0.1000.6"));
    assert_eq!(text(&mut c, major).await.as_deref(), Some("16"));
}

/// 2012+ T-SQL, with what 2008 R2 answers: (statement, error, message).
const LATER_SYNTAX: &[(&str, u32, &str)] = &[
    (
        "SELECT IIF(1 = 1, 1, 0)",
        195,
        "'IIF' is not a recognized built-in function name.",
    ),
    (
        "SELECT CONCAT(N'a', N'b')",
        195,
        "'CONCAT' is not a recognized built-in function name.",
    ),
    (
        "SELECT TRY_CONVERT(int, N'1')",
        195,
        "'TRY_CONVERT' is not a recognized built-in function name.",
    ),
    (
        "SELECT TRY_CAST(N'1' AS int)",
        156,
        "Incorrect syntax near the keyword 'AS'.",
    ),
    (
        "SELECT FORMAT(1, N'N')",
        195,
        "'FORMAT' is not a recognized built-in function name.",
    ),
    (
        "SELECT CHOOSE(1, N'a')",
        195,
        "'CHOOSE' is not a recognized built-in function name.",
    ),
    (
        "SELECT EOMONTH(GETDATE())",
        195,
        "'EOMONTH' is not a recognized built-in function name.",
    ),
    (
        "SELECT DATEFROMPARTS(2020, 1, 1)",
        195,
        "'DATEFROMPARTS' is not a recognized built-in function name.",
    ),
    (
        "SELECT STRING_AGG(Name, N',') FROM dbo.Queues",
        195,
        "'STRING_AGG' is not a recognized built-in function name.",
    ),
    (
        "SELECT STRING_SPLIT(N'a,b', N',')",
        195,
        "'STRING_SPLIT' is not a recognized built-in function name.",
    ),
    (
        "SELECT * FROM STRING_SPLIT(N'a,b', N',')",
        208,
        "Invalid object name 'STRING_SPLIT'.",
    ),
    (
        "SELECT * FROM OPENJSON(N'[]')",
        208,
        "Invalid object name 'OPENJSON'.",
    ),
    (
        "SELECT Name FROM dbo.Queues ORDER BY Name OFFSET 0 ROWS FETCH NEXT 1 ROWS ONLY",
        102,
        "Incorrect syntax near 'OFFSET'.",
    ),
    (
        "SELECT 1; THROW 50000, N'x', 1;",
        102,
        "Incorrect syntax near 'THROW'.",
    ),
    (
        "SELECT group_database_id FROM sys.databases",
        207,
        "Invalid column name 'group_database_id'.",
    ),
];

#[tokio::test]
async fn sql_server_2008_r2_refuses_later_syntax_with_its_errors() {
    let sb = sandbox_as(Some(R2));
    let mut c = connect(&sb).await;
    for (sql, number, message) in LATER_SYNTAX {
        let e = run(&mut c, sql)
            .await
            .err()
            .unwrap_or_else(|| panic!("{sql}: accepted"));
        assert_eq!(code(&e), *number, "{sql}: {e}");
        assert!(e.to_string().contains(message), "{sql}: {e}");
    }
    // What 2008 R2 has still works.
    let sql = "SELECT CASE WHEN 1 = 1 THEN N'a' + N'b' END, CONVERT(int, N'1'), \
               (SELECT COUNT(*) FROM sys.databases WHERE database_id = DB_ID())";
    assert_eq!(text(&mut c, sql).await.as_deref(), Some("ab"));
}

#[tokio::test]
async fn sql_server_2022_accepts_what_the_sandbox_implements_of_it() {
    let sb = sandbox_as(None);
    let mut c = connect(&sb).await;
    for sql in [
        "SELECT IIF(1 = 1, 1, 0)",
        "SELECT CONCAT(N'a', N'b')",
        "SELECT TRY_CONVERT(int, N'1')",
        "SELECT TRY_CAST(N'1' AS int)",
        "SELECT Name FROM dbo.Queues ORDER BY Name OFFSET 0 ROWS FETCH NEXT 1 ROWS ONLY",
        "SELECT group_database_id FROM sys.databases",
    ] {
        run(&mut c, sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

#[tokio::test]
async fn every_scenario_loads_on_sql_server_2008_r2() {
    for name in rgs_sandbox::scenario::names() {
        Sandbox::start(SandboxOptions {
            scenario: Some(name.to_string()),
            product_version: Some(R2.into()),
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// FreeTDS's tsql, configured for TDS 7.3 as a 2008 R2 client would be,
/// logs in and runs a query (skipped where FreeTDS is not installed).
#[test]
fn freetds_logs_in_with_tds_7_3() {
    let Some(tsql) = which("tsql") else {
        eprintln!("FreeTDS's tsql is not installed: skipped");
        return;
    };
    let sb = sandbox_as(Some(R2));
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("freetds.conf");
    std::fs::write(
        &conf,
        "[global]\n\ttds version = 7.3\n\tencryption = request\n",
    )
    .unwrap();
    let mut child = Command::new(tsql)
        .args(["-H", "127.0.0.1", "-p", &sb.addr().port().to_string()])
        .args(["-U", "sa", "-P", sb.password(), "-D", "rgsconfig"])
        .env("FREETDSCONF", &conf)
        .env("FREETDS", &conf)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"SELECT CAST(SERVERPROPERTY('ProductVersion') AS nvarchar(128))\ngo\nexit\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains(R2), "{stdout}\n{stderr}");
}
