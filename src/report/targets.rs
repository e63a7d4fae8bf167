//! `check --targets`: one table for people and one JSON document for
//! programs, a row per target in the file's order. A target that could not
//! be checked is a row with its one-sentence error.

use super::json::{check_json, CheckJson, SCHEMA_VERSION};
use crate::error::{EXIT_ERROR, EXIT_FINDINGS, EXIT_OK};
use crate::findings::Severity;
use crate::inspect::{Finding, Inspection};
use crate::shell::Command;
use schemars::JsonSchema;
use serde::Serialize;
use std::fmt::Write;

/// What checking one target came to.
pub struct TargetOutcome {
    /// The inventory's name for it, or the server as written.
    pub name: String,
    /// The server, as `-S` takes it.
    pub server: String,
    /// The database.
    pub database: String,
    /// The inspection and every finding; or why the target was not checked.
    pub result: Result<(Inspection, Vec<Finding>), anyhow::Error>,
    /// 0 healthy, 3 findings `--fail-on` selects, 1 not checked.
    pub exit_code: u8,
    /// The command that checks this target alone (never with a password).
    pub again: Command,
}

/// A target's status, from its exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TargetStatus {
    /// Checked; nothing `--fail-on` selects (exit 0).
    Healthy,
    /// Checked; findings `--fail-on` selects (exit 3).
    Findings,
    /// Not checked: unreachable, login failed, or the check failed (exit 1).
    Error,
}

impl TargetOutcome {
    /// Its status.
    pub fn status(&self) -> TargetStatus {
        match (&self.result, self.exit_code) {
            (Err(_), _) => TargetStatus::Error,
            (Ok(_), EXIT_OK) => TargetStatus::Healthy,
            (Ok(_), _) => TargetStatus::Findings,
        }
    }
}

/// The run's exit code: the worst of the targets', where an error (1) is
/// worse than findings (3), which are worse than healthy (0).
pub fn worst_exit_code(outcomes: &[TargetOutcome]) -> u8 {
    let rank = |c: u8| match c {
        EXIT_OK => 0,
        EXIT_FINDINGS => 1,
        _ => 2,
    };
    outcomes
        .iter()
        .map(|o| o.exit_code)
        .max_by_key(|c| rank(*c))
        .unwrap_or(EXIT_OK)
}

/// The error as one line.
fn sentence(e: &anyhow::Error) -> String {
    format!("{e:#}")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// `2 errors (RGS001, RGS002), 1 warning (RGS006)`, or `none`.
fn findings_cell(findings: &[Finding]) -> String {
    let mut parts = Vec::new();
    for (sev, one, many) in [
        (Severity::Error, "error", "errors"),
        (Severity::Warning, "warning", "warnings"),
        (Severity::Info, "info", "info"),
    ] {
        let of: Vec<&Finding> = findings
            .iter()
            .filter(|f| f.entry().severity == sev)
            .collect();
        if of.is_empty() {
            continue;
        }
        let mut codes: Vec<&str> = of.iter().map(|f| f.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        let word = if of.len() == 1 { one } else { many };
        parts.push(format!("{} {word} ({})", of.len(), codes.join(", ")));
    }
    if parts.is_empty() {
        "none".to_string()
    } else {
        parts.join(", ")
    }
}

/// The table for people, a line of totals, and how to see one target's
/// findings in full.
pub fn targets_human(outcomes: &[TargetOutcome]) -> String {
    let rows: Vec<Vec<String>> = outcomes
        .iter()
        .map(|o| {
            let (pools, tables, findings, status) = match &o.result {
                Ok((i, f)) => (
                    i.pools.len().to_string(),
                    i.tables.len().to_string(),
                    findings_cell(f),
                    match o.status() {
                        TargetStatus::Healthy => "healthy".to_string(),
                        _ => "findings".to_string(),
                    },
                ),
                Err(e) => (
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    format!("error: {}", sentence(e)),
                ),
            };
            vec![
                o.name.clone(),
                o.database.clone(),
                pools,
                tables,
                findings,
                status,
            ]
        })
        .collect();
    let mut out = super::table(
        &[
            "TARGET", "DATABASE", "POOLS", "TABLES", "FINDINGS", "STATUS",
        ],
        &rows,
    );
    let count = |s: TargetStatus| outcomes.iter().filter(|o| o.status() == s).count();
    let _ = writeln!(
        out,
        "\n{} target{}: {} healthy, {} with findings, {} not checked (exit {}).",
        outcomes.len(),
        if outcomes.len() == 1 { "" } else { "s" },
        count(TargetStatus::Healthy),
        count(TargetStatus::Findings),
        count(TargetStatus::Error),
        worst_exit_code(outcomes)
    );
    let with_findings: Vec<&TargetOutcome> = outcomes
        .iter()
        .filter(|o| o.status() == TargetStatus::Findings)
        .collect();
    if !with_findings.is_empty() {
        let _ = writeln!(out, "The findings of one target, in full:");
        for o in with_findings {
            let _ = writeln!(out, "  {}: {}", o.name, o.again.clone().arg("check"));
        }
    }
    out
}

/// One target in `check --targets --format json`.
#[derive(Serialize, JsonSchema)]
pub struct TargetJson {
    /// The inventory's name, or the server as written in the file.
    pub target: String,
    /// The server, as `-S` takes it.
    pub server: String,
    /// The database.
    pub database: String,
    /// healthy (exit 0), findings (exit 3) or error (exit 1).
    pub status: TargetStatus,
    /// This target's exit code.
    pub exit_code: u8,
    /// Why it was not checked (one sentence); null when it was.
    pub error: Option<String>,
    /// SQL Server's error number, when a statement of the check failed
    /// with one (1222: a lock wait ended); a failed login names its
    /// number in `error`.
    pub sql_server_error: Option<u32>,
    /// The `check --format json` document of this target; null when it
    /// was not checked.
    pub check: Option<CheckJson>,
}

/// `check --targets FILE --format json`.
#[derive(Serialize, JsonSchema)]
pub struct TargetsJson {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `check`.
    pub command: String,
    /// One per target, in the file's order.
    pub targets: Vec<TargetJson>,
    /// Targets healthy.
    pub healthy: usize,
    /// Targets with findings `--fail-on` selects.
    pub with_findings: usize,
    /// Targets not checked.
    pub errors: usize,
    /// The run's exit code: the worst of the targets' (1 > 3 > 0).
    pub exit_code: u8,
}

/// The document for `outcomes`.
pub fn targets_json(outcomes: &[TargetOutcome]) -> TargetsJson {
    let count = |s: TargetStatus| outcomes.iter().filter(|o| o.status() == s).count();
    TargetsJson {
        schema_version: SCHEMA_VERSION,
        command: "check".to_string(),
        targets: outcomes
            .iter()
            .map(|o| TargetJson {
                target: o.name.clone(),
                server: o.server.clone(),
                database: o.database.clone(),
                status: o.status(),
                exit_code: if o.result.is_err() {
                    EXIT_ERROR
                } else {
                    o.exit_code
                },
                error: o.result.as_ref().err().map(sentence),
                sql_server_error: o.result.as_ref().err().and_then(|e| {
                    e.chain()
                        .find_map(|c| c.downcast_ref::<crate::connect::DbError>())
                        .and_then(crate::connect::DbError::code)
                }),
                check: o.result.as_ref().ok().map(|(i, f)| check_json(i, f, None)),
            })
            .collect(),
        healthy: count(TargetStatus::Healthy),
        with_findings: count(TargetStatus::Findings),
        errors: count(TargetStatus::Error),
        exit_code: worst_exit_code(outcomes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(name: &str) -> TargetOutcome {
        TargetOutcome {
            name: name.into(),
            server: name.into(),
            database: "rgsconfig".into(),
            result: Err(anyhow::anyhow!("cannot connect to {name}:\n  refused")),
            exit_code: EXIT_ERROR,
            again: Command::new(["-S", name]),
        }
    }

    #[test]
    fn the_worst_exit_code_wins_and_an_error_is_the_worst() {
        let mut o = vec![failed("a"), failed("b")];
        o[0].exit_code = EXIT_OK;
        o[1].exit_code = EXIT_FINDINGS;
        assert_eq!(worst_exit_code(&o), EXIT_FINDINGS);
        o[0].exit_code = EXIT_ERROR;
        assert_eq!(worst_exit_code(&o), EXIT_ERROR);
        o[0].exit_code = EXIT_OK;
        o[1].exit_code = EXIT_OK;
        assert_eq!(worst_exit_code(&o), EXIT_OK);
        assert_eq!(worst_exit_code(&[]), EXIT_OK);
    }

    #[test]
    fn an_unreachable_target_is_a_row_with_its_error_on_one_line() {
        let h = targets_human(&[failed("sql09,1")]);
        let row = h.lines().nth(1).unwrap();
        assert!(row.starts_with("  sql09,1"), "{h}");
        assert!(
            row.ends_with("error: cannot connect to sql09,1: refused"),
            "{h}"
        );
        assert!(h.contains("1 target: 0 healthy, 0 with findings, 1 not checked (exit 1)."));
    }
}
