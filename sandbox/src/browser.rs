//! A SQL Server Browser ([MC-SQLR], the SQL Server Resolution Protocol) for
//! one instance, so that clients can find a named sandbox instance as they
//! find `sqlbe01.contoso.local\rtc`: they ask on UDP (port 1434 on a real
//! server) and connect to the TCP port the answer names. Besides answering
//! truthfully it can stay silent (a stopped service, a firewall) or name a
//! port nobody listens on (a stopped instance), for the failure paths.

use std::fmt;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tracing::{debug, warn};

/// CLNT_BCAST_EX: a broadcast asking every Browser for all its instances.
pub const CLNT_BCAST_EX: u8 = 0x02;
/// CLNT_UCAST_EX: one Browser asked for all its instances.
pub const CLNT_UCAST_EX: u8 = 0x03;
/// CLNT_UCAST_INST: one Browser asked for one instance, named after the byte.
pub const CLNT_UCAST_INST: u8 = 0x04;
/// SVR_RESP: the answer, followed by a 16-bit little-endian length.
pub const SVR_RESP: u8 = 0x05;

/// Version the Browser reports for the instance.
pub const BROWSER_VERSION: &str = "16.0.1000.6";

/// How the Browser answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BrowserMode {
    /// Names the instance's real TCP port.
    #[default]
    Answer,
    /// Never answers anything, as a stopped Browser service or a firewall
    /// dropping UDP 1434 looks to a client.
    Silent,
    /// Names this TCP port instead of the real one: a stopped instance,
    /// or a stale port.
    Port(u16),
}

impl fmt::Display for BrowserMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BrowserMode::Answer => f.write_str("answer"),
            BrowserMode::Silent => f.write_str("silent"),
            BrowserMode::Port(p) => write!(f, "port:{p}"),
        }
    }
}

impl std::str::FromStr for BrowserMode {
    type Err = String;

    /// Parses `answer`, `silent` or `port:N` (for a command-line option).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        match s.as_str() {
            "answer" => Ok(BrowserMode::Answer),
            "silent" => Ok(BrowserMode::Silent),
            _ => s
                .strip_prefix("port:")
                .and_then(|p| p.parse().ok())
                .map(BrowserMode::Port)
                .ok_or_else(|| {
                    format!("invalid Browser mode '{s}': expected answer, silent or port:N")
                }),
        }
    }
}

/// The one instance a [`Browser`] knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserInstance {
    /// The machine name (`ServerName`).
    pub server: String,
    /// The instance name (`InstanceName`).
    pub instance: String,
    /// Its TCP port.
    pub port: u16,
}

impl BrowserInstance {
    /// The instance's record as the Browser sends it:
    /// `ServerName;HOST;InstanceName;RTC;IsClustered;No;Version;...;tcp;PORT;;`.
    pub fn record(&self, port: u16) -> String {
        format!(
            "ServerName;{};InstanceName;{};IsClustered;No;Version;{BROWSER_VERSION};tcp;{port};;",
            self.server, self.instance
        )
    }
}

/// The Browser's answer to one request, None when it stays silent (as a
/// real Browser does for requests it does not understand and instances it
/// does not have).
pub fn answer(request: &[u8], known: &BrowserInstance, mode: BrowserMode) -> Option<Vec<u8>> {
    let port = match mode {
        BrowserMode::Answer => known.port,
        BrowserMode::Silent => return None,
        BrowserMode::Port(p) => p,
    };
    let (&op, rest) = request.split_first()?;
    let wanted = match op {
        CLNT_BCAST_EX | CLNT_UCAST_EX => true,
        CLNT_UCAST_INST => {
            // The name is MBCS, at most 32 bytes, optionally NUL-terminated.
            let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
            let name = String::from_utf8_lossy(&rest[..end]);
            name.eq_ignore_ascii_case(&known.instance)
        }
        _ => false,
    };
    if !wanted {
        return None;
    }
    let data = known.record(port).into_bytes();
    let mut out = Vec::with_capacity(data.len() + 3);
    out.push(SVR_RESP);
    out.extend_from_slice(&(data.len() as u16).to_le_bytes());
    out.extend_from_slice(&data);
    Some(out)
}

/// A running Browser on a UDP address. Stops when dropped.
pub struct Browser {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl fmt::Debug for Browser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Browser").field("addr", &self.addr).finish()
    }
}

/// How often the serving thread looks at the stop flag.
const POLL: Duration = Duration::from_millis(50);

impl Browser {
    /// Binds `addr` (UDP) and answers for `known` as `mode` says until
    /// stopped. Binding errors (the port in use, or a privileged port) are
    /// returned as they are, so callers can tell them apart.
    pub fn start(
        addr: SocketAddr,
        known: BrowserInstance,
        mode: BrowserMode,
    ) -> io::Result<Browser> {
        let socket = UdpSocket::bind(addr)?;
        socket.set_read_timeout(Some(POLL))?;
        let addr = socket.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("rgs-sandbox-browser".into())
            .spawn(move || serve(&socket, &known, mode, &flag))?;
        debug!(%addr, %mode, "SQL Server Browser listening");
        Ok(Browser {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// The UDP address it answers on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops answering and releases the port. Idempotent.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.stop();
    }
}

fn serve(socket: &UdpSocket, known: &BrowserInstance, mode: BrowserMode, stop: &AtomicBool) {
    // Requests are one small datagram; anything longer is not SSRP.
    let mut buf = [0u8; 1024];
    while !stop.load(Ordering::SeqCst) {
        let (len, peer) = match socket.recv_from(&mut buf) {
            Ok(got) => got,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            // An ICMP error for an earlier answer, on some systems.
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => continue,
            Err(e) => {
                warn!(error = %e, "SQL Server Browser: receive failed; stopping");
                return;
            }
        };
        let request = &buf[..len];
        match answer(request, known, mode) {
            Some(reply) => {
                debug!(%peer, op = request.first().copied().unwrap_or(0), "SQL Server Browser: answering");
                if let Err(e) = socket.send_to(&reply, peer) {
                    debug!(%peer, error = %e, "SQL Server Browser: answer not sent");
                }
            }
            None => debug!(%peer, len, %mode, "SQL Server Browser: no answer"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rtc() -> BrowserInstance {
        BrowserInstance {
            server: "RGS-SANDBOX".into(),
            instance: "RTC".into(),
            port: 50123,
        }
    }

    fn text(reply: &[u8]) -> String {
        assert_eq!(reply[0], SVR_RESP);
        let len = u16::from_le_bytes([reply[1], reply[2]]) as usize;
        assert_eq!(len, reply.len() - 3);
        String::from_utf8(reply[3..].to_vec()).unwrap()
    }

    #[test]
    fn answers_for_its_instance_in_any_case() {
        let r = answer(b"\x04rtc", &rtc(), BrowserMode::Answer).unwrap();
        assert_eq!(
            text(&r),
            "ServerName;RGS-SANDBOX;InstanceName;RTC;IsClustered;No;Version;16.0.1000.6;tcp;50123;;"
        );
        assert!(answer(b"\x04RTC\0", &rtc(), BrowserMode::Answer).is_some());
        let all = answer(&[CLNT_UCAST_EX], &rtc(), BrowserMode::Answer).unwrap();
        assert!(text(&all).contains("InstanceName;RTC;"));
    }

    #[test]
    fn stays_silent_for_other_instances_and_unknown_requests() {
        assert!(answer(b"\x04SQLEXPRESS", &rtc(), BrowserMode::Answer).is_none());
        assert!(answer(b"", &rtc(), BrowserMode::Answer).is_none());
        assert!(answer(b"\x0a", &rtc(), BrowserMode::Answer).is_none());
        assert!(answer(b"\x04RTC", &rtc(), BrowserMode::Silent).is_none());
        assert!(answer(&[CLNT_UCAST_EX], &rtc(), BrowserMode::Silent).is_none());
    }

    #[test]
    fn can_name_another_port() {
        let r = answer(b"\x04RTC", &rtc(), BrowserMode::Port(9)).unwrap();
        assert!(text(&r).ends_with(";tcp;9;;"));
    }

    #[test]
    fn modes_parse() {
        for m in [
            BrowserMode::Answer,
            BrowserMode::Silent,
            BrowserMode::Port(1433),
        ] {
            assert_eq!(m.to_string().parse::<BrowserMode>(), Ok(m));
        }
        assert!("port:x".parse::<BrowserMode>().is_err());
        assert!("loud".parse::<BrowserMode>().is_err());
    }
}
