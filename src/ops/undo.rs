//! `rgs-repair undo --journal PATH`: put journalled rows back.

use super::{confirm, preflight, print_json, Context, Format};
use crate::apply::{self, WriteOptions};
use crate::error::{Stop, EXIT_OK};
use crate::inspect::server_info;
use crate::journal::{Journal, Status};
use crate::report;
use anyhow::{bail, Result};
use serde_json::json;
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
    // The journal is read and checked before any connection is made.
    let mut j = Journal::read(&args.journal)?;
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
    if !j.database.eq_ignore_ascii_case(&ctx.target.database) {
        return Err(Stop::Usage(format!(
            "the journal is for database '{}' but the connection is to '{}': add -d {}",
            j.database, ctx.target.database, j.database
        ))
        .into());
    }
    let mut conn = ctx.connect().await?;
    let server = server_info(&mut conn).await?;
    if !server.server.eq_ignore_ascii_case(&j.server) {
        eprintln!("note: the journal was written for server {}, and this connection is to {} (fine if both name the same server)", j.server, server.server);
    }
    let preview = apply::undo_preview(&mut conn, &j).await?;
    let restorable = preview.iter().filter(|r| r.restorable()).count();
    if ctx.format == Format::Human {
        print!("{}", report::undo_human(&j, &preview));
    }
    if restorable == 0 {
        if ctx.format == Format::Human {
            println!(
                "\nNothing to put back: no journalled row still holds the owner the fix wrote."
            );
        } else {
            print_json(
                &json!({ "journal": args.journal, "restorable": 0, "left_alone": preview.len(), "committed": false }),
            );
        }
        return Ok(EXIT_OK);
    }
    if args.dry_run {
        match ctx.format {
            Format::Human => println!("\nDry run: nothing was changed."),
            Format::Json => print_json(
                &json!({ "journal": args.journal, "dry_run": true, "restorable": restorable, "left_alone": preview.len() - restorable }),
            ),
        }
        return Ok(EXIT_OK);
    }
    let tables: Vec<(String, String)> = j
        .tables
        .iter()
        .map(|t| (t.schema.clone(), t.table.clone()))
        .collect();
    preflight(&mut conn, &server, &tables).await?;
    confirm(
        ctx,
        args.yes,
        &format!("Put {restorable} row(s) back to OwnerPoolId NULL?"),
    )?;
    if args.yes && ctx.format == Format::Human {
        eprintln!("Confirmed by --yes.");
    }
    let lock_timeout_ms = u32::try_from(args.lock_timeout.as_millis()).unwrap_or(u32::MAX);
    let cancel = ctx.interrupt.begin_write();
    let opts = WriteOptions {
        lock_timeout_ms,
        retries: args.retries,
        backoff: Duration::from_millis(200),
        cancel,
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
        Format::Json => print_json(
            &json!({ "journal": args.journal, "committed": true, "restored": rec.restored, "left_alone": rec.left_alone }),
        ),
    }
    Ok(EXIT_OK)
}
