//! `[backup]`: where `pgready backup` writes dumps, how it compresses them and how many
//! `pgready backup prune` keeps.

use super::resolve::{Checker, KeyRef, Resolved};
use super::schema::Section;
use crate::word::words;

/// `[backup]`: the operations CLI's backups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backup {
    /// directory of the dumps and their manifests, relative to the configuration file
    /// (default `backups`)
    pub dir: String,
    /// how `pg_dump` compresses the dump (default `gzip`)
    pub compression: Compression,
    /// the compression level; `None` (the default) leaves `pg_dump`'s own default for the
    /// method
    pub compression_level: Option<u32>,
    /// `backup prune` keeps the newest `keep` backups (default 30; `0`: keep by age only)
    pub keep: u32,
    /// `backup prune` also keeps every backup completed within this many days (default: no
    /// age rule)
    pub keep_days: Option<u32>,
    /// the recovery point objective: `doctor` fails when the last WAL archived (or, without
    /// WAL archiving, the last backup) is older. Default: none stated, and `doctor` only
    /// reports what it finds
    pub rpo: Option<std::time::Duration>,
}

words! {
    /// `backup.compression`: the method `pg_dump --compress` uses inside the custom-format
    /// archive.
    pub enum Compression {
        /// zlib, every `pg_dump` (level 1–9)
        Gzip = "gzip",
        /// Zstandard, `pg_dump` 16 and newer built with zstd (level 1–22)
        Zstd = "zstd",
        /// LZ4, `pg_dump` 16 and newer built with lz4 (level 1–12)
        Lz4 = "lz4",
        /// no compression
        None = "none",
    }
}

impl Compression {
    /// The levels the method accepts, `None` for a method without levels.
    pub const fn levels(self) -> Option<(u32, u32)> {
        match self {
            Compression::Gzip => Some((1, 9)),
            Compression::Zstd => Some((1, 22)),
            Compression::Lz4 => Some((1, 12)),
            Compression::None => None,
        }
    }

    /// The oldest `pg_dump` major version that offers the method.
    pub const fn since_pg_dump(self) -> u32 {
        match self {
            Compression::Zstd | Compression::Lz4 => 16,
            Compression::Gzip | Compression::None => 0,
        }
    }
}

const DIR: KeyRef = (Section::Backup, "dir");
const COMPRESSION: KeyRef = (Section::Backup, "compression");
const LEVEL: KeyRef = (Section::Backup, "compression_level");
const KEEP: KeyRef = (Section::Backup, "keep");
const KEEP_DAYS: KeyRef = (Section::Backup, "keep_days");
const RPO: KeyRef = (Section::Backup, "rpo");

impl Default for Backup {
    fn default() -> Self {
        Backup {
            dir: "backups".to_owned(),
            compression: Compression::Gzip,
            compression_level: None,
            keep: 30,
            keep_days: None,
            rpo: None,
        }
    }
}

impl Backup {
    pub(crate) fn build(r: &Resolved<'_>) -> Self {
        let d = Backup::default();
        Backup {
            dir: r.string(DIR, &d.dir),
            compression: r.word(COMPRESSION).unwrap_or(d.compression),
            compression_level: r.count(LEVEL),
            keep: r.count(KEEP).unwrap_or(d.keep),
            keep_days: r.count(KEEP_DAYS),
            rpo: r.opt_duration(RPO),
        }
    }

    pub(crate) fn validate(&self, c: &mut Checker<'_>) {
        if self.rpo == Some(std::time::Duration::ZERO) {
            c.check(
                RPO,
                Err(
                    "must be more than 0: no archive is that fresh; leave it out to state no \
                     recovery point objective"
                        .to_owned(),
                ),
            );
        }
        if self.dir.trim().is_empty() {
            c.check(
                DIR,
                Err(
                    "must not be empty: name the directory for the dumps, such as `\"backups\"`"
                        .to_owned(),
                ),
            );
        }
        if let Some(level) = self.compression_level
            && c.usable(&[COMPRESSION, LEVEL])
        {
            let method = self.compression;
            match method.levels() {
                None => {
                    let key = c.blame(LEVEL, &[COMPRESSION]);
                    c.error(
                        key,
                        format!(
                            "`compression = \"{method}\"` takes no level: remove \
                             `compression_level` or choose a compression method"
                        ),
                    );
                }
                Some((low, high)) if !(low..=high).contains(&level) => {
                    let key = c.blame(LEVEL, &[COMPRESSION]);
                    c.error(
                        key,
                        format!(
                            "`{method}` levels run from {low} to {high}, found `{level}`: higher \
                             is smaller and slower"
                        ),
                    );
                }
                Some(_) => {}
            }
        }
        if self.keep_days == Some(0) {
            c.check(
                KEEP_DAYS,
                Err("must be at least 1: leave it out to keep by count only".to_owned()),
            );
        }
        if self.keep == 0 && self.keep_days.is_none() && c.usable(&[KEEP, KEEP_DAYS]) {
            let key = c.blame(KEEP, &[KEEP_DAYS]);
            c.error(
                key,
                "`keep = 0` with no `keep_days` would let `backup prune` delete every backup but \
                 the newest verified one: keep at least 1, or set `keep_days`",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Compression;
    use crate::config::testing::{only_error, parse_ok};

    #[test]
    fn defaults() {
        let b = parse_ok("").backup;
        assert_eq!(b.dir, "backups");
        assert_eq!(b.compression, Compression::Gzip);
        assert_eq!(b.compression_level, None);
        assert_eq!(b.keep, 30);
        assert_eq!(b.keep_days, None);
    }

    #[test]
    fn every_key_is_read() {
        let b = parse_ok(
            "[backup]\ndir = \"/var/backups/app\"\ncompression = \"zstd\"\n\
             compression_level = 19\nkeep = 0\nkeep_days = 14\n",
        )
        .backup;
        assert_eq!(b.dir, "/var/backups/app");
        assert_eq!(b.compression, Compression::Zstd);
        assert_eq!(b.compression_level, Some(19));
        assert_eq!(b.keep, 0);
        assert_eq!(b.keep_days, Some(14));
        assert_eq!(b.rpo, None);
        let b = parse_ok("[backup]\nrpo = \"15m\"\n").backup;
        assert_eq!(b.rpo, Some(std::time::Duration::from_secs(900)));
        let d = only_error("[backup]\nrpo = \"0\"\n");
        assert_eq!(d.key, "backup.rpo");
    }

    #[test]
    fn a_profile_overrides_the_dir() {
        let f = crate::config::testing::file(
            "[backup]\ndir = \"b\"\n[profiles.production.backup]\ndir = \"/srv/b\"\n",
        );
        assert_eq!(
            f.profile("production").map(|c| c.backup.dir).as_deref(),
            Ok("/srv/b")
        );
        assert_eq!(f.base().backup.dir, "b");
    }

    #[test]
    fn levels_are_checked_per_method() {
        let d = only_error("[backup]\ncompression_level = 10\n");
        assert_eq!((d.key.as_str(), d.line), ("backup.compression_level", 2));
        assert!(
            d.message
                .starts_with("`gzip` levels run from 1 to 9, found `10`"),
            "{d}"
        );
        let d = only_error("[backup]\ncompression = \"lz4\"\ncompression_level = 13\n");
        assert!(
            d.message.starts_with("`lz4` levels run from 1 to 12"),
            "{d}"
        );
        let d = only_error("[backup]\ncompression = \"none\"\ncompression_level = 3\n");
        assert!(d.message.contains("takes no level"), "{d}");
        parse_ok("[backup]\ncompression = \"zstd\"\ncompression_level = 22\n");
        parse_ok("[backup]\ncompression_level = 1\n");
    }

    #[test]
    fn an_unknown_method_lists_the_methods() {
        let d = only_error("[backup]\ncompression = \"zst\"\n");
        assert!(
            d.message.ends_with(
                "did you mean `\"zstd\"`? expected `\"gzip\"`, `\"zstd\"`, `\"lz4\"` or `\"none\"`"
            ),
            "{d}"
        );
    }

    #[test]
    fn prune_keeps_something() {
        let d = only_error("[backup]\nkeep = 0\n");
        assert_eq!(d.key, "backup.keep");
        assert!(
            d.message.contains("keep at least 1, or set `keep_days`"),
            "{d}"
        );
        let d = only_error("[backup]\nkeep_days = 0\n");
        assert_eq!(d.key, "backup.keep_days");
        parse_ok("[backup]\nkeep = 0\nkeep_days = 7\n");
    }

    #[test]
    fn unknown_keys_are_suggested() {
        let d = only_error("[backup]\ndirectory = \"x\"\n");
        assert!(d.message.contains("did you mean `dir`?"), "{d}");
        let d = only_error("[backup]\nretention_days = 3\n");
        assert!(d.message.contains("did you mean `keep_days`?"), "{d}");
        let d = only_error("[backup]\nkeep_dayz = 3\n");
        assert!(d.message.contains("did you mean `keep_days`?"), "{d}");
    }

    #[test]
    fn every_compression_word_is_read_as_itself() {
        for word in Compression::VALID {
            let b = parse_ok(&format!("[backup]\ncompression = \"{word}\"\n")).backup;
            assert_eq!(b.compression.as_str(), *word);
        }
    }
}
