//! The read-only room: what the database holds. [`catalog`] finds the
//! tables; [`inspect`] reads the pools and every object table's owners and
//! returns an [`Inspection`], from which [`Inspection::findings`] derives
//! what is wrong. The other reads the commands need before or during a write
//! live here too: [`preflight`] (may this login write?) and
//! [`current_owners`] (what journalled rows hold now). Nothing here can
//! write: it only ever gets a [`Connection`], which runs [`sql::Read`]s.

pub mod catalog;
pub mod more;
mod preflight;
mod tail;
pub mod undo;

pub use preflight::{check_permissions, check_writable, Permission};

pub use catalog::{Catalog, ObjectTable, PoolTable, TypedColumn};
pub use tail::{ObjectsOf, RowSink, Rows};

use crate::connect::{Connection, Row, Streamed};
use crate::quote::QuotedTable;
use crate::sql;
use crate::value::DbValue;
use anyhow::{anyhow, bail, Result};
use serde::{Deserialize, Serialize};
use tiberius::ToSql;

/// Where the tool is connected.
#[derive(Clone, Debug, PartialEq)]
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
    /// Which database this is, as plans and journals record it.
    pub identity: Identity,
    /// `host,port` an availability-group listener sent the connection to.
    pub routed_to: Option<String>,
}

/// Which database the tool is connected to, beyond its name: what a plan or
/// a journal records so that it is never applied to another database of the
/// same name (a disaster-recovery partner pool's back end holds the same
/// object GUIDs).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Identity {
    /// `@@SERVERNAME`: the instance, `HOST\INSTANCE`.
    pub server_name: String,
    /// `SERVERPROPERTY('MachineName')`.
    pub machine_name: String,
    /// `DB_NAME()`.
    pub database: String,
    /// `sys.databases.create_date`, ISO 8601 (style 126): tells apart two
    /// databases of the same name, and a database from its restored copy.
    pub database_created: String,
    /// `sys.databases.group_database_id` (SQL Server 2012 and later): the
    /// same on every replica of an availability group, so a failover does
    /// not make the database another one. None outside a group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_database_id: Option<String>,
}

impl Identity {
    /// What differs between the recorded identity (`self`) and `now`, one
    /// phrase each; empty when it is the same database. The identity is the
    /// database's, not the node's: the same database reached on another
    /// replica after a failover (its availability-group database ID, where
    /// both sides have one; else its creation time) is the same database,
    /// whatever `@@SERVERNAME` says. A database of the same name elsewhere,
    /// or a restored copy, has another creation time.
    pub fn differences(&self, now: &Identity) -> Vec<String> {
        let mut out = Vec::new();
        if let (Some(a), Some(b)) = (&self.group_database_id, &now.group_database_id) {
            if !a.eq_ignore_ascii_case(b) {
                out.push(format!(
                    "availability-group database {a} (recorded) vs {b} (connected)"
                ));
            }
            if !self.database.eq_ignore_ascii_case(&now.database) {
                out.push(format!(
                    "database {} (recorded) vs {} (connected)",
                    self.database, now.database
                ));
            }
            return out;
        }
        if !self.database.eq_ignore_ascii_case(&now.database) {
            out.push(format!(
                "database {} (recorded) vs {} (connected)",
                self.database, now.database
            ));
        }
        if self.database_created != now.database_created {
            out.push(format!(
                "database created {} (recorded) vs {} (connected)",
                self.database_created, now.database_created
            ));
        }
        out
    }
}

impl ServerInfo {
    /// Whether the database accepts writes.
    pub fn writable(&self) -> bool {
        self.updateability.eq_ignore_ascii_case("READ_WRITE")
    }

    /// The major version: 10 for SQL Server 2008 R2, 16 for 2022.
    pub fn major_version(&self) -> u32 {
        self.product_version
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(0)
    }
}

/// A row of `dbo.OwnerPool`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq)]
pub struct TableState {
    /// The table.
    pub table: ObjectTable,
    /// All rows.
    pub rows: u64,
    /// Rows per owner value (including NULL and dangling ones).
    pub owners: Vec<OwnerCount>,
    /// Rows with a NULL owner, by the owner counts.
    pub null_count: u64,
    /// Rows whose owner names no pool, by the owner counts.
    pub dangling_count: u64,
    /// The server's checksum of the keys of the rows with a NULL owner
    /// (`sql/null_owner_summary.sql`), when the inspection was for a plan;
    /// None when not read, or when no row lacks an owner.
    pub null_checksum: Option<i64>,
    /// Rows with a NULL owner, in key order: the first ones or all of
    /// them, as the inspection was asked ([`Rows`]).
    pub null_owner: Vec<ObjectRow>,
    /// Rows whose owner matches no pool, the same way.
    pub dangling_owner: Vec<ObjectRow>,
    /// `HAS_PERMS_BY_NAME(table, 'OBJECT', 'UPDATE')` is 1.
    pub may_update: bool,
    /// The same for the owner column (a column-level DENY says 0 here).
    pub may_update_owner: bool,
}

/// How many rows of a table one owner value holds.
#[derive(Clone, Debug, PartialEq)]
pub struct OwnerCount {
    /// The owner value (NULL: none).
    pub owner: DbValue,
    /// The pool's ID as `dbo.OwnerPool` holds it, when the server matched
    /// the owner to one; None for NULL and dangling owners.
    pub pool: Option<DbValue>,
    /// Rows.
    pub rows: u64,
}

/// Everything `check` learned.
#[derive(Clone, Debug, PartialEq)]
pub struct Inspection {
    /// Where.
    pub server: ServerInfo,
    /// The catalog's view of owner pools.
    pub pool_table: PoolTable,
    /// The owner pools.
    pub pools: Vec<Pool>,
    /// Each object table.
    pub tables: Vec<TableState>,
    /// The findings beyond ownership (RGS005-RGS010), when asked for
    /// ([`inspect_for`]).
    pub more: Vec<Finding>,
}

/// Something wrong that `check` reports.
#[derive(Clone, Debug, PartialEq)]
pub enum Finding {
    /// `dbo.OwnerPool` has no row, so no object can have a valid owner.
    NoOwnerPools,
    /// Objects whose `OwnerPoolId` is NULL: the migration defect.
    NullOwner {
        /// `schema.table`
        table: String,
        /// How many.
        count: usize,
        /// Which: the first ones, or all of them ([`Rows`]).
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
    /// Contact objects without a line URI ([`more`]).
    NoLineUri {
        /// `schema.table`
        table: String,
        /// The line URI column.
        column: String,
        /// How many (exact, counted by the server).
        count: usize,
        /// Which: the first ones, or all of them ([`Rows`]).
        objects: Vec<ObjectRow>,
    },
    /// Objects nothing uses along the declared links ([`more`]).
    Unused {
        /// RGS006, RGS007 or RGS008.
        code: &'static str,
        /// `schema.table` of the objects.
        table: String,
        /// `schema.table` of the objects that would use them.
        by: String,
        /// How many (exact, counted by the server).
        count: usize,
        /// Which: the first ones, or all of them ([`Rows`]).
        objects: Vec<ObjectRow>,
    },
    /// Owner pools that own no object ([`more`]).
    IdlePools {
        /// Which.
        pools: Vec<Pool>,
    },
    /// Links the use checks need that the catalog does not declare
    /// ([`more`]): `user -> used` each.
    LinksNotDeclared {
        /// `schema.table -> schema.table` each.
        links: Vec<String>,
    },
}

impl Inspection {
    /// What is wrong, in table order. Several pools are normal and not a
    /// finding.
    /// Copies of object tables (see [`catalog::copy_of`]) are not object
    /// tables: what they hold is reported by [`Inspection::copies`].
    pub fn findings(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        if self.pools.is_empty() {
            out.push(Finding::NoOwnerPools);
        }
        for t in self.tables.iter().filter(|t| t.table.copy_of.is_none()) {
            if t.null_count > 0 {
                out.push(Finding::NullOwner {
                    table: t.table.full_name(),
                    count: t.null_count as usize,
                    objects: t.null_owner.clone(),
                });
            }
            if t.dangling_count > 0 {
                out.push(Finding::DanglingOwner {
                    table: t.table.full_name(),
                    count: t.dangling_count as usize,
                    objects: t.dangling_owner.clone(),
                });
            }
            if t.null_count > 0 {
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

    /// The permissions the inspection read for `tables` (`schema.table`).
    pub fn permissions(&self, tables: &[String]) -> Vec<Permission> {
        self.tables
            .iter()
            .filter(|t| tables.contains(&t.table.full_name()))
            .map(|t| Permission {
                table: t.table.full_name(),
                owner_column: t.table.owner.name.clone(),
                table_ok: t.may_update,
                column_ok: t.may_update_owner,
            })
            .collect()
    }

    /// The tables that look like a DBA's copy of an object table.
    pub fn copies(&self) -> impl Iterator<Item = &TableState> {
        self.tables.iter().filter(|t| t.table.copy_of.is_some())
    }

    /// How many objects each pool owns, across all tables.
    pub fn objects_per_pool(&self) -> Vec<(Pool, u64)> {
        self.pools
            .iter()
            .map(|p| {
                // The server matched owners to pools and returned the
                // pool's own value, so plain equality is the server's answer.
                let n = self
                    .tables
                    .iter()
                    .flat_map(|t| t.owners.iter())
                    .filter(|o| o.pool.as_ref() == Some(&p.id))
                    .map(|o| o.rows)
                    .sum();
                (p.clone(), n)
            })
            .collect()
    }
}

/// Reads where the tool is connected (with the availability-group database
/// ID on SQL Server 2012 and later, a second request).
pub async fn server_info(conn: &mut Connection) -> Result<ServerInfo> {
    server_info_after(conn, None).await
}

/// [`server_info`], its first request preceded by `scratch` (statements on
/// the session's own temporary tables, such as undo's key tables), which
/// saves the round trip they would take alone.
pub async fn server_info_after(
    conn: &mut Connection,
    scratch: Option<&sql::Scratch>,
) -> Result<ServerInfo> {
    let rows = match scratch {
        Some(s) => conn
            .scratch_then_results(s, &sql::server_info(), &[])
            .await?
            .into_iter()
            .next()
            .unwrap_or_default(),
        None => conn.rows(&sql::server_info(), &[]).await?,
    };
    let mut info = server_from(conn, &rows)?;
    if info.major_version() >= 11 {
        let rows = conn.rows(&sql::group_database_id(), &[]).await?;
        info.identity.group_database_id = group_id(&rows);
    }
    Ok(info)
}

fn group_id(rows: &[Row]) -> Option<String> {
    rows.first().map(|r| r.text(0)).filter(|id| !id.is_empty())
}

/// The answer to the server information query; [`inspect`] reads it in
/// the same round trip as the catalog, and the group ID (which needs the
/// version) with the tables.
fn server_from(conn: &Connection, rows: &[Row]) -> Result<ServerInfo> {
    let r = rows
        .first()
        .ok_or_else(|| anyhow!("the server returned nothing for the server information query"))?;
    tracing::info!(
        server = %conn.server,
        instance = %r.text(4),
        version = %r.text(2),
        database = %r.text(0),
        updateability = %r.text(3),
        "connected: SQL Server {}",
        r.text(2)
    );
    Ok(ServerInfo {
        routed_to: conn.routed_to.clone(),
        server: conn.server.clone(),
        database: r.text(0),
        server_name: r.text(1),
        product_version: r.text(2),
        updateability: r.text(3),
        identity: Identity {
            database: r.text(0),
            server_name: r.text(4),
            machine_name: r.text(5),
            database_created: r.text(6),
            group_database_id: None,
        },
    })
}

/// The `dbo.OwnerPool` this database must have.
#[derive(Debug, thiserror::Error)]
#[error("database '{0}' does not look like a Response Group configuration database: it has no dbo.OwnerPool table (is -d right? the default is rgsconfig)")]
pub struct NotRgsConfig(pub String);

/// Runs every read-only query `check` needs, in two round trips whatever
/// the number of tables: where and what (server, database, identity, and
/// the catalog); then what the tables hold (the pools, the group ID on
/// 2012 and later, which needs the version the first answer gave, then per
/// table its owners and whether the login may update it, then its rows
/// without a valid owner as `rows` asks). Whether an owner names a pool is
/// decided by the server, with the column's collation. This is the
/// inspection a plan is made from: each table's owner counts also carry the
/// summary of its rows without an owner (count and key checksum), which the
/// fix compares under lock before it changes anything.
pub async fn inspect(conn: &mut Connection, rows: Rows<'_>) -> Result<Inspection> {
    inspect_with(conn, false, true, rows).await
}

/// [`inspect`], and with `more` also the findings beyond ownership
/// (RGS005-RGS010, [`more`]), in the same two round trips.
pub async fn inspect_for(conn: &mut Connection, more: bool, rows: Rows<'_>) -> Result<Inspection> {
    inspect_with(conn, more, false, rows).await
}

async fn inspect_with(
    conn: &mut Connection,
    more: bool,
    summaries: bool,
    rows: Rows<'_>,
) -> Result<Inspection> {
    let mut reads = vec![
        sql::server_info(),
        sql::catalog_columns(),
        sql::catalog_primary_keys(),
    ];
    if more {
        reads.push(sql::catalog_line_uri_columns());
        reads.push(sql::catalog_foreign_keys());
    }
    let sets = conn.results(&sql::Read::batch(reads), &[]).await?;
    let mut sets = sets.into_iter();
    let (Some(info), Some(columns), Some(keys)) = (sets.next(), sets.next(), sets.next()) else {
        bail!("the server did not answer every catalog query");
    };
    let server = server_from(conn, &info)?;
    let with_group = server.major_version() >= 11;
    let more_catalog = if more {
        let (uri, fks) = (
            sets.next().unwrap_or_default(),
            sets.next().unwrap_or_default(),
        );
        Some(more::MoreCatalog::from_rows(&uri, &fks))
    } else {
        None
    };
    let catalog = catalog::from_rows(&columns, &keys);
    let Some(pool_table) = catalog.pool_table else {
        return Err(NotRgsConfig(server.database).into());
    };
    let top = tail::top_param(&rows, catalog.tables.len());
    let (queries, missing) = match &more_catalog {
        Some(c) => more::queries(&catalog.tables, c, top),
        None => (Vec::new(), Vec::new()),
    };
    let mut i = Inspection {
        server,
        pool_table,
        pools: Vec::new(),
        tables: Vec::new(),
        more: Vec::new(),
    };
    let finish = |i: &mut Inspection, counts: Vec<Vec<Row>>| {
        if more_catalog.is_none() {
            return Vec::new();
        }
        let (found, at) = more::collect(&queries, counts);
        i.more = found;
        i.more.extend(i.idle_pools());
        if !missing.is_empty() {
            i.more.push(Finding::LinksNotDeclared {
                links: missing.clone(),
            });
        }
        at
    };
    let ask = Ask {
        extra: queries.iter().map(|q| q.count.clone()).collect(),
        extra_rows: queries.iter().map(|q| q.rows.clone()).collect(),
        summaries,
        group: with_group,
        rows,
    };
    read_tables(conn, &mut i, catalog.tables, ask, finish).await?;
    Ok(i)
}

/// The quoted names of every object table: the three-part form the
/// statements use, and the two-part form `HAS_PERMS_BY_NAME` takes.
fn quote_tables(tables: &[ObjectTable]) -> Result<Vec<(QuotedTable, String)>> {
    tables
        .iter()
        .map(|t| {
            let q = t.quoted().ok_or_else(|| {
                anyhow!(
                    "the table {} has a name longer than SQL Server allows; the catalog is inconsistent",
                    t.full_name()
                )
            })?;
            let two_part = crate::quote::quote_two_part(&t.schema, &t.table)
                .ok_or_else(|| anyhow!("the table name {} is too long", t.full_name()))?;
            Ok((q, two_part))
        })
        .collect()
}

/// The second round trip, one batch: the pools (and the group ID); per
/// table its owner counts and the login's permissions; the `extra` reads (the counts of the
/// findings beyond ownership); then the objects of the findings, last
/// ([`tail`]), so that [`Rows::Stream`] can hand them on as they arrive
/// once everything else is known. `finish` completes the inspection from
/// the `extra` answers and says where each of the `extra_rows` goes.
async fn read_tables(
    conn: &mut Connection,
    i: &mut Inspection,
    tables: Vec<ObjectTable>,
    ask: Ask<'_>,
    finish: impl Fn(&mut Inspection, Vec<Vec<Row>>) -> Vec<Option<usize>>,
) -> Result<()> {
    let Ask {
        extra,
        extra_rows,
        summaries,
        group,
        mut rows,
    } = ask;
    let pool = i
        .pool_table
        .quoted()
        .ok_or_else(|| anyhow!("the owner pool table has a name longer than SQL Server allows"))?;
    let quoted = quote_tables(&tables)?;
    let top = tail::top_param(&rows, tables.len());
    let mut reads = vec![sql::owner_pools(&pool)];
    if group {
        reads.push(sql::group_database_id());
    }
    for (k, (q, _)) in quoted.iter().enumerate() {
        reads.push(sql::owner_counts(q, &pool, summaries));
        reads.push(sql::permissions(2 * k + 1));
    }
    let small = reads.len() + extra.len();
    reads.extend(extra);
    for (q, _) in &quoted {
        for kind in [sql::FindingKind::NullOwner, sql::FindingKind::DanglingOwner] {
            reads.push(sql::finding_rows(q, &pool, kind, top));
        }
    }
    reads.extend(extra_rows);
    let sample = match rows {
        Rows::Sample(s) => s as i64,
        _ => 0,
    };
    let owners: Vec<String> = tables.iter().map(|t| t.owner.name.clone()).collect();
    let mut params: Vec<&dyn ToSql> = Vec::new();
    for ((_, two_part), owner) in quoted.iter().zip(&owners) {
        params.push(two_part);
        params.push(owner);
    }
    if top.is_some() {
        params.push(&sample);
    }
    let mut answers: Vec<Vec<Row>> = Vec::new();
    let mut tables = Some(tables);
    let mut tail = tail::Tail::new(&mut rows, small, &quoted);
    conn.each(&sql::Read::batch(reads), &params, |piece| match piece {
        Streamed::Set(set) if set < small => {
            answers.push(Vec::new());
            Ok(())
        }
        Streamed::Set(set) => {
            if let Some(t) = tables.take() {
                let at = complete(i, t, group, std::mem::take(&mut answers), &finish)?;
                tail.ready(i, at)?;
            }
            tail.start(set)
        }
        Streamed::Row(set, row) if set < small => {
            if let Some(a) = answers.last_mut() {
                a.push(row);
            }
            Ok(())
        }
        Streamed::Row(set, row) => tail.row(set, row),
    })
    .await?;
    tail.close()?;
    if let Some(t) = tables.take() {
        let at = complete(i, t, group, answers, &finish)?;
        tail.ready(i, at)?;
    }
    tail.into_inspection(i);
    Ok(())
}

/// Fills `i` from the answers to everything but the rows: the pools, the
/// group ID when `group` asked for it, each table's owner counts and
/// permissions, and (through `finish`) the extra reads.
fn complete(
    i: &mut Inspection,
    tables: Vec<ObjectTable>,
    group: bool,
    answers: Vec<Vec<Row>>,
    finish: &impl Fn(&mut Inspection, Vec<Vec<Row>>) -> Vec<Option<usize>>,
) -> Result<Vec<Option<usize>>> {
    let asked = 1 + usize::from(group) + 2 * tables.len();
    if answers.len() < asked {
        bail!(
            "the server answered {} result sets where at least {asked} were asked for",
            answers.len()
        );
    }
    let mut sets = answers.into_iter();
    i.pools = sets
        .next()
        .unwrap_or_default()
        .into_iter()
        .map(pool_row)
        .collect();
    if group {
        i.server.identity.group_database_id = group_id(&sets.next().unwrap_or_default());
    }
    for table in tables {
        let (counts, perms) = (
            sets.next().unwrap_or_default(),
            sets.next().unwrap_or_default(),
        );
        i.tables.push(table_state(table, counts, perms));
    }
    Ok(finish(i, sets.collect()))
}

/// What the second round trip reads beyond the pools, owners and
/// permissions.
struct Ask<'a> {
    /// The counts of the findings beyond ownership ([`more`]).
    extra: Vec<sql::Read>,
    /// Their objects, at the end of the batch.
    extra_rows: Vec<sql::Read>,
    /// Each table's summary of its rows without an owner (for a plan).
    summaries: bool,
    /// The availability-group database ID (SQL Server 2012 and later).
    group: bool,
    /// How many of the rows without a valid owner.
    rows: Rows<'a>,
}

fn pool_row(r: Row) -> Pool {
    Pool {
        name: match r.get(1) {
            DbValue::Null => None,
            v => Some(v.to_string()),
        },
        id: r.values.into_iter().next().unwrap_or(DbValue::Null),
    }
}

fn table_state(table: ObjectTable, counts: Vec<Row>, perms: Vec<Row>) -> TableState {
    let null_checksum = counts
        .iter()
        .find(|r| r.get(0).is_null())
        .and_then(|r| r.get(3).as_i64());
    let owners: Vec<OwnerCount> = counts
        .into_iter()
        .map(|r| OwnerCount {
            owner: r.get(0).clone(),
            pool: Some(r.get(1).clone()).filter(|p| !p.is_null()),
            rows: r.int(2).max(0) as u64,
        })
        .collect();
    let rows = owners.iter().map(|o| o.rows).sum();
    let null_count = owners
        .iter()
        .filter(|o| o.owner.is_null())
        .map(|o| o.rows)
        .sum();
    let dangling_count = owners
        .iter()
        .filter(|o| !o.owner.is_null() && o.pool.is_none())
        .map(|o| o.rows)
        .sum();
    let perm = |i: usize| perms.first().map(|r| r.get(i).as_i64() == Some(1));
    TableState {
        table,
        rows,
        owners,
        null_count,
        dangling_count,
        null_checksum,
        null_owner: Vec::new(),
        dangling_owner: Vec::new(),
        may_update: perm(0).unwrap_or(false),
        may_update_owner: perm(1).unwrap_or(false),
    }
}

fn finding_row(q: &QuotedTable, r: Row) -> ObjectRow {
    let mut values = r.values;
    let owner = values.pop().unwrap_or(DbValue::Null);
    let name = match values.pop() {
        Some(DbValue::Null) | None => None,
        Some(v) => Some(v.to_string()),
    };
    let key = if q.keys.is_empty() {
        Vec::new()
    } else {
        values.into_iter().take(q.keys.len()).collect()
    };
    ObjectRow { key, name, owner }
}

#[cfg(test)]
mod identity_tests {
    use super::Identity;

    fn id(server: &str, created: &str, group: Option<&str>) -> Identity {
        Identity {
            server_name: server.into(),
            machine_name: server.into(),
            database: "rgsconfig".into(),
            database_created: created.into(),
            group_database_id: group.map(Into::into),
        }
    }

    #[test]
    fn the_identity_is_the_databases_not_the_nodes() {
        let a = id("SQL01\\RTC", "2026-01-01T00:00:00", None);
        assert!(a.differences(&a.clone()).is_empty());
        // Another database of the same name, or a restored copy.
        let other = id("SQL02\\RTC", "2026-02-02T00:00:00", None);
        assert_eq!(a.differences(&other).len(), 1);
        // The same database on another replica of its availability group.
        let g = "6F9619FF-8B86-D011-B42D-00C04FC964FF";
        let p = id("SQL01\\RTC", "2026-01-01T00:00:00", Some(g));
        let replica = id("SQL02\\RTC", "2026-03-03T00:00:00", Some(g));
        assert!(p.differences(&replica).is_empty());
        let another = id(
            "SQL02\\RTC",
            "2026-01-01T00:00:00",
            Some("00000000-0000-0000-0000-000000000001"),
        );
        assert!(!p.differences(&another).is_empty());
    }
}
