//! Data types on the wire: TYPE_INFO and values for COLMETADATA/ROW (server
//! to client) and for RPC parameters (client to server).

use super::wire::{utf16_to_string, Reader, WireError, WireResult};
use crate::types::{Column, SqlError, SqlType, Value};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Timelike};

/// Data type bytes (MS-TDS 2.2.5.4).
pub mod ty {
    /// NULLTYPE: a NULL parameter without a type (tiberius sends it for
    /// `None` strings, binaries and dates).
    pub const NULL: u8 = 0x1F;
    /// INT1
    pub const INT1: u8 = 0x30;
    /// BIT
    pub const BIT: u8 = 0x32;
    /// INT2
    pub const INT2: u8 = 0x34;
    /// INT4
    pub const INT4: u8 = 0x38;
    /// DATETIM4 (smalldatetime)
    pub const DATETIM4: u8 = 0x3A;
    /// FLT4 (real)
    pub const FLT4: u8 = 0x3B;
    /// DATETIME
    pub const DATETIME: u8 = 0x3D;
    /// FLT8
    pub const FLT8: u8 = 0x3E;
    /// INT8
    pub const INT8: u8 = 0x7F;
    /// GUIDTYPE
    pub const GUID: u8 = 0x24;
    /// INTNTYPE
    pub const INTN: u8 = 0x26;
    /// DATENTYPE
    pub const DATEN: u8 = 0x28;
    /// TIMENTYPE
    pub const TIMEN: u8 = 0x29;
    /// DATETIME2NTYPE
    pub const DATETIME2N: u8 = 0x2A;
    /// DATETIMEOFFSETNTYPE
    pub const DATETIMEOFFSETN: u8 = 0x2B;
    /// BITNTYPE
    pub const BITN: u8 = 0x68;
    /// DECIMALNTYPE
    pub const DECIMALN: u8 = 0x6A;
    /// NUMERICNTYPE
    pub const NUMERICN: u8 = 0x6C;
    /// FLTNTYPE
    pub const FLTN: u8 = 0x6D;
    /// DATETIMNTYPE
    pub const DATETIMN: u8 = 0x6F;
    /// BIGVARBINTYPE
    pub const BIGVARBIN: u8 = 0xA5;
    /// BIGVARCHRTYPE
    pub const BIGVARCHR: u8 = 0xA7;
    /// BIGBINARYTYPE
    pub const BIGBINARY: u8 = 0xAD;
    /// BIGCHARTYPE
    pub const BIGCHAR: u8 = 0xAF;
    /// NVARCHARTYPE
    pub const NVARCHAR: u8 = 0xE7;
    /// NCHARTYPE
    pub const NCHAR: u8 = 0xEF;
}

/// SQL_Latin1_General_CP1_CI_AS: LCID 0x0409, flags IgnoreCase |
/// IgnoreKana | IgnoreWidth, version 0, sort id 52 (code page 1252).
pub const COLLATION: [u8; 5] = [0x09, 0x04, 0xD0, 0x00, 0x34];

/// Maximum length marker of the `(max)` types, whose values are PLP.
const MAX_LEN: u16 = 0xFFFF;

const PLP_NULL: u64 = 0xFFFF_FFFF_FFFF_FFFF;
const PLP_UNKNOWN_LEN: u64 = 0xFFFF_FFFF_FFFF_FFFE;

fn epoch_0001() -> NaiveDate {
    NaiveDate::from_ymd_opt(1, 1, 1).expect("valid date")
}

fn epoch_1900() -> NaiveDate {
    NaiveDate::from_ymd_opt(1900, 1, 1).expect("valid date")
}

/// SQL Server's mixed-endian GUID byte order: the first three groups are
/// little-endian. The swap is its own inverse.
pub fn guid_wire_bytes(bytes: [u8; 16]) -> [u8; 16] {
    let mut b = bytes;
    b.swap(0, 3);
    b.swap(1, 2);
    b.swap(4, 5);
    b.swap(6, 7);
    b
}

/// Windows-1252 code points 0x80..=0x9F; everything else maps to Latin-1.
const CP1252_HIGH: [u16; 32] = [
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039,
    0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
];

/// Encodes text as code page 1252 (the collation's), `?` for what it lacks,
/// as SQL Server converts nvarchar to varchar.
pub fn to_cp1252(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| {
            let cp = c as u32;
            if cp < 0x80 || (0xA0..=0xFF).contains(&cp) {
                cp as u8
            } else if let Some(i) = CP1252_HIGH.iter().position(|&u| u as u32 == cp) {
                0x80 + i as u8
            } else {
                b'?'
            }
        })
        .collect()
}

/// Decodes code page 1252 bytes.
pub fn from_cp1252(b: &[u8]) -> String {
    b.iter()
        .map(|&x| {
            if (0x80..0xA0).contains(&x) {
                char::from_u32(CP1252_HIGH[(x - 0x80) as usize] as u32).unwrap_or('?')
            } else {
                x as char
            }
        })
        .collect()
}

/// Appends a column's TYPE_INFO.
pub fn put_type_info(out: &mut Vec<u8>, t: SqlType) {
    match t {
        SqlType::Bit => out.extend_from_slice(&[ty::BITN, 1]),
        SqlType::TinyInt => out.extend_from_slice(&[ty::INTN, 1]),
        SqlType::SmallInt => out.extend_from_slice(&[ty::INTN, 2]),
        SqlType::Int => out.extend_from_slice(&[ty::INTN, 4]),
        SqlType::BigInt => out.extend_from_slice(&[ty::INTN, 8]),
        SqlType::Float => out.extend_from_slice(&[ty::FLTN, 8]),
        SqlType::UniqueIdentifier => out.extend_from_slice(&[ty::GUID, 16]),
        SqlType::DateTime2 => out.extend_from_slice(&[ty::DATETIME2N, 7]),
        SqlType::DateTime => out.extend_from_slice(&[ty::DATETIMN, 8]),
        SqlType::NVarChar(n) => {
            out.push(ty::NVARCHAR);
            let len = n.map(|n| n.saturating_mul(2).min(8000)).unwrap_or(MAX_LEN);
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&COLLATION);
        }
        SqlType::VarChar(n) => {
            out.push(ty::BIGVARCHR);
            let len = n.map(|n| n.min(8000)).unwrap_or(MAX_LEN);
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&COLLATION);
        }
        SqlType::VarBinary(n) => {
            out.push(ty::BIGVARBIN);
            let len = n.map(|n| n.min(8000)).unwrap_or(MAX_LEN);
            out.extend_from_slice(&len.to_le_bytes());
        }
    }
}

fn conversion_error(v: &Value, t: SqlType) -> SqlError {
    let what = match v {
        Value::Null => "NULL",
        Value::Bit(_) => "bit",
        Value::Int(_) => "int",
        Value::Float(_) => "float",
        Value::Guid(_) => "uniqueidentifier",
        Value::Text(_) => "nvarchar",
        Value::DateTime(_) => "datetime2",
        Value::Binary(_) => "varbinary",
    };
    SqlError::new(
        257,
        format!(
            "Implicit conversion from data type {what} to {} is not allowed. Use the CONVERT function to run this query.",
            t.type_name()
        ),
    )
}

fn put_plp(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(&(data.len() as u64).to_le_bytes());
    // Chunks keep every length within u32 and mirror SQL Server's framing.
    for chunk in data.chunks(8000) {
        out.extend_from_slice(&(chunk.len() as u32).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&0u32.to_le_bytes());
}

fn put_var(out: &mut Vec<u8>, data: &[u8], max: Option<u16>) {
    match max {
        None => put_plp(out, data),
        Some(_) => {
            out.extend_from_slice(&(data.len() as u16).to_le_bytes());
            out.extend_from_slice(data);
        }
    }
}

/// 100-nanosecond ticks since midnight.
fn time_ticks(t: NaiveTime) -> u64 {
    t.num_seconds_from_midnight() as u64 * 10_000_000
        + (t.nanosecond() as u64 % 1_000_000_000) / 100
}

/// `datetime`'s (days since 1900-01-01, 1/300 s ticks since midnight),
/// rounded to the nearest tick as SQL Server rounds.
pub fn datetime_parts(dt: NaiveDateTime) -> (i32, u32) {
    let mut days = (dt.date() - epoch_1900()).num_days();
    let ns = dt.time().num_seconds_from_midnight() as u64 * 1_000_000_000
        + (dt.time().nanosecond() as u64 % 1_000_000_000);
    let mut ticks = (ns * 3 + 5_000_000) / 10_000_000;
    if ticks >= 300 * 86_400 {
        ticks -= 300 * 86_400;
        days += 1;
    }
    (days as i32, ticks as u32)
}

/// Appends one ROW value of column type `t`.
pub fn put_value(out: &mut Vec<u8>, t: SqlType, v: &Value) -> Result<(), SqlError> {
    if let Value::Null = v {
        put_null(out, t);
        return Ok(());
    }
    match t {
        SqlType::Bit
        | SqlType::TinyInt
        | SqlType::SmallInt
        | SqlType::Int
        | SqlType::BigInt
        | SqlType::Float => put_number(out, t, v),
        _ => put_other(out, t, v),
    }
}

/// A NULL of column type `t`: PLP NULL for `(max)` types, 0xFFFF for the
/// other variable-length ones, length 0 otherwise.
fn put_null(out: &mut Vec<u8>, t: SqlType) {
    match t {
        SqlType::NVarChar(None) | SqlType::VarChar(None) | SqlType::VarBinary(None) => {
            out.extend_from_slice(&PLP_NULL.to_le_bytes())
        }
        SqlType::NVarChar(_) | SqlType::VarChar(_) | SqlType::VarBinary(_) => {
            out.extend_from_slice(&0xFFFFu16.to_le_bytes())
        }
        _ => out.push(0),
    }
}

/// bit, tinyint, smallint, int, bigint and float values.
fn put_number(out: &mut Vec<u8>, t: SqlType, v: &Value) -> Result<(), SqlError> {
    match (t, v) {
        (SqlType::Bit, Value::Bit(b)) => out.extend_from_slice(&[1, *b as u8]),
        (SqlType::Bit, Value::Int(i)) => out.extend_from_slice(&[1, (*i != 0) as u8]),
        (SqlType::TinyInt, Value::Int(i)) if (0..=255).contains(i) => {
            out.extend_from_slice(&[1, *i as u8])
        }
        (SqlType::SmallInt, Value::Int(i)) if i16::try_from(*i).is_ok() => {
            out.push(2);
            out.extend_from_slice(&(*i as i16).to_le_bytes());
        }
        (SqlType::Int, Value::Int(i)) if i32::try_from(*i).is_ok() => {
            out.push(4);
            out.extend_from_slice(&(*i as i32).to_le_bytes());
        }
        (SqlType::BigInt, Value::Int(i)) => {
            out.push(8);
            out.extend_from_slice(&i.to_le_bytes());
        }
        (SqlType::TinyInt | SqlType::SmallInt | SqlType::Int, Value::Int(_)) => {
            return Err(SqlError::new(
                8115,
                format!(
                    "Arithmetic overflow error converting expression to data type {}.",
                    t.type_name()
                ),
            ))
        }
        (SqlType::Int | SqlType::BigInt | SqlType::SmallInt | SqlType::TinyInt, Value::Bit(b)) => {
            return put_value(out, t, &Value::Int(*b as i64))
        }
        (SqlType::Float, Value::Float(f)) => {
            out.push(8);
            out.extend_from_slice(&f.to_le_bytes());
        }
        (SqlType::Float, Value::Int(i)) => {
            out.push(8);
            out.extend_from_slice(&(*i as f64).to_le_bytes());
        }
        _ => return Err(conversion_error(v, t)),
    }
    Ok(())
}

/// Appends one ROW value of string column type `t` (`nvarchar` or
/// `varchar`). Streamed rows come here with text borrowed from SQLite, so
/// the common case (a sized column) encodes straight into `out`.
pub fn put_text(out: &mut Vec<u8>, t: SqlType, s: &str) -> Result<(), SqlError> {
    match t {
        SqlType::NVarChar(Some(_)) => {
            let at = out.len();
            out.extend_from_slice(&[0, 0]);
            super::wire::put_utf16(out, s);
            let len = (out.len() - at - 2) as u16;
            out[at..at + 2].copy_from_slice(&len.to_le_bytes());
        }
        SqlType::NVarChar(None) => {
            let mut b = Vec::with_capacity(s.len() * 2);
            super::wire::put_utf16(&mut b, s);
            put_plp(out, &b);
        }
        SqlType::VarChar(n) => put_var(out, &to_cp1252(s), n),
        // Other types take text only through put_value's conversions.
        _ => return put_value(out, t, &Value::Text(s.to_string())),
    }
    Ok(())
}

/// uniqueidentifier, string, binary and date/time values.
fn put_other(out: &mut Vec<u8>, t: SqlType, v: &Value) -> Result<(), SqlError> {
    match (t, v) {
        (SqlType::UniqueIdentifier, Value::Guid(g)) => {
            out.push(16);
            out.extend_from_slice(&guid_wire_bytes(*g.as_bytes()));
        }
        (SqlType::UniqueIdentifier, Value::Text(s)) => match crate::engine::stored_guid(
            s.as_bytes(),
        ) {
            Some(g) => return put_value(out, t, &Value::Guid(g)),
            None => return Err(SqlError::new(
                8169,
                "Conversion failed when converting from a character string to uniqueidentifier.",
            )),
        },
        (SqlType::NVarChar(_) | SqlType::VarChar(_), Value::Text(s)) => return put_text(out, t, s),
        (
            SqlType::NVarChar(_) | SqlType::VarChar(_),
            Value::Int(_) | Value::Float(_) | Value::Guid(_) | Value::Bit(_),
        ) => {
            let s = match v {
                Value::Int(i) => i.to_string(),
                Value::Float(f) => f.to_string(),
                Value::Guid(g) => g.to_string().to_uppercase(),
                Value::Bit(b) => (*b as u8).to_string(),
                _ => unreachable!("matched above"),
            };
            return put_value(out, t, &Value::Text(s));
        }
        (SqlType::VarBinary(n), Value::Binary(b)) => put_var(out, b, n),
        (SqlType::DateTime2, Value::DateTime(dt)) => {
            out.push(8);
            let ticks = time_ticks(dt.time());
            out.extend_from_slice(&ticks.to_le_bytes()[..5]);
            let days = (dt.date() - epoch_0001()).num_days() as u32;
            out.extend_from_slice(&days.to_le_bytes()[..3]);
        }
        (SqlType::DateTime, Value::DateTime(dt)) => {
            let (days, ticks) = datetime_parts(*dt);
            out.push(8);
            out.extend_from_slice(&days.to_le_bytes());
            out.extend_from_slice(&ticks.to_le_bytes());
        }
        _ => return Err(conversion_error(v, t)),
    }
    Ok(())
}

/// Appends COLMETADATA's column list (without the token byte).
pub fn put_columns(out: &mut Vec<u8>, columns: &[Column]) {
    out.extend_from_slice(&(columns.len() as u16).to_le_bytes());
    for c in columns {
        out.extend_from_slice(&0u32.to_le_bytes()); // UserType
                                                    // usUpdateable "unknown" (0x0008), as SQL Server marks a table's
                                                    // columns: bulk-load clients (tiberius's `bulk_insert`) take only
                                                    // columns so marked from their `SELECT TOP 0 * FROM t`.
        let flags: u16 = 0x0008 | if c.nullable { 0x0001 } else { 0 };
        out.extend_from_slice(&flags.to_le_bytes());
        put_type_info(out, c.ty);
        super::wire::put_b_varchar(out, &c.name);
    }
}

/// A parameter's TYPE_INFO as the client sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamTypeInfo {
    /// Type byte.
    pub ty: u8,
    /// Declared length (bytes), `0xFFFF` for `(max)` types; scale for
    /// DATETIME2N.
    pub len: u32,
}

impl ParamTypeInfo {
    /// The SqlType the value carries when `@params` does not declare one.
    pub fn sql_type(&self) -> Option<SqlType> {
        let max = |len: u32, per_char: u32| {
            if len == MAX_LEN as u32 {
                None
            } else {
                Some((len / per_char).min(u16::MAX as u32) as u16)
            }
        };
        Some(match self.ty {
            ty::BIT | ty::BITN => SqlType::Bit,
            ty::INT1 => SqlType::TinyInt,
            ty::INT2 => SqlType::SmallInt,
            ty::INT4 => SqlType::Int,
            ty::INT8 => SqlType::BigInt,
            ty::INTN => match self.len {
                1 => SqlType::TinyInt,
                2 => SqlType::SmallInt,
                4 => SqlType::Int,
                _ => SqlType::BigInt,
            },
            ty::FLT4 | ty::FLT8 | ty::FLTN => SqlType::Float,
            ty::GUID => SqlType::UniqueIdentifier,
            ty::NVARCHAR | ty::NCHAR => SqlType::NVarChar(max(self.len, 2)),
            ty::BIGVARCHR | ty::BIGCHAR => SqlType::VarChar(max(self.len, 1)),
            ty::BIGVARBIN | ty::BIGBINARY => SqlType::VarBinary(max(self.len, 1)),
            ty::DATETIME2N => SqlType::DateTime2,
            ty::DATETIME | ty::DATETIM4 | ty::DATETIMN => SqlType::DateTime,
            _ => return None,
        })
    }
}

/// An unsupported parameter type: the request cannot be decoded further.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsupportedType(pub u8);

/// Reads a parameter's TYPE_INFO. Types the sandbox does not model fail with
/// [`UnsupportedType`] inside the `Ok`, wire errors with `Err`.
pub fn read_param_type_info(
    r: &mut Reader<'_>,
) -> WireResult<Result<ParamTypeInfo, UnsupportedType>> {
    let t = r.u8()?;
    let len = match t {
        ty::NULL => 0,
        ty::INT1 | ty::BIT => 1,
        ty::INT2 => 2,
        ty::INT4 | ty::FLT4 | ty::DATETIM4 => 4,
        ty::INT8 | ty::FLT8 | ty::DATETIME => 8,
        ty::INTN | ty::BITN | ty::FLTN | ty::GUID | ty::DATETIMN | ty::DATETIME2N => r.u8()? as u32,
        ty::NVARCHAR | ty::NCHAR | ty::BIGVARCHR | ty::BIGCHAR => {
            let len = r.u16_le()? as u32;
            r.skip(5)?; // collation
            len
        }
        ty::BIGVARBIN | ty::BIGBINARY => r.u16_le()? as u32,
        other => return Ok(Err(UnsupportedType(other))),
    };
    Ok(Ok(ParamTypeInfo { ty: t, len }))
}

fn read_plp(r: &mut Reader<'_>) -> WireResult<Option<Vec<u8>>> {
    let total = r.u64_le()?;
    if total == PLP_NULL {
        return Ok(None);
    }
    let mut data = Vec::new();
    if total != PLP_UNKNOWN_LEN {
        // The announced length is the client's word: never reserve more
        // than the message still holds, or a few bytes per parameter could
        // make the server reserve megabytes each.
        data.reserve((total.min(r.remaining() as u64)) as usize);
    }
    loop {
        let n = r.u32_le()? as usize;
        if n == 0 {
            break;
        }
        data.extend_from_slice(r.bytes(n)?);
    }
    Ok(Some(data))
}

fn read_var(r: &mut Reader<'_>, info: ParamTypeInfo) -> WireResult<Option<Vec<u8>>> {
    if info.len == MAX_LEN as u32 {
        return read_plp(r);
    }
    let n = r.u16_le()?;
    if n == 0xFFFF {
        return Ok(None);
    }
    Ok(Some(r.bytes(n as usize)?.to_vec()))
}

fn le_uint(b: &[u8]) -> u64 {
    b.iter().rev().fold(0u64, |acc, &x| (acc << 8) | x as u64)
}

fn datetime_from_parts(days: i64, ticks_300: i64) -> WireResult<NaiveDateTime> {
    let date = epoch_1900()
        .checked_add_signed(chrono::Duration::days(days))
        .ok_or_else(|| WireError("datetime out of range".into()))?;
    let ns = ticks_300 * 10_000_000 / 3;
    let time = NaiveTime::from_num_seconds_from_midnight_opt(
        (ns / 1_000_000_000) as u32,
        (ns % 1_000_000_000) as u32,
    )
    .ok_or_else(|| WireError("datetime time out of range".into()))?;
    Ok(NaiveDateTime::new(date, time))
}

/// Reads a parameter value of the given TYPE_INFO.
pub fn read_param_value(r: &mut Reader<'_>, info: ParamTypeInfo) -> WireResult<Value> {
    Ok(match info.ty {
        ty::NULL => Value::Null,
        ty::INT1
        | ty::BIT
        | ty::INT2
        | ty::INT4
        | ty::INT8
        | ty::FLT4
        | ty::FLT8
        | ty::DATETIME
        | ty::DATETIM4 => read_fixed(r, info.ty)?,
        ty::INTN | ty::BITN | ty::FLTN | ty::DATETIMN => read_nullable_fixed(r, info.ty)?,
        ty::GUID => match r.u8()? {
            0 => Value::Null,
            16 => {
                let mut b = [0u8; 16];
                b.copy_from_slice(r.bytes(16)?);
                Value::Guid(uuid::Uuid::from_bytes(guid_wire_bytes(b)))
            }
            n => return Err(WireError(format!("invalid uniqueidentifier length {n}"))),
        },
        ty::DATETIME2N => read_datetime2(r, info)?,
        ty::NVARCHAR | ty::NCHAR => match read_var(r, info)? {
            None => Value::Null,
            Some(b) => Value::Text(utf16_to_string(&b)?),
        },
        ty::BIGVARCHR | ty::BIGCHAR => match read_var(r, info)? {
            None => Value::Null,
            Some(b) => Value::Text(from_cp1252(&b)),
        },
        ty::BIGVARBIN | ty::BIGBINARY => match read_var(r, info)? {
            None => Value::Null,
            Some(b) => Value::Binary(b),
        },
        other => {
            return Err(WireError(format!(
                "unsupported parameter type {other:#04x}"
            )))
        }
    })
}

/// A fixed-length value of type `t`.
fn read_fixed(r: &mut Reader<'_>, t: u8) -> WireResult<Value> {
    Ok(match t {
        ty::INT1 => Value::Int(r.u8()? as i64),
        ty::BIT => Value::Bit(r.u8()? != 0),
        ty::INT2 => Value::Int(r.u16_le()? as i16 as i64),
        ty::INT4 => Value::Int(r.u32_le()? as i32 as i64),
        ty::INT8 => Value::Int(r.u64_le()? as i64),
        ty::FLT4 => Value::Float(f32::from_bits(r.u32_le()?) as f64),
        ty::FLT8 => Value::Float(f64::from_bits(r.u64_le()?)),
        ty::DATETIME => {
            let days = r.u32_le()? as i32 as i64;
            let ticks = r.u32_le()? as i64;
            Value::DateTime(datetime_from_parts(days, ticks)?)
        }
        ty::DATETIM4 => {
            let days = r.u16_le()? as i64;
            let mins = r.u16_le()? as i64;
            Value::DateTime(datetime_from_parts(days, mins * 60 * 300)?)
        }
        _ => return Err(WireError(format!("no fixed-length type {t:#04x}"))),
    })
}

/// INTN, BITN, FLTN or DATETIMN: a length (0 for NULL), then the value of
/// the fixed-length type of that length.
fn read_nullable_fixed(r: &mut Reader<'_>, code: u8) -> WireResult<Value> {
    let n = r.u8()?;
    let t = match (code, n) {
        (_, 0) => return Ok(Value::Null),
        (ty::INTN, 1) => ty::INT1,
        (ty::INTN, 2) => ty::INT2,
        (ty::INTN, 4) => ty::INT4,
        (ty::INTN, 8) => ty::INT8,
        (ty::BITN, 1) => ty::BIT,
        (ty::FLTN, 4) => ty::FLT4,
        (ty::FLTN, 8) => ty::FLT8,
        (ty::DATETIMN, 4) => ty::DATETIM4,
        (ty::DATETIMN, 8) => ty::DATETIME,
        (t, n) => return Err(WireError(format!("invalid length {n} for type {t:#04x}"))),
    };
    read_fixed(r, t)
}

/// DATETIME2N: a length (0 for NULL), the time in units of the scale, then
/// days since 0001-01-01.
fn read_datetime2(r: &mut Reader<'_>, info: ParamTypeInfo) -> WireResult<Value> {
    let n = r.u8()? as usize;
    if n == 0 {
        return Ok(Value::Null);
    }
    let scale = info.len.min(7);
    let time_len = match scale {
        0..=2 => 3,
        3..=4 => 4,
        _ => 5,
    };
    if n != time_len + 3 {
        return Err(WireError(format!(
            "invalid datetime2 length {n} for scale {scale}"
        )));
    }
    let increments = le_uint(r.bytes(time_len)?);
    let days = le_uint(r.bytes(3)?);
    let ns = increments as u128 * 10u128.pow(9 - scale);
    let date = epoch_0001()
        .checked_add_signed(chrono::Duration::days(days as i64))
        .ok_or_else(|| WireError("datetime2 out of range".into()))?;
    let time = NaiveTime::from_num_seconds_from_midnight_opt(
        (ns / 1_000_000_000) as u32,
        (ns % 1_000_000_000) as u32,
    )
    .ok_or_else(|| WireError("datetime2 time out of range".into()))?;
    Ok(Value::DateTime(NaiveDateTime::new(date, time)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt(info_bytes: &[u8], value_bytes: &[u8]) -> Value {
        let mut all = info_bytes.to_vec();
        all.extend_from_slice(value_bytes);
        let mut r = Reader::new(&all);
        let info = read_param_type_info(&mut r).unwrap().unwrap();
        let v = read_param_value(&mut r, info).unwrap();
        assert_eq!(r.remaining(), 0);
        v
    }

    #[test]
    fn guid_order_matches_sql_server() {
        let g = uuid::Uuid::parse_str("6f9619ff-8b86-d011-b42d-00c04fc964ff").unwrap();
        let wire = guid_wire_bytes(*g.as_bytes());
        assert_eq!(wire[..4], [0xff, 0x19, 0x96, 0x6f]);
        assert_eq!(wire[4..8], [0x86, 0x8b, 0x11, 0xd0]);
        assert_eq!(wire[8..], g.as_bytes()[8..]);
        let mut out = Vec::new();
        put_value(&mut out, SqlType::UniqueIdentifier, &Value::Guid(g)).unwrap();
        assert_eq!(rt(&[ty::GUID, 16], &out), Value::Guid(g));
    }

    #[test]
    fn ints_round_trip_each_width() {
        for (t, n) in [
            (SqlType::TinyInt, 1u8),
            (SqlType::SmallInt, 2),
            (SqlType::Int, 4),
            (SqlType::BigInt, 8),
        ] {
            let mut out = Vec::new();
            put_value(&mut out, t, &Value::Int(100)).unwrap();
            assert_eq!(out[0], n);
            assert_eq!(rt(&[ty::INTN, n], &out), Value::Int(100));
            let mut info = Vec::new();
            put_type_info(&mut info, t);
            assert_eq!(info, vec![ty::INTN, n]);
        }
        let mut out = Vec::new();
        assert_eq!(
            put_value(&mut out, SqlType::TinyInt, &Value::Int(300))
                .unwrap_err()
                .number,
            8115
        );
    }

    #[test]
    fn nulls_per_type() {
        let mut out = Vec::new();
        put_value(&mut out, SqlType::Int, &Value::Null).unwrap();
        put_value(&mut out, SqlType::NVarChar(Some(10)), &Value::Null).unwrap();
        put_value(&mut out, SqlType::NVarChar(None), &Value::Null).unwrap();
        assert_eq!(out, [&[0u8, 0xFF, 0xFF][..], &[0xFF; 8][..]].concat());
        assert_eq!(rt(&[ty::NULL], &[]), Value::Null);
        assert_eq!(rt(&[ty::INTN, 4], &[0]), Value::Null);
        assert_eq!(
            rt(&[ty::NVARCHAR, 0x40, 0x1F, 0, 0, 0, 0, 0], &[0xFF, 0xFF]),
            Value::Null
        );
    }

    #[test]
    fn strings_and_plp() {
        let mut out = Vec::new();
        put_value(&mut out, SqlType::NVarChar(None), &Value::Text("hé".into())).unwrap();
        assert_eq!(&out[..8], &4u64.to_le_bytes());
        let info = [ty::NVARCHAR, 0xFF, 0xFF, 0, 0, 0, 0, 0];
        assert_eq!(rt(&info, &out), Value::Text("hé".into()));
        // tiberius' unknown-length PLP with an empty string: no terminator chunk after the 0.
        let mut empty = PLP_UNKNOWN_LEN.to_le_bytes().to_vec();
        empty.extend_from_slice(&0u32.to_le_bytes());
        assert_eq!(rt(&info, &empty), Value::Text(String::new()));

        let mut out = Vec::new();
        put_value(
            &mut out,
            SqlType::VarChar(Some(10)),
            &Value::Text("€uro".into()),
        )
        .unwrap();
        assert_eq!(out, vec![4, 0, 0x80, b'u', b'r', b'o']);
        assert_eq!(
            rt(&[ty::BIGVARCHR, 10, 0, 9, 4, 0xD0, 0, 0x34], &out),
            Value::Text("€uro".into())
        );
    }

    #[test]
    fn datetime2_round_trips() {
        let dt = NaiveDate::from_ymd_opt(2024, 2, 29)
            .unwrap()
            .and_hms_nano_opt(13, 14, 15, 123_456_700)
            .unwrap();
        let mut out = Vec::new();
        put_value(&mut out, SqlType::DateTime2, &Value::DateTime(dt)).unwrap();
        assert_eq!(out.len(), 9);
        assert_eq!(rt(&[ty::DATETIME2N, 7], &out), Value::DateTime(dt));
    }

    #[test]
    fn datetime_rounds_to_ticks() {
        let dt = NaiveDate::from_ymd_opt(2000, 1, 1)
            .unwrap()
            .and_hms_milli_opt(0, 0, 1, 2)
            .unwrap();
        let (days, ticks) = datetime_parts(dt);
        assert_eq!(days, 36524);
        assert_eq!(ticks, 301); // .002 rounds to 1/300 s
        let mut out = Vec::new();
        put_value(&mut out, SqlType::DateTime, &Value::DateTime(dt)).unwrap();
        match rt(&[ty::DATETIMN, 8], &out) {
            Value::DateTime(back) => assert_eq!(
                back.and_utc().timestamp_millis(),
                dt.and_utc().timestamp_millis() + 1
            ),
            other => panic!("{other:?}"),
        }
        let late = NaiveDate::from_ymd_opt(2000, 1, 1)
            .unwrap()
            .and_hms_milli_opt(23, 59, 59, 999)
            .unwrap();
        assert_eq!(datetime_parts(late), (36525, 0));
    }

    #[test]
    fn mismatched_values_are_errors() {
        let mut out = Vec::new();
        assert_eq!(
            put_value(&mut out, SqlType::Int, &Value::Text("x".into()))
                .unwrap_err()
                .number,
            257
        );
    }

    #[test]
    fn unsupported_param_types_are_reported() {
        let mut r = Reader::new(&[ty::DECIMALN, 17, 18, 2]);
        assert_eq!(
            read_param_type_info(&mut r).unwrap(),
            Err(UnsupportedType(ty::DECIMALN))
        );
    }

    #[test]
    fn type_info_to_sql_type() {
        let t = |ty, len| ParamTypeInfo { ty, len }.sql_type();
        assert_eq!(t(ty::NVARCHAR, 8000), Some(SqlType::NVarChar(Some(4000))));
        assert_eq!(t(ty::NVARCHAR, 0xFFFF), Some(SqlType::NVarChar(None)));
        assert_eq!(t(ty::BIGVARBIN, 8000), Some(SqlType::VarBinary(Some(8000))));
        assert_eq!(t(ty::INTN, 8), Some(SqlType::BigInt));
        assert_eq!(t(ty::NULL, 0), None);
    }
}
