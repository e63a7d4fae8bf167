//! `rgs-repair check`: read-only report of owner pools and findings.

use super::{Context, Format};
use crate::error::{EXIT_FINDINGS, EXIT_OK};
use crate::findings::{fails, FailOn};
use crate::inspect::inspect_for;
use crate::report::{self, print_json};
use anyhow::Result;

/// Runs `check`; exit 0 when healthy, 3 when a finding `fail_on` selects
/// is present (empty: every error, as before codes existed).
pub async fn run(ctx: &Context, fail_on: &[FailOn]) -> Result<u8> {
    let mut conn = ctx.connect().await?;
    let progress = ctx.progress(&format!("Reading {}", conn.database));
    let i = inspect_for(&mut conn, true).await?;
    let mut findings = i.findings();
    findings.extend(i.more.iter().cloned());
    drop(progress);
    match ctx.format {
        Format::Human => print!(
            "{}",
            report::check_human(&i, &findings, &ctx.command(std::iter::empty::<String>())?)
        ),
        Format::Json => print_json(&report::check_json(&i, &findings)),
    }
    let codes: Vec<&str> = findings.iter().map(|f| f.code()).collect();
    Ok(if fails(fail_on, &codes) {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    })
}
