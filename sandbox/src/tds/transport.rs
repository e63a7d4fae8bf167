//! One client socket: raw TCP, TLS inside PRELOGIN packets (TDS 7.x), or TLS
//! first (TDS 8.0 strict), with packet reading and message framing on top.
//!
//! Reads are cancel-safe: every byte received is stored in the transport
//! before the next await, so the connection can race "read the next
//! message" (an attention) against a running request and drop the read.

use super::packet::{
    frame_message, frame_packets, packet_type, take_packet, Assembler, Header, Message,
    DEFAULT_PACKET_SIZE,
};
use super::tls::{drain_plaintext, encrypt, feed, take_output};
use rustls::{ServerConfig, ServerConnection};
use std::io;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A client connection's byte stream.
pub struct Transport {
    tcp: TcpStream,
    tls: Option<ServerConnection>,
    /// Received bytes (decrypted when TLS is on) not yet parsed into packets.
    plain: Vec<u8>,
    scratch: Vec<u8>,
    assembler: Assembler,
    eof: bool,
    spid: u16,
    /// Delay before each message is sent, as a remote link adds.
    latency: Option<std::time::Duration>,
    /// The next packet's number while a message is being sent in parts.
    next_packet_id: Option<u8>,
}

fn invalid(msg: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

impl Transport {
    /// Wraps an accepted socket. `spid` goes into every response header.
    pub fn new(tcp: TcpStream, spid: u16) -> Transport {
        Transport {
            tcp,
            tls: None,
            plain: Vec::new(),
            scratch: vec![0u8; 16 * 1024],
            assembler: Assembler::default(),
            eof: false,
            spid,
            latency: None,
            next_packet_id: None,
        }
    }

    /// Delays every message written from now on (PRELOGIN and login
    /// answers, each request's answer, attention acknowledgements; not the
    /// TLS handshake) by `latency`, as a link to a remote server would.
    pub fn set_latency(&mut self, latency: Option<std::time::Duration>) {
        self.latency = latency;
    }

    /// Changes the SPID put in response headers (the session's, once logged
    /// in).
    pub fn set_spid(&mut self, spid: u16) {
        self.spid = spid;
    }

    /// Whether traffic is currently encrypted.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Receives more bytes into `plain`. False at end of stream.
    async fn fill(&mut self) -> io::Result<bool> {
        loop {
            if self.eof {
                return Ok(false);
            }
            let n = self.tcp.read(&mut self.scratch).await?;
            if n == 0 {
                self.eof = true;
                return Ok(false);
            }
            match &mut self.tls {
                None => {
                    self.plain.extend_from_slice(&self.scratch[..n]);
                    return Ok(true);
                }
                Some(conn) => {
                    let before = self.plain.len();
                    feed(conn, &self.scratch[..n], &mut self.plain)?;
                    let out = take_output(conn)?;
                    if !out.is_empty() {
                        self.tcp.write_all(&out).await?;
                    }
                    if self.plain.len() > before {
                        return Ok(true);
                    }
                }
            }
        }
    }

    /// The first byte the client sent, without consuming it (TDS 8.0
    /// clients start with a TLS record, 0x16, instead of a PRELOGIN packet).
    pub async fn peek_byte(&mut self) -> io::Result<Option<u8>> {
        while self.plain.is_empty() {
            if !self.fill().await? {
                return Ok(None);
            }
        }
        Ok(Some(self.plain[0]))
    }

    /// Reads one packet. None when the client closed between packets.
    pub async fn read_packet(&mut self) -> io::Result<Option<(Header, Vec<u8>)>> {
        loop {
            if let Some(packet) = take_packet(&mut self.plain).map_err(invalid)? {
                return Ok(Some(packet));
            }
            if !self.fill().await? {
                if self.plain.is_empty() {
                    return Ok(None);
                }
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "client closed inside a packet",
                ));
            }
        }
    }

    /// Reads one complete message. None when the client closed between
    /// messages.
    pub async fn read_message(&mut self) -> io::Result<Option<Message>> {
        loop {
            let Some((header, payload)) = self.read_packet().await? else {
                if self.assembler.is_empty() {
                    return Ok(None);
                }
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "client closed inside a message",
                ));
            };
            if let Some(msg) = self.assembler.push(header, &payload).map_err(invalid)? {
                return Ok(Some(msg));
            }
        }
    }

    /// Sends `payload` as one message of type `ty`, split into packets of
    /// `packet_size` bytes.
    pub async fn write_message(
        &mut self,
        ty: u8,
        payload: &[u8],
        packet_size: usize,
    ) -> io::Result<()> {
        self.write_packets(ty, payload, packet_size, true).await
    }

    /// Sends `payload` as the next packets of a message of type `ty`
    /// (the first ones, unless a message is under way), the last with EOM
    /// when `eom`: a response that leaves while it is produced. Without
    /// `eom`, `payload` should fill whole packets
    /// ([`super::packet::payload_size`]). The latency applies once per
    /// message, before its first packet.
    pub async fn write_packets(
        &mut self,
        ty: u8,
        payload: &[u8],
        packet_size: usize,
        eom: bool,
    ) -> io::Result<()> {
        let mut id = match self.next_packet_id.take() {
            Some(id) => id,
            None => {
                if let Some(d) = self.latency {
                    tokio::time::sleep(d).await;
                }
                1
            }
        };
        let mut framed = Vec::with_capacity(payload.len() + payload.len() / 512 + 64);
        frame_packets(
            &mut framed,
            ty,
            payload,
            packet_size,
            self.spid,
            &mut id,
            eom,
        );
        if !eom {
            self.next_packet_id = Some(id);
        }
        match &mut self.tls {
            None => self.tcp.write_all(&framed).await?,
            Some(conn) => {
                let records = encrypt(conn, &framed)?;
                self.tcp.write_all(&records).await?;
            }
        }
        self.tcp.flush().await
    }

    /// Writes TLS handshake bytes wrapped in PRELOGIN packets.
    async fn write_wrapped(&mut self, records: &[u8]) -> io::Result<()> {
        let mut framed = Vec::with_capacity(records.len() + 64);
        frame_message(
            &mut framed,
            packet_type::PRELOGIN,
            records,
            DEFAULT_PACKET_SIZE,
            self.spid,
        );
        self.tcp.write_all(&framed).await?;
        self.tcp.flush().await
    }

    /// The TDS 7.x handshake: TLS records travel inside PRELOGIN packets
    /// until the handshake completes, then as raw TLS records.
    pub async fn start_tls_in_prelogin(&mut self, config: Arc<ServerConfig>) -> io::Result<()> {
        let mut conn =
            ServerConnection::new(config).map_err(|e| io::Error::other(e.to_string()))?;
        let mut early = Vec::new();
        loop {
            let out = take_output(&mut conn)?;
            if !out.is_empty() {
                self.write_wrapped(&out).await?;
            }
            if !conn.is_handshaking() {
                break;
            }
            let Some((header, payload)) = self.read_packet().await? else {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "client closed during the TLS handshake",
                ));
            };
            if header.ty != packet_type::PRELOGIN {
                return Err(invalid(format!(
                    "expected a TLS handshake in a PRELOGIN packet, got packet type {:#04x}",
                    header.ty
                )));
            }
            if let Err(e) = feed(&mut conn, &payload, &mut early) {
                if let Ok(alert) = take_output(&mut conn) {
                    let _ = self.write_wrapped(&alert).await;
                }
                return Err(e);
            }
        }
        // Whatever arrived after the last handshake packet is already TLS.
        let leftover = std::mem::take(&mut self.plain);
        self.plain = early;
        feed(&mut conn, &leftover, &mut self.plain)?;
        self.tls = Some(conn);
        Ok(())
    }

    /// The TDS 8.0 strict handshake: plain TLS before any TDS packet.
    pub async fn start_tls_strict(&mut self, config: Arc<ServerConfig>) -> io::Result<()> {
        let mut conn =
            ServerConnection::new(config).map_err(|e| io::Error::other(e.to_string()))?;
        let mut plain = Vec::new();
        let initial = std::mem::take(&mut self.plain);
        let mut input: Vec<u8> = initial;
        loop {
            if !input.is_empty() {
                if let Err(e) = feed(&mut conn, &input, &mut plain) {
                    if let Ok(alert) = take_output(&mut conn) {
                        let _ = self.tcp.write_all(&alert).await;
                    }
                    return Err(e);
                }
                input.clear();
            }
            let out = take_output(&mut conn)?;
            if !out.is_empty() {
                self.tcp.write_all(&out).await?;
                self.tcp.flush().await?;
            }
            if !conn.is_handshaking() {
                break;
            }
            let n = self.tcp.read(&mut self.scratch).await?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "client closed during the TLS handshake",
                ));
            }
            input.extend_from_slice(&self.scratch[..n]);
        }
        drain_plaintext(&mut conn, &mut plain)?;
        self.plain = plain;
        self.tls = Some(conn);
        Ok(())
    }

    /// Stops encrypting: after the login packet when the client negotiated
    /// ENCRYPT_OFF. The client drops TLS without a close_notify, so neither
    /// side sends one.
    pub fn drop_tls(&mut self) {
        self.tls = None;
    }

    /// Closes the socket.
    pub async fn close(&mut self) {
        let _ = self.tcp.shutdown().await;
    }
}
