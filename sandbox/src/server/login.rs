//! Accepting connections and logging them in: PRELOGIN, TLS (TDS 7.x in
//! PRELOGIN or TDS 8.0 strict), LOGIN7 and the login acknowledgement.

use super::connection::Connection;
use super::{Shared, LOGIN, PRODUCT_VERSION, PROGRAM_NAME, SERVER_NAME, TDS_7_4};
use crate::engine::Session;
use crate::tds::login7::{self, Login7};
use crate::tds::packet::{packet_type, DEFAULT_PACKET_SIZE, MAX_PACKET_SIZE, MIN_PACKET_SIZE};
use crate::tds::prelogin;
use crate::tds::tokens::{self, done_status, env, token};
use crate::tds::transport::Transport;
use crate::types::SqlError;
use std::fmt;
use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tracing::{debug, info, warn};

pub(super) async fn accept_loop(
    shared: Arc<Shared>,
    listener: std::net::TcpListener,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    ready: std::sync::mpsc::Sender<io::Result<()>>,
) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => {
            let _ = ready.send(Ok(()));
            l
        }
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    let _ = tcp.set_nodelay(true);
                    let id = shared.connections.fetch_add(1, Ordering::SeqCst) + 1;
                    let shared = shared.clone();
                    tokio::spawn(async move {
                        match serve(shared, tcp, id).await {
                            Ok(()) => debug!(conn = id, %peer, "connection closed"),
                            Err(e) => debug!(conn = id, %peer, error = %e, "connection ended"),
                        }
                    });
                }
                Err(e) => {
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }
}

pub(super) fn protocol_error(msg: impl fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

/// SQL Server's SPIDs for user connections start above 50.
fn spid_for(conn: u64) -> u16 {
    (51 + (conn - 1) % 30_000) as u16
}

/// One connection from PRELOGIN to close.
async fn serve(shared: Arc<Shared>, tcp: TcpStream, conn: u64) -> io::Result<()> {
    let spid = spid_for(conn);
    let mut t = Transport::new(tcp, spid);
    t.set_latency(shared.latency);

    let Some(login_only_tls) = prelogin(&shared, &mut t, conn).await? else {
        return Ok(());
    };

    let Some(mut msg) = t.read_message().await? else {
        return Ok(());
    };
    if login_only_tls {
        t.drop_tls();
    }
    if msg.ty != packet_type::LOGIN7 {
        t.close().await;
        return Err(protocol_error(format!(
            "expected LOGIN7, got packet type {:#04x}",
            msg.ty
        )));
    }
    let login = login7::decode(&msg.payload);
    // The record holds the (merely scrambled) password.
    msg.payload.fill(0);
    let login = login.map_err(protocol_error)?;
    let Some((session, packet_size)) = log_in(&shared, &mut t, &login, conn).await? else {
        t.close().await;
        return Ok(());
    };
    drop(login);
    let spid = session.spid();

    let mut c = Connection {
        shared,
        t,
        conn,
        spid,
        packet_size,
        interrupter: session.interrupter(),
        session: Some(session),
        requests: 0,
        xact_abort: false,
    };
    let result = c.run().await;
    c.t.close().await;
    result
}

/// PRELOGIN and the TLS it negotiates (TDS 8.0 clients start with TLS
/// instead). Some(true) when TLS covers the login only; None when the client
/// went away.
async fn prelogin(shared: &Shared, t: &mut Transport, conn: u64) -> io::Result<Option<bool>> {
    // TDS 8.0 clients start with a TLS ClientHello instead of PRELOGIN.
    let Some(first) = t.peek_byte().await? else {
        return Ok(None);
    };
    let strict = first == 0x16;
    if strict {
        let Some(tls) = &shared.tls else {
            t.close().await;
            return Err(protocol_error(
                "TDS 8.0 TLS handshake refused: TLS is disabled",
            ));
        };
        t.start_tls_strict(tls.strict.clone()).await?;
    }

    let Some(msg) = t.read_message().await? else {
        return Ok(None);
    };
    if msg.ty != packet_type::PRELOGIN {
        t.close().await;
        return Err(protocol_error(format!(
            "expected PRELOGIN, got packet type {:#04x}",
            msg.ty
        )));
    }
    let pre = prelogin::parse(&msg.payload).map_err(protocol_error)?;
    let encryption = prelogin::negotiate(pre.encryption, shared.tls.is_some());
    let answer = prelogin::response(
        encryption,
        prelogin::instance_ok(&pre.instance, shared.instance.as_deref()),
        wire_version(shared).0,
    );
    t.write_message(packet_type::REPLY, &answer, DEFAULT_PACKET_SIZE)
        .await?;
    let mut login_only_tls = false;
    if !strict && encryption != prelogin::ENCRYPT_NOT_SUP {
        let tls = shared
            .tls
            .as_ref()
            .expect("TLS offered only with a certificate");
        t.start_tls_in_prelogin(tls.tds7.clone()).await?;
        login_only_tls = encryption == prelogin::ENCRYPT_OFF;
    }
    debug!(conn, strict, encryption, client_encryption = ?pre.encryption, instance = %pre.instance, "prelogin done");
    Ok(Some(login_only_tls))
}

fn login_failed(user: &str) -> SqlError {
    SqlError {
        number: 18456,
        severity: 14,
        state: 1,
        message: format!("Login failed for user '{user}'."),
        line: 1,
    }
}

/// Checks the login and opens the session; on failure answers as SQL
/// Server does (ERROR, DONE with DONE_ERROR) and returns None.
async fn log_in(
    shared: &Arc<Shared>,
    t: &mut Transport,
    login: &Login7,
    conn: u64,
) -> io::Result<Option<(Session, usize)>> {
    debug!(
        conn,
        user = %login.username,
        app = %login.app_name,
        host = %login.hostname,
        database = %login.database,
        tls = t.is_tls(),
        "login"
    );
    let fail = |errors: Vec<SqlError>| {
        let mut out = Vec::new();
        for e in &errors {
            tokens::error(&mut out, e, SERVER_NAME, "");
        }
        tokens::done(&mut out, token::DONE, done_status::ERROR, 0, 0);
        out
    };

    let database = if login.database.is_empty() {
        "master".to_string()
    } else {
        login.database.clone()
    };
    if let Some(errors) = refusal(shared, login, &database, conn) {
        t.write_message(packet_type::REPLY, &fail(errors), DEFAULT_PACKET_SIZE)
            .await?;
        return Ok(None);
    }
    if let Some((host, port)) = route(shared, login) {
        info!(conn, %host, port, "listener: routing the login to the primary");
        let out = routing_ack(login, host, *port, wire_version(shared));
        t.write_message(packet_type::REPLY, &out, DEFAULT_PACKET_SIZE)
            .await?;
        return Ok(None);
    }
    let engine = shared.engine.clone();
    let db = database.clone();
    let opened = tokio::task::spawn_blocking(move || engine.open_session(&db))
        .await
        .map_err(|e| io::Error::other(format!("engine panicked opening a session: {e}")))?;
    let mut session = match opened {
        Ok(s) => s,
        Err(mut e) => {
            info!(conn, database = %database, error = %e, "login failed: cannot open database");
            if e.number == 4060 {
                // SQL Server reports 4060 with severity 11.
                e.severity = 11;
            }
            t.write_message(
                packet_type::REPLY,
                &fail(vec![e, login_failed(&login.username)]),
                DEFAULT_PACKET_SIZE,
            )
            .await?;
            return Ok(None);
        }
    };

    session.set_login(LOGIN);
    session.set_client(&login.hostname, &login.app_name);
    t.set_spid(session.spid());
    let packet_size = match login.packet_size as usize {
        0 => DEFAULT_PACKET_SIZE,
        n => n.clamp(MIN_PACKET_SIZE, MAX_PACKET_SIZE),
    };
    let out = login_ack(session.database(), login, packet_size, wire_version(shared));
    t.write_message(packet_type::REPLY, &out, DEFAULT_PACKET_SIZE)
        .await?;
    Ok(Some((session, packet_size)))
}

/// The errors that refuse a login, if it is refused: integrated security,
/// a wrong user name or password, or a database that is not available.
fn refusal(shared: &Shared, login: &Login7, database: &str, conn: u64) -> Option<Vec<SqlError>> {
    if login.integrated_security() {
        return Some(vec![SqlError {
            number: 18452,
            severity: 14,
            state: 1,
            message: "Login failed. The login is from an untrusted domain and cannot be used with Integrated authentication."
                .into(),
            line: 1,
        }]);
    }
    if !login.username.eq_ignore_ascii_case(LOGIN) || !login.password.matches(&shared.password) {
        info!(conn, user = %login.username, "login failed: wrong user name or password");
        return Some(vec![login_failed(&login.username)]);
    }
    if let Some(e) = shared.open_error(database) {
        info!(conn, database = %database, error = %e, "login failed: database not available");
        return Some(vec![e, login_failed(&login.username)]);
    }
    None
}

/// Where a listener sends this login: read-write intent goes to the
/// primary. A read-only intent login is served by the replica it reached,
/// as SQL Server does when the connection asks for reads only (read-write
/// redirection applies to read-write intent alone, and read-only routing
/// only sends read-intent logins on to readable secondaries).
fn route<'a>(shared: &'a Shared, login: &Login7) -> Option<&'a (String, u16)> {
    let read_only = login.type_flags & login7::TYPE_READ_ONLY_INTENT != 0;
    shared.route_to.as_ref().filter(|_| !read_only)
}

/// A login that is routed: LOGINACK, then (as [MS-TDS] 2.2.7.9 requires,
/// after it) the routing ENVCHANGE, and DONE. The client logs in again at
/// the new address; this connection is then closed.
fn routing_ack(login: &Login7, host: &str, port: u16, server: ServerVersion) -> Vec<u8> {
    let mut out = Vec::new();
    let (version, max_tds) = server;
    let tds_version = login.tds_version.min(max_tds);
    tokens::login_ack(&mut out, tds_version, PROGRAM_NAME, version);
    if login.has_feature_ext() && tds_version >= TDS_7_4 {
        tokens::feature_ext_ack_none(&mut out);
    }
    tokens::env_routing(&mut out, host, port);
    tokens::done(&mut out, token::DONE, 0, 0, 0);
    out
}

/// LOGINACK and the environment changes SQL Server sends with it.
/// The product version PRELOGIN and LOGINACK carry, and the highest TDS
/// version the server speaks: SQL Server 2008 R2 speaks TDS 7.3.
type ServerVersion = ((u8, u8, u16), u32);

fn wire_version(shared: &Shared) -> ServerVersion {
    match shared.engine.product_version() {
        Some(v) => (v.wire(), v.max_tds()),
        None => (PRODUCT_VERSION, TDS_7_4),
    }
}

fn login_ack(db: &str, login: &Login7, packet_size: usize, server: ServerVersion) -> Vec<u8> {
    let (version, max_tds) = server;
    let tds_version = if login.tds_version >= max_tds {
        max_tds
    } else {
        login.tds_version
    };
    let mut out = Vec::new();
    tokens::env_text(&mut out, env::DATABASE, db, "master");
    tokens::info(
        &mut out,
        5701,
        2,
        &format!("Changed database context to '{db}'."),
        SERVER_NAME,
        "",
        1,
    );
    tokens::env_collation(&mut out);
    tokens::env_text(&mut out, env::LANGUAGE, "us_english", "");
    tokens::info(
        &mut out,
        5703,
        1,
        "Changed language setting to us_english.",
        SERVER_NAME,
        "",
        1,
    );
    tokens::login_ack(&mut out, tds_version, PROGRAM_NAME, version);
    // FEATUREEXTACK is TDS 7.4's: a 7.3 server ignores the extension.
    if login.has_feature_ext() && tds_version >= TDS_7_4 {
        tokens::feature_ext_ack_none(&mut out);
    }
    tokens::env_text(
        &mut out,
        env::PACKET_SIZE,
        &packet_size.to_string(),
        &DEFAULT_PACKET_SIZE.to_string(),
    );
    tokens::done(&mut out, token::DONE, 0, 0, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The LOGINACK token's TDS version and product version in `out`.
    fn login_ack_fields(out: &[u8]) -> (u32, [u8; 4], bool) {
        let i = out
            .iter()
            .position(|b| *b == token::LOGINACK)
            .expect("a LOGINACK");
        let len = u16::from_le_bytes([out[i + 1], out[i + 2]]) as usize;
        let body = &out[i + 3..i + 3 + len];
        let tds = u32::from_be_bytes([body[1], body[2], body[3], body[4]]);
        let ver = [body[len - 4], body[len - 3], body[len - 2], body[len - 1]];
        let feature_ack = out[i + 3 + len..].contains(&token::FEATUREEXTACK);
        (tds, ver, feature_ack)
    }

    #[test]
    fn sql_server_2008_r2_acknowledges_tds_7_3_and_its_version() {
        let bytes = login7::tests::build("sa", "pw", "rgsconfig", Some(&[0xFF]));
        let login = login7::decode(&bytes).unwrap();
        assert_eq!(login.tds_version, TDS_7_4);
        let v = crate::engine::ProductVersion::parse("10.50.6000.34").unwrap();
        let out = login_ack("rgsconfig", &login, 4096, (v.wire(), v.max_tds()));
        let (tds, ver, feature_ack) = login_ack_fields(&out);
        assert_eq!(tds, 0x730B_0003);
        assert_eq!(ver, [10, 50, 0x17, 0x70]);
        assert!(!feature_ack, "TDS 7.3 has no FEATUREEXTACK");
        // The default: TDS 7.4, SQL Server 2022.
        let out = login_ack("rgsconfig", &login, 4096, (PRODUCT_VERSION, TDS_7_4));
        let (tds, ver, feature_ack) = login_ack_fields(&out);
        assert_eq!(tds, TDS_7_4);
        assert_eq!(ver[..2], [16, 0]);
        assert!(feature_ack);
    }

    #[test]
    fn spids_start_above_50() {
        assert_eq!(spid_for(1), 51);
        assert_eq!(spid_for(2), 52);
    }
}
