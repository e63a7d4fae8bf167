//! The T-SQL the tool runs, and the only place its text is put together.
//! Every statement is a file under `sql/`, compiled in; templates name their
//! identifiers as `{placeholder}`s that only [`render`] fills, and only with
//! names quoted by [`crate::quote`]. Values are never placed in the text:
//! they are `@P1`-style parameters.
//!
//! Statements come out typed: [`Read`] for those that only read, [`Write`]
//! for those that change data or the transaction. A connection runs a
//! [`Write`] only when `apply` holds it (see [`crate::connect::session`]).

use crate::quote::{QuotedPoolTable, QuotedTable};

pub mod more;
pub mod snapshot;

pub use more::{
    finding_no_line_uri, finding_no_line_uri_count, finding_unused, finding_unused_count,
    QuotedUsePath,
};

/// Server, database and whether the database can be written.
const SERVER_INFO: &str = include_str!("../sql/server_info.sql");
/// Every column of every user table.
const CATALOG_COLUMNS: &str = include_str!("../sql/catalog_columns.sql");
/// Primary key columns in key order.
const CATALOG_PRIMARY_KEYS: &str = include_str!("../sql/catalog_primary_keys.sql");
/// The availability-group database ID (SQL Server 2012 and later).
const GROUP_DATABASE_ID: &str = include_str!("../sql/group_database_id.sql");
/// `HAS_PERMS_BY_NAME(@P1, 'OBJECT', 'UPDATE')`.
const PERMISSIONS: &str = include_str!("../sql/permissions.sql");
/// `SET XACT_ABORT ON; SET LOCK_TIMEOUT {lock_timeout_ms};`
const SESSION_SETUP: &str = include_str!("../sql/session_setup.sql");
/// The owner pools.
const OWNER_POOLS: &str = include_str!("../sql/owner_pools.sql");
/// Rows per owner pool of one table.
const OWNER_COUNTS: &str = include_str!("../sql/owner_counts.sql");
/// Rows of one table with a NULL or dangling owner.
const FINDING_ROWS: &str = include_str!("../sql/finding_rows.sql");
/// `SET LOCK_TIMEOUT {lock_timeout_ms};` ahead of a session's first read.
const LOCK_TIMEOUT: &str = include_str!("../sql/lock_timeout.sql");
/// Who holds locks in the database, after a read timed out on one.
const LOCK_HOLDERS: &str = include_str!("../sql/lock_holders.sql");
/// `BEGIN TRANSACTION`
const BEGIN: &str = include_str!("../sql/begin.sql");
/// `COMMIT TRANSACTION`
const COMMIT: &str = include_str!("../sql/commit.sql");
/// Rolls back if a transaction is still open.
const ROLLBACK: &str = include_str!("../sql/rollback.sql");
/// Locks and reads the keys still without owner.
const FIX_RECHECK: &str = include_str!("../sql/fix_recheck.sql");
const NULL_OWNER_SUMMARY: &str = include_str!("../sql/null_owner_summary.sql");
/// Sets the owner of every row without one.
const FIX_UPDATE: &str = include_str!("../sql/fix_update.sql");
/// Counts rows still without owner.
const FIX_VERIFY: &str = include_str!("../sql/fix_verify.sql");
/// A session temporary table for undo's keys.
const UNDO_KEYS_CREATE: &str = include_str!("../sql/undo_keys_create.sql");
/// One chunk of undo's keys into it.
/// The journalled rows and what they hold now, through the keys' table.
const UNDO_KEYS_INSERT: &str = include_str!("../sql/undo_keys_insert.sql");
const UNDO_SUMMARY: &str = include_str!("../sql/undo_summary.sql");
const UNDO_LEFT_ALONE: &str = include_str!("../sql/undo_left_alone.sql");
/// Puts journalled rows back to NULL.
const UNDO_UPDATE: &str = include_str!("../sql/undo_update.sql");

/// Declared foreign keys, one row per column.
const CATALOG_FOREIGN_KEYS: &str = include_str!("../sql/catalog_foreign_keys.sql");
/// Columns named LineUri or TelUri.
const CATALOG_LINE_URI_COLUMNS: &str = include_str!("../sql/catalog_line_uri_columns.sql");

/// A statement that only reads, as it is sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Read(String);

/// A statement that changes data, the session or the transaction, as it is
/// sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Write(String);

impl Read {
    /// The text sent to the server.
    pub fn text(&self) -> &str {
        &self.0
    }

    /// Several reads sent as one batch, one round trip: the server answers
    /// with their result sets in order.
    pub fn batch(parts: impl IntoIterator<Item = Read>) -> Read {
        Read(
            parts
                .into_iter()
                .map(|r| r.0)
                .collect::<Vec<_>>()
                .join("\n"),
        )
    }
}

impl Write {
    /// The text sent to the server.
    pub fn text(&self) -> &str {
        &self.0
    }

    /// An empty batch, to build one with [`Write::then`].
    pub fn empty() -> Write {
        Write(String::new())
    }

    /// This statement followed, in the same batch (one round trip), by
    /// `more`: writes and reads, answered with their result sets in order.
    /// The batch as a whole writes.
    pub fn then(self, more: impl IntoIterator<Item = Statement>) -> Write {
        let mut text = self.0;
        for s in more {
            text.push('\n');
            text.push_str(match &s {
                Statement::Read(r) => r.text(),
                Statement::Write(w) => w.text(),
            });
        }
        Write(text)
    }
}

/// Either kind of statement, for a batch that mixes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Statement {
    /// Reads only.
    Read(Read),
    /// Changes data, the session or the transaction.
    Write(Write),
}

/// Server, database and whether the database can be written.
pub fn server_info() -> Read {
    Read(SERVER_INFO.to_string())
}

/// The availability-group database ID; only for SQL Server 2012 and later.
pub fn group_database_id() -> Read {
    Read(GROUP_DATABASE_ID.to_string())
}

/// Every column of every user table.
pub fn catalog_columns() -> Read {
    Read(CATALOG_COLUMNS.to_string())
}

/// Primary key columns in key order.
pub fn catalog_primary_keys() -> Read {
    Read(CATALOG_PRIMARY_KEYS.to_string())
}

/// Whether the login may update a table and its owner column: parameter
/// `@P{first}` holds the table's two-part quoted name, the next one the
/// owner column's name, so that several tables go in one batch.
pub fn permissions(first: usize) -> Read {
    Read(render(
        PERMISSIONS,
        &[
            ("table_param", &format!("@P{first}")),
            ("column_param", &format!("@P{}", first + 1)),
        ],
    ))
}

/// `SET LOCK_TIMEOUT n;` for a session's reads (n milliseconds, -1 waits as
/// long as it takes). It changes nothing but how long this session waits.
pub fn lock_timeout(lock_timeout_ms: i32) -> Read {
    Read(render(
        LOCK_TIMEOUT,
        &[("lock_timeout_ms", &lock_timeout_ms.to_string())],
    ))
}

/// The other sessions holding locks in the database (needs VIEW SERVER
/// STATE).
pub fn lock_holders() -> Read {
    Read(LOCK_HOLDERS.to_string())
}

/// The rows of `dbo.OwnerPool`: ID and name (a typed NULL without a name
/// column).
pub fn owner_pools(pool: &QuotedPoolTable) -> Read {
    let name = match &pool.name {
        Some(c) => format!("CAST({c} AS nvarchar(256))"),
        None => "CAST(NULL AS nvarchar(256))".to_string(),
    };
    Read(render(
        OWNER_POOLS,
        &[
            ("id", &pool.id),
            ("name", &name),
            ("pool_table", &pool.table),
        ],
    ))
}

/// Rows per owner value of one table, with the pool each owner names as
/// the server matches them.
///
/// With `summed`, each table's line for the rows without an owner also
/// carries the checksum of their keys, as [`null_owner_summary`] computes
/// it (for a plan, in the same scan); without, a typed NULL.
pub fn owner_counts(t: &QuotedTable, pool: &QuotedPoolTable, summed: bool) -> Read {
    let checksum = if summed {
        format!(
            "CHECKSUM_AGG(CASE WHEN t.{} IS NULL THEN BINARY_CHECKSUM({}) END)",
            t.owner,
            summary_keys(t)
        )
    } else {
        "CAST(NULL AS int)".to_string()
    };
    Read(render(
        OWNER_COUNTS,
        &[
            ("owner", &t.owner),
            ("table", &t.table),
            ("pool_table", &pool.table),
            ("pool_id", &pool.id),
            ("key_checksum", &checksum),
        ],
    ))
}

/// The key columns a summary checksums; a table without a key is never
/// changed, and its summary counts alone (a constant checksums nothing).
fn summary_keys(t: &QuotedTable) -> String {
    if t.keys.is_empty() {
        "0".to_string()
    } else {
        t.key_list()
    }
}

/// Which rows of a table a finding names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FindingKind {
    /// The owner is NULL.
    NullOwner,
    /// The owner names no pool.
    DanglingOwner,
}

/// The rows of one table that `kind` names, in key order: key columns (one
/// typed NULL for a table without a key), display name, owner. With
/// `top_param` (`n` of `@Pn`), only the first that many rows.
pub fn finding_rows(
    t: &QuotedTable,
    pool: &QuotedPoolTable,
    kind: FindingKind,
    top_param: Option<usize>,
) -> Read {
    // Without a key the rows cannot be named; they are counted only.
    let (keys, order) = if t.keys.is_empty() {
        ("CAST(NULL AS int) AS no_key".to_string(), "1".to_string())
    } else {
        (t.key_list(), t.key_list())
    };
    let display = display(t);
    let which = match kind {
        FindingKind::NullOwner => format!("t.{} IS NULL", t.owner),
        FindingKind::DanglingOwner => format!(
            "t.{o} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {pt} AS p WHERE p.{pid} = t.{o})",
            o = t.owner,
            pt = pool.table,
            pid = pool.id
        ),
    };
    Read(render(
        FINDING_ROWS,
        &[
            ("top", &top(top_param)),
            ("keys", &keys),
            ("order", &order),
            ("display", &display),
            ("which", &which),
            ("owner", &t.owner),
            ("table", &t.table),
        ],
    ))
}

/// `SET XACT_ABORT ON; SET LOCK_TIMEOUT n;`
pub fn session_setup(lock_timeout_ms: i32) -> Write {
    Write(render(
        SESSION_SETUP,
        &[("lock_timeout_ms", &lock_timeout_ms.to_string())],
    ))
}

/// `BEGIN TRANSACTION`
pub fn begin() -> Write {
    Write(BEGIN.to_string())
}

/// `COMMIT TRANSACTION`
pub fn commit() -> Write {
    Write(COMMIT.to_string())
}

/// Rolls back if a transaction is still open.
pub fn rollback() -> Write {
    Write(ROLLBACK.to_string())
}

/// The display name of a finding row: the name column as nvarchar(256),
/// or a typed NULL.
fn display(t: &QuotedTable) -> String {
    match &t.display {
        Some(d) => format!("CAST(t.{d} AS nvarchar(256))"),
        None => "CAST(NULL AS nvarchar(256))".to_string(),
    }
}

/// How many rows of a table have no owner, and the checksum of their keys;
/// `locked` inside the fix, where the rows stay locked until COMMIT.
pub fn null_owner_summary(t: &QuotedTable, locked: bool) -> Read {
    let keys = summary_keys(t);
    Read(render(
        NULL_OWNER_SUMMARY,
        &[
            ("keys", &keys),
            ("table", &t.table),
            ("owner", &t.owner),
            (
                "lock",
                if locked {
                    "WITH (UPDLOCK, HOLDLOCK)"
                } else {
                    ""
                },
            ),
        ],
    ))
}

/// Inside the fix: locks and reads the rows still without an owner (keys
/// and name), for the journal.
pub fn fix_recheck(t: &QuotedTable) -> Read {
    Read(render(
        FIX_RECHECK,
        &[
            ("keys", &t.key_list()),
            ("display", &display(t)),
            ("table", &t.table),
            ("owner", &t.owner),
        ],
    ))
}

/// Sets the owner of every row without one; `@P1` is the pool ID.
pub fn fix_update(t: &QuotedTable) -> Write {
    Write(render(
        FIX_UPDATE,
        &[("table", &t.table), ("owner", &t.owner)],
    ))
}

/// Counts the rows still without an owner.
pub fn fix_verify(t: &QuotedTable) -> Read {
    Read(render(
        FIX_VERIFY,
        &[("table", &t.table), ("owner", &t.owner)],
    ))
}

/// A statement that writes only the session's own temporary table (in
/// tempdb, which no other session sees): never the database. undo keeps
/// the journal's keys there, so that they travel once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scratch(String);

impl Scratch {
    /// The text sent to the server.
    pub fn text(&self) -> &str {
        &self.0
    }

    /// Several in one batch.
    pub fn batch(parts: impl IntoIterator<Item = Scratch>) -> Scratch {
        Scratch(
            parts
                .into_iter()
                .map(|s| s.0)
                .collect::<Vec<_>>()
                .join("\n"),
        )
    }
}

/// The temporary table that holds the keys of the journal's table number
/// `n` (from 1).
pub fn undo_keys_table(n: usize) -> String {
    format!("[#rgs_undo_{n}]")
}

/// The SQL type a temporary key column takes for a key column of
/// `type_name` (as `sys.types` names it); None for a type no journal holds.
fn key_type(type_name: &str) -> Option<&'static str> {
    Some(match type_name.to_ascii_lowercase().as_str() {
        "uniqueidentifier" => "uniqueidentifier",
        "int" => "int",
        "bigint" => "bigint",
        "smallint" => "smallint",
        "tinyint" => "tinyint",
        "bit" => "bit",
        // Key columns are at most 900 bytes.
        "nvarchar" | "nchar" | "sysname" => "nvarchar(450) COLLATE DATABASE_DEFAULT",
        "varchar" | "char" => "varchar(900) COLLATE DATABASE_DEFAULT",
        _ => return None,
    })
}

/// `CREATE TABLE #rgs_undo_n (...)` for `t`'s key columns, typed as
/// `types` (`sys.types` names, in key order).
pub fn undo_keys_create(t: &QuotedTable, n: usize, types: &[String]) -> Option<Scratch> {
    let columns: Vec<String> = t
        .keys
        .iter()
        .zip(types)
        .map(|(k, ty)| key_type(ty).map(|ty| format!("{k} {ty} NOT NULL")))
        .collect::<Option<_>>()?;
    Some(Scratch(render(
        UNDO_KEYS_CREATE,
        &[
            ("temp", &undo_keys_table(n)),
            ("columns", &columns.join(", ")),
            ("key_list", &t.key_list()),
        ],
    )))
}

/// `rows` keys of `t` into `#rgs_undo_n`, their values as parameters from
/// `@P{first}`.
pub fn undo_keys_insert(t: &QuotedTable, n: usize, rows: usize, first: usize) -> Scratch {
    let width = t.keys.len();
    let values: Vec<String> = (0..rows)
        .map(|r| {
            let p: Vec<String> = (0..width)
                .map(|c| format!("@P{}", first + r * width + c))
                .collect();
            format!("({})", p.join(", "))
        })
        .collect();
    Scratch(render(
        UNDO_KEYS_INSERT,
        &[
            ("temp", &undo_keys_table(n)),
            ("key_list", &t.key_list()),
            ("rows", &values.join(", ")),
        ],
    ))
}

/// The placeholders the undo reads share: the temporary table's key
/// columns, the first key column, the join of the two tables.
fn undo_parts(t: &QuotedTable, n: usize) -> (String, String, String) {
    let k_keys: Vec<String> = t.keys.iter().map(|k| format!("k.{k}")).collect();
    let join: Vec<String> = t.keys.iter().map(|k| format!("t.{k} = k.{k}")).collect();
    (k_keys.join(", "), undo_keys_table(n), join.join(" AND "))
}

/// The server's summary of the journalled rows of `t` (keys in
/// `#rgs_undo_n`): how many, how many are gone, how many still hold the
/// fixed value `@P1`, and the checksum of those rows' keys; `locked` inside
/// the undo transaction.
pub fn undo_summary(t: &QuotedTable, n: usize, locked: bool) -> Read {
    let (k_keys, temp, join) = undo_parts(t, n);
    Read(render(
        UNDO_SUMMARY,
        &[
            ("first_key", &t.keys[0]),
            ("owner", &t.owner),
            ("k_keys", &k_keys),
            ("temp", &temp),
            ("table", &t.table),
            (
                "lock",
                if locked {
                    "WITH (UPDLOCK, HOLDLOCK)"
                } else {
                    ""
                },
            ),
            ("join", &join),
        ],
    ))
}

/// The journalled rows of `t` (keys in `#rgs_undo_n`) that no longer hold
/// the fixed value `@P1`, with what they hold now.
pub fn undo_left_alone(t: &QuotedTable, n: usize) -> Read {
    let (k_keys, temp, join) = undo_parts(t, n);
    Read(render(
        UNDO_LEFT_ALONE,
        &[
            ("k_keys", &k_keys),
            ("first_key", &t.keys[0]),
            ("owner", &t.owner),
            ("temp", &temp),
            ("table", &t.table),
            ("join", &join),
        ],
    ))
}

/// Puts the journalled rows of `t` (keys in `#rgs_undo_n`) back to NULL
/// where they still hold `@P1`, and selects its own row count.
pub fn undo_update(t: &QuotedTable, n: usize) -> Write {
    let join: Vec<String> = t
        .keys
        .iter()
        .map(|k| format!("k.{k} = {}.{k}", t.table))
        .collect();
    Write(render(
        UNDO_UPDATE,
        &[
            ("table", &t.table),
            ("owner", &t.owner),
            ("temp", &undo_keys_table(n)),
            ("join", &join.join(" AND ")),
        ],
    ))
}

/// Fills a template's `{name}` placeholders.
///
/// The values must already be quoted identifiers or SQL built from them;
/// a placeholder without a value, or a value without a placeholder, is a bug
/// and panics rather than sending half-filled SQL (the second check only in
/// debug builds, where the tests run).
/// Declared, enabled foreign keys, one row per key column.
pub fn catalog_foreign_keys() -> Read {
    Read(CATALOG_FOREIGN_KEYS.to_string())
}

/// Columns named `LineUri` or `TelUri` (any case), by table.
pub fn catalog_line_uri_columns() -> Read {
    Read(CATALOG_LINE_URI_COLUMNS.to_string())
}

/// `TOP (@Pn)`, or nothing.
fn top(top_param: Option<usize>) -> String {
    top_param.map_or(String::new(), |n| format!("TOP (@P{n})"))
}

fn render(template: &str, values: &[(&str, &str)]) -> String {
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
        let q = QuotedTable {
            table: "[dbo].[Queues]".into(),
            owner: "[OwnerPoolId]".into(),
            keys: vec!["[ID]".into()],
            display: None,
        };
        let sql = fix_update(&q);
        assert_eq!(
            strip_comments(sql.text()),
            "UPDATE [dbo].[Queues]\nSET [OwnerPoolId] = @P1\nWHERE [OwnerPoolId] IS NULL;\nSELECT CAST(@@ROWCOUNT AS bigint) AS changed;"
        );
    }

    #[test]
    fn a_plans_owner_counts_checksum_the_keys_the_locked_summary_does() {
        let q = QuotedTable {
            table: "[dbo].[T]".into(),
            owner: "[o]".into(),
            keys: vec!["[a]".into(), "[b]".into()],
            display: None,
        };
        let pool = QuotedPoolTable {
            table: "[dbo].[OwnerPool]".into(),
            id: "[ID]".into(),
            name: None,
        };
        let summed = strip_comments(owner_counts(&q, &pool, true).text());
        assert!(
            summed.contains("CHECKSUM_AGG(CASE WHEN t.[o] IS NULL THEN BINARY_CHECKSUM([a], [b]) END) AS key_checksum"),
            "{summed}"
        );
        assert!(strip_comments(null_owner_summary(&q, true).text())
            .contains("CHECKSUM_AGG(BINARY_CHECKSUM([a], [b]))"));
        let plain = strip_comments(owner_counts(&q, &pool, false).text());
        assert!(
            plain.contains("CAST(NULL AS int) AS key_checksum"),
            "{plain}"
        );
        assert!(!plain.contains("CHECKSUM_AGG"));
        // A table without a key: counted alone, by both.
        let keyless = QuotedTable {
            keys: Vec::new(),
            ..q
        };
        assert!(owner_counts(&keyless, &pool, true)
            .text()
            .contains("BINARY_CHECKSUM(0)"));
        assert!(null_owner_summary(&keyless, false)
            .text()
            .contains("BINARY_CHECKSUM(0)"));
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
    fn undo_joins_the_keys_it_sent_once() {
        let q = QuotedTable {
            table: "[dbo].[T]".into(),
            owner: "[o]".into(),
            keys: vec!["[a]".into(), "[b]".into()],
            display: None,
        };
        let create = undo_keys_create(&q, 2, &["int".into(), "nvarchar".into()]).unwrap();
        assert!(create.text().contains(
            "CREATE TABLE [#rgs_undo_2] ([a] int NOT NULL, [b] nvarchar(450) COLLATE DATABASE_DEFAULT NOT NULL, PRIMARY KEY ([a], [b]));"
        ));
        assert!(undo_keys_create(&q, 1, &["int".into(), "xml".into()]).is_none());
        let sum = undo_summary(&q, 2, true);
        assert!(sum.text().contains(
            "LEFT JOIN [dbo].[T] AS t WITH (UPDLOCK, HOLDLOCK) ON t.[a] = k.[a] AND t.[b] = k.[b]"
        ));
        assert!(sum.text().contains("BINARY_CHECKSUM(k.[a], k.[b])"));
        assert!(!strip_comments(undo_summary(&q, 2, false).text()).contains("UPDLOCK"));
        assert!(undo_left_alone(&q, 2).text().contains(
            "FROM [#rgs_undo_2] AS k\nLEFT JOIN [dbo].[T] AS t ON t.[a] = k.[a] AND t.[b] = k.[b]"
        ));
        let upd = undo_update(&q, 2);
        assert!(upd
            .text()
            .contains("EXISTS (SELECT 1 FROM [#rgs_undo_2] AS k WHERE k.[a] = [dbo].[T].[a] AND k.[b] = [dbo].[T].[b])"));
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
            "temp",
            "columns",
            "key_list",
            "rows",
            "k_keys",
            "first_key",
            "lock",
            "join",
            "lock_timeout_ms",
            "table_param",
            "column_param",
            "top",
            "which",
            "key_checksum",
        ];
        for t in [
            SERVER_INFO,
            GROUP_DATABASE_ID,
            CATALOG_COLUMNS,
            CATALOG_PRIMARY_KEYS,
            PERMISSIONS,
            SESSION_SETUP,
            LOCK_TIMEOUT,
            LOCK_HOLDERS,
            OWNER_POOLS,
            OWNER_COUNTS,
            FINDING_ROWS,
            BEGIN,
            COMMIT,
            ROLLBACK,
            FIX_RECHECK,
            NULL_OWNER_SUMMARY,
            FIX_UPDATE,
            FIX_VERIFY,
            UNDO_KEYS_CREATE,
            UNDO_KEYS_INSERT,
            UNDO_SUMMARY,
            UNDO_LEFT_ALONE,
            UNDO_UPDATE,
            CATALOG_FOREIGN_KEYS,
            CATALOG_LINE_URI_COLUMNS,
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
            NULL_OWNER_SUMMARY,
            FIX_VERIFY,
            UNDO_SUMMARY,
            UNDO_LEFT_ALONE,
            UNDO_UPDATE,
            OWNER_COUNTS,
            FINDING_ROWS,
        ] {
            assert!(!strip_comments(t).contains('\''), "{t}");
        }
    }
}
