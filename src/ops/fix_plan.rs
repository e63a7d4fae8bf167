//! `rgs-repair fix --plan FILE`: apply exactly the plan that was reviewed.
//! It refuses another database (exit 2, both identities named) unless
//! `--restored-elsewhere`, and refuses (exit 4, nothing changed, the
//! difference listed) when the rows without an owner in the plan's scope are
//! not exactly the planned ones, more or fewer.

use super::fix::{self, FixArgs};
use super::{Context, Format};
use crate::error::{Stop, EXIT_OK};
use crate::inspect::{self, Inspection};
use crate::plan::{self, Plan};
use crate::report::{print_json, FixJson, FixOutcome};
use anyhow::Result;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Runs `fix --plan FILE`.
pub async fn run(ctx: &Context, args: &FixArgs, file: &Path) -> Result<u8> {
    let saved =
        plan::file::load(file).map_err(|e| match e.downcast::<plan::file::BadPlanFile>() {
            Ok(bad) => Stop::Usage(bad.0).into(),
            Err(e) => e,
        })?;
    let journal_path = if args.dry_run {
        None
    } else {
        ctx.refuse_read_only_intent("fix")?;
        Some(fix::journal_path(ctx, args)?)
    };
    let mut conn = ctx.connect().await?;
    let progress = ctx.progress(&format!("Reading {}", conn.database));
    let inspection = inspect::inspect(
        &mut conn,
        inspect::Rows::Sample(crate::report::HUMAN_OBJECT_LIMIT),
    )
    .await?;
    drop(progress);
    let identity_override = check_identity(args, &saved, &inspection)?;
    let now = plan::select(&inspection, &saved.scope)?
        .with_pool(saved.pool.clone(), saved.lock_timeout_ms);
    let differences = differences(&saved, &now);
    if !differences.is_empty() {
        return Err(Stop::NotDone(format!(
            "the database no longer matches the plan {} (digest {}):\n{}\nNothing was changed. Make and review a new plan",
            file.display(),
            saved.digest,
            differences.join("\n")
        ))
        .into());
    }
    // The plan's pool ID was read from dbo.OwnerPool; it is the same value
    // exactly, or the pool is gone.
    if !inspection.pools.iter().any(|p| p.id == saved.pool.id) {
        return Err(Stop::NotDone(format!(
            "the plan's owner pool {} is no longer in dbo.OwnerPool; nothing was changed",
            saved.pool.label()
        ))
        .into());
    }
    if args.dry_run {
        if ctx.format == Format::Human {
            println!(
                "The plan {} (digest {}) still matches {} on {}: {} object(s) would get the owner pool {}. Nothing was changed.",
                file.display(),
                saved.digest,
                saved.database,
                inspection.server.identity.server_name,
                saved.row_count(),
                saved.pool.label()
            );
        } else {
            print_json(&FixJson::new(FixOutcome::DryRun, Some(&saved)));
        }
        return Ok(EXIT_OK);
    }
    if ctx.format == Format::Human {
        println!(
            "Applying the plan {} (digest {}), which still matches the database.\n",
            file.display(),
            saved.digest
        );
    }
    let path = journal_path.expect("a run that writes has a journal path");
    fix::apply(
        ctx,
        args,
        &mut conn,
        &inspection,
        &saved,
        &path,
        identity_override,
    )
    .await
}

/// Refuses a plan made on another database, naming both, unless
/// `--restored-elsewhere`; then returns what differed, for the journal.
fn check_identity(args: &FixArgs, saved: &Plan, i: &Inspection) -> Result<Option<String>> {
    let differences = saved.identity.differences(&i.server.identity);
    if differences.is_empty() {
        return Ok(None);
    }
    let what = differences.join("; ");
    if args.restored_elsewhere {
        eprintln!("note: --restored-elsewhere: applying a plan made on another database ({what})");
        return Ok(Some(what));
    }
    Err(Stop::Usage(format!(
        "the plan was made on database {} on {} (created {}), and this connection is to {} on {} (created {}): {what}. Nothing was changed. If the database was restored there, add --restored-elsewhere",
        saved.identity.database,
        saved.identity.server_name,
        saved.identity.database_created,
        i.server.identity.database,
        i.server.identity.server_name,
        i.server.identity.database_created,
    ))
    .into())
}

/// Per table, how the rows without an owner now differ from the plan's (by
/// count, and by the server's checksum of their keys); empty when they
/// match.
fn differences(saved: &Plan, now: &Plan) -> Vec<String> {
    let summary = |p: &Plan| -> BTreeMap<String, (u64, Option<i64>)> {
        p.tables
            .iter()
            .map(|t| (t.table.full_name(), (t.rows, t.checksum)))
            .collect()
    };
    let (then, now) = (summary(saved), summary(now));
    let tables: BTreeSet<&String> = then.keys().chain(now.keys()).collect();
    let mut out = Vec::new();
    for t in tables {
        match (then.get(t), now.get(t)) {
            (Some((a, _)), None) => out.push(format!(
                "  {t}: the plan has {a} row(s) without an owner; none lack one now"
            )),
            (None, Some((b, _))) => out.push(format!(
                "  {t}: not in the plan; {b} row(s) lack an owner now"
            )),
            (Some((a, _)), Some((b, _))) if a != b => out.push(format!(
                "  {t}: the plan has {a} row(s) without an owner; {b} lack one now"
            )),
            (Some((a, x)), Some((_, y))) if x != y => out.push(format!(
                "  {t}: {a} row(s) lack an owner, as planned, but not the same rows (the server's checksum of their keys differs)"
            )),
            _ => {}
        }
    }
    out
}
