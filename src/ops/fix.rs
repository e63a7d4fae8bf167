//! `rgs-repair fix`: plan, show, confirm, apply in one transaction, journal.

use super::{confirm, preflight, print_json, Context, Format};
use crate::apply::{self, WriteOptions};
use crate::error::{Stop, EXIT_OK};
use crate::inspect::inspect;
use crate::journal::{self, Journal};
use crate::plan::{self, PoolChoice, Scope};
use crate::report;
use anyhow::{bail, Result};
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

/// `fix`'s own arguments.
#[derive(Clone, Debug)]
pub struct FixArgs {
    /// `--pool`
    pub pool: Option<String>,
    /// `--table` / `--exclude-table`
    pub scope: Scope,
    /// `--dry-run`
    pub dry_run: bool,
    /// `--yes`
    pub yes: bool,
    /// `--journal`
    pub journal: Option<PathBuf>,
    /// `--lock-timeout`
    pub lock_timeout: Duration,
    /// `--retries`
    pub retries: u32,
}

/// Runs `fix`; exit 0 done (or nothing to do), 4 not done, 1 error.
pub async fn run(ctx: &Context, args: &FixArgs) -> Result<u8> {
    let mut conn = ctx.connect().await?;
    let inspection = inspect(&mut conn).await?;
    let lock_timeout_ms = u32::try_from(args.lock_timeout.as_millis()).unwrap_or(u32::MAX);

    args.scope.check(&inspection)?;
    if !inspection
        .tables
        .iter()
        .any(|t| !t.null_owner.is_empty() && args.scope.includes(&t.table))
    {
        return nothing_to_do(ctx, &inspection);
    }

    let pool = match plan::choose_pool(&inspection.pools, args.pool.as_deref())? {
        PoolChoice::Chosen(p) => p,
        PoolChoice::Ask(pools) if ctx.interactive && !args.yes => {
            let labels: Vec<String> = pools.iter().map(|p| p.label()).collect();
            let i = dialoguer::Select::new()
                .with_prompt("Several owner pools: which one gets the objects without an owner?")
                .items(&labels)
                .default(0)
                .interact()?;
            pools[i].clone()
        }
        PoolChoice::Ask(pools) => {
            let list = pools
                .iter()
                .map(|p| format!("  {}", p.label()))
                .collect::<Vec<_>>()
                .join("\n");
            return Err(Stop::Usage(format!(
                "dbo.OwnerPool has {} pools; choose the owner with --pool ID|FQDN:\n{list}",
                pools.len()
            ))
            .into());
        }
    };
    let plan = plan::build(&inspection, pool, &args.scope, lock_timeout_ms)?;
    if plan.is_empty() {
        if !plan.skipped.is_empty() {
            print_plan(ctx, &plan, false);
            bail!("no table in scope can be fixed row by row; nothing was changed");
        }
        return nothing_to_do(ctx, &inspection);
    }

    if args.dry_run {
        print_plan(ctx, &plan, true);
        if ctx.format == Format::Human {
            if !inspection.server.writable() {
                println!(
                    "\nNote: the database is {}; fix would refuse to run here.",
                    inspection.server.updateability
                );
            }
            println!("\nDry run: nothing was changed. To apply: rgs-repair{} fix{} (add --yes to skip the question)", ctx.connect_hint, pool_hint(args));
        }
        return Ok(EXIT_OK);
    }

    let tables: Vec<(String, String)> = plan
        .tables
        .iter()
        .map(|t| (t.table.schema.clone(), t.table.table.clone()))
        .collect();
    print_plan(ctx, &plan, ctx.format == Format::Human);
    preflight(&mut conn, &inspection.server, &tables).await?;
    let path = args
        .journal
        .clone()
        .unwrap_or_else(|| journal::default_path(&plan.database, chrono::Utc::now()));
    if path.exists() {
        bail!("the journal file {} already exists; choose another with --journal. Nothing was changed", path.display());
    }
    confirm(
        ctx,
        args.yes,
        &format!(
            "Change the owner of {} object(s) to {}?",
            plan.row_count(),
            plan.pool.label()
        ),
    )?;
    if args.yes && ctx.format == Format::Human {
        eprintln!("Confirmed by --yes.");
    }

    let mut j = Journal::for_plan(&plan, &ctx.target.login());
    let cancel = ctx.interrupt.begin_write();
    let opts = WriteOptions {
        lock_timeout_ms,
        retries: args.retries,
        backoff: Duration::from_millis(200),
        cancel,
    };
    let result = apply::fix(&mut conn, &plan, &mut j, &path, &opts).await;
    ctx.interrupt.end_write();
    let done = result.inspect_err(|_| {
        if path.exists() {
            eprintln!("Journal: {}", path.display());
        }
    })?;
    match ctx.format {
        Format::Human => {
            println!();
            println!(
                "Committed: {} object(s) now have the owner pool {}.",
                done.rows,
                plan.pool.label()
            );
            println!("Journal: {}", path.display());
            println!();
            println!(
                "Next steps: rgs-repair{} check   (should report healthy)",
                ctx.connect_hint
            );
            println!("            change one of the objects with the admin tools (e.g. Set-CsRgsAgentGroup) to confirm the error is gone");
            println!(
                "To put the rows back: rgs-repair{} undo --journal {}",
                ctx.connect_hint,
                path.display()
            );
        }
        Format::Json => print_json(
            &json!({ "plan": report::plan_json(&plan), "dry_run": false, "committed": true, "rows": done.rows, "attempts": done.attempts, "journal": path }),
        ),
    }
    Ok(EXIT_OK)
}

fn pool_hint(args: &FixArgs) -> String {
    args.pool
        .as_ref()
        .map(|p| format!(" --pool {p}"))
        .unwrap_or_default()
}

fn print_plan(ctx: &Context, plan: &plan::Plan, with_sql: bool) {
    match ctx.format {
        Format::Human => print!("{}", report::plan_human(plan, with_sql)),
        Format::Json if with_sql => print_json(
            &json!({ "plan": report::plan_json(plan), "dry_run": true, "committed": false }),
        ),
        Format::Json => {}
    }
}

fn nothing_to_do(ctx: &Context, i: &crate::inspect::Inspection) -> Result<u8> {
    let dangling: usize = i.tables.iter().map(|t| t.dangling_owner.len()).sum();
    match ctx.format {
        Format::Human => {
            println!(
                "Nothing to do: no object in scope lacks an owner pool in {} on {}.",
                i.server.database, i.server.server
            );
            if dangling > 0 {
                println!("Note: {dangling} object(s) are owned by a pool that is not in dbo.OwnerPool; fix does not change those (see check).");
            }
        }
        Format::Json => print_json(
            &json!({ "plan": null, "dry_run": false, "committed": false, "rows": 0, "nothing_to_do": true }),
        ),
    }
    Ok(EXIT_OK)
}
