//! `pgready backup prune`: delete the backups no rule keeps. The rules, applied to the backups
//! ordered by the completion time their manifests record (not file times, which a copy or a
//! restore from tape changes):
//!
//! - the newest `keep` (`--keep`, `[backup] keep`) are kept;
//! - with `keep_days` (`--keep-days`, `[backup] keep_days`), so is every backup completed within
//!   that many days;
//! - the newest backup whose last verification passed is always kept, whatever its age, so the
//!   last known-good restore point survives a run of bad backups.
//!
//! A backup is kept when any rule keeps it. Without `--yes` nothing is deleted. Files that are
//! not whole backups (a dump without manifest, an unreadable manifest) are never touched.

use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::store::{Entry, Store};
use crate::args::{Format, PruneArgs};
use crate::failure::Failure;
use crate::output;
use crate::project::Project;

const DAY: Duration = Duration::from_secs(86_400);

/// What happens to one backup.
#[derive(Debug, Serialize, PartialEq, Eq)]
struct Decision {
    name: String,
    completed_at: String,
    size: u64,
    keep: bool,
    /// Why it is kept; empty when it is deleted.
    reasons: Vec<String>,
}

#[derive(Serialize)]
struct Plan<'a> {
    dry_run: bool,
    keep: u32,
    keep_days: Option<u32>,
    backups: &'a [Decision],
    deleted: usize,
    freed_bytes: u64,
}

pub fn run(project: &Project, args: &PruneArgs) -> Result<(), Failure> {
    let cfg = &project.config.backup;
    let keep = args.keep.unwrap_or(cfg.keep);
    let keep_days = args.keep_days.or(cfg.keep_days);
    if keep == 0 && keep_days.is_none() {
        return Err(Failure::Usage(
            "`--keep 0` with no `--keep-days` would delete every backup but the newest verified \
             one: keep at least 1, or give `--keep-days`"
                .to_owned(),
        ));
    }
    let dir = super::dir(project);
    let store = Store::read(&dir)?;
    let decisions = decide(&store.entries, keep, keep_days, SystemTime::now());
    let doomed: Vec<&Entry> = store
        .entries
        .iter()
        .zip(&decisions)
        .filter(|(_, d)| !d.keep)
        .map(|(e, _)| e)
        .collect();
    let freed: u64 = doomed.iter().map(|e| e.manifest.size).sum();
    let mut failures = Vec::new();
    if args.yes {
        for entry in &doomed {
            // the manifest last: while the dump exists, its record does too
            for path in [
                &entry.dump_path,
                &entry.verifications_path(),
                &entry.manifest_path,
            ] {
                match std::fs::remove_file(path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => failures.push(format!("cannot delete `{}`: {e}", path.display())),
                }
            }
        }
    }
    match args.output.format {
        Format::Json => output::json(&Plan {
            dry_run: !args.yes,
            keep,
            keep_days,
            backups: &decisions,
            deleted: if args.yes { doomed.len() } else { 0 },
            freed_bytes: if args.yes { freed } else { 0 },
        })?,
        Format::Text => {
            for d in &decisions {
                if d.keep {
                    println!("keep    {}  ({})", d.name, d.reasons.join("; "));
                } else {
                    let verb = if args.yes { "deleted" } else { "delete" };
                    println!(
                        "{verb:<7} {}  (completed {}, {})",
                        d.name,
                        d.completed_at,
                        output::bytes(d.size)
                    );
                }
            }
            if !decisions
                .iter()
                .any(|d| d.reasons.iter().any(|r| r.contains("verified")))
            {
                println!(
                    "note: no backup has passed `pgready backup verify`; run it so prune always \
                     keeps a known-good one"
                );
            }
            for d in &store.damaged {
                println!("left alone: {} ({})", d.file, d.problem);
            }
            if args.yes {
                println!(
                    "deleted {} backup(s), freed {}",
                    doomed.len() - failures.len().min(doomed.len()),
                    output::bytes(freed)
                );
            } else if doomed.is_empty() {
                println!("dry run: nothing to delete");
            } else {
                println!(
                    "dry run: would delete {} backup(s), {}; run with `--yes` to delete them",
                    doomed.len(),
                    output::bytes(freed)
                );
            }
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(crate::failure::report(&failures))
    }
}

/// One decision per entry (entries newest first).
fn decide(entries: &[Entry], keep: u32, keep_days: Option<u32>, now: SystemTime) -> Vec<Decision> {
    let newest_verified = entries.iter().position(Entry::verified);
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let mut reasons = Vec::new();
            if i < keep as usize {
                reasons.push(format!("one of the newest {keep}"));
            }
            if let Some(days) = keep_days {
                let age = now.duration_since(e.completed).unwrap_or_default();
                if age <= DAY * days {
                    reasons.push(format!("completed within {days} day(s)"));
                }
            }
            if newest_verified == Some(i) {
                reasons.push("the newest verified backup".to_owned());
            }
            Decision {
                name: e.name.clone(),
                completed_at: e.manifest.completed_at.clone(),
                size: e.manifest.size,
                keep: !reasons.is_empty(),
                reasons,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::manifest::{Manifest, Scope, Verification};
    use super::*;
    use std::path::PathBuf;

    fn entry(name: &str, age_days: u64, verified: Option<bool>, now: SystemTime) -> Entry {
        let completed = now - DAY * u32::try_from(age_days).unwrap_or(0);
        Entry {
            name: name.to_owned(),
            manifest_path: PathBuf::from(format!("{name}.json")),
            dump_path: PathBuf::from(format!("{name}.dump")),
            manifest: Manifest {
                manifest_version: 1,
                dump: format!("{name}.dump"),
                database: "app".to_owned(),
                scope: Scope::Database,
                started_at: String::new(),
                completed_at: output::timestamp(completed),
                duration_ms: 0,
                sha256: String::new(),
                size: 10,
                compression: "gzip".to_owned(),
                server_version: String::new(),
                server_version_num: 150_000,
                pg_dump_version: String::new(),
                migrations_table: String::new(),
                migration_version: None,
                tables: Vec::new(),
            },
            verifications: verified
                .map(|ok| Verification {
                    verified_at: String::new(),
                    ok,
                    duration_ms: 0,
                    problems: Vec::new(),
                    tables_checked: 0,
                    rows_checked: 0,
                })
                .into_iter()
                .collect(),
            completed,
        }
    }

    fn kept(decisions: &[Decision]) -> Vec<&str> {
        decisions
            .iter()
            .filter(|d| d.keep)
            .map(|d| d.name.as_str())
            .collect()
    }

    #[test]
    fn newest_n_or_younger_than_d_days_and_the_newest_verified() {
        let now = SystemTime::now();
        // newest first, as the store orders them
        let entries = [
            entry("e", 0, Some(false), now),
            entry("d", 1, None, now),
            entry("c", 3, None, now),
            entry("b", 10, Some(true), now),
            entry("a", 20, Some(true), now),
        ];
        assert_eq!(kept(&decide(&entries, 2, None, now)), ["e", "d", "b"]);
        assert_eq!(
            kept(&decide(&entries, 1, Some(5), now)),
            ["e", "d", "c", "b"]
        );
        assert_eq!(kept(&decide(&entries, 0, Some(2), now)), ["e", "d", "b"]);
        let d = decide(&entries, 1, None, now);
        assert_eq!(d[3].reasons, ["the newest verified backup"]);
        assert!(d[4].reasons.is_empty() && !d[4].keep);
    }

    #[test]
    fn a_failed_latest_verification_is_not_verified() {
        let now = SystemTime::now();
        let mut b = entry("b", 2, Some(true), now);
        b.verifications.push(Verification {
            ok: false,
            ..b.verifications[0].clone()
        });
        let entries = [entry("c", 0, None, now), b, entry("a", 4, Some(true), now)];
        assert_eq!(kept(&decide(&entries, 1, None, now)), ["c", "a"]);
    }
}
