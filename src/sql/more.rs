//! The T-SQL of the findings beyond ownership (RGS005-RGS008, see
//! [`crate::inspect::more`]): per finding, a `COUNT_BIG(*)` statement and
//! the statement that lists its rows in key order, the first ones (`TOP`)
//! or all. The conditions are the server's: for unused rows one
//! `NOT EXISTS` per declared use path, AND-ed.

use super::{display, render, top, Read};
use crate::quote::QuotedTable;

/// Rows of one table without a line URI.
const FINDING_NO_LINE_URI: &str = include_str!("../../sql/finding_no_line_uri.sql");
/// How many rows of one table have no line URI.
const FINDING_NO_LINE_URI_COUNT: &str = include_str!("../../sql/finding_no_line_uri_count.sql");
/// Rows of one table that no way of using them uses.
const FINDING_UNUSED: &str = include_str!("../../sql/finding_unused.sql");
/// How many rows of one table no way of using them uses.
const FINDING_UNUSED_COUNT: &str = include_str!("../../sql/finding_unused_count.sql");

/// The key and display lists of a finding query on `t` (which has a key).
fn finding_lists(t: &QuotedTable) -> (String, String) {
    let keys = t
        .keys
        .iter()
        .map(|k| format!("t.{k}"))
        .collect::<Vec<_>>()
        .join(", ");
    (keys, display(t))
}

/// How many rows of `t` have a NULL or blank line URI `column` (quoted).
pub fn finding_no_line_uri_count(t: &QuotedTable, column: &str) -> Read {
    Read(render(
        FINDING_NO_LINE_URI_COUNT,
        &[("table", &t.table), ("column", column)],
    ))
}

/// The rows of `t` whose line URI `column` (quoted) is NULL or blank, in
/// key order: key columns, display name. With `top_param` (`n` of `@Pn`),
/// only the first that many. `t` must have a key.
pub fn finding_no_line_uri(t: &QuotedTable, column: &str, top_param: Option<usize>) -> Read {
    let (keys, display) = finding_lists(t);
    Read(render(
        FINDING_NO_LINE_URI,
        &[
            ("top", &top(top_param)),
            ("keys", &keys),
            ("display", &display),
            ("table", &t.table),
            ("column", column),
            ("order", &keys),
        ],
    ))
}

/// One declared way rows of a table are used, every name quoted: the
/// referencing table (the user, or a link table), its referencing column,
/// and the column of the used table it refers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuotedUsePath {
    /// `[schema].[table]` of the referencing table.
    pub table: String,
    /// Its referencing column.
    pub column: String,
    /// The referenced column of the used table.
    pub used_column: String,
}

/// `NOT EXISTS (...)` for each path, AND-ed: true of a row of `t` that no
/// path uses. Each subquery has its own alias, so that no reference can
/// bind to another path's table.
fn unused_condition(paths: &[QuotedUsePath]) -> String {
    paths
        .iter()
        .enumerate()
        .map(|(n, p)| {
            format!(
                "NOT EXISTS (SELECT 1 FROM {lt} AS u{n} WHERE u{n}.{lc} = t.{c})",
                lt = p.table,
                lc = p.column,
                c = p.used_column
            )
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// How many rows of `t` no path of `paths` uses. `paths` must not be
/// empty (no declared way of use says nothing about use).
pub fn finding_unused_count(t: &QuotedTable, paths: &[QuotedUsePath]) -> Read {
    assert!(!paths.is_empty(), "an unused-rows query needs a use path");
    Read(render(
        FINDING_UNUSED_COUNT,
        &[("table", &t.table), ("unused", &unused_condition(paths))],
    ))
}

/// The rows of `t` no path of `paths` uses, in key order: key columns,
/// display name. With `top_param` (`n` of `@Pn`), only the first that
/// many. `t` must have a key; `paths` must not be empty.
pub fn finding_unused(t: &QuotedTable, paths: &[QuotedUsePath], top_param: Option<usize>) -> Read {
    assert!(!paths.is_empty(), "an unused-rows query needs a use path");
    let (keys, display) = finding_lists(t);
    Read(render(
        FINDING_UNUSED,
        &[
            ("top", &top(top_param)),
            ("keys", &keys),
            ("display", &display),
            ("table", &t.table),
            ("unused", &unused_condition(paths)),
            ("order", &keys),
        ],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::strip_comments;

    #[test]
    fn unused_rows_are_one_statement_whatever_the_number_of_paths() {
        let q = QuotedTable {
            table: "[dbo].[AgentGroups]".into(),
            owner: "[OwnerPoolId]".into(),
            keys: vec!["[ID]".into()],
            display: Some("[Name]".into()),
        };
        let path = |t: &str, c: &str| QuotedUsePath {
            table: t.into(),
            column: c.into(),
            used_column: "[ID]".into(),
        };
        let paths = [
            path("[dbo].[QueueAgentGroups]", "[GroupId]"),
            path("[dbo].[Queues]", "[DefaultGroupId]"),
        ];
        assert_eq!(
            strip_comments(finding_unused_count(&q, &paths).text()),
            "SELECT COUNT_BIG(*) AS row_count\nFROM [dbo].[AgentGroups] AS t\n\
             WHERE NOT EXISTS (SELECT 1 FROM [dbo].[QueueAgentGroups] AS u0 WHERE u0.[GroupId] = t.[ID]) \
             AND NOT EXISTS (SELECT 1 FROM [dbo].[Queues] AS u1 WHERE u1.[DefaultGroupId] = t.[ID]);"
        );
        let rows = strip_comments(finding_unused(&q, &paths, Some(3)).text());
        assert!(rows.starts_with(
            "SELECT TOP (@P3) t.[ID], CAST(t.[Name] AS nvarchar(256)) AS display_name\nFROM [dbo].[AgentGroups] AS t\nWHERE NOT EXISTS"
        ), "{rows}");
        assert!(rows.ends_with("ORDER BY t.[ID];"), "{rows}");
        let all = strip_comments(finding_unused(&q, &paths[..1], None).text());
        assert!(all.starts_with("SELECT  t.[ID]"), "{all}");
        let uri = strip_comments(finding_no_line_uri_count(&q, "[LineUri]").text());
        assert_eq!(
            uri,
            "SELECT COUNT_BIG(*) AS row_count\nFROM [dbo].[AgentGroups] AS t\nWHERE t.[LineUri] IS NULL OR LTRIM(RTRIM(t.[LineUri])) = N'';"
        );
    }

    #[test]
    fn unused_statements_carry_no_literal_value() {
        for t in [FINDING_UNUSED, FINDING_UNUSED_COUNT] {
            assert!(!strip_comments(t).contains('\''), "{t}");
        }
    }

    #[test]
    fn placeholders_are_known_and_none_is_inside_a_comment() {
        // A value filled into a `--` line would end the comment at its
        // first line break and run the rest as SQL.
        for t in [
            FINDING_NO_LINE_URI,
            FINDING_NO_LINE_URI_COUNT,
            FINDING_UNUSED,
            FINDING_UNUSED_COUNT,
        ] {
            for l in t.lines() {
                if l.trim_start().starts_with("--") {
                    assert!(!l.contains('{'), "{l}");
                }
                for part in l.split('{').skip(1) {
                    let name = part.split('}').next().unwrap_or_default();
                    assert!(
                        ["top", "keys", "display", "table", "column", "unused", "order"]
                            .contains(&name),
                        "unknown placeholder {{{name}}} in\n{t}"
                    );
                }
            }
        }
    }
}
