//! DML triggers in the catalog. SQLite's own triggers cannot run T-SQL, so
//! a trigger is a marker table `sbx_trigger|<schema>|<name>` holding one row
//! (parent table's SQLite name, events, disabled flag, the CREATE TRIGGER
//! text): creating or dropping it changes SQLite's schema version, so every
//! session's cached catalog sees it, and it is undone by a ROLLBACK like
//! any DDL.

use super::{object_id_of, Catalog};
use rusqlite::Connection;

/// Marker-table prefix of triggers.
pub(crate) const TRIGGER_PREFIX: &str = "sbx_trigger|";

/// One AFTER trigger on a user table.
#[derive(Debug, Clone)]
pub(crate) struct TriggerInfo {
    pub schema: String,
    pub name: String,
    pub object_id: i64,
    /// The SQLite name of the table it is on.
    pub parent: String,
    /// Fires on INSERT, UPDATE, DELETE.
    pub on_insert: bool,
    pub on_update: bool,
    pub on_delete: bool,
    pub disabled: bool,
    /// The CREATE TRIGGER statement, parsed again when it fires.
    pub definition: String,
}

impl TriggerInfo {
    /// The SQLite marker table of a trigger.
    pub fn marker(schema: &str, name: &str) -> String {
        format!("{TRIGGER_PREFIX}{schema}|{name}")
    }
}

impl Catalog {
    /// The enabled triggers on a table (SQLite name) for an event
    /// (`INSERT`, `UPDATE`, `DELETE`), in creation order.
    pub fn triggers_for(&self, table: &str, verb: &str) -> Vec<&TriggerInfo> {
        self.triggers
            .iter()
            .filter(|t| t.parent == table && !t.disabled)
            .filter(|t| match verb {
                "INSERT" => t.on_insert,
                "UPDATE" => t.on_update,
                "DELETE" => t.on_delete,
                _ => false,
            })
            .collect()
    }

    /// A trigger by schema and name, case-insensitively.
    pub fn trigger(&self, schema: &str, name: &str) -> Option<&TriggerInfo> {
        let (s, n) = (schema.to_lowercase(), name.to_lowercase());
        self.triggers
            .iter()
            .find(|t| t.schema.to_lowercase() == s && t.name.to_lowercase() == n)
    }
}

/// Reads the trigger of one marker table (its SQLite name).
pub(super) fn read_trigger(
    conn: &Connection,
    marker: &str,
) -> rusqlite::Result<Option<TriggerInfo>> {
    let Some(rest) = marker.strip_prefix(TRIGGER_PREFIX) else {
        return Ok(None);
    };
    let Some((schema, name)) = rest.split_once('|') else {
        return Ok(None);
    };
    let sql = format!(
        "SELECT parent, events, disabled, definition FROM {}",
        crate::engine::datatype::quote_ident(marker)
    );
    let mut st = conn.prepare(&sql)?;
    let mut rows = st.query([])?;
    let Some(r) = rows.next()? else {
        return Ok(None);
    };
    let events: String = r.get(1)?;
    Ok(Some(TriggerInfo {
        schema: schema.to_string(),
        name: name.to_string(),
        object_id: object_id_of(schema, name),
        parent: r.get(0)?,
        on_insert: events.contains('I'),
        on_update: events.contains('U'),
        on_delete: events.contains('D'),
        disabled: r.get::<_, i64>(2)? != 0,
        definition: r.get(3)?,
    }))
}
