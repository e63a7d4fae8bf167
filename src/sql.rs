//! The T-SQL the tool runs. Every statement is a file under `sql/`, compiled
//! in; templates name their identifiers as `{placeholder}`s that only
//! [`render`] fills, and only with names quoted by [`crate::quote`]. Values
//! are never placed in the text: they are `@P1`-style parameters.

/// Server, database and whether the database can be written.
pub const SERVER_INFO: &str = include_str!("../sql/server_info.sql");
/// Every column of every user table.
pub const CATALOG_COLUMNS: &str = include_str!("../sql/catalog_columns.sql");
/// Primary key columns in key order.
pub const CATALOG_PRIMARY_KEYS: &str = include_str!("../sql/catalog_primary_keys.sql");
/// `HAS_PERMS_BY_NAME(@P1, 'OBJECT', 'UPDATE')`.
pub const PERMISSIONS: &str = include_str!("../sql/permissions.sql");
/// `SET XACT_ABORT ON; SET LOCK_TIMEOUT {lock_timeout_ms};`
pub const SESSION_SETUP: &str = include_str!("../sql/session_setup.sql");
/// The owner pools.
pub const OWNER_POOLS: &str = include_str!("../sql/owner_pools.sql");
/// Rows per owner pool of one table.
pub const OWNER_COUNTS: &str = include_str!("../sql/owner_counts.sql");
/// Rows of one table with a NULL or dangling owner.
pub const FINDING_ROWS: &str = include_str!("../sql/finding_rows.sql");
/// `BEGIN TRANSACTION`
pub const BEGIN: &str = include_str!("../sql/begin.sql");
/// `COMMIT TRANSACTION`
pub const COMMIT: &str = include_str!("../sql/commit.sql");
/// Rolls back if a transaction is still open.
pub const ROLLBACK: &str = include_str!("../sql/rollback.sql");
/// Locks and reads the keys still without owner.
pub const FIX_RECHECK: &str = include_str!("../sql/fix_recheck.sql");
/// Sets the owner of every row without one.
pub const FIX_UPDATE: &str = include_str!("../sql/fix_update.sql");
/// Counts rows still without owner.
pub const FIX_VERIFY: &str = include_str!("../sql/fix_verify.sql");
/// Locks and reads journalled rows.
pub const UNDO_RECHECK: &str = include_str!("../sql/undo_recheck.sql");
/// Puts journalled rows back to NULL.
pub const UNDO_UPDATE: &str = include_str!("../sql/undo_update.sql");

/// Fills a template's `{name}` placeholders.
///
/// The values must already be quoted identifiers or SQL built from them;
/// a placeholder without a value, or a value without a placeholder, is a bug
/// and panics in tests rather than sending half-filled SQL.
pub fn render(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let end = after
            .find('}')
            .expect("unclosed placeholder in SQL template");
        let name = &after[..end];
        let value = values
            .iter()
            .find(|(k, _)| *k == name)
            .unwrap_or_else(|| panic!("no value for placeholder {{{name}}}"))
            .1;
        out.push_str(value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    debug_assert!(
        values
            .iter()
            .all(|(k, _)| template.contains(&format!("{{{k}}}"))),
        "value for a placeholder the template does not have"
    );
    out
}

/// The statement without its leading `--` comment lines, for showing to a
/// DBA in a dry run.
pub fn strip_comments(sql: &str) -> String {
    sql.lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_fills_every_placeholder() {
        let sql = render(
            FIX_UPDATE,
            &[("table", "[dbo].[Queues]"), ("owner", "[OwnerPoolId]")],
        );
        assert_eq!(
            strip_comments(&sql),
            "UPDATE [dbo].[Queues]\nSET [OwnerPoolId] = @P1\nWHERE [OwnerPoolId] IS NULL;"
        );
    }

    #[test]
    fn a_quoted_value_with_braces_is_not_expanded_again() {
        let sql = render("SELECT {a} FROM {b}", &[("a", "[{b}]"), ("b", "[t]")]);
        assert_eq!(sql, "SELECT [{b}] FROM [t]");
    }

    #[test]
    #[should_panic(expected = "no value for placeholder")]
    fn missing_value_panics() {
        render("SELECT {a}", &[]);
    }

    #[test]
    fn every_placeholder_is_one_the_code_fills() {
        let known = [
            "table",
            "owner",
            "keys",
            "order",
            "display",
            "pool_table",
            "pool_id",
            "id",
            "name",
            "key_match",
            "lock_timeout_ms",
        ];
        for t in [
            SERVER_INFO,
            CATALOG_COLUMNS,
            CATALOG_PRIMARY_KEYS,
            PERMISSIONS,
            SESSION_SETUP,
            OWNER_POOLS,
            OWNER_COUNTS,
            FINDING_ROWS,
            BEGIN,
            COMMIT,
            ROLLBACK,
            FIX_RECHECK,
            FIX_UPDATE,
            FIX_VERIFY,
            UNDO_RECHECK,
            UNDO_UPDATE,
        ] {
            let mut rest = t;
            while let Some(i) = rest.find('{') {
                let end = rest[i..].find('}').expect("closed placeholder") + i;
                assert!(
                    known.contains(&&rest[i + 1..end]),
                    "unknown placeholder {} in\n{t}",
                    &rest[i..=end]
                );
                rest = &rest[end + 1..];
            }
        }
    }

    #[test]
    fn templates_have_no_literal_values() {
        // Values travel as parameters: no template carries a quoted string
        // other than the fixed N'...' arguments of catalog functions.
        for t in [
            FIX_UPDATE,
            FIX_RECHECK,
            FIX_VERIFY,
            UNDO_RECHECK,
            UNDO_UPDATE,
            OWNER_COUNTS,
            FINDING_ROWS,
        ] {
            assert!(!strip_comments(t).contains('\''), "{t}");
        }
    }
}
