//! Where a snapshot is written: a temporary sibling folder
//! (`.NAME.tmp-<pid>`), every file synced, then renamed to the asked name,
//! so that a folder of that name is always a whole snapshot. A folder that
//! is not empty is refused unless `--force`.

use crate::error::Stop;
use anyhow::{Context, Result};
use std::fs::{self, File};
use std::path::{Path, PathBuf};

/// The folder being written and where it goes when complete.
pub struct Staging {
    /// The temporary folder.
    pub tmp: PathBuf,
    /// The final folder.
    pub out: PathBuf,
    done: bool,
}

/// Checks `out` and makes the temporary folder beside it.
pub fn stage(out: &Path, force: bool) -> Result<Staging> {
    let (parent, name) = check(out, force)?;
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    if tmp.exists() {
        fs::remove_dir_all(&tmp)?;
    }
    fs::create_dir(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    Ok(Staging {
        tmp,
        out: out.to_path_buf(),
        done: false,
    })
}

/// Whether a snapshot may be written to `out`: not a file, empty or new
/// unless `force`, in a folder that exists. Returns that folder and the
/// name.
pub fn check(out: &Path, force: bool) -> Result<(PathBuf, String)> {
    if out.is_file() {
        return Err(Stop::Usage(format!("{} is a file, not a folder", out.display())).into());
    }
    if out.is_dir() && !force && fs::read_dir(out)?.next().is_some() {
        return Err(Stop::Usage(format!(
            "{} is not empty: give an empty or new folder, or --force to replace it",
            out.display()
        ))
        .into());
    }
    let name = out
        .file_name()
        .ok_or_else(|| Stop::Usage(format!("{}: not a folder name", out.display())))?
        .to_string_lossy()
        .into_owned();
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !parent.is_dir() {
        return Err(Stop::Usage(format!("{}: no such folder", parent.display())).into());
    }
    Ok((parent, name))
}

impl Staging {
    /// A file in the temporary folder.
    pub fn path(&self, file: &str) -> PathBuf {
        self.tmp.join(file)
    }

    /// Syncs every file and the folder, then puts the folder in place of
    /// `out` (an old `out`, empty or allowed by --force, is moved aside
    /// first and removed after).
    pub fn finish(mut self) -> Result<PathBuf> {
        for e in fs::read_dir(&self.tmp)? {
            // Write access: Windows flushes a file only through a handle
            // that may write it (FlushFileBuffers); a read-only one is
            // "Access denied".
            fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(e?.path())?
                .sync_all()?;
        }
        sync_dir(&self.tmp);
        let old = self.out.exists().then(|| {
            let mut o = self.tmp.clone();
            o.set_extension("old");
            o
        });
        if let Some(old) = &old {
            fs::rename(&self.out, old)
                .with_context(|| format!("cannot move the old {} aside", self.out.display()))?;
        }
        fs::rename(&self.tmp, &self.out).with_context(|| {
            format!(
                "cannot rename {} to {}",
                self.tmp.display(),
                self.out.display()
            )
        })?;
        self.done = true;
        if let Some(parent) = self.out.parent() {
            sync_dir(if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            });
        }
        if let Some(old) = old {
            fs::remove_dir_all(&old).with_context(|| {
                format!(
                    "the snapshot is complete, but {} could not be removed",
                    old.display()
                )
            })?;
        }
        Ok(self.out.clone())
    }
}

impl Drop for Staging {
    /// A snapshot that did not finish leaves nothing behind.
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_dir_all(&self.tmp);
        }
    }
}

/// Makes a folder's entries durable (Unix; Windows has no folder fsync).
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_empty_folders_are_refused_unless_forced_and_replaced_whole() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("snap");
        fs::create_dir(&out).unwrap();
        fs::write(out.join("old.csv"), "x").unwrap();
        let err = stage(&out, false).err().unwrap();
        assert!(err.to_string().contains("not empty"), "{err}");
        let s = stage(&out, true).unwrap();
        fs::write(s.path("schema.json"), "{}").unwrap();
        s.finish().unwrap();
        let names: Vec<_> = fs::read_dir(root.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["snap"]);
        assert!(out.join("schema.json").exists() && !out.join("old.csv").exists());
        // Abandoned: the temporary folder goes.
        let s = stage(&root.path().join("new"), false).unwrap();
        let tmp = s.tmp.clone();
        drop(s);
        assert!(!tmp.exists() && !root.path().join("new").exists());
    }
}
