//! `rgs-repair check`: read-only report of owner pools and findings.

use super::{Context, Format};
use crate::error::{EXIT_FINDINGS, EXIT_OK};
use crate::inspect::inspect;
use crate::report::{self, print_json};
use anyhow::Result;

/// Runs `check`; exit 0 when healthy, 3 with findings.
pub async fn run(ctx: &Context) -> Result<u8> {
    let mut conn = ctx.connect().await?;
    let progress = ctx.progress(&format!("Reading {}", conn.database));
    let i = inspect(&mut conn).await?;
    drop(progress);
    match ctx.format {
        Format::Human => print!(
            "{}",
            report::check_human(&i, &ctx.command(std::iter::empty::<String>())?)
        ),
        Format::Json => print_json(&report::check_json(&i)),
    }
    Ok(if i.findings().is_empty() {
        EXIT_OK
    } else {
        EXIT_FINDINGS
    })
}
