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

/// One query of these findings, and what its rows mean.
#[derive(Clone, Debug)]
pub struct MoreQuery {
    /// The statement.
    pub read: sql::Read,
    /// Key columns in its rows, before the display name.
    nkeys: usize,
    what: Kind,
}

#[derive(Clone, Debug)]
enum Kind {
    NoLineUri { table: String, column: String },
    /// One of the paths by which `by` uses `table`'s rows.
    Unused { code: &'static str, table: String, by: String },
}

/// The queries RGS005-RGS008 need for `tables` (object tables as the
/// catalog found them), sent with the third round trip of
/// [`super::inspect`]; and the links the catalog does not declare (RGS010).
pub fn queries(tables: &[super::ObjectTable], cat: &MoreCatalog) -> (Vec<MoreQuery>, Vec<String>) {
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
            read: sql::finding_no_line_uri(&q, &col),
            nkeys: q.keys.len(),
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
        let Some(q) = x.quoted() else { continue };
        for p in &paths {
            let (Some(lt), Some(lc), Some(c)) = (
                quote_two_part(&p.table.0, &p.table.1),
                quote_name(&p.column),
                quote_name(&p.used_column),
            ) else {
                continue;
            };
            out.push(MoreQuery {
                read: sql::finding_unused(&q, &c, &lt, &lc),
                nkeys: q.keys.len(),
                what: Kind::Unused {
                    code,
                    table: x.full_name(),
                    by: u.full_name(),
                },
            });
        }
    }
    (out, missing)
}

/// RGS005-RGS008 from the answers to `queries` (in order). A row is unused
/// only if no path uses it.
pub fn collect(queries: &[MoreQuery], answers: Vec<Vec<Row>>) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    for (q, rows) in queries.iter().zip(answers) {
        let rows = named_rows(rows, q.nkeys);
        match &q.what {
            Kind::NoLineUri { table, column } => {
                if !rows.is_empty() {
                    out.push(Finding::NoLineUri {
                        table: table.clone(),
                        column: column.clone(),
                        objects: rows,
                    });
                }
            }
            Kind::Unused { code, table, by } => {
                // Paths of one table follow each other: keep what all miss.
                match out.last_mut() {
                    Some(Finding::Unused {
                        table: t,
                        by: b,
                        objects,
                        ..
                    }) if t == table && b == by => objects.retain(|r| rows.contains(r)),
                    _ => out.push(Finding::Unused {
                        code,
                        table: table.clone(),
                        by: by.clone(),
                        objects: rows,
                    }),
                }
            }
        }
    }
    out.retain(|f| !matches!(f, Finding::Unused { objects, .. } if objects.is_empty()));
    out
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
fn by_name<'a>(
    objects: &[&'a super::ObjectTable],
    name: &str,
) -> Option<&'a super::ObjectTable> {
    let named = || objects.iter().filter(|t| t.table.eq_ignore_ascii_case(name));
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

/// Rows of a finding query: `nkeys` key values, then the display name.
fn named_rows(rows: Vec<Row>, nkeys: usize) -> Vec<ObjectRow> {
    rows.into_iter()
        .map(|r| {
            let mut values = r.values;
            let name = match values.get(nkeys) {
                Some(DbValue::Null) | None => None,
                Some(v) => Some(v.to_string()),
            };
            values.truncate(nkeys);
            ObjectRow {
                key: values,
                name,
                owner: DbValue::Null,
            }
        })
        .collect()
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
}
