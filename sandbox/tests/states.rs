//! Sandbox behaviour tests that change the server's situation while it runs:
//! faults armed after start, database states (read-only, mirror, non-readable
//! secondary), denied permissions, and statements deep enough to need a large
//! stack.

use rgs_sandbox::{Sandbox, SandboxOptions};
use tiberius::error::Error;
use tiberius::{AuthMethod, Client, Config, EncryptionLevel, Row, ToSql};
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, TokioAsyncWriteCompatExt};

type Conn = Client<Compat<TcpStream>>;

fn sandbox() -> Sandbox {
    Sandbox::start(SandboxOptions {
        scenario: Some("migrated".into()),
        ..Default::default()
    })
    .expect("sandbox starts")
}

fn config(sb: &Sandbox, database: Option<&str>) -> Config {
    let mut config = Config::new();
    config.host("127.0.0.1");
    config.port(sb.addr().port());
    config.authentication(AuthMethod::sql_server("sa", sb.password()));
    if let Some(db) = database {
        config.database(db);
    }
    config.encryption(EncryptionLevel::Required);
    config.trust_cert();
    config
}

async fn try_connect(sb: &Sandbox, database: Option<&str>) -> tiberius::Result<Conn> {
    let config = config(sb, database);
    let tcp = TcpStream::connect(config.get_addr()).await?;
    tcp.set_nodelay(true)?;
    Client::connect(config, tcp.compat_write()).await
}

async fn connect(sb: &Sandbox) -> Conn {
    try_connect(sb, Some("rgsconfig"))
        .await
        .expect("login succeeds")
}

async fn batch(c: &mut Conn, sql: &str) -> tiberius::Result<Vec<Vec<Row>>> {
    c.simple_query(sql).await?.into_results().await
}

fn server_code(e: &Error) -> Option<u32> {
    match e {
        Error::Server(t) => Some(t.code()),
        _ => None,
    }
}

/// `([ID] = @P2) OR ([ID] = @P3) ...` as the product's `{key_match}`.
fn or_chain(terms: usize, per_term: usize, first: usize) -> String {
    let cols = ["[GroupId]", "[AgentId]"];
    (0..terms)
        .map(|t| {
            let parts: Vec<String> = (0..per_term)
                .map(|k| format!("{} = @P{}", cols[k], first + t * per_term + k))
                .collect();
            format!("({})", parts.join(" AND "))
        })
        .collect::<Vec<_>>()
        .join(" OR ")
}

#[tokio::test]
async fn deep_or_chains_and_long_in_lists_answer() {
    let sb = sandbox();
    let mut c = connect(&sb).await;
    let ids: Vec<uuid::Uuid> = (0..2000).map(|_| uuid::Uuid::new_v4()).collect();
    let params: Vec<&dyn ToSql> = ids.iter().map(|g| g as &dyn ToSql).collect();

    // 2000 single-key terms, 2000 parameters.
    let sql = format!(
        "SELECT COUNT(*) FROM [dbo].[AgentGroups] WITH (UPDLOCK, HOLDLOCK) WHERE {}",
        or_chain(2000, 1, 1).replace("[GroupId]", "[ID]")
    );
    let row = c
        .query(sql, &params)
        .await
        .unwrap()
        .into_row()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.get::<i32, _>(0), Some(0));

    // Composite keys: 1000 terms of two columns each, 2000 parameters.
    let sql = format!(
        "SELECT [GroupId], [AgentId] FROM [dbo].[AgentGroupAgents] WHERE {}",
        or_chain(1000, 2, 1)
    );
    let rows = c
        .query(sql, &params)
        .await
        .unwrap()
        .into_first_result()
        .await
        .unwrap();
    assert!(rows.is_empty());

    // An IN list of 1000 parameters after @P1, as the undo UPDATE sends it.
    let list: Vec<String> = (2..=1001).map(|i| format!("@P{i}")).collect();
    let sql = format!(
        "UPDATE [dbo].[AgentGroups] SET [OwnerPoolId] = NULL WHERE [OwnerPoolId] = @P1 AND ([ID] IN ({}))",
        list.join(", ")
    );
    let result = c.execute(sql, &params[..1001]).await.unwrap();
    assert_eq!(result.total(), 0);

    // Still usable afterwards.
    assert_eq!(batch(&mut c, "SELECT 1").await.unwrap()[0].len(), 1);
}
