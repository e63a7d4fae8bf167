//! The catalog: what tables, columns, keys and schemas a database holds, read
//! from SQLite's own schema so it is always true after any DDL, and the
//! catalog views (`sys.*`, `INFORMATION_SCHEMA.*`) computed from it.
//!
//! Naming in SQLite: table `dbo.X` is the SQLite table `"dbo.X"`; a schema
//! `s` created by CREATE SCHEMA is an empty marker table `"sbx_schema|s"`;
//! every PRIMARY KEY, UNIQUE constraint and index is a SQLite index named
//! `"<table>|<kind>|<C or N>|<name>"` (kind PK, UQ, IX or UX for a unique
//! index; C clustered, N nonclustered), so constraint names survive and
//! are found again without a side table. `sbx_meta` holds creation dates.

use super::collation::{self, Collation};
use super::datatype::DeclType;
use crate::types::SqlType;
use chrono::NaiveDateTime;
use rusqlite::Connection;
use std::collections::HashMap;

mod dmv;
mod fk;
mod triggers;
mod views;

pub(crate) use dmv::is_dmv;
pub(crate) use fk::{ForeignKeyInfo, FK_KIND};
pub(crate) use triggers::{TriggerInfo, TRIGGER_PREFIX};

pub(crate) use views::{find_view, view_cte, DbSummary, ViewDef, ViewEnv};

/// Marker-table prefix of schemas created with CREATE SCHEMA.
pub(crate) const SCHEMA_PREFIX: &str = "sbx_schema|";
/// Side table of facts SQLite does not keep (table creation dates).
pub(crate) const META_TABLE: &str = "sbx_meta";

/// Schemas every database has, with SQL Server's ids.
const BUILTIN_SCHEMAS: &[(i64, &str)] = &[
    (1, "dbo"),
    (2, "guest"),
    (3, "INFORMATION_SCHEMA"),
    (4, "sys"),
];

/// A schema.
#[derive(Debug, Clone)]
pub(crate) struct SchemaInfo {
    pub id: i64,
    pub name: String,
}

/// A user table.
#[derive(Debug, Clone)]
pub(crate) struct TableInfo {
    pub schema: String,
    pub name: String,
    /// The SQLite table name, `<schema>.<name>`.
    pub sqlite: String,
    pub object_id: i64,
    pub columns: Vec<ColumnInfo>,
    pub indexes: Vec<IndexInfo>,
    pub created: NaiveDateTime,
}

/// A column.
#[derive(Debug, Clone)]
pub(crate) struct ColumnInfo {
    pub name: String,
    pub decl: DeclType,
    pub nullable: bool,
    /// A character column's collation (None for other types).
    pub collation: Option<Collation>,
}

/// What a SQLite index stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IndexKind {
    PrimaryKey,
    UniqueConstraint,
    Index,
}

/// A primary key, unique constraint or index.
#[derive(Debug, Clone)]
pub(crate) struct IndexInfo {
    pub name: String,
    pub kind: IndexKind,
    pub unique: bool,
    pub clustered: bool,
    /// Key columns: (position in `TableInfo::columns`, descending).
    pub columns: Vec<(usize, bool)>,
    pub index_id: i64,
}

impl IndexInfo {
    /// The SQLite index name encoding this index's kind.
    pub fn sqlite_name(
        table_sqlite: &str,
        kind: IndexKind,
        unique: bool,
        clustered: bool,
        name: &str,
    ) -> String {
        let code = match (kind, unique) {
            (IndexKind::PrimaryKey, _) => "PK",
            (IndexKind::UniqueConstraint, _) => "UQ",
            (IndexKind::Index, true) => "UX",
            (IndexKind::Index, false) => "IX",
        };
        format!(
            "{table_sqlite}|{code}|{}|{name}",
            if clustered { "C" } else { "N" }
        )
    }

    /// Object id of the constraint (PK and UQ are objects in SQL Server).
    pub fn constraint_object_id(&self, table: &TableInfo) -> i64 {
        object_id_of(&table.schema, &self.name)
    }
}

impl TableInfo {
    /// Position of a column by name, case-insensitively.
    pub fn column(&self, name: &str) -> Option<usize> {
        let l = name.to_lowercase();
        self.columns.iter().position(|c| c.name.to_lowercase() == l)
    }

    /// Assigns SQL Server index ids: 1 to the clustered index, 2.. to the
    /// others in creation order.
    pub fn number_indexes(&mut self) {
        let mut next = 2;
        for i in &mut self.indexes {
            if i.clustered {
                i.index_id = 1;
            } else {
                i.index_id = next;
                next += 1;
            }
        }
    }
}

/// A stable object id for a schema-scoped name (FNV-1a of the lowercase
/// name): the same in every session and every run, as SQL Server's are
/// stable for an object's lifetime.
pub(crate) fn object_id_of(schema: &str, name: &str) -> i64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in format!("{}.{}", schema.to_lowercase(), name.to_lowercase()).bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    (h % 2_000_000_000) as i64 + 100_000
}

/// Everything the catalog views show of one database.
#[derive(Debug, Clone, Default)]
pub(crate) struct Catalog {
    pub schemas: Vec<SchemaInfo>,
    pub tables: Vec<TableInfo>,
    pub triggers: Vec<TriggerInfo>,
    /// Declared foreign keys (`fk.rs`: kept, shown, not enforced).
    pub foreign_keys: Vec<ForeignKeyInfo>,
}

impl Catalog {
    /// A table by schema (None: dbo) and name, case-insensitively.
    pub fn table(&self, schema: Option<&str>, name: &str) -> Option<&TableInfo> {
        let s = schema.unwrap_or("dbo").to_lowercase();
        let n = name.to_lowercase();
        self.tables
            .iter()
            .find(|t| t.schema.to_lowercase() == s && t.name.to_lowercase() == n)
    }

    /// A schema by name, case-insensitively.
    pub fn schema(&self, name: &str) -> Option<&SchemaInfo> {
        let l = name.to_lowercase();
        self.schemas.iter().find(|s| s.name.to_lowercase() == l)
    }

    /// Whether an object (table or constraint) of that name exists in the
    /// schema.
    pub fn object_exists(&self, schema: &str, name: &str) -> bool {
        let s = schema.to_lowercase();
        let n = name.to_lowercase();
        self.tables
            .iter()
            .filter(|t| t.schema.to_lowercase() == s)
            .any(|t| {
                t.name.to_lowercase() == n
                    || t.indexes
                        .iter()
                        .any(|i| i.kind != IndexKind::Index && i.name.to_lowercase() == n)
            })
            || self
                .foreign_keys
                .iter()
                .any(|f| f.schema.to_lowercase() == s && f.name.to_lowercase() == n)
    }

    /// Reads the catalog of the database `conn` is connected to.
    pub fn load(conn: &Connection) -> rusqlite::Result<Catalog> {
        let (schemas, mut tables, index_rows, has_meta, markers) = Self::read_master(conn)?;
        let created = if has_meta {
            Self::created_times(conn)?
        } else {
            HashMap::new()
        };
        for t in &mut tables {
            if let Some(dt) = created.get(&t.sqlite) {
                t.created = *dt;
            }
            Self::read_columns(conn, t)?;
        }
        for (iname, tbl) in index_rows {
            Self::read_index(conn, &mut tables, &iname, &tbl)?;
        }
        for t in &mut tables {
            t.number_indexes();
        }
        let mut triggers = Vec::new();
        for m in markers {
            triggers.extend(triggers::read_trigger(conn, &m)?);
        }
        let foreign_keys = if has_meta {
            fk::load(conn, &tables)?
        } else {
            Vec::new()
        };
        Ok(Catalog {
            schemas,
            tables,
            triggers,
            foreign_keys,
        })
    }

    /// The schemas, tables (without columns or indexes) and indexes (name,
    /// table) that sqlite_master lists, and whether `sbx_meta` exists.
    fn read_master(conn: &Connection) -> rusqlite::Result<Master> {
        let mut schemas: Vec<SchemaInfo> = BUILTIN_SCHEMAS
            .iter()
            .map(|(id, n)| SchemaInfo {
                id: *id,
                name: n.to_string(),
            })
            .collect();
        let mut tables: Vec<TableInfo> = Vec::new();
        let mut index_rows: Vec<(String, String)> = Vec::new();
        let mut has_meta = false;
        let mut markers = Vec::new();
        let mut st =
            conn.prepare_cached("SELECT type, name, tbl_name FROM sqlite_master ORDER BY rowid")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let ty: String = r.get(0)?;
            let name: String = r.get(1)?;
            let tbl: String = r.get(2)?;
            match ty.as_str() {
                "table" => {
                    if let Some(s) = name.strip_prefix(SCHEMA_PREFIX) {
                        let id = 5 + schemas.len() as i64 - BUILTIN_SCHEMAS.len() as i64;
                        schemas.push(SchemaInfo {
                            id,
                            name: s.to_string(),
                        });
                    } else if name.starts_with(TRIGGER_PREFIX) {
                        markers.push(name);
                    } else if name == META_TABLE {
                        has_meta = true;
                    } else if let Some((schema, table)) = name.split_once('.') {
                        if name.starts_with("sqlite_") {
                            continue;
                        }
                        tables.push(TableInfo {
                            schema: schema.to_string(),
                            name: table.to_string(),
                            sqlite: name.clone(),
                            object_id: object_id_of(schema, table),
                            columns: Vec::new(),
                            indexes: Vec::new(),
                            created: NaiveDateTime::default(),
                        });
                    }
                }
                "index" => index_rows.push((name, tbl)),
                _ => {}
            }
        }
        Ok((schemas, tables, index_rows, has_meta, markers))
    }

    /// Creation times by SQLite table name (`sbx_meta`).
    fn created_times(conn: &Connection) -> rusqlite::Result<HashMap<String, NaiveDateTime>> {
        let mut created = HashMap::new();
        let mut st =
            conn.prepare_cached("SELECT name, value FROM sbx_meta WHERE kind = 'created'")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let n: String = r.get(0)?;
            let v: String = r.get(1)?;
            if let Some(dt) = super::datatype::parse_datetime(&v) {
                created.insert(n, dt);
            }
        }
        Ok(created)
    }

    /// A table's columns, from `pragma_table_xinfo`.
    fn read_columns(conn: &Connection, t: &mut TableInfo) -> rusqlite::Result<()> {
        let mut st = conn.prepare_cached(
            "SELECT name, type, \"notnull\" FROM pragma_table_xinfo(?1) ORDER BY cid",
        )?;
        let mut rows = st.query([&t.sqlite])?;
        while let Some(r) = rows.next()? {
            let name: String = r.get(0)?;
            let decl: String = r.get::<_, Option<String>>(1)?.unwrap_or_default();
            let notnull: i64 = r.get(2)?;
            let decl = DeclType::parse(&decl).unwrap_or(DeclType::new(SqlType::NVarChar(None)));
            let collation = match decl.ty {
                SqlType::NVarChar(_) | SqlType::VarChar(_) => {
                    Some(Self::column_collation(conn, &t.sqlite, &name)?)
                }
                _ => None,
            };
            t.columns.push(ColumnInfo {
                name,
                decl,
                nullable: notnull == 0,
                collation,
            });
        }
        Ok(())
    }

    /// A character column's collation, from the SQLite collation it was
    /// declared with (the default for one SQLite does not know as ours).
    fn column_collation(
        conn: &Connection,
        table: &str,
        column: &str,
    ) -> rusqlite::Result<Collation> {
        let (_, coll, _, _, _) = conn.column_metadata(None, table, column)?;
        Ok(coll
            .and_then(|c| c.to_str().ok())
            .and_then(Collation::from_sqlite)
            .unwrap_or(collation::DEFAULT))
    }

    /// One index, named `<table>|<kind>|<C or N>|<name>`, added to its table;
    /// indexes named otherwise are not the sandbox's and are skipped.
    fn read_index(
        conn: &Connection,
        tables: &mut [TableInfo],
        iname: &str,
        tbl: &str,
    ) -> rusqlite::Result<()> {
        let Some(t) = tables.iter_mut().find(|t| t.sqlite == tbl) else {
            return Ok(());
        };
        let Some(rest) = iname.strip_prefix(&format!("{tbl}|")) else {
            return Ok(());
        };
        let mut parts = rest.splitn(3, '|');
        let (Some(code), Some(cl), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
            return Ok(());
        };
        let (kind, unique) = match code {
            "PK" => (IndexKind::PrimaryKey, true),
            "UQ" => (IndexKind::UniqueConstraint, true),
            "UX" => (IndexKind::Index, true),
            "IX" => (IndexKind::Index, false),
            _ => return Ok(()),
        };
        let mut columns = Vec::new();
        let mut st = conn.prepare_cached(
            "SELECT cid, \"desc\" FROM pragma_index_xinfo(?1) WHERE key = 1 ORDER BY seqno",
        )?;
        let mut rows = st.query([&iname])?;
        while let Some(r) = rows.next()? {
            let cid: i64 = r.get(0)?;
            let desc: i64 = r.get(1)?;
            if cid >= 0 {
                columns.push((cid as usize, desc != 0));
            }
        }
        t.indexes.push(IndexInfo {
            name: name.to_string(),
            kind,
            unique,
            clustered: cl == "C",
            columns,
            index_id: 0,
        });
        Ok(())
    }
}

/// What sqlite_master lists: schemas, tables, (index, table) names,
/// whether `sbx_meta` exists, and the trigger marker tables.
type Master = (
    Vec<SchemaInfo>,
    Vec<TableInfo>,
    Vec<(String, String)>,
    bool,
    Vec<String>,
);

/// Reads a delimited identifier up to its closing `close`, where a doubled
/// `close` stands for one; None when it never closes.
fn read_delimited(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    close: char,
    part: &mut String,
) -> Option<()> {
    loop {
        match chars.next()? {
            c if c == close && chars.peek() == Some(&close) => {
                chars.next();
                part.push(close);
            }
            c if c == close => return Some(()),
            c => part.push(c),
        }
    }
}

/// Splits a T-SQL multi-part name given as a string (`[dbo].[X]`,
/// `dbo.X`, `X`, `[we]]ird]`) into its parts; None when malformed.
pub(crate) fn split_name(s: &str) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    let mut chars = s.trim().chars().peekable();
    loop {
        let mut part = String::new();
        match chars.peek() {
            Some('[') => {
                chars.next();
                read_delimited(&mut chars, ']', &mut part)?;
            }
            Some('"') => {
                chars.next();
                read_delimited(&mut chars, '"', &mut part)?;
            }
            _ => {
                while let Some(c) = chars.peek() {
                    if *c == '.' {
                        break;
                    }
                    part.push(*c);
                    chars.next();
                }
                part = part.trim().to_string();
            }
        }
        parts.push(part);
        match chars.next() {
            None => break,
            Some('.') => continue,
            Some(_) => return None,
        }
    }
    if parts.len() > 4 {
        return None;
    }
    Some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_names() {
        assert_eq!(split_name("[dbo].[Queues]").unwrap(), vec!["dbo", "Queues"]);
        assert_eq!(split_name("dbo.Queues").unwrap(), vec!["dbo", "Queues"]);
        assert_eq!(split_name("[we]]ird; name]").unwrap(), vec!["we]ird; name"]);
        assert_eq!(
            split_name("rgsconfig..X").unwrap(),
            vec!["rgsconfig", "", "X"]
        );
        assert!(split_name("[open").is_none());
    }

    #[test]
    fn object_ids_are_stable_and_case_insensitive() {
        assert_eq!(object_id_of("dbo", "Agents"), object_id_of("DBO", "agents"));
        assert_ne!(object_id_of("dbo", "Agents"), object_id_of("dbo", "Queues"));
        assert!(object_id_of("dbo", "x") > 0 && object_id_of("dbo", "x") < i32::MAX as i64);
    }
}
