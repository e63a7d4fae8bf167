//! SQL Server data types as the engine stores them in SQLite: declared type
//! strings, `sys.types` facts, conversions with SQL Server's error numbers,
//! and the mapping between SQLite values and the front end's `Value`.
//!
//! Storage representation (what a SQLite column or expression holds):
//! integer types and `bit` as INTEGER, `float` as REAL, `uniqueidentifier` as
//! TEXT of 32 hex digits in SQL Server's comparison order (see `guid`), strings as TEXT, date/time types as TEXT
//! `YYYY-MM-DD HH:MM:SS.fffffff` (always 7 fraction digits, so that text order
//! is time order), `varbinary` as BLOB.

use super::errors;
use crate::types::{SqlError, SqlType};
use sqlparser::ast::{BinaryLength, CharacterLength, DataType, ExactNumberInfo};

mod convert;
mod guid;
mod storage;
#[cfg(test)]
mod tests;

pub(crate) use convert::{convert, Mode};
pub(crate) use guid::{guid_bytes, guid_store, guid_store_tail, stored_guid, stored_sort_key};
pub(crate) use storage::{
    ci_cmp, format_datetime, from_storage, literal, param_storage, parse_datetime, quote_ident,
    quote_str, to_storage,
};

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
    /// (case-insensitive strings; GUIDs need none: their stored form
    /// compares bytewise in SQL Server's order).
    pub fn collation(&self) -> Option<&'static str> {
        match self.ty {
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
