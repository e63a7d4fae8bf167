//! `uniqueidentifier` as SQLite stores it (uppercase hyphenated text) and
//! the `GUID` collation that orders it as SQL Server does.
//!
//! The collation runs for every index probe, join, sort and GROUP BY on a
//! GUID column (about 20 times per row inserted into a million-row key),
//! so it is registered with SQLite directly rather than through rusqlite's
//! `create_collation`, whose wrapper re-validates both operands as UTF-8
//! on every call, and it reads the hex digits in place without allocating.

use rusqlite::{ffi, Connection};
use std::cmp::Ordering;
use std::ffi::{c_int, c_void};

/// Parses a GUID the way SQL Server's string conversion does: 36 characters
/// with hyphens, optionally in braces.
pub(crate) fn parse_guid(text: &str) -> Option<uuid::Uuid> {
    let t = text.trim();
    let t = t
        .strip_prefix('{')
        .and_then(|x| x.strip_suffix('}'))
        .unwrap_or(t);
    let b = t.as_bytes();
    if b.len() != 36 || b[8] != b'-' || b[13] != b'-' || b[18] != b'-' || b[23] != b'-' {
        return None;
    }
    uuid::Uuid::parse_str(t).ok()
}

/// Uppercase canonical text of a GUID (SQL Server's display form).
pub(crate) fn guid_text(g: &uuid::Uuid) -> String {
    let mut buf = [0u8; 36];
    g.hyphenated().encode_upper(&mut buf).to_string()
}

/// Text positions of a hyphenated GUID's display bytes, in SQL Server's
/// comparison order: the last 6 bytes, then bytes 8-9, then 7-6, 5-4 and
/// 3-0 (the first three groups are stored little-endian, so SQL Server
/// compares their display bytes right to left).
const GUID_ORDER: [usize; 16] = [24, 26, 28, 30, 32, 34, 19, 21, 16, 14, 11, 9, 6, 4, 2, 0];

/// Where a hyphenated GUID text has its hyphens.
const HYPHEN: [bool; 36] = {
    let mut h = [false; 36];
    h[8] = true;
    h[13] = true;
    h[18] = true;
    h[23] = true;
    h
};

/// Whether `b` is a hyphenated GUID text (hex digits of either case, no
/// braces or spaces: the form the sandbox stores). Written without early
/// exits so that the compiler checks all 36 bytes at once.
fn is_guid_text(b: &[u8; 36]) -> bool {
    let mut ok = true;
    for (&c, &hyphen) in b.iter().zip(HYPHEN.iter()) {
        let hex = (c.wrapping_sub(b'0') < 10) | ((c | 0x20).wrapping_sub(b'a') < 6);
        ok &= if hyphen { c == b'-' } else { hex };
    }
    ok
}

/// Whether two 36-byte texts are the same bytes, compared a word at a
/// time in line (`==` on the arrays calls `memcmp`, which costs more than
/// the rest of a comparison of two random GUIDs).
fn same(a: &[u8; 36], b: &[u8; 36]) -> bool {
    let word = |x: &[u8; 36], at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&x[at..at + 8]);
        u64::from_ne_bytes(w)
    };
    [0, 8, 16, 24, 28]
        .iter()
        .fold(0, |d, &at| d | (word(a, at) ^ word(b, at)))
        == 0
}

/// The value of a hex digit already known to be one (either case).
fn nibble(c: u8) -> u8 {
    (c & 0x0F) + 9 * (c >> 6)
}

/// Compares two GUID texts already known to be well formed, display byte
/// by display byte in SQL Server's order; usually the first byte decides.
fn cmp_valid(a: &[u8; 36], b: &[u8; 36]) -> Ordering {
    for &p in &GUID_ORDER {
        let x = nibble(a[p]) << 4 | nibble(a[p + 1]);
        let y = nibble(b[p]) << 4 | nibble(b[p + 1]);
        if x != y {
            return x.cmp(&y);
        }
    }
    Ordering::Equal
}

/// The comparison key of a GUID's text in the stored form; None for any
/// other text. Keys compare as SQL Server compares the GUIDs.
fn order_key(b: &[u8; 36]) -> Option<u128> {
    is_guid_text(b).then(|| {
        GUID_ORDER.iter().fold(0u128, |k, &p| {
            k << 8 | u128::from(nibble(b[p]) << 4 | nibble(b[p + 1]))
        })
    })
}

/// Orders GUID texts as SQL Server orders `uniqueidentifier` values (see
/// [`GUID_ORDER`]); case-insensitive. Texts that are not GUIDs (a stored
/// value never is one; braces or spaces around one are read as SQL Server
/// converts them) compare case-insensitively after GUIDs.
pub(crate) fn guid_cmp_bytes(a: &[u8], b: &[u8]) -> Ordering {
    if let (Ok(x), Ok(y)) = (<&[u8; 36]>::try_from(a), <&[u8; 36]>::try_from(b)) {
        if same(x, y) {
            // Equal bytes are equal texts, GUIDs or not; the common case of
            // GROUP BY and of a key compared with a parameter.
            return Ordering::Equal;
        }
        if is_guid_text(x) && is_guid_text(y) {
            return cmp_valid(x, y);
        }
    }
    slow_cmp(a, b)
}

/// The 16 bytes (display order) of a GUID's text: read in place from the
/// stored form, parsed (as SQL Server converts text) from any other.
pub(crate) fn guid_bytes(text: &[u8]) -> Option<[u8; 16]> {
    match <&[u8; 36]>::try_from(text) {
        Ok(b) if is_guid_text(b) => {
            let mut g = [0u8; 16];
            let digits = b.iter().filter(|&&c| c != b'-');
            for (i, c) in digits.enumerate() {
                g[i / 2] |= nibble(*c) << (4 * (1 - i % 2));
            }
            Some(g)
        }
        _ => parse_guid(&String::from_utf8_lossy(text)).map(|g| *g.as_bytes()),
    }
}

/// A key that orders texts as [`guid_cmp_bytes`] does, as far as a number
/// can: GUIDs by their order key, any other text last (u128::MAX, which
/// ties with the greatest GUID; the comparison decides ties).
pub(crate) fn guid_sort_key(text: &[u8]) -> u128 {
    let parsed = || {
        let g = parse_guid(&String::from_utf8_lossy(text))?;
        let mut canonical = [0u8; 36];
        g.hyphenated().encode_upper(&mut canonical);
        order_key(&canonical)
    };
    <&[u8; 36]>::try_from(text)
        .ok()
        .and_then(order_key)
        .or_else(parsed)
        .unwrap_or(u128::MAX)
}

/// [`guid_cmp_bytes`] for operands at least one of which is not in the
/// stored form.
fn slow_cmp(a: &[u8], b: &[u8]) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let key = |s: &[u8]| -> Option<u128> {
        let g = parse_guid(&String::from_utf8_lossy(s))?;
        let mut text = [0u8; 36];
        g.hyphenated().encode_upper(&mut text);
        order_key(&text)
    };
    match (key(a), key(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => String::from_utf8_lossy(a)
            .to_lowercase()
            .cmp(&String::from_utf8_lossy(b).to_lowercase()),
    }
}

/// [`guid_cmp_bytes`] on text.
#[cfg(test)]
pub(crate) fn guid_cmp(a: &str, b: &str) -> Ordering {
    guid_cmp_bytes(a.as_bytes(), b.as_bytes())
}

/// SQLite's comparison callback for the `GUID` collation.
unsafe extern "C" fn guid_collate(
    _: *mut c_void,
    n1: c_int,
    p1: *const c_void,
    n2: c_int,
    p2: *const c_void,
) -> c_int {
    let bytes = |n: c_int, p: *const c_void| -> &[u8] {
        if n <= 0 || p.is_null() {
            &[]
        } else {
            // SAFETY: SQLite passes `n` readable bytes at `p`, alive for
            // the duration of the call.
            unsafe { std::slice::from_raw_parts(p.cast::<u8>(), n as usize) }
        }
    };
    let (a, b) = (bytes(n1, p1), bytes(n2, p2));
    // A panic must not unwind into SQLite; none is expected here.
    match std::panic::catch_unwind(|| guid_cmp_bytes(a, b)) {
        Ok(Ordering::Less) => -1,
        Ok(Ordering::Equal) => 0,
        Ok(Ordering::Greater) => 1,
        Err(_) => 0,
    }
}

/// Registers the `GUID` collation on a connection.
pub(crate) fn register_collation(conn: &Connection) -> rusqlite::Result<()> {
    // SAFETY: the handle is the live connection's; the callback keeps no
    // state (null user data, no destructor) and the name is a C string
    // SQLite copies.
    let rc = unsafe {
        ffi::sqlite3_create_collation_v2(
            conn.handle(),
            c"GUID".as_ptr(),
            ffi::SQLITE_UTF8,
            std::ptr::null_mut(),
            Some(guid_collate),
            None,
        )
    };
    if rc == ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(rusqlite::Error::SqliteFailure(ffi::Error::new(rc), None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SQL Server's order from the GUID's bytes (display order in
    /// `as_bytes`): bytes 10-15, 8-9, then 6-7, 4-5, 0-3 as stored, that
    /// is little-endian within the first three groups.
    fn reference(a: &uuid::Uuid, b: &uuid::Uuid) -> Ordering {
        let key = |g: &uuid::Uuid| {
            let x = g.as_bytes();
            [
                x[10], x[11], x[12], x[13], x[14], x[15], x[8], x[9], x[7], x[6], x[5], x[4], x[3],
                x[2], x[1], x[0],
            ]
        };
        key(a).cmp(&key(b))
    }

    #[test]
    fn order_matches_the_byte_groups_in_either_case() {
        for i in 0..5000 {
            let a = uuid::Uuid::new_v4();
            // Every other pair differs in one byte only, so that later
            // byte groups decide too.
            let b = if i % 2 == 0 {
                uuid::Uuid::new_v4()
            } else {
                let mut x = *a.as_bytes();
                x[i % 16] = x[i % 16].wrapping_add(1 + (i % 7) as u8);
                uuid::Uuid::from_bytes(x)
            };
            let (au, bu) = (guid_text(&a), guid_text(&b));
            let (al, bl) = (au.to_lowercase(), bu.to_lowercase());
            let want = reference(&a, &b);
            assert_eq!(guid_cmp(&au, &bu), want, "{au} {bu}");
            assert_eq!(guid_cmp(&al, &bu), want, "{al} {bu}");
            assert_eq!(guid_cmp(&au, &bl), want, "{au} {bl}");
            assert_eq!(guid_cmp(&au, &al), Ordering::Equal);
            assert_eq!(guid_cmp(&format!("{{{al}}}"), &bu), want, "{al} {bu}");
            assert_eq!(guid_bytes(al.as_bytes()), Some(*a.as_bytes()));
            assert_eq!(guid_bytes(bu.as_bytes()), Some(*b.as_bytes()));
            let keys = (guid_sort_key(al.as_bytes()), guid_sort_key(bu.as_bytes()));
            assert_eq!(keys.0.cmp(&keys.1), want, "{al} {bu}");
        }
    }

    #[test]
    fn other_texts_come_after_guids_case_insensitively() {
        let g = "6F9619FF-8B86-D011-B42D-00C04FC964FF";
        for other in [
            "6F9619FF-8B86-D011-B42D-00C04FC964FG",
            "6F9619FF-8B86-D011-B42D_00C04FC964FF",
            "zzz",
            "",
        ] {
            assert_eq!(guid_cmp(g, other), Ordering::Less, "{other}");
            assert_eq!(guid_cmp(other, g), Ordering::Greater, "{other}");
        }
        assert_eq!(guid_sort_key(b"zzz"), u128::MAX);
        assert_eq!(
            guid_sort_key(format!("{{{g}}}").as_bytes()),
            guid_sort_key(g.as_bytes())
        );
        assert_eq!(guid_cmp("abc", "ABC"), Ordering::Equal);
        // Texts of GUID length that differ only in their last byte.
        let (x, y) = (format!("{}x", &g[..35]), format!("{}y", &g[..35]));
        assert_eq!(guid_cmp(&x, &y), Ordering::Less);
        assert_eq!(guid_cmp(&x, &x.clone()), Ordering::Equal);
        assert_eq!(guid_cmp("abc", "abd"), Ordering::Less);
        assert_eq!(guid_cmp(&format!(" {g} "), g), Ordering::Equal);
    }

    #[test]
    fn sqlite_orders_and_finds_with_the_registered_collation() {
        let conn = Connection::open_in_memory().unwrap();
        register_collation(&conn).unwrap();
        conn.execute_batch(
            "CREATE TABLE k (id TEXT COLLATE GUID PRIMARY KEY);
             INSERT INTO k VALUES ('00000000-0000-0000-0000-000000000001'),
                                  ('00000001-0000-0000-0000-000000000000'),
                                  ('00000000-0000-0000-0100-000000000000');",
        )
        .unwrap();
        let ids: Vec<String> = conn
            .prepare("SELECT id FROM k ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            ids,
            [
                "00000001-0000-0000-0000-000000000000",
                "00000000-0000-0000-0100-000000000000",
                "00000000-0000-0000-0000-000000000001",
            ]
        );
        conn.execute(
            "INSERT INTO k VALUES ('ABCDEF00-0000-0000-0000-000000000000')",
            [],
        )
        .unwrap();
        let dup = conn.execute(
            "INSERT INTO k VALUES ('abcdef00-0000-0000-0000-000000000000')",
            [],
        );
        assert!(dup.is_err(), "the key is unique under the collation");
    }
}
