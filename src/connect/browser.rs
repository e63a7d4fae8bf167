//! Finding a named instance's TCP port through the SQL Server Browser
//! ([MC-SQLR]: UDP 1434 of the host). tiberius has `connect_named`, but it
//! waits a fixed second and cannot tell a Browser that is not there from one
//! that does not know the instance (a real Browser stays silent for both).
//! Asking again for every instance (CLNT_UCAST_EX) tells them apart, so the
//! message can say which it is.

use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::UdpSocket;

/// The Browser's UDP port; clients cannot be told another.
pub const BROWSER_PORT: u16 = 1434;

const CLNT_UCAST_EX: u8 = 0x03;
const CLNT_UCAST_INST: u8 = 0x04;
const SVR_RESP: u8 = 0x05;

/// What the Browser said about an instance.
#[derive(Debug)]
pub(super) enum Lookup {
    /// The instance listens on this TCP port, at this address.
    Found(SocketAddr),
    /// The instance is known but has no TCP port (TCP/IP disabled).
    NoTcp,
    /// The Browser answered, and the instance is not among those it lists.
    Unknown {
        /// The instances it does list.
        listed: Vec<String>,
    },
    /// No Browser answered on UDP 1434 at any address of the host.
    Silent,
    /// The host name does not resolve.
    NoSuchHost,
}

/// Asks the Browser on every address of `host` for `instance`, waiting
/// `wait` for each answer.
pub(super) async fn resolve(host: &str, instance: &str, wait: Duration) -> Lookup {
    let addrs: Vec<SocketAddr> = match tokio::net::lookup_host((host, BROWSER_PORT)).await {
        Ok(a) => a.collect(),
        Err(_) => return Lookup::NoSuchHost,
    };
    if addrs.is_empty() {
        return Lookup::NoSuchHost;
    }
    let mut request = vec![CLNT_UCAST_INST];
    request.extend_from_slice(instance.as_bytes());
    let mut listed = None;
    for &addr in &addrs {
        if let Some(reply) = ask(addr, &request, wait).await {
            let records = records(&reply);
            return match records.iter().find(|r| r.named(instance)) {
                Some(r) => r.tcp.map_or(Lookup::NoTcp, |p| {
                    Lookup::Found(SocketAddr::new(addr.ip(), p))
                }),
                None => Lookup::Unknown {
                    listed: records.into_iter().map(|r| r.instance).collect(),
                },
            };
        }
        // Silence for one instance: is anything there at all?
        if let Some(reply) = ask(addr, &[CLNT_UCAST_EX], wait).await {
            let records = records(&reply);
            if let Some(r) = records.iter().find(|r| r.named(instance)) {
                // Lost the first answer, got this one.
                return r.tcp.map_or(Lookup::NoTcp, |p| {
                    Lookup::Found(SocketAddr::new(addr.ip(), p))
                });
            }
            listed = Some(records.into_iter().map(|r| r.instance).collect());
        }
    }
    match listed {
        Some(listed) => Lookup::Unknown { listed },
        None => Lookup::Silent,
    }
}

/// One request, one answer's payload; None on silence or an ICMP refusal.
async fn ask(to: SocketAddr, request: &[u8], wait: Duration) -> Option<Vec<u8>> {
    let local: SocketAddr = if to.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local).await.ok()?;
    // Connected, so that a host with nothing on UDP 1434 (an ICMP port
    // unreachable) fails at once instead of after the wait.
    socket.connect(to).await.ok()?;
    socket.send(request).await.ok()?;
    let mut buf = vec![0u8; 65_535];
    let n = tokio::time::timeout(wait, socket.recv(&mut buf))
        .await
        .ok()?
        .ok()?;
    let reply = buf.get(..n)?;
    if reply.len() < 3 || reply[0] != SVR_RESP {
        return None;
    }
    Some(reply[3..].to_vec())
}

/// One instance in a Browser's answer.
#[derive(Debug, PartialEq)]
struct Record {
    instance: String,
    tcp: Option<u16>,
}

impl Record {
    fn named(&self, instance: &str) -> bool {
        self.instance.eq_ignore_ascii_case(instance)
    }
}

/// The instances of an answer: `key;value;` pairs, each instance starting
/// with `ServerName` and ending with an empty pair (`;;`).
fn records(reply: &[u8]) -> Vec<Record> {
    let text = String::from_utf8_lossy(reply);
    let mut out = Vec::new();
    for block in text.split(";;").filter(|b| !b.trim().is_empty()) {
        let fields: Vec<&str> = block.split(';').collect();
        let value = |key: &str| {
            fields
                .chunks(2)
                .find(|kv| kv[0].eq_ignore_ascii_case(key))
                .and_then(|kv| kv.get(1).copied())
        };
        if let Some(instance) = value("InstanceName") {
            out.push(Record {
                instance: instance.to_string(),
                tcp: value("tcp").and_then(|p| p.parse().ok()),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_instance_of_an_answer() {
        let reply = b"ServerName;SQLBE01;InstanceName;RTC;IsClustered;No;Version;16.0.1000.6;tcp;50123;;\
ServerName;SQLBE01;InstanceName;SQLEXPRESS;IsClustered;No;Version;15.0.2000.5;np;\\\\SQLBE01\\pipe\\sql\\query;;";
        assert_eq!(
            records(reply),
            vec![
                Record {
                    instance: "RTC".into(),
                    tcp: Some(50123)
                },
                Record {
                    instance: "SQLEXPRESS".into(),
                    tcp: None
                },
            ]
        );
        assert!(records(b"").is_empty());
        assert!(records(b"garbage").is_empty());
    }
}
