//! Manual timing of uniqueidentifier work over 1,000,000 rows (not a test:
//! no timed assertions): a bulk load into a keyed temporary table, the
//! owner GROUP BY, a checksum, and undo's UPDATE joined to its key table.
//! `cargo run --release -p rgs-sandbox --example guid_timing [ROWS [bulk|values]]`
//! (`bulk`: stop after the first bulk load; `values`: then send up to
//! 100,000 keys by INSERT ... VALUES and stop; to profile either alone).
use futures_util::TryStreamExt;
use rgs_sandbox::{Sandbox, SandboxOptions};
use std::time::Instant;
use tiberius::{AuthMethod, Client, Config, EncryptionLevel, IntoRow, QueryItem};
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, TokioAsyncWriteCompatExt};

type Conn = Client<Compat<TcpStream>>;

/// CPU seconds this process (client and sandbox) has used so far: on a
/// busy machine a steadier measure than the wall time.
fn cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<f64> = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    f.iter().sum::<f64>() / 100.0
}

/// Runs `sql` (with `@P1` bound to `p1` when given), returns the first
/// column of every row as text and prints the time it took.
async fn run(c: &mut Conn, label: &str, sql: &str, p1: Option<uuid::Uuid>) -> Vec<String> {
    let (t0, c0) = (Instant::now(), cpu());
    let mut s = match p1 {
        Some(g) => c.query(sql, &[&g]).await.unwrap(),
        None => c.simple_query(sql).await.unwrap(),
    };
    let mut out = Vec::new();
    while let Some(item) = s.try_next().await.unwrap() {
        if let QueryItem::Row(r) = item {
            out.push(format!("{:?}", r.cells().next().map(|(_, v)| v)));
        }
    }
    println!(
        "{label}: {:.3} s ({:.2} s CPU)",
        t0.elapsed().as_secs_f64(),
        cpu() - c0
    );
    out
}

/// Bulk-loads `keys` into `table`, printing the time it took.
async fn load(c: &mut Conn, table: &str, keys: &[uuid::Uuid]) {
    let (t0, c0) = (Instant::now(), cpu());
    let mut req = c.bulk_insert(table).await.unwrap();
    for k in keys {
        req.send((*k).into_row()).await.unwrap();
    }
    let n = req.finalize().await.unwrap().total();
    println!(
        "bulk load of {n} keys into {table}: {:.3} s ({:.2} s CPU)",
        t0.elapsed().as_secs_f64(),
        cpu() - c0
    );
}

/// Sends `keys` to a new `#v` as the product's other way does: 1,000-row
/// `INSERT ... VALUES` statements, every value a parameter.
async fn values(c: &mut Conn, keys: &[uuid::Uuid]) {
    run(
        c,
        "create #v",
        "CREATE TABLE #v ([ID] uniqueidentifier NOT NULL, PRIMARY KEY ([ID]))",
        None,
    )
    .await;
    let (t0, c0) = (Instant::now(), cpu());
    for chunk in keys.chunks(1000) {
        let values: Vec<String> = (1..=chunk.len()).map(|i| format!("(@P{i})")).collect();
        let sql = format!("INSERT INTO #v ([ID]) VALUES {}", values.join(", "));
        let params: Vec<&dyn tiberius::ToSql> =
            chunk.iter().map(|g| g as &dyn tiberius::ToSql).collect();
        c.execute(sql, &params).await.unwrap();
    }
    println!(
        "INSERT VALUES of {} keys into #v, 1,000 a statement: {:.3} s ({:.2} s CPU)",
        keys.len(),
        t0.elapsed().as_secs_f64(),
        cpu() - c0
    );
}

#[tokio::main]
async fn main() {
    let rows: u64 = std::env::args()
        .nth(1)
        .map_or(1_000_000, |a| a.parse().unwrap());
    let bulk_only = std::env::args().nth(2).as_deref() == Some("bulk");
    let sb = Sandbox::start(SandboxOptions {
        scenario: Some("migrated".into()),
        extra_objects: if bulk_only { 0 } else { rows },
        ..Default::default()
    })
    .unwrap();
    let mut config = Config::new();
    config.host("127.0.0.1");
    config.port(sb.addr().port());
    config.authentication(AuthMethod::sql_server("sa", sb.password()));
    config.database("rgsconfig");
    config.encryption(EncryptionLevel::NotSupported);
    let tcp = TcpStream::connect(config.get_addr()).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let mut c = Client::connect(config, tcp.compat_write()).await.unwrap();

    let mut random: Vec<uuid::Uuid> = (0..rows).map(|_| uuid::Uuid::new_v4()).collect();
    if std::env::args().nth(3).as_deref() == Some("sorted") {
        random.sort_by_key(|g| {
            let x = g.as_bytes();
            [
                x[10], x[11], x[12], x[13], x[14], x[15], x[8], x[9], x[7], x[6], x[5], x[4], x[3],
                x[2], x[1], x[0],
            ]
        });
    }
    run(
        &mut c,
        "create #r",
        "CREATE TABLE #r ([ID] uniqueidentifier NOT NULL PRIMARY KEY)",
        None,
    )
    .await;
    load(&mut c, "#r", &random).await;
    if bulk_only {
        return;
    }
    if std::env::args().nth(2).as_deref() == Some("values") {
        values(&mut c, &random[..rows.min(100_000) as usize]).await;
        return;
    }

    let pool: uuid::Uuid = run(&mut c, "pool", "SELECT [ID] FROM [dbo].[OwnerPool]", None).await[0]
        .trim_start_matches("Some(Guid(Some(")
        .trim_end_matches(")))")
        .parse()
        .unwrap();
    let group = "SELECT t.[OwnerPoolId], p.[ID], COUNT_BIG(*) FROM [dbo].[AgentGroups] AS t LEFT JOIN [dbo].[OwnerPool] AS p ON p.[ID] = t.[OwnerPoolId] GROUP BY t.[OwnerPoolId], p.[ID]";
    run(&mut c, "GROUP BY, owners NULL", group, None).await;
    run(
        &mut c,
        "COUNT",
        "SELECT COUNT_BIG(*) FROM [dbo].[AgentGroups]",
        None,
    )
    .await;
    run(
        &mut c,
        "COUNT + CHECKSUM_AGG",
        "SELECT COUNT_BIG(*), CHECKSUM_AGG(BINARY_CHECKSUM([ID])) FROM [dbo].[AgentGroups]",
        None,
    )
    .await;
    run(
        &mut c,
        "UPDATE owners to the pool",
        "UPDATE [dbo].[AgentGroups] SET [OwnerPoolId] = @P1 WHERE [OwnerPoolId] IS NULL",
        Some(pool),
    )
    .await;
    run(&mut c, "GROUP BY, owners set", group, None).await;
    run(
        &mut c,
        "COUNT WHERE owner = @P1",
        "SELECT COUNT_BIG(*) FROM [dbo].[AgentGroups] WHERE [OwnerPoolId] = @P1",
        Some(pool),
    )
    .await;

    let ids: Vec<uuid::Uuid> = run(
        &mut c,
        "read the keys",
        "SELECT [ID] FROM [dbo].[AgentGroups]",
        None,
    )
    .await
    .iter()
    .map(|s| {
        s.trim_start_matches("Some(Guid(Some(")
            .trim_end_matches(")))")
            .parse()
            .unwrap()
    })
    .collect();
    run(
        &mut c,
        "create #k",
        "CREATE TABLE #k ([ID] uniqueidentifier NOT NULL, PRIMARY KEY ([ID]))",
        None,
    )
    .await;
    load(&mut c, "#k", &ids).await;
    values(&mut c, &ids).await;
    run(
        &mut c,
        "undo UPDATE joined to #k",
        "UPDATE [dbo].[AgentGroups] SET [OwnerPoolId] = NULL WHERE [OwnerPoolId] = @P1 AND EXISTS (SELECT 1 FROM #k AS k WHERE k.[ID] = [dbo].[AgentGroups].[ID]); SELECT CAST(@@ROWCOUNT AS bigint) AS changed",
        Some(pool),
    )
    .await;
    run(
        &mut c,
        "undo SELECT joined to #k",
        "SELECT k.[ID], CASE WHEN t.[ID] IS NULL THEN 0 ELSE 1 END AS found, t.[OwnerPoolId], CASE WHEN t.[OwnerPoolId] = @P1 THEN 1 ELSE 0 END FROM #k AS k LEFT JOIN [dbo].[AgentGroups] AS t ON t.[ID] = k.[ID] ORDER BY k.[ID]",
        Some(pool),
    )
    .await;
}
