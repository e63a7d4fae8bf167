//! The product's identity query (`sql/server_info.sql` of the product):
//! every command runs it first and records the database's creation time in
//! plans and journals, so it must answer as SQL Server does, through
//! tiberius, with a creation time that is the database's own.

mod common;

use common::{engine_with, one, session};
use rgs_sandbox::{Sandbox, SandboxOptions};
use tiberius::{AuthMethod, Client, Config, EncryptionLevel};
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, TokioAsyncWriteCompatExt};

type Conn = Client<Compat<TcpStream>>;

/// The product's query, as sent since it records the database's identity.
const SERVER_INFO: &str = "
SELECT CAST(DB_NAME() AS nvarchar(128)) AS database_name,
       CAST(SERVERPROPERTY('ServerName') AS nvarchar(256)) AS server_name,
       CAST(SERVERPROPERTY('ProductVersion') AS nvarchar(128)) AS product_version,
       CAST(DATABASEPROPERTYEX(DB_NAME(), 'Updateability') AS nvarchar(128)) AS updateability,
       CAST(@@SERVERNAME AS nvarchar(256)) AS instance_server_name,
       CAST(SERVERPROPERTY('MachineName') AS nvarchar(256)) AS machine_name,
       CONVERT(nvarchar(30), d.create_date, 126) AS database_created
FROM sys.databases AS d
WHERE d.database_id = DB_ID();";

fn start(db_file: Option<std::path::PathBuf>) -> Sandbox {
    Sandbox::start(SandboxOptions {
        scenario: Some("migrated".into()),
        db_file,
        ..Default::default()
    })
    .expect("sandbox starts")
}

async fn connect(sb: &Sandbox) -> Conn {
    let mut config = Config::new();
    config.host("127.0.0.1");
    config.port(sb.addr().port());
    config.authentication(AuthMethod::sql_server("sa", sb.password()));
    config.database("rgsconfig");
    config.encryption(EncryptionLevel::NotSupported);
    let tcp = TcpStream::connect(config.get_addr()).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    Client::connect(config, tcp.compat_write()).await.unwrap()
}

/// The identity query's one row, as (column, text) pairs.
async fn identity(sb: &Sandbox) -> Vec<(String, String)> {
    let mut c = connect(sb).await;
    let rows = c
        .simple_query(SERVER_INFO)
        .await
        .unwrap()
        .into_first_result()
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "one row for the current database");
    let row = &rows[0];
    row.columns()
        .iter()
        .enumerate()
        .map(|(i, col)| {
            let v: Option<&str> = row.get(i);
            (col.name().to_string(), v.unwrap_or("<NULL>").to_string())
        })
        .collect()
}

fn field<'a>(row: &'a [(String, String)], name: &str) -> &'a str {
    &row.iter().find(|(n, _)| n == name).unwrap().1
}

/// `yyyy-mm-ddThh:mi:ss[.mmm]` with the milliseconds of a datetime.
fn is_style_126(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| r.into_iter().all(|i| b[i].is_ascii_digit());
    let head = b.len() >= 19
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    head && match b.len() {
        19 => true,
        23 => b[19] == b'.' && digits(20..23) && matches!(b[22], b'0' | b'3' | b'7'),
        _ => false,
    }
}

#[tokio::test]
async fn identity_query_answers_as_sql_server() {
    let sb = start(None);
    let row = identity(&sb).await;
    assert_eq!(field(&row, "database_name"), "rgsconfig");
    assert_eq!(field(&row, "server_name"), "RGS-SANDBOX");
    assert_eq!(field(&row, "instance_server_name"), "RGS-SANDBOX");
    assert!(field(&row, "product_version").starts_with("16."));
    assert_eq!(field(&row, "updateability"), "READ_WRITE");
    assert_ne!(field(&row, "machine_name"), "<NULL>");
    let created = field(&row, "database_created");
    assert!(is_style_126(created), "{created}");
    let today = chrono::Local::now().format("%Y-%m-%d").to_string();
    let yesterday = (chrono::Local::now() - chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    assert!(
        created.starts_with(&today) || created.starts_with(&yesterday),
        "{created}"
    );
}

#[tokio::test]
async fn two_sandboxes_have_different_creation_times() {
    let a = start(None);
    let b = start(None);
    let ta = identity(&a).await;
    let tb = identity(&b).await;
    assert_ne!(
        field(&ta, "database_created"),
        field(&tb, "database_created")
    );
    // Creation is in the order the databases were made.
    assert!(field(&ta, "database_created") < field(&tb, "database_created"));
}

#[tokio::test]
async fn creation_time_is_kept_in_the_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rgsconfig.sqlite");
    let mut first = start(Some(file.clone()));
    let before = identity(&first).await;
    first.stop();
    drop(first);
    let second = start(Some(file));
    let after = identity(&second).await;
    assert_eq!(
        field(&before, "database_created"),
        field(&after, "database_created")
    );
}

#[test]
fn style_126_drops_zero_milliseconds_and_reads_back() {
    let e = engine_with(None);
    let mut s = session(&e);
    let rs = one(
        &mut s,
        "SELECT CONVERT(nvarchar(30), CAST('2026-11-27T07:00:00' AS datetime), 126) AS a,
                CONVERT(nvarchar(30), CAST('2026-11-27T07:00:00.997' AS datetime), 126) AS b,
                CONVERT(nvarchar(30), CAST('2026-11-27T07:00:00.998' AS datetime), 126) AS c,
                CONVERT(nvarchar(30), CAST('2026-11-27T07:00:00.999' AS datetime), 126) AS d,
                CONVERT(nvarchar(30), CAST('2026-11-27T07:00:00.002' AS datetime), 126) AS e,
                CONVERT(nvarchar(30), CONVERT(datetime, N'2026-11-27T07:00:00.997', 126), 126) AS f",
        &[],
    );
    let text: Vec<String> = rs.rows[0]
        .iter()
        .map(|v| match v {
            common::Value::Text(t) => t.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        text,
        [
            "2026-11-27T07:00:00",
            "2026-11-27T07:00:00.997",
            "2026-11-27T07:00:00.997",
            "2026-11-27T07:00:01",
            "2026-11-27T07:00:00.003",
            "2026-11-27T07:00:00.997",
        ]
    );
}

#[test]
fn sys_databases_create_date_is_a_datetime_in_the_session() {
    let e = engine_with(None);
    let mut s = session(&e);
    let rs = one(
        &mut s,
        "SELECT name, create_date FROM sys.databases WHERE database_id = DB_ID()",
        &[],
    );
    assert_eq!(rs.columns[1].ty, common::SqlType::DateTime);
    assert!(!rs.columns[1].nullable);
    assert!(matches!(rs.rows[0][1], common::Value::DateTime(_)));
}
