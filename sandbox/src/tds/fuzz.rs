//! Entry point for fuzzing the decoders of client bytes (the cargo-fuzz
//! target `tds_request` in `/fuzz`), and well-formed client messages to seed
//! it. Everything a client sends before and after login passes through
//! these decoders, so none of them may panic, whatever the bytes.

use super::login7;
use super::packet::{frame_message, packet_type, status, take_packet, Assembler, Message};
use super::prelogin;
use super::request::{self, Request, PROC_ID_EXECUTESQL};
use super::values::{guid_wire_bytes, put_value, ty, COLLATION};
use super::wire::{put_b_varchar, put_utf16};

/// Feeds `data` to every decoder of client bytes: first as a connection's
/// byte stream (packet framing, message assembly, then the decoder of each
/// complete message's type), then whole as the payload of each message type
/// (PRELOGIN, LOGIN7, SQLBatch, RPC, transaction manager). What the server
/// does next with a decoded request without the engine (its scans of the
/// SQL text, re-encoding parameter values) runs too. Must never panic.
pub fn fuzz_decode(data: &[u8]) {
    let mut stream = data.to_vec();
    let mut assembler = Assembler::default();
    while let Ok(Some((header, payload))) = take_packet(&mut stream) {
        match assembler.push(header, &payload) {
            Ok(Some(msg)) => decode_message(&msg),
            Ok(None) => {}
            Err(_) => break,
        }
    }
    for ty in [
        packet_type::PRELOGIN,
        packet_type::LOGIN7,
        packet_type::SQL_BATCH,
        packet_type::RPC,
        packet_type::TRANSACTION_MANAGER,
    ] {
        decode_message(&Message {
            ty,
            status: status::EOM,
            payload: data.to_vec(),
        });
    }
}

fn decode_message(msg: &Message) {
    match msg.ty {
        packet_type::PRELOGIN => {
            if let Ok(p) = prelogin::parse(&msg.payload) {
                let _ = prelogin::negotiate(p.encryption, true);
                let _ = prelogin::instance_ok(&p.instance, Some("RTC"));
            }
        }
        packet_type::LOGIN7 => {
            if let Ok(login) = login7::decode(&msg.payload) {
                let _ = login.password.matches(crate::DEFAULT_PASSWORD);
            }
        }
        _ => {
            let Ok(decoded) = request::decode(msg) else {
                return;
            };
            if let Some(sql) = decoded.request.sql() {
                crate::server::scan_request_text(sql);
            }
            if let Request::ExecuteSql { params, .. } = &decoded.request {
                let mut out = Vec::new();
                for p in params {
                    let _ = put_value(&mut out, p.ty, &p.value);
                }
            }
        }
    }
}

/// ALL_HEADERS with a transaction descriptor, as tiberius sends it.
fn all_headers(descriptor: u64) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&22u32.to_le_bytes());
    v.extend_from_slice(&18u32.to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&descriptor.to_le_bytes());
    v.extend_from_slice(&1u32.to_le_bytes());
    v
}

fn nvarchar_param(out: &mut Vec<u8>, name: &str, s: &str, plp: bool) {
    put_b_varchar(out, name);
    out.push(0);
    out.push(ty::NVARCHAR);
    let mut b = Vec::new();
    put_utf16(&mut b, s);
    if plp {
        out.extend_from_slice(&0xFFFFu16.to_le_bytes());
        out.extend_from_slice(&COLLATION);
        out.extend_from_slice(&(b.len() as u64).to_le_bytes());
        out.extend_from_slice(&(b.len() as u32).to_le_bytes());
        out.extend_from_slice(&b);
        out.extend_from_slice(&0u32.to_le_bytes());
    } else {
        out.extend_from_slice(&8000u16.to_le_bytes());
        out.extend_from_slice(&COLLATION);
        out.extend_from_slice(&(b.len() as u16).to_le_bytes());
        out.extend_from_slice(&b);
    }
}

fn login7_record() -> Vec<u8> {
    let mut fixed = Vec::new();
    fixed.extend_from_slice(&0u32.to_le_bytes()); // length, patched below
    fixed.extend_from_slice(&0x7400_0004u32.to_le_bytes());
    fixed.extend_from_slice(&4096u32.to_le_bytes());
    fixed.extend_from_slice(&[0; 8]);
    fixed.extend_from_slice(&1234u32.to_le_bytes());
    fixed.extend_from_slice(&[0x60, 0x03, 0, 0x18]);
    fixed.extend_from_slice(&[0; 8]);
    let mut pw = Vec::new();
    put_utf16(&mut pw, crate::DEFAULT_PASSWORD);
    let texts = ["host", "sa", "", "tiberius", "srv", "", "", "", "rgsconfig"];
    let mut table = Vec::new();
    let mut data = Vec::new();
    let mut off = 94usize;
    let mut ext_ptr = 0;
    for (i, t) in texts.iter().enumerate() {
        let bytes = match i {
            2 => login7::scramble(&pw),
            5 => vec![0; 4],
            _ => {
                let mut v = Vec::new();
                put_utf16(&mut v, t);
                v
            }
        };
        let units = if i == 5 { 4 } else { bytes.len() / 2 };
        if i == 5 {
            ext_ptr = off;
        }
        table.extend_from_slice(&(off as u16).to_le_bytes());
        table.extend_from_slice(&(units as u16).to_le_bytes());
        off += bytes.len();
        data.extend_from_slice(&bytes);
    }
    table.extend_from_slice(&[0, 0, 0, 0, 0, 42]);
    for _ in 0..3 {
        table.extend_from_slice(&(off as u16).to_le_bytes());
        table.extend_from_slice(&0u16.to_le_bytes());
    }
    table.extend_from_slice(&0u32.to_le_bytes());
    let mut out = fixed;
    out.extend_from_slice(&table);
    out.extend_from_slice(&data);
    let start = out.len() as u32;
    out[ext_ptr..ext_ptr + 4].copy_from_slice(&start.to_le_bytes());
    out.extend_from_slice(&[0x0A, 1, 0, 0, 0, 1, 0xFF]);
    let len = out.len() as u32;
    out[0..4].copy_from_slice(&len.to_le_bytes());
    out
}

fn executesql_payload() -> Vec<u8> {
    let mut p = all_headers(0);
    p.extend_from_slice(&0xFFFFu16.to_le_bytes());
    p.extend_from_slice(&PROC_ID_EXECUTESQL.to_le_bytes());
    p.extend_from_slice(&0u16.to_le_bytes());
    nvarchar_param(
        &mut p,
        "",
        "SET XACT_ABORT ON; USE [rgsconfig]; UPDATE [dbo].[Queues] SET [Name] = @P1 WHERE ([ID] = @P2 AND [Active] = @P3) OR [N] IN (@P4, @P5, @P6, @P7, @P8, @P9, @P10)",
        true,
    );
    nvarchar_param(
        &mut p,
        "",
        "@P1 nvarchar(max),@P2 uniqueidentifier,@P3 bit,@P4 int,@P5 nvarchar(4000),@P6 varchar(10),@P7 varbinary(8000),@P8 datetime2,@P9 datetime,@P10 float",
        false,
    );
    nvarchar_param(&mut p, "@P1", "héllo", true);
    put_b_varchar(&mut p, "@P2");
    p.extend_from_slice(&[0, ty::GUID, 16, 16]);
    p.extend_from_slice(&guid_wire_bytes(*b"0123456789abcdef"));
    put_b_varchar(&mut p, "@P3");
    p.extend_from_slice(&[0, ty::BITN, 1, 1, 1]);
    put_b_varchar(&mut p, "@P4");
    p.extend_from_slice(&[0, ty::INTN, 4, 4]);
    p.extend_from_slice(&(-7i32).to_le_bytes());
    put_b_varchar(&mut p, "@P5");
    p.extend_from_slice(&[0, ty::NULL]);
    put_b_varchar(&mut p, "@P6");
    p.extend_from_slice(&[0, ty::BIGVARCHR, 10, 0]);
    p.extend_from_slice(&COLLATION);
    p.extend_from_slice(&[3, 0, 0x80, b'a', b'b']);
    put_b_varchar(&mut p, "@P7");
    p.extend_from_slice(&[0, ty::BIGVARBIN, 0x40, 0x1F, 2, 0, 0xDE, 0xAD]);
    put_b_varchar(&mut p, "@P8");
    p.extend_from_slice(&[0, ty::DATETIME2N, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8]);
    put_b_varchar(&mut p, "@P9");
    p.extend_from_slice(&[0, ty::DATETIMN, 8, 8, 1, 2, 0, 0, 3, 4, 0, 0]);
    put_b_varchar(&mut p, "@P10");
    p.extend_from_slice(&[0, ty::FLTN, 8, 8]);
    p.extend_from_slice(&1.5f64.to_le_bytes());
    p
}

/// Well-formed client messages, each framed as it arrives on the socket,
/// the last a whole session: starting points for the fuzzer's corpus and
/// for mutation tests.
pub fn seeds() -> Vec<Vec<u8>> {
    let framed = |ty: u8, payload: &[u8], packet_size: usize| {
        let mut out = Vec::new();
        frame_message(&mut out, ty, payload, packet_size, 0);
        out
    };
    let prelogin = prelogin::response(prelogin::ENCRYPT_ON, true, (16, 0, 4135));
    let mut batch = all_headers(5);
    put_utf16(
        &mut batch,
        "SET XACT_ABORT ON; SELECT a FROM [t] WHERE a = 1 AND (b = N'x' OR c IN (1, 2)) -- c\n/* x */",
    );
    let tm = |body: &[u8]| {
        let mut p = all_headers(9);
        p.extend_from_slice(body);
        framed(packet_type::TRANSACTION_MANAGER, &p, 4096)
    };
    let mut out = vec![
        framed(packet_type::PRELOGIN, &prelogin, 4096),
        framed(packet_type::LOGIN7, &login7_record(), 4096),
        framed(packet_type::SQL_BATCH, &batch, 4096),
        // The smallest packet size, so that the RPC spans packets.
        framed(packet_type::RPC, &executesql_payload(), 512),
        tm(&[5, 0, 0, 0]),
        tm(&[7, 0, 0, 1, 2, 0]),
        tm(&[8, 0, 0, 2, b's', 0, b'p', 0, 0]),
        tm(&[9, 0, 1, b's', 0]),
    ];
    out.push(out.concat());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift64*: deterministic, so a failure reproduces.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    /// Edits that reach past the first length check: byte flips, boundary
    /// values in place of lengths, truncation, duplication, insertion.
    fn mutate(rng: &mut Rng, input: &mut Vec<u8>) {
        for _ in 0..1 + rng.below(4) {
            let len = input.len();
            match rng.below(7) {
                0 if len > 0 => {
                    let i = rng.below(len);
                    input[i] ^= 1 << rng.below(8);
                }
                1 if len > 0 => {
                    let i = rng.below(len);
                    input[i] = [0, 1, 0x7F, 0x80, 0xFE, 0xFF][rng.below(6)];
                }
                2 if len > 1 => {
                    let i = rng.below(len - 1);
                    let v = [0u16, 1, 0x7FFF, 0xFFFE, 0xFFFF][rng.below(5)];
                    input[i..i + 2].copy_from_slice(&v.to_le_bytes());
                }
                3 => input.truncate(rng.below(len + 1)),
                4 if len > 0 => {
                    let a = rng.below(len);
                    let b = a + rng.below(len - a);
                    let piece = input[a..b].to_vec();
                    let at = rng.below(len + 1);
                    input.splice(at..at, piece);
                }
                5 => {
                    let at = rng.below(len + 1);
                    input.insert(at, rng.next() as u8);
                }
                _ if len > 3 => {
                    let i = rng.below(len - 3);
                    let v = [0u32, 4, 0xFFFF_FFFF, 0x8000_0000][rng.below(4)];
                    input[i..i + 4].copy_from_slice(&v.to_le_bytes());
                }
                _ => {}
            }
        }
    }

    #[test]
    fn seeds_decode() {
        let seeds = seeds();
        let mut stream = seeds.last().unwrap().clone();
        let mut asm = Assembler::default();
        let mut kinds = Vec::new();
        while let Some((h, p)) = take_packet(&mut stream).unwrap() {
            if let Some(msg) = asm.push(h, &p).unwrap() {
                match msg.ty {
                    packet_type::PRELOGIN => {
                        prelogin::parse(&msg.payload).unwrap();
                    }
                    packet_type::LOGIN7 => {
                        let l = login7::decode(&msg.payload).unwrap();
                        assert!(l.password.matches(crate::DEFAULT_PASSWORD));
                        assert_eq!(l.features, vec![0x0A]);
                    }
                    _ => {
                        let d = request::decode(&msg).unwrap();
                        if let Request::ExecuteSql { params, .. } = &d.request {
                            assert_eq!(params.len(), 10);
                        }
                    }
                }
                kinds.push(msg.ty);
            }
        }
        assert_eq!(kinds, vec![0x12, 0x10, 0x01, 0x03, 0x0E, 0x0E, 0x0E, 0x0E]);
        assert!(stream.is_empty());
    }

    #[test]
    fn mutated_and_random_input_never_panics() {
        let seeds = seeds();
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for round in 0..4000 {
            let mut input = if round % 8 == 7 {
                (0..rng.below(600)).map(|_| rng.next() as u8).collect()
            } else {
                seeds[rng.below(seeds.len())].clone()
            };
            mutate(&mut rng, &mut input);
            fuzz_decode(&input);
            // Without the packet header, so the payload decoders see the
            // mutation directly.
            fuzz_decode(input.get(8..).unwrap_or_default());
        }
    }

    /// Writes the seeds as a corpus directory for `cargo fuzz run
    /// tds_request <dir>`.
    #[test]
    #[ignore = "writes files; run with RGS_FUZZ_CORPUS=<dir>"]
    fn write_corpus() {
        let dir = std::env::var("RGS_FUZZ_CORPUS").expect("RGS_FUZZ_CORPUS");
        std::fs::create_dir_all(&dir).unwrap();
        for (i, s) in seeds().iter().enumerate() {
            std::fs::write(format!("{dir}/seed-{i}"), s).unwrap();
            if s.len() > 8 {
                std::fs::write(format!("{dir}/payload-{i}"), &s[8..]).unwrap();
            }
        }
    }
}
