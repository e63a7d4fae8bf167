//! The catalog: which table is `dbo.OwnerPool` and which tables carry an
//! owner column, with their keys and display columns. [`discover`] is pure,
//! so that odd catalogs can be tested without a server; [`read`] runs the two
//! catalog queries.

use crate::connect::Row;
use crate::quote::{quote_name, quote_two_part, QuotedPoolTable, QuotedTable};

use serde::{Deserialize, Serialize};

/// Column names taken for an owner pool's FQDN or name, most specific first.
const POOL_NAME_COLUMNS: &[&str] = &[
    "fqdn",
    "poolfqdn",
    "servicefqdn",
    "name",
    "poolname",
    "displayname",
    "serviceid",
];
/// Column names taken for an object's display name, most specific first.
const DISPLAY_COLUMNS: &[&str] = &["name", "displayname"];
/// The owner column, in whatever case the schema spells it.
const OWNER_COLUMN: &str = "ownerpoolid";
/// Key column types the journal can record and `undo` can bind.
const KEY_TYPES: &[&str] = &[
    "uniqueidentifier",
    "int",
    "bigint",
    "smallint",
    "tinyint",
    "bit",
    "nvarchar",
    "varchar",
    "nchar",
    "char",
];

/// One column of one user table, as `sql/catalog_columns.sql` returns it.
#[derive(Clone, Debug, PartialEq)]
pub struct CatalogColumn {
    /// Schema name.
    pub schema: String,
    /// Table name.
    pub table: String,
    /// Column name.
    pub column: String,
    /// `sys.types` name.
    pub type_name: String,
}

/// One primary key column, as `sql/catalog_primary_keys.sql` returns it.
#[derive(Clone, Debug, PartialEq)]
pub struct CatalogKey {
    /// Schema name.
    pub schema: String,
    /// Table name.
    pub table: String,
    /// Column name (rows arrive in key order).
    pub column: String,
}

/// A column with its type.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct TypedColumn {
    /// Column name.
    pub name: String,
    /// `sys.types` name.
    pub type_name: String,
}

/// `dbo.OwnerPool` as this database has it.
#[derive(Clone, Debug, PartialEq)]
pub struct PoolTable {
    /// Schema (dbo).
    pub schema: String,
    /// Table name as spelled in the catalog.
    pub table: String,
    /// The column `OwnerPoolId` refers to.
    pub id: TypedColumn,
    /// The pool's FQDN or name column, when there is one.
    pub name_column: Option<String>,
}

/// A table whose rows carry an owner pool.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObjectTable {
    /// Schema name.
    pub schema: String,
    /// Table name.
    pub table: String,
    /// The owner column, as spelled in the catalog.
    pub owner: TypedColumn,
    /// Primary key columns in key order; empty when the table has none.
    pub key: Vec<TypedColumn>,
    /// `Name` or `DisplayName`, when the table has one.
    pub display_column: Option<String>,
    /// When the table looks like a DBA's copy of another object table
    /// (`AgentGroups_bak20261127` beside `AgentGroups`): that table's
    /// `schema.table`. See [`copy_of`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_of: Option<String>,
}

impl ObjectTable {
    /// `schema.table`, for people.
    pub fn full_name(&self) -> String {
        format!("{}.{}", self.schema, self.table)
    }

    /// Why rows of this table cannot be fixed one by one and journalled, if
    /// they cannot.
    pub fn unfixable_reason(&self) -> Option<String> {
        if self.key.is_empty() {
            return Some(
                "has no primary key, so its rows cannot be journalled one by one".to_string(),
            );
        }
        if let Some(c) = self
            .key
            .iter()
            .find(|c| !KEY_TYPES.contains(&c.type_name.to_ascii_lowercase().as_str()))
        {
            return Some(format!(
                "its key column {} is of type {}, which the journal cannot record",
                c.name, c.type_name
            ));
        }
        if self.quoted().is_none() {
            return Some("a name in it is longer than SQL Server identifiers may be".to_string());
        }
        None
    }

    /// The quoted names SQL templates need.
    pub fn quoted(&self) -> Option<QuotedTable> {
        Some(QuotedTable {
            table: quote_two_part(&self.schema, &self.table)?,
            owner: quote_name(&self.owner.name)?,
            keys: self
                .key
                .iter()
                .map(|k| quote_name(&k.name))
                .collect::<Option<Vec<_>>>()?,
            display: match &self.display_column {
                Some(d) => Some(quote_name(d)?),
                None => None,
            },
        })
    }

    /// Whether `name` (`table` or `schema.table`, any case) names this table.
    pub fn matches(&self, name: &str) -> bool {
        let name = name.trim();
        match name.split_once('.') {
            Some((s, t))
                if s.eq_ignore_ascii_case(&self.schema) && t.eq_ignore_ascii_case(&self.table) =>
            {
                true
            }
            _ => {
                name.eq_ignore_ascii_case(&self.table)
                    || name.eq_ignore_ascii_case(&self.full_name())
            }
        }
    }
}

impl PoolTable {
    /// The quoted names SQL templates need.
    pub fn quoted(&self) -> Option<QuotedPoolTable> {
        Some(QuotedPoolTable {
            table: quote_two_part(&self.schema, &self.table)?,
            id: quote_name(&self.id.name)?,
            name: match &self.name_column {
                Some(c) => Some(quote_name(c)?),
                None => None,
            },
        })
    }
}

/// What the catalog says about owner pools.
#[derive(Clone, Debug, PartialEq)]
pub struct Catalog {
    /// `dbo.OwnerPool`, if the database has it.
    pub pool_table: Option<PoolTable>,
    /// Every table with an owner column, by schema and name.
    pub tables: Vec<ObjectTable>,
}

/// Finds `dbo.OwnerPool` and every table with an `OwnerPoolId` column, in
/// any schema and any case, from the catalog rows. Pure, so that odd
/// catalogs can be tested without a server.
pub fn discover(columns: &[CatalogColumn], keys: &[CatalogKey]) -> Catalog {
    let mut names: Vec<(&str, &str)> = columns
        .iter()
        .map(|c| (c.schema.as_str(), c.table.as_str()))
        .collect();
    names.dedup();
    fn cols<'a>(columns: &'a [CatalogColumn], s: &str, t: &str) -> Vec<&'a CatalogColumn> {
        columns
            .iter()
            .filter(|c| c.schema == s && c.table == t)
            .collect()
    }
    let cols_of = |s: &str, t: &str| cols(columns, s, t).into_iter();
    let key_of = |s: &str, t: &str| -> Vec<TypedColumn> {
        keys.iter()
            .filter(|k| k.schema == s && k.table == t)
            .map(|k| TypedColumn {
                name: k.column.clone(),
                type_name: cols_of(s, t)
                    .find(|c| c.column == k.column)
                    .map(|c| c.type_name.clone())
                    .unwrap_or_default(),
            })
            .collect()
    };
    let pick = |s: &str, t: &str, wanted: &[&str]| -> Option<String> {
        wanted
            .iter()
            .find_map(|w| cols_of(s, t).find(|c| c.column.eq_ignore_ascii_case(w)))
            .map(|c| c.column.clone())
    };

    let pool_table = names
        .iter()
        .find(|(s, t)| s.eq_ignore_ascii_case("dbo") && t.eq_ignore_ascii_case("OwnerPool"))
        .and_then(|&(s, t)| {
            let key = key_of(s, t);
            let id = cols_of(s, t)
                .find(|c| c.column.eq_ignore_ascii_case("id"))
                .map(|c| TypedColumn {
                    name: c.column.clone(),
                    type_name: c.type_name.clone(),
                })
                .or_else(|| (key.len() == 1).then(|| key[0].clone()))?;
            Some(PoolTable {
                schema: s.to_string(),
                table: t.to_string(),
                name_column: pick(s, t, POOL_NAME_COLUMNS),
                id,
            })
        });

    let tables = names
        .iter()
        .filter(|(s, t)| {
            !pool_table
                .as_ref()
                .is_some_and(|p| p.schema == *s && p.table == *t)
        })
        .filter_map(|&(s, t)| {
            let owner = cols_of(s, t).find(|c| c.column.eq_ignore_ascii_case(OWNER_COLUMN))?;
            Some(ObjectTable {
                schema: s.to_string(),
                table: t.to_string(),
                owner: TypedColumn {
                    name: owner.column.clone(),
                    type_name: owner.type_name.clone(),
                },
                key: key_of(s, t),
                display_column: pick(s, t, DISPLAY_COLUMNS),
                copy_of: None,
            })
        })
        .collect();
    Catalog {
        pool_table,
        tables: mark_copies(tables),
    }
}

/// Sets `copy_of` on each table that looks like a copy of another object
/// table of the same schema.
fn mark_copies(tables: Vec<ObjectTable>) -> Vec<ObjectTable> {
    let names: Vec<(String, String)> = tables
        .iter()
        .map(|t| (t.schema.clone(), t.table.clone()))
        .collect();
    tables
        .into_iter()
        .map(|mut t| {
            t.copy_of = names
                .iter()
                .filter(|(s, _)| s.eq_ignore_ascii_case(&t.schema))
                .find(|(_, original)| copy_of(original, &t.table))
                .map(|(s, original)| format!("{s}.{original}"));
            t
        })
        .collect()
}

/// Whether a table named `name` looks like a copy of the object table
/// `original`: its name is the original's and more, and the rest starts the
/// way a copy's suffix does (a digit or punctuation: `_bak20261127`, `2`,
/// `_old`; a lower-case letter: `old`; or a word such as `Backup`, `Copy`,
/// `Old`). `AgentGroups` beside `AgentGroupAgents` is not a copy: the rest
/// would have to follow the whole original name.
pub fn copy_of(original: &str, name: &str) -> bool {
    let (o, n) = (original.to_lowercase(), name.to_lowercase());
    if n.len() <= o.len() || !n.starts_with(&o) {
        return false;
    }
    let Some(rest) = name.get(original.len()..) else {
        return false;
    };
    let first = rest.chars().next().unwrap_or_default();
    let words = [
        "bak", "backup", "copy", "old", "orig", "save", "temp", "tmp", "before",
    ];
    !first.is_alphabetic()
        || first.is_lowercase()
        || words.iter().any(|w| rest.to_lowercase().starts_with(w))
}

/// The catalog from the answers to [`sql::catalog_columns`] and
/// [`sql::catalog_primary_keys`].
pub fn from_rows(columns: &[Row], keys: &[Row]) -> Catalog {
    let columns: Vec<CatalogColumn> = columns
        .iter()
        .map(|r| CatalogColumn {
            schema: r.text(0),
            table: r.text(1),
            column: r.text(2),
            type_name: r.text(3),
        })
        .collect();
    let keys: Vec<CatalogKey> = keys
        .iter()
        .map(|r| CatalogKey {
            schema: r.text(0),
            table: r.text(1),
            column: r.text(2),
        })
        .collect();
    discover(&columns, &keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(s: &str, t: &str, c: &str, ty: &str) -> CatalogColumn {
        CatalogColumn {
            schema: s.into(),
            table: t.into(),
            column: c.into(),
            type_name: ty.into(),
        }
    }
    fn key(s: &str, t: &str, c: &str) -> CatalogKey {
        CatalogKey {
            schema: s.into(),
            table: t.into(),
            column: c.into(),
        }
    }

    #[test]
    fn finds_every_owner_table_in_any_schema_and_case() {
        let cols = vec![
            col("dbo", "AgentGroups", "ID", "uniqueidentifier"),
            col("dbo", "AgentGroups", "Name", "nvarchar"),
            col("dbo", "AgentGroups", "OwnerPoolId", "uniqueidentifier"),
            col("dbo", "OwnerPool", "ID", "uniqueidentifier"),
            col("dbo", "OwnerPool", "Fqdn", "nvarchar"),
            col("backup", "Queues ]odd", "QueueKey", "int"),
            col("backup", "Queues ]odd", "ownerpoolID", "int"),
            col("dbo", "NoKey", "OWNERPOOLID", "bigint"),
            col("dbo", "Membership", "GroupId", "uniqueidentifier"),
        ];
        let keys = vec![
            key("dbo", "AgentGroups", "ID"),
            key("dbo", "OwnerPool", "ID"),
            key("backup", "Queues ]odd", "QueueKey"),
        ];
        let c = discover(&cols, &keys);
        let p = c.pool_table.unwrap();
        assert_eq!(
            (p.id.name.as_str(), p.name_column.as_deref()),
            ("ID", Some("Fqdn"))
        );
        let names: Vec<String> = c.tables.iter().map(|t| t.full_name()).collect();
        assert_eq!(
            names,
            ["dbo.AgentGroups", "backup.Queues ]odd", "dbo.NoKey"]
        );
        assert_eq!(c.tables[0].display_column.as_deref(), Some("Name"));
        assert_eq!(c.tables[1].owner.name, "ownerpoolID");
        assert_eq!(
            c.tables[1].quoted().unwrap().table,
            "[backup].[Queues ]]odd]"
        );
        assert!(c.tables[2]
            .unfixable_reason()
            .unwrap()
            .contains("no primary key"));
        assert!(c.tables[0].unfixable_reason().is_none());
    }

    #[test]
    fn no_owner_pool_table_means_not_rgsconfig() {
        let c = discover(&[col("dbo", "Agents", "OwnerPoolId", "int")], &[]);
        assert!(c.pool_table.is_none());
        assert_eq!(c.tables.len(), 1);
    }

    #[test]
    fn copies_are_told_from_related_tables() {
        for copy in [
            "AgentGroups_bak20261127",
            "AgentGroups2",
            "AgentGroupsold",
            "AgentGroupsBackup",
            "AgentGroups-copy",
        ] {
            assert!(copy_of("AgentGroups", copy), "{copy}");
        }
        for not in [
            "AgentGroups",
            "AgentGroupAgents",
            "AgentGroupsMembers",
            "Agents",
        ] {
            assert!(!copy_of("AgentGroups", not), "{not}");
        }
        let c = discover(
            &[
                col("dbo", "Queues", "OwnerPoolId", "int"),
                col("dbo", "Queues_old", "OwnerPoolId", "int"),
                col("x", "Queues2", "OwnerPoolId", "int"),
            ],
            &[],
        );
        assert_eq!(c.tables[0].copy_of, None);
        assert_eq!(c.tables[1].copy_of.as_deref(), Some("dbo.Queues"));
        assert_eq!(c.tables[2].copy_of, None, "another schema's table");
    }

    #[test]
    fn tables_match_by_short_or_full_name() {
        let c = discover(&[col("dbo", "Queues", "OwnerPoolId", "int")], &[]);
        let t = &c.tables[0];
        assert!(t.matches("queues") && t.matches("DBO.Queues") && !t.matches("x.Queues"));
    }
}
