//! The records `pgready backup` writes beside each dump in `[backup] dir`: the manifest
//! (`<name>.json`) and the verifications of `pgready backup verify` (`<name>.verify.json`).
//! The CLI writes and reads them; the runtime's `/metrics` reads how fresh the newest backup
//! and the newest passed verification are ([`freshness`]).

use std::path::Path;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// The manifest format this version writes and reads.
pub const MANIFEST_VERSION: u32 = 1;

/// What a dump holds and how it was made.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// [`MANIFEST_VERSION`]
    pub manifest_version: u32,
    /// The dump's file name, in the manifest's directory.
    pub dump: String,
    /// The database dumped.
    pub database: String,
    /// `database`: the whole database; `tables`: only the tables listed (`--table`).
    pub scope: Scope,
    /// When `pg_dump` started, RFC 3339 UTC.
    pub started_at: String,
    /// When the dump was complete and checksummed; backups are ordered by it.
    pub completed_at: String,
    pub duration_ms: u64,
    /// SHA-256 of the dump, lowercase hex.
    pub sha256: String,
    /// The dump's size in bytes.
    pub size: u64,
    /// The `--compress` method (and level) given to `pg_dump`: `gzip`, `gzip:9`, `zstd:3`,
    /// `none`.
    pub compression: String,
    /// `SHOW server_version`
    pub server_version: String,
    /// `SHOW server_version_num`
    pub server_version_num: i32,
    /// The `pg_dump` version, e.g. `15.18`.
    pub pg_dump_version: String,
    /// The migrations table (`[migrations] table`) and the newest version applied in it when
    /// the dump was taken.
    pub migrations_table: String,
    pub migration_version: Option<i64>,
    /// Every table the dump holds rows for.
    pub tables: Vec<TableRows>,
}

/// Whether a dump holds the whole database or chosen tables.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Database,
    Tables,
}

/// A table and its rows in the dump.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct TableRows {
    pub schema: String,
    pub name: String,
    /// Exact: `count(*)` in the very snapshot `pg_dump` dumped (`pg_dump --snapshot`).
    pub rows: i64,
    /// The planner's estimate (`pg_class.reltuples`) at the time; `null` when the table was
    /// never analyzed.
    pub rows_estimate: Option<i64>,
}

/// One `backup verify` run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Verification {
    /// When the verification finished, RFC 3339 UTC.
    pub verified_at: String,
    /// `true` when every check passed.
    pub ok: bool,
    pub duration_ms: u64,
    /// What failed, one sentence each.
    pub problems: Vec<String>,
    /// Tables whose row counts were compared.
    pub tables_checked: usize,
    /// Rows restored in them.
    pub rows_checked: i64,
}

/// The verifications of one backup, oldest first (`<name>.verify.json`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Verifications {
    pub verifications: Vec<Verification>,
}

/// How fresh the backups in a directory are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Freshness {
    /// Backups (readable manifests) in the directory.
    pub backups: usize,
    /// The newest recorded completion time.
    pub last_backup: Option<SystemTime>,
    /// The newest verification that passed, of any backup.
    pub last_verified: Option<SystemTime>,
}

/// Reads every manifest and verification record in `dir`; `None` when the directory does not
/// exist or cannot be read. Unreadable records are left out.
pub fn freshness(dir: &Path) -> Option<Freshness> {
    let entries = std::fs::read_dir(dir).ok()?;
    let mut f = Freshness::default();
    let time = |text: &str| humantime::parse_rfc3339_weak(text).ok();
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if name.ends_with(".verify.json") {
            let Some(record) = read::<Verifications>(&path) else {
                continue;
            };
            let passed = record
                .verifications
                .iter()
                .filter(|v| v.ok)
                .filter_map(|v| time(&v.verified_at))
                .max();
            f.last_verified = f.last_verified.max(passed);
        } else if name.ends_with(".json") {
            let Some(manifest) = read::<Manifest>(&path) else {
                continue;
            };
            f.backups += 1;
            f.last_backup = f.last_backup.max(time(&manifest.completed_at));
        }
    }
    Some(f)
}

fn read<T: for<'de> Deserialize<'de>>(path: &Path) -> Option<T> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freshness_of_a_directory() {
        let dir = std::env::temp_dir().join(format!("pgready-freshness-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(freshness(&dir), None);
        std::fs::create_dir_all(&dir).expect("dir");
        assert_eq!(freshness(&dir), Some(Freshness::default()));
        let manifest = |completed: &str| Manifest {
            manifest_version: MANIFEST_VERSION,
            dump: "a.dump".to_owned(),
            database: "app".to_owned(),
            scope: Scope::Database,
            started_at: completed.to_owned(),
            completed_at: completed.to_owned(),
            duration_ms: 1,
            sha256: String::new(),
            size: 1,
            compression: "gzip".to_owned(),
            server_version: "15".to_owned(),
            server_version_num: 150_000,
            pg_dump_version: "15".to_owned(),
            migrations_table: "_sqlx_migrations".to_owned(),
            migration_version: None,
            tables: Vec::new(),
        };
        let write = |name: &str, text: String| std::fs::write(dir.join(name), text).expect("write");
        write("a.json", json(&manifest("2025-01-01T00:00:00.000Z")));
        write("b.json", json(&manifest("2025-01-02T00:00:00.000Z")));
        write("c.json", "not json".to_owned());
        let verification = |at: &str, ok| Verification {
            verified_at: at.to_owned(),
            ok,
            duration_ms: 1,
            problems: Vec::new(),
            tables_checked: 0,
            rows_checked: 0,
        };
        write(
            "a.verify.json",
            json(&Verifications {
                verifications: vec![
                    verification("2025-01-03T00:00:00.000Z", true),
                    verification("2025-01-04T00:00:00.000Z", false),
                ],
            }),
        );
        let f = freshness(&dir).expect("a directory");
        let at = |t: &str| humantime::parse_rfc3339_weak(t).ok();
        assert_eq!(f.backups, 2);
        assert_eq!(f.last_backup, at("2025-01-02T00:00:00Z"));
        assert_eq!(
            f.last_verified,
            at("2025-01-03T00:00:00Z"),
            "the failed one does not count"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn json<T: Serialize>(value: &T) -> String {
        serde_json::to_string(value).unwrap_or_default()
    }
}
