//! Named instances, the SQL Server Browser and listeners, as tiberius 0.13
//! and a plain UDP client see them: PRELOGIN's instance check, the server
//! name, SSRP answers, and the routing ENVCHANGE with ApplicationIntent.

use rgs_sandbox::browser::{CLNT_UCAST_EX, CLNT_UCAST_INST, SVR_RESP};
use rgs_sandbox::{BrowserMode, Sandbox, SandboxOptions};
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;
use tiberius::error::Error;
use tiberius::{AuthMethod, Client, Config, EncryptionLevel};
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, TokioAsyncWriteCompatExt};

type Conn = Client<Compat<TcpStream>>;

fn start(opts: SandboxOptions) -> Sandbox {
    Sandbox::start(SandboxOptions {
        scenario: Some("healthy".into()),
        ..opts
    })
    .expect("sandbox starts")
}

fn named(instance: &str) -> Sandbox {
    start(SandboxOptions {
        instance: Some(instance.into()),
        ..Default::default()
    })
}

/// A config for `sb`'s port that names `instance` in PRELOGIN.
fn config(sb: &Sandbox, instance: Option<&str>) -> Config {
    let mut c = Config::new();
    c.host("127.0.0.1");
    c.port(sb.addr().port());
    if let Some(i) = instance {
        c.instance_name(i);
    }
    c.database("rgsconfig");
    c.authentication(AuthMethod::sql_server("sa", sb.password()));
    c.encryption(EncryptionLevel::Required);
    c.trust_cert();
    c
}

async fn connect(config: Config) -> tiberius::Result<Conn> {
    let tcp = TcpStream::connect(config.get_addr()).await?;
    Client::connect(config, tcp.compat_write()).await
}

async fn text(c: &mut Conn, sql: &str) -> Option<String> {
    let row = c
        .simple_query(sql)
        .await
        .unwrap()
        .into_row()
        .await
        .unwrap()
        .unwrap();
    row.get::<&str, _>(0).map(str::to_string)
}

fn refused_instance(r: tiberius::Result<Conn>) -> String {
    match r {
        Err(Error::Protocol(m)) if m.contains("rejected the requested instance") => m.to_string(),
        Err(e) => panic!("expected the instance to be refused, got {e:?}"),
        Ok(_) => panic!("expected the instance to be refused, got a login"),
    }
}

#[tokio::test]
async fn a_named_instance_accepts_its_own_name_in_any_case_and_no_name() {
    let sb = named("RTC");
    for name in [
        Some("RTC"),
        Some("rtc"),
        Some("Rtc"),
        None,
        Some("MSSQLServer"),
    ] {
        let mut c = connect(config(&sb, name))
            .await
            .unwrap_or_else(|e| panic!("{name:?}: {e}"));
        assert_eq!(
            text(&mut c, "SELECT @@SERVERNAME").await.as_deref(),
            Some("RGS-SANDBOX\\RTC")
        );
        assert_eq!(
            text(
                &mut c,
                "SELECT CAST(SERVERPROPERTY('ServerName') AS nvarchar(256))"
            )
            .await
            .as_deref(),
            Some("RGS-SANDBOX\\RTC")
        );
    }
    assert_eq!(sb.instance(), Some("RTC"));
}

#[tokio::test]
async fn a_named_instance_refuses_another_name() {
    let sb = named("RTC");
    let m = refused_instance(connect(config(&sb, Some("SQLEXPRESS"))).await);
    assert!(m.contains("SQLEXPRESS"), "{m}");
    refused_instance(connect(config(&sb, Some("RTC2"))).await);
}

#[tokio::test]
async fn the_default_instance_refuses_a_name_and_accepts_none() {
    let sb = start(SandboxOptions::default());
    refused_instance(connect(config(&sb, Some("RTC"))).await);
    let mut c = connect(config(&sb, None)).await.unwrap();
    assert_eq!(
        text(&mut c, "SELECT @@SERVERNAME").await.as_deref(),
        Some("RGS-SANDBOX")
    );
    connect(config(&sb, Some("mssqlserver"))).await.unwrap();
}

/// Sends one SSRP request to `to` and returns the answer's text, None when
/// nothing came back within half a second.
fn ask(to: SocketAddr, request: &[u8]) -> Option<String> {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    s.send_to(request, to).unwrap();
    let mut buf = [0u8; 2048];
    let (n, _) = s.recv_from(&mut buf).ok()?;
    assert_eq!(buf[0], SVR_RESP);
    let len = u16::from_le_bytes([buf[1], buf[2]]) as usize;
    assert_eq!(len, n - 3);
    Some(String::from_utf8(buf[3..n].to_vec()).unwrap())
}

fn with_browser(mode: BrowserMode) -> Sandbox {
    start(SandboxOptions {
        instance: Some("RTC".into()),
        browser: Some("127.0.0.1:0".parse().unwrap()),
        browser_mode: mode,
        ..Default::default()
    })
}

#[test]
fn the_browser_names_the_instance_port() {
    let sb = with_browser(BrowserMode::Answer);
    let at = sb.browser_addr().unwrap();
    let port = sb.addr().port();
    let expected = format!(
        "ServerName;RGS-SANDBOX;InstanceName;RTC;IsClustered;No;Version;16.0.1000.6;tcp;{port};;"
    );
    let mut inst = vec![CLNT_UCAST_INST];
    inst.extend_from_slice(b"rtc");
    assert_eq!(ask(at, &inst).as_deref(), Some(expected.as_str()));
    assert_eq!(
        ask(at, &[CLNT_UCAST_EX]).as_deref(),
        Some(expected.as_str())
    );
    // A real Browser does not answer for an instance it does not have.
    let mut other = vec![CLNT_UCAST_INST];
    other.extend_from_slice(b"SQLEXPRESS");
    assert_eq!(ask(at, &other), None);
}

#[test]
fn the_browser_can_be_silent_or_name_another_port() {
    let sb = with_browser(BrowserMode::Silent);
    let at = sb.browser_addr().unwrap();
    assert_eq!(ask(at, b"\x04RTC"), None);
    assert_eq!(ask(at, &[CLNT_UCAST_EX]), None);
    drop(sb);

    let sb = with_browser(BrowserMode::Port(9));
    let got = ask(sb.browser_addr().unwrap(), b"\x04RTC").unwrap();
    assert!(got.ends_with(";tcp;9;;"), "{got}");
}

#[test]
fn a_browser_port_in_use_is_an_error() {
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let e = Sandbox::start(SandboxOptions {
        browser: Some(taken.local_addr().unwrap()),
        ..Default::default()
    })
    .unwrap_err();
    let io = e.downcast_ref::<std::io::Error>().expect("an io::Error");
    assert_eq!(io.kind(), std::io::ErrorKind::AddrInUse, "{e:#}");
}

fn listener_for(primary: &Sandbox) -> Sandbox {
    start(SandboxOptions {
        route_to: Some(("127.0.0.1".into(), primary.addr().port())),
        ..Default::default()
    })
}

#[tokio::test]
async fn a_listener_routes_read_write_logins_to_the_primary() {
    let primary = start(SandboxOptions::default());
    let listener = listener_for(&primary);
    match connect(config(&listener, None)).await {
        Err(Error::Routing { host, port }) => {
            assert_eq!((host.as_str(), port), ("127.0.0.1", primary.addr().port()));
            let mut to = config(&listener, None);
            to.port(port);
            connect(to).await.expect("the primary takes the login");
        }
        Err(e) => panic!("expected routing, got {e:?}"),
        Ok(_) => panic!("expected routing, got a login at the listener"),
    }
}

#[tokio::test]
async fn a_read_only_intent_login_is_not_routed() {
    let primary = start(SandboxOptions::default());
    let listener = listener_for(&primary);
    let mut c = config(&listener, None);
    c.readonly(true);
    let mut conn = connect(c).await.expect("served by the replica it reached");
    assert_eq!(
        text(&mut conn, "SELECT DB_NAME()").await.as_deref(),
        Some("rgsconfig")
    );
    // A wrong password is refused before any routing.
    let mut bad = config(&listener, None);
    bad.authentication(AuthMethod::sql_server("sa", "wrong-Passw0rd"));
    match connect(bad).await {
        Err(Error::Server(e)) => assert_eq!(e.code(), 18456),
        other => panic!("expected 18456, got {:?}", other.err()),
    }
}
