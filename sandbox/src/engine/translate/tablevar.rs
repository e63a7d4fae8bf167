//! Table variables (`DECLARE @t TABLE (...)`): SQLite TEMP tables that the
//! session drops when the batch ends, named so that no user table and no
//! earlier declaration can collide with them.

use super::ddl::KeyDef;
use super::{Action, Tr};
use crate::engine::catalog::{IndexKind, TableInfo};
use crate::engine::errors;
use crate::types::SqlError;
use sqlparser::ast::{self, DataType, Ident, TypeModifier};
use std::sync::atomic::{AtomicU64, Ordering};

/// Makes every table variable's SQLite name unique in the process, so that
/// a declaration never meets a table left by an earlier batch (a DROP
/// undone by a ROLLBACK brings one back).
static NEXT: AtomicU64 = AtomicU64::new(1);

/// Msg 1087, for a table variable used but not declared.
pub(super) fn undeclared_table(name: &str) -> SqlError {
    errors::other(
        1087,
        15,
        2,
        format!("Must declare the table variable \"{name}\"."),
    )
}

/// sqlparser reads a table-level `PRIMARY KEY (a, b)` in `DECLARE @t
/// TABLE (...)` as a column named PRIMARY of type `KEY(a, b)`: T-SQL
/// reserves PRIMARY, so an unquoted column of that name can only be the
/// constraint.
fn table_primary_key(c: &ast::ColumnDef) -> Option<Result<KeyDef, SqlError>> {
    if c.name.quote_style.is_some() || !c.name.value.eq_ignore_ascii_case("PRIMARY") {
        return None;
    }
    let DataType::Custom(ty, mods) = &c.data_type else {
        return Some(Err(errors::syntax("PRIMARY")));
    };
    if !ty.to_string().eq_ignore_ascii_case("KEY") || !c.options.is_empty() || mods.is_empty() {
        return Some(Err(errors::syntax("PRIMARY")));
    }
    let cols = mods
        .iter()
        .map(|m| match m {
            TypeModifier::Identifier(i) => Ok((i.value.clone(), false)),
            other => Err(errors::syntax(&other.to_string())),
        })
        .collect::<Result<Vec<_>, _>>();
    Some(cols.map(|cols| (None, IndexKind::PrimaryKey, None, cols)))
}

impl Tr<'_, '_> {
    /// `DECLARE @t TABLE (column definitions [, PRIMARY KEY (...)])`.
    pub(super) fn declare_table(
        &mut self,
        name: &Ident,
        defs: &[ast::ColumnDef],
    ) -> Result<Action, SqlError> {
        let var = name.value.clone();
        if !var.starts_with('@') || var.starts_with("@@") || name.quote_style.is_some() {
            return Err(errors::syntax(&var));
        }
        if self.env.vars.contains_key(&var.to_lowercase()) {
            return Err(errors::other(
                134,
                15,
                1,
                format!("The variable name '{var}' has already been declared. Variable names must be unique within a query batch or stored procedure."),
            ));
        }
        let mut columns = Vec::new();
        let mut keys = Vec::new();
        for c in defs {
            match table_primary_key(c) {
                Some(k) => keys.push(k?),
                None if keys.is_empty() => columns.push(c.clone()),
                // Columns come before table constraints.
                None => return Err(errors::syntax(&c.name.value)),
            }
        }
        if columns.is_empty() {
            return Err(errors::syntax(")"));
        }
        let sqlite = format!("{var}|{}", NEXT.fetch_add(1, Ordering::Relaxed));
        let mut plan = self.table_plan("dbo", &var, &sqlite, &columns, keys)?;
        super::temptable::into_temp(&mut plan);
        Ok(Action::DeclareTable(plan))
    }

    /// The table variable a one-part name beginning with `@` names.
    pub(super) fn table_var(&self, name: &str) -> Result<TableInfo, SqlError> {
        self.env
            .vars
            .get(&name.to_lowercase())
            .and_then(|v| v.table.as_deref())
            .cloned()
            .ok_or_else(|| undeclared_table(name))
    }
}
