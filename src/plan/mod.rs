//! The plan: which rows `fix` will give which owner pool, and the exact
//! T-SQL. Pure data built from an [`Inspection`]; no I/O, so the dry run
//! shows exactly what the apply step executes. [`script`] writes the plan as
//! a standalone change script; [`file`] saves a reviewed plan and reads it
//! back for `fix --plan`.

pub mod file;
pub mod script;

pub use script::{script, sql_literal};

use crate::error::Stop;
use crate::inspect::{Identity, Inspection, ObjectRow, ObjectTable, Pool};
use crate::quote::QuotedTable;
use crate::sql;
use crate::value::DbValue;
use serde::{Deserialize, Serialize};

/// Which tables `fix` may touch.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Scope {
    /// `--table`: only these (empty: all).
    pub tables: Vec<String>,
    /// `--exclude-table`: never these.
    pub exclude: Vec<String>,
}

impl Scope {
    /// Whether `t` is in scope: named by `--table` (or no `--table` given
    /// and it is not a copy of another table) and not by `--exclude-table`.
    pub fn includes(&self, t: &ObjectTable) -> bool {
        let named = self.tables.iter().any(|n| t.matches(n));
        let by_default = self.tables.is_empty() && t.copy_of.is_none();
        (named || by_default) && !self.exclude.iter().any(|n| t.matches(n))
    }

    /// Whether `t` is a copy left out only because `--table` did not name it.
    pub fn leaves_copy(&self, t: &ObjectTable) -> bool {
        t.copy_of.is_some() && self.tables.is_empty() && !self.exclude.iter().any(|n| t.matches(n))
    }

    /// Refuses names that match no object table, listing the tables, and a
    /// table both named and excluded.
    pub fn check(&self, inspection: &Inspection) -> Result<(), Stop> {
        for t in &inspection.tables {
            let named = self.tables.iter().find(|n| t.table.matches(n));
            let excluded = self.exclude.iter().find(|n| t.table.matches(n));
            if let (Some(n), Some(x)) = (named, excluded) {
                return Err(Stop::Usage(format!(
                    "--table {n} and --exclude-table {x} both name {}: say which",
                    t.table.full_name()
                )));
            }
        }
        for name in self.tables.iter().chain(&self.exclude) {
            if !inspection.tables.iter().any(|t| t.table.matches(name)) {
                let known = inspection
                    .tables
                    .iter()
                    .map(|t| format!("  {}", t.table.full_name()))
                    .collect::<Vec<_>>()
                    .join("\n");
                return Err(Stop::Usage(format!(
                    "no table with an owner pool column is called '{name}'. The tables are:\n{known}"
                )));
            }
        }
        Ok(())
    }
}

/// The outcome of choosing the target pool.
#[derive(Debug, PartialEq)]
pub enum PoolChoice {
    /// The pool to use.
    Chosen(Pool),
    /// Several pools and no `--pool`: the user must choose.
    Ask(Vec<Pool>),
}

/// Picks the pool that NULL owners get: the only pool, or the one `--pool`
/// names by ID or FQDN.
pub fn choose_pool(pools: &[Pool], requested: Option<&str>) -> Result<PoolChoice, Stop> {
    let list = || {
        pools
            .iter()
            .map(|p| format!("  {}", p.label()))
            .collect::<Vec<_>>()
            .join("\n")
    };
    if pools.is_empty() {
        return Err(Stop::Usage(
            "dbo.OwnerPool is empty, so there is no pool to give the objects: the pool must be registered by the Lync/Skype for Business topology first".into(),
        ));
    }
    let Some(req) = requested else {
        return Ok(if pools.len() == 1 {
            PoolChoice::Chosen(pools[0].clone())
        } else {
            PoolChoice::Ask(pools.to_vec())
        });
    };
    let matches: Vec<&Pool> = pools
        .iter()
        .filter(|p| {
            DbValue::parse_like(&p.id, req).is_some_and(|v| v.sql_eq(&p.id))
                || p.name
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(req.trim()))
        })
        .collect();
    // On a case-sensitive collation two pool IDs may differ only in case:
    // then the one typed exactly is meant, unless a name matches too.
    let by_name = pools.iter().any(|p| {
        p.name
            .as_deref()
            .is_some_and(|n| n.eq_ignore_ascii_case(req.trim()))
    });
    let exact: Vec<&&Pool> = matches
        .iter()
        .filter(|p| p.id.to_string() == req.trim())
        .collect();
    if let ([_, _, ..], [one], false) = (matches.as_slice(), exact.as_slice(), by_name) {
        return Ok(PoolChoice::Chosen((**one).clone()));
    }
    match matches.as_slice() {
        [one] => Ok(PoolChoice::Chosen((*one).clone())),
        [] => Err(Stop::Usage(format!("--pool '{req}' matches no row of dbo.OwnerPool. The pools are:\n{}", list()))),
        _ => Err(Stop::Usage(format!("--pool '{req}' matches more than one pool; give the pool's ID instead. The pools are:\n{}", list()))),
    }
}

/// One table's part of the plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TablePlan {
    /// The table.
    pub table: ObjectTable,
    /// How many rows have a NULL owner now and will have the pool.
    pub rows: u64,
    /// The server's checksum of their keys (`sql/null_owner_summary.sql`):
    /// with the count, what the rows under lock must match before anything
    /// changes.
    pub checksum: Option<i64>,
    /// The first of them in key order, for people; the journal records
    /// every row the fix changes.
    pub sample: Vec<ObjectRow>,
}

/// A table with NULL owners that the plan leaves alone, and why.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Skipped {
    /// `schema.table`
    pub table: String,
    /// How many rows stay NULL.
    pub rows: usize,
    /// Why.
    pub reason: String,
}

/// What `fix` will do. Saved by `fix --dry-run --save-plan`, applied as it
/// stands by `fix --plan`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Server as named by the user.
    pub server: String,
    /// Database.
    pub database: String,
    /// Which database, beyond its name.
    pub identity: Identity,
    /// `host,port` a listener routed the connection to, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routed_to: Option<String>,
    /// The `--table` / `--exclude-table` it was made with.
    pub scope: Scope,
    /// The owner every planned row gets.
    pub pool: Pool,
    /// Tables to change, each with its rows.
    pub tables: Vec<TablePlan>,
    /// Tables with NULL owners left alone.
    pub skipped: Vec<Skipped>,
    /// Copies of object tables with NULL owners, left alone.
    pub copies: Vec<Skipped>,
    /// `SET LOCK_TIMEOUT`, milliseconds; -1 waits as long as it takes.
    pub lock_timeout_ms: i32,
    /// The tool version that made it.
    pub tool_version: String,
    /// [`crate::digest`] of everything above: what a change ticket quotes.
    pub digest: String,
}

impl Plan {
    /// Rows to change in all.
    pub fn row_count(&self) -> usize {
        self.tables.iter().map(|t| t.rows as usize).sum()
    }

    /// Whether there is nothing to change.
    pub fn is_empty(&self) -> bool {
        self.row_count() == 0
    }
}

/// The tables in scope with rows to change, before a pool is chosen: what
/// `fix` needs to know to say "nothing to do" without asking for a pool.
#[derive(Clone, Debug, PartialEq)]
pub struct Selection {
    server: String,
    routed_to: Option<String>,
    identity: Identity,
    scope: Scope,
    tables: Vec<TablePlan>,
    skipped: Vec<Skipped>,
    copies: Vec<Skipped>,
}

impl Selection {
    /// Whether no table in scope has a row without an owner.
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty() && self.skipped.is_empty()
    }

    /// Copies of object tables with rows without an owner, left alone.
    pub fn copies(&self) -> &[Skipped] {
        &self.copies
    }

    /// The plan that gives every selected row `pool`, with its digest.
    pub fn with_pool(self, pool: Pool, lock_timeout_ms: i32) -> Plan {
        let mut plan = Plan {
            server: self.server,
            routed_to: self.routed_to,
            database: self.identity.database.clone(),
            identity: self.identity,
            pool,
            scope: self.scope,
            tables: self.tables,
            skipped: self.skipped,
            copies: self.copies,
            lock_timeout_ms,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            digest: String::new(),
        };
        plan.digest = crate::digest::of(&plan);
        plan
    }
}

/// Checks the scope's names (once) and selects every table in scope with
/// NULL owners, each row named. Tables without a usable primary key are
/// skipped with the reason, since the journal could not record their rows.
pub fn select(inspection: &Inspection, scope: &Scope) -> Result<Selection, Stop> {
    scope.check(inspection)?;
    let mut tables = Vec::new();
    let mut skipped = Vec::new();
    let mut copies = Vec::new();
    for t in &inspection.tables {
        if t.null_count == 0 {
            continue;
        }
        if scope.leaves_copy(&t.table) {
            copies.push(Skipped {
                table: t.table.full_name(),
                rows: t.null_count as usize,
                reason: format!(
                    "looks like a copy of {}; name it with --table to include it",
                    t.table.copy_of.as_deref().unwrap_or_default()
                ),
            });
            continue;
        }
        if !scope.includes(&t.table) {
            continue;
        }
        if let Some(reason) = t.table.unfixable_reason() {
            skipped.push(Skipped {
                table: t.table.full_name(),
                rows: t.null_count as usize,
                reason,
            });
            continue;
        }
        tables.push(TablePlan {
            table: t.table.clone(),
            rows: t.null_count,
            checksum: t.null_checksum,
            sample: t.null_owner.clone(),
        });
    }
    Ok(Selection {
        server: inspection.server.server.clone(),
        routed_to: inspection.server.routed_to.clone(),
        identity: inspection.server.identity.clone(),
        scope: scope.clone(),
        tables,
        skipped,
        copies,
    })
}

/// [`select`] and [`Selection::with_pool`] in one step.
pub fn build(
    inspection: &Inspection,
    pool: Pool,
    scope: &Scope,
    lock_timeout_ms: i32,
) -> Result<Plan, Stop> {
    Ok(select(inspection, scope)?.with_pool(pool, lock_timeout_ms))
}

/// The statements of one table's step, as sent.
#[derive(Clone, Debug, PartialEq)]
pub struct TableSql {
    /// The count and key checksum of the rows without an owner, under
    /// lock: compared with the plan before anything changes.
    pub summary: sql::Read,
    /// Locks and reads the rows still NULL (keys and names), for the
    /// journal.
    pub recheck: sql::Read,
    /// Sets the owner; `@P1` is the pool ID.
    pub update: sql::Write,
    /// Counts rows still NULL.
    pub verify: sql::Read,
}

/// The table's quoted names; plans only hold tables whose names quote.
pub fn quoted(t: &ObjectTable) -> QuotedTable {
    t.quoted().expect("planned tables have quotable names")
}

/// The statements for one planned table.
pub fn table_sql(t: &ObjectTable) -> TableSql {
    let q = quoted(t);
    TableSql {
        summary: sql::null_owner_summary(&q, true),
        recheck: sql::fix_recheck(&q),
        update: sql::fix_update(&q),
        verify: sql::fix_verify(&q),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::{PoolTable, ServerInfo, TableState, TypedColumn};

    fn pool(id: i32, name: &str) -> Pool {
        Pool {
            id: DbValue::Int(id),
            name: Some(name.into()),
        }
    }

    fn table(name: &str, key: bool, nulls: usize) -> TableState {
        let t = ObjectTable {
            schema: "dbo".into(),
            table: name.into(),
            owner: TypedColumn {
                name: "OwnerPoolId".into(),
                type_name: "int".into(),
            },
            key: if key {
                vec![TypedColumn {
                    name: "ID".into(),
                    type_name: "int".into(),
                }]
            } else {
                vec![]
            },
            display_column: Some("Name".into()),
            copy_of: None,
        };
        let rows = (0..nulls)
            .map(|i| ObjectRow {
                key: vec![DbValue::Int(i as i32)],
                name: Some(format!("{name} {i}")),
                owner: DbValue::Null,
            })
            .collect();
        TableState {
            table: t,
            rows: 10,
            owners: vec![],
            null_count: nulls as u64,
            dangling_count: 0,
            null_checksum: Some(7),
            null_owner: rows,
            dangling_owner: vec![],
            may_update: true,
            may_update_owner: true,
        }
    }

    fn inspection(tables: Vec<TableState>, pools: Vec<Pool>) -> Inspection {
        Inspection {
            server: ServerInfo {
                server: "s".into(),
                server_name: "s".into(),
                product_version: "16".into(),
                database: "rgsconfig".into(),
                updateability: "READ_WRITE".into(),
                identity: Identity {
                    server_name: "S".into(),
                    machine_name: "S".into(),
                    database: "rgsconfig".into(),
                    database_created: "2026-11-27T07:00:00.000".into(),
                    group_database_id: None,
                },
                routed_to: None,
            },
            pool_table: PoolTable {
                schema: "dbo".into(),
                table: "OwnerPool".into(),
                id: TypedColumn {
                    name: "ID".into(),
                    type_name: "int".into(),
                },
                name_column: Some("Fqdn".into()),
            },
            pools,
            tables,
            more: Vec::new(),
        }
    }

    #[test]
    fn one_pool_is_chosen_without_asking() {
        assert_eq!(
            choose_pool(&[pool(1, "a")], None).unwrap(),
            PoolChoice::Chosen(pool(1, "a"))
        );
    }

    #[test]
    fn several_pools_need_a_choice() {
        let pools = [
            pool(1, "lyncpool01.contoso.local"),
            pool(2, "lyncpool02.contoso.local"),
        ];
        assert!(matches!(choose_pool(&pools, None).unwrap(), PoolChoice::Ask(p) if p.len() == 2));
        assert_eq!(
            choose_pool(&pools, Some("2")).unwrap(),
            PoolChoice::Chosen(pools[1].clone())
        );
        assert_eq!(
            choose_pool(&pools, Some("LYNCPOOL01.contoso.local")).unwrap(),
            PoolChoice::Chosen(pools[0].clone())
        );
        let e = choose_pool(&pools, Some("nope")).unwrap_err();
        assert!(matches!(&e, Stop::Usage(m) if m.contains("lyncpool02.contoso.local")));
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn ids_that_differ_only_in_case_are_told_apart_by_the_exact_spelling() {
        let p = |id: &str| Pool {
            id: DbValue::Text(id.into()),
            name: None,
        };
        let pools = [p("pool-a"), p("POOL-A")];
        assert_eq!(
            choose_pool(&pools, Some("POOL-A")).unwrap(),
            PoolChoice::Chosen(pools[1].clone())
        );
        assert!(
            matches!(choose_pool(&pools, Some("Pool-A")), Err(Stop::Usage(m)) if m.contains("more than one"))
        );
    }

    #[test]
    fn a_pool_named_like_another_pools_id_is_ambiguous() {
        let pools = [pool(1, "2"), pool(2, "b")];
        assert!(
            matches!(choose_pool(&pools, Some("2")), Err(Stop::Usage(m)) if m.contains("more than one"))
        );
    }

    #[test]
    fn empty_pool_table_is_refused() {
        assert!(choose_pool(&[], Some("x")).is_err());
    }

    #[test]
    fn plan_covers_tables_in_scope_and_skips_keyless_ones() {
        let i = inspection(
            vec![
                table("AgentGroups", true, 3),
                table("Queues", true, 2),
                table("NoKey", false, 4),
                table("Workflows", true, 0),
            ],
            vec![pool(1, "p")],
        );
        let p = build(&i, pool(1, "p"), &Scope::default(), 10_000).unwrap();
        assert_eq!(
            p.tables
                .iter()
                .map(|t| t.table.table.as_str())
                .collect::<Vec<_>>(),
            ["AgentGroups", "Queues"]
        );
        assert_eq!(p.row_count(), 5);
        assert_eq!(p.skipped.len(), 1);
        assert_eq!(p.skipped[0].rows, 4);

        let scope = Scope {
            tables: vec!["queues".into()],
            exclude: vec![],
        };
        assert_eq!(build(&i, pool(1, "p"), &scope, 1).unwrap().row_count(), 2);
        let scope = Scope {
            tables: vec![],
            exclude: vec!["dbo.AgentGroups".into()],
        };
        assert_eq!(build(&i, pool(1, "p"), &scope, 1).unwrap().row_count(), 2);
        let scope = Scope {
            tables: vec!["Nope".into()],
            exclude: vec![],
        };
        assert!(
            matches!(build(&i, pool(1, "p"), &scope, 1), Err(Stop::Usage(m)) if m.contains("dbo.Queues"))
        );
    }

    #[test]
    fn script_guards_every_step_in_order() {
        let i = inspection(vec![table("AgentGroups", true, 2)], vec![pool(7, "p")]);
        let p = build(&i, pool(7, "p"), &Scope::default(), 10_000).unwrap();
        let s = script(&p);
        let order = [
            "SET XACT_ABORT ON;",
            "SET LOCK_TIMEOUT 10000;",
            "IF @@SERVERNAME <> N'S' OR DB_NAME() <> N'rgsconfig'",
            "RETURN;",
            "SET @pool = 7;",
            "DECLARE @checksum int;",
            "BEGIN TRANSACTION;",
            "@checksum = CHECKSUM_AGG(BINARY_CHECKSUM([ID]))",
            "WITH (UPDLOCK, HOLDLOCK)",
            "IF @rows <> 2 OR @checksum IS NULL OR @checksum <> 7",
            "ROLLBACK TRANSACTION;",
            "RAISERROR(",
            "UPDATE [dbo].[AgentGroups] SET [OwnerPoolId] = @pool WHERE [OwnerPoolId] IS NULL;",
            "SET @rows = @@ROWCOUNT;",
            "IF EXISTS (SELECT 1 FROM [dbo].[AgentGroups] WHERE [OwnerPoolId] IS NULL)",
            "COMMIT TRANSACTION;",
            "PRINT N'rgs-repair: committed;",
        ];
        let mut at = 0;
        for part in order {
            let found = s[at..]
                .find(part)
                .unwrap_or_else(|| panic!("{part} missing or out of order in\n{s}"));
            at += found;
        }
        for later in [
            "THROW",
            "IIF(",
            "CONCAT(",
            "TRY_CONVERT",
            "STRING_SPLIT",
            "OPENJSON",
        ] {
            assert!(!s.contains(later), "2012+ syntax {later} in\n{s}");
        }
    }

    #[test]
    fn the_digest_covers_the_plan() {
        let i = inspection(vec![table("AgentGroups", true, 2)], vec![pool(7, "p")]);
        let a = build(&i, pool(7, "p"), &Scope::default(), 10_000).unwrap();
        let b = build(&i, pool(7, "p"), &Scope::default(), 10_000).unwrap();
        assert_eq!(a.digest, b.digest);
        let c = build(&i, pool(7, "p"), &Scope::default(), 5_000).unwrap();
        assert_ne!(a.digest, c.digest);
    }

    #[test]
    fn a_table_named_and_excluded_is_a_usage_error() {
        let i = inspection(vec![table("Queues", true, 2)], vec![pool(1, "p")]);
        let scope = Scope {
            tables: vec!["Queues".into()],
            exclude: vec!["dbo.queues".into()],
        };
        assert!(matches!(select(&i, &scope), Err(Stop::Usage(m)) if m.contains("both name")));
    }

    #[test]
    fn copies_are_left_out_unless_named() {
        let mut copy = table("Queues_bak20261127", true, 3);
        copy.table.copy_of = Some("dbo.Queues".into());
        let i = inspection(vec![table("Queues", true, 2), copy], vec![pool(1, "p")]);
        let p = build(&i, pool(1, "p"), &Scope::default(), 1).unwrap();
        assert_eq!(p.row_count(), 2);
        assert_eq!(p.copies.len(), 1);
        assert!(p.copies[0].reason.contains("copy of dbo.Queues"));
        let named = Scope {
            tables: vec!["Queues_bak20261127".into()],
            exclude: vec![],
        };
        let p = build(&i, pool(1, "p"), &named, 1).unwrap();
        assert_eq!((p.row_count(), p.copies.len()), (3, 0));
    }

    #[test]
    fn literals_for_the_script_are_escaped() {
        assert_eq!(sql_literal(&DbValue::Text("o'pool".into())), "N'o''pool'");
    }
}
