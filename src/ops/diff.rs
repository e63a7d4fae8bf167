//! `rgs-repair diff A B` (or `diff A --live`): rows added, removed and
//! changed per table between two snapshots, or between a snapshot and the
//! database now. Exit 0 without differences, 3 with.

use super::{Context, Format};
use crate::error::{Stop, EXIT_FINDINGS, EXIT_OK};
use crate::snapshot::{self, diff, schema::Schema, Options};
use anyhow::Result;
use std::path::PathBuf;

/// `diff`'s arguments.
#[derive(Clone, Debug)]
pub struct DiffArgs {
    /// Snapshot A (before).
    pub a: PathBuf,
    /// Snapshot B (after); None with `live`.
    pub b: Option<PathBuf>,
    /// Compare A with the database now.
    pub live: bool,
}

/// Runs `diff`.
pub async fn run(ctx: &Context, args: &DiffArgs) -> Result<u8> {
    // A folder that is not a snapshot is a usage error, found before
    // connecting.
    for dir in std::iter::once(&args.a).chain(args.b.as_ref()) {
        Schema::load(dir).map_err(|e| Stop::Usage(format!("{e:#}")))?;
    }
    let d = match (&args.b, args.live) {
        (Some(b), false) => diff::compare(&args.a, b)?,
        (None, true) => {
            // The database now, as a snapshot of the same tables in a
            // temporary folder, compared like any other.
            let tmp = tempfile::tempdir()?;
            let live = tmp.path().join("live");
            let mut conn = ctx.connect().await?;
            let options = Options {
                tables: None,
                force: false,
                progress: false,
                server: None,
            };
            snapshot::take(&mut conn, &live, &options).await?;
            let mut d = diff::compare(&args.a, &live)?;
            d.b = "live".into();
            d
        }
        _ => {
            return Err(Stop::Usage(
                "diff needs a second snapshot, or --live to compare with the database now".into(),
            )
            .into())
        }
    };
    match ctx.format {
        Format::Human => print!("{}", diff::human(&d)),
        Format::Json => crate::report::print_json(&d),
    }
    Ok(if d.tables.is_empty() {
        EXIT_OK
    } else {
        EXIT_FINDINGS
    })
}
