//! Packet framing: the 8-byte header, splitting a response into packets of
//! the negotiated size, and reassembling a client message from its packets.

use super::wire::WireError;

/// Bytes in a packet header.
pub const HEADER_LEN: usize = 8;

/// Packet size used until LOGIN7 negotiates another one.
pub const DEFAULT_PACKET_SIZE: usize = 4096;

/// Smallest packet size SQL Server accepts.
pub const MIN_PACKET_SIZE: usize = 512;

/// Largest packet size SQL Server accepts.
pub const MAX_PACKET_SIZE: usize = 32767;

/// Largest client message accepted: far above anything rgs-repair or the
/// tests send, low enough that a broken client cannot exhaust memory.
pub const MAX_MESSAGE_LEN: usize = 64 * 1024 * 1024;

/// Packet types (MS-TDS 2.2.3.1.1).
pub mod packet_type {
    /// SQL batch.
    pub const SQL_BATCH: u8 = 0x01;
    /// Remote procedure call.
    pub const RPC: u8 = 0x03;
    /// Tabular result: every server response.
    pub const REPLY: u8 = 0x04;
    /// Attention (cancel).
    pub const ATTENTION: u8 = 0x06;
    /// Bulk load data.
    pub const BULK_LOAD: u8 = 0x07;
    /// Transaction manager request.
    pub const TRANSACTION_MANAGER: u8 = 0x0E;
    /// LOGIN7.
    pub const LOGIN7: u8 = 0x10;
    /// SSPI continuation.
    pub const SSPI: u8 = 0x11;
    /// PRELOGIN, also the wrapper of TLS handshake records.
    pub const PRELOGIN: u8 = 0x12;
}

/// Packet status bits (MS-TDS 2.2.3.1.2).
pub mod status {
    /// Last packet of the message.
    pub const EOM: u8 = 0x01;
    /// The client abandons the message (with EOM).
    pub const IGNORE: u8 = 0x02;
    /// Reset the session before running the request.
    pub const RESET_CONNECTION: u8 = 0x08;
    /// Reset the session but keep its transaction.
    pub const RESET_CONNECTION_SKIP_TRAN: u8 = 0x10;
}

/// A decoded packet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Packet type.
    pub ty: u8,
    /// Status bits.
    pub status: u8,
    /// Total length including the header.
    pub length: u16,
    /// Server process id (the server fills it in its responses).
    pub spid: u16,
    /// Packet number within the message, modulo 256.
    pub id: u8,
}

impl Header {
    /// Decodes the first 8 bytes of `b`. Lengths shorter than a header are
    /// malformed.
    pub fn parse(b: &[u8]) -> Result<Header, WireError> {
        if b.len() < HEADER_LEN {
            return Err(WireError("short packet header".into()));
        }
        let length = u16::from_be_bytes([b[2], b[3]]);
        if (length as usize) < HEADER_LEN {
            return Err(WireError(format!(
                "packet length {length} is shorter than its header"
            )));
        }
        Ok(Header {
            ty: b[0],
            status: b[1],
            length,
            spid: u16::from_be_bytes([b[4], b[5]]),
            id: b[6],
        })
    }

    /// Appends the header's 8 bytes.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.push(self.ty);
        out.push(self.status);
        out.extend_from_slice(&self.length.to_be_bytes());
        out.extend_from_slice(&self.spid.to_be_bytes());
        out.push(self.id);
        out.push(0);
    }
}

/// Appends `payload` as one message of packets no larger than
/// `packet_size`, the last with EOM. An empty payload still makes one packet.
pub fn frame_message(out: &mut Vec<u8>, ty: u8, payload: &[u8], packet_size: usize, spid: u16) {
    let mut id = 1;
    frame_packets(out, ty, payload, packet_size, spid, &mut id, true);
}

/// The payload bytes a packet of `packet_size` carries.
pub fn payload_size(packet_size: usize) -> usize {
    packet_size.clamp(MIN_PACKET_SIZE, MAX_PACKET_SIZE) - HEADER_LEN
}

/// Appends `payload` as packets no larger than `packet_size`, numbered
/// from `*id` on (left at the next number): part of a message that is
/// sent as it is produced. With `eom`, the last packet ends the message
/// (an empty payload then still makes one packet); without, `payload`
/// should be a multiple of [`payload_size`], as only a message's last
/// packet may be short.
pub fn frame_packets(
    out: &mut Vec<u8>,
    ty: u8,
    payload: &[u8],
    packet_size: usize,
    spid: u16,
    id: &mut u8,
    eom: bool,
) {
    let chunk = payload_size(packet_size);
    let mut rest = payload;
    while eom || !rest.is_empty() {
        let n = rest.len().min(chunk);
        let last = n == rest.len();
        let header = Header {
            ty,
            status: if last && eom { status::EOM } else { 0 },
            length: (n + HEADER_LEN) as u16,
            spid,
            id: *id,
        };
        header.write(out);
        out.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        *id = id.wrapping_add(1);
        if last {
            break;
        }
    }
}

/// Takes the first complete packet off the front of `buf` (bytes received
/// and not parsed yet): None until all of it has arrived.
pub fn take_packet(buf: &mut Vec<u8>) -> Result<Option<(Header, Vec<u8>)>, WireError> {
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    let header = Header::parse(buf)?;
    let len = header.length as usize;
    if buf.len() < len {
        return Ok(None);
    }
    let payload = buf[HEADER_LEN..len].to_vec();
    buf.drain(..len);
    Ok(Some((header, payload)))
}

/// A complete client message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Packet type of its packets.
    pub ty: u8,
    /// Status bits of its first packet (where RESETCONNECTION is set).
    pub status: u8,
    /// The concatenated payloads.
    pub payload: Vec<u8>,
}

/// Collects packets until EOM. Kept outside the read future so that a
/// cancelled read (the connection also waits for attention while a request
/// runs) loses nothing.
#[derive(Debug, Default)]
pub struct Assembler {
    partial: Option<Message>,
}

impl Assembler {
    /// Whether a message is partly received.
    pub fn is_empty(&self) -> bool {
        self.partial.is_none()
    }

    /// Adds one packet; returns the message when it is complete. A message
    /// the client abandons (IGNORE) is dropped and yields nothing.
    pub fn push(&mut self, header: Header, payload: &[u8]) -> Result<Option<Message>, WireError> {
        let msg = match &mut self.partial {
            Some(m) => {
                if m.ty != header.ty {
                    return Err(WireError(format!(
                        "packet of type {:#04x} inside a message of type {:#04x}",
                        header.ty, m.ty
                    )));
                }
                m
            }
            None => self.partial.insert(Message {
                ty: header.ty,
                status: header.status,
                payload: Vec::new(),
            }),
        };
        if msg.payload.len() + payload.len() > MAX_MESSAGE_LEN {
            return Err(WireError("client message too large".into()));
        }
        msg.payload.extend_from_slice(payload);
        if header.status & status::EOM == 0 {
            return Ok(None);
        }
        let msg = self.partial.take().expect("partial message present");
        if header.status & status::IGNORE != 0 {
            return Ok(None);
        }
        Ok(Some(msg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(bytes: &[u8]) -> Vec<(Header, Vec<u8>)> {
        let mut out = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            let h = Header::parse(rest).unwrap();
            out.push((h, rest[HEADER_LEN..h.length as usize].to_vec()));
            rest = &rest[h.length as usize..];
        }
        out
    }

    #[test]
    fn splits_large_payload_and_reassembles() {
        let payload: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let mut out = Vec::new();
        frame_message(&mut out, packet_type::REPLY, &payload, 4096, 53);
        let packets = split(&out);
        assert_eq!(packets.len(), 3);
        assert_eq!(packets[0].0.length, 4096);
        assert_eq!(packets[0].0.status, 0);
        assert_eq!(packets[2].0.status, status::EOM);
        assert_eq!(
            packets.iter().map(|p| p.0.id).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        assert!(packets.iter().all(|p| p.0.spid == 53));

        let mut asm = Assembler::default();
        let mut got = None;
        for (h, p) in packets {
            got = asm.push(h, &p).unwrap();
        }
        assert_eq!(got.unwrap().payload, payload);
        assert!(asm.is_empty());
    }

    #[test]
    fn empty_payload_is_one_packet() {
        let mut out = Vec::new();
        frame_message(&mut out, packet_type::REPLY, &[], 4096, 0);
        assert_eq!(out, vec![4, 1, 0, 8, 0, 0, 1, 0]);
    }

    #[test]
    fn ignored_message_is_dropped() {
        let mut asm = Assembler::default();
        let h = Header {
            ty: 1,
            status: 0,
            length: 10,
            spid: 0,
            id: 1,
        };
        assert!(asm.push(h, b"ab").unwrap().is_none());
        let h = Header {
            ty: 1,
            status: status::EOM | status::IGNORE,
            length: 10,
            spid: 0,
            id: 2,
        };
        assert!(asm.push(h, b"cd").unwrap().is_none());
        assert!(asm.is_empty());
    }

    #[test]
    fn mixed_types_are_rejected() {
        let mut asm = Assembler::default();
        asm.push(
            Header {
                ty: 1,
                status: 0,
                length: 9,
                spid: 0,
                id: 1,
            },
            b"a",
        )
        .unwrap();
        assert!(asm
            .push(
                Header {
                    ty: 3,
                    status: 1,
                    length: 9,
                    spid: 0,
                    id: 2
                },
                b"b"
            )
            .is_err());
    }

    #[test]
    fn short_length_is_rejected() {
        assert!(Header::parse(&[1, 1, 0, 4, 0, 0, 0, 0]).is_err());
    }
}
