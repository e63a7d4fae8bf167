//! `rgs-repair check --targets FILE`: every pool's rgsconfig at once. Each
//! target is checked by the same code as a single `check`
//! ([`super::check::examine`]), at most `--parallel` at a time; one that
//! cannot be reached or logged in to is a row with its error, not the end
//! of the run. The exit code is the worst of the targets' (1 > 3 > 0).

use super::check::{examine, Checked};
use super::{Context, Format};
use crate::connect::{connect, inventory, Target};
use crate::error::{Stop, EXIT_ERROR};
use crate::findings::FailOn;
use crate::report::print_json;
use crate::report::targets::{targets_human, targets_json, worst_exit_code, TargetOutcome};
use crate::shell::Command;
use anyhow::Result;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// `--parallel` when not given.
pub const DEFAULT_PARALLEL: usize = 4;

/// What `check --targets` needs besides the context.
#[derive(Clone, Debug)]
pub struct TargetsArgs {
    /// The file of targets (text, or TOML when it ends in `.toml`).
    pub file: PathBuf,
    /// How many targets are checked at once (at least 1).
    pub parallel: usize,
    /// `--fail-on`, for every target.
    pub fail_on: Vec<FailOn>,
}

/// Runs `check --targets`: reads the file (usage errors first), asks for the
/// passwords once per distinct login, checks the targets concurrently and
/// prints one table or one JSON document.
pub async fn run(ctx: &Context, args: &TargetsArgs) -> Result<u8> {
    if ctx.options.server.is_some() || ctx.options.connection_string.is_some() {
        return Err(Stop::Usage(
            "--targets names the servers: leave out -S and --connection-string (and RGS_SERVER, RGS_CONNECTION_STRING); the other connection flags apply to every target".into(),
        )
        .into());
    }
    if args.parallel == 0 {
        return Err(Stop::Usage("--parallel must be at least 1".into()).into());
    }
    let entries = inventory::read(&args.file, &ctx.options)?;
    let targets = inventory::resolve_all(&entries, &ctx.options)?;
    notes(ctx, &entries, &targets);
    let progress = ctx.progress(&format!("Checking {} targets", targets.len()));
    let checked = check_all(&targets, args).await;
    drop(progress);
    let outcomes: Vec<TargetOutcome> = entries
        .into_iter()
        .zip(targets)
        .zip(checked)
        .map(|((e, t), result)| TargetOutcome {
            name: e.name,
            server: t.server.to_string(),
            database: t.database.clone(),
            exit_code: result.as_ref().map_or(EXIT_ERROR, |c| c.exit_code),
            result: result.map(|c| (c.inspection, c.findings)),
            again: Command::new(t.flags()),
        })
        .collect();
    match ctx.format {
        Format::Human => print!("{}", targets_human(&outcomes)),
        Format::Json => print_json(&targets_json(&outcomes)),
    }
    Ok(worst_exit_code(&outcomes))
}

/// The warnings a single check gives, once for the run: `-C` anywhere, and
/// each connection string's ignored keys, naming the target.
fn notes(ctx: &Context, entries: &[inventory::Entry], targets: &[Target]) {
    let trusting = targets
        .iter()
        .filter(|t| t.trusts_server_certificate())
        .count();
    if trusting > 0 {
        ctx.note(&format!("warning: -C: the certificate of {trusting} of the {} targets is not verified, so their identity is not either", targets.len()));
    }
    for (e, t) in entries.iter().zip(targets) {
        for key in t.ignored_keys() {
            ctx.note(&format!(
                "note: {}: the connection string's '{key}' is accepted and ignored",
                e.name
            ));
        }
    }
}

/// Checks every target, at most `args.parallel` at a time; the results in
/// the targets' order.
async fn check_all(targets: &[Target], args: &TargetsArgs) -> Vec<Result<Checked>> {
    let permits = Arc::new(Semaphore::new(args.parallel));
    let fail_on = Arc::new(args.fail_on.clone());
    let mut running = tokio::task::JoinSet::new();
    for (n, target) in targets.iter().cloned().enumerate() {
        let permits = Arc::clone(&permits);
        let fail_on = Arc::clone(&fail_on);
        running.spawn(async move {
            // The semaphore is never closed, so a permit always comes.
            let _permit = permits.acquire_owned().await;
            (n, check_one(&target, &fail_on).await)
        });
    }
    let mut results: Vec<Option<Result<Checked>>> = targets.iter().map(|_| None).collect();
    while let Some(joined) = running.join_next().await {
        match joined {
            Ok((n, r)) => results[n] = Some(r),
            // A panic in one target's task: reported below as its error.
            Err(e) => tracing::error!("a target's check ended abnormally: {e}"),
        }
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(anyhow::anyhow!("the check of this target ended abnormally"))))
        .collect()
}

/// One target: connect (with its own timeouts) and check.
async fn check_one(target: &Target, fail_on: &[FailOn]) -> Result<Checked> {
    let mut conn = connect(target).await?;
    examine(&mut conn, fail_on).await
}
