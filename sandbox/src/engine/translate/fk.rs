//! FOREIGN KEY clauses of CREATE TABLE (table-level `CONSTRAINT n FOREIGN
//! KEY (...) REFERENCES t (...)` and column-level `REFERENCES t (...)`):
//! checked as SQL Server checks them at creation, kept for the catalog
//! views, not enforced on data (see `catalog/fk.rs`).

use super::{name_parts, Tr};
use crate::engine::catalog::{object_id_of, ForeignKeyInfo, IndexKind, TableInfo};
use crate::engine::errors;
use crate::types::SqlError;
use sqlparser::ast::{self, ColumnOption, ForeignKeyConstraint, ReferentialAction};

/// A FOREIGN KEY as written: its name, referencing and referenced columns,
/// and the referenced table.
pub(super) struct FkDef {
    name: Option<String>,
    columns: Vec<String>,
    table: ast::ObjectName,
    referenced: Vec<String>,
}

/// A CREATE TABLE's columns and constraints without its foreign keys, and
/// the keys.
pub(super) type Split = (Vec<ast::ColumnDef>, Vec<ast::TableConstraint>, Vec<FkDef>);

/// Takes the foreign keys out of a CREATE TABLE: the column definitions
/// without their REFERENCES options, the other table constraints, and the
/// keys. Referential actions other than NO ACTION are refused: the sandbox
/// could not carry them out.
pub(super) fn split_foreign_keys(
    columns: &[ast::ColumnDef],
    constraints: &[ast::TableConstraint],
) -> Result<Split, SqlError> {
    let mut fks = Vec::new();
    let mut cols = Vec::new();
    for c in columns {
        let mut c = c.clone();
        let mut kept = Vec::new();
        for opt in c.options.drain(..) {
            match &opt.option {
                ColumnOption::ForeignKey(fk) if fk.columns.is_empty() => {
                    let mut d = fk_def(fk)?;
                    d.name = opt
                        .name
                        .as_ref()
                        .or(fk.name.as_ref())
                        .map(|i| i.value.clone());
                    d.columns = vec![c.name.value.clone()];
                    fks.push(d);
                }
                _ => kept.push(opt),
            }
        }
        c.options = kept;
        cols.push(c);
    }
    let mut others = Vec::new();
    for tc in constraints {
        match tc {
            ast::TableConstraint::ForeignKey(fk) => fks.push(fk_def(fk)?),
            other => others.push(other.clone()),
        }
    }
    Ok((cols, others, fks))
}

/// The parts of a FOREIGN KEY clause the sandbox keeps; anything it could
/// not honour is a syntax error.
fn fk_def(fk: &ForeignKeyConstraint) -> Result<FkDef, SqlError> {
    let no_action =
        |a: &Option<ReferentialAction>| matches!(a, None | Some(ReferentialAction::NoAction));
    if fk.index_name.is_some() || fk.match_kind.is_some() || fk.characteristics.is_some() {
        return Err(errors::syntax("FOREIGN"));
    }
    if !no_action(&fk.on_delete) || !no_action(&fk.on_update) {
        return Err(errors::syntax("ON"));
    }
    Ok(FkDef {
        name: fk.name.as_ref().map(|i| i.value.clone()),
        columns: fk.columns.iter().map(|i| i.value.clone()).collect(),
        table: fk.foreign_table.clone(),
        referenced: fk
            .referred_columns
            .iter()
            .map(|i| i.value.clone())
            .collect(),
    })
}

impl Tr<'_, '_> {
    /// Resolves the keys of a new table (which may refer to itself) with
    /// SQL Server's errors: 1767 no such table, 1769/1770 no such column,
    /// 8139 column counts differ, 1776 no key matches, 1778 types differ.
    pub(super) fn foreign_keys(
        &self,
        table: &TableInfo,
        defs: Vec<FkDef>,
    ) -> Result<Vec<ForeignKeyInfo>, SqlError> {
        let mut out: Vec<ForeignKeyInfo> = Vec::new();
        for d in defs {
            let name = d.name.clone().unwrap_or_else(|| default_name(table, &d));
            if out
                .iter()
                .any(|f| f.name.to_lowercase() == name.to_lowercase())
                || table
                    .indexes
                    .iter()
                    .any(|i| i.name.to_lowercase() == name.to_lowercase())
                || self.env.catalog.object_exists(&table.schema, &name)
            {
                return Err(errors::already_exists(&name));
            }
            let target = self.referenced_table(table, &d, &name)?;
            out.push(ForeignKeyInfo {
                columns: key_columns(table, &target, &d, &name)?,
                name,
                schema: table.schema.clone(),
                parent_sqlite: table.sqlite.clone(),
                referenced_sqlite: target.sqlite.clone(),
            });
        }
        Ok(out)
    }

    /// The table a key refers to: the new table itself or an existing one
    /// of this database (error 1767 otherwise).
    fn referenced_table(
        &self,
        table: &TableInfo,
        d: &FkDef,
        name: &str,
    ) -> Result<TableInfo, SqlError> {
        let invalid = || {
            errors::other(
                1767,
                16,
                0,
                format!(
                    "Foreign key '{name}' references invalid table '{}'.",
                    name_parts(&d.table).unwrap_or_default().join(".")
                ),
            )
        };
        let (db, schema, tname) = self.split_object(&d.table)?;
        if db.is_some_and(|db| db.to_lowercase() != self.env.db_name.to_lowercase()) {
            return Err(errors::other(
                1763,
                16,
                0,
                format!(
                    "Cross-database foreign key references are not supported. Foreign key '{}'.",
                    name_parts(&d.table).unwrap_or_default().join(".")
                ),
            ));
        }
        let schema = schema.unwrap_or_else(|| "dbo".into());
        if schema.to_lowercase() == table.schema.to_lowercase()
            && tname.to_lowercase() == table.name.to_lowercase()
        {
            return Ok(table.clone());
        }
        self.env
            .catalog
            .table(Some(&schema), &tname)
            .cloned()
            .ok_or_else(invalid)
    }
}

/// (referencing, referenced) column positions of a key, checked.
fn key_columns(
    table: &TableInfo,
    target: &TableInfo,
    d: &FkDef,
    name: &str,
) -> Result<Vec<(usize, usize)>, SqlError> {
    let bad_col = |num: i32, which: &str, col: &str, t: &TableInfo| {
        errors::other(
            num,
            16,
            0,
            format!(
                "Foreign key '{name}' references invalid column '{col}' in {which} table '{}'.",
                t.name
            ),
        )
    };
    let cols = d
        .columns
        .iter()
        .map(|c| {
            table
                .column(c)
                .ok_or_else(|| bad_col(1769, "referencing", c, table))
        })
        .collect::<Result<Vec<_>, _>>()?;
    // REFERENCES t without columns: t's primary key.
    let referenced = if d.referenced.is_empty() {
        target
            .indexes
            .iter()
            .find(|i| i.kind == IndexKind::PrimaryKey)
            .map(|i| i.columns.iter().map(|c| c.0).collect())
            .unwrap_or_default()
    } else {
        d.referenced
            .iter()
            .map(|c| {
                target
                    .column(c)
                    .ok_or_else(|| bad_col(1770, "referenced", c, target))
            })
            .collect::<Result<Vec<_>, _>>()?
    };
    if cols.len() != referenced.len() {
        return Err(errors::other(
            8139,
            16,
            0,
            format!(
                "Number of referencing columns in foreign key differs from number of referenced columns, table '{}'.",
                table.name
            ),
        ));
    }
    let mut sorted = referenced.clone();
    sorted.sort_unstable();
    let matches_key = target.indexes.iter().filter(|i| i.unique).any(|i| {
        let mut k: Vec<usize> = i.columns.iter().map(|c| c.0).collect();
        k.sort_unstable();
        k == sorted
    });
    if !matches_key {
        return Err(errors::other(
            1776,
            16,
            0,
            format!(
                "There are no primary or candidate keys in the referenced table '{}.{}' that match the referencing column list in the foreign key '{name}'.",
                target.schema, target.name
            ),
        ));
    }
    for (c, r) in cols.iter().zip(referenced.iter()) {
        if table.columns[*c].decl.ty.type_name() != target.columns[*r].decl.ty.type_name() {
            return Err(errors::other(
                1778,
                16,
                0,
                format!(
                    "Column '{}.{}.{}' is not the same data type as referencing column '{}.{}' in foreign key '{name}'.",
                    target.schema, target.name, target.columns[*r].name, table.name, table.columns[*c].name
                ),
            ));
        }
    }
    Ok(cols.into_iter().zip(referenced).collect())
}

/// SQL Server's shape of a system-given key name:
/// `FK__<table>__<column>__<16 hex digits>`.
fn default_name(table: &TableInfo, d: &FkDef) -> String {
    let short = |s: &str| s.chars().take(8).collect::<String>();
    let col = d.columns.first().map(String::as_str).unwrap_or("");
    format!(
        "FK__{}__{}__{:016X}",
        short(&table.name),
        short(col),
        (object_id_of(
            &table.schema,
            &format!("FK{}{}", table.name, d.columns.join(","))
        ) as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
    )
}
