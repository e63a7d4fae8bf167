//! Plain TLS client through native-tls (SChannel on Windows), for the Wine
//! diagnosis in ../README.md: `schannel-probe HOST:PORT BYTES` does the
//! handshake (any certificate accepted), sends one line, then reads until
//! BYTES bytes have arrived, with the connection left open by the server, or
//! until a read waits 10 s.
use std::io::{Read, Write};
use std::time::Duration;

fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().expect("HOST:PORT");
    let want: usize = args.next().expect("BYTES").parse().expect("BYTES");
    let tcp = std::net::TcpStream::connect(&addr).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let connector = native_tls::TlsConnector::builder()
        .danger_accept_invalid_certs(true)
        .danger_accept_invalid_hostnames(true)
        .build()
        .unwrap();
    let mut tls = match connector.connect("localhost", tcp) {
        Ok(s) => s,
        Err(e) => {
            println!("handshake failed: {e:?}");
            std::process::exit(1);
        }
    };
    println!("handshake ok");
    tls.write_all(b"go\n").unwrap();
    let mut total = 0usize;
    let mut buf = vec![0u8; 65536];
    while total < want {
        match tls.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => total += n,
            Err(e) => {
                println!("stalled after {total} of {want} bytes: {e}");
                std::process::exit(2);
            }
        }
    }
    println!("got all {total} bytes");
}
