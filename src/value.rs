//! Values read from and written to the database: primary key values and
//! owner pool IDs. The pool ID's type differs between product versions
//! (uniqueidentifier, int, bigint, nvarchar), so nothing here assumes one.

use serde::{Deserialize, Serialize};
use std::fmt;
use tiberius::{ColumnData, ToSql};
use uuid::Uuid;

/// One value of a key or owner column, typed as SQL Server typed it.
///
/// Serialized with its type where it stands alone (a pool ID in a plan or a
/// journal; a journal's keys are typed by their key columns instead), so
/// that `undo` and `fix --plan` bind the SQL type the tool read.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "lowercase")]
pub enum DbValue {
    /// SQL NULL.
    Null,
    /// `uniqueidentifier`, written in upper case as SQL Server shows it
    /// (read in any case).
    #[serde(rename = "uniqueidentifier", with = "upper_guid")]
    Guid(Uuid),
    /// `bit`
    Bit(bool),
    /// `tinyint`
    TinyInt(u8),
    /// `smallint`
    SmallInt(i16),
    /// `int`
    Int(i32),
    /// `bigint`
    BigInt(i64),
    /// `nvarchar`, `varchar`, `nchar`, `char`
    #[serde(rename = "nvarchar")]
    Text(String),
}

/// GUIDs in one case everywhere the tool writes them (screen, JSON,
/// journal): upper case, as SQL Server Management Studio shows them.
mod upper_guid {
    use serde::{Deserialize, Deserializer, Serializer};
    use uuid::Uuid;

    pub fn serialize<S: Serializer>(g: &Uuid, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&g.hyphenated().to_string().to_uppercase())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Uuid, D::Error> {
        let text = String::deserialize(d)?;
        Uuid::parse_str(&text).map_err(serde::de::Error::custom)
    }
}

/// A column value of a type the tool cannot use as a key or pool ID.
#[derive(Debug, thiserror::Error)]
#[error("unsupported column type {0}")]
pub struct UnsupportedType(pub String);

impl DbValue {
    /// Converts a value tiberius decoded.
    pub fn from_column(data: ColumnData<'static>) -> Result<DbValue, UnsupportedType> {
        Ok(match data {
            ColumnData::Guid(v) => v.map_or(DbValue::Null, DbValue::Guid),
            ColumnData::Bit(v) => v.map_or(DbValue::Null, DbValue::Bit),
            ColumnData::U8(v) => v.map_or(DbValue::Null, DbValue::TinyInt),
            ColumnData::I16(v) => v.map_or(DbValue::Null, DbValue::SmallInt),
            ColumnData::I32(v) => v.map_or(DbValue::Null, DbValue::Int),
            ColumnData::I64(v) => v.map_or(DbValue::Null, DbValue::BigInt),
            ColumnData::String(v) => v.map_or(DbValue::Null, |s| DbValue::Text(s.into_owned())),
            other => return Err(UnsupportedType(format!("{other:?}"))),
        })
    }

    /// Whether this is SQL NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, DbValue::Null)
    }

    /// The value as an integer, for counts whatever their SQL type.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            DbValue::TinyInt(v) => Some(v.into()),
            DbValue::SmallInt(v) => Some(v.into()),
            DbValue::Int(v) => Some(v.into()),
            DbValue::BigInt(v) => Some(v),
            _ => None,
        }
    }

    /// The value as text, when it is text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            DbValue::Text(s) => Some(s),
            _ => None,
        }
    }

    /// Parses what a user typed (e.g. `--pool 3F2504E0-...`) as a value of
    /// the same type as `like`, so it can be compared with the pool IDs read.
    pub fn parse_like(like: &DbValue, text: &str) -> Option<DbValue> {
        let t = text.trim();
        match like {
            DbValue::Guid(_) => Uuid::parse_str(t.trim_matches(|c| c == '{' || c == '}'))
                .ok()
                .map(DbValue::Guid),
            DbValue::Bit(_) => match t {
                "1" => Some(DbValue::Bit(true)),
                "0" => Some(DbValue::Bit(false)),
                _ => None,
            },
            DbValue::TinyInt(_) => t.parse().ok().map(DbValue::TinyInt),
            DbValue::SmallInt(_) => t.parse().ok().map(DbValue::SmallInt),
            DbValue::Int(_) => t.parse().ok().map(DbValue::Int),
            DbValue::BigInt(_) => t.parse().ok().map(DbValue::BigInt),
            DbValue::Text(_) => Some(DbValue::Text(t.to_string())),
            DbValue::Null => None,
        }
    }

    /// Whether a value a person typed (`--pool`) means `other`: case and
    /// trailing spaces aside, as people type IDs. Never used to compare
    /// values from the database with each other: the server does that, with
    /// the column's collation (a case-sensitive one tells `abc` from `ABC`).
    pub fn sql_eq(&self, other: &DbValue) -> bool {
        match (self, other) {
            (DbValue::Text(a), DbValue::Text(b)) => {
                a.trim_end().to_lowercase() == b.trim_end().to_lowercase()
            }
            (a, b) => match (a.as_i64(), b.as_i64()) {
                (Some(x), Some(y)) => x == y,
                _ => a == b,
            },
        }
    }
}

impl fmt::Display for DbValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbValue::Null => f.write_str("NULL"),
            DbValue::Guid(g) => write!(f, "{}", g.hyphenated().to_string().to_uppercase()),
            DbValue::Bit(b) => write!(f, "{}", u8::from(*b)),
            DbValue::TinyInt(v) => write!(f, "{v}"),
            DbValue::SmallInt(v) => write!(f, "{v}"),
            DbValue::Int(v) => write!(f, "{v}"),
            DbValue::BigInt(v) => write!(f, "{v}"),
            DbValue::Text(s) => f.write_str(s),
        }
    }
}

impl DbValue {
    /// The value as a column of a bulk-loaded row, owning its data (a bulk
    /// load outlives the rows it is handed).
    pub fn into_column(self) -> ColumnData<'static> {
        match self {
            DbValue::Text(s) => ColumnData::String(Some(s.into())),
            DbValue::Null => ColumnData::I32(None),
            DbValue::Guid(g) => ColumnData::Guid(Some(g)),
            DbValue::Bit(b) => ColumnData::Bit(Some(b)),
            DbValue::TinyInt(v) => ColumnData::U8(Some(v)),
            DbValue::SmallInt(v) => ColumnData::I16(Some(v)),
            DbValue::Int(v) => ColumnData::I32(Some(v)),
            DbValue::BigInt(v) => ColumnData::I64(Some(v)),
        }
    }
}

impl ToSql for DbValue {
    fn to_sql(&self) -> ColumnData<'_> {
        match self {
            // Values from the database are never NULL here (keys and pool
            // IDs); a NULL goes as an int NULL, which SQL Server converts to
            // the column's type on assignment.
            DbValue::Null => ColumnData::I32(None),
            DbValue::Guid(g) => ColumnData::Guid(Some(*g)),
            DbValue::Bit(b) => ColumnData::Bit(Some(*b)),
            DbValue::TinyInt(v) => ColumnData::U8(Some(*v)),
            DbValue::SmallInt(v) => ColumnData::I16(Some(*v)),
            DbValue::Int(v) => ColumnData::I32(Some(*v)),
            DbValue::BigInt(v) => ColumnData::I64(Some(*v)),
            DbValue::Text(s) => ColumnData::String(Some(s.as_str().into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_form_keeps_the_type() {
        let g = DbValue::Guid(Uuid::parse_str("3f2504e0-4f89-11d3-9a0c-0305e82c3301").unwrap());
        let j = serde_json::to_string(&g).unwrap();
        assert_eq!(
            j,
            r#"{"type":"uniqueidentifier","value":"3F2504E0-4F89-11D3-9A0C-0305E82C3301"}"#
        );
        assert_eq!(serde_json::from_str::<DbValue>(&j).unwrap(), g);
        for v in [
            DbValue::Null,
            DbValue::Int(7),
            DbValue::BigInt(1 << 40),
            DbValue::Text("pool ]'; x".into()),
        ] {
            let back: DbValue = serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
            assert_eq!(back, v);
        }
    }

    #[test]
    fn user_input_parses_as_the_pool_id_type() {
        let like = DbValue::Guid(Uuid::nil());
        let parsed = DbValue::parse_like(&like, "{3F2504E0-4F89-11D3-9A0C-0305E82C3301}").unwrap();
        assert_eq!(parsed.to_string(), "3F2504E0-4F89-11D3-9A0C-0305E82C3301");
        assert_eq!(
            DbValue::parse_like(&DbValue::Int(1), "42"),
            Some(DbValue::Int(42))
        );
        assert_eq!(DbValue::parse_like(&DbValue::Int(1), "pool01"), None);
        assert!(DbValue::Text("Pool01".into()).sql_eq(&DbValue::Text("pool01".into())));
        assert!(DbValue::Int(3).sql_eq(&DbValue::BigInt(3)));
        for (a, b) in [
            (DbValue::Text("Ab ".into()), DbValue::Text("aB".into())),
            (DbValue::SmallInt(3), DbValue::BigInt(3)),
        ] {
            assert!(a.sql_eq(&b));
        }
    }
}
