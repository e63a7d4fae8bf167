//! Manual timing (not a test: no timed assertions) of the statements a
//! large fix and its undo send, as the product sends them: the GROUP BY of
//! the check, the sorted read of the findings, the fix's UPDATE, the bulk
//! load of the journalled keys into `#rgs_undo_1`, undo's summary (once
//! unlocked, once under UPDLOCK, HOLDLOCK) and undo's UPDATE join.
//!
//! `cargo run --release -p rgs-sandbox --example undo_timing -- [ROWS]`
//! starts a sandbox in this process with ROWS (default 1,000,000) extra
//! agent groups; `... -- PORT PASSWORD` times a sandbox already running
//! (`rgs-repair sandbox --scenario migrated --extra-objects N`), so that
//! `perf record -p` sees the server alone. Every run ends with the rows as
//! it found them (the undo puts the fix back), so it can be repeated.

use futures_util::TryStreamExt;
use rgs_sandbox::{Sandbox, SandboxOptions};
use std::time::Instant;
use tiberius::{AuthMethod, Client, Config, EncryptionLevel, QueryItem, ToSql};
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, TokioAsyncWriteCompatExt};

type Conn = Client<Compat<TcpStream>>;

const GROUP_BY: &str = "SELECT t.OwnerPoolId, p.ID, COUNT_BIG(*) FROM dbo.AgentGroups t \
     LEFT JOIN dbo.OwnerPool p ON p.ID = t.OwnerPoolId GROUP BY t.OwnerPoolId, p.ID";
const FINDINGS: &str =
    "SELECT ID, Name FROM dbo.AgentGroups AS t WHERE t.OwnerPoolId IS NULL ORDER BY ID";
const FIX: &str = "UPDATE dbo.AgentGroups SET OwnerPoolId = @P1 WHERE OwnerPoolId IS NULL";
/// `sql/undo_summary.sql` as the product renders it for dbo.AgentGroups.
const SUMMARY: &str = "SELECT COUNT_BIG(*) AS journalled,
       SUM(CASE WHEN t.[ID] IS NULL THEN 1 ELSE 0 END) AS missing,
       SUM(CASE WHEN t.[OwnerPoolId] = @P1 THEN 1 ELSE 0 END) AS restorable,
       CHECKSUM_AGG(CASE WHEN t.[OwnerPoolId] = @P1 THEN BINARY_CHECKSUM(k.[ID]) END) AS restorable_checksum
FROM [#rgs_undo_1] AS k
LEFT JOIN [dbo].[AgentGroups] AS t {lock} ON t.[ID] = k.[ID];";
/// `sql/undo_update.sql` as the product renders it for dbo.AgentGroups.
const UNDO: &str = "UPDATE [dbo].[AgentGroups]
SET [OwnerPoolId] = NULL
WHERE [OwnerPoolId] = @P1
  AND EXISTS (SELECT 1 FROM [#rgs_undo_1] AS k WHERE k.[ID] = [dbo].[AgentGroups].[ID]);
SELECT CAST(@@ROWCOUNT AS bigint) AS changed;";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (_sandbox, port, password) = match args.as_slice() {
        [port, password] => (None, port.parse::<u16>()?, password.clone()),
        rest => {
            let rows = rest.first().map_or(Ok(1_000_000), |r| r.parse())?;
            let t0 = Instant::now();
            let sb = Sandbox::start(SandboxOptions {
                scenario: Some("migrated".into()),
                extra_objects: rows,
                ..Default::default()
            })?;
            println!("sandbox with {rows} extra rows: {:.3} s", secs(t0));
            let (port, pw) = (sb.addr().port(), sb.password().to_string());
            (Some(sb), port, pw)
        }
    };
    let mut c = connect(port, &password).await?;
    let pool: uuid::Uuid = first_cell(&mut c, "SELECT TOP 1 ID FROM dbo.OwnerPool", &[])
        .await?
        .ok_or_else(|| anyhow::anyhow!("no pool"))?;
    timed(&mut c, "check GROUP BY", GROUP_BY, &[]).await?;
    let t0 = Instant::now();
    let keys: Vec<uuid::Uuid> = c
        .simple_query(FINDINGS)
        .await?
        .into_first_result()
        .await?
        .iter()
        .filter_map(|r| r.get::<uuid::Uuid, _>(0))
        .collect();
    println!(
        "{:<28} {:.3} s ({} rows)",
        "findings ORDER BY",
        secs(t0),
        keys.len()
    );
    timed(&mut c, "fix UPDATE", FIX, &[&pool]).await?;
    timed(
        &mut c,
        "CREATE #rgs_undo_1",
        "CREATE TABLE [#rgs_undo_1] ([ID] uniqueidentifier NOT NULL, PRIMARY KEY ([ID]))",
        &[],
    )
    .await?;
    let t0 = Instant::now();
    let mut req = c.bulk_insert("[#rgs_undo_1]").await?;
    for k in &keys {
        let mut row = tiberius::TokenRow::new();
        row.push(tiberius::ColumnData::Guid(Some(*k)));
        req.send(row).await?;
    }
    let n = req.finalize().await?.total();
    println!("{:<28} {:.3} s ({n} rows)", "bulk load", secs(t0));
    let unlocked = SUMMARY.replace("{lock}", "");
    timed(&mut c, "undo summary", &unlocked, &[&pool]).await?;
    timed(&mut c, "BEGIN TRANSACTION", "BEGIN TRANSACTION", &[]).await?;
    let locked = SUMMARY.replace("{lock}", "WITH (UPDLOCK, HOLDLOCK)");
    timed(&mut c, "undo summary (locked)", &locked, &[&pool]).await?;
    timed(&mut c, "undo UPDATE", UNDO, &[&pool]).await?;
    timed(&mut c, "COMMIT", "COMMIT", &[]).await?;
    Ok(())
}

async fn connect(port: u16, password: &str) -> anyhow::Result<Conn> {
    let mut config = Config::new();
    config.host("127.0.0.1");
    config.port(port);
    config.authentication(AuthMethod::sql_server("sa", password));
    config.database("rgsconfig");
    config.encryption(EncryptionLevel::NotSupported);
    let tcp = TcpStream::connect(config.get_addr()).await?;
    tcp.set_nodelay(true)?;
    Ok(Client::connect(config, tcp.compat_write()).await?)
}

fn secs(t0: Instant) -> f64 {
    t0.elapsed().as_secs_f64()
}

/// Runs `sql`, prints its wall time and the rows it returned (at most 4).
async fn timed(c: &mut Conn, label: &str, sql: &str, params: &[&dyn ToSql]) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let mut stream = c.query(sql, params).await?;
    let mut rows = Vec::new();
    while let Some(item) = stream.try_next().await? {
        if let QueryItem::Row(r) = item {
            if rows.len() < 4 {
                let cells: Vec<String> = r.cells().map(|(_, v)| format!("{v:?}")).collect();
                rows.push(cells.join(", "));
            }
        }
    }
    println!("{label:<28} {:.3} s {rows:?}", secs(t0));
    Ok(())
}

async fn first_cell(
    c: &mut Conn,
    sql: &str,
    params: &[&dyn ToSql],
) -> anyhow::Result<Option<uuid::Uuid>> {
    let row = c.query(sql, params).await?.into_row().await?;
    Ok(row.and_then(|r| r.get::<uuid::Uuid, _>(0)))
}
