//! The read-only half: what the database holds. [`discover`] turns catalog
//! rows into the list of object tables (pure, unit-tested); [`inspect`] runs
//! the catalog and data queries and returns an [`Inspection`], from which
//! [`Inspection::findings`] derives what is wrong. Nothing here writes.

use crate::connect::{Connection, Row};
use crate::quote::{quote_name, quote_two_part};
use crate::sql;
use crate::value::DbValue;
use anyhow::{bail, Result};
use serde::Serialize;

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

/// Where the tool is connected.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ServerInfo {
    /// The server as the user named it.
    pub server: String,
    /// `SERVERPROPERTY('ServerName')`.
    pub server_name: String,
    /// `SERVERPROPERTY('ProductVersion')`.
    pub product_version: String,
    /// `DB_NAME()`.
    pub database: String,
    /// `DATABASEPROPERTYEX(DB_NAME(), 'Updateability')`: READ_WRITE or READ_ONLY.
    pub updateability: String,
}

impl ServerInfo {
    /// Whether the database accepts writes.
    pub fn writable(&self) -> bool {
        self.updateability.eq_ignore_ascii_case("READ_WRITE")
    }
}

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
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct TypedColumn {
    /// Column name.
    pub name: String,
    /// `sys.types` name.
    pub type_name: String,
}

/// `dbo.OwnerPool` as this database has it.
#[derive(Clone, Debug, Serialize, PartialEq)]
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
#[derive(Clone, Debug, Serialize, PartialEq)]
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

/// A table's names quoted the way `QUOTENAME` quotes them.
#[derive(Clone, Debug, PartialEq)]
pub struct QuotedTable {
    /// `[schema].[table]`
    pub table: String,
    /// `[OwnerPoolId]`
    pub owner: String,
    /// `[ID]`, ... in key order.
    pub keys: Vec<String>,
    /// `[Name]`, when there is a display column.
    pub display: Option<String>,
}

impl QuotedTable {
    /// `[k1], [k2]`
    pub fn key_list(&self) -> String {
        self.keys.join(", ")
    }

    /// A predicate matching `rows` rows by key, numbering parameters from
    /// `first`: `[k] IN (@P2, @P3, ...)` for a one-column key (a flat list
    /// that SQL Server handles well), `([k1] = @P2 AND [k2] = @P3) OR (...)`
    /// for a composite key.
    pub fn key_match(&self, rows: usize, first: usize) -> String {
        if let [key] = self.keys.as_slice() {
            let params: Vec<String> = (first..first + rows).map(|n| format!("@P{n}")).collect();
            return format!("{key} IN ({})", params.join(", "));
        }
        let mut n = first;
        (0..rows)
            .map(|_| {
                let parts: Vec<String> = self
                    .keys
                    .iter()
                    .map(|k| {
                        let s = format!("{k} = @P{n}");
                        n += 1;
                        s
                    })
                    .collect();
                format!("({})", parts.join(" AND "))
            })
            .collect::<Vec<_>>()
            .join(" OR ")
    }

    /// How many rows one key-matching statement covers: under SQL Server's
    /// 2,100 parameters, and fewer for composite keys, whose OR chains grow
    /// deep.
    pub fn rows_per_statement(&self) -> usize {
        match self.keys.len() {
            0 | 1 => 1000,
            n => (1000 / n).min(100),
        }
    }
}

/// What the catalog says about owner pools.
#[derive(Clone, Debug, Serialize, PartialEq)]
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
            })
        })
        .collect();
    Catalog { pool_table, tables }
}

/// A row of `dbo.OwnerPool`.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct Pool {
    /// The value `OwnerPoolId` refers to.
    pub id: DbValue,
    /// FQDN or name, when the table has such a column.
    pub name: Option<String>,
}

impl Pool {
    /// `ID (FQDN)` for people.
    pub fn label(&self) -> String {
        match &self.name {
            Some(n) => format!("{} ({n})", self.id),
            None => self.id.to_string(),
        }
    }
}

/// An object row whose owner is missing or names no pool.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ObjectRow {
    /// Primary key values, in key order.
    pub key: Vec<DbValue>,
    /// The display name, when the table has one.
    pub name: Option<String>,
    /// The current owner (NULL or a dangling ID).
    pub owner: DbValue,
}

impl ObjectRow {
    /// The key for people: `ID` or `k1, k2`.
    pub fn key_text(&self) -> String {
        self.key
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What one object table holds.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TableState {
    /// The table.
    pub table: ObjectTable,
    /// All rows.
    pub rows: u64,
    /// Rows per owner value (including NULL and dangling ones).
    pub owners: Vec<(DbValue, u64)>,
    /// Rows with a NULL owner.
    pub null_owner: Vec<ObjectRow>,
    /// Rows whose owner matches no pool.
    pub dangling_owner: Vec<ObjectRow>,
}

/// Everything `check` learned.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Inspection {
    /// Where.
    pub server: ServerInfo,
    /// The catalog's view of owner pools.
    pub pool_table: PoolTable,
    /// The owner pools.
    pub pools: Vec<Pool>,
    /// Each object table.
    pub tables: Vec<TableState>,
}

/// Something wrong that `check` reports.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Finding {
    /// `dbo.OwnerPool` has no row, so no object can have a valid owner.
    NoOwnerPools,
    /// Objects whose `OwnerPoolId` is NULL: the migration defect.
    NullOwner {
        /// `schema.table`
        table: String,
        /// How many.
        count: usize,
        /// Which.
        objects: Vec<ObjectRow>,
    },
    /// Objects whose `OwnerPoolId` matches no pool (e.g. the old OCS pool).
    DanglingOwner {
        /// `schema.table`
        table: String,
        /// How many.
        count: usize,
        /// Which.
        objects: Vec<ObjectRow>,
    },
    /// A table with findings that `fix` cannot repair row by row.
    Unfixable {
        /// `schema.table`
        table: String,
        /// Why.
        reason: String,
    },
}

impl Inspection {
    /// What is wrong, in table order. Several pools are normal and not a
    /// finding.
    pub fn findings(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        if self.pools.is_empty() {
            out.push(Finding::NoOwnerPools);
        }
        for t in &self.tables {
            if !t.null_owner.is_empty() {
                out.push(Finding::NullOwner {
                    table: t.table.full_name(),
                    count: t.null_owner.len(),
                    objects: t.null_owner.clone(),
                });
            }
            if !t.dangling_owner.is_empty() {
                out.push(Finding::DanglingOwner {
                    table: t.table.full_name(),
                    count: t.dangling_owner.len(),
                    objects: t.dangling_owner.clone(),
                });
            }
            if !t.null_owner.is_empty() {
                if let Some(reason) = t.table.unfixable_reason() {
                    out.push(Finding::Unfixable {
                        table: t.table.full_name(),
                        reason,
                    });
                }
            }
        }
        out
    }

    /// How many objects each pool owns, across all tables.
    pub fn objects_per_pool(&self) -> Vec<(Pool, u64)> {
        self.pools
            .iter()
            .map(|p| {
                let n = self
                    .tables
                    .iter()
                    .flat_map(|t| t.owners.iter())
                    .filter(|(owner, _)| owner.sql_eq(&p.id))
                    .map(|(_, n)| n)
                    .sum();
                (p.clone(), n)
            })
            .collect()
    }
}

/// Reads where the tool is connected.
pub async fn server_info(conn: &mut Connection) -> Result<ServerInfo> {
    let rows = conn.rows(sql::SERVER_INFO, &[]).await?;
    let r = rows.first().ok_or_else(|| {
        anyhow::anyhow!("the server returned nothing for the server information query")
    })?;
    Ok(ServerInfo {
        server: conn.server.clone(),
        database: r.text(0),
        server_name: r.text(1),
        product_version: r.text(2),
        updateability: r.text(3),
    })
}

/// Reads the catalog.
pub async fn catalog(conn: &mut Connection) -> Result<Catalog> {
    let columns: Vec<CatalogColumn> = conn
        .rows(sql::CATALOG_COLUMNS, &[])
        .await?
        .iter()
        .map(|r: &Row| CatalogColumn {
            schema: r.text(0),
            table: r.text(1),
            column: r.text(2),
            type_name: r.text(3),
        })
        .collect();
    let keys: Vec<CatalogKey> = conn
        .rows(sql::CATALOG_PRIMARY_KEYS, &[])
        .await?
        .iter()
        .map(|r| CatalogKey {
            schema: r.text(0),
            table: r.text(1),
            column: r.text(2),
        })
        .collect();
    Ok(discover(&columns, &keys))
}

/// The `dbo.OwnerPool` this database must have.
#[derive(Debug, thiserror::Error)]
#[error("database '{0}' does not look like a Response Group configuration database: it has no dbo.OwnerPool table (is -d right? the default is rgsconfig)")]
pub struct NotRgsConfig(pub String);

/// Runs every read-only query `check` needs.
pub async fn inspect(conn: &mut Connection) -> Result<Inspection> {
    let server = server_info(conn).await?;
    let catalog = catalog(conn).await?;
    let Some(pool_table) = catalog.pool_table else {
        return Err(NotRgsConfig(server.database).into());
    };
    let pool_sql_table =
        quote_two_part(&pool_table.schema, &pool_table.table).expect("catalog names fit sysname");
    let pool_id = quote_name(&pool_table.id.name).expect("catalog names fit sysname");
    let pool_name = match &pool_table.name_column {
        Some(c) => format!(
            "CAST({} AS nvarchar(256))",
            quote_name(c).expect("catalog names fit sysname")
        ),
        None => "CAST(NULL AS nvarchar(256))".to_string(),
    };
    let pools: Vec<Pool> = conn
        .rows(
            &sql::render(
                sql::OWNER_POOLS,
                &[
                    ("id", &pool_id),
                    ("name", &pool_name),
                    ("pool_table", &pool_sql_table),
                ],
            ),
            &[],
        )
        .await?
        .into_iter()
        .map(|r| Pool {
            name: match r.get(1) {
                DbValue::Null => None,
                v => Some(v.to_string()),
            },
            id: r.values.into_iter().next().unwrap_or(DbValue::Null),
        })
        .collect();

    let mut tables = Vec::new();
    for t in catalog.tables {
        let Some(q) = t.quoted() else {
            bail!("the table {} has a name longer than SQL Server allows; the catalog is inconsistent", t.full_name());
        };
        let owners: Vec<(DbValue, u64)> = conn
            .rows(
                &sql::render(
                    sql::OWNER_COUNTS,
                    &[("owner", &q.owner), ("table", &q.table)],
                ),
                &[],
            )
            .await?
            .into_iter()
            .map(|r| (r.get(0).clone(), r.int(1).max(0) as u64))
            .collect();
        let rows = owners.iter().map(|(_, n)| n).sum();
        let (mut null_owner, mut dangling_owner) = (Vec::new(), Vec::new());
        let has_problems = owners
            .iter()
            .any(|(o, _)| o.is_null() || !pools_contain(&pools, o));
        if has_problems {
            // Without a key the rows cannot be named; count them only.
            let keys = if q.keys.is_empty() {
                "CAST(NULL AS int) AS no_key".to_string()
            } else {
                q.key_list()
            };
            let order = if q.keys.is_empty() {
                "1".to_string()
            } else {
                q.key_list()
            };
            let display = match &q.display {
                Some(d) => format!("CAST(t.{d} AS nvarchar(256))"),
                None => "CAST(NULL AS nvarchar(256))".to_string(),
            };
            let sql_text = sql::render(
                sql::FINDING_ROWS,
                &[
                    ("keys", &keys),
                    ("order", &order),
                    ("display", &display),
                    ("owner", &q.owner),
                    ("table", &q.table),
                    ("pool_table", &pool_sql_table),
                    ("pool_id", &pool_id),
                ],
            );
            let nkeys = q.keys.len().max(1);
            for r in conn.rows(&sql_text, &[]).await? {
                let mut values = r.values;
                let owner = values.pop().unwrap_or(DbValue::Null);
                let name = match values.pop() {
                    Some(DbValue::Null) | None => None,
                    Some(v) => Some(v.to_string()),
                };
                let key = if q.keys.is_empty() {
                    Vec::new()
                } else {
                    values.into_iter().take(nkeys).collect()
                };
                let row = ObjectRow { key, name, owner };
                if row.owner.is_null() {
                    null_owner.push(row);
                } else {
                    dangling_owner.push(row);
                }
            }
        }
        tables.push(TableState {
            table: t,
            rows,
            owners,
            null_owner,
            dangling_owner,
        });
    }
    Ok(Inspection {
        server,
        pool_table,
        pools,
        tables,
    })
}

fn pools_contain(pools: &[Pool], owner: &DbValue) -> bool {
    pools.iter().any(|p| p.id.sql_eq(owner))
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
    fn key_match_numbers_parameters_across_composite_keys() {
        let q = QuotedTable {
            table: "[t]".into(),
            owner: "[o]".into(),
            keys: vec!["[a]".into(), "[b]".into()],
            display: None,
        };
        assert_eq!(
            q.key_match(2, 2),
            "([a] = @P2 AND [b] = @P3) OR ([a] = @P4 AND [b] = @P5)"
        );
        assert!(q.rows_per_statement() * 2 < 2100);
        let q = QuotedTable {
            keys: vec!["[ID]".into()],
            ..q
        };
        assert_eq!(q.key_match(3, 2), "[ID] IN (@P2, @P3, @P4)");
        assert!(q.rows_per_statement() < 2100);
    }

    #[test]
    fn tables_match_by_short_or_full_name() {
        let c = discover(&[col("dbo", "Queues", "OwnerPoolId", "int")], &[]);
        let t = &c.tables[0];
        assert!(t.matches("queues") && t.matches("DBO.Queues") && !t.matches("x.Queues"));
    }
}
