//! `rgs-repair demo`: the whole story against an in-process sandbox loaded
//! with the `migrated` scenario, for a newcomer to follow.

use super::{check, fix, undo, Context, Format, Interrupt};
use crate::connect::{ConnectOptions, Encrypt};
use crate::error::{EXIT_FINDINGS, EXIT_OK};
use anyhow::{bail, Result};
use rgs_sandbox::{Sandbox, SandboxOptions};
use std::time::Duration;

fn banner(step: &str, command: &str, why: &str) {
    println!();
    println!("==> {step}: rgs-repair {command}");
    println!("    ({why})");
    println!();
}

/// Runs the demo; exit 0 when every step ended as expected.
pub async fn run(scenario: &str, interrupt: Interrupt) -> Result<u8> {
    let opts = SandboxOptions {
        scenario: Some(scenario.to_string()),
        ..SandboxOptions::default()
    };
    let mut sandbox = tokio::task::spawn_blocking(move || Sandbox::start(opts)).await??;
    println!(
        "Started the sandbox (a TDS server on SQLite, standing in for SQL Server) on {}",
        sandbox.addr()
    );
    println!("with the '{scenario}' scenario: a Lync 2013 pool whose response groups were migrated and lost their owner pool.");
    let ctx = context(&sandbox, interrupt)?;
    let dir = tempfile::Builder::new()
        .prefix("rgs-repair-demo-")
        .tempdir()?;
    steps(&ctx, &dir.path().join("rgs-repair-journal-demo.json")).await?;
    println!();
    println!(
        "Done. Against your own server, use the same commands with your connection flags, e.g.:"
    );
    println!("  rgs-repair -S 'sqlbe01.contoso.local\\rtc' -E check");
    println!(
        "The sandbox and the demo journal (in {}) are removed now.",
        dir.path().display()
    );
    sandbox.stop();
    Ok(EXIT_OK)
}

/// A context for the sandbox: its connection string, and no prompts (the
/// demo confirms with --yes).
fn context(sandbox: &Sandbox, interrupt: Interrupt) -> Result<Context> {
    let options = ConnectOptions {
        server: None,
        database: None,
        user: None,
        integrated: false,
        encrypt: Encrypt::Mandatory,
        trust_server_certificate: false,
        connect_timeout: Duration::from_secs(15),
        command_timeout: Duration::from_secs(60),
        connection_string: Some(sandbox.ado_connection_string()),
        password_stdin: false,
        multi_subnet_failover: false,
        read_only_intent: None,
        lock_timeout_ms: 10_000,
    };
    let mut ctx = Context::new(options, Format::Human, interrupt);
    ctx.interactive = false;
    Ok(ctx)
}

/// check, dry run, fix, check, undo, each expected to end as it should.
async fn steps(ctx: &Context, journal: &std::path::Path) -> Result<()> {
    let journal = journal.to_path_buf();
    let fix_args = fix::FixArgs {
        dry_run: true,
        no_snapshot: false,
        journal: Some(journal.clone()),
        ..fix::FixArgs::default()
    };

    banner(
        "1. Look",
        "check",
        "read-only: owner pools, tables with an OwnerPoolId column, objects without an owner",
    );
    expect("check", check::run(ctx, &[]).await?, EXIT_FINDINGS)?;

    banner(
        "2. Plan",
        "fix --dry-run",
        "shows every object it would change and the exact T-SQL; changes nothing",
    );
    expect("fix --dry-run", fix::run(ctx, &fix_args).await?, EXIT_OK)?;

    banner("3. Repair", "fix --yes", "the demo confirms automatically; on a real server you would answer the question after reading the plan");
    expect(
        "fix --yes",
        fix::run(
            ctx,
            &fix::FixArgs {
                dry_run: false,
                yes: true,
                ..fix_args.clone()
            },
        )
        .await?,
        EXIT_OK,
    )?;

    banner(
        "4. Verify",
        "check",
        "every object should now have its owner pool",
    );
    expect("check", check::run(ctx, &[]).await?, EXIT_OK)?;

    banner(
        "5. Undo",
        &format!("undo --journal {} --yes", journal.display()),
        "puts back exactly the rows the journal recorded",
    );
    let undo_args = undo::UndoArgs {
        journal: journal.clone(),
        yes: true,
        ..undo::UndoArgs::default()
    };
    expect("undo --yes", undo::run(ctx, &undo_args).await?, EXIT_OK)
}

fn expect(step: &str, got: u8, want: u8) -> Result<()> {
    if got != want {
        bail!("demo step `{step}` ended with exit code {got}, expected {want}");
    }
    Ok(())
}
