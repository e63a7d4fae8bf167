//! The catalog views (`sys.*`, `INFORMATION_SCHEMA.*`): their columns, and
//! their rows computed from the catalog, materialised as SQLite CTEs.

use super::{Catalog, IndexKind};
use crate::engine::datatype::{sys_type_id, SYS_TYPES};
use crate::engine::locks::LockSnapshot;
use crate::types::{SqlType, Value};

/// One database as `sys.databases` and the database functions see it.
#[derive(Debug, Clone)]
pub(crate) struct DbSummary {
    pub name: String,
    pub id: i64,
    pub read_only: bool,
    pub created: chrono::NaiveDateTime,
    pub group_database_id: Option<uuid::Uuid>,
}

/// What the views need besides the catalog.
pub(crate) struct ViewEnv<'a> {
    pub db_name: &'a str,
    pub databases: &'a [DbSummary],
    /// Locks and sessions, when a `sys.dm_*` view is read.
    pub live: Option<&'a LockSnapshot>,
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
        name: "sys.foreign_keys",
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
            ("referenced_object_id", T_INT, true),
            ("key_index_id", T_INT, true),
            ("is_disabled", T_BIT, false),
            ("is_not_trusted", T_BIT, false),
            ("delete_referential_action", T_TINY, true),
            ("delete_referential_action_desc", T_DESC, true),
            ("update_referential_action", T_TINY, true),
            ("update_referential_action_desc", T_DESC, true),
            ("is_system_named", T_BIT, false),
        ],
    },
    ViewDef {
        name: "sys.foreign_key_columns",
        columns: &[
            ("constraint_object_id", T_INT, false),
            ("constraint_column_id", T_INT, false),
            ("parent_object_id", T_INT, false),
            ("parent_column_id", T_INT, false),
            ("referenced_object_id", T_INT, false),
            ("referenced_column_id", T_INT, false),
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
            ("create_date", T_DT, false),
            ("group_database_id", SqlType::UniqueIdentifier, true),
            ("snapshot_isolation_state", T_TINY, true),
            ("snapshot_isolation_state_desc", T_DESC, true),
        ],
    },
    ViewDef {
        name: "sys.triggers",
        columns: &[
            ("name", SYSNAME, false),
            ("object_id", T_INT, false),
            ("parent_class", T_TINY, false),
            ("parent_class_desc", T_DESC, true),
            ("parent_id", T_INT, false),
            ("type", T_CHAR2, false),
            ("type_desc", T_DESC, true),
            ("create_date", T_DT, false),
            ("modify_date", T_DT, false),
            ("is_ms_shipped", T_BIT, false),
            ("is_disabled", T_BIT, false),
            ("is_not_for_replication", T_BIT, false),
            ("is_instead_of_trigger", T_BIT, false),
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

/// sys.triggers: the DML triggers (all AFTER triggers on tables).
fn triggers_rows(_view: &ViewDef, cat: &Catalog, _env: &ViewEnv<'_>) -> Vec<Vec<Value>> {
    let mut rows = Vec::new();
    for tr in &cat.triggers {
        let Some(t) = cat.tables.iter().find(|t| t.sqlite == tr.parent) else {
            continue;
        };
        rows.push(vec![
            text(&tr.name),
            Value::Int(tr.object_id),
            Value::Int(1),
            text("OBJECT_OR_COLUMN"),
            Value::Int(t.object_id),
            text("TR"),
            text("SQL_TRIGGER"),
            Value::DateTime(t.created),
            Value::DateTime(t.created),
            Value::Bit(false),
            Value::Bit(tr.disabled),
            Value::Bit(false),
            Value::Bit(false),
        ]);
    }
    rows
}

/// The catalog view a two-part name (schema, name) refers to.
pub(crate) fn find_view(schema: &str, name: &str) -> Option<&'static ViewDef> {
    let full = format!("{}.{}", schema.to_lowercase(), name.to_lowercase());
    VIEWS
        .iter()
        .chain(super::dmv::DMVS.iter())
        .find(|v| v.name.to_lowercase() == full)
}

pub(super) fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn opt_int(v: Option<i64>) -> Value {
    v.map(Value::Int).unwrap_or(Value::Null)
}

/// The rows of a view, in the order of its columns.
pub(crate) fn view_rows(view: &ViewDef, cat: &Catalog, env: &ViewEnv<'_>) -> Vec<Vec<Value>> {
    type Rows = fn(&ViewDef, &Catalog, &ViewEnv<'_>) -> Vec<Vec<Value>>;
    let rows: Rows = match view.name {
        "sys.tables" | "sys.objects" => objects_rows,
        "sys.schemas" => schemas_rows,
        "sys.columns" => columns_rows,
        "sys.types" => types_rows,
        "sys.indexes" => indexes_rows,
        "sys.index_columns" => index_columns_rows,
        "sys.key_constraints" => key_constraints_rows,
        "sys.foreign_keys" => super::fk::foreign_keys_rows,
        "sys.foreign_key_columns" => super::fk::foreign_key_columns_rows,
        "sys.databases" => databases_rows,
        "sys.triggers" => triggers_rows,
        "INFORMATION_SCHEMA.TABLES" => is_tables_rows,
        "INFORMATION_SCHEMA.COLUMNS" => is_columns_rows,
        "INFORMATION_SCHEMA.TABLE_CONSTRAINTS" => is_constraints_rows,
        "INFORMATION_SCHEMA.KEY_COLUMN_USAGE" => is_key_columns_rows,
        "INFORMATION_SCHEMA.SCHEMATA" => is_schemata_rows,
        _ if super::dmv::is_dmv(view) => return super::dmv::rows(view, env),
        _ => return Vec::new(),
    };
    rows(view, cat, env)
}

/// sys.tables and sys.objects (which adds the key constraints).
fn objects_rows(view: &ViewDef, cat: &Catalog, _env: &ViewEnv<'_>) -> Vec<Vec<Value>> {
    let schema_id = |name: &str| cat.schema(name).map(|s| s.id).unwrap_or(1);
    let mut rows = Vec::new();
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
            rows.extend(super::fk::object_rows(cat, t));
        }
    }
    rows
}

/// sys.schemas.
fn schemas_rows(_view: &ViewDef, cat: &Catalog, _env: &ViewEnv<'_>) -> Vec<Vec<Value>> {
    let mut rows = Vec::new();
    for s in &cat.schemas {
        rows.push(vec![text(&s.name), Value::Int(s.id), Value::Int(1)]);
    }
    rows
}

/// sys.columns.
fn columns_rows(_view: &ViewDef, cat: &Catalog, _env: &ViewEnv<'_>) -> Vec<Vec<Value>> {
    let mut rows = Vec::new();
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
                c.collation.map_or(Value::Null, |c| text(c.name())),
                Value::Bit(c.nullable),
                Value::Bit(false),
                Value::Bit(false),
            ]);
        }
    }
    rows
}

/// sys.types: SQL Server's own rows.
fn types_rows(_view: &ViewDef, _cat: &Catalog, _env: &ViewEnv<'_>) -> Vec<Vec<Value>> {
    let mut rows = Vec::new();
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
    rows
}

/// sys.indexes: a HEAP row for a table without a clustered index.
fn indexes_rows(_view: &ViewDef, cat: &Catalog, _env: &ViewEnv<'_>) -> Vec<Vec<Value>> {
    let mut rows = Vec::new();
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
    rows
}

/// sys.index_columns.
fn index_columns_rows(_view: &ViewDef, cat: &Catalog, _env: &ViewEnv<'_>) -> Vec<Vec<Value>> {
    let mut rows = Vec::new();
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
    rows
}

/// sys.key_constraints.
fn key_constraints_rows(_view: &ViewDef, cat: &Catalog, _env: &ViewEnv<'_>) -> Vec<Vec<Value>> {
    let schema_id = |name: &str| cat.schema(name).map(|s| s.id).unwrap_or(1);
    let mut rows = Vec::new();
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
    rows
}

/// sys.databases.
fn databases_rows(_view: &ViewDef, _cat: &Catalog, env: &ViewEnv<'_>) -> Vec<Vec<Value>> {
    let mut rows = Vec::new();
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
            Value::DateTime(d.created),
            d.group_database_id.map_or(Value::Null, Value::Guid),
            // The sandbox keeps no row versions: ALLOW_SNAPSHOT_ISOLATION
            // is OFF, as it is by default on SQL Server.
            Value::Int(0),
            text("OFF"),
        ]);
    }
    rows
}

/// INFORMATION_SCHEMA.TABLES.
fn is_tables_rows(_view: &ViewDef, cat: &Catalog, env: &ViewEnv<'_>) -> Vec<Vec<Value>> {
    let mut rows = Vec::new();
    for t in &cat.tables {
        rows.push(vec![
            text(env.db_name),
            text(&t.schema),
            text(&t.name),
            text("BASE TABLE"),
        ]);
    }
    rows
}

/// INFORMATION_SCHEMA.COLUMNS.
fn is_columns_rows(_view: &ViewDef, cat: &Catalog, env: &ViewEnv<'_>) -> Vec<Vec<Value>> {
    let mut rows = Vec::new();
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
    rows
}

/// INFORMATION_SCHEMA.TABLE_CONSTRAINTS.
fn is_constraints_rows(_view: &ViewDef, cat: &Catalog, env: &ViewEnv<'_>) -> Vec<Vec<Value>> {
    let mut rows = Vec::new();
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
    rows
}

/// INFORMATION_SCHEMA.KEY_COLUMN_USAGE.
fn is_key_columns_rows(_view: &ViewDef, cat: &Catalog, env: &ViewEnv<'_>) -> Vec<Vec<Value>> {
    let mut rows = Vec::new();
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
    rows
}

/// INFORMATION_SCHEMA.SCHEMATA.
fn is_schemata_rows(_view: &ViewDef, cat: &Catalog, env: &ViewEnv<'_>) -> Vec<Vec<Value>> {
    let mut rows = Vec::new();
    for s in &cat.schemas {
        rows.push(vec![text(env.db_name), text(&s.name), text("dbo")]);
    }
    rows
}

/// The SQLite common table expression that materialises a view:
/// `"sys.tables"("name", ...) AS (VALUES (...), ...)`.
pub(crate) fn view_cte(view: &ViewDef, cat: &Catalog, env: &ViewEnv<'_>) -> String {
    use crate::engine::datatype::{literal, quote_ident};
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
