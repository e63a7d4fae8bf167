//! Conversions between SQL Server types (CAST, CONVERT, assignment), with
//! SQL Server's errors: 245, 8114, 8115, 8152, 241...

use super::guid::{guid_store, guid_text, is_stored, parse_guid, stored_guid};
use super::storage::{format_datetime, parse_datetime};
use super::{family, DeclType, Family};
use crate::engine::errors;
use crate::types::{SqlError, SqlType};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use rusqlite::types::{Value as SqlVal, ValueRef};

/// How a conversion reports a value that does not fit.
#[derive(Debug, Clone)]
pub(crate) enum Mode<'a> {
    /// CAST/CONVERT: strings are silently truncated.
    Cast,
    /// TRY_CAST/TRY_CONVERT: failures give NULL.
    TryCast,
    /// INSERT/UPDATE into `table`.`column`: truncation is error 2628.
    Assign { table: &'a str, column: &'a str },
}

fn round_datetime(dt: NaiveDateTime, d: DeclType) -> NaiveDateTime {
    let nanos = dt.nanosecond() % 1_000_000_000;
    let base = dt.with_nanosecond(0).unwrap_or(dt);
    if d.ty == SqlType::DateTime {
        // datetime counts 1/300 s, shown as .000, .003, .007...
        let ticks = (nanos as i64 * 300 + 500_000_000) / 1_000_000_000;
        let ms = (ticks * 10 + 1) / 3;
        return base + chrono::Duration::milliseconds(ms);
    }
    let unit = 10u32.pow(9 - d.scale.min(7) as u32);
    let rounded = (nanos + unit / 2) / unit * unit;
    base + chrono::Duration::nanoseconds(rounded as i64)
}

fn type_display(d: DeclType) -> &'static str {
    d.ty.type_name()
}

/// Converts a stored value to `target`, with SQL Server's errors.
/// `src` is the SQL Server name of the value's type (for messages), `style`
/// the CONVERT style.
pub(crate) fn convert(
    v: ValueRef<'_>,
    target: DeclType,
    src: &str,
    style: Option<i64>,
    mode: &Mode<'_>,
) -> Result<SqlVal, SqlError> {
    let r = convert_inner(v, target, src, style, mode);
    match (r, mode) {
        (Err(_), Mode::TryCast) => Ok(SqlVal::Null),
        (r, _) => r,
    }
}

fn conversion_failed(src: &str, text: &str, target: DeclType) -> SqlError {
    let mut e = SqlError::new(
        245,
        format!(
            "Conversion failed when converting the {src} value '{text}' to data type {}.",
            type_display(target)
        ),
    );
    e.state = 1;
    e
}

fn overflow(target: DeclType) -> SqlError {
    SqlError::new(
        8115,
        format!(
            "Arithmetic overflow error converting expression to data type {}.",
            type_display(target)
        ),
    )
}

fn clash(src: &str, target: DeclType, mode: &Mode<'_>) -> SqlError {
    let mut e = match mode {
        Mode::Assign { .. } => SqlError::new(
            206,
            format!(
                "Operand type clash: {src} is incompatible with {}",
                type_display(target)
            ),
        ),
        _ => SqlError::new(
            529,
            format!(
                "Explicit conversion from data type {src} to {} is not allowed.",
                type_display(target)
            ),
        ),
    };
    e.state = 2;
    e
}

fn int_range(ty: SqlType) -> (i64, i64) {
    match ty {
        SqlType::TinyInt => (0, 255),
        SqlType::SmallInt => (i16::MIN as i64, i16::MAX as i64),
        SqlType::Int => (i32::MIN as i64, i32::MAX as i64),
        _ => (i64::MIN, i64::MAX),
    }
}

fn convert_inner(
    v: ValueRef<'_>,
    target: DeclType,
    src: &str,
    style: Option<i64>,
    mode: &Mode<'_>,
) -> Result<SqlVal, SqlError> {
    if let ValueRef::Null = v {
        return Ok(SqlVal::Null);
    }
    let src_family = match v {
        ValueRef::Text(_) => DeclType::parse(src)
            .map(|d| family(d.ty))
            .unwrap_or(Family::Text),
        _ => Family::Number,
    };
    let c = Conv {
        target,
        src,
        src_family,
        style,
        mode,
    };
    match target.ty {
        SqlType::TinyInt | SqlType::SmallInt | SqlType::Int | SqlType::BigInt => to_integer(v, &c),
        SqlType::Bit => to_bit(v, &c),
        SqlType::Float => to_float(v, &c),
        SqlType::UniqueIdentifier => to_guid(v, &c),
        SqlType::NVarChar(n) | SqlType::VarChar(n) => to_string(v, &c, n),
        SqlType::DateTime2 | SqlType::DateTime => to_datetime(v, &c),
        SqlType::VarBinary(n) => to_binary(v, &c, n),
    }
}

/// What every conversion needs besides the value.
struct Conv<'a> {
    target: DeclType,
    /// The SQL Server name of the value's type, for messages.
    src: &'a str,
    /// The family of `src` (text may hold a GUID or a date).
    src_family: Family,
    /// The CONVERT style.
    style: Option<i64>,
    mode: &'a Mode<'a>,
}

/// To tinyint, smallint, int or bigint: fractions truncate, out of range
/// is 8115, text must be a number.
fn to_integer(v: ValueRef<'_>, c: &Conv<'_>) -> Result<SqlVal, SqlError> {
    let (lo, hi) = int_range(c.target.ty);
    let i = match v {
        ValueRef::Integer(i) => i,
        ValueRef::Real(f) => {
            let t = f.trunc();
            if t < lo as f64 || t > hi as f64 {
                return Err(overflow(c.target));
            }
            t as i64
        }
        ValueRef::Text(t) => {
            let s = String::from_utf8_lossy(t);
            // Text stored for a GUID or a date is not a number;
            // any other text is a string, whatever the hint says
            // (a VALUES list mixes types row by row).
            if matches!(c.src_family, Family::Guid | Family::Time) {
                return Err(clash(c.src, c.target, c.mode));
            }
            match s.trim().parse::<i64>() {
                Ok(i) => i,
                Err(_) => return Err(conversion_failed(c.src, &s, c.target)),
            }
        }
        ValueRef::Blob(b) => {
            let mut i: i64 = 0;
            for byte in b.iter().rev().take(8).rev() {
                i = (i << 8) | *byte as i64;
            }
            i
        }
        ValueRef::Null => unreachable!(),
    };
    if i < lo || i > hi {
        return Err(overflow(c.target));
    }
    Ok(SqlVal::Integer(i))
}

/// To bit: any non-zero number is 1; text may also be TRUE or FALSE.
fn to_bit(v: ValueRef<'_>, c: &Conv<'_>) -> Result<SqlVal, SqlError> {
    match v {
        ValueRef::Integer(i) => Ok(SqlVal::Integer((i != 0) as i64)),
        ValueRef::Real(f) => Ok(SqlVal::Integer((f != 0.0) as i64)),
        ValueRef::Text(t) => {
            let s = String::from_utf8_lossy(t);
            let l = s.trim().to_ascii_lowercase();
            match l.as_str() {
                "true" => Ok(SqlVal::Integer(1)),
                "false" => Ok(SqlVal::Integer(0)),
                _ => match l.parse::<f64>() {
                    Ok(f) => Ok(SqlVal::Integer((f != 0.0) as i64)),
                    Err(_) => Err(conversion_failed(c.src, &s, c.target)),
                },
            }
        }
        ValueRef::Blob(b) => Ok(SqlVal::Integer(b.iter().any(|x| *x != 0) as i64)),
        ValueRef::Null => unreachable!(),
    }
}

/// To float.
fn to_float(v: ValueRef<'_>, c: &Conv<'_>) -> Result<SqlVal, SqlError> {
    match v {
        ValueRef::Integer(i) => Ok(SqlVal::Real(i as f64)),
        ValueRef::Real(f) => Ok(SqlVal::Real(f)),
        ValueRef::Text(t) => {
            let s = String::from_utf8_lossy(t);
            s.trim().parse::<f64>().map(SqlVal::Real).map_err(|_| {
                SqlError::new(
                    8114,
                    format!("Error converting data type {} to float.", c.src),
                )
            })
        }
        ValueRef::Blob(_) => Err(clash(c.src, c.target, c.mode)),
        ValueRef::Null => unreachable!(),
    }
}

/// To uniqueidentifier: from its text, or its 16 bytes; a value that is
/// one already is read in its stored form.
fn to_guid(v: ValueRef<'_>, c: &Conv<'_>) -> Result<SqlVal, SqlError> {
    match v {
        // Already stored (a GUID's own column, parameter or bulk value).
        ValueRef::Text(t) if c.src_family == Family::Guid && is_stored(t) => {
            Ok(SqlVal::Text(String::from_utf8_lossy(t).into_owned()))
        }
        ValueRef::Text(t) => {
            let g = if c.src_family == Family::Guid {
                stored_guid(t)
            } else {
                parse_guid(&String::from_utf8_lossy(t))
            };
            match g {
                Some(g) => Ok(SqlVal::Text(guid_store(&g))),
                None => Err(errors::guid_conversion()),
            }
        }
        ValueRef::Blob(b) if b.len() == 16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(b);
            Ok(SqlVal::Text(guid_store(&uuid::Uuid::from_bytes_le(a))))
        }
        _ => Err(clash(c.src, c.target, c.mode)),
    }
}

/// To varchar(n) or nvarchar(n): dates by CONVERT style, binary as hex
/// (styles 1 and 2) or as the text it encodes; too long a value is cut, or
/// refused when assigned to a column (8152).
fn to_string(v: ValueRef<'_>, c: &Conv<'_>, n: Option<u16>) -> Result<SqlVal, SqlError> {
    let s = match v {
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => format_float(f),
        ValueRef::Text(t) => {
            let s = String::from_utf8_lossy(t).into_owned();
            match c.src_family {
                Family::Time => match parse_datetime(&s) {
                    Some(dt) => format_datetime_style(&dt, c.src, c.style),
                    None => s,
                },
                // The display form, from the stored one.
                Family::Guid => stored_guid(t).map_or(s, |g| guid_text(&g)),
                _ => s,
            }
        }
        ValueRef::Blob(b) => {
            if c.style == Some(1) || c.style == Some(2) {
                let hex: String = b.iter().map(|x| format!("{x:02X}")).collect();
                if c.style == Some(1) {
                    format!("0x{hex}")
                } else {
                    hex
                }
            } else if matches!(c.target.ty, SqlType::NVarChar(_)) {
                let units: Vec<u16> = b
                    .chunks(2)
                    .map(|c| u16::from_le_bytes([c[0], *c.get(1).unwrap_or(&0)]))
                    .collect();
                String::from_utf16_lossy(&units)
            } else {
                String::from_utf8_lossy(b).into_owned()
            }
        }
        ValueRef::Null => unreachable!(),
    };
    if let Some(n) = n {
        let count = s.chars().count();
        if count > n as usize {
            let cut: String = s.chars().take(n as usize).collect();
            if let Mode::Assign { table, column } = c.mode {
                return Err(errors::truncation(table, column, &cut));
            }
            return Ok(SqlVal::Text(cut));
        }
    }
    Ok(SqlVal::Text(s))
}

/// To datetime2 or datetime, rounded to the type's precision; an int is a
/// number of days since 1900 (datetime only).
fn to_datetime(v: ValueRef<'_>, c: &Conv<'_>) -> Result<SqlVal, SqlError> {
    match v {
        ValueRef::Text(t) => {
            let s = String::from_utf8_lossy(t);
            match parse_datetime(&s) {
                Some(dt) => Ok(SqlVal::Text(format_datetime(&round_datetime(dt, c.target)))),
                None => {
                    let mut e = SqlError::new(
                        241,
                        "Conversion failed when converting date and/or time from character string.",
                    );
                    e.state = 1;
                    Err(e)
                }
            }
        }
        ValueRef::Integer(i) if c.target.ty == SqlType::DateTime => {
            let base = NaiveDate::from_ymd_opt(1900, 1, 1)
                .expect("valid date")
                .and_time(NaiveTime::MIN);
            Ok(SqlVal::Text(format_datetime(
                &(base + chrono::Duration::days(i)),
            )))
        }
        _ => Err(clash(c.src, c.target, c.mode)),
    }
}

/// To varbinary(n): text as its encoding (a GUID as its 16 bytes),
/// integers big-endian in their type's width; cut as strings are.
fn to_binary(v: ValueRef<'_>, c: &Conv<'_>, n: Option<u16>) -> Result<SqlVal, SqlError> {
    let bytes = match v {
        ValueRef::Blob(b) => b.to_vec(),
        ValueRef::Text(t) => {
            let s = String::from_utf8_lossy(t);
            if c.src_family == Family::Guid {
                match stored_guid(t) {
                    Some(g) => g.to_bytes_le().to_vec(),
                    None => s.as_bytes().to_vec(),
                }
            } else if c.src.starts_with("nvarchar") || c.src.starts_with("nchar") {
                s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()
            } else {
                s.as_bytes().to_vec()
            }
        }
        ValueRef::Integer(i) => {
            let width = match c.src {
                "bigint" => 8,
                "smallint" => 2,
                "tinyint" | "bit" => 1,
                _ => 4,
            };
            i.to_be_bytes()[8 - width..].to_vec()
        }
        ValueRef::Real(f) => f.to_be_bytes().to_vec(),
        ValueRef::Null => unreachable!(),
    };
    if let Some(n) = n {
        if bytes.len() > n as usize {
            if let Mode::Assign { table, column } = c.mode {
                return Err(errors::truncation(table, column, ""));
            }
            return Ok(SqlVal::Blob(bytes[..n as usize].to_vec()));
        }
    }
    Ok(SqlVal::Blob(bytes))
}

/// SQL Server's default float-to-string form is close enough to Rust's
/// shortest round-trip form for the values a sandbox sees.
pub(super) fn format_float(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

fn format_datetime_style(dt: &NaiveDateTime, src: &str, style: Option<i64>) -> String {
    let src_is_dt2 = src.starts_with("datetime2");
    match style.unwrap_or(0) {
        120 | 20 => dt.format("%Y-%m-%d %H:%M:%S").to_string(),
        121 | 21 => {
            if src_is_dt2 {
                format_datetime(dt)
            } else {
                dt.format("%Y-%m-%d %H:%M:%S%.3f").to_string()
            }
        }
        126 | 127 => {
            if src_is_dt2 {
                let s = format_datetime(dt).replacen(' ', "T", 1);
                s.trim_end_matches('0').trim_end_matches('.').to_string()
            } else if dt.nanosecond() / 1_000_000 == 0 {
                // Documented: style 126 leaves out a zero millisecond part.
                dt.format("%Y-%m-%dT%H:%M:%S").to_string()
            } else {
                dt.format("%Y-%m-%dT%H:%M:%S%.3f").to_string()
            }
        }
        23 => dt.format("%Y-%m-%d").to_string(),
        112 => dt.format("%Y%m%d").to_string(),
        108 | 8 => dt.format("%H:%M:%S").to_string(),
        _ => {
            if src_is_dt2 {
                let scale = DeclType::parse(src).map(|d| d.scale).unwrap_or(7) as usize;
                let full = format_datetime(dt);
                if scale == 0 {
                    full[..19].to_string()
                } else {
                    full[..20 + scale].to_string()
                }
            } else {
                // Style 0: "Jan  1 2024 12:00AM".
                let hour = dt.hour();
                let (h12, ampm) = match hour {
                    0 => (12, "AM"),
                    1..=11 => (hour, "AM"),
                    12 => (12, "PM"),
                    _ => (hour - 12, "PM"),
                };
                format!(
                    "{} {:>2} {} {:>2}:{:02}{}",
                    dt.format("%b"),
                    dt.format("%-d"),
                    dt.format("%Y"),
                    h12,
                    dt.minute(),
                    ampm
                )
            }
        }
    }
}
