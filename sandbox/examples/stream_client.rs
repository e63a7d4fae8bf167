//! Measures a running sandbox from the outside: runs one SQL text through
//! tiberius (as the product does) and prints the rows and counts it got
//! and the wall time. `cargo run --release -p rgs-sandbox --example
//! stream_client -- PORT PASSWORD SQL [PARAM]` (PARAM: an int, or a GUID, bound as @P1).

use futures_util::TryStreamExt;
use std::time::Instant;
use tiberius::{AuthMethod, Client, Config, EncryptionLevel, QueryItem};
use tokio::net::TcpStream;
use tokio_util::compat::TokioAsyncWriteCompatExt;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (port, password, sql) = (args[1].parse::<u16>()?, &args[2], &args[3]);
    let mut config = Config::new();
    config.host("127.0.0.1");
    config.port(port);
    config.authentication(AuthMethod::sql_server("sa", password));
    config.database("rgsconfig");
    config.encryption(EncryptionLevel::NotSupported);
    let tcp = TcpStream::connect(config.get_addr()).await?;
    tcp.set_nodelay(true)?;
    let mut client = Client::connect(config, tcp.compat_write()).await?;
    let t0 = Instant::now();
    let mut stream = match args.get(4) {
        Some(p) if p.contains('-') => {
            let g: tiberius::Uuid = p.parse()?;
            client.query(sql.as_str(), &[&g]).await?
        }
        Some(p) => client.query(sql.as_str(), &[&p.parse::<i32>()?]).await?,
        None => client.simple_query(sql.as_str()).await?,
    };
    let (mut rows, mut sets, mut last) = (0u64, 0u64, None);
    while let Some(item) = stream.try_next().await? {
        match item {
            QueryItem::Metadata(_) => sets += 1,
            QueryItem::Row(r) => {
                rows += 1;
                last = Some(format!("{:?}", r.cells().next().map(|(_, v)| v)));
            }
        }
    }
    println!(
        "{rows} rows in {sets} result sets in {:.3} s; last first cell {last:?}",
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}
