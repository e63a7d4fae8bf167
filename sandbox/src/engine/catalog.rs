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

use super::datatype::{sys_type_id, DeclType, SYS_TYPES};
use crate::types::{SqlType, Value};
use chrono::NaiveDateTime;
use rusqlite::Connection;

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
    }

    /// Reads the catalog of the database `conn` is connected to.
    pub fn load(conn: &Connection) -> rusqlite::Result<Catalog> {
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
        {
            let mut st = conn
                .prepare_cached("SELECT type, name, tbl_name FROM sqlite_master ORDER BY rowid")?;
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
        }
        let mut created = std::collections::HashMap::new();
        if has_meta {
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
        }
        for t in &mut tables {
            if let Some(dt) = created.get(&t.sqlite) {
                t.created = *dt;
            }
            let mut st = conn.prepare_cached(
                "SELECT name, type, \"notnull\" FROM pragma_table_xinfo(?1) ORDER BY cid",
            )?;
            let mut rows = st.query([&t.sqlite])?;
            while let Some(r) = rows.next()? {
                let name: String = r.get(0)?;
                let decl: String = r.get::<_, Option<String>>(1)?.unwrap_or_default();
                let notnull: i64 = r.get(2)?;
                let decl = DeclType::parse(&decl).unwrap_or(DeclType::new(SqlType::NVarChar(None)));
                t.columns.push(ColumnInfo {
                    name,
                    decl,
                    nullable: notnull == 0,
                });
            }
        }
        for (iname, tbl) in index_rows {
            let Some(t) = tables.iter_mut().find(|t| t.sqlite == tbl) else {
                continue;
            };
            let Some(rest) = iname.strip_prefix(&format!("{tbl}|")) else {
                continue;
            };
            let mut parts = rest.splitn(3, '|');
            let (Some(code), Some(cl), Some(name)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let (kind, unique) = match code {
                "PK" => (IndexKind::PrimaryKey, true),
                "UQ" => (IndexKind::UniqueConstraint, true),
                "UX" => (IndexKind::Index, true),
                "IX" => (IndexKind::Index, false),
                _ => continue,
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
        }
        for t in &mut tables {
            t.number_indexes();
        }
        Ok(Catalog { schemas, tables })
    }
}

/// One database as `sys.databases` and the database functions see it.
#[derive(Debug, Clone)]
pub(crate) struct DbSummary {
    pub name: String,
    pub id: i64,
    pub read_only: bool,
}

/// What the views need besides the catalog.
pub(crate) struct ViewEnv<'a> {
    pub db_name: &'a str,
    pub databases: &'a [DbSummary],
}

/// A catalog view: its canonical name and columns (name, type, nullable).
pub(crate) struct ViewDef {
    pub name: &'static str,
    pub columns: &'static [(&'static str, SqlType, bool)],
}

const SYSNAME: SqlType = SqlType::NVarChar(Some(128));
const T_INT: SqlType = SqlType::Int;
const T_BIT: SqlType = SqlType::Bit;
const T_TINY: SqlType = SqlType::TinyInt;
const T_SMALL: SqlType = SqlType::SmallInt;
const T_DT: SqlType = SqlType::DateTime;
const T_CHAR2: SqlType = SqlType::VarChar(Some(2));
const T_DESC: SqlType = SqlType::NVarChar(Some(60));

const OBJECT_COLUMNS: &[(&str, SqlType, bool)] = &[
    ("name", SYSNAME, false),
    ("object_id", T_INT, false),
    ("principal_id", T_INT, true),
    ("schema_id", T_INT, false),
    ("parent_object_id", T_INT, false),
    ("type", T_CHAR2, true),
    ("type_desc", T_DESC, true),
    ("create_date", T_DT, false),
    ("modify_date", T_DT, false),
    ("is_ms_shipped", T_BIT, false),
];

/// Every catalog view the sandbox has.
pub(crate) static VIEWS: &[ViewDef] = &[
    ViewDef {
        name: "sys.tables",
        columns: OBJECT_COLUMNS,
    },
    ViewDef {
        name: "sys.objects",
        columns: OBJECT_COLUMNS,
    },
    ViewDef {
        name: "sys.schemas",
        columns: &[
            ("name", SYSNAME, false),
            ("schema_id", T_INT, false),
            ("principal_id", T_INT, true),
        ],
    },
    ViewDef {
        name: "sys.columns",
        columns: &[
            ("object_id", T_INT, false),
            ("name", SYSNAME, true),
            ("column_id", T_INT, false),
            ("system_type_id", T_TINY, false),
            ("user_type_id", T_INT, false),
            ("max_length", T_SMALL, false),
            ("precision", T_TINY, false),
            ("scale", T_TINY, false),
            ("collation_name", SYSNAME, true),
            ("is_nullable", T_BIT, true),
            ("is_identity", T_BIT, false),
            ("is_computed", T_BIT, false),
        ],
    },
    ViewDef {
        name: "sys.types",
        columns: &[
            ("name", SYSNAME, false),
            ("system_type_id", T_TINY, false),
            ("user_type_id", T_INT, false),
            ("schema_id", T_INT, false),
            ("max_length", T_SMALL, false),
            ("precision", T_TINY, false),
            ("scale", T_TINY, false),
            ("is_nullable", T_BIT, true),
            ("is_user_defined", T_BIT, false),
        ],
    },
    ViewDef {
        name: "sys.indexes",
        columns: &[
            ("object_id", T_INT, false),
            ("name", SYSNAME, true),
            ("index_id", T_INT, false),
            ("type", T_TINY, false),
            ("type_desc", T_DESC, true),
            ("is_unique", T_BIT, true),
            ("is_primary_key", T_BIT, true),
            ("is_unique_constraint", T_BIT, true),
            ("is_disabled", T_BIT, true),
        ],
    },
    ViewDef {
        name: "sys.index_columns",
        columns: &[
            ("object_id", T_INT, false),
            ("index_id", T_INT, false),
            ("index_column_id", T_INT, false),
            ("column_id", T_INT, false),
            ("key_ordinal", T_TINY, false),
            ("partition_ordinal", T_TINY, false),
            ("is_descending_key", T_BIT, true),
            ("is_included_column", T_BIT, true),
        ],
    },
    ViewDef {
        name: "sys.key_constraints",
        columns: &[
            ("name", SYSNAME, false),
            ("object_id", T_INT, false),
            ("principal_id", T_INT, true),
            ("schema_id", T_INT, false),
            ("parent_object_id", T_INT, false),
            ("type", T_CHAR2, true),
            ("type_desc", T_DESC, true),
            ("create_date", T_DT, false),
            ("modify_date", T_DT, false),
            ("is_ms_shipped", T_BIT, false),
            ("unique_index_id", T_INT, true),
        ],
    },
    ViewDef {
        name: "sys.databases",
        columns: &[
            ("name", SYSNAME, false),
            ("database_id", T_INT, false),
            ("state", T_TINY, true),
            ("state_desc", T_DESC, true),
            ("is_read_only", T_BIT, true),
            ("user_access_desc", T_DESC, true),
            ("compatibility_level", T_TINY, false),
            ("collation_name", SYSNAME, true),
        ],
    },
    ViewDef {
        name: "INFORMATION_SCHEMA.TABLES",
        columns: &[
            ("TABLE_CATALOG", SYSNAME, true),
            ("TABLE_SCHEMA", SYSNAME, true),
            ("TABLE_NAME", SYSNAME, false),
            ("TABLE_TYPE", SqlType::VarChar(Some(10)), true),
        ],
    },
    ViewDef {
        name: "INFORMATION_SCHEMA.COLUMNS",
        columns: &[
            ("TABLE_CATALOG", SYSNAME, true),
            ("TABLE_SCHEMA", SYSNAME, true),
            ("TABLE_NAME", SYSNAME, false),
            ("COLUMN_NAME", SYSNAME, true),
            ("ORDINAL_POSITION", T_INT, true),
            ("COLUMN_DEFAULT", SqlType::NVarChar(Some(4000)), true),
            ("IS_NULLABLE", SqlType::VarChar(Some(3)), true),
            ("DATA_TYPE", SYSNAME, true),
            ("CHARACTER_MAXIMUM_LENGTH", T_INT, true),
            ("CHARACTER_OCTET_LENGTH", T_INT, true),
            ("NUMERIC_PRECISION", T_TINY, true),
            ("NUMERIC_SCALE", T_INT, true),
            ("DATETIME_PRECISION", T_SMALL, true),
        ],
    },
    ViewDef {
        name: "INFORMATION_SCHEMA.TABLE_CONSTRAINTS",
        columns: &[
            ("CONSTRAINT_CATALOG", SYSNAME, true),
            ("CONSTRAINT_SCHEMA", SYSNAME, true),
            ("CONSTRAINT_NAME", SYSNAME, false),
            ("TABLE_CATALOG", SYSNAME, true),
            ("TABLE_SCHEMA", SYSNAME, true),
            ("TABLE_NAME", SYSNAME, false),
            ("CONSTRAINT_TYPE", SqlType::VarChar(Some(11)), true),
            ("IS_DEFERRABLE", SqlType::VarChar(Some(2)), false),
            ("INITIALLY_DEFERRED", SqlType::VarChar(Some(2)), false),
        ],
    },
    ViewDef {
        name: "INFORMATION_SCHEMA.KEY_COLUMN_USAGE",
        columns: &[
            ("CONSTRAINT_CATALOG", SYSNAME, true),
            ("CONSTRAINT_SCHEMA", SYSNAME, true),
            ("CONSTRAINT_NAME", SYSNAME, false),
            ("TABLE_CATALOG", SYSNAME, true),
            ("TABLE_SCHEMA", SYSNAME, true),
            ("TABLE_NAME", SYSNAME, false),
            ("COLUMN_NAME", SYSNAME, true),
            ("ORDINAL_POSITION", T_INT, false),
        ],
    },
    ViewDef {
        name: "INFORMATION_SCHEMA.SCHEMATA",
        columns: &[
            ("CATALOG_NAME", SYSNAME, true),
            ("SCHEMA_NAME", SYSNAME, false),
            ("SCHEMA_OWNER", SYSNAME, true),
        ],
    },
];

/// The catalog view a two-part name (schema, name) refers to.
pub(crate) fn find_view(schema: &str, name: &str) -> Option<&'static ViewDef> {
    let full = format!("{}.{}", schema.to_lowercase(), name.to_lowercase());
    VIEWS.iter().find(|v| v.name.to_lowercase() == full)
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn opt_int(v: Option<i64>) -> Value {
    v.map(Value::Int).unwrap_or(Value::Null)
}

/// The rows of a view, in the order of its columns.
pub(crate) fn view_rows(view: &ViewDef, cat: &Catalog, env: &ViewEnv<'_>) -> Vec<Vec<Value>> {
    let schema_id = |name: &str| cat.schema(name).map(|s| s.id).unwrap_or(1);
    let mut rows = Vec::new();
    match view.name {
        "sys.tables" | "sys.objects" => {
            for t in &cat.tables {
                rows.push(vec![
                    text(&t.name),
                    Value::Int(t.object_id),
                    Value::Null,
                    Value::Int(schema_id(&t.schema)),
                    Value::Int(0),
                    text("U "),
                    text("USER_TABLE"),
                    Value::DateTime(t.created),
                    Value::DateTime(t.created),
                    Value::Bit(false),
                ]);
                if view.name == "sys.objects" {
                    for i in t.indexes.iter().filter(|i| i.kind != IndexKind::Index) {
                        let (ty, desc) = if i.kind == IndexKind::PrimaryKey {
                            ("PK", "PRIMARY_KEY_CONSTRAINT")
                        } else {
                            ("UQ", "UNIQUE_CONSTRAINT")
                        };
                        rows.push(vec![
                            text(&i.name),
                            Value::Int(i.constraint_object_id(t)),
                            Value::Null,
                            Value::Int(schema_id(&t.schema)),
                            Value::Int(t.object_id),
                            text(ty),
                            text(desc),
                            Value::DateTime(t.created),
                            Value::DateTime(t.created),
                            Value::Bit(false),
                        ]);
                    }
                }
            }
        }
        "sys.schemas" => {
            for s in &cat.schemas {
                rows.push(vec![text(&s.name), Value::Int(s.id), Value::Int(1)]);
            }
        }
        "sys.columns" => {
            for t in &cat.tables {
                for (i, c) in t.columns.iter().enumerate() {
                    rows.push(vec![
                        Value::Int(t.object_id),
                        text(&c.name),
                        Value::Int(i as i64 + 1),
                        Value::Int(sys_type_id(c.decl.ty)),
                        Value::Int(sys_type_id(c.decl.ty)),
                        Value::Int(c.decl.max_length()),
                        Value::Int(c.decl.precision()),
                        Value::Int(c.decl.scale_value()),
                        match c.decl.ty {
                            SqlType::NVarChar(_) | SqlType::VarChar(_) => {
                                text("SQL_Latin1_General_CP1_CI_AS")
                            }
                            _ => Value::Null,
                        },
                        Value::Bit(c.nullable),
                        Value::Bit(false),
                        Value::Bit(false),
                    ]);
                }
            }
        }
        "sys.types" => {
            for (name, sys_id, user_id, max_length, precision, scale) in SYS_TYPES {
                rows.push(vec![
                    text(name),
                    Value::Int(*sys_id),
                    Value::Int(*user_id),
                    Value::Int(4),
                    Value::Int(*max_length),
                    Value::Int(*precision),
                    Value::Int(*scale),
                    Value::Bit(*name != "sysname"),
                    Value::Bit(false),
                ]);
            }
        }
        "sys.indexes" => {
            for t in &cat.tables {
                if !t.indexes.iter().any(|i| i.clustered) {
                    rows.push(vec![
                        Value::Int(t.object_id),
                        Value::Null,
                        Value::Int(0),
                        Value::Int(0),
                        text("HEAP"),
                        Value::Bit(false),
                        Value::Bit(false),
                        Value::Bit(false),
                        Value::Bit(false),
                    ]);
                }
                for i in &t.indexes {
                    rows.push(vec![
                        Value::Int(t.object_id),
                        text(&i.name),
                        Value::Int(i.index_id),
                        Value::Int(if i.clustered { 1 } else { 2 }),
                        text(if i.clustered {
                            "CLUSTERED"
                        } else {
                            "NONCLUSTERED"
                        }),
                        Value::Bit(i.unique),
                        Value::Bit(i.kind == IndexKind::PrimaryKey),
                        Value::Bit(i.kind == IndexKind::UniqueConstraint),
                        Value::Bit(false),
                    ]);
                }
            }
        }
        "sys.index_columns" => {
            for t in &cat.tables {
                for i in &t.indexes {
                    for (n, (col, desc)) in i.columns.iter().enumerate() {
                        rows.push(vec![
                            Value::Int(t.object_id),
                            Value::Int(i.index_id),
                            Value::Int(n as i64 + 1),
                            Value::Int(*col as i64 + 1),
                            Value::Int(n as i64 + 1),
                            Value::Int(0),
                            Value::Bit(*desc),
                            Value::Bit(false),
                        ]);
                    }
                }
            }
        }
        "sys.key_constraints" => {
            for t in &cat.tables {
                for i in t.indexes.iter().filter(|i| i.kind != IndexKind::Index) {
                    let pk = i.kind == IndexKind::PrimaryKey;
                    rows.push(vec![
                        text(&i.name),
                        Value::Int(i.constraint_object_id(t)),
                        Value::Null,
                        Value::Int(schema_id(&t.schema)),
                        Value::Int(t.object_id),
                        text(if pk { "PK" } else { "UQ" }),
                        text(if pk {
                            "PRIMARY_KEY_CONSTRAINT"
                        } else {
                            "UNIQUE_CONSTRAINT"
                        }),
                        Value::DateTime(t.created),
                        Value::DateTime(t.created),
                        Value::Bit(false),
                        Value::Int(i.index_id),
                    ]);
                }
            }
        }
        "sys.databases" => {
            for d in env.databases {
                rows.push(vec![
                    text(&d.name),
                    Value::Int(d.id),
                    Value::Int(0),
                    text("ONLINE"),
                    Value::Bit(d.read_only),
                    text("MULTI_USER"),
                    Value::Int(160),
                    text("SQL_Latin1_General_CP1_CI_AS"),
                ]);
            }
        }
        "INFORMATION_SCHEMA.TABLES" => {
            for t in &cat.tables {
                rows.push(vec![
                    text(env.db_name),
                    text(&t.schema),
                    text(&t.name),
                    text("BASE TABLE"),
                ]);
            }
        }
        "INFORMATION_SCHEMA.COLUMNS" => {
            for t in &cat.tables {
                for (i, c) in t.columns.iter().enumerate() {
                    let d = c.decl;
                    let (chars, octets) = match d.ty {
                        SqlType::NVarChar(n) => (
                            Some(n.map(|n| n as i64).unwrap_or(-1)),
                            Some(n.map(|n| 2 * n as i64).unwrap_or(-1)),
                        ),
                        SqlType::VarChar(n) | SqlType::VarBinary(n) => {
                            let v = n.map(|n| n as i64).unwrap_or(-1);
                            (Some(v), Some(v))
                        }
                        _ => (None, None),
                    };
                    let numeric = matches!(
                        d.ty,
                        SqlType::TinyInt
                            | SqlType::SmallInt
                            | SqlType::Int
                            | SqlType::BigInt
                            | SqlType::Float
                    );
                    let is_time = matches!(d.ty, SqlType::DateTime | SqlType::DateTime2);
                    rows.push(vec![
                        text(env.db_name),
                        text(&t.schema),
                        text(&t.name),
                        text(&c.name),
                        Value::Int(i as i64 + 1),
                        Value::Null,
                        text(if c.nullable { "YES" } else { "NO" }),
                        text(d.ty.type_name()),
                        opt_int(chars),
                        opt_int(octets),
                        opt_int(numeric.then(|| d.precision())),
                        opt_int((numeric && d.ty != SqlType::Float).then_some(0)),
                        opt_int(is_time.then(|| d.scale_value())),
                    ]);
                }
            }
        }
        "INFORMATION_SCHEMA.TABLE_CONSTRAINTS" => {
            for t in &cat.tables {
                for i in t.indexes.iter().filter(|i| i.kind != IndexKind::Index) {
                    rows.push(vec![
                        text(env.db_name),
                        text(&t.schema),
                        text(&i.name),
                        text(env.db_name),
                        text(&t.schema),
                        text(&t.name),
                        text(if i.kind == IndexKind::PrimaryKey {
                            "PRIMARY KEY"
                        } else {
                            "UNIQUE"
                        }),
                        text("NO"),
                        text("NO"),
                    ]);
                }
            }
        }
        "INFORMATION_SCHEMA.KEY_COLUMN_USAGE" => {
            for t in &cat.tables {
                for i in t.indexes.iter().filter(|i| i.kind != IndexKind::Index) {
                    for (n, (col, _)) in i.columns.iter().enumerate() {
                        rows.push(vec![
                            text(env.db_name),
                            text(&t.schema),
                            text(&i.name),
                            text(env.db_name),
                            text(&t.schema),
                            text(&t.name),
                            text(&t.columns[*col].name),
                            Value::Int(n as i64 + 1),
                        ]);
                    }
                }
            }
        }
        "INFORMATION_SCHEMA.SCHEMATA" => {
            for s in &cat.schemas {
                rows.push(vec![text(env.db_name), text(&s.name), text("dbo")]);
            }
        }
        _ => {}
    }
    rows
}

/// The SQLite common table expression that materialises a view:
/// `"sys.tables"("name", ...) AS (VALUES (...), ...)`.
pub(crate) fn view_cte(view: &ViewDef, cat: &Catalog, env: &ViewEnv<'_>) -> String {
    use super::datatype::{literal, quote_ident};
    let cols: Vec<String> = view
        .columns
        .iter()
        .map(|(n, _, _)| quote_ident(n))
        .collect();
    let rows = view_rows(view, cat, env);
    let body = if rows.is_empty() {
        format!(
            "SELECT {} WHERE 0",
            vec!["NULL"; view.columns.len()].join(", ")
        )
    } else {
        let rows: Vec<String> = rows
            .iter()
            .map(|r| format!("({})", r.iter().map(literal).collect::<Vec<_>>().join(", ")))
            .collect();
        // Names compare and sort as in SQL Server's default collation.
        let cols: Vec<String> = view
            .columns
            .iter()
            .enumerate()
            .map(|(i, (_, ty, _))| match ty {
                SqlType::NVarChar(_) | SqlType::VarChar(_) => format!("column{} COLLATE CI", i + 1),
                _ => format!("column{}", i + 1),
            })
            .collect();
        format!(
            "SELECT {} FROM (VALUES {})",
            cols.join(", "),
            rows.join(", ")
        )
    };
    format!(
        "{}({}) AS ({})",
        quote_ident(view.name),
        cols.join(", "),
        body
    )
}

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
