//! `rgs-repair undo --journal PATH`: put a fix's rows back. It reads the
//! fix's journal once, refuses an edited journal or another database, and
//! writes a journal of its own beside the fix's (never rewriting it).

use super::{confirm, fix::DEFAULT_RETRIES, Context, Format};
use crate::apply::{self, WriteOptions};
use crate::connect::Connection;
use crate::error::{Stop, EXIT_OK};
use crate::inspect::undo::LeftAlone;
use crate::inspect::{self, undo, Identity};
use crate::journal::{self, Audit, Journal, Kind, RowChange, Status, UndoRow, UndoTablePreview};
use crate::report::json::{undo_json, write_json, UndoCounts};
use crate::report::{self, UndoOutcome, HUMAN_OBJECT_LIMIT};
use anyhow::{bail, Context as _, Result};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// `undo`'s own arguments.
#[derive(Clone, Debug, Default)]
pub struct UndoArgs {
    /// `--journal`: the fix's journal
    pub journal: PathBuf,
    /// `--dry-run`
    pub dry_run: bool,
    /// `--yes`
    pub yes: bool,
    /// `--accept-edited-journal`
    pub accept_edited_journal: bool,
    /// `--restored-elsewhere`
    pub restored_elsewhere: bool,
    /// `--lock-timeout`, when given
    pub lock_timeout: Option<Duration>,
    /// `--retries`, when given
    pub retries: Option<u32>,
}

/// Runs `undo`; exit 0 done, 4 not done, 2 wrong journal, 1 error.
pub async fn run(ctx: &Context, args: &UndoArgs) -> Result<u8> {
    if !args.dry_run {
        ctx.refuse_read_only_intent("undo")?;
    }
    // The journal is read and checked once, before any password prompt or
    // connection.
    let fix = read_journal(args)?;
    check_journal(ctx, args, &fix)?;
    let undo_path = journal::undo_path(&args.journal, chrono::Utc::now());
    if !args.dry_run {
        journal::check_new_path(&undo_path)?;
    }
    let key_tables = undo::key_tables(&fix.journalled_tables()?)?;
    let mut conn = ctx.connect().await?;
    // The key tables are the session's own (tempdb): made with the first
    // request, before the identity check, they change nothing of any
    // database.
    let server = inspect::server_info_after(&mut conn, Some(&key_tables)).await?;
    let identity_override = check_identity(args, &fix, &server.identity)?;
    let progress = ctx.progress(&format!(
        "Reading the {} journalled row(s)",
        fix.row_count()
    ));
    let (preview, permissions) = preview(&mut conn, &fix, &args.journal).await?;
    drop(progress);
    let restorable: u64 = preview.iter().map(|p| p.summary.restorable).sum();
    if ctx.format == Format::Human {
        print!("{}", report::undo_human(&fix, &preview));
    }
    if restorable == 0 || args.dry_run {
        return not_applied(ctx, args, &fix, &preview, restorable == 0);
    }
    inspect::check_writable(&server)?;
    inspect::check_permissions(&permissions)?;
    confirm(
        ctx,
        args.yes,
        &format!(
            "Put {} row(s) in {} on {} back to OwnerPoolId NULL?",
            restorable, server.database, server.identity.server_name
        ),
    )?;
    if args.yes && ctx.format == Format::Human {
        ctx.note("Confirmed by --yes.");
    }
    let audit = Audit::here(&ctx.target()?.login());
    let routed_to = server.routed_to.clone();
    let mut uj = Journal::for_undo(&fix, &args.journal, server.identity, audit);
    uj.routed_to = routed_to;
    uj.identity_override = identity_override;
    let opts = WriteOptions {
        lock_timeout_ms: super::fix::lock_timeout_ms(args.lock_timeout),
        retries: args.retries.unwrap_or(DEFAULT_RETRIES),
        backoff: Duration::from_millis(200),
        cancel: ctx.interrupt.begin_write(),
    };
    let progress = ctx.progress("Putting the rows back in one transaction");
    let result = apply::undo(
        &mut conn,
        &fix,
        &args.journal,
        &preview,
        &mut uj,
        &undo_path,
        &opts,
    )
    .await;
    drop(progress);
    ctx.interrupt.end_write();
    let rec = result?;
    report_done(ctx, args, &rec, &undo_path, &fix, &preview)?;
    Ok(EXIT_OK)
}

fn read_journal(args: &UndoArgs) -> Result<Journal> {
    // Its rows are counted and checked, not kept: undo reads them again as
    // it sends them.
    Journal::open(&args.journal, args.accept_edited_journal).map_err(|e| {
        match e.downcast::<journal::Edited>() {
            Ok(edited) => Stop::Usage(edited.to_string()).into(),
            Err(e) => e,
        }
    })
}

/// Refuses a journal there is nothing to undo with, one already undone, or
/// one for another database than the connection names.
fn check_journal(ctx: &Context, args: &UndoArgs, j: &Journal) -> Result<()> {
    if j.kind != Kind::Fix {
        return Err(Stop::Usage(format!(
            "{} is the journal of an undo, not of a fix: give undo the fix's journal",
            args.journal.display()
        ))
        .into());
    }
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
    if let Some((path, u)) = journal::find_undo(&args.journal, &j.digest) {
        bail!(
            "the journal {} was already undone on {} ({} row(s) put back; the undo's journal is {})",
            args.journal.display(),
            u.status_at.format("%Y-%m-%d %H:%M:%S UTC"),
            u.row_count(),
            path.display()
        );
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

/// Refuses to undo on another database than the fix changed (a pool paired
/// for disaster recovery holds the same object GUIDs), naming both, unless
/// `--restored-elsewhere`; then returns what differed, for the journal.
fn check_identity(args: &UndoArgs, fix: &Journal, now: &Identity) -> Result<Option<String>> {
    let differences = fix.identity.differences(now);
    if differences.is_empty() {
        return Ok(None);
    }
    let what = differences.join("; ");
    if args.restored_elsewhere {
        eprintln!(
            "note: --restored-elsewhere: undoing on another database than the fix changed ({what})"
        );
        return Ok(Some(what));
    }
    Err(Stop::Usage(format!(
        "the journal records a fix of database {} on {} (created {}), and this connection is to {} on {} (created {}): {what}. Nothing was changed. If the database was restored there, add --restored-elsewhere",
        fix.identity.database,
        fix.identity.server_name,
        fix.identity.database_created,
        now.database,
        now.server_name,
        now.database_created
    ))
    .into())
}

/// What undo would do: the fix's keys sent to the server once (read from
/// the journal as they are sent), each journalled table summed up by the
/// server and its rows left alone listed, and the login's permissions on
/// the journal's tables, in the same request. The first rows of each table
/// are kept for people.
async fn preview(
    conn: &mut Connection,
    j: &Journal,
    path: &Path,
) -> Result<(Vec<UndoTablePreview>, Vec<inspect::Permission>)> {
    let tables = j.journalled_tables()?;
    let first: Mutex<Vec<Vec<RowChange>>> = Mutex::new(vec![Vec::new(); tables.len()]);
    let keys = j.rows(path)?.map(|r| {
        r.map(|(i, row)| {
            if let Ok(mut f) = first.lock() {
                if f.get(i).is_some_and(|f| f.len() < HUMAN_OBJECT_LIMIT) {
                    f[i].push(row.clone());
                }
            }
            (i, row.key)
        })
    });
    let counts: Vec<usize> = (0..tables.len()).map(|i| j.table_rows(i)).collect();
    let (_, unsent) = undo::upload_keys(conn, &tables, &counts, keys).await?;
    let perms: Vec<(String, String, String)> = j
        .tables
        .iter()
        .map(|t| (t.schema.clone(), t.table.clone(), t.owner_column.clone()))
        .collect();
    let (summaries, left, permissions) =
        undo::preview(conn, &tables, &j.pool.id, &perms, unsent).await?;
    let first = first.into_inner().unwrap_or_default();
    let preview = j
        .tables
        .iter()
        .zip(summaries)
        .zip(left)
        .zip(first)
        .map(|(((t, summary), left_alone), first)| {
            let table = t.full_name();
            let first = first
                .into_iter()
                .map(|r| UndoRow::of(&table, r, &left_alone))
                .collect();
            UndoTablePreview {
                table,
                summary,
                left_alone,
                first,
            }
        })
        .collect();
    Ok((preview, permissions))
}

/// `undo`'s JSON document on standard output, every journalled row read
/// from the journal again as it is written (memory does not grow with the
/// rows); `committed` is the undo's record and journal, once it committed.
/// A row that cannot be read leaves the document unfinished and fails.
fn write_undo_json(
    outcome: UndoOutcome,
    j: &Journal,
    path: &Path,
    preview: &[UndoTablePreview],
    committed: Option<(&journal::UndoRecord, &Path)>,
) -> Result<()> {
    let counts = UndoCounts {
        rows: j.row_count(),
        // The temporary table's primary key made the journalled keys of a
        // table distinct, so each row left alone is one journalled row.
        left_alone: preview.iter().map(|p| p.left_alone.len()).sum(),
    };
    let none = LeftAlone::new();
    let rows = j.rows(path)?.map(|r| {
        r.map(|(i, row)| {
            let (table, left) = preview
                .get(i)
                .map_or(("", &none), |p| (p.table.as_str(), &p.left_alone));
            UndoRow::of(table, row, left)
        })
    });
    let mut doc = undo_json(outcome, path, counts, rows);
    if let Some((rec, undo_path)) = committed {
        doc.restored = rec.restored;
        doc.undo_journal = Some(undo_path.display().to_string());
    }
    write_json(&doc)
}

/// Nothing to put back, or a dry run: says so and changes nothing.
fn not_applied(
    ctx: &Context,
    args: &UndoArgs,
    j: &Journal,
    preview: &[UndoTablePreview],
    nothing: bool,
) -> Result<u8> {
    match ctx.format {
        Format::Human if nothing => println!(
            "\nNothing to put back: no journalled row still holds the owner the fix wrote."
        ),
        Format::Human => println!("\nDry run: nothing was changed."),
        Format::Json => {
            let outcome = if nothing {
                UndoOutcome::NothingToPutBack
            } else {
                UndoOutcome::DryRun
            };
            write_undo_json(outcome, j, &args.journal, preview, None)?;
        }
    }
    Ok(EXIT_OK)
}

fn report_done(
    ctx: &Context,
    args: &UndoArgs,
    rec: &journal::UndoRecord,
    path: &Path,
    j: &Journal,
    preview: &[UndoTablePreview],
) -> Result<()> {
    match ctx.format {
        Format::Human => {
            println!();
            println!(
                "Committed: {} row(s) put back to OwnerPoolId NULL; {} left alone.",
                rec.restored, rec.left_alone
            );
            println!("The undo's journal: {}", path.display());
        }
        Format::Json => {
            write_undo_json(
                UndoOutcome::Committed,
                j,
                &args.journal,
                preview,
                Some((rec, path)),
            )
            .with_context(|| {
                format!(
                    "the undo was committed ({} row(s) put back; its journal is {}), but its rows could not all be listed",
                    rec.restored,
                    path.display()
                )
            })?;
        }
    }
    Ok(())
}
