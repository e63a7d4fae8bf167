//! `uniqueidentifier` as SQLite stores it: the hex digits of the GUID's
//! bytes in SQL Server's comparison order (bytes 10-15, 8-9, then 7-6, 5-4
//! and 3-0 of the display form), uppercase, in groups of 12-4-4-4-8
//! (`6F9619FF-8B86-D011-B42D-00C04FC964FF` is stored as
//! `00C04FC964FF-B42D-11D0-868B-FF19966F`), so that SQLite's own BINARY
//! comparison of the text is SQL Server's order of the GUIDs.
//!
//! Keys, joins, GROUP BY and ORDER BY on GUID columns therefore run on
//! `memcmp`, and an index on a GUID walks in SQL Server's order. (A GUID
//! collation callback, which the sandbox used before, cost 30-40 % of every
//! join over a million keys: SQLite calls it about 20 times per index
//! probe.) The hyphens keep the text from ever reading as a number (the
//! columns' declared type gives them NUMERIC affinity), and sit where no
//! display text has them, so the stored form is never mistaken for a
//! GUID's display text: only a value whose type is uniqueidentifier is
//! read in this form.

/// Display-byte positions (as in `Uuid::as_bytes`) in SQL Server's
/// comparison order: the first three groups are stored little-endian, so
/// SQL Server compares their display bytes right to left.
const ORDER: [usize; 16] = [10, 11, 12, 13, 14, 15, 8, 9, 7, 6, 5, 4, 3, 2, 1, 0];

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

/// Where the stored form has its hyphens.
const STORED_HYPHENS: [usize; 4] = [12, 17, 22, 27];

/// A GUID in the stored form (see the module's documentation). Written
/// by table, since a bulk load stores a million of them.
pub(crate) fn guid_store(g: &uuid::Uuid) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let b = g.as_bytes();
    let mut out = [b'-'; 36];
    let mut at = 0;
    for &i in &ORDER {
        if STORED_HYPHENS.contains(&at) {
            at += 1;
        }
        out[at] = HEX[usize::from(b[i] >> 4)];
        out[at + 1] = HEX[usize::from(b[i] & 0x0F)];
        at += 2;
    }
    out.iter().map(|&c| char::from(c)).collect()
}

/// The stored form of a GUID but its first 12 digits (its last display
/// group, bytes 10-15, the most significant in SQL Server's order).
pub(crate) fn guid_store_tail(g: &uuid::Uuid) -> String {
    guid_store(g)[12..].to_string()
}

/// The 32 hex digits' values of a text in the stored form (uppercase
/// only: the form the sandbox writes), or None.
fn stored_digits(text: &[u8]) -> Option<[u8; 32]> {
    let b = <&[u8; 36]>::try_from(text).ok()?;
    let mut digits = [0u8; 32];
    let mut n = 0;
    for (i, &c) in b.iter().enumerate() {
        if STORED_HYPHENS.contains(&i) {
            if c != b'-' {
                return None;
            }
        } else {
            digits[n] = match c {
                b'0'..=b'9' => c - b'0',
                b'A'..=b'F' => c - b'A' + 10,
                _ => return None,
            };
            n += 1;
        }
    }
    Some(digits)
}

/// Whether a text is in the stored form.
pub(crate) fn is_stored(text: &[u8]) -> bool {
    stored_digits(text).is_some()
}

/// A GUID read from text in the stored form, or None.
fn from_stored(text: &[u8]) -> Option<uuid::Uuid> {
    let digits = stored_digits(text)?;
    let mut g = [0u8; 16];
    for (k, &i) in ORDER.iter().enumerate() {
        g[i] = digits[2 * k] << 4 | digits[2 * k + 1];
    }
    Some(uuid::Uuid::from_bytes(g))
}

/// The GUID a value of type uniqueidentifier holds: its stored form, or
/// (for values that reach a GUID's place as text, e.g. a catalog row or a
/// VALUES list that mixes types) the display text SQL Server converts.
pub(crate) fn stored_guid(text: &[u8]) -> Option<uuid::Uuid> {
    from_stored(text).or_else(|| std::str::from_utf8(text).ok().and_then(parse_guid))
}

/// The 16 bytes (display order) of a uniqueidentifier value's text (see
/// [`stored_guid`]).
pub(crate) fn guid_bytes(text: &[u8]) -> Option<[u8; 16]> {
    stored_guid(text).map(|g| *g.as_bytes())
}

/// A number ordering stored GUIDs as SQLite orders their text (the 32
/// digits read as one number); 0 for any other text, which the comparison
/// then orders.
pub(crate) fn stored_sort_key(text: &[u8]) -> u128 {
    stored_digits(text).map_or(0, |d| d.iter().fold(0u128, |k, &x| k << 4 | u128::from(x)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering;

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
    fn the_stored_forms_byte_order_is_sql_servers_order() {
        for i in 0..5000 {
            let a = uuid::Uuid::new_v4();
            // Every other pair differs in one byte only, so that every
            // byte group gets to decide.
            let b = if i % 2 == 0 {
                uuid::Uuid::new_v4()
            } else {
                let mut x = *a.as_bytes();
                x[i % 16] = x[i % 16].wrapping_add(1 + (i % 7) as u8);
                uuid::Uuid::from_bytes(x)
            };
            let (sa, sb) = (guid_store(&a), guid_store(&b));
            assert_eq!(
                sa.as_bytes().cmp(sb.as_bytes()),
                reference(&a, &b),
                "{a} {b}"
            );
            assert_eq!(
                stored_sort_key(sa.as_bytes()).cmp(&stored_sort_key(sb.as_bytes())),
                reference(&a, &b)
            );
            assert_eq!(stored_guid(sa.as_bytes()), Some(a));
            assert_eq!(guid_bytes(sb.as_bytes()), Some(*b.as_bytes()));
            assert_eq!(&sa[12..], guid_store_tail(&a));
        }
    }

    #[test]
    fn display_text_is_read_too_but_bare_or_lowercase_digits_are_not_a_display_guid() {
        let g = parse_guid("6F9619FF-8B86-D011-B42D-00C04FC964FF").unwrap();
        assert_eq!(guid_store(&g), "00C04FC964FF-B42D-11D0-868B-FF19966F");
        for text in [
            "6F9619FF-8B86-D011-B42D-00C04FC964FF",
            "6f9619ff-8b86-d011-b42d-00c04fc964ff",
            "{6F9619FF-8B86-D011-B42D-00C04FC964FF}",
            "00C04FC964FF-B42D-11D0-868B-FF19966F",
        ] {
            assert_eq!(stored_guid(text.as_bytes()), Some(g), "{text}");
        }
        // The stored form is not a display text; it is read only where a
        // uniqueidentifier is expected, and only as the sandbox writes it.
        assert_eq!(parse_guid("00C04FC964FF-B42D-11D0-868B-FF19966F"), None);
        assert!(uuid::Uuid::parse_str("00C04FC964FF-B42D-11D0-868B-FF19966F").is_err());
        assert_eq!(stored_guid(b"00c04fc964ff-b42d-11d0-868b-ff19966f"), None);
        assert_eq!(stored_guid(b"00C04FC964FF-B42D-11D0-868B-FF19966G"), None);
        assert_eq!(stored_guid(b"00C04FC964FFB42D11D0868BFF19966F"), None);
        assert_eq!(stored_guid(b"zzz"), None);
        assert_eq!(stored_sort_key(b"zzz"), 0);
        assert_eq!(guid_text(&g), "6F9619FF-8B86-D011-B42D-00C04FC964FF");
    }

    #[test]
    fn sqlite_orders_and_finds_the_stored_form_without_a_collation() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        // Declared as the sandbox declares it: NUMERIC affinity, which
        // would turn digits alone into a number.
        conn.execute_batch("CREATE TABLE k (id uniqueidentifier PRIMARY KEY);")
            .unwrap();
        let shown = [
            "00000000-0000-0000-0000-000000000001",
            "00000001-0000-0000-0000-000000000000",
            "00000000-0000-0000-0100-000000000000",
            "00000000-0100-0000-0000-000000000000",
        ];
        for s in shown {
            conn.execute(
                "INSERT INTO k VALUES (?1)",
                [guid_store(&parse_guid(s).unwrap())],
            )
            .unwrap();
        }
        let texts: i64 = conn
            .query_row(
                "SELECT count(*) FROM k WHERE typeof(id) = 'text'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(texts, 4, "every stored GUID stays text");
        let ids: Vec<String> = conn
            .prepare("SELECT id FROM k ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(|s| guid_text(&stored_guid(s.unwrap().as_bytes()).unwrap()))
            .collect();
        assert_eq!(
            ids,
            [
                "00000001-0000-0000-0000-000000000000",
                "00000000-0100-0000-0000-000000000000",
                "00000000-0000-0000-0100-000000000000",
                "00000000-0000-0000-0000-000000000001",
            ]
        );
    }
}
