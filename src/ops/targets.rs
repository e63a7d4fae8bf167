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
    if trusting == targets.len() {
        ctx.note(
            "warning: -C: no target's certificate is verified, so neither is the server's identity",
        );
    } else if trusting > 0 {
        ctx.note(&format!("warning: -C: the certificate of {trusting} of the {} targets is not verified, so neither is their identity", targets.len()));
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
    let fail_on = Arc::new(args.fail_on.clone());
    bounded(targets.to_vec(), args.parallel, move |target| {
        let fail_on = Arc::clone(&fail_on);
        async move { check_one(&target, &fail_on).await }
    })
    .await
    .into_iter()
    .map(|r| r.unwrap_or_else(|| Err(anyhow::anyhow!("the check of this target ended abnormally"))))
    .collect()
}

/// Runs `work` on every item, at most `parallel` at once, each on its own
/// task; the results in the items' order (None for a task that panicked).
async fn bounded<T, R, F, Fut>(items: Vec<T>, parallel: usize, work: F) -> Vec<Option<R>>
where
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = R> + Send + 'static,
    R: Send + 'static,
{
    let permits = Arc::new(Semaphore::new(parallel.max(1)));
    let mut running = tokio::task::JoinSet::new();
    let mut results: Vec<Option<R>> = items.iter().map(|_| None).collect();
    for (n, item) in items.into_iter().enumerate() {
        let permits = Arc::clone(&permits);
        let job = work(item);
        running.spawn(async move {
            // The semaphore is never closed, so a permit always comes.
            let _permit = permits.acquire_owned().await;
            (n, job.await)
        });
    }
    while let Some(joined) = running.join_next().await {
        match joined {
            Ok((n, r)) => results[n] = Some(r),
            Err(e) => tracing::error!("a target's check ended abnormally: {e}"),
        }
    }
    results
}

/// One target: connect (with its own timeouts) and check.
async fn check_one(target: &Target, fail_on: &[FailOn]) -> Result<Checked> {
    let mut conn = connect(target).await?;
    examine(&mut conn, fail_on).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_most_parallel_run_at_once_and_results_keep_their_order() {
        for parallel in [1, 3] {
            let now = Arc::new(AtomicUsize::new(0));
            let most = Arc::new(AtomicUsize::new(0));
            let (n, m) = (Arc::clone(&now), Arc::clone(&most));
            let out = bounded((0..12u64).collect(), parallel, move |i| {
                let (now, most) = (Arc::clone(&n), Arc::clone(&m));
                async move {
                    let running = now.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(running, Ordering::SeqCst);
                    // Later items finish first, so order comes from the index.
                    tokio::time::sleep(std::time::Duration::from_millis(12 - i)).await;
                    now.fetch_sub(1, Ordering::SeqCst);
                    i * 10
                }
            })
            .await;
            assert!(most.load(Ordering::SeqCst) <= parallel);
            assert_eq!(out, (0..12u64).map(|i| Some(i * 10)).collect::<Vec<_>>());
        }
    }
}
