//! Manual timing of a 1,000,000-row bulk load (not a test: no timed
//! assertions). `cargo run --release -p rgs-sandbox --example bulk_timing`.
use rgs_sandbox::{Sandbox, SandboxOptions};
use tiberius::{AuthMethod, Client, Config, EncryptionLevel, IntoRow};
use tokio::net::TcpStream;
use tokio_util::compat::TokioAsyncWriteCompatExt;

#[tokio::main]
async fn main() {
    let sb = Sandbox::start(SandboxOptions {
        scenario: Some("migrated".into()),
        ..Default::default()
    })
    .unwrap();
    let mut config = Config::new();
    config.host("127.0.0.1");
    config.port(sb.addr().port());
    config.authentication(AuthMethod::sql_server("sa", sb.password()));
    config.database("rgsconfig");
    config.encryption(EncryptionLevel::Required);
    config.trust_cert();
    let tcp = TcpStream::connect(config.get_addr()).await.unwrap();
    let mut c = Client::connect(config, tcp.compat_write()).await.unwrap();
    c.simple_query("CREATE TABLE #k ([ID] uniqueidentifier NOT NULL PRIMARY KEY)")
        .await
        .unwrap()
        .into_results()
        .await
        .unwrap();
    let start = std::time::Instant::now();
    let mut req = c.bulk_insert("#k").await.unwrap();
    for _ in 0..1_000_000 {
        req.send(uuid::Uuid::new_v4().into_row()).await.unwrap();
    }
    let sent = start.elapsed();
    let n = req.finalize().await.unwrap().total();
    println!(
        "{n} rows: sent in {sent:?}, loaded in {:?}",
        start.elapsed()
    );
}
