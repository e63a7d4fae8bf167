//! Local temporary tables (`#name`): SQLite TEMP tables of the session's
//! connection, under a name unique in the process, registered with the
//! session rather than the database's catalog (SQL Server keeps them in
//! tempdb, where no other session sees them). Translation finds them
//! among the environment's table-valued variables under their `#` name.

use super::ddl::table_key;
use super::{name_parts, Action, TablePlan, Tr};
use crate::engine::catalog::TableInfo;
use crate::engine::errors;
use crate::types::SqlError;
use sqlparser::ast::{CreateTable, ObjectName};
use std::sync::atomic::{AtomicU64, Ordering};

/// Makes every temporary table's SQLite name unique in the process, so a
/// table created again after a DROP (or a CREATE undone by a ROLLBACK)
/// never meets the old one.
static NEXT: AtomicU64 = AtomicU64::new(1);

/// SQL Server's limit on a local temporary table's name (it appends a
/// suffix to make the name unique in tempdb).
const MAX_NAME: usize = 116;

/// Whether an object name is a temporary table's: one part beginning
/// with `#`, quoted or not (`[#k]` is the same table as `#k`).
pub(crate) fn is_temp_name(n: &ObjectName) -> bool {
    matches!(name_parts(n).as_deref(), Ok([t]) if t.starts_with('#'))
}

/// Rewrites a table plan's DDL to create the table and its key indexes in
/// SQLite's `temp` schema.
pub(super) fn into_temp(plan: &mut TablePlan) {
    for d in plan.ddl.iter_mut() {
        *d = if let Some(rest) = d.strip_prefix("CREATE TABLE ") {
            format!("CREATE TEMP TABLE {rest}")
        } else if let Some(rest) = d.strip_prefix("CREATE UNIQUE INDEX ") {
            format!("CREATE UNIQUE INDEX temp.{rest}")
        } else {
            d.clone()
        };
    }
}

impl Tr<'_, '_> {
    /// `CREATE TABLE #name (column definitions [, PRIMARY KEY (...)]
    /// [, UNIQUE (...)])`. Whether the session already has `#name` (2714)
    /// is decided when the statement runs, as SQL Server does.
    pub(super) fn create_temp_table(&mut self, ct: &CreateTable) -> Result<Action, SqlError> {
        let mut parts: Vec<String> = ct.columns.iter().map(|c| c.to_string()).collect();
        parts.extend(ct.constraints.iter().map(|c| c.to_string()));
        let expected = format!("CREATE TABLE {} ({})", ct.name, parts.join(", "));
        if ct.to_string() != expected || ct.columns.is_empty() {
            return Err(errors::syntax(&ct.name.to_string()));
        }
        let name = name_parts(&ct.name)?.remove(0);
        if name.starts_with("##") {
            return Err(errors::other(
                40516,
                16,
                1,
                "Global temp objects are not supported in this version of SQL Server.",
            ));
        }
        if name.chars().count() > MAX_NAME {
            let start: String = name.chars().take(MAX_NAME).collect();
            return Err(errors::other(
                193,
                15,
                1,
                format!("The object or column name starting with '{start}' is too long. The maximum length is {MAX_NAME} characters."),
            ));
        }
        let keys = ct
            .constraints
            .iter()
            .map(table_key)
            .collect::<Result<Vec<_>, _>>()?;
        let sqlite = format!("{name}|{}", NEXT.fetch_add(1, Ordering::Relaxed));
        let mut plan = self.table_plan("dbo", &name, &sqlite, &ct.columns, keys)?;
        into_temp(&mut plan);
        Ok(Action::CreateTempTable(plan))
    }

    /// The session's temporary table of that name, or Msg 208.
    pub(super) fn temp_table(&self, name: &str) -> Result<TableInfo, SqlError> {
        self.temp_table_opt(name)
            .ok_or_else(|| errors::invalid_object(name))
    }

    /// The session's temporary table of that name, if there is one.
    pub(super) fn temp_table_opt(&self, name: &str) -> Option<TableInfo> {
        if !name.starts_with('#') {
            return None;
        }
        self.env
            .vars
            .get(&name.to_lowercase())
            .and_then(|v| v.table.as_deref())
            .cloned()
    }
}
