//! The sandbox as tiberius 0.13 sees it: TLS negotiation, logins, queries
//! with parameters, row counts, transactions, attention and fault injection.

use rgs_sandbox::fault::Fault;
use rgs_sandbox::server::TlsMode;
use rgs_sandbox::types::Value;
use rgs_sandbox::{Sandbox, SandboxOptions};
use std::time::{Duration, Instant};
use tiberius::error::Error;
use tiberius::{AuthMethod, Client, Config, EncryptionLevel, Row};
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, TokioAsyncWriteCompatExt};

type Conn = Client<Compat<TcpStream>>;

const NULL_OWNER_GROUPS: &str = "SELECT COUNT(*) FROM dbo.AgentGroups WHERE OwnerPoolId IS NULL";

fn sandbox(faults: &[&str]) -> Sandbox {
    Sandbox::start(SandboxOptions {
        scenario: Some("migrated".into()),
        faults: faults.iter().map(|f| Fault::parse(f).unwrap()).collect(),
        ..Default::default()
    })
    .expect("sandbox starts")
}

fn config(
    sb: &Sandbox,
    enc: EncryptionLevel,
    database: Option<&str>,
    user: &str,
    password: &str,
) -> Config {
    let mut config = Config::new();
    config.host("127.0.0.1");
    config.port(sb.addr().port());
    config.authentication(AuthMethod::sql_server(user, password));
    if let Some(db) = database {
        config.database(db);
    }
    config.encryption(enc);
    config.trust_cert();
    config
}

async fn connect_with(config: Config) -> tiberius::Result<Conn> {
    let tcp = TcpStream::connect(config.get_addr()).await?;
    tcp.set_nodelay(true)?;
    Client::connect(config, tcp.compat_write()).await
}

async fn connect(sb: &Sandbox, enc: EncryptionLevel) -> Conn {
    connect_with(config(sb, enc, Some("rgsconfig"), "sa", sb.password()))
        .await
        .expect("login succeeds")
}

/// Runs a batch and collects its result sets; errors from the first token
/// (returned by `simple_query` itself) and later ones alike.
async fn batch(c: &mut Conn, sql: &str) -> tiberius::Result<Vec<Vec<Row>>> {
    c.simple_query(sql).await?.into_results().await
}

fn server_code(e: &Error) -> Option<(u32, u8)> {
    match e {
        Error::Server(t) => Some((t.code(), t.class())),
        _ => None,
    }
}

fn count_in(sb: &Sandbox, sql: &str) -> i64 {
    match &sb.query(sql).expect("sandbox query").rows[0][0] {
        Value::Int(n) => *n,
        other => panic!("expected a count, got {other:?}"),
    }
}

#[tokio::test]
async fn connects_with_every_encryption_level() {
    let sb = sandbox(&[]);
    for enc in [
        EncryptionLevel::Required,
        EncryptionLevel::On,
        EncryptionLevel::Off,
        EncryptionLevel::NotSupported,
        EncryptionLevel::Strict,
    ] {
        let mut c = connect(&sb, enc).await;
        let rows = batch(&mut c, "SELECT 1 AS one").await.unwrap();
        assert_eq!(rows[0][0].get::<i32, _>("one"), Some(1), "{enc:?}");
        let row = c
            .query("SELECT @P1 AS v", &[&7i32])
            .await
            .unwrap()
            .into_row()
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.get::<i32, _>(0), Some(7), "{enc:?}");
    }
}

#[tokio::test]
async fn refused_tls_fails_clients_that_require_it() {
    let sb = Sandbox::start(SandboxOptions {
        tls: TlsMode::Refuse,
        ..Default::default()
    })
    .unwrap();
    let e = connect_with(config(
        &sb,
        EncryptionLevel::Required,
        None,
        "sa",
        sb.password(),
    ))
    .await
    .unwrap_err();
    assert!(e.to_string().to_lowercase().contains("encryption"), "{e}");
    let mut c = connect_with(config(
        &sb,
        EncryptionLevel::NotSupported,
        None,
        "sa",
        sb.password(),
    ))
    .await
    .unwrap();
    assert_eq!(batch(&mut c, "SELECT 1 AS one").await.unwrap()[0].len(), 1);
}

#[tokio::test]
async fn ado_connection_string_connects() {
    let sb = sandbox(&[]);
    let config = Config::from_ado_string(&sb.ado_connection_string()).unwrap();
    let mut c = connect_with(config).await.unwrap();
    assert_eq!(batch(&mut c, "SELECT 1 AS one").await.unwrap()[0].len(), 1);
}

#[tokio::test]
async fn wrong_credentials_are_login_failed_18456() {
    let sb = sandbox(&[]);
    for (user, password) in [("sa", "not-the-password"), ("bob", sb.password())] {
        let e = connect_with(config(&sb, EncryptionLevel::Required, None, user, password))
            .await
            .unwrap_err();
        assert_eq!(server_code(&e), Some((18456, 14)), "{e:?}");
        assert!(
            e.to_string()
                .contains(&format!("Login failed for user '{user}'.")),
            "{e}"
        );
    }
}

#[tokio::test]
async fn unknown_database_is_4060() {
    let sb = sandbox(&[]);
    let e = connect_with(config(
        &sb,
        EncryptionLevel::Required,
        Some("nosuchdb"),
        "sa",
        sb.password(),
    ))
    .await
    .unwrap_err();
    assert_eq!(server_code(&e), Some((4060, 11)), "{e:?}");
}

#[tokio::test]
async fn parameters_round_trip() {
    let sb = sandbox(&[]);
    let mut c = connect(&sb, EncryptionLevel::Required).await;
    let g = uuid::Uuid::new_v4();
    let none_s: Option<&str> = None;
    let none_i: Option<i32> = None;
    let none_g: Option<uuid::Uuid> = None;
    let row = c
        .query(
            "SELECT @P1 AS g, @P2 AS i, @P3 AS b, @P4 AS t, @P5 AS f, @P6 AS ns, @P7 AS ni, @P8 AS ng, @P9 AS big",
            &[&g, &42i32, &true, &"hello wörld", &false, &none_s, &none_i, &none_g, &(1i64 << 40)],
        )
        .await
        .unwrap()
        .into_row()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.get::<uuid::Uuid, _>("g"), Some(g));
    assert_eq!(row.get::<i32, _>("i"), Some(42));
    assert_eq!(row.get::<bool, _>("b"), Some(true));
    assert_eq!(row.get::<&str, _>("t"), Some("hello wörld"));
    assert_eq!(row.get::<bool, _>("f"), Some(false));
    assert_eq!(row.get::<&str, _>("ns"), None);
    assert_eq!(row.get::<i32, _>("ni"), None);
    assert_eq!(row.get::<uuid::Uuid, _>("ng"), None);
    assert_eq!(row.get::<i64, _>("big"), Some(1i64 << 40));
}

#[tokio::test]
async fn long_strings_span_packets() {
    let sb = sandbox(&[]);
    let mut cfg = config(
        &sb,
        EncryptionLevel::Required,
        Some("rgsconfig"),
        "sa",
        sb.password(),
    );
    cfg.packet_size(512);
    let mut c = connect_with(cfg).await.unwrap();
    // Over 4000 characters: tiberius sends nvarchar(max), a PLP value.
    let long = "äbc".repeat(3000);
    let row = c
        .query("SELECT @P1 AS v", &[&long.as_str()])
        .await
        .unwrap()
        .into_row()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.get::<&str, _>(0), Some(long.as_str()));
    let rows = c
        .query("SELECT ID, Name FROM dbo.AgentGroups ORDER BY Name", &[])
        .await
        .unwrap()
        .into_first_result()
        .await
        .unwrap();
    assert_eq!(
        rows.len() as i64,
        count_in(&sb, "SELECT COUNT(*) FROM dbo.AgentGroups")
    );
    assert!(rows
        .iter()
        .all(|r| r.get::<uuid::Uuid, _>(0).is_some() && r.get::<&str, _>(1).is_some()));
}

#[tokio::test]
async fn multiple_statements_and_result_sets() {
    let sb = sandbox(&[]);
    let mut c = connect(&sb, EncryptionLevel::Required).await;
    let sets = batch(
        &mut c,
        "SELECT 1 AS a; SELECT 2 AS b, 3 AS c; SELECT ID FROM dbo.OwnerPool",
    )
    .await
    .unwrap();
    assert_eq!(sets.len(), 3);
    assert_eq!(sets[0][0].get::<i32, _>("a"), Some(1));
    assert_eq!(sets[1][0].get::<i32, _>("c"), Some(3));
    let sets = c
        .query("SELECT @P1 AS first; SELECT @P2 AS second", &[&1i32, &2i32])
        .await
        .unwrap()
        .into_results()
        .await
        .unwrap();
    assert_eq!(sets.len(), 2);
    assert_eq!(sets[1][0].get::<i32, _>("second"), Some(2));
}

#[tokio::test]
async fn counts_updates_and_rolls_back() {
    let sb = sandbox(&[]);
    let nulls = count_in(&sb, NULL_OWNER_GROUPS);
    assert!(nulls > 0, "the migrated scenario has groups without owner");
    let mut c = connect(&sb, EncryptionLevel::Required).await;

    let row = c
        .query(NULL_OWNER_GROUPS, &[])
        .await
        .unwrap()
        .into_row()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.get::<i32, _>(0).map(i64::from), Some(nulls));

    batch(&mut c, "BEGIN TRANSACTION").await.unwrap();
    let trancount = batch(&mut c, "SELECT @@TRANCOUNT AS n").await.unwrap();
    assert_eq!(trancount[0][0].get::<i32, _>(0), Some(1));
    let result = c
        .execute(
            "UPDATE dbo.AgentGroups SET Description = @P1 WHERE OwnerPoolId IS NULL",
            &[&"changed"],
        )
        .await
        .unwrap();
    assert_eq!(result.rows_affected(), &[nulls as u64]);
    batch(&mut c, "ROLLBACK TRANSACTION").await.unwrap();
    let trancount = batch(&mut c, "SELECT @@TRANCOUNT AS n").await.unwrap();
    assert_eq!(trancount[0][0].get::<i32, _>(0), Some(0));
    assert_eq!(
        count_in(
            &sb,
            "SELECT COUNT(*) FROM dbo.AgentGroups WHERE Description = N'changed'"
        ),
        0
    );

    // Transaction manager requests (TM_BEGIN_XACT / TM_COMMIT_XACT).
    c.begin_transaction().await.unwrap();
    let result = c
        .execute(
            "UPDATE dbo.AgentGroups SET Description = @P1 WHERE OwnerPoolId IS NULL",
            &[&"tm"],
        )
        .await
        .unwrap();
    assert_eq!(result.total(), nulls as u64);
    c.commit_transaction().await.unwrap();
    assert_eq!(
        count_in(
            &sb,
            "SELECT COUNT(*) FROM dbo.AgentGroups WHERE Description = N'tm'"
        ),
        nulls
    );
    c.begin_transaction().await.unwrap();
    c.rollback_transaction().await.unwrap();
}

#[tokio::test]
async fn errors_keep_the_connection_usable() {
    let sb = sandbox(&[]);
    let mut c = connect(&sb, EncryptionLevel::Required).await;
    let e = batch(&mut c, "SELEC 1").await.unwrap_err();
    assert_eq!(server_code(&e).map(|x| x.0), Some(102), "{e:?}");
    let e = batch(&mut c, "SELECT * FROM dbo.NoSuchTable")
        .await
        .unwrap_err();
    assert_eq!(server_code(&e).map(|x| x.0), Some(208), "{e:?}");
    assert_eq!(batch(&mut c, "SELECT 1 AS one").await.unwrap()[0].len(), 1);
    let before = sb.requests();
    batch(&mut c, "SELECT 1 AS one").await.unwrap();
    assert_eq!(sb.requests(), before + 1);
}

#[tokio::test]
async fn fault_drop_closes_without_answering() {
    let sb = sandbox(&["drop@2"]);
    let mut c = connect(&sb, EncryptionLevel::Required).await;
    batch(&mut c, "SELECT 1 AS one").await.unwrap();
    let e = batch(&mut c, "SELECT 1 AS one").await.unwrap_err();
    assert!(server_code(&e).is_none(), "{e:?}");
    // Fired once: a new connection passes request 2.
    let mut c = connect(&sb, EncryptionLevel::Required).await;
    batch(&mut c, "SELECT 1 AS one").await.unwrap();
    batch(&mut c, "SELECT 1 AS one").await.unwrap();
    assert!(sb.pending_faults().is_empty());
}

#[tokio::test]
async fn fault_drop_after_loses_the_commit_answer() {
    let sb = sandbox(&["drop-after@3"]);
    let nulls = count_in(&sb, NULL_OWNER_GROUPS);
    let mut c = connect(&sb, EncryptionLevel::Required).await;
    batch(&mut c, "BEGIN TRANSACTION").await.unwrap();
    c.execute(
        "UPDATE dbo.AgentGroups SET Description = @P1 WHERE OwnerPoolId IS NULL",
        &[&"lost"],
    )
    .await
    .unwrap();
    let e = batch(&mut c, "COMMIT TRANSACTION").await.unwrap_err();
    assert!(server_code(&e).is_none(), "{e:?}");
    // The COMMIT ran: the change is there although the client never heard.
    assert_eq!(
        count_in(
            &sb,
            "SELECT COUNT(*) FROM dbo.AgentGroups WHERE Description = N'lost'"
        ),
        nulls
    );
}

#[tokio::test]
async fn fault_error_1205_rolls_the_transaction_back() {
    let sb = sandbox(&["error@3:1205"]);
    let mut c = connect(&sb, EncryptionLevel::Required).await;
    batch(&mut c, "BEGIN TRANSACTION").await.unwrap();
    c.execute(
        "UPDATE dbo.AgentGroups SET Description = @P1 WHERE OwnerPoolId IS NULL",
        &[&"victim"],
    )
    .await
    .unwrap();
    let e = c
        .execute(
            "UPDATE dbo.AgentGroups SET Description = @P1 WHERE OwnerPoolId IS NULL",
            &[&"victim"],
        )
        .await
        .unwrap_err();
    assert_eq!(server_code(&e), Some((1205, 13)), "{e:?}");
    assert!(e.to_string().contains("deadlocked"), "{e}");
    let trancount = batch(&mut c, "SELECT @@TRANCOUNT AS n").await.unwrap();
    assert_eq!(trancount[0][0].get::<i32, _>(0), Some(0));
    assert_eq!(
        count_in(
            &sb,
            "SELECT COUNT(*) FROM dbo.AgentGroups WHERE Description = N'victim'"
        ),
        0
    );
}

#[tokio::test]
async fn fault_error_1222_and_229() {
    let sb = sandbox(&["error@2:1222", "error@3:229"]);
    let mut c = connect(&sb, EncryptionLevel::Required).await;
    batch(&mut c, "BEGIN TRANSACTION").await.unwrap();
    let e = batch(
        &mut c,
        "SELECT ID FROM dbo.AgentGroups WITH (UPDLOCK, HOLDLOCK)",
    )
    .await
    .unwrap_err();
    assert_eq!(server_code(&e), Some((1222, 16)), "{e:?}");
    // Without XACT_ABORT a lock timeout leaves the transaction open.
    let e = c
        .execute(
            "UPDATE [dbo].[AgentGroups] SET [Description] = @P1",
            &[&"x"],
        )
        .await
        .unwrap_err();
    assert_eq!(server_code(&e), Some((229, 14)), "{e:?}");
    assert!(
        e.to_string()
            .contains("UPDATE permission was denied on the object 'AgentGroups'"),
        "{e}"
    );
    let trancount = batch(&mut c, "SELECT @@TRANCOUNT AS n").await.unwrap();
    assert_eq!(trancount[0][0].get::<i32, _>(0), Some(1));
    batch(&mut c, "ROLLBACK TRANSACTION").await.unwrap();
}

#[tokio::test]
async fn fault_delay_and_attention() {
    let sb = sandbox(&["delay@2:400", "delay@3:5000"]);
    let mut c = connect(&sb, EncryptionLevel::Required).await;
    batch(&mut c, "SELECT 1 AS one").await.unwrap();
    let t0 = Instant::now();
    batch(&mut c, "SELECT 1 AS one").await.unwrap();
    assert!(t0.elapsed() >= Duration::from_millis(400));

    // Request 3 stalls; the client gives up and sends an attention.
    let t0 = Instant::now();
    let stalled = tokio::time::timeout(Duration::from_millis(200), async {
        c.simple_query("SELECT 1 AS one")
            .await?
            .into_results()
            .await
    })
    .await;
    assert!(
        stalled.is_err(),
        "the delayed request should not have answered yet"
    );
    c.cancel_query().await.unwrap();
    assert!(t0.elapsed() < Duration::from_secs(3));
    // The connection is clean afterwards.
    let row = c
        .query("SELECT @P1 AS v", &[&5i32])
        .await
        .unwrap()
        .into_row()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.get::<i32, _>(0), Some(5));
}

#[tokio::test]
async fn product_catalog_queries_decode() {
    let sb = sandbox(&[]);
    let mut c = connect(&sb, EncryptionLevel::Required).await;
    batch(
        &mut c,
        &include_str!("../../sql/session_setup.sql").replace("{lock_timeout_ms}", "5000"),
    )
    .await
    .unwrap();
    let rows = c
        .query(include_str!("../../sql/catalog_columns.sql"), &[])
        .await
        .unwrap()
        .into_first_result()
        .await
        .unwrap();
    assert!(rows
        .iter()
        .any(|r| r.get::<&str, _>("table_name") == Some("AgentGroups")
            && r.get::<&str, _>("column_name") == Some("OwnerPoolId")
            && r.get::<&str, _>("type_name") == Some("uniqueidentifier")
            && r.get::<bool, _>("is_nullable") == Some(true)));
    let row = c
        .query(include_str!("../../sql/server_info.sql"), &[])
        .await
        .unwrap()
        .into_row()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.get::<&str, _>("database_name"), Some("rgsconfig"));
    assert!(row
        .get::<&str, _>("product_version")
        .is_some_and(|v| v.starts_with("16.")));
    let row = c
        .query(
            include_str!("../../sql/permissions.sql")
                .replace("{table_param}", "@P1")
                .replace("{column_param}", "@P2"),
            &[&"[dbo].[AgentGroups]", &"OwnerPoolId"],
        )
        .await
        .unwrap()
        .into_row()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.get::<i32, _>(0), Some(1));
}

#[tokio::test]
async fn concurrent_connections_have_their_own_sessions() {
    let sb = sandbox(&[]);
    let mut tasks = Vec::new();
    for i in 0..6i32 {
        let cfg = config(
            &sb,
            EncryptionLevel::Required,
            Some("rgsconfig"),
            "sa",
            sb.password(),
        );
        tasks.push(tokio::spawn(async move {
            let mut c = connect_with(cfg).await.unwrap();
            for j in 0..10i32 {
                let row = c
                    .query("SELECT @P1 AS v", &[&(i * 100 + j)])
                    .await
                    .unwrap()
                    .into_row()
                    .await
                    .unwrap()
                    .unwrap();
                assert_eq!(row.get::<i32, _>(0), Some(i * 100 + j));
            }
            batch(&mut c, "BEGIN TRANSACTION").await.unwrap();
            let n = batch(&mut c, "SELECT @@TRANCOUNT AS n").await.unwrap()[0][0].get::<i32, _>(0);
            batch(&mut c, "ROLLBACK TRANSACTION").await.unwrap();
            n
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), Some(1));
    }
    assert_eq!(sb.connections(), 6);
    assert_eq!(sb.requests(), 6 * 13);
}

#[tokio::test]
async fn stop_closes_connections_and_db_file_persists() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rgsconfig.sqlite");
    let opts = SandboxOptions {
        scenario: Some("migrated".into()),
        db_file: Some(file.clone()),
        ..Default::default()
    };
    let mut sb = Sandbox::start(opts.clone()).unwrap();
    let nulls = count_in(&sb, NULL_OWNER_GROUPS);
    let mut c = connect(&sb, EncryptionLevel::Required).await;
    c.execute(
        "UPDATE dbo.AgentGroups SET Description = @P1 WHERE OwnerPoolId IS NULL",
        &[&"kept"],
    )
    .await
    .unwrap();
    sb.stop();
    assert!(batch(&mut c, "SELECT 1 AS one").await.is_err());
    drop(sb);

    // The file already holds the database: the scenario is not loaded again.
    let sb = Sandbox::start(opts).unwrap();
    assert_eq!(
        count_in(
            &sb,
            "SELECT COUNT(*) FROM dbo.AgentGroups WHERE Description = N'kept'"
        ),
        nulls
    );
}

#[tokio::test]
async fn attention_interrupts_a_running_statement() {
    let sb = sandbox(&[]);
    let mut c = connect(&sb, EncryptionLevel::Required).await;
    batch(&mut c, "BEGIN TRANSACTION").await.unwrap();
    let t0 = Instant::now();
    let running = tokio::time::timeout(Duration::from_millis(300), async {
        c.simple_query("WAITFOR DELAY '00:00:10'")
            .await?
            .into_results()
            .await
    })
    .await;
    assert!(running.is_err(), "WAITFOR should still run");
    c.cancel_query().await.unwrap();
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "the attention did not interrupt the statement"
    );
    // Cancelling a statement leaves the transaction open, as in SQL Server.
    let trancount = batch(&mut c, "SELECT @@TRANCOUNT AS n").await.unwrap();
    assert_eq!(trancount[0][0].get::<i32, _>(0), Some(1));
    batch(&mut c, "ROLLBACK TRANSACTION").await.unwrap();
}

#[test]
fn every_scenario_loads_and_unknown_ones_are_refused() {
    for name in rgs_sandbox::scenario::names() {
        let sb = Sandbox::start(SandboxOptions {
            scenario: Some(name.to_string()),
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("scenario {name}: {e:#}"));
        assert!(
            count_in(&sb, "SELECT COUNT(*) FROM dbo.OwnerPool") >= 0,
            "{name}"
        );
    }
    let e = Sandbox::start(SandboxOptions {
        scenario: Some("nope".into()),
        ..Default::default()
    })
    .unwrap_err();
    assert!(e.to_string().contains("migrated"), "{e}");
}

#[tokio::test]
async fn more_parameter_types_round_trip() {
    let sb = sandbox(&[]);
    let mut c = connect(&sb, EncryptionLevel::Required).await;
    let dt = chrono::NaiveDate::from_ymd_opt(2024, 5, 6)
        .unwrap()
        .and_hms_nano_opt(7, 8, 9, 123_456_700)
        .unwrap();
    let bin = vec![0u8, 1, 2, 255];
    let none_dt: Option<chrono::NaiveDateTime> = None;
    let row = c
        .query(
            "SELECT @P1 AS f, @P2 AS dt, @P3 AS bin, @P4 AS ndt, @P5 AS small",
            &[&1.5f64, &dt, &bin, &none_dt, &7i16],
        )
        .await
        .unwrap()
        .into_row()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.get::<f64, _>("f"), Some(1.5));
    assert_eq!(row.get::<chrono::NaiveDateTime, _>("dt"), Some(dt));
    assert_eq!(row.get::<&[u8], _>("bin"), Some(&bin[..]));
    assert_eq!(row.get::<chrono::NaiveDateTime, _>("ndt"), None);
    assert_eq!(row.get::<i16, _>("small"), Some(7));
}
