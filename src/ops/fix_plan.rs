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
use crate::value::DbValue;
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
    let inspection = inspect::inspect(&mut conn, inspect::Rows::All).await?;
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

/// Per table, the keys without an owner now that the plan does not have,
/// and the planned keys that no longer lack one; empty when they match.
fn differences(saved: &Plan, now: &Plan) -> Vec<String> {
    let keys = |p: &Plan| -> BTreeMap<String, BTreeSet<Vec<DbValue>>> {
        p.tables
            .iter()
            .map(|t| {
                let keys = t
                    .rows
                    .iter()
                    // Keys as the server returned them, both times.
                    .map(|r| r.key.clone())
                    .collect();
                (t.table.full_name(), keys)
            })
            .collect()
    };
    let (then, now) = (keys(saved), keys(now));
    let tables: BTreeSet<&String> = then.keys().chain(now.keys()).collect();
    let empty = BTreeSet::new();
    let mut out = Vec::new();
    for t in tables {
        let (a, b) = (then.get(t).unwrap_or(&empty), now.get(t).unwrap_or(&empty));
        let gone: Vec<String> = a.difference(b).map(|k| key_text(k)).collect();
        let new: Vec<String> = b.difference(a).map(|k| key_text(k)).collect();
        if !gone.is_empty() {
            out.push(format!(
                "  {t}: {} planned row(s) no longer lack an owner: {}",
                gone.len(),
                sample(&gone)
            ));
        }
        if !new.is_empty() {
            out.push(format!(
                "  {t}: {} row(s) not in the plan now lack an owner: {}",
                new.len(),
                sample(&new)
            ));
        }
    }
    out
}

fn key_text(key: &[DbValue]) -> String {
    key.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn sample(keys: &[String]) -> String {
    let shown: Vec<&str> = keys.iter().take(10).map(String::as_str).collect();
    if keys.len() > shown.len() {
        format!("{} and {} more", shown.join("; "), keys.len() - shown.len())
    } else {
        shown.join("; ")
    }
}
