//! The findings beyond ownership (RGS005-RGS010): contact objects without a
//! line URI, agents, groups and queues nothing uses (only along links the
//! catalog declares), pools that own nothing. Read-only, like the rest of
//! the room; reported, never changed.

use super::{Finding, Inspection, ObjectRow};
use crate::connect::Row;
use crate::findings as codes;
use crate::quote::{quote_name, quote_two_part};
use crate::sql;
use crate::value::DbValue;

/// Who uses whom: (user table, used table, code), by table name. The
/// tables are found among the object tables; the links between them only
/// in `sys.foreign_keys`.
const USES: &[(&str, &str, &str)] = &[
    ("AgentGroups", "Agents", codes::AGENT_IN_NO_GROUP),
    ("Queues", "AgentGroups", codes::GROUP_IN_NO_QUEUE),
    ("Workflows", "Queues", codes::QUEUE_IN_NO_WORKFLOW),
];

/// A single-column declared foreign key: (schema, table, column) of the
/// referencing side, then of the referenced side.
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    /// Referencing `(schema, table, column)`.
    pub from: (String, String, String),
    /// Referenced `(schema, table, column)`.
    pub to: (String, String, String),
}

/// A way rows of a used table are used: a table and its column that refers
/// to a column of the used table.
#[derive(Clone, Debug, PartialEq)]
pub struct UsePath {
    /// `(schema, table)` of the referencing table (the user, or a link table).
    pub table: (String, String),
    /// Its referencing column.
    pub column: String,
    /// The referenced column of the used table.
    pub used_column: String,
}

impl Finding {
    /// The finding's code in the catalogue ([`crate::findings`]).
    pub fn code(&self) -> &'static str {
        match self {
            Finding::NullOwner { .. } => codes::NULL_OWNER,
            Finding::DanglingOwner { .. } => codes::DANGLING_OWNER,
            Finding::NoOwnerPools => codes::NO_OWNER_POOLS,
            Finding::Unfixable { .. } => codes::UNFIXABLE,
            Finding::NoLineUri { .. } => codes::NO_LINE_URI,
            Finding::Unused { code, .. } => code,
            Finding::IdlePools { .. } => codes::IDLE_POOL,
            Finding::LinksNotDeclared { .. } => codes::LINKS_NOT_DECLARED,
        }
    }

    /// Its catalogue entry.
    pub fn entry(&self) -> &'static codes::Code {
        codes::lookup(self.code()).expect("every finding's code is in the catalogue")
    }

    /// The objects it names, for the kinds that name objects.
    pub fn objects_mut(&mut self) -> Option<&mut Vec<ObjectRow>> {
        match self {
            Finding::NullOwner { objects, .. }
            | Finding::DanglingOwner { objects, .. }
            | Finding::NoLineUri { objects, .. }
            | Finding::Unused { objects, .. } => Some(objects),
            Finding::NoOwnerPools
            | Finding::Unfixable { .. }
            | Finding::IdlePools { .. }
            | Finding::LinksNotDeclared { .. } => None,
        }
    }
}

/// What the catalog says that these findings need: the line-URI columns
/// and the declared single-column links. Read in [`super::inspect`]'s
/// catalog round trip.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MoreCatalog {
    /// `(schema, table, column)` of each column named like a line URI.
    pub line_uri_columns: Vec<(String, String, String)>,
    /// Declared single-column foreign keys.
    pub links: Vec<Link>,
}

impl MoreCatalog {
    /// From the answers to [`sql::catalog_line_uri_columns`] and
    /// [`sql::catalog_foreign_keys`].
    pub fn from_rows(line_uri: &[Row], foreign_keys: &[Row]) -> MoreCatalog {
        MoreCatalog {
            line_uri_columns: line_uri
                .iter()
                .map(|r| (r.text(0), r.text(1), r.text(2)))
                .collect(),
            links: links(foreign_keys),
        }
    }
}

/// The two statements of one finding of RGS005-RGS008: its exact count,
/// answered with the pools and owner counts, and its rows in key order,
/// answered at the end of the batch (so that they can be streamed).
#[derive(Clone, Debug)]
pub struct MoreQuery {
    /// `COUNT_BIG(*)` of the rows the finding names.
    pub count: sql::Read,
    /// Those rows (the first ones, or all): key columns, display name.
    pub rows: sql::Read,
    what: Kind,
}

#[derive(Clone, Debug)]
enum Kind {
    NoLineUri {
        table: String,
        column: String,
    },
    /// Rows of `table` that no declared way by which `by` uses them uses.
    Unused {
        code: &'static str,
        table: String,
        by: String,
    },
}

/// The queries RGS005-RGS008 need for `tables` (object tables as the
/// catalog found them), sent with the second round trip of
/// [`super::inspect`], one pair per finding; and the links the catalog does
/// not declare (RGS010). `top` is the parameter (`n` of `@Pn`) that limits
/// the rows, when only the first ones are read.
pub fn queries(
    tables: &[super::ObjectTable],
    cat: &MoreCatalog,
    top: Option<usize>,
) -> (Vec<MoreQuery>, Vec<String>) {
    let objects: Vec<&super::ObjectTable> = tables
        .iter()
        .filter(|t| t.copy_of.is_none() && !t.key.is_empty())
        .collect();
    let mut out = Vec::new();
    for (schema, table, column) in &cat.line_uri_columns {
        let Some(t) = objects
            .iter()
            .find(|t| same(&t.schema, &t.table, schema, table))
        else {
            continue;
        };
        let (Some(q), Some(col)) = (t.quoted(), quote_name(column)) else {
            continue;
        };
        out.push(MoreQuery {
            count: sql::finding_no_line_uri_count(&q, &col),
            rows: sql::finding_no_line_uri(&q, &col, top),
            what: Kind::NoLineUri {
                table: t.full_name(),
                column: column.clone(),
            },
        });
    }
    let mut missing = Vec::new();
    for (user, used, code) in USES {
        let (Some(u), Some(x)) = (by_name(&objects, user), by_name(&objects, used)) else {
            continue;
        };
        let paths = use_paths(&cat.links, (&u.schema, &u.table), (&x.schema, &x.table));
        if paths.is_empty() {
            missing.push(format!("{} -> {}", u.full_name(), x.full_name()));
            continue;
        }
        // A path left out would call rows unused that it uses: all or none.
        let (Some(q), Some(quoted)) = (x.quoted(), quote_paths(&paths)) else {
            continue;
        };
        out.push(MoreQuery {
            count: sql::finding_unused_count(&q, &quoted),
            rows: sql::finding_unused(&q, &quoted, top),
            what: Kind::Unused {
                code,
                table: x.full_name(),
                by: u.full_name(),
            },
        });
    }
    (out, missing)
}

fn quote_paths(paths: &[UsePath]) -> Option<Vec<sql::QuotedUsePath>> {
    paths
        .iter()
        .map(|p| {
            Some(sql::QuotedUsePath {
                table: quote_two_part(&p.table.0, &p.table.1)?,
                column: quote_name(&p.column)?,
                used_column: quote_name(&p.used_column)?,
            })
        })
        .collect()
}

/// RGS005-RGS008 from the answers to the `count` statements of `queries`
/// (in order), without their objects (they come later, from the `rows`
/// statements): the findings, and for each query the index of its finding
/// among them (None: nothing found).
pub fn collect(queries: &[MoreQuery], counts: Vec<Vec<Row>>) -> (Vec<Finding>, Vec<Option<usize>>) {
    let mut out = Vec::new();
    let mut at = Vec::with_capacity(queries.len());
    for (q, rows) in queries
        .iter()
        .zip(counts.into_iter().chain(std::iter::repeat_with(Vec::new)))
    {
        let count = rows.first().map_or(0, |r| r.int(0).max(0) as usize);
        if count == 0 {
            at.push(None);
            continue;
        }
        at.push(Some(out.len()));
        out.push(match &q.what {
            Kind::NoLineUri { table, column } => Finding::NoLineUri {
                table: table.clone(),
                column: column.clone(),
                count,
                objects: Vec::new(),
            },
            Kind::Unused { code, table, by } => Finding::Unused {
                code,
                table: table.clone(),
                by: by.clone(),
                count,
                objects: Vec::new(),
            },
        });
    }
    (out, at)
}

/// A row of a `rows` statement: the key values, then the display name.
pub fn object_row(row: Row) -> ObjectRow {
    let mut values = row.values;
    let name = match values.pop() {
        Some(DbValue::Null) | None => None,
        Some(v) => Some(v.to_string()),
    };
    ObjectRow {
        key: values,
        name,
        owner: DbValue::Null,
    }
}

impl Inspection {
    /// Pools that own nothing (RGS009).
    pub fn idle_pools(&self) -> Option<Finding> {
        let idle: Vec<_> = self
            .objects_per_pool()
            .into_iter()
            .filter(|(_, n)| *n == 0)
            .map(|(p, _)| p)
            .collect();
        (!idle.is_empty()).then_some(Finding::IdlePools { pools: idle })
    }
}

fn same(a_schema: &str, a_table: &str, b_schema: &str, b_table: &str) -> bool {
    a_schema.eq_ignore_ascii_case(b_schema) && a_table.eq_ignore_ascii_case(b_table)
}

/// The object table of that name (dbo first, then any schema).
fn by_name<'a>(objects: &[&'a super::ObjectTable], name: &str) -> Option<&'a super::ObjectTable> {
    let named = || {
        objects
            .iter()
            .filter(|t| t.table.eq_ignore_ascii_case(name))
    };
    named()
        .find(|t| t.schema.eq_ignore_ascii_case("dbo"))
        .or_else(|| named().next())
        .copied()
}

/// The declared single-column foreign keys (composite keys are left out:
/// no link between objects has one).
fn links(rows: &[Row]) -> Vec<Link> {
    let mut per_key: Vec<(i64, Vec<Link>)> = Vec::new();
    for r in rows {
        let link = Link {
            from: (r.text(1), r.text(2), r.text(3)),
            to: (r.text(4), r.text(5), r.text(6)),
        };
        match per_key.last_mut() {
            Some((id, v)) if *id == r.int(0) => v.push(link),
            _ => per_key.push((r.int(0), vec![link])),
        }
    }
    per_key
        .into_iter()
        .filter(|(_, v)| v.len() == 1)
        .flat_map(|(_, v)| v)
        .collect()
}

/// How `user` uses rows of `used`: a key from the user to the used table,
/// or a link table with keys to both.
pub fn use_paths(links: &[Link], user: (&str, &str), used: (&str, &str)) -> Vec<UsePath> {
    let to = |l: &Link, t: (&str, &str)| same(&l.to.0, &l.to.1, t.0, t.1);
    let from = |l: &Link, t: (&str, &str)| same(&l.from.0, &l.from.1, t.0, t.1);
    let mut out = Vec::new();
    for l in links.iter().filter(|l| to(l, used)) {
        let link_table = (l.from.0.as_str(), l.from.1.as_str());
        let direct = from(l, user);
        let via_link = !from(l, used) && links.iter().any(|m| from(m, link_table) && to(m, user));
        if direct || via_link {
            out.push(UsePath {
                table: (l.from.0.clone(), l.from.1.clone()),
                column: l.from.2.clone(),
                used_column: l.to.2.clone(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(from: (&str, &str), to: (&str, &str)) -> Link {
        let t = |(t, c): (&str, &str)| ("dbo".to_string(), t.to_string(), c.to_string());
        Link {
            from: t(from),
            to: t(to),
        }
    }

    #[test]
    fn links_are_direct_keys_or_link_tables_with_keys_to_both_sides() {
        let links = vec![
            link(("AgentGroupAgents", "GroupId"), ("AgentGroups", "ID")),
            link(("AgentGroupAgents", "AgentId"), ("Agents", "ID")),
            link(("Workflows", "QueueId"), ("Queues", "ID")),
        ];
        let p = use_paths(&links, ("dbo", "AgentGroups"), ("dbo", "Agents"));
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].table.1, "AgentGroupAgents");
        assert_eq!(p[0].column, "AgentId");
        let p = use_paths(&links, ("dbo", "workflows"), ("DBO", "Queues"));
        assert_eq!(p[0].column, "QueueId");
        // Membership says nothing about which queue uses a group.
        assert!(use_paths(&links, ("dbo", "Queues"), ("dbo", "AgentGroups")).is_empty());
    }

    fn table(name: &str) -> super::super::ObjectTable {
        let col = |n: &str, t: &str| super::super::TypedColumn {
            name: n.to_string(),
            type_name: t.to_string(),
        };
        super::super::ObjectTable {
            schema: "dbo".into(),
            table: name.into(),
            owner: col("OwnerPoolId", "uniqueidentifier"),
            key: vec![col("ID", "uniqueidentifier")],
            display_column: Some("Name".into()),
            copy_of: None,
        }
    }

    fn count(n: i64) -> Vec<Row> {
        vec![Row {
            values: vec![DbValue::BigInt(n)],
        }]
    }

    #[test]
    fn one_count_and_one_row_statement_per_finding_whatever_the_paths() {
        // Two ways a queue uses a group: directly and through a link table.
        let cat = MoreCatalog {
            line_uri_columns: vec![("dbo".into(), "Workflows".into(), "LineUri".into())],
            links: vec![
                link(("Queues", "DefaultGroupId"), ("AgentGroups", "ID")),
                link(("QueueAgentGroups", "GroupId"), ("AgentGroups", "ID")),
                link(("QueueAgentGroups", "QueueId"), ("Queues", "ID")),
            ],
        };
        let tables: Vec<_> = ["Workflows", "Queues", "AgentGroups"]
            .into_iter()
            .map(table)
            .collect();
        let (q, missing) = queries(&tables, &cat, Some(7));
        assert_eq!(q.len(), 2, "{q:?}");
        let unused = q[1].count.text();
        assert_eq!(unused.matches("NOT EXISTS").count(), 2, "{unused}");
        assert!(unused.contains("[dbo].[Queues] AS u0 WHERE u0.[DefaultGroupId] = t.[ID])"));
        assert!(unused.contains(") AND NOT EXISTS (SELECT 1 FROM [dbo].[QueueAgentGroups] AS u1"));
        assert!(unused.contains("COUNT_BIG(*)"));
        assert!(q[1].rows.text().contains("SELECT TOP (@P7) t.[ID]"));
        assert!(q[0].rows.text().contains("SELECT TOP (@P7) t.[ID]"));
        // Workflows -> Queues is not declared here; Agents are not a table.
        assert_eq!(missing, vec!["dbo.Workflows -> dbo.Queues".to_string()]);
        let (all, _) = queries(&tables, &cat, None);
        assert!(!sql::strip_comments(all[1].rows.text()).contains("TOP"));
    }

    #[test]
    fn findings_are_made_from_the_server_counts_and_say_where_their_rows_go() {
        let cat = MoreCatalog {
            line_uri_columns: vec![("dbo".into(), "Workflows".into(), "LineUri".into())],
            links: vec![
                link(("QueueAgentGroups", "GroupId"), ("AgentGroups", "ID")),
                link(("QueueAgentGroups", "QueueId"), ("Queues", "ID")),
                link(("Workflows", "QueueId"), ("Queues", "ID")),
            ],
        };
        let tables: Vec<_> = ["Workflows", "Queues", "AgentGroups"]
            .into_iter()
            .map(table)
            .collect();
        let (q, _) = queries(&tables, &cat, None);
        assert_eq!(q.len(), 3);
        let (found, at) = collect(&q, vec![count(0), count(2_500_000), count(1)]);
        assert_eq!(at, vec![None, Some(0), Some(1)]);
        assert!(matches!(
            &found[0],
            Finding::Unused { code, count: 2_500_000, table, .. }
                if *code == codes::GROUP_IN_NO_QUEUE && table == "dbo.AgentGroups"
        ));
        assert!(matches!(&found[1], Finding::Unused { count: 1, .. }));
        assert_eq!(found.len(), 2);
    }

    #[test]
    fn a_row_is_its_keys_then_its_name() {
        let o = object_row(Row {
            values: vec![DbValue::Int(1), DbValue::Int(2), DbValue::Null],
        });
        assert_eq!(o.key, vec![DbValue::Int(1), DbValue::Int(2)]);
        assert_eq!(o.name, None);
    }
}
