//! Finding migrations in a directory (compile time) or in embedded files (run time), as sqlx
//! 0.9's resolver (`resolve_blocking_with_config`) finds them.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use super::{Migration, Resolve, SkipReason, looks_like_migration, parse_file_name};

/// A problem with one migration file; `line` is 0 when it concerns the whole file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationError {
    /// The file name, relative to the migrations directory.
    pub file: String,
    /// 1-based line, or 0 for the file as a whole.
    pub line: usize,
    /// What is wrong and what to do.
    pub message: String,
}

impl MigrationError {
    pub(crate) fn new(file: &str, line: usize, message: String) -> MigrationError {
        MigrationError {
            file: file.to_owned(),
            line,
            message,
        }
    }
}

impl fmt::Display for MigrationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}:{}: {}", self.file, self.line, self.message)
        }
    }
}

/// A directory entry sqlx skips although its name looks like a migration (it starts with a
/// digit or ends in `.sql`, see [`looks_like_migration`]): it never runs, which its author
/// probably did not mean. `README.md` and `notes.txt` are skipped without being listed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Skipped {
    /// The entry's name in the migrations directory (lossy UTF-8, as sqlx reads it).
    pub file_name: String,
    /// Why sqlx skips it.
    pub reason: SkipReason,
}

/// A migrations directory as sqlx reads it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Directory {
    /// Every migration, sorted by version, then simple/up before down (then file name).
    pub migrations: Vec<Migration>,
    /// Entries sqlx skips that look like migrations, sorted by name.
    pub skipped: Vec<Skipped>,
}

/// Reads every migration in `dir`, sorted by version (then up before down); see
/// [`read_directory`] for the rules and for the skipped files.
pub fn discover(dir: &Path, resolve: &Resolve) -> Result<Vec<Migration>, Vec<MigrationError>> {
    read_directory(dir, resolve).map(|found| found.migrations)
}

/// Reads `dir` exactly as sqlx 0.9's resolver does.
///
/// Only regular files count, symlinks followed; subdirectories and anything else are skipped.
/// A file name without `_`, or not ending in `.sql` after the first `_`, is skipped (listed in
/// [`Directory::skipped`] when it looks like a migration). Every other file is a migration, read
/// as [`from_files`] reads it.
///
/// Errors are what sqlx also refuses the directory for, all reported together: an entry whose
/// metadata cannot be read (a broken symlink), a version that does not parse as an `i64`, a file
/// that cannot be read or is not UTF-8, two applied files (simple or up) with one version. One
/// case sqlx accepts is an error here: a migration whose file name is not UTF-8, which could not
/// be embedded by name.
pub fn read_directory(dir: &Path, resolve: &Resolve) -> Result<Directory, Vec<MigrationError>> {
    let display = dir.display().to_string();
    let entries = std::fs::read_dir(dir).map_err(|e| {
        vec![MigrationError::new(
            &display,
            0,
            format!("cannot read the migrations directory: {e}"),
        )]
    })?;
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    let mut errors = Vec::new();
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                errors.push(MigrationError::new(&display, 0, e.to_string()));
                continue;
            }
        };
        let os_name = entry.file_name();
        let name = os_name.to_string_lossy().into_owned();
        // `fs::metadata` follows symlinks, as sqlx's does; sqlx fails on an entry it cannot stat
        let metadata = match std::fs::metadata(entry.path()) {
            Ok(metadata) => metadata,
            Err(e) => {
                errors.push(MigrationError::new(
                    &name,
                    0,
                    format!("cannot read its metadata (a broken symbolic link?): {e}"),
                ));
                continue;
            }
        };
        let reason = if metadata.is_file() {
            super::skip_reason(&name)
        } else {
            Some(SkipReason::NotAFile)
        };
        if let Some(reason) = reason {
            if looks_like_migration(&name) {
                skipped.push(Skipped {
                    file_name: name,
                    reason,
                });
            }
            continue;
        }
        if let Some(Err(message)) = parse_file_name(&name) {
            errors.push(MigrationError::new(&name, 0, message));
            continue;
        }
        if os_name.to_str().is_none() {
            errors.push(MigrationError::new(
                &name,
                0,
                "the file name is not valid UTF-8, so it cannot be embedded: rename it".to_owned(),
            ));
            continue;
        }
        match std::fs::read_to_string(entry.path()) {
            Ok(sql) => files.push((name, sql)),
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                errors.push(MigrationError::new(
                    &name,
                    0,
                    "is not valid UTF-8 text, as sqlx requires: save it as UTF-8".to_owned(),
                ))
            }
            Err(e) => errors.push(MigrationError::new(&name, 0, format!("cannot read: {e}"))),
        }
    }
    let migrations = from_files(files, resolve).unwrap_or_else(|more| {
        errors.extend(more);
        Vec::new()
    });
    if !errors.is_empty() {
        errors.sort_by(|a, b| a.file.cmp(&b.file));
        return Err(errors);
    }
    skipped.sort();
    Ok(Directory {
        migrations,
        skipped,
    })
}

/// Builds the ordered migration list from `(file name, text)` pairs, with sqlx's rules.
///
/// This is what the runtime calls on the files the macro embedded, and what [`discover`] calls on
/// the directory: one code path for both. Names sqlx skips are skipped. The errors, all returned
/// together, are those sqlx cannot apply: a version that does not parse, and two applied files
/// (simple or `.up.sql`) with one version, which would collide in `_sqlx_migrations`. A lone
/// `.up.sql` or `.down.sql` is accepted, as sqlx accepts it (the `migration-file-name` lint
/// reports it).
pub fn from_files<N, S>(
    files: impl IntoIterator<Item = (N, S)>,
    resolve: &Resolve,
) -> Result<Vec<Migration>, Vec<MigrationError>>
where
    N: AsRef<str>,
    S: Into<String>,
{
    let mut errors = Vec::new();
    let mut migrations = Vec::new();
    for (name, sql) in files {
        let name = name.as_ref();
        if parse_file_name(name).is_none() {
            continue;
        }
        match Migration::new(name, sql.into(), resolve) {
            Ok(migration) => migrations.push(migration),
            Err(e) => errors.push(e),
        }
    }
    migrations
        .sort_by(|a, b| (a.version, a.kind, &a.file_name).cmp(&(b.version, b.kind, &b.file_name)));
    let mut applied: BTreeMap<i64, &Migration> = BTreeMap::new();
    for m in migrations.iter().filter(|m| m.kind.is_applied()) {
        if let Some(first) = applied.insert(m.version, m) {
            errors.push(MigrationError::new(
                &m.file_name,
                0,
                format!(
                    "duplicate migration version {}: `{}` has it too, give one of them a new \
                     version",
                    m.version, first.file_name
                ),
            ));
        }
    }
    if !errors.is_empty() {
        errors.sort_by(|a, b| a.file.cmp(&b.file));
        return Err(errors);
    }
    Ok(migrations)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrations::Kind;

    fn files(names: &[&str]) -> Vec<(String, String)> {
        names
            .iter()
            .map(|n| (n.to_string(), format!("-- {n}\n")))
            .collect()
    }

    fn names(ms: &[Migration]) -> Vec<&str> {
        ms.iter().map(|m| m.file_name.as_str()).collect()
    }

    fn resolve() -> Resolve {
        Resolve::default()
    }

    #[test]
    fn orders_by_version_then_kind_and_skips_what_sqlx_skips() {
        let ms = from_files(
            files(&[
                "10_b.sql",
                "2_a.down.sql",
                "README.md",
                "2_a.up.sql",
                "0_init.sql",
                "-3_before.sql",
                "20240101.sql",
                "1_x.SQL",
            ]),
            &resolve(),
        )
        .unwrap();
        assert_eq!(
            names(&ms),
            [
                "-3_before.sql",
                "0_init.sql",
                "2_a.up.sql",
                "2_a.down.sql",
                "10_b.sql"
            ]
        );
    }

    #[test]
    fn unpaired_reversible_files_are_accepted() {
        let ms = from_files(
            files(&["1_a.up.sql", "2_lone.down.sql", "3_b.sql", "3_b.down.sql"]),
            &resolve(),
        )
        .unwrap();
        let kinds: Vec<(i64, Kind)> = ms.iter().map(|m| (m.version, m.kind)).collect();
        assert_eq!(
            kinds,
            [
                (1, Kind::Up),
                (2, Kind::Down),
                (3, Kind::Simple),
                (3, Kind::Down)
            ]
        );
    }

    #[test]
    fn reports_every_problem_together() {
        let errors = from_files(
            files(&[
                "1_a.sql",
                "1_b.sql",
                "x_bad.sql",
                "4_c.up.sql",
                "4_c.sql",
                "5_d.down.sql",
            ]),
            &resolve(),
        )
        .unwrap_err();
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 3, "{text:#?}");
        assert!(
            text[0].starts_with("1_b.sql: duplicate migration version 1: `1_a.sql`"),
            "{text:#?}"
        );
        assert!(
            text[1].starts_with("4_c.up.sql: duplicate migration version 4: `4_c.sql`"),
            "{text:#?}"
        );
        assert!(
            text[2].starts_with("x_bad.sql: misnamed migration file"),
            "{text:#?}"
        );
    }

    #[test]
    fn one_version_spelled_two_ways_is_a_duplicate() {
        let errors =
            from_files(files(&["5_a.sql", "+5_b.sql", "005_c.sql"]), &resolve()).unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:#?}");
        assert!(
            errors
                .iter()
                .all(|e| e.message.contains("duplicate migration version 5"))
        );
    }

    #[test]
    fn two_downs_with_one_version_are_not_applied_so_not_refused() {
        let ms = from_files(
            files(&["1_a.up.sql", "1_a.down.sql", "1_b.down.sql"]),
            &resolve(),
        )
        .unwrap();
        assert_eq!(names(&ms), ["1_a.up.sql", "1_a.down.sql", "1_b.down.sql"]);
    }

    struct TempDir(std::path::PathBuf);

    impl TempDir {
        fn new(label: &str) -> TempDir {
            let dir = std::env::temp_dir()
                .join(format!("pgready-discover-{label}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }

        fn write(&self, name: &str, bytes: &[u8]) {
            std::fs::write(self.0.join(name), bytes).unwrap();
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn read_directory_reads_files_like_from_files_and_lists_skipped_ones() {
        let dir = TempDir::new("read");
        dir.write("1_create.sql", b"CREATE TABLE t (id int);");
        dir.write(".gitkeep", b"");
        dir.write("README.md", b"# migrations");
        dir.write("20240101.sql", b"SELECT 1;");
        dir.write("2_x.SQL", b"SELECT 2;");
        dir.write("sqlx.toml", b"[migrate]\n");
        std::fs::create_dir(dir.0.join("3_folder.sql")).unwrap();
        std::fs::create_dir(dir.0.join("archive")).unwrap();
        std::fs::write(dir.0.join("archive/4_old.sql"), "SELECT 4;").unwrap();
        std::os::unix::fs::symlink("archive/4_old.sql", dir.0.join("5_linked.sql")).unwrap();

        let found = read_directory(&dir.0, &resolve()).unwrap();
        assert_eq!(names(&found.migrations), ["1_create.sql", "5_linked.sql"]);
        assert_eq!(
            found.migrations[0].checksum,
            super::super::checksum(b"CREATE TABLE t (id int);")
        );
        assert_eq!(
            found.migrations[1].sql, "SELECT 4;",
            "symlinks are followed"
        );
        let skipped: Vec<(&str, SkipReason)> = found
            .skipped
            .iter()
            .map(|s| (s.file_name.as_str(), s.reason))
            .collect();
        assert_eq!(
            skipped,
            [
                ("20240101.sql", SkipReason::NoUnderscore),
                ("2_x.SQL", SkipReason::NotSql),
                ("3_folder.sql", SkipReason::NotAFile),
            ]
        );
        assert_eq!(discover(&dir.0, &resolve()).unwrap(), found.migrations);
    }

    #[test]
    fn read_directory_refuses_what_sqlx_refuses() {
        let dir = TempDir::new("refuse");
        dir.write("1_ok.sql", b"SELECT 1;");
        dir.write("create_items.sql", b"SELECT 2;");
        dir.write("3_latin1.sql", b"SELECT '\xe9';");
        std::os::unix::fs::symlink("nowhere.sql", dir.0.join("4_dangling.sql")).unwrap();
        // a directory is skipped before its name is read, as sqlx does
        std::fs::create_dir(dir.0.join("old_migrations")).unwrap();
        let errors = read_directory(&dir.0, &resolve()).unwrap_err();
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 3, "{text:#?}");
        assert!(
            text[0].starts_with("3_latin1.sql: is not valid UTF-8 text"),
            "{text:#?}"
        );
        assert!(
            text[1].starts_with("4_dangling.sql: cannot read its metadata"),
            "{text:#?}"
        );
        assert!(
            text[2].starts_with("create_items.sql: misnamed migration file"),
            "{text:#?}"
        );

        let missing = discover(&dir.0.join("nope"), &resolve()).unwrap_err();
        assert!(
            missing[0]
                .message
                .contains("cannot read the migrations directory")
        );
    }
}
