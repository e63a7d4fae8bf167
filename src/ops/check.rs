//! `rgs-repair check`: read-only report of owner pools and findings.

use super::{Context, Format};
use crate::connect::Connection;
use crate::error::{EXIT_FINDINGS, EXIT_OK};
use crate::findings::{fails, FailOn};
use crate::inspect::{inspect_for, Finding, Inspection};
use crate::report::{self, print_json};
use anyhow::Result;

/// What `check` found in one database.
pub struct Checked {
    /// Pools, tables and the inspection's own findings.
    pub inspection: Inspection,
    /// The inspection's findings and the others `check` reads.
    pub findings: Vec<Finding>,
    /// 0 healthy, 3 when a finding `--fail-on` selects is present.
    pub exit_code: u8,
}

/// Runs `check`; exit 0 when healthy, 3 when a finding `fail_on` selects
/// is present (empty: every error, as before codes existed).
pub async fn run(ctx: &Context, fail_on: &[FailOn]) -> Result<u8> {
    let mut conn = ctx.connect().await?;
    let progress = ctx.progress(&format!("Reading {}", conn.database));
    let c = examine(&mut conn, fail_on).await?;
    drop(progress);
    match ctx.format {
        Format::Human => print!(
            "{}",
            report::check_human(
                &c.inspection,
                &c.findings,
                &ctx.command(std::iter::empty::<String>())?
            )
        ),
        Format::Json => print_json(&report::check_json(&c.inspection, &c.findings)),
    }
    Ok(c.exit_code)
}

/// The check itself on an open connection, shared by `check` and
/// `check --targets` so that one target is checked the same way either way.
pub async fn examine(conn: &mut Connection, fail_on: &[FailOn]) -> Result<Checked> {
    let inspection = inspect_for(conn, true).await?;
    let mut findings = inspection.findings();
    findings.extend(inspection.more.iter().cloned());
    let codes: Vec<&str> = findings.iter().map(|f| f.code()).collect();
    let exit_code = if fails(fail_on, &codes) {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    };
    Ok(Checked {
        inspection,
        findings,
        exit_code,
    })
}
