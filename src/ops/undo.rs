//! `rgs-repair undo --journal PATH`: put journalled rows back.

use super::{confirm, Context, Format};
use crate::apply::{self, WriteOptions};
use crate::connect::Connection;
use crate::error::{Stop, EXIT_OK};
use crate::inspect::{self, server_info};
use crate::journal::{Journal, Status, UndoRow};
use crate::report::{self, print_json, UndoJson};
use anyhow::{bail, Result};
use std::path::PathBuf;
use std::time::Duration;

/// `undo`'s own arguments.
#[derive(Clone, Debug)]
pub struct UndoArgs {
    /// `--journal`
    pub journal: PathBuf,
    /// `--dry-run`
    pub dry_run: bool,
    /// `--yes`
    pub yes: bool,
    /// `--lock-timeout`
    pub lock_timeout: Duration,
    /// `--retries`
    pub retries: u32,
}

/// Runs `undo`; exit 0 done, 4 not done, 1 error.
pub async fn run(ctx: &Context, args: &UndoArgs) -> Result<u8> {
    // The journal is read and checked once, before any password prompt or
    // connection.
    let mut j = Journal::read(&args.journal)?;
    check_journal(ctx, args, &j)?;
    let mut conn = ctx.connect().await?;
    let server = server_info(&mut conn).await?;
    if !server.server.eq_ignore_ascii_case(&j.server) {
        eprintln!("note: the journal was written for server {}, and this connection is to {} (fine if both name the same server)", j.server, server.server);
    }
    let preview = preview(&mut conn, &j).await?;
    let restorable = preview.iter().filter(|r| r.restorable()).count();
    if ctx.format == Format::Human {
        print!("{}", report::undo_human(&j, &preview));
    }
    if restorable == 0 || args.dry_run {
        return not_applied(ctx, args, restorable, preview.len());
    }
    let tables: Vec<(String, String)> = j
        .tables
        .iter()
        .map(|t| (t.schema.clone(), t.table.clone()))
        .collect();
    inspect::preflight(&mut conn, &server, &tables).await?;
    confirm(
        ctx,
        args.yes,
        &format!("Put {restorable} row(s) back to OwnerPoolId NULL?"),
    )?;
    if args.yes && ctx.format == Format::Human {
        eprintln!("Confirmed by --yes.");
    }
    let opts = WriteOptions {
        lock_timeout_ms: u32::try_from(args.lock_timeout.as_millis()).unwrap_or(u32::MAX),
        retries: args.retries,
        backoff: Duration::from_millis(200),
        cancel: ctx.interrupt.begin_write(),
    };
    let result = apply::undo(&mut conn, &mut j, &args.journal, &preview, &opts).await;
    ctx.interrupt.end_write();
    let rec = result?;
    match ctx.format {
        Format::Human => {
            println!();
            println!(
                "Committed: {} row(s) put back to OwnerPoolId NULL; {} left alone.",
                rec.restored, rec.left_alone
            );
            println!("The journal {} records the undo.", args.journal.display());
        }
        Format::Json => print_json(&UndoJson {
            journal: &args.journal,
            dry_run: None,
            restorable: None,
            restored: Some(rec.restored),
            left_alone: rec.left_alone,
            committed: Some(true),
        }),
    }
    Ok(EXIT_OK)
}

/// Refuses a journal there is nothing to undo with, or one for another
/// database than the connection names.
fn check_journal(ctx: &Context, args: &UndoArgs, j: &Journal) -> Result<()> {
    match j.status {
        Status::RolledBack => bail!(
            "the journal {} records a fix that was rolled back: there is nothing to undo",
            args.journal.display()
        ),
        Status::Pending | Status::CommitOutcomeUnknown => {
            eprintln!("note: the journal does not record a confirmed commit ({:?}); only rows that hold the fixed owner are put back", j.status)
        }
        Status::Committed => {}
    }
    if let Some(u) = &j.undo {
        if u.status == Status::Committed {
            bail!(
                "the journal {} was already undone on {} ({} row(s) put back)",
                args.journal.display(),
                u.at.format("%Y-%m-%d %H:%M:%S UTC"),
                u.restored
            );
        }
    }
    let database = &ctx.target()?.database;
    if !j.database.eq_ignore_ascii_case(database) {
        return Err(Stop::Usage(format!(
            "the journal is for database '{}' but the connection is to '{}': add -d {}",
            j.database, database, j.database
        ))
        .into());
    }
    Ok(())
}

/// What undo would do: every journalled row with its owner now, read
/// without a transaction.
async fn preview(conn: &mut Connection, j: &Journal) -> Result<Vec<UndoRow>> {
    let mut rows = Vec::new();
    for (t, q) in j.undo_tables()? {
        let current = inspect::current_owners(conn, &q, &t.keys()).await?;
        rows.extend(t.undo_rows(&current));
    }
    Ok(rows)
}

/// Nothing to put back, or a dry run: says so and changes nothing.
fn not_applied(ctx: &Context, args: &UndoArgs, restorable: usize, rows: usize) -> Result<u8> {
    let nothing = restorable == 0;
    match ctx.format {
        Format::Human if nothing => println!(
            "\nNothing to put back: no journalled row still holds the owner the fix wrote."
        ),
        Format::Human => println!("\nDry run: nothing was changed."),
        Format::Json => print_json(&UndoJson {
            journal: &args.journal,
            dry_run: (!nothing).then_some(true),
            restorable: Some(restorable),
            restored: None,
            left_alone: rows - restorable,
            committed: nothing.then_some(false),
        }),
    }
    Ok(EXIT_OK)
}
