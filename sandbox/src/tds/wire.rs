//! Little-endian readers and writers for the primitive TDS encodings
//! (B_VARCHAR, US_VARCHAR, UCS-2 text). Client bytes are untrusted: every
//! read is bounds-checked and fails with a [`WireError`] instead of panicking.

use std::fmt;

/// A malformed client message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError(pub String);

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WireError {}

/// Shorthand for results of decoding client bytes.
pub type WireResult<T> = Result<T, WireError>;

/// A bounds-checked cursor over a received payload.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader positioned at the start of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data, pos: 0 }
    }

    /// Current offset from the start.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes left to read.
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// Everything not read yet.
    pub fn rest(&self) -> &'a [u8] {
        &self.data[self.pos..]
    }

    /// The next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> WireResult<&'a [u8]> {
        if self.remaining() < n {
            return Err(WireError(format!(
                "message truncated: wanted {n} bytes at offset {}, {} left",
                self.pos,
                self.remaining()
            )));
        }
        let out = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// Skips `n` bytes.
    pub fn skip(&mut self, n: usize) -> WireResult<()> {
        self.bytes(n).map(|_| ())
    }

    /// One byte.
    pub fn u8(&mut self) -> WireResult<u8> {
        Ok(self.bytes(1)?[0])
    }

    /// A little-endian u16.
    pub fn u16_le(&mut self) -> WireResult<u16> {
        let b = self.bytes(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    /// A big-endian u16.
    pub fn u16_be(&mut self) -> WireResult<u16> {
        let b = self.bytes(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// A little-endian u32.
    pub fn u32_le(&mut self) -> WireResult<u32> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A big-endian u32.
    pub fn u32_be(&mut self) -> WireResult<u32> {
        let b = self.bytes(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A little-endian u64.
    pub fn u64_le(&mut self) -> WireResult<u64> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// `n` UTF-16LE code units as a string.
    pub fn utf16(&mut self, units: usize) -> WireResult<String> {
        let b = self.bytes(units * 2)?;
        utf16_to_string(b)
    }

    /// B_VARCHAR: a one-byte character count, then UTF-16LE.
    pub fn b_varchar(&mut self) -> WireResult<String> {
        let n = self.u8()? as usize;
        self.utf16(n)
    }

    /// US_VARCHAR: a two-byte character count, then UTF-16LE.
    pub fn us_varchar(&mut self) -> WireResult<String> {
        let n = self.u16_le()? as usize;
        self.utf16(n)
    }
}

/// Decodes UTF-16LE bytes. Unpaired surrogates are replaced rather than
/// rejected: SQL Server stores UCS-2 and accepts them too.
pub fn utf16_to_string(bytes: &[u8]) -> WireResult<String> {
    if bytes.len() % 2 != 0 {
        return Err(WireError("odd number of bytes in UTF-16 text".into()));
    }
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    Ok(String::from_utf16_lossy(&units))
}

/// Appends `s` as UTF-16LE.
pub fn put_utf16(out: &mut Vec<u8>, s: &str) {
    out.reserve(s.len() * 2);
    for u in s.encode_utf16() {
        out.extend_from_slice(&u.to_le_bytes());
    }
}

/// Appends a B_VARCHAR, truncating to 255 code units (server and procedure
/// names are short; truncation only guards the length byte).
pub fn put_b_varchar(out: &mut Vec<u8>, s: &str) {
    let units: Vec<u16> = s.encode_utf16().take(255).collect();
    out.push(units.len() as u8);
    for u in units {
        out.extend_from_slice(&u.to_le_bytes());
    }
}

/// Appends a US_VARCHAR, truncating to 65535 code units.
pub fn put_us_varchar(out: &mut Vec<u8>, s: &str) {
    let units: Vec<u16> = s.encode_utf16().take(u16::MAX as usize).collect();
    out.extend_from_slice(&(units.len() as u16).to_le_bytes());
    for u in units {
        out.extend_from_slice(&u.to_le_bytes());
    }
}

/// Appends a B_VARBYTE.
pub fn put_b_varbyte(out: &mut Vec<u8>, b: &[u8]) {
    out.push(b.len() as u8);
    out.extend_from_slice(b);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_varchars() {
        let mut out = Vec::new();
        put_b_varchar(&mut out, "héllo");
        put_us_varchar(&mut out, "wörld €");
        let mut r = Reader::new(&out);
        assert_eq!(r.b_varchar().unwrap(), "héllo");
        assert_eq!(r.us_varchar().unwrap(), "wörld €");
        assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn truncated_input_is_an_error() {
        let mut r = Reader::new(&[5, 0, 65]);
        assert!(r.b_varchar().is_err());
        let mut r = Reader::new(&[1, 2]);
        assert!(r.u32_le().is_err());
    }

    #[test]
    fn odd_utf16_is_rejected() {
        assert!(utf16_to_string(&[65, 0, 66]).is_err());
    }
}
