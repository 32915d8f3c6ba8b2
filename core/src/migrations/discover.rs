//! Finding migrations in a directory (compile time) or in embedded files (run time).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use super::{Kind, Migration, parse_file_name};

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

/// Reads every migration in `dir`, sorted by version (then up before down).
///
/// Every problem is returned together: misnamed files, unreadable files, duplicate versions,
/// a `.down.sql` without its `.up.sql`.
pub fn discover(dir: &Path) -> Result<Vec<Migration>, Vec<MigrationError>> {
    let display = dir.display();
    let entries = std::fs::read_dir(dir).map_err(|e| {
        vec![MigrationError::new(
            &display.to_string(),
            0,
            format!("cannot read the migrations directory: {e}"),
        )]
    })?;
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                errors.push(MigrationError::new(&display.to_string(), 0, e.to_string()));
                continue;
            }
        };
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            errors.push(MigrationError::new(
                &entry.file_name().to_string_lossy(),
                0,
                "file name is not valid UTF-8".to_owned(),
            ));
            continue;
        };
        if entry.file_type().is_ok_and(|t| t.is_dir()) || parse_file_name(&name).is_none() {
            continue;
        }
        match std::fs::read_to_string(entry.path()) {
            Ok(sql) => files.push((name, sql)),
            Err(e) => errors.push(MigrationError::new(&name, 0, format!("cannot read: {e}"))),
        }
    }
    match from_files(files) {
        Ok(migrations) if errors.is_empty() => Ok(migrations),
        Ok(_) => Err(errors),
        Err(more) => {
            errors.extend(more);
            errors.sort_by(|a, b| a.file.cmp(&b.file));
            Err(errors)
        }
    }
}

/// Builds the ordered migration list from `(file name, text)` pairs.
///
/// This is what the runtime calls on the files the macro embedded, and what [`discover`] calls on
/// the directory: one code path for both.
pub fn from_files<N, S>(
    files: impl IntoIterator<Item = (N, S)>,
) -> Result<Vec<Migration>, Vec<MigrationError>>
where
    N: AsRef<str>,
    S: Into<String>,
{
    let mut errors = Vec::new();
    let mut by_version: BTreeMap<(i64, Kind), Migration> = BTreeMap::new();
    for (name, sql) in files {
        let name = name.as_ref();
        if parse_file_name(name).is_none() {
            continue;
        }
        let migration = match Migration::new(name, sql.into()) {
            Ok(migration) => migration,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        // A simple file and a reversible pair share a version space.
        let slot = match migration.kind {
            Kind::Simple | Kind::Up => Kind::Simple,
            Kind::Down => Kind::Down,
        };
        if let Some(other) = by_version.get(&(migration.version, slot)) {
            let (first, second) = if other.file_name < migration.file_name {
                (other.file_name.clone(), migration.file_name.clone())
            } else {
                (migration.file_name.clone(), other.file_name.clone())
            };
            errors.push(MigrationError::new(
                &second,
                0,
                format!(
                    "duplicate migration version {}: `{first}` has it too, give one of them a new version",
                    migration.version
                ),
            ));
            continue;
        }
        by_version.insert((migration.version, slot), migration);
    }
    for ((version, slot), migration) in &by_version {
        let up = by_version.get(&(*version, Kind::Simple));
        match (slot, up) {
            (Kind::Down, None) => errors.push(MigrationError::new(
                &migration.file_name,
                0,
                format!(
                    "`{}` has no matching `.up.sql`: add `{version}_{}.up.sql` or remove it",
                    migration.file_name,
                    migration.description.replace(' ', "_")
                ),
            )),
            (Kind::Down, Some(up)) if up.kind == Kind::Simple => {
                errors.push(MigrationError::new(
                    &migration.file_name,
                    0,
                    format!(
                        "`{}` reverts `{}`, which is not reversible: rename it to `.up.sql`",
                        migration.file_name, up.file_name
                    ),
                ));
            }
            (Kind::Simple, Some(_))
                if migration.kind == Kind::Up
                    && !by_version.contains_key(&(*version, Kind::Down)) =>
            {
                errors.push(MigrationError::new(
                    &migration.file_name,
                    0,
                    format!(
                        "`{}` has no matching `.down.sql`: add one, or rename it to `.sql`",
                        migration.file_name
                    ),
                ));
            }
            _ => {}
        }
    }
    if !errors.is_empty() {
        errors.sort_by(|a, b| a.file.cmp(&b.file));
        return Err(errors);
    }
    let mut migrations: Vec<Migration> = by_version.into_values().collect();
    migrations.sort_by_key(|m| (m.version, m.kind));
    Ok(migrations)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(names: &[&str]) -> Vec<(String, String)> {
        names
            .iter()
            .map(|n| (n.to_string(), format!("-- {n}\n")))
            .collect()
    }

    #[test]
    fn orders_by_version_and_ignores_other_files() {
        let ms = from_files(files(&[
            "10_b.sql",
            "2_a.up.sql",
            "README.md",
            "2_a.down.sql",
        ]))
        .unwrap();
        let names: Vec<_> = ms.iter().map(|m| m.file_name.as_str()).collect();
        assert_eq!(names, ["2_a.up.sql", "2_a.down.sql", "10_b.sql"]);
    }

    #[test]
    fn reports_every_problem_together() {
        let errors = from_files(files(&[
            "1_a.sql",
            "1_b.sql",
            "3_lone.down.sql",
            "x_bad.sql",
            "4_c.up.sql",
        ]))
        .unwrap_err();
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 4, "{text:#?}");
        assert!(
            text.iter()
                .any(|t| t.starts_with("1_b.sql") && t.contains("duplicate migration version 1"))
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("3_lone.down.sql") && t.contains("no matching `.up.sql`"))
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("x_bad.sql") && t.contains("misnamed"))
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("4_c.up.sql") && t.contains("no matching `.down.sql`"))
        );
    }

    #[test]
    fn simple_and_up_with_one_version_are_duplicates() {
        let errors = from_files(files(&["1_a.sql", "1_a.up.sql", "1_a.down.sql"])).unwrap_err();
        assert!(
            errors
                .iter()
                .any(|e| e.message.contains("duplicate migration version 1"))
        );
    }

    #[test]
    fn discover_reads_a_directory_like_from_files() {
        let dir = std::env::temp_dir().join(format!("pgready-discover-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("1_create.sql"), "CREATE TABLE t (id int);").unwrap();
        std::fs::write(dir.join(".gitkeep"), "").unwrap();
        let found = discover(&dir);
        let missing = discover(&dir.join("nope"));
        std::fs::remove_dir_all(&dir).unwrap();
        let found = found.unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].checksum,
            super::super::checksum(b"CREATE TABLE t (id int);")
        );
        assert!(
            missing.unwrap_err()[0]
                .message
                .contains("cannot read the migrations directory")
        );
    }
}
