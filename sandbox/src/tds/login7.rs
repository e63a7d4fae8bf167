//! LOGIN7 (MS-TDS 2.2.6.4): the client's credentials and options.
//!
//! The password is kept in a [`Password`] whose `Debug` is redacted and which
//! is wiped on drop, so that it never reaches a log line.

use super::wire::{utf16_to_string, Reader, WireError, WireResult};
use std::fmt;

/// OptionFlags2 fIntSecurity: integrated (Windows) authentication.
pub const FLAG2_INTEGRATED_SECURITY: u8 = 0x80;
/// OptionFlags3 fExtension: the FeatureExt block is present.
pub const FLAG3_EXTENSION: u8 = 0x10;
/// TypeFlags fReadOnlyIntent.
pub const TYPE_READ_ONLY_INTENT: u8 = 0x20;

/// A login password: redacted in `Debug`, zeroed on drop.
pub struct Password(String);

impl Password {
    /// Compares with the expected password.
    pub fn matches(&self, expected: &str) -> bool {
        let a = self.0.as_bytes();
        let b = expected.as_bytes();
        // Length leaks, content comparison does not short-circuit.
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl Drop for Password {
    fn drop(&mut self) {
        // SAFETY: zero bytes are valid UTF-8, so the String stays valid.
        unsafe {
            for b in self.0.as_bytes_mut() {
                std::ptr::write_volatile(b, 0);
            }
        }
    }
}

/// The decoded LOGIN7 record.
#[derive(Debug)]
pub struct Login7 {
    /// TDS version the client speaks, e.g. 0x74000004.
    pub tds_version: u32,
    /// Requested packet size (0: server default).
    pub packet_size: u32,
    /// Client process id.
    pub client_pid: u32,
    /// OptionFlags1.
    pub option_flags1: u8,
    /// OptionFlags2.
    pub option_flags2: u8,
    /// TypeFlags.
    pub type_flags: u8,
    /// OptionFlags3.
    pub option_flags3: u8,
    /// Workstation name.
    pub hostname: String,
    /// SQL login name.
    pub username: String,
    /// SQL login password.
    pub password: Password,
    /// Application name.
    pub app_name: String,
    /// Server name as the client typed it.
    pub server_name: String,
    /// Client interface library name.
    pub library: String,
    /// Initial language (empty: default).
    pub language: String,
    /// Initial database (empty: the login's default database).
    pub database: String,
    /// Whether SSPI data is present (integrated security).
    pub sspi: bool,
    /// Feature ids of the FeatureExt block, in order.
    pub features: Vec<u8>,
}

impl Login7 {
    /// Whether the client asked for integrated authentication.
    pub fn integrated_security(&self) -> bool {
        self.option_flags2 & FLAG2_INTEGRATED_SECURITY != 0 || self.sspi
    }

    /// Whether a FeatureExt block was sent (it then expects FEATUREEXTACK).
    pub fn has_feature_ext(&self) -> bool {
        self.option_flags3 & FLAG3_EXTENSION != 0
    }
}

/// Reverses the LOGIN7 password scrambling: each byte was nibble-swapped
/// and then XORed with 0xA5.
pub fn unscramble(bytes: &[u8]) -> Vec<u8> {
    bytes
        .iter()
        .map(|b| {
            let x = b ^ 0xA5;
            x.rotate_left(4)
        })
        .collect()
}

/// The client's scrambling, for tests.
pub fn scramble(bytes: &[u8]) -> Vec<u8> {
    bytes.iter().map(|b| b.rotate_left(4) ^ 0xA5).collect()
}

fn field<'a>(payload: &'a [u8], offset: usize, chars: usize, what: &str) -> WireResult<&'a [u8]> {
    if chars == 0 {
        return Ok(&[]);
    }
    payload
        .get(offset..offset + chars * 2)
        .ok_or_else(|| WireError(format!("LOGIN7 {what} lies outside the record")))
}

/// Decodes a LOGIN7 payload.
pub fn decode(payload: &[u8]) -> WireResult<Login7> {
    let mut r = Reader::new(payload);
    let _length = r.u32_le()?;
    let tds_version = r.u32_le()?;
    let packet_size = r.u32_le()?;
    let _prog_ver = r.u32_le()?;
    let client_pid = r.u32_le()?;
    let _connection_id = r.u32_le()?;
    let option_flags1 = r.u8()?;
    let option_flags2 = r.u8()?;
    let type_flags = r.u8()?;
    let option_flags3 = r.u8()?;
    let _timezone = r.u32_le()?;
    let _lcid = r.u32_le()?;

    let mut offsets = [(0usize, 0usize); 9];
    for slot in offsets.iter_mut() {
        *slot = (r.u16_le()? as usize, r.u16_le()? as usize);
    }
    let _client_id = r.bytes(6)?;
    let sspi = (r.u16_le()? as usize, r.u16_le()? as usize);

    let text = |i: usize, what: &str| -> WireResult<String> {
        let (off, len) = offsets[i];
        utf16_to_string(field(payload, off, len, what)?)
    };
    let hostname = text(0, "host name")?;
    let username = text(1, "user name")?;
    let (pw_off, pw_len) = offsets[2];
    let password = Password(utf16_to_string(&unscramble(field(
        payload, pw_off, pw_len, "password",
    )?))?);
    let app_name = text(3, "application name")?;
    let server_name = text(4, "server name")?;
    let library = text(6, "library name")?;
    let language = text(7, "language")?;
    let database = text(8, "database")?;

    let features = if option_flags3 & FLAG3_EXTENSION != 0 {
        feature_ids(payload, offsets[5])?
    } else {
        Vec::new()
    };

    Ok(Login7 {
        tds_version,
        packet_size,
        client_pid,
        option_flags1,
        option_flags2,
        type_flags,
        option_flags3,
        hostname,
        username,
        password,
        app_name,
        server_name,
        library,
        language,
        database,
        sspi: sspi.1 > 0,
        features,
    })
}

/// The ids of the FeatureExt block the LOGIN7 extension field points to.
fn feature_ids(payload: &[u8], (ext_off, ext_len): (usize, usize)) -> WireResult<Vec<u8>> {
    let mut features = Vec::new();
    // ibExtension points at a DWORD holding the FeatureExt offset.
    if ext_len >= 4 {
        let ptr = payload
            .get(ext_off..ext_off + 4)
            .ok_or_else(|| WireError("LOGIN7 extension pointer lies outside the record".into()))?;
        let start = u32::from_le_bytes([ptr[0], ptr[1], ptr[2], ptr[3]]) as usize;
        let block = payload
            .get(start..)
            .ok_or_else(|| WireError("LOGIN7 FeatureExt lies outside the record".into()))?;
        let mut fr = Reader::new(block);
        loop {
            let id = fr.u8()?;
            if id == 0xFF {
                break;
            }
            let len = fr.u32_le()? as usize;
            fr.skip(len)?;
            features.push(id);
        }
    }
    Ok(features)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::tds::wire::put_utf16;

    /// Builds a LOGIN7 record the way tiberius 0.13 lays it out.
    pub(crate) fn build(
        user: &str,
        password: &str,
        database: &str,
        feature_ext: Option<&[u8]>,
    ) -> Vec<u8> {
        let mut fixed = Vec::new();
        fixed.extend_from_slice(&0u32.to_le_bytes()); // length, patched
        fixed.extend_from_slice(&0x7400_0004u32.to_le_bytes());
        fixed.extend_from_slice(&4096u32.to_le_bytes());
        fixed.extend_from_slice(&0u32.to_le_bytes());
        fixed.extend_from_slice(&1234u32.to_le_bytes());
        fixed.extend_from_slice(&0u32.to_le_bytes());
        fixed.push(0x60);
        fixed.push(0x03);
        fixed.push(0);
        fixed.push(if feature_ext.is_some() { 0x18 } else { 0x08 });
        fixed.extend_from_slice(&0u32.to_le_bytes());
        fixed.extend_from_slice(&0u32.to_le_bytes());
        assert_eq!(fixed.len(), 36);

        let mut pw = Vec::new();
        put_utf16(&mut pw, password);
        let pw = scramble(&pw);
        let fields: Vec<Vec<u8>> = ["myhost", user, "", "tiberius", "srv", "", "", "", database]
            .iter()
            .enumerate()
            .map(|(i, s)| {
                if i == 2 {
                    pw.clone()
                } else if i == 5 {
                    if feature_ext.is_some() {
                        vec![0, 0, 0, 0]
                    } else {
                        vec![]
                    }
                } else {
                    let mut v = Vec::new();
                    put_utf16(&mut v, s);
                    v
                }
            })
            .collect();
        let mut data = Vec::new();
        let mut table = Vec::new();
        let mut off = 94usize;
        let mut ext_ptr_pos = None;
        for (i, f) in fields.iter().enumerate() {
            table.extend_from_slice(&(off as u16).to_le_bytes());
            let len = if i == 5 { f.len() } else { f.len() / 2 };
            table.extend_from_slice(&(len as u16).to_le_bytes());
            if i == 5 && !f.is_empty() {
                ext_ptr_pos = Some(off);
            }
            data.extend_from_slice(f);
            off += f.len();
        }
        table.extend_from_slice(&[0, 0, 0, 0, 0, 42]); // ClientID
        for _ in 0..3 {
            table.extend_from_slice(&(off as u16).to_le_bytes());
            table.extend_from_slice(&0u16.to_le_bytes());
        }
        table.extend_from_slice(&0u32.to_le_bytes()); // cbSSPILong
        let mut out = fixed;
        out.extend_from_slice(&table);
        assert_eq!(out.len(), 94);
        out.extend_from_slice(&data);
        if let (Some(pos), Some(ext)) = (ext_ptr_pos, feature_ext) {
            let start = out.len() as u32;
            out[pos..pos + 4].copy_from_slice(&start.to_le_bytes());
            out.extend_from_slice(ext);
        }
        let len = out.len() as u32;
        out[0..4].copy_from_slice(&len.to_le_bytes());
        out
    }

    #[test]
    fn scrambling_round_trips() {
        let raw = b"S\0a\0n\0d\0";
        assert_eq!(unscramble(&scramble(raw)), raw.to_vec());
        // 'a' (0x61): swap -> 0x16, xor 0xA5 -> 0xB3 (the MS-TDS example).
        assert_eq!(scramble(&[0x61]), vec![0xB3]);
    }

    #[test]
    fn decodes_a_tiberius_login() {
        let rec = build("sa", "Sandbox-Passw0rd", "rgsconfig", None);
        let login = decode(&rec).unwrap();
        assert_eq!(login.username, "sa");
        assert!(login.password.matches("Sandbox-Passw0rd"));
        assert!(!login.password.matches("Sandbox-Passw0rD"));
        assert_eq!(login.database, "rgsconfig");
        assert_eq!(login.app_name, "tiberius");
        assert_eq!(login.hostname, "myhost");
        assert_eq!(login.packet_size, 4096);
        assert_eq!(login.tds_version, 0x7400_0004);
        assert!(!login.has_feature_ext());
        assert!(!login.integrated_security());
    }

    #[test]
    fn decodes_feature_ext() {
        let ext = [0x0A, 1, 0, 0, 0, 1, 0xFF];
        let rec = build("sa", "x", "", Some(&ext));
        let login = decode(&rec).unwrap();
        assert!(login.has_feature_ext());
        assert_eq!(login.features, vec![0x0A]);
    }

    #[test]
    fn debug_never_shows_the_password() {
        let rec = build("sa", "TopSecret-1", "master", None);
        let login = decode(&rec).unwrap();
        let dbg = format!("{login:?}");
        assert!(!dbg.contains("TopSecret"), "{dbg}");
        assert!(dbg.contains("redacted"));
    }

    #[test]
    fn truncated_record_is_an_error() {
        let rec = build("sa", "x", "db", None);
        assert!(decode(&rec[..50]).is_err());
        let mut bad = rec.clone();
        bad[36] = 0xFF; // host name offset far outside
        bad[37] = 0x7F;
        assert!(decode(&bad).is_err());
    }
}
