//! Values as SQLite stores them: date/time and GUID texts, binding front-end
//! values, reading them back, literals, quoting and the collations.

use super::convert::format_float;
use super::guid::{guid_store, parse_guid, stored_guid};
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

/// A front-end value in storage representation, for binding.
pub(crate) fn to_storage(v: &Value) -> SqlVal {
    match v {
        Value::Null => SqlVal::Null,
        Value::Bit(b) => SqlVal::Integer(*b as i64),
        Value::Int(i) => SqlVal::Integer(*i),
        Value::Float(f) => SqlVal::Real(*f),
        Value::Guid(g) => SqlVal::Text(guid_store(g)),
        Value::Text(s) => SqlVal::Text(s.clone()),
        Value::DateTime(dt) => SqlVal::Text(format_datetime(dt)),
        Value::Binary(b) => SqlVal::Blob(b.clone()),
    }
}

/// A parameter's value in storage representation for its declared type
/// (a GUID sent as text is stored as a GUID).
pub(crate) fn param_storage(ty: SqlType, v: &Value) -> SqlVal {
    match (ty, v) {
        (SqlType::UniqueIdentifier, Value::Text(s)) => match parse_guid(s) {
            Some(g) => SqlVal::Text(guid_store(&g)),
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
            ValueRef::Text(t) => stored_guid(t).map(Value::Guid).unwrap_or(Value::Null),
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
        Value::Guid(g) => quote_str(&guid_store(g)),
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
