//! SQL Server data types as the engine stores them in SQLite: declared type
//! strings, `sys.types` facts, conversions with SQL Server's error numbers,
//! and the mapping between SQLite values and the front end's `Value`.
//!
//! Storage representation (what a SQLite column or expression holds):
//! integer types and `bit` as INTEGER, `float` as REAL, `uniqueidentifier` as
//! uppercase canonical TEXT, strings as TEXT, date/time types as TEXT
//! `YYYY-MM-DD HH:MM:SS.fffffff` (always 7 fraction digits, so that text order
//! is time order), `varbinary` as BLOB.

use super::errors;
use crate::types::{SqlError, SqlType, Value};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use rusqlite::types::{Value as SqlVal, ValueRef};
use sqlparser::ast::{BinaryLength, CharacterLength, DataType, ExactNumberInfo};

/// A declared type: the wire type plus the `datetime2` fractional precision,
/// which `SqlType` does not carry but `sys.columns` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DeclType {
    pub ty: SqlType,
    /// Fraction digits of `datetime2(n)` (7 when not given); 3 for datetime.
    pub scale: u8,
}

impl DeclType {
    pub fn new(ty: SqlType) -> DeclType {
        let scale = match ty {
            SqlType::DateTime2 => 7,
            SqlType::DateTime => 3,
            _ => 0,
        };
        DeclType { ty, scale }
    }

    /// The type's text as SQL Server writes it, e.g. `nvarchar(256)`,
    /// `nvarchar(max)`, `datetime2(3)`. Also the type argument of the
    /// conversion functions.
    pub fn spec(&self) -> String {
        let len = |n: Option<u16>| n.map(|n| n.to_string()).unwrap_or_else(|| "max".into());
        match self.ty {
            SqlType::NVarChar(n) => format!("nvarchar({})", len(n)),
            SqlType::VarChar(n) => format!("varchar({})", len(n)),
            SqlType::VarBinary(n) => format!("varbinary({})", len(n)),
            SqlType::DateTime2 => format!("datetime2({})", self.scale),
            other => other.type_name().to_string(),
        }
    }

    /// The declared type written into SQLite DDL. SQLite's type grammar has
    /// no `max`, so it becomes -1; every name keeps a harmless affinity
    /// (strings contain CHAR: TEXT; integers INT; float FLOA; the rest
    /// NUMERIC, which never rewrites a GUID or date text).
    pub fn ddl(&self) -> String {
        self.spec().replace("(max)", "(-1)")
    }

    /// Parses `spec()` or `ddl()` output (case-insensitive), and the
    /// declared types of tables created outside the sandbox as well as can be.
    pub fn parse(text: &str) -> Option<DeclType> {
        let t = text.trim().to_ascii_lowercase();
        let (name, arg) = match t.find('(') {
            Some(i) => {
                let close = t.rfind(')')?;
                (
                    t[..i].trim().to_string(),
                    Some(t[i + 1..close].trim().to_string()),
                )
            }
            None => (t.clone(), None),
        };
        let len = |arg: &Option<String>, default: u16| -> Option<Option<u16>> {
            match arg.as_deref() {
                None => Some(Some(default)),
                Some("max") | Some("-1") => Some(None),
                Some(n) => n.parse::<u16>().ok().map(Some),
            }
        };
        let ty = match name.as_str() {
            "bit" => SqlType::Bit,
            "tinyint" => SqlType::TinyInt,
            "smallint" => SqlType::SmallInt,
            "int" | "integer" => SqlType::Int,
            "bigint" => SqlType::BigInt,
            "float" | "real" | "double" => SqlType::Float,
            "uniqueidentifier" => SqlType::UniqueIdentifier,
            "nvarchar" | "nchar" | "sysname" | "ntext" => {
                if name == "sysname" {
                    SqlType::NVarChar(Some(128))
                } else {
                    SqlType::NVarChar(len(&arg, 1)?)
                }
            }
            "varchar" | "char" | "text" => SqlType::VarChar(len(&arg, 1)?),
            "varbinary" | "binary" | "blob" => SqlType::VarBinary(len(&arg, 1)?),
            "datetime2" => {
                let scale = match arg.as_deref() {
                    None => 7,
                    Some(n) => n.parse::<u8>().ok().filter(|s| *s <= 7)?,
                };
                return Some(DeclType {
                    ty: SqlType::DateTime2,
                    scale,
                });
            }
            "datetime" | "smalldatetime" | "date" => SqlType::DateTime,
            _ => return None,
        };
        Some(DeclType::new(ty))
    }

    /// Converts a type written in T-SQL. `default_len` is the length of a
    /// string type written without one: 1 in declarations, 30 in CAST.
    pub fn from_ast(dt: &DataType, default_len: u16) -> Result<DeclType, SqlError> {
        let char_len = |l: &Option<CharacterLength>| -> Result<Option<u16>, SqlError> {
            match l {
                None => Ok(Some(default_len)),
                Some(CharacterLength::Max) => Ok(None),
                Some(CharacterLength::IntegerLength { length, unit: None }) => check_len(*length),
                Some(other) => Err(errors::syntax(&other.to_string())),
            }
        };
        let ty = match dt {
            DataType::Bit(None) => SqlType::Bit,
            DataType::TinyInt(None) => SqlType::TinyInt,
            DataType::SmallInt(None) => SqlType::SmallInt,
            DataType::Int(None) | DataType::Integer(None) => SqlType::Int,
            DataType::BigInt(None) => SqlType::BigInt,
            DataType::Float(_) | DataType::Real | DataType::Double(ExactNumberInfo::None) => {
                SqlType::Float
            }
            DataType::Nvarchar(l) => SqlType::NVarChar(char_len(l)?),
            DataType::Varchar(l) => SqlType::VarChar(char_len(l)?),
            DataType::Varbinary(l) => SqlType::VarBinary(match l {
                None => Some(default_len),
                Some(BinaryLength::Max) => None,
                Some(BinaryLength::IntegerLength { length }) => check_len(*length)?,
            }),
            DataType::Datetime(None) => SqlType::DateTime,
            DataType::Custom(name, args) if name.0.len() == 1 => {
                let n = name.to_string().to_ascii_lowercase();
                let n = n.trim_matches(|c| c == '[' || c == ']');
                match (n, args.len()) {
                    ("uniqueidentifier", 0) => SqlType::UniqueIdentifier,
                    ("sysname", 0) => SqlType::NVarChar(Some(128)),
                    ("datetime2", 0) => SqlType::DateTime2,
                    ("datetime2", 1) => {
                        let arg = args[0].to_string();
                        let scale = arg
                            .parse::<u8>()
                            .ok()
                            .filter(|s| *s <= 7)
                            .ok_or_else(|| errors::syntax(&arg))?;
                        return Ok(DeclType {
                            ty: SqlType::DateTime2,
                            scale,
                        });
                    }
                    _ => return Err(unknown_type(n)),
                }
            }
            other => return Err(unknown_type(&other.to_string())),
        };
        Ok(DeclType::new(ty))
    }

    /// `sys.columns.max_length` in bytes; -1 for `max`.
    pub fn max_length(&self) -> i64 {
        match self.ty {
            SqlType::Bit | SqlType::TinyInt => 1,
            SqlType::SmallInt => 2,
            SqlType::Int => 4,
            SqlType::BigInt | SqlType::Float | SqlType::DateTime => 8,
            SqlType::UniqueIdentifier => 16,
            SqlType::NVarChar(n) => n.map(|n| 2 * n as i64).unwrap_or(-1),
            SqlType::VarChar(n) | SqlType::VarBinary(n) => n.map(|n| n as i64).unwrap_or(-1),
            SqlType::DateTime2 => match self.scale {
                0..=2 => 6,
                3..=4 => 7,
                _ => 8,
            },
        }
    }

    /// `sys.columns.precision`.
    pub fn precision(&self) -> i64 {
        match self.ty {
            SqlType::Bit => 1,
            SqlType::TinyInt => 3,
            SqlType::SmallInt => 5,
            SqlType::Int => 10,
            SqlType::BigInt => 19,
            SqlType::Float => 53,
            SqlType::DateTime => 23,
            SqlType::DateTime2 => 19 + self.scale as i64 + if self.scale > 0 { 1 } else { 0 },
            _ => 0,
        }
    }

    /// `sys.columns.scale`.
    pub fn scale_value(&self) -> i64 {
        match self.ty {
            SqlType::DateTime2 | SqlType::DateTime => self.scale as i64,
            _ => 0,
        }
    }

    /// The SQLite collation that gives SQL Server's comparison semantics
    /// (case-insensitive strings; GUIDs in SQL Server's byte order).
    pub fn collation(&self) -> Option<&'static str> {
        match self.ty {
            SqlType::UniqueIdentifier => Some("GUID"),
            SqlType::NVarChar(_) | SqlType::VarChar(_) => Some("CI"),
            _ => None,
        }
    }
}

fn check_len(n: u64) -> Result<Option<u16>, SqlError> {
    if (1..=8000).contains(&n) {
        Ok(Some(n as u16))
    } else {
        Err(SqlError::new(
            131,
            format!("The size ({n}) given to the type exceeds the maximum allowed (8000)."),
        ))
    }
}

fn unknown_type(name: &str) -> SqlError {
    SqlError::new(
        2715,
        format!("Column, parameter, or variable #1: Cannot find data type {name}."),
    )
}

/// SQL Server's `system_type_id` for a type.
pub(crate) fn sys_type_id(ty: SqlType) -> i64 {
    match ty {
        SqlType::Bit => 104,
        SqlType::TinyInt => 48,
        SqlType::SmallInt => 52,
        SqlType::Int => 56,
        SqlType::BigInt => 127,
        SqlType::Float => 62,
        SqlType::UniqueIdentifier => 36,
        SqlType::NVarChar(_) => 231,
        SqlType::VarChar(_) => 167,
        SqlType::DateTime2 => 42,
        SqlType::DateTime => 61,
        SqlType::VarBinary(_) => 165,
    }
}

/// Rows of `sys.types`: (name, system_type_id, user_type_id, max_length,
/// precision, scale), SQL Server's own values.
pub(crate) const SYS_TYPES: &[(&str, i64, i64, i64, i64, i64)] = &[
    ("image", 34, 34, 16, 0, 0),
    ("text", 35, 35, 16, 0, 0),
    ("uniqueidentifier", 36, 36, 16, 0, 0),
    ("date", 40, 40, 3, 10, 0),
    ("time", 41, 41, 5, 16, 7),
    ("datetime2", 42, 42, 8, 27, 7),
    ("datetimeoffset", 43, 43, 10, 34, 7),
    ("tinyint", 48, 48, 1, 3, 0),
    ("smallint", 52, 52, 2, 5, 0),
    ("int", 56, 56, 4, 10, 0),
    ("smalldatetime", 58, 58, 4, 16, 0),
    ("real", 59, 59, 4, 24, 0),
    ("money", 60, 60, 8, 19, 4),
    ("datetime", 61, 61, 8, 23, 3),
    ("float", 62, 62, 8, 53, 0),
    ("sql_variant", 98, 98, 8016, 0, 0),
    ("ntext", 99, 99, 16, 0, 0),
    ("bit", 104, 104, 1, 1, 0),
    ("decimal", 106, 106, 17, 38, 38),
    ("numeric", 108, 108, 17, 38, 38),
    ("smallmoney", 122, 122, 4, 10, 4),
    ("bigint", 127, 127, 8, 19, 0),
    ("varbinary", 165, 165, 8000, 0, 0),
    ("varchar", 167, 167, 8000, 0, 0),
    ("binary", 173, 173, 8000, 0, 0),
    ("char", 175, 175, 8000, 0, 0),
    ("timestamp", 189, 189, 8, 0, 0),
    ("nvarchar", 231, 231, 8000, 0, 0),
    ("nchar", 239, 239, 8000, 0, 0),
    ("xml", 241, 241, -1, 0, 0),
    ("sysname", 231, 256, 256, 0, 0),
];

/// SQL Server's data type precedence (higher wins in implicit conversion).
pub(crate) fn precedence(ty: SqlType) -> u8 {
    match ty {
        SqlType::DateTime2 => 20,
        SqlType::DateTime => 19,
        SqlType::Float => 18,
        SqlType::BigInt => 17,
        SqlType::Int => 16,
        SqlType::SmallInt => 15,
        SqlType::TinyInt => 14,
        SqlType::Bit => 13,
        SqlType::UniqueIdentifier => 12,
        SqlType::NVarChar(_) => 11,
        SqlType::VarChar(_) => 10,
        SqlType::VarBinary(_) => 9,
    }
}

/// Which family a type belongs to, for deciding whether a comparison needs
/// an explicit conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Number,
    Text,
    Guid,
    Time,
    Binary,
}

pub(crate) fn family(ty: SqlType) -> Family {
    match ty {
        SqlType::Bit
        | SqlType::TinyInt
        | SqlType::SmallInt
        | SqlType::Int
        | SqlType::BigInt
        | SqlType::Float => Family::Number,
        SqlType::NVarChar(_) | SqlType::VarChar(_) => Family::Text,
        SqlType::UniqueIdentifier => Family::Guid,
        SqlType::DateTime2 | SqlType::DateTime => Family::Time,
        SqlType::VarBinary(_) => Family::Binary,
    }
}

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

fn round_datetime(dt: NaiveDateTime, d: DeclType) -> NaiveDateTime {
    let scale = if d.ty == SqlType::DateTime {
        3
    } else {
        d.scale.min(7)
    };
    let unit = 10u32.pow(9 - scale as u32);
    let nanos = dt.nanosecond() % 1_000_000_000;
    let rounded = (nanos + unit / 2) / unit * unit;
    let base = dt.with_nanosecond(0).unwrap_or(dt);
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
    match target.ty {
        SqlType::TinyInt | SqlType::SmallInt | SqlType::Int | SqlType::BigInt => {
            let (lo, hi) = int_range(target.ty);
            let i = match v {
                ValueRef::Integer(i) => i,
                ValueRef::Real(f) => {
                    let t = f.trunc();
                    if t < lo as f64 || t > hi as f64 {
                        return Err(overflow(target));
                    }
                    t as i64
                }
                ValueRef::Text(t) => {
                    let s = String::from_utf8_lossy(t);
                    // Text stored for a GUID or a date is not a number;
                    // any other text is a string, whatever the hint says
                    // (a VALUES list mixes types row by row).
                    if matches!(src_family, Family::Guid | Family::Time) {
                        return Err(clash(src, target, mode));
                    }
                    match s.trim().parse::<i64>() {
                        Ok(i) => i,
                        Err(_) => return Err(conversion_failed(src, &s, target)),
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
                return Err(overflow(target));
            }
            Ok(SqlVal::Integer(i))
        }
        SqlType::Bit => match v {
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
                        Err(_) => Err(conversion_failed(src, &s, target)),
                    },
                }
            }
            ValueRef::Blob(b) => Ok(SqlVal::Integer(b.iter().any(|x| *x != 0) as i64)),
            ValueRef::Null => unreachable!(),
        },
        SqlType::Float => match v {
            ValueRef::Integer(i) => Ok(SqlVal::Real(i as f64)),
            ValueRef::Real(f) => Ok(SqlVal::Real(f)),
            ValueRef::Text(t) => {
                let s = String::from_utf8_lossy(t);
                s.trim().parse::<f64>().map(SqlVal::Real).map_err(|_| {
                    SqlError::new(8114, format!("Error converting data type {src} to float."))
                })
            }
            ValueRef::Blob(_) => Err(clash(src, target, mode)),
            ValueRef::Null => unreachable!(),
        },
        SqlType::UniqueIdentifier => match v {
            ValueRef::Text(t) => {
                let s = String::from_utf8_lossy(t);
                match parse_guid(&s) {
                    Some(g) => Ok(SqlVal::Text(guid_text(&g))),
                    None => Err(errors::guid_conversion()),
                }
            }
            ValueRef::Blob(b) if b.len() == 16 => {
                let mut a = [0u8; 16];
                a.copy_from_slice(b);
                Ok(SqlVal::Text(guid_text(&uuid::Uuid::from_bytes_le(a))))
            }
            _ => Err(clash(src, target, mode)),
        },
        SqlType::NVarChar(n) | SqlType::VarChar(n) => {
            let s = match v {
                ValueRef::Integer(i) => i.to_string(),
                ValueRef::Real(f) => format_float(f),
                ValueRef::Text(t) => {
                    let s = String::from_utf8_lossy(t).into_owned();
                    if src_family == Family::Time {
                        match parse_datetime(&s) {
                            Some(dt) => format_datetime_style(&dt, src, style),
                            None => s,
                        }
                    } else {
                        s
                    }
                }
                ValueRef::Blob(b) => {
                    if style == Some(1) || style == Some(2) {
                        let hex: String = b.iter().map(|x| format!("{x:02X}")).collect();
                        if style == Some(1) {
                            format!("0x{hex}")
                        } else {
                            hex
                        }
                    } else if matches!(target.ty, SqlType::NVarChar(_)) {
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
                    if let Mode::Assign { table, column } = mode {
                        return Err(errors::truncation(table, column, &cut));
                    }
                    return Ok(SqlVal::Text(cut));
                }
            }
            Ok(SqlVal::Text(s))
        }
        SqlType::DateTime2 | SqlType::DateTime => match v {
            ValueRef::Text(t) => {
                let s = String::from_utf8_lossy(t);
                match parse_datetime(&s) {
                    Some(dt) => Ok(SqlVal::Text(format_datetime(&round_datetime(dt, target)))),
                    None => {
                        let mut e = SqlError::new(241, "Conversion failed when converting date and/or time from character string.");
                        e.state = 1;
                        Err(e)
                    }
                }
            }
            ValueRef::Integer(i) if target.ty == SqlType::DateTime => {
                let base = NaiveDate::from_ymd_opt(1900, 1, 1)
                    .expect("valid date")
                    .and_time(NaiveTime::MIN);
                Ok(SqlVal::Text(format_datetime(
                    &(base + chrono::Duration::days(i)),
                )))
            }
            _ => Err(clash(src, target, mode)),
        },
        SqlType::VarBinary(n) => {
            let bytes = match v {
                ValueRef::Blob(b) => b.to_vec(),
                ValueRef::Text(t) => {
                    let s = String::from_utf8_lossy(t);
                    if src_family == Family::Guid {
                        match parse_guid(&s) {
                            Some(g) => g.to_bytes_le().to_vec(),
                            None => s.as_bytes().to_vec(),
                        }
                    } else if src.starts_with("nvarchar") || src.starts_with("nchar") {
                        s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()
                    } else {
                        s.as_bytes().to_vec()
                    }
                }
                ValueRef::Integer(i) => {
                    let width = match src {
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
                    if let Mode::Assign { table, column } = mode {
                        return Err(errors::truncation(table, column, ""));
                    }
                    return Ok(SqlVal::Blob(bytes[..n as usize].to_vec()));
                }
            }
            Ok(SqlVal::Blob(bytes))
        }
    }
}

/// SQL Server's default float-to-string form is close enough to Rust's
/// shortest round-trip form for the values a sandbox sees.
fn format_float(f: f64) -> String {
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

/// Orders GUID texts as SQL Server orders `uniqueidentifier` values: by the
/// last 6 bytes, then bytes 8-9, then 7-6, 5-4, 3-0 (display positions).
/// Texts that are not GUIDs compare case-insensitively after GUIDs.
pub(crate) fn guid_cmp(a: &str, b: &str) -> std::cmp::Ordering {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decl_round_trip() {
        for s in [
            "int",
            "nvarchar(256)",
            "nvarchar(max)",
            "varbinary(max)",
            "datetime2(3)",
            "uniqueidentifier",
            "bit",
        ] {
            let d = DeclType::parse(s).unwrap();
            assert_eq!(d.spec(), s);
            assert_eq!(DeclType::parse(&d.ddl()).unwrap(), d);
        }
        assert_eq!(
            DeclType::parse("nvarchar(-1)").unwrap().ty,
            SqlType::NVarChar(None)
        );
        assert_eq!(DeclType::parse("NVARCHAR(256)").unwrap().max_length(), 512);
    }

    #[test]
    fn guid_conversion() {
        let v = convert(
            ValueRef::Text(b"6f9619ff-8b86-d011-b42d-00c04fc964ff"),
            DeclType::new(SqlType::UniqueIdentifier),
            "nvarchar",
            None,
            &Mode::Cast,
        )
        .unwrap();
        assert_eq!(
            v,
            SqlVal::Text("6F9619FF-8B86-D011-B42D-00C04FC964FF".into())
        );
        let e = convert(
            ValueRef::Text(b"nope"),
            DeclType::new(SqlType::UniqueIdentifier),
            "nvarchar",
            None,
            &Mode::Cast,
        )
        .unwrap_err();
        assert_eq!(e.number, 8169);
    }

    #[test]
    fn string_truncation() {
        let t = DeclType::new(SqlType::NVarChar(Some(3)));
        assert_eq!(
            convert(ValueRef::Text(b"abcdef"), t, "nvarchar", None, &Mode::Cast).unwrap(),
            SqlVal::Text("abc".into())
        );
        let e = convert(
            ValueRef::Text(b"abcdef"),
            t,
            "nvarchar",
            None,
            &Mode::Assign {
                table: "db.dbo.T",
                column: "C",
            },
        )
        .unwrap_err();
        assert_eq!(e.number, 2628);
    }

    #[test]
    fn int_conversion_errors() {
        let t = DeclType::new(SqlType::Int);
        assert_eq!(
            convert(ValueRef::Text(b" 12 "), t, "varchar", None, &Mode::Cast).unwrap(),
            SqlVal::Integer(12)
        );
        assert_eq!(
            convert(ValueRef::Text(b"x"), t, "varchar", None, &Mode::Cast)
                .unwrap_err()
                .number,
            245
        );
        assert_eq!(
            convert(ValueRef::Integer(1 << 40), t, "bigint", None, &Mode::Cast)
                .unwrap_err()
                .number,
            8115
        );
        assert_eq!(
            convert(ValueRef::Text(b"x"), t, "varchar", None, &Mode::TryCast).unwrap(),
            SqlVal::Null
        );
    }

    #[test]
    fn case_insensitive_collation() {
        use std::cmp::Ordering::*;
        assert_eq!(ci_cmp("Größe", "GRÖSSE"), Greater);
        assert_eq!(ci_cmp("Ärger", "ärger  "), Equal);
        assert_eq!(ci_cmp("a", "B"), Less);
    }

    #[test]
    fn guid_order_matches_sql_server() {
        // The order SQL Server documents for uniqueidentifier comparisons.
        let ordered = [
            "01000000-0000-0000-0000-000000000000",
            "00010000-0000-0000-0000-000000000000",
            "00000100-0000-0000-0000-000000000000",
            "00000001-0000-0000-0000-000000000000",
            "00000000-0100-0000-0000-000000000000",
            "00000000-0001-0000-0000-000000000000",
            "00000000-0000-0100-0000-000000000000",
            "00000000-0000-0001-0000-000000000000",
            "00000000-0000-0000-0001-000000000000",
            "00000000-0000-0000-0100-000000000000",
            "00000000-0000-0000-0000-000000000001",
            "00000000-0000-0000-0000-000000000100",
            "00000000-0000-0000-0000-010000000000",
        ];
        for w in ordered.windows(2) {
            assert_eq!(
                guid_cmp(w[0], w[1]),
                std::cmp::Ordering::Less,
                "{} < {}",
                w[0],
                w[1]
            );
        }
    }

    #[test]
    fn datetime_text_round_trip() {
        let dt = parse_datetime("2024-05-06T07:08:09.1234567").unwrap();
        assert_eq!(format_datetime(&dt), "2024-05-06 07:08:09.1234567");
        assert_eq!(
            from_storage(
                ValueRef::Text(b"2024-05-06 07:08:09.1234567"),
                SqlType::DateTime2
            ),
            Value::DateTime(dt)
        );
    }
}
