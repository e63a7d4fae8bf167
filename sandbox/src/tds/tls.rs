//! The sandbox's TLS identity: a self-signed certificate generated at start
//! (as SQL Server does when no certificate is configured), served by rustls
//! with the ring provider.

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::ServerConfig;
use std::io;
use std::sync::Arc;

/// ALPN protocol of TDS 8.0 strict encryption.
pub const TDS8_ALPN: &[u8] = b"tds/8.0";

/// Server TLS configurations for both ways a client can start TLS.
#[derive(Clone)]
pub struct TlsConfigs {
    /// TLS inside the PRELOGIN exchange (TDS 7.x). TLS 1.2 only: SQL Server
    /// offers TLS 1.3 only with TDS 8.0, and some clients mishandle 1.3
    /// post-handshake messages inside the PRELOGIN wrapping.
    pub tds7: Arc<ServerConfig>,
    /// TDS 8.0 strict mode: TLS first, TLS 1.2 or 1.3, ALPN `tds/8.0`.
    pub strict: Arc<ServerConfig>,
}

impl TlsConfigs {
    /// Generates a fresh self-signed certificate for `localhost` and the
    /// loopback addresses.
    pub fn generate() -> anyhow::Result<TlsConfigs> {
        let names = vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "::1".to_string(),
        ];
        let certified = rcgen::generate_simple_self_signed(names)?;
        let cert: CertificateDer<'static> = certified.cert.der().clone();
        let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
        let provider = Arc::new(rustls::crypto::ring::default_provider());

        let mut tds7 = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS12])?
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], PrivateKeyDer::Pkcs8(key.clone_key()))?;
        tds7.send_tls13_tickets = 0;

        let mut strict = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
            .with_no_client_auth()
            .with_single_cert(vec![cert], PrivateKeyDer::Pkcs8(key))?;
        strict.send_tls13_tickets = 0;
        strict.alpn_protocols = vec![TDS8_ALPN.to_vec()];

        Ok(TlsConfigs {
            tds7: Arc::new(tds7),
            strict: Arc::new(strict),
        })
    }
}

/// Feeds received ciphertext to `conn` and moves any resulting plaintext to
/// `plain`. Plaintext is drained after every record batch because rustls
/// refuses more input once its plaintext buffer is full.
pub fn feed(
    conn: &mut rustls::ServerConnection,
    mut data: &[u8],
    plain: &mut Vec<u8>,
) -> io::Result<()> {
    while !data.is_empty() {
        let n = conn.read_tls(&mut data)?;
        conn.process_new_packets()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("TLS: {e}")))?;
        drain_plaintext(conn, plain)?;
        if n == 0 {
            break;
        }
    }
    Ok(())
}

/// Moves all decrypted bytes rustls holds into `plain`.
pub fn drain_plaintext(conn: &mut rustls::ServerConnection, plain: &mut Vec<u8>) -> io::Result<()> {
    use std::io::Read;
    let mut buf = [0u8; 16 * 1024];
    loop {
        match conn.reader().read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => plain.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

/// Everything rustls wants to send.
pub fn take_output(conn: &mut rustls::ServerConnection) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out)?;
    }
    Ok(out)
}

/// Encrypts `data` as application data and returns the TLS records.
pub fn encrypt(conn: &mut rustls::ServerConnection, data: &[u8]) -> io::Result<Vec<u8>> {
    use std::io::Write;
    let mut out = Vec::new();
    // rustls buffers a limited amount of outgoing data: encrypt in slices and
    // collect the records after each one.
    for chunk in data.chunks(16 * 1024) {
        conn.writer().write_all(chunk)?;
        while conn.wants_write() {
            conn.write_tls(&mut out)?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_configs() {
        let c = TlsConfigs::generate().unwrap();
        assert!(c.tds7.alpn_protocols.is_empty());
        assert_eq!(c.strict.alpn_protocols, vec![TDS8_ALPN.to_vec()]);
    }
}
