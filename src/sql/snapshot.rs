//! The T-SQL of `snapshot`: the isolation the database allows, the
//! read-only transaction around the whole snapshot, the catalog with column
//! sizes and foreign keys, and one streamed SELECT per table.

use super::{render, Read};

/// Whether the database allows SNAPSHOT isolation.
const SNAPSHOT_ISOLATION: &str = include_str!("../../sql/snapshot_isolation.sql");
/// `SET TRANSACTION ISOLATION LEVEL ...; BEGIN TRANSACTION;`
const SNAPSHOT_BEGIN: &str = include_str!("../../sql/snapshot_begin.sql");
/// Rolls the read-only transaction back, READ COMMITTED again.
const SNAPSHOT_END: &str = include_str!("../../sql/snapshot_end.sql");
/// Every column of every user table, with sizes.
const SNAPSHOT_COLUMNS: &str = include_str!("../../sql/snapshot_columns.sql");
/// The declared foreign keys.
const SNAPSHOT_FOREIGN_KEYS: &str = include_str!("../../sql/snapshot_foreign_keys.sql");
/// Every row of one table.
const SNAPSHOT_ROWS: &str = include_str!("../../sql/snapshot_rows.sql");

/// How the snapshot's transaction keeps its tables one picture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isolation {
    /// SNAPSHOT isolation: one row version of the whole database, read
    /// without locks (needs ALLOW_SNAPSHOT_ISOLATION ON).
    Snapshot,
    /// READ COMMITTED with `WITH (TABLOCK, HOLDLOCK)` on every table: each
    /// table is share-locked from its read to the end, so the files equal
    /// the database at the moment the last table was locked (two-phase
    /// locking); writers wait meanwhile.
    TableLocks,
}

impl Isolation {
    /// The level `SET TRANSACTION ISOLATION LEVEL` names.
    pub fn level(self) -> &'static str {
        match self {
            Isolation::Snapshot => "SNAPSHOT",
            Isolation::TableLocks => "READ COMMITTED",
        }
    }

    /// The table hints each SELECT carries.
    fn hints(self) -> &'static str {
        match self {
            Isolation::Snapshot => "",
            Isolation::TableLocks => " WITH (TABLOCK, HOLDLOCK)",
        }
    }
}

/// A statement that begins or ends the snapshot's read-only transaction:
/// it sets the isolation level, begins, or rolls back, and changes no data.
/// Only this module makes one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadTransaction(String);

impl ReadTransaction {
    /// The text sent to the server.
    pub fn text(&self) -> &str {
        &self.0
    }
}

/// `snapshot_isolation_state` of the connected database (1: allowed).
pub fn isolation_state() -> Read {
    Read(SNAPSHOT_ISOLATION.to_string())
}

/// Sets the isolation level and begins the transaction.
pub fn begin(isolation: Isolation) -> ReadTransaction {
    ReadTransaction(render(SNAPSHOT_BEGIN, &[("isolation", isolation.level())]))
}

/// Rolls the transaction back and restores READ COMMITTED.
pub fn end() -> ReadTransaction {
    ReadTransaction(SNAPSHOT_END.to_string())
}

/// Every column of every user table, with type sizes.
pub fn columns() -> Read {
    Read(SNAPSHOT_COLUMNS.to_string())
}

/// The declared foreign keys, column by column.
pub fn foreign_keys() -> Read {
    Read(SNAPSHOT_FOREIGN_KEYS.to_string())
}

/// Every row of `table` (quoted two-part name): `columns` are the select
/// list (quoted names, or a conversion of one), `order` the quoted key
/// columns (empty: no order).
pub fn rows(table: &str, columns: &[String], order: &[String], isolation: Isolation) -> Read {
    let order_by = if order.is_empty() {
        String::new()
    } else {
        format!("\nORDER BY {}", order.join(", "))
    };
    Read(render(
        SNAPSHOT_ROWS,
        &[
            ("columns", &columns.join(",\n       ")),
            ("table", table),
            ("hints", isolation.hints()),
            ("order_by", &order_by),
        ],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::strip_comments;

    #[test]
    fn rows_carry_locks_only_without_snapshot_isolation() {
        let cols = ["[ID]".to_string(), "[Name]".to_string()];
        let keys = ["[ID]".to_string()];
        let locked = rows("[dbo].[Queues]", &cols, &keys, Isolation::TableLocks);
        assert_eq!(
            strip_comments(locked.text()),
            "SELECT [ID],\n       [Name]\nFROM [dbo].[Queues] WITH (TABLOCK, HOLDLOCK)\nORDER BY [ID];"
        );
        let snap = rows("[dbo].[t]", &cols[..1], &[], Isolation::Snapshot);
        assert_eq!(strip_comments(snap.text()), "SELECT [ID]\nFROM [dbo].[t];");
        assert!(begin(Isolation::Snapshot)
            .text()
            .contains("SET TRANSACTION ISOLATION LEVEL SNAPSHOT;\nBEGIN TRANSACTION;"));
    }
}
