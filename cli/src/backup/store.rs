//! `[backup] dir`: the backups in it (a manifest `<name>.json`, its dump, and the verification
//! record `<name>.verify.json`), ordered by the completion time their manifests record, and
//! finding one by name or path.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;

use super::manifest::{self, MANIFEST_VERSION, Manifest, Verification, Verifications};
use crate::failure::Failure;
use crate::output;

/// One backup: its manifest and what `backup verify` recorded about it.
#[derive(Clone, Debug)]
pub struct Entry {
    /// `<database>-<UTC timestamp>`: the manifest's file name without `.json`.
    pub name: String,
    pub manifest_path: PathBuf,
    pub dump_path: PathBuf,
    pub manifest: Manifest,
    pub verifications: Vec<Verification>,
    /// The manifest's `completed_at`.
    pub completed: SystemTime,
}

/// A file in the directory that looks like part of a backup but is not a usable one.
#[derive(Clone, Debug, Serialize)]
pub struct Damaged {
    pub file: String,
    pub problem: String,
}

/// The backups of a directory, newest first, and the files that are not usable backups.
#[derive(Debug, Default)]
pub struct Store {
    pub entries: Vec<Entry>,
    pub damaged: Vec<Damaged>,
}

impl Entry {
    /// `<name>.verify.json`
    pub fn verifications_path(&self) -> PathBuf {
        verifications_path(&self.manifest_path)
    }

    /// The newest verification, if any.
    pub fn last_verification(&self) -> Option<&Verification> {
        self.verifications.last()
    }

    /// Whether the newest verification passed.
    pub fn verified(&self) -> bool {
        self.last_verification().is_some_and(|v| v.ok)
    }

    /// Appends `verification` to `<name>.verify.json`.
    pub fn record(&mut self, verification: Verification) -> Result<(), Failure> {
        self.verifications.push(verification);
        manifest::write(
            &self.verifications_path(),
            &Verifications {
                verifications: self.verifications.clone(),
            },
        )
    }
}

fn verifications_path(manifest: &Path) -> PathBuf {
    manifest.with_extension("verify.json")
}

impl Store {
    /// Reads every backup in `dir`; a missing directory holds none.
    pub fn read(dir: &Path) -> Result<Store, Failure> {
        let mut store = Store::default();
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(store),
            Err(e) => {
                return Err(Failure::Error(format!(
                    "cannot read the backup directory `{}`: {e}",
                    dir.display()
                )));
            }
        };
        let mut dumps = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(file) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
                continue;
            };
            if file.ends_with(".dump") {
                dumps.push(file);
            } else if file.ends_with(".json")
                && !file.ends_with(".verify.json")
                && !file.ends_with(".partial")
            {
                match load(&path) {
                    Ok(entry) => store.entries.push(entry),
                    Err(problem) => store.damaged.push(Damaged { file, problem }),
                }
            }
        }
        for dump in dumps {
            if !store.entries.iter().any(|e| e.manifest.dump == dump) {
                store.damaged.push(Damaged {
                    file: dump,
                    problem: "no manifest: an unfinished backup, or not one of pgready's; \
                              nothing restores it"
                        .to_owned(),
                });
            }
        }
        store
            .entries
            .sort_by(|a, b| b.completed.cmp(&a.completed).then(b.name.cmp(&a.name)));
        store.damaged.sort_by(|a, b| a.file.cmp(&b.file));
        Ok(store)
    }

    /// The backup `which` names (its name, or the path of its dump or manifest), or the newest
    /// in the store.
    pub fn pick(&self, dir: &Path, which: Option<&str>) -> Result<Entry, Failure> {
        let Some(which) = which else {
            return self.entries.first().cloned().ok_or_else(|| {
                Failure::Error(format!(
                    "no backups in `{}`: run `pgready backup` first",
                    dir.display()
                ))
            });
        };
        if let Some(entry) = self.entries.iter().find(|e| e.name == which) {
            return Ok(entry.clone());
        }
        let path = Path::new(which);
        let manifest_path = match path.extension().and_then(|e| e.to_str()) {
            Some("dump") => path.with_extension("json"),
            Some("json") => path.to_path_buf(),
            _ => {
                return Err(Failure::Usage(format!(
                    "no backup `{which}` in `{}`: name one as `pgready backup list` shows it, or \
                     give the path of its `.dump` or `.json`",
                    dir.display()
                )));
            }
        };
        load(&manifest_path)
            .map_err(|problem| Failure::Error(format!("`{}`: {problem}", manifest_path.display())))
    }
}

/// Reads a manifest and its verifications.
fn load(manifest_path: &Path) -> Result<Entry, String> {
    let manifest: Manifest = manifest::read(manifest_path)?;
    if manifest.manifest_version != MANIFEST_VERSION {
        return Err(format!(
            "manifest version {} (this pgready reads version {MANIFEST_VERSION})",
            manifest.manifest_version
        ));
    }
    let completed = output::parse_timestamp(&manifest.completed_at)
        .ok_or_else(|| format!("`completed_at` is not a time: `{}`", manifest.completed_at))?;
    let dir = manifest_path.parent().unwrap_or(Path::new("."));
    if Path::new(&manifest.dump).file_name() != Some(std::ffi::OsStr::new(&manifest.dump)) {
        return Err(format!(
            "`dump` must be a file name, found `{}`",
            manifest.dump
        ));
    }
    let dump_path = dir.join(&manifest.dump);
    let verifications_file = verifications_path(manifest_path);
    let verifications = if verifications_file.exists() {
        manifest::read::<Verifications>(&verifications_file)
            .map_err(|e| format!("`{}`: {e}", verifications_file.display()))?
            .verifications
    } else {
        Vec::new()
    };
    let name = manifest_path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .trim_end_matches(".json")
        .to_owned();
    Ok(Entry {
        name,
        manifest_path: manifest_path.to_path_buf(),
        dump_path,
        manifest,
        verifications,
        completed,
    })
}

/// A file-name-safe form of a database name: letters, digits, `_`, `-` and `.` kept, anything
/// else `_`.
pub fn file_safe(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_-.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if safe.is_empty() || safe.starts_with('.') {
        format!("db{safe}")
    } else {
        safe
    }
}

/// `<database>-<YYYYMMDDTHHMMSSZ>`, with `-2`, `-3`, … when that name is taken in `dir`.
pub fn new_name(dir: &Path, database: &str, at: SystemTime) -> String {
    let stamp: String = humantime::format_rfc3339_seconds(at)
        .to_string()
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect();
    let base = format!("{}-{stamp}", file_safe(database));
    let taken = |name: &str| {
        ["json", "dump", "dump.partial"]
            .iter()
            .any(|ext| dir.join(format!("{name}.{ext}")).exists())
    };
    let mut name = base.clone();
    let mut n = 2;
    while taken(&name) {
        name = format!("{base}-{n}");
        n += 1;
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn names_are_timestamped_and_file_safe() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let dir = std::env::temp_dir().join(format!("pgready-names-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        assert_eq!(new_name(&dir, "app", at), "app-20231114T221320Z");
        std::fs::write(dir.join("app-20231114T221320Z.dump"), "").expect("write");
        assert_eq!(new_name(&dir, "app", at), "app-20231114T221320Z-2");
        assert_eq!(file_safe("my db/ü"), "my_db__");
        assert_eq!(file_safe("..x"), "db..x");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
