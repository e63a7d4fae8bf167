//! Values as SQLite stores them: date/time and GUID texts, binding front-end
//! values, reading them back, literals, quoting and the collations.

use super::convert::format_float;
use crate::types::{SqlType, Value};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use rusqlite::types::{Value as SqlVal, ValueRef};

/// The canonical storage text of a date/time.
pub(crate) fn format_datetime(dt: &NaiveDateTime) -> String {
    format!(
        "{}.{:07}",
        dt.format("%Y-%m-%d %H:%M:%S"),
        dt.nanosecond() / 100
    )
}

/// Parses date/time text in the forms SQL Server accepts most often.
pub(crate) fn parse_datetime(text: &str) -> Option<NaiveDateTime> {
    let t = text.trim();
    let t = t.strip_suffix('Z').unwrap_or(t);
    for f in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
        "%Y%m%d %H:%M:%S%.f",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(t, f) {
            return Some(dt);
        }
    }
    for f in ["%Y-%m-%d", "%Y%m%d", "%m/%d/%Y"] {
        if let Ok(d) = NaiveDate::parse_from_str(t, f) {
            return Some(d.and_time(NaiveTime::MIN));
        }
    }
    None
}

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
    g.hyphenated().to_string().to_uppercase()
}

/// A front-end value in storage representation, for binding.
pub(crate) fn to_storage(v: &Value) -> SqlVal {
    match v {
        Value::Null => SqlVal::Null,
        Value::Bit(b) => SqlVal::Integer(*b as i64),
        Value::Int(i) => SqlVal::Integer(*i),
        Value::Float(f) => SqlVal::Real(*f),
        Value::Guid(g) => SqlVal::Text(guid_text(g)),
        Value::Text(s) => SqlVal::Text(s.clone()),
        Value::DateTime(dt) => SqlVal::Text(format_datetime(dt)),
        Value::Binary(b) => SqlVal::Blob(b.clone()),
    }
}

/// A parameter's value in storage representation for its declared type
/// (a GUID sent as text is canonicalised).
pub(crate) fn param_storage(ty: SqlType, v: &Value) -> SqlVal {
    match (ty, v) {
        (SqlType::UniqueIdentifier, Value::Text(s)) => match parse_guid(s) {
            Some(g) => SqlVal::Text(guid_text(&g)),
            None => SqlVal::Text(s.clone()),
        },
        (SqlType::DateTime | SqlType::DateTime2, Value::Text(s)) => match parse_datetime(s) {
            Some(dt) => SqlVal::Text(format_datetime(&dt)),
            None => SqlVal::Text(s.clone()),
        },
        _ => to_storage(v),
    }
}

/// A stored value read back as the front end's `Value` for a column of type
/// `ty`. Values that cannot be read as that type become NULL rather than a
/// `Value` the wire encoder would reject.
pub(crate) fn from_storage(v: ValueRef<'_>, ty: SqlType) -> Value {
    let text = |t: &[u8]| String::from_utf8_lossy(t).into_owned();
    match ty {
        SqlType::TinyInt | SqlType::SmallInt | SqlType::Int | SqlType::BigInt => match v {
            ValueRef::Integer(i) => Value::Int(i),
            ValueRef::Real(f) => Value::Int(f as i64),
            ValueRef::Text(t) => text(t)
                .trim()
                .parse::<i64>()
                .map(Value::Int)
                .unwrap_or(Value::Null),
            _ => Value::Null,
        },
        SqlType::Bit => match v {
            ValueRef::Integer(i) => Value::Bit(i != 0),
            ValueRef::Real(f) => Value::Bit(f != 0.0),
            ValueRef::Text(t) => match text(t).trim().to_ascii_lowercase().as_str() {
                "1" | "true" => Value::Bit(true),
                "0" | "false" => Value::Bit(false),
                _ => Value::Null,
            },
            _ => Value::Null,
        },
        SqlType::Float => match v {
            ValueRef::Integer(i) => Value::Float(i as f64),
            ValueRef::Real(f) => Value::Float(f),
            ValueRef::Text(t) => text(t)
                .trim()
                .parse::<f64>()
                .map(Value::Float)
                .unwrap_or(Value::Null),
            _ => Value::Null,
        },
        SqlType::UniqueIdentifier => match v {
            ValueRef::Text(t) => parse_guid(&text(t)).map(Value::Guid).unwrap_or(Value::Null),
            ValueRef::Blob(b) if b.len() == 16 => {
                let mut a = [0u8; 16];
                a.copy_from_slice(b);
                Value::Guid(uuid::Uuid::from_bytes_le(a))
            }
            _ => Value::Null,
        },
        SqlType::NVarChar(_) | SqlType::VarChar(_) => match v {
            ValueRef::Text(t) => Value::Text(text(t)),
            ValueRef::Integer(i) => Value::Text(i.to_string()),
            ValueRef::Real(f) => Value::Text(format_float(f)),
            ValueRef::Blob(b) => Value::Text(text(b)),
            ValueRef::Null => Value::Null,
        },
        SqlType::DateTime2 | SqlType::DateTime => match v {
            ValueRef::Text(t) => parse_datetime(&text(t))
                .map(Value::DateTime)
                .unwrap_or(Value::Null),
            _ => Value::Null,
        },
        SqlType::VarBinary(_) => match v {
            ValueRef::Blob(b) => Value::Binary(b.to_vec()),
            ValueRef::Text(t) => Value::Binary(t.to_vec()),
            ValueRef::Integer(i) => Value::Binary(i.to_be_bytes().to_vec()),
            _ => Value::Null,
        },
    }
}

/// A value as a SQLite literal (for the rows of catalog views).
pub(crate) fn literal(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Bit(b) => (*b as i64).to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format!("{f:?}"),
        Value::Guid(g) => quote_str(&guid_text(g)),
        Value::Text(s) => quote_str(s),
        Value::DateTime(dt) => quote_str(&format_datetime(dt)),
        Value::Binary(b) => format!(
            "X'{}'",
            b.iter().map(|x| format!("{x:02X}")).collect::<String>()
        ),
    }
}

/// A SQLite string literal.
pub(crate) fn quote_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A SQLite quoted identifier.
pub(crate) fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// SQL Server's default collation (SQL_Latin1_General_CP1_CI_AS) as far as
/// the sandbox needs it: case-insensitive for all of Unicode (SQLite's
/// NOCASE folds ASCII only) and blind to trailing spaces.
pub(crate) fn ci_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let a = a.trim_end_matches(' ');
    let b = b.trim_end_matches(' ');
    a.chars()
        .flat_map(char::to_lowercase)
        .cmp(b.chars().flat_map(char::to_lowercase))
}

/// Text positions of a canonical GUID text's display bytes, in SQL Server's
/// comparison order (see `guid_cmp`).
const GUID_ORDER: [usize; 16] = [24, 26, 28, 30, 32, 34, 19, 21, 16, 14, 11, 9, 6, 4, 2, 0];

/// The comparison key of a GUID stored as the sandbox stores them
/// (uppercase, hyphenated), read straight from the text: hex digit pairs
/// compare as their bytes do. None for any other text.
fn canonical_key(s: &str) -> Option<[u8; 32]> {
    let b = s.as_bytes();
    if b.len() != 36 || b[8] != b'-' || b[13] != b'-' || b[18] != b'-' || b[23] != b'-' {
        return None;
    }
    let mut k = [0u8; 32];
    for (n, &p) in GUID_ORDER.iter().enumerate() {
        let (h, l) = (b[p], b[p + 1]);
        if !(h.is_ascii_digit() || (b'A'..=b'F').contains(&h))
            || !(l.is_ascii_digit() || (b'A'..=b'F').contains(&l))
        {
            return None;
        }
        k[2 * n] = h;
        k[2 * n + 1] = l;
    }
    Some(k)
}

/// Orders GUID texts as SQL Server orders `uniqueidentifier` values: by the
/// last 6 bytes, then bytes 8-9, then 7-6, 5-4, 3-0 (display positions).
/// Texts that are not GUIDs compare case-insensitively after GUIDs.
pub(crate) fn guid_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    if let (Some(x), Some(y)) = (canonical_key(a), canonical_key(b)) {
        return x.cmp(&y);
    }
    fn key(s: &str) -> Option<[u8; 16]> {
        let g = parse_guid(s)?;
        let x = g.as_bytes();
        Some([
            x[10], x[11], x[12], x[13], x[14], x[15], x[8], x[9], x[6], x[7], x[4], x[5], x[0],
            x[1], x[2], x[3],
        ])
    }
    // Within groups 1-3 SQL Server compares the stored (little-endian) bytes,
    // i.e. the display bytes right to left.
    fn fix(k: [u8; 16]) -> [u8; 16] {
        [
            k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7], k[9], k[8], k[11], k[10], k[15], k[14],
            k[13], k[12],
        ]
    }
    match (key(a), key(b)) {
        (Some(x), Some(y)) => fix(x).cmp(&fix(y)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.to_lowercase().cmp(&b.to_lowercase()),
    }
}
