//! A reviewed plan on disk: `fix --dry-run --save-plan FILE` writes it,
//! `fix --plan FILE` applies it and nothing else. It holds the database's
//! identity, the pool, the scope, every planned key, the change script and
//! the plan's digest (what the change ticket quotes); an edited file is
//! refused.

use super::{script, Plan};
use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

/// Marks a file as a saved plan.
pub const FORMAT: &str = "rgs-repair-plan";
/// The layout version this build reads and writes. Version 2: a table's
/// rows are their count and the server's checksum of their keys, with the
/// first rows for people (version 1 listed every key).
pub const VERSION: u32 = 2;

/// A saved plan's content.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanFile {
    /// Always [`FORMAT`].
    pub format: String,
    /// Layout version.
    pub version: u32,
    /// When it was saved.
    pub created_at: DateTime<Utc>,
    /// The plan, with its digest.
    pub plan: Plan,
    /// The change script, as the dry run printed it.
    pub sql: String,
}

/// Why a plan file cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadPlanFile(pub String);

/// Writes `plan` to a new file (never over an existing one) and flushes it.
pub fn save(plan: &Plan, path: &Path) -> Result<()> {
    let file = PlanFile {
        format: FORMAT.to_string(),
        version: VERSION,
        created_at: Utc::now(),
        sql: script(plan),
        plan: plan.clone(),
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("cannot create the plan file {}", path.display()))?;
    let mut bytes = serde_json::to_vec_pretty(&file)?;
    bytes.push(b'\n');
    f.write_all(&bytes)?;
    f.sync_all()
        .with_context(|| format!("cannot flush the plan file {} to disk", path.display()))?;
    Ok(())
}

/// Reads a saved plan and checks that it is complete and unedited: its
/// digest must match its content, and its script must be the one the plan
/// makes.
pub fn load(path: &Path) -> Result<Plan> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the plan file {}", path.display()))?;
    let bad = |why: String| BadPlanFile(format!("{} is not a usable plan: {why}", path.display()));
    let file: PlanFile = serde_json::from_str(&text).map_err(|e| {
        bad(format!(
            "it is not a complete plan file written by rgs-repair ({e})"
        ))
    })?;
    if file.format != FORMAT {
        bail!(bad(format!(
            "it is not a plan (\"format\" is not \"{FORMAT}\")"
        )));
    }
    if file.version != VERSION {
        bail!(bad(format!(
            "it has plan version {}; this build reads version {VERSION}",
            file.version
        )));
    }
    let mut unsigned = file.plan.clone();
    unsigned.digest = String::new();
    if crate::digest::of(&unsigned) != file.plan.digest || script(&file.plan) != file.sql {
        bail!(bad(format!(
            "its content does not match its digest {}: it was edited after it was saved. Make and review a new plan",
            file.plan.digest
        )));
    }
    Ok(file.plan)
}
