//! CREATE TABLE and CREATE INDEX: SQL Server's constraints and index kinds as
//! SQLite DDL plus the catalog entry.

use super::{ident_path, name_parts, qi, refuse, refuse_expr, Action, IndexPlan, TablePlan, Tr};
use crate::engine::catalog::{ColumnInfo, IndexInfo, IndexKind, TableInfo};
use crate::engine::collation::{self, Collation};
use crate::engine::datatype::{self, quote_str, DeclType};
use crate::engine::errors;
use crate::engine::parse::{CLUSTERED, NONCLUSTERED};
use crate::types::SqlError;
use rusqlite::types::Value as SqlVal;
use sqlparser::ast::{
    self, ColumnOption, CreateIndex, CreateTable, Expr, FunctionArguments, Ident, IndexType,
    ObjectType, Statement, TableConstraint,
};

impl Tr<'_, '_> {
    /// CREATE TABLE: the SQLite DDL (table, then one unique index per key)
    /// and the catalog entry.
    pub(super) fn create_table(&mut self, ct: &CreateTable) -> Result<TablePlan, SqlError> {
        let (schema, name) = self.new_table_name(ct)?;
        let sqlite = format!("{schema}.{name}");
        let (columns, constraints, fks) =
            super::fk::split_foreign_keys(&ct.columns, &ct.constraints)?;
        let keys = constraints
            .iter()
            .map(table_key)
            .collect::<Result<Vec<_>, _>>()?;
        let mut plan = self.table_plan(&schema, &name, &sqlite, &columns, keys)?;
        plan.foreign_keys = self.foreign_keys(&plan.table, fks)?;
        Ok(plan)
    }

    /// A table's SQLite DDL and catalog entry from its column definitions
    /// and table-level keys.
    pub(super) fn table_plan(
        &mut self,
        schema: &str,
        name: &str,
        sqlite: &str,
        columns: &[ast::ColumnDef],
        keys: Vec<KeyDef>,
    ) -> Result<TablePlan, SqlError> {
        let (schema, name, sqlite) = (schema.to_string(), name.to_string(), sqlite.to_string());
        let mut cols = self.column_defs(columns, &name)?;
        cols.keys.extend(keys);
        let (indexes, ddl_after) = self.key_indexes(&mut cols, &schema, &name, &sqlite)?;
        // Written after the keys, which make their columns NOT NULL.
        let col_sql: Vec<String> = cols
            .columns
            .iter()
            .zip(cols.defaults.iter())
            .map(|(c, d)| {
                let mut s = format!("{} {}", qi(&c.name), c.decl.ddl());
                if !c.nullable {
                    s.push_str(" NOT NULL");
                }
                if let Some(coll) = c.collation.map(Collation::sqlite).or(c.decl.collation()) {
                    s.push_str(&format!(" COLLATE {coll}"));
                }
                if let Some(d) = d {
                    s.push_str(&format!(" DEFAULT {d}"));
                }
                s
            })
            .collect();
        let mut ddl = vec![format!(
            "CREATE TABLE {} ({})",
            qi(&sqlite),
            col_sql.join(", ")
        )];
        ddl.extend(ddl_after);
        let mut table = TableInfo {
            schema: schema.clone(),
            name: name.clone(),
            sqlite: sqlite.clone(),
            object_id: crate::engine::catalog::object_id_of(&schema, &name),
            columns: cols.columns,
            indexes,
            created: self.env.now_utc,
        };
        table.number_indexes();
        Ok(TablePlan {
            table,
            ddl,
            foreign_keys: Vec::new(),
        })
    }

    /// The (schema, name) of the table CREATE TABLE makes, the schema
    /// spelled as the catalog has it.
    fn new_table_name(&self, ct: &CreateTable) -> Result<(String, String), SqlError> {
        // Everything but the name, columns and constraints must be absent:
        // compare the statement with one printed from those alone.
        let mut parts: Vec<String> = ct.columns.iter().map(|c| c.to_string()).collect();
        parts.extend(ct.constraints.iter().map(|c| c.to_string()));
        let expected = format!("CREATE TABLE {} ({})", ct.name, parts.join(", "));
        if ct.to_string() != expected {
            return Err(errors::syntax(&ct.name.to_string()));
        }
        let (db, schema, name) = self.split_object(&ct.name)?;
        if let Some(d) = db {
            if d.to_lowercase() != self.env.db_name.to_lowercase() {
                return Err(errors::other(
                    2702,
                    16,
                    2,
                    format!("Database '{d}' does not exist."),
                ));
            }
        }
        if name.is_empty() || name.starts_with('#') {
            return Err(errors::syntax(&ct.name.to_string()));
        }
        let schema = schema.unwrap_or_else(|| "dbo".into());
        let schema = self
            .env
            .catalog
            .schema(&schema)
            .map(|s| s.name.clone())
            .unwrap_or(schema);
        Ok((schema, name))
    }

    /// The column definitions, with their defaults and column-level keys.
    fn column_defs(
        &mut self,
        columns: &[ast::ColumnDef],
        name: &str,
    ) -> Result<ColumnDefs, SqlError> {
        let mut out = ColumnDefs::default();
        for c in columns {
            if out
                .columns
                .iter()
                .any(|x| x.name.to_lowercase() == c.name.value.to_lowercase())
            {
                return Err(errors::other(
                    2705,
                    16,
                    3,
                    format!("Column names in each table must be unique. Column name '{}' in table '{}' is specified more than once.", c.name.value, name),
                ));
            }
            let decl = DeclType::from_ast(&c.data_type, 1)?;
            let mut nullable = None;
            let mut default = None;
            let mut collation = column_collation(decl);
            for opt in &c.options {
                match &opt.option {
                    ColumnOption::Null => nullable = Some(true),
                    ColumnOption::NotNull => nullable = Some(false),
                    ColumnOption::Default(e) => default = Some(e.clone()),
                    ColumnOption::Collation(n) => collation = Some(declared_collation(n, decl)?),
                    _ => out.keys.extend(column_key(opt, &c.name)?),
                }
            }
            out.explicit_null.push(nullable == Some(true));
            let default = match default {
                Some(d) => Some(self.default_sql(&d, decl)?),
                None => None,
            };
            out.defaults.push(default);
            out.columns.push(ColumnInfo {
                name: c.name.value.clone(),
                decl,
                nullable: nullable.unwrap_or(true),
                collation,
            });
        }
        Ok(out)
    }

    /// One unique index per key (and its catalog entry); a primary key's
    /// columns become NOT NULL.
    fn key_indexes(
        &self,
        cols: &mut ColumnDefs,
        schema: &str,
        name: &str,
        sqlite: &str,
    ) -> Result<(Vec<IndexInfo>, Vec<String>), SqlError> {
        let keys = std::mem::take(&mut cols.keys);
        if keys.iter().filter(|k| k.1 == IndexKind::PrimaryKey).count() > 1 {
            return Err(errors::other(
                8110,
                16,
                0,
                format!("Cannot add multiple PRIMARY KEY constraints to table '{name}'."),
            ));
        }
        let mut indexes = Vec::new();
        let mut any_clustered = keys.iter().any(|k| k.2 == Some(true));
        if keys.iter().filter(|k| k.2 == Some(true)).count() > 1 {
            return Err(errors::other(
                8112,
                16,
                0,
                format!(
                    "Cannot add more than one clustered index for constraints on table '{name}'."
                ),
            ));
        }
        let mut ddl_after = Vec::new();
        for (cname, kind, clustered, key_cols) in keys {
            let clustered = match clustered {
                Some(c) => c,
                None if kind == IndexKind::PrimaryKey && !any_clustered => {
                    any_clustered = true;
                    true
                }
                None => false,
            };
            let positions = key_positions(cols, kind, &key_cols, name)?;
            let prefix = if kind == IndexKind::PrimaryKey {
                "PK"
            } else {
                "UQ"
            };
            let cname = cname.unwrap_or_else(|| {
                let short: String = name.chars().take(8).collect();
                format!(
                    "{prefix}__{short}__{:016X}",
                    (crate::engine::catalog::object_id_of(schema, &format!("{prefix}{name}"))
                        as u64)
                        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                )
            });
            if indexes
                .iter()
                .any(|i: &IndexInfo| i.name.to_lowercase() == cname.to_lowercase())
                || self.env.catalog.object_exists(schema, &cname)
            {
                return Err(errors::already_exists(&cname));
            }
            let iname = IndexInfo::sqlite_name(sqlite, kind, true, clustered, &cname);
            let key_sql = key_sql(&cols.columns, &positions);
            ddl_after.push(format!(
                "CREATE UNIQUE INDEX {} ON {} ({key_sql})",
                qi(&iname),
                qi(sqlite)
            ));
            indexes.push(IndexInfo {
                name: cname,
                kind,
                unique: true,
                clustered,
                columns: positions,
                index_id: 0,
            });
        }
        Ok((indexes, ddl_after))
    }

    /// A column DEFAULT as a SQLite default clause.
    pub(super) fn default_sql(&mut self, e: &Expr, decl: DeclType) -> Result<String, SqlError> {
        let mut e = e;
        while let Expr::Nested(inner) = e {
            e = inner;
        }
        let spec = quote_str(&decl.spec());
        if let Expr::Function(f) = e {
            let fname = f.name.to_string().to_lowercase();
            let no_args = match &f.args {
                FunctionArguments::None => true,
                FunctionArguments::List(l) => l.args.is_empty(),
                _ => false,
            };
            if no_args {
                let (src, expr) = match fname.as_str() {
                    "newid" | "newsequentialid" => ("uniqueidentifier", "sbx_newid()"),
                    "getdate" | "sysdatetime" | "current_timestamp" => {
                        ("datetime2", "sbx_now('local')")
                    }
                    "getutcdate" | "sysutcdatetime" => ("datetime2", "sbx_now('utc')"),
                    _ => return Err(errors::syntax(&fname)),
                };
                return Ok(format!("(sbx_cast({expr}, {spec}, '{src}'))"));
            }
            return Err(errors::syntax(&fname));
        }
        let mut t = Tr::new(self.env);
        t.scopes.push(Vec::new());
        let v = t.expr(e)?;
        let Some(k) = v.konst else {
            return Err(refuse_expr(e));
        };
        let stored = datatype::to_storage(&k);
        let converted = datatype::convert(
            (&stored).into(),
            decl,
            v.ty.type_name(),
            None,
            &datatype::Mode::Cast,
        )?;
        let value = datatype::from_storage((&converted).into(), decl.ty);
        Ok(match converted {
            SqlVal::Null => "NULL".into(),
            SqlVal::Integer(i) => i.to_string(),
            SqlVal::Real(f) => format!("{f:?}"),
            SqlVal::Text(s) => quote_str(&s),
            SqlVal::Blob(_) => datatype::literal(&value),
        })
    }

    pub(super) fn create_index(&mut self, ci: &CreateIndex) -> Result<IndexPlan, SqlError> {
        let CreateIndex {
            name,
            table_name,
            using,
            columns,
            unique,
            concurrently,
            r#async,
            if_not_exists,
            include: _,
            nulls_distinct,
            with,
            predicate,
            index_options,
            alter_options,
        } = ci;
        if *concurrently
            || *r#async
            || *if_not_exists
            || nulls_distinct.is_some()
            || !with.is_empty()
            || !index_options.is_empty()
            || !alter_options.is_empty()
        {
            return Err(errors::syntax("INDEX"));
        }
        if predicate.is_some() {
            return Err(errors::syntax("WHERE"));
        }
        let clustered = match using {
            None => false,
            Some(IndexType::Custom(i)) if i.value == CLUSTERED => true,
            Some(IndexType::Custom(i)) if i.value == NONCLUSTERED => false,
            Some(_) => return Err(errors::syntax("USING")),
        };
        let Some(name) = name else {
            return Err(errors::syntax("ON"));
        };
        let iname = name_parts(name)?;
        if iname.len() != 1 {
            return Err(errors::syntax(&name.to_string()));
        }
        let iname = iname[0].clone();
        let t = self.user_table(table_name)?;
        if t.name.starts_with('#') {
            // Not implemented for temporary tables: their keys are
            // declared with the table.
            return Err(errors::syntax("INDEX"));
        }
        let mut positions = Vec::new();
        for c in columns {
            let (cname, desc) = match &c.column.expr {
                Expr::Identifier(i) => (
                    i.value.clone(),
                    c.column.options.sort == Some(ast::OrderBySort::Desc),
                ),
                other => return Err(refuse_expr(other)),
            };
            let idx = t.column(&cname).ok_or_else(|| no_such_column(&cname))?;
            positions.push((idx, desc));
        }
        let sqlite =
            IndexInfo::sqlite_name(&t.sqlite, IndexKind::Index, *unique, clustered, &iname);
        let key_sql = key_sql(&t.columns, &positions);
        let ddl = format!(
            "CREATE {}INDEX {} ON {} ({key_sql})",
            if *unique { "UNIQUE " } else { "" },
            qi(&sqlite),
            qi(&t.sqlite)
        );
        let index = IndexInfo {
            name: iname,
            kind: IndexKind::Index,
            unique: *unique,
            clustered,
            columns: positions,
            index_id: 0,
        };
        Ok(IndexPlan {
            table: t,
            index,
            ddl,
        })
    }
}

/// A PRIMARY KEY or UNIQUE constraint of CREATE TABLE: (name, kind,
/// CLUSTERED/NONCLUSTERED if written, (column, descending)).
pub(super) type KeyDef = (Option<String>, IndexKind, Option<bool>, Vec<(String, bool)>);

pub(super) fn clustered_word(i: Option<&Ident>) -> Result<Option<bool>, SqlError> {
    match i.map(|i| i.value.to_uppercase()) {
        None => Ok(None),
        Some(s) if s == CLUSTERED => Ok(Some(true)),
        Some(s) if s == NONCLUSTERED => Ok(Some(false)),
        Some(s) => Err(errors::syntax(&s)),
    }
}

pub(super) fn index_columns(cols: &[ast::IndexColumn]) -> Result<Vec<(String, bool)>, SqlError> {
    cols.iter()
        .map(|c| match (&c.column.expr, &c.operator_class) {
            (Expr::Identifier(i), None) => Ok((
                i.value.clone(),
                c.column.options.sort == Some(ast::OrderBySort::Desc),
            )),
            (other, _) => Err(refuse_expr(other)),
        })
        .collect()
}

impl Tr<'_, '_> {
    /// DROP TABLE: each name with its table, if it exists (IF EXISTS and
    /// the error for a missing one are the session's business).
    pub(super) fn drop_tables(&mut self, stmt: &Statement) -> Result<Action, SqlError> {
        let Statement::Drop {
            object_type,
            if_exists,
            names,
            cascade,
            restrict,
            purge,
            temporary,
            table,
        } = stmt
        else {
            return Err(refuse(stmt));
        };
        if *object_type != ObjectType::Table
            || *cascade
            || *restrict
            || *purge
            || *temporary
            || table.is_some()
        {
            return Err(refuse(stmt));
        }
        let env = self.env;
        let mut tables = Vec::new();
        for n in names {
            if super::is_temp_name(n) {
                let name = name_parts(n)?.remove(0);
                tables.push((name.clone(), self.temp_table_opt(&name)));
                continue;
            }
            let (db, schema, name) = self.split_object(n)?;
            if let Some(db) = db {
                if db.to_lowercase() != env.db_name.to_lowercase() {
                    return Err(errors::cannot_drop(&n.to_string()));
                }
            }
            let display = ident_path(n);
            tables.push((
                display,
                env.catalog.table(schema.as_deref(), &name).cloned(),
            ));
        }
        Ok(Action::DropTables {
            tables,
            if_exists: *if_exists,
        })
    }
}

/// CREATE SCHEMA name (AUTHORIZATION is accepted and ignored).
pub(super) fn create_schema(stmt: &Statement) -> Result<Action, SqlError> {
    let Statement::CreateSchema {
        schema_name,
        or_replace,
        if_not_exists,
        with,
        options,
        default_collate_spec,
        clone,
    } = stmt
    else {
        return Err(refuse(stmt));
    };
    if *or_replace
        || *if_not_exists
        || with.is_some()
        || options.is_some()
        || default_collate_spec.is_some()
        || clone.is_some()
    {
        return Err(refuse(stmt));
    }
    let name = match schema_name {
        ast::SchemaName::Simple(n) | ast::SchemaName::NamedAuthorization(n, _) => n,
        ast::SchemaName::UnnamedAuthorization(_) => return Err(refuse(stmt)),
    };
    let parts = name_parts(name)?;
    if parts.len() != 1 || parts[0].contains('.') || parts[0].contains('|') || parts[0].is_empty() {
        return Err(errors::syntax(&name.to_string()));
    }
    Ok(Action::CreateSchema(parts[0].clone()))
}

/// CREATE TABLE's columns as they are being read.
#[derive(Default)]
struct ColumnDefs {
    columns: Vec<ColumnInfo>,
    /// Each column's SQLite DEFAULT clause.
    defaults: Vec<Option<String>>,
    /// Each column's explicit NULL (a primary key may not have it).
    explicit_null: Vec<bool>,
    keys: Vec<KeyDef>,
}

/// A column option other than NULL, NOT NULL and DEFAULT: a column-level
/// PRIMARY KEY or UNIQUE (COLLATE is read by the caller).
fn column_key(opt: &ast::ColumnOptionDef, col: &Ident) -> Result<Option<KeyDef>, SqlError> {
    let key = |kind, index_name: Option<&Ident>, name: Option<&Ident>| {
        let clustered = clustered_word(index_name)?;
        let cname = opt.name.as_ref().or(name).map(|i| i.value.clone());
        Ok(Some((
            cname,
            kind,
            clustered,
            vec![(col.value.clone(), false)],
        )))
    };
    match &opt.option {
        ColumnOption::PrimaryKey(pk) => {
            if !pk.columns.is_empty()
                || !pk.include.is_empty()
                || !pk.index_options.is_empty()
                || pk.characteristics.is_some()
                || pk.index_type.is_some()
            {
                return Err(errors::syntax("PRIMARY"));
            }
            key(
                IndexKind::PrimaryKey,
                pk.index_name.as_ref(),
                pk.name.as_ref(),
            )
        }
        ColumnOption::Unique(u) => {
            if !u.columns.is_empty()
                || !u.include.is_empty()
                || !u.index_options.is_empty()
                || u.characteristics.is_some()
                || u.index_type.is_some()
            {
                return Err(errors::syntax("UNIQUE"));
            }
            key(
                IndexKind::UniqueConstraint,
                u.index_name.as_ref(),
                u.name.as_ref(),
            )
        }
        ColumnOption::Identity(_) => Err(errors::syntax("IDENTITY")),
        other => Err(errors::syntax(
            other.to_string().split_whitespace().next().unwrap_or(""),
        )),
    }
}

/// The collation a character column has when its definition names none:
/// the database default.
pub(crate) fn column_collation(decl: DeclType) -> Option<Collation> {
    super::is_string(decl.ty).then_some(collation::DEFAULT)
}

/// `COLLATE name` in a column definition: 448 for an unknown name, 447 on a
/// column that holds no characters.
fn declared_collation(n: &ast::ObjectName, decl: DeclType) -> Result<Collation, SqlError> {
    let name = n.to_string();
    let name = name.trim_matches(|c| c == '[' || c == ']');
    let c = Collation::lookup(name)?;
    if !super::is_string(decl.ty) {
        return Err(errors::other(
            447,
            16,
            1,
            format!(
                "Expression type {} is invalid for COLLATE clause.",
                decl.ty.type_name()
            ),
        ));
    }
    Ok(c)
}

/// A table-level PRIMARY KEY or UNIQUE constraint (no other is supported).
pub(super) fn table_key(tc: &TableConstraint) -> Result<KeyDef, SqlError> {
    match tc {
        TableConstraint::PrimaryKey(pk) => {
            if !pk.include.is_empty()
                || !pk.index_options.is_empty()
                || pk.characteristics.is_some()
                || pk.index_type.is_some()
            {
                return Err(errors::syntax("PRIMARY"));
            }
            let clustered = clustered_word(pk.index_name.as_ref())?;
            Ok((
                pk.name.as_ref().map(|i| i.value.clone()),
                IndexKind::PrimaryKey,
                clustered,
                index_columns(&pk.columns)?,
            ))
        }
        TableConstraint::Unique(u) => {
            if !u.include.is_empty()
                || !u.index_options.is_empty()
                || u.characteristics.is_some()
                || u.index_type.is_some()
            {
                return Err(errors::syntax("UNIQUE"));
            }
            let clustered = clustered_word(u.index_name.as_ref())?;
            Ok((
                u.name.as_ref().map(|i| i.value.clone()),
                IndexKind::UniqueConstraint,
                clustered,
                index_columns(&u.columns)?,
            ))
        }
        other => Err(errors::syntax(
            other
                .to_string()
                .split_whitespace()
                .nth(2)
                .unwrap_or("CONSTRAINT"),
        )),
    }
}

/// The (column index, descending) of a key's columns; a primary key's
/// columns become NOT NULL, and may not be declared NULL.
fn key_positions(
    cols: &mut ColumnDefs,
    kind: IndexKind,
    key_cols: &[(String, bool)],
    name: &str,
) -> Result<Vec<(usize, bool)>, SqlError> {
    let mut positions = Vec::new();
    for (cn, desc) in key_cols {
        let idx = cols
            .columns
            .iter()
            .position(|c| c.name.to_lowercase() == cn.to_lowercase())
            .ok_or_else(|| no_such_column(cn))?;
        if kind == IndexKind::PrimaryKey {
            if cols.explicit_null[idx] {
                return Err(errors::other(
                    8111,
                    16,
                    1,
                    format!("Cannot define PRIMARY KEY constraint on nullable column in table '{name}'."),
                ));
            }
            cols.columns[idx].nullable = false;
        }
        positions.push((idx, *desc));
    }
    Ok(positions)
}

/// Error 1911: a key or index names a column the table does not have.
fn no_such_column(cn: &str) -> SqlError {
    errors::other(
        1911,
        16,
        1,
        format!("Column name '{cn}' does not exist in the target table or view."),
    )
}

/// An index's key as SQLite DDL: `"a", "b" DESC`.
fn key_sql(columns: &[ColumnInfo], positions: &[(usize, bool)]) -> String {
    positions
        .iter()
        .map(|(i, desc)| {
            format!(
                "{}{}",
                qi(&columns[*i].name),
                if *desc { " DESC" } else { "" }
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}
