//! The checks before a write, from what the inspection read (no request
//! of their own): does the database take writes, and may the login update
//! the tables and their owner columns.

use super::ServerInfo;
use anyhow::{bail, Result};

/// Checks, before any write, that the database takes writes; says what to
/// do instead when not.
pub fn check_writable(server: &ServerInfo) -> Result<()> {
    if !server.writable() {
        bail!(
            "database {} on {} is {} (not READ_WRITE): it may be a readable secondary replica of an availability group, a snapshot, or set read-only. Connect to the primary replica (for an availability group, its listener) and run the command there; nothing was changed",
            server.database,
            server.server,
            server.updateability
        );
    }
    Ok(())
}

/// What `HAS_PERMS_BY_NAME` says of one table: may the login update it,
/// and its owner column (a column-level DENY forbids the column alone).
#[derive(Clone, Debug, PartialEq)]
pub struct Permission {
    /// `schema.table`
    pub table: String,
    /// The owner column's name.
    pub owner_column: String,
    /// UPDATE on the table.
    pub table_ok: bool,
    /// UPDATE on the owner column.
    pub column_ok: bool,
}

/// Refuses a write when the login may not update one of `perms`' tables or
/// owner columns, naming them.
pub fn check_permissions(perms: &[Permission]) -> Result<()> {
    let denied: Vec<String> = perms
        .iter()
        .filter(|p| !(p.table_ok && p.column_ok))
        .map(|p| {
            if p.table_ok {
                format!(
                    "the column {} of {} (a column-level DENY)",
                    p.owner_column, p.table
                )
            } else {
                p.table.clone()
            }
        })
        .collect();
    if !denied.is_empty() {
        bail!(
            "the login may not UPDATE {} (HAS_PERMS_BY_NAME): connect as a member of RTCUniversalServerAdmins or db_owner of the database; nothing was changed",
            denied.join(", ")
        );
    }
    Ok(())
}
