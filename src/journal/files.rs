//! Where journals go: the checks before anything connects, the default
//! names, the undo's journal beside the fix's, and flushing a directory.

use super::{Journal, Kind, Status};
use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use std::fs::{self, File};
use std::path::{Path, PathBuf};

/// Checks, before any connection, that a new journal can be written at
/// `path`: its folder exists and takes files, and no file is there yet (an
/// existing file is somebody's record).
pub fn check_new_path(path: &Path) -> Result<()> {
    if path.exists() {
        bail!(
            "the journal file {} already exists; choose another with --journal. Nothing was changed",
            path.display()
        );
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        bail!(
            "cannot write the journal {}: the folder {} does not exist. Nothing was changed",
            path.display(),
            dir.display()
        );
    }
    let probe = tempfile::Builder::new()
        .prefix(".rgs-repair-probe-")
        .tempfile_in(dir)
        .with_context(|| {
            format!(
                "cannot write the journal {}: the folder {} does not take new files. Nothing was changed",
                path.display(),
                dir.display()
            )
        })?;
    drop(probe);
    Ok(())
}

/// Where an undo of the fix journalled at `fix` writes its own journal:
/// beside it, `<fix journal name>.undo-<UTC time>.json`.
pub fn undo_path(fix: &Path, at: DateTime<Utc>) -> PathBuf {
    let stem = fix
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "rgs-repair-journal".to_string());
    fix.with_file_name(format!("{stem}.undo-{}.json", at.format("%Y%m%dT%H%M%SZ")))
}

/// The committed undo of the fix journalled at `fix` with `digest`, if one
/// lies beside it.
pub fn find_undo(fix: &Path, digest: &str) -> Option<(PathBuf, Journal)> {
    let stem = fix.file_stem()?.to_string_lossy().into_owned();
    let dir = fix
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{stem}.undo-")))
        })
        .filter_map(|p| Some((p.clone(), Journal::open(&p, true).ok()?)))
        .find(|(_, j)| {
            j.kind == Kind::Undo
                && j.status == Status::Committed
                && j.undoes.as_ref().is_some_and(|l| l.digest == digest)
        })
}

#[cfg(unix)]
pub(super) fn sync_dir(path: &Path) {
    // The file's directory entry must be durable too, or a crash can lose a
    // fully flushed file.
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(not(unix))]
pub(super) fn sync_dir(_: &Path) {}

/// `./rgs-repair-journal-<database>-<UTC timestamp>.json`, with characters
/// that are awkward in file names replaced.
pub fn default_path(database: &str, at: DateTime<Utc>) -> PathBuf {
    let safe: String = database
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    PathBuf::from(format!(
        "rgs-repair-journal-{safe}-{}.json",
        at.format("%Y%m%dT%H%M%SZ")
    ))
}
