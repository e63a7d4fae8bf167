//! The plan: which rows `fix` will give which owner pool, and the exact
//! T-SQL it will run. Pure data built from an [`Inspection`]; no I/O, so the
//! dry run shows exactly what the apply step executes.

use crate::error::Stop;
use crate::inspect::{Inspection, ObjectRow, ObjectTable, Pool};
use crate::quote::QuotedTable;
use crate::sql;
use crate::value::DbValue;
use serde::Serialize;

/// Which tables `fix` may touch.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    /// `--table`: only these (empty: all).
    pub tables: Vec<String>,
    /// `--exclude-table`: never these.
    pub exclude: Vec<String>,
}

impl Scope {
    /// Whether `t` is in scope: named by `--table` (or no `--table` given)
    /// and not by `--exclude-table`.
    pub fn includes(&self, t: &ObjectTable) -> bool {
        (self.tables.is_empty() || self.tables.iter().any(|n| t.matches(n)))
            && !self.exclude.iter().any(|n| t.matches(n))
    }

    /// Refuses names that match no object table, listing the tables.
    pub fn check(&self, inspection: &Inspection) -> Result<(), Stop> {
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
    match matches.as_slice() {
        [one] => Ok(PoolChoice::Chosen((*one).clone())),
        [] => Err(Stop::Usage(format!("--pool '{req}' matches no row of dbo.OwnerPool. The pools are:\n{}", list()))),
        _ => Err(Stop::Usage(format!("--pool '{req}' matches more than one pool; give the pool's ID instead. The pools are:\n{}", list()))),
    }
}

/// One table's part of the plan.
#[derive(Clone, Debug, PartialEq)]
pub struct TablePlan {
    /// The table.
    pub table: ObjectTable,
    /// The rows whose owner is NULL now and will be the pool.
    pub rows: Vec<ObjectRow>,
}

/// A table with NULL owners that the plan leaves alone, and why.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Skipped {
    /// `schema.table`
    pub table: String,
    /// How many rows stay NULL.
    pub rows: usize,
    /// Why.
    pub reason: String,
}

/// What `fix` will do.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// Server as named by the user.
    pub server: String,
    /// Database.
    pub database: String,
    /// The owner every planned row gets.
    pub pool: Pool,
    /// Tables to change, each with its rows.
    pub tables: Vec<TablePlan>,
    /// Tables with NULL owners left alone.
    pub skipped: Vec<Skipped>,
    /// `SET LOCK_TIMEOUT`, milliseconds.
    pub lock_timeout_ms: u32,
}

impl Plan {
    /// Rows to change in all.
    pub fn row_count(&self) -> usize {
        self.tables.iter().map(|t| t.rows.len()).sum()
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
    database: String,
    tables: Vec<TablePlan>,
    skipped: Vec<Skipped>,
}

impl Selection {
    /// Whether no table in scope has a row without an owner.
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty() && self.skipped.is_empty()
    }

    /// The plan that gives every selected row `pool`.
    pub fn with_pool(self, pool: Pool, lock_timeout_ms: u32) -> Plan {
        Plan {
            server: self.server,
            database: self.database,
            pool,
            tables: self.tables,
            skipped: self.skipped,
            lock_timeout_ms,
        }
    }
}

/// Checks the scope's names (once) and selects every table in scope with
/// NULL owners, each row named. Tables without a usable primary key are
/// skipped with the reason, since the journal could not record their rows.
pub fn select(inspection: &Inspection, scope: &Scope) -> Result<Selection, Stop> {
    scope.check(inspection)?;
    let mut tables = Vec::new();
    let mut skipped = Vec::new();
    for t in &inspection.tables {
        if !scope.includes(&t.table) || t.null_owner.is_empty() {
            continue;
        }
        if let Some(reason) = t.table.unfixable_reason() {
            skipped.push(Skipped {
                table: t.table.full_name(),
                rows: t.null_owner.len(),
                reason,
            });
            continue;
        }
        tables.push(TablePlan {
            table: t.table.clone(),
            rows: t.null_owner.clone(),
        });
    }
    Ok(Selection {
        server: inspection.server.server.clone(),
        database: inspection.server.database.clone(),
        tables,
        skipped,
    })
}

/// [`select`] and [`Selection::with_pool`] in one step.
pub fn build(
    inspection: &Inspection,
    pool: Pool,
    scope: &Scope,
    lock_timeout_ms: u32,
) -> Result<Plan, Stop> {
    Ok(select(inspection, scope)?.with_pool(pool, lock_timeout_ms))
}

/// The statements of one table's step, as sent.
#[derive(Clone, Debug, PartialEq)]
pub struct TableSql {
    /// Locks and reads the keys still NULL.
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
        recheck: sql::fix_recheck(&q),
        update: sql::fix_update(&q),
        verify: sql::fix_verify(&q),
    }
}

/// The whole transaction as a script a DBA can read (and run by hand in
/// SSMS, declaring @P1), in the order the apply step sends it.
pub fn script(plan: &Plan) -> String {
    let mut out = Vec::new();
    out.push(format!(
        "DECLARE @P1 {} = {};",
        plan_pool_type(plan),
        sql_literal(&plan.pool.id)
    ));
    out.push(sql::strip_comments(
        sql::session_setup(plan.lock_timeout_ms).text(),
    ));
    out.push(sql::strip_comments(sql::begin().text()));
    for t in &plan.tables {
        let s = table_sql(&t.table);
        out.push(format!(
            "-- {}: {} row(s); the tool stops here unless these are exactly the planned keys",
            t.table.full_name(),
            t.rows.len()
        ));
        out.push(sql::strip_comments(s.recheck.text()));
        out.push(format!("-- must report {} row(s) affected", t.rows.len()));
        out.push(sql::strip_comments(s.update.text()));
        out.push("-- must return 0".to_string());
        out.push(sql::strip_comments(s.verify.text()));
    }
    out.push("-- the journal is written and flushed to disk here, before the commit".to_string());
    out.push(sql::strip_comments(sql::commit().text()));
    out.join("\n")
}

fn plan_pool_type(plan: &Plan) -> String {
    let t = plan
        .tables
        .first()
        .map(|t| t.table.owner.type_name.to_ascii_lowercase())
        .unwrap_or_default();
    match t.as_str() {
        "nvarchar" | "varchar" | "nchar" | "char" => format!("{t}(256)"),
        "" => "sql_variant".to_string(),
        _ => t,
    }
}

/// A value as a T-SQL literal, only for showing the script to a person:
/// the tool itself always sends values as parameters.
pub fn sql_literal(v: &DbValue) -> String {
    match v {
        DbValue::Null => "NULL".to_string(),
        DbValue::Guid(_) => format!("'{v}'"),
        DbValue::Text(s) => format!("N'{}'", s.replace('\'', "''")),
        other => other.to_string(),
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
            null_owner: rows,
            dangling_owner: vec![],
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
    fn script_shows_every_statement_in_order() {
        let i = inspection(vec![table("AgentGroups", true, 1)], vec![pool(7, "p")]);
        let p = build(&i, pool(7, "p"), &Scope::default(), 10_000).unwrap();
        let s = script(&p);
        let order = [
            "DECLARE @P1 int = 7;",
            "SET XACT_ABORT ON;",
            "SET LOCK_TIMEOUT 10000;",
            "BEGIN TRANSACTION;",
            "WITH (UPDLOCK, HOLDLOCK)",
            "SET [OwnerPoolId] = @P1",
            "COUNT_BIG(*)",
            "COMMIT TRANSACTION;",
        ];
        let mut at = 0;
        for part in order {
            let found = s[at..]
                .find(part)
                .unwrap_or_else(|| panic!("{part} missing or out of order in\n{s}"));
            at += found;
        }
    }

    #[test]
    fn literals_for_display_are_escaped() {
        assert_eq!(sql_literal(&DbValue::Text("o'pool".into())), "N'o''pool'");
    }
}
