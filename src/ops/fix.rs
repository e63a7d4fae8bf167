//! `rgs-repair fix`: plan, show, confirm, apply in one transaction, journal.

use super::{confirm, Context, Format};
use crate::apply::{self, WriteOptions};
use crate::connect::Connection;
use crate::error::{Stop, EXIT_OK};
use crate::inspect::{self, Inspection, Pool};
use crate::journal::{self, Journal};
use crate::plan::{self, Plan, PoolChoice, Scope};
use crate::report::{self, print_json, FixJson};
use anyhow::{bail, Result};
use std::path::{Path, PathBuf};
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

impl FixArgs {
    fn lock_timeout_ms(&self) -> u32 {
        u32::try_from(self.lock_timeout.as_millis()).unwrap_or(u32::MAX)
    }
}

/// Runs `fix`; exit 0 done (or nothing to do), 4 not done, 1 error.
pub async fn run(ctx: &Context, args: &FixArgs) -> Result<u8> {
    let mut conn = ctx.connect().await?;
    let inspection = inspect::inspect(&mut conn).await?;
    let selection = plan::select(&inspection, &args.scope)?;
    if selection.is_empty() {
        return nothing_to_do(ctx, &inspection);
    }
    let pool = choose_pool(ctx, args, &inspection.pools)?;
    let plan = selection.with_pool(pool, args.lock_timeout_ms());
    if plan.is_empty() {
        print_plan(ctx, &plan, false);
        bail!("no table in scope can be fixed row by row; nothing was changed");
    }
    if args.dry_run {
        return dry_run(ctx, args, &inspection, &plan);
    }
    print_plan(ctx, &plan, ctx.format == Format::Human);
    let tables: Vec<(String, String)> = plan
        .tables
        .iter()
        .map(|t| (t.table.schema.clone(), t.table.table.clone()))
        .collect();
    inspect::preflight(&mut conn, &inspection.server, &tables).await?;
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
    let done = apply_plan(ctx, args, &mut conn, &plan, &path).await?;
    report_done(ctx, &plan, &done, &path);
    Ok(EXIT_OK)
}

/// The pool NULL owners get: the only one, `--pool`, or the user's choice
/// on a terminal.
fn choose_pool(ctx: &Context, args: &FixArgs, pools: &[Pool]) -> Result<Pool> {
    match plan::choose_pool(pools, args.pool.as_deref())? {
        PoolChoice::Chosen(p) => Ok(p),
        PoolChoice::Ask(pools) if ctx.interactive && !args.yes => {
            let labels: Vec<String> = pools.iter().map(|p| p.label()).collect();
            let i = dialoguer::Select::new()
                .with_prompt("Several owner pools: which one gets the objects without an owner?")
                .items(&labels)
                .default(0)
                .interact()?;
            Ok(pools[i].clone())
        }
        PoolChoice::Ask(pools) => {
            let list = pools
                .iter()
                .map(|p| format!("  {}", p.label()))
                .collect::<Vec<_>>()
                .join("\n");
            Err(Stop::Usage(format!(
                "dbo.OwnerPool has {} pools; choose the owner with --pool ID|FQDN:\n{list}",
                pools.len()
            ))
            .into())
        }
    }
}

fn dry_run(ctx: &Context, args: &FixArgs, inspection: &Inspection, plan: &Plan) -> Result<u8> {
    print_plan(ctx, plan, true);
    if ctx.format == Format::Human {
        if !inspection.server.writable() {
            println!(
                "\nNote: the database is {}; fix would refuse to run here.",
                inspection.server.updateability
            );
        }
        let pool = args
            .pool
            .as_ref()
            .map(|p| format!(" --pool {p}"))
            .unwrap_or_default();
        println!("\nDry run: nothing was changed. To apply: rgs-repair{} fix{pool} (add --yes to skip the question)", ctx.connect_hint);
    }
    Ok(EXIT_OK)
}

async fn apply_plan(
    ctx: &Context,
    args: &FixArgs,
    conn: &mut Connection,
    plan: &Plan,
    path: &Path,
) -> Result<apply::FixDone> {
    let mut j = Journal::for_plan(plan, &ctx.target()?.login());
    let opts = WriteOptions {
        lock_timeout_ms: args.lock_timeout_ms(),
        retries: args.retries,
        backoff: Duration::from_millis(200),
        cancel: ctx.interrupt.begin_write(),
    };
    let result = apply::fix(conn, plan, &mut j, path, &opts).await;
    ctx.interrupt.end_write();
    result.inspect_err(|_| {
        if path.exists() {
            eprintln!("Journal: {}", path.display());
        }
    })
}

fn report_done(ctx: &Context, plan: &Plan, done: &apply::FixDone, path: &Path) {
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
        Format::Json => print_json(&FixJson {
            plan: Some(report::plan_json(plan)),
            dry_run: false,
            committed: true,
            rows: Some(done.rows),
            attempts: Some(done.attempts),
            journal: Some(path),
            nothing_to_do: false,
        }),
    }
}

fn print_plan(ctx: &Context, plan: &Plan, with_sql: bool) {
    match ctx.format {
        Format::Human => print!("{}", report::plan_human(plan, with_sql)),
        Format::Json if with_sql => print_json(&FixJson {
            plan: Some(report::plan_json(plan)),
            dry_run: true,
            committed: false,
            rows: None,
            attempts: None,
            journal: None,
            nothing_to_do: false,
        }),
        Format::Json => {}
    }
}

fn nothing_to_do(ctx: &Context, i: &Inspection) -> Result<u8> {
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
        Format::Json => print_json(&FixJson {
            plan: None,
            dry_run: false,
            committed: false,
            rows: Some(0),
            attempts: None,
            journal: None,
            nothing_to_do: true,
        }),
    }
    Ok(EXIT_OK)
}
