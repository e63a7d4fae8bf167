//! `rgs-repair snapshot --out DIR`: the configuration written down before
//! anything changes (see [`crate::snapshot`]).

use super::{Context, Format};
use crate::error::EXIT_OK;
use crate::snapshot::{self, Options};
use anyhow::Result;
use std::io::IsTerminal;
use std::path::PathBuf;

/// `snapshot`'s arguments.
#[derive(Clone, Debug)]
pub struct SnapshotArgs {
    /// The folder to write.
    pub out: PathBuf,
    /// Replace a folder that is not empty.
    pub force: bool,
}

/// Runs `snapshot`; exit 0 when the folder is complete.
pub async fn run(ctx: &Context, args: &SnapshotArgs) -> Result<u8> {
    // Refused before a password is asked for or a connection made.
    snapshot::files::check(&args.out, args.force)?;
    let mut conn = ctx.connect().await?;
    let options = Options {
        tables: None,
        force: args.force,
        progress: !ctx.quiet && std::io::stderr().is_terminal(),
        server: None,
    };
    let s = snapshot::take(&mut conn, &args.out, &options).await?;
    match ctx.format {
        Format::Human => println!(
            "Snapshot written to {}: {} tables, {} rows ({}).",
            s.dir.display(),
            s.tables,
            s.rows,
            snapshot::note(s.isolation).level
        ),
        Format::Json => crate::report::print_json(&serde_json::json!({
            "command": "snapshot",
            "dir": s.dir.display().to_string(),
            "tables": s.tables,
            "rows": s.rows,
            "isolation": snapshot::note(s.isolation).level,
        })),
    }
    Ok(EXIT_OK)
}
