//! `rgs-repair fix`: plan, show, confirm, apply in one transaction, journal.
//! A dry run can save the reviewed plan (`--save-plan`) and the change
//! script (`--emit-sql`); `--plan FILE` applies a saved plan and nothing
//! else (see [`super::fix_plan`]).

use super::{confirm, fix_plan, prompt, Context, Format};
use crate::apply::{self, WriteOptions};
use crate::connect::Connection;
use crate::error::{Stop, EXIT_OK};
use crate::inspect::{self, Inspection, Pool};
use crate::journal::{self, Audit, Journal};
use crate::plan::{self, Plan, PoolChoice, Scope};
use crate::report::{self, print_json, FixJson, FixOutcome};
use anyhow::{bail, Context as _, Result};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `--lock-timeout` when none is given.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(10);
/// `--retries` when none is given.
pub const DEFAULT_RETRIES: u32 = 3;
/// `--lock-timeout -1`: wait for a lock as long as it takes, as
/// `SET LOCK_TIMEOUT -1` does in SQL Server.
pub const WAIT_FOREVER: Duration = Duration::MAX;

/// `SET LOCK_TIMEOUT`'s milliseconds for a `--lock-timeout` (given or not):
/// -1 for [`WAIT_FOREVER`].
pub fn lock_timeout_ms(given: Option<Duration>) -> i32 {
    match given.unwrap_or(DEFAULT_LOCK_TIMEOUT) {
        WAIT_FOREVER => -1,
        t => i32::try_from(t.as_millis()).unwrap_or(i32::MAX),
    }
}

/// `fix`'s own arguments.
#[derive(Clone, Debug, Default)]
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
    /// `--no-snapshot`: no snapshot of the changed tables beside the journal
    pub no_snapshot: bool,
    /// `--save-plan` (with `--dry-run`)
    pub save_plan: Option<PathBuf>,
    /// `--emit-sql` (with `--dry-run`)
    pub emit_sql: Option<PathBuf>,
    /// `--plan`: apply this saved plan
    pub plan: Option<PathBuf>,
    /// `--restored-elsewhere` (with `--plan`)
    pub restored_elsewhere: bool,
    /// `--lock-timeout`, when given
    pub lock_timeout: Option<Duration>,
    /// `--retries`, when given
    pub retries: Option<u32>,
}

impl FixArgs {
    /// `SET LOCK_TIMEOUT`, milliseconds.
    pub fn lock_timeout_ms(&self) -> i32 {
        lock_timeout_ms(self.lock_timeout)
    }

    /// The write options, with the cancellation token of this run.
    pub(super) fn write_options(&self, ctx: &Context, lock_timeout_ms: i32) -> WriteOptions {
        WriteOptions {
            lock_timeout_ms,
            retries: self.retries.unwrap_or(DEFAULT_RETRIES),
            backoff: Duration::from_millis(200),
            cancel: ctx.interrupt.begin_write(),
        }
    }

    /// The flags that repeat this run's scope and options in a suggested
    /// command (not `--dry-run` or `--yes`), with `pool` as `--pool`.
    pub fn repeat_flags(&self, pool: Option<&Pool>) -> Vec<String> {
        let mut f = Vec::new();
        if let Some(p) = pool {
            let id = p.id.to_string();
            f.extend(["--pool".to_string(), id]);
        }
        for t in &self.scope.tables {
            f.extend(["--table".to_string(), t.clone()]);
        }
        for t in &self.scope.exclude {
            f.extend(["--exclude-table".to_string(), t.clone()]);
        }
        self.option_flags(&mut f);
        if let Some(j) = &self.journal {
            f.extend(["--journal".to_string(), j.display().to_string()]);
        }
        f
    }

    /// `--lock-timeout` and `--retries`, when given.
    pub(super) fn option_flags(&self, f: &mut Vec<String>) {
        if let Some(t) = self.lock_timeout {
            let secs = if t == WAIT_FOREVER {
                "-1".to_string()
            } else {
                t.as_secs_f64().to_string()
            };
            f.extend(["--lock-timeout".to_string(), secs]);
        }
        if let Some(r) = self.retries {
            f.extend(["--retries".to_string(), r.to_string()]);
        }
    }
}

/// Runs `fix`; exit 0 done (or nothing to do), 4 not done, 1 error.
pub async fn run(ctx: &Context, args: &FixArgs) -> Result<u8> {
    if let Some(file) = &args.plan {
        return fix_plan::run(ctx, args, file).await;
    }
    // Every file this run will write is checked before connecting.
    let journal_path = if args.dry_run {
        None
    } else {
        ctx.refuse_read_only_intent("fix")?;
        Some(journal_path(ctx, args)?)
    };
    for f in [&args.save_plan, &args.emit_sql].into_iter().flatten() {
        check_new_file(f)?;
    }
    let mut conn = ctx.connect().await?;
    let progress = ctx.progress(&format!("Reading {}", conn.database));
    let inspection = inspect::inspect(
        &mut conn,
        inspect::Rows::Sample(crate::report::HUMAN_OBJECT_LIMIT),
    )
    .await?;
    drop(progress);
    let selection = plan::select(&inspection, &args.scope)?;
    if selection.is_empty() {
        return nothing_to_do(ctx, &inspection, selection.copies());
    }
    let pool = choose_pool(ctx, args, &inspection.pools)?;
    let several_pools = inspection.pools.len() > 1;
    let plan = selection.with_pool(pool, args.lock_timeout_ms());
    if plan.is_empty() {
        print_plan(ctx, &plan, false);
        bail!("no table in scope can be fixed row by row; nothing was changed");
    }
    if args.dry_run {
        return dry_run(ctx, args, &inspection, &plan, several_pools);
    }
    let path = journal_path.expect("a run that writes has a journal path");
    apply(ctx, args, &mut conn, &inspection, &plan, &path, None).await
}

/// The journal's path (given, or the default in the working directory),
/// checked before anything connects.
pub(super) fn journal_path(ctx: &Context, args: &FixArgs) -> Result<PathBuf> {
    let path = match &args.journal {
        Some(p) => p.clone(),
        None => journal::default_path(&ctx.target()?.database, chrono::Utc::now()),
    };
    journal::check_new_path(&path)?;
    if !args.no_snapshot {
        crate::snapshot::files::check(&snapshot_dir(&path), false)?;
    }
    Ok(path)
}

/// Where `fix` keeps the snapshot of the tables it changes: beside the
/// journal, `<journal>.snapshot`.
pub(super) fn snapshot_dir(journal: &Path) -> PathBuf {
    journal.with_extension("snapshot")
}

/// A file the dry run will write: its folder exists and it does not.
fn check_new_file(path: &Path) -> Result<()> {
    if path.exists() {
        bail!(
            "{} already exists; choose another name. Nothing was written",
            path.display()
        );
    }
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    if dir.is_some_and(|d| !d.is_dir()) {
        bail!(
            "cannot write {}: its folder does not exist. Nothing was written",
            path.display()
        );
    }
    Ok(())
}

/// Shows the plan, checks the login may write, asks, and runs the
/// transaction. `identity_override` is recorded in the journal when the
/// identity check of a saved plan was overridden.
pub(super) async fn apply(
    ctx: &Context,
    args: &FixArgs,
    conn: &mut Connection,
    inspection: &Inspection,
    plan: &Plan,
    path: &Path,
    identity_override: Option<String>,
) -> Result<u8> {
    print_plan(ctx, plan, ctx.format == Format::Human);
    let tables: Vec<String> = plan.tables.iter().map(|t| t.table.full_name()).collect();
    inspect::check_writable(&inspection.server)?;
    inspect::check_permissions(&inspection.permissions(&tables))?;
    confirm(
        ctx,
        args.yes,
        &format!(
            "Change the owner of {} object(s) in {} on {} to the pool {}?",
            plan.row_count(),
            plan.database,
            plan.identity.server_name,
            plan.pool.label()
        ),
    )?;
    if args.yes && ctx.format == Format::Human {
        ctx.note("Confirmed by --yes.");
    }
    // The tables as they are, written down before anything changes (the
    // journal names the folder): the DBA's record, and what `diff` compares.
    let snapshot = if args.no_snapshot {
        None
    } else {
        let dir = snapshot_dir(path);
        let options = crate::snapshot::Options {
            tables: Some(tables.clone()),
            force: false,
            progress: !ctx.quiet,
            server: Some(inspection.server.clone()),
        };
        crate::snapshot::take(conn, &dir, &options)
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "the snapshot of the tables before the fix could not be written ({e:#}); nothing was changed. Run again, or give --no-snapshot to fix without one"
                )
            })?;
        if ctx.format == Format::Human {
            ctx.note(&format!(
                "Snapshot of the tables before the fix: {}",
                dir.display()
            ));
        }
        Some(dir)
    };
    let mut j = Journal::for_plan(plan, Audit::here(&ctx.target()?.login()));
    j.identity_override = identity_override;
    j.snapshot = snapshot;
    let opts = args.write_options(ctx, plan.lock_timeout_ms);
    let progress = ctx.progress(&format!(
        "Giving {} row(s) their owner pool in one transaction",
        plan.row_count()
    ));
    let result = apply::fix(conn, plan, &mut j, path, &opts).await;
    drop(progress);
    ctx.interrupt.end_write();
    let done = result.inspect_err(|_| {
        if path.exists() {
            eprintln!("Journal: {}", path.display());
        }
    })?;
    report_done(ctx, plan, &done, path)?;
    Ok(EXIT_OK)
}

/// The pool NULL owners get: the only one, `--pool`, or the user's choice
/// on a terminal.
fn choose_pool(ctx: &Context, args: &FixArgs, pools: &[Pool]) -> Result<Pool> {
    match plan::choose_pool(pools, args.pool.as_deref())? {
        PoolChoice::Chosen(p) => Ok(p),
        PoolChoice::Ask(pools) if ctx.interactive && !args.yes => ask_pool(&pools),
        PoolChoice::Ask(pools) => {
            let list = pools
                .iter()
                .map(|p| format!("  {}", p.label()))
                .collect::<Vec<_>>()
                .join("\n");
            Err(Stop::Usage(format!(
                "dbo.OwnerPool has {} pools; choose the owner with --pool ID or --pool FQDN:\n{list}",
                pools.len()
            ))
            .into())
        }
    }
}

/// Asks which pool, with no answer chosen in advance: a number from the
/// list, the pool's ID or its FQDN. Enter alone (or end of input) stops.
fn ask_pool(pools: &[Pool]) -> Result<Pool> {
    let stop = || Stop::NotDone("no owner pool chosen; nothing was changed".into());
    let mut terminal = prompt::Terminal::open().ok_or_else(stop)?;
    terminal.say("Several owner pools: which one gets the objects without an owner?")?;
    for (i, p) in pools.iter().enumerate() {
        terminal.say(&format!("  {}) {}", i + 1, p.label()))?;
    }
    for _ in 0..3 {
        let Some(answer) = terminal.ask("Pool (number, ID or FQDN; Enter to stop): ")? else {
            break;
        };
        let answer = answer.trim();
        if answer.is_empty() {
            break;
        }
        if let Some(p) = answer
            .parse::<usize>()
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|n| pools.get(n))
        {
            return Ok(p.clone());
        }
        match plan::choose_pool(pools, Some(answer)) {
            Ok(PoolChoice::Chosen(p)) => return Ok(p),
            _ => terminal.say(&format!("'{answer}' is not one of the pools above."))?,
        }
    }
    Err(stop().into())
}

fn dry_run(
    ctx: &Context,
    args: &FixArgs,
    inspection: &Inspection,
    plan: &Plan,
    several_pools: bool,
) -> Result<u8> {
    print_plan(ctx, plan, true);
    if let Some(f) = &args.save_plan {
        plan::file::save(plan, f)?;
    }
    if let Some(f) = &args.emit_sql {
        std::fs::write(f, plan::script(plan))
            .with_context(|| format!("cannot write the change script {}", f.display()))?;
    }
    if ctx.format == Format::Json {
        let mut doc = FixJson::new(FixOutcome::DryRun, Some(plan));
        doc.saved_plan = args.save_plan.as_ref().map(|f| f.display().to_string());
        doc.change_script = args.emit_sql.as_ref().map(|f| f.display().to_string());
        print_json(&doc);
        return Ok(EXIT_OK);
    }
    println!();
    println!("Plan digest: {}", plan.digest);
    if let Some(f) = &args.save_plan {
        println!(
            "Saved the plan to {} (for the change ticket: its digest above).",
            f.display()
        );
    }
    if let Some(f) = &args.emit_sql {
        println!(
            "Wrote the change script to {} (the T-SQL above).",
            f.display()
        );
    }
    if !inspection.server.writable() {
        println!(
            "Note: the database is {}; fix would refuse to run here.",
            inspection.server.updateability
        );
    }
    let apply = match &args.save_plan {
        Some(f) => {
            let mut flags = vec![
                "fix".to_string(),
                "--plan".to_string(),
                f.display().to_string(),
            ];
            args.option_flags(&mut flags);
            ctx.command(flags)?
        }
        None => {
            let pool = (several_pools || args.pool.is_some()).then_some(&plan.pool);
            ctx.command(
                ["fix".to_string()]
                    .into_iter()
                    .chain(args.repeat_flags(pool)),
            )?
        }
    };
    println!("Dry run: nothing was changed. To apply: {apply}   (add --yes to skip the question)");
    Ok(EXIT_OK)
}

fn report_done(ctx: &Context, plan: &Plan, done: &apply::FixDone, path: &Path) -> Result<()> {
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
                "Next steps: {}   (should report healthy)",
                ctx.command(["check"])?
            );
            println!("            change one of the objects with the admin tools (e.g. Set-CsRgsAgentGroup) to confirm the error is gone");
            println!(
                "To put the rows back: {}",
                ctx.command(["undo", "--journal", &path.display().to_string()])?
            );
        }
        Format::Json => {
            let mut doc = FixJson::new(FixOutcome::Committed, Some(plan));
            doc.rows_changed = done.rows;
            doc.attempts = done.attempts;
            doc.journal = Some(path.display().to_string());
            print_json(&doc);
        }
    }
    Ok(())
}

/// Shows the plan to people; with `--format json` the plan goes into the
/// one document the command prints at its end.
pub(super) fn print_plan(ctx: &Context, plan: &Plan, with_sql: bool) {
    if ctx.format == Format::Human {
        print!("{}", report::plan_human(plan, with_sql));
    }
}

fn nothing_to_do(ctx: &Context, i: &Inspection, copies: &[plan::Skipped]) -> Result<u8> {
    let dangling: usize = i.tables.iter().map(|t| t.dangling_count as usize).sum();
    match ctx.format {
        Format::Human => {
            println!(
                "Nothing to do: no object in scope lacks an owner pool in {} on {}.",
                i.server.database, i.server.server
            );
            for c in copies {
                println!(
                    "Note: {} has {} row(s) without an owner, but it {}.",
                    c.table, c.rows, c.reason
                );
            }
            if dangling > 0 {
                println!("Note: {dangling} object(s) are owned by a pool that is not in dbo.OwnerPool; fix does not change those (see check).");
            }
        }
        Format::Json => print_json(&FixJson::new(FixOutcome::NothingToDo, None)),
    }
    Ok(EXIT_OK)
}
