//! `pgready migrate add <description> [--reversible]`: a new, empty migration file named with
//! the current UTC time, so versions sort in the order they were written.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use pgready_core::migrations::parse_file_name;

use crate::args::AddArgs;
use crate::failure::Failure;
use crate::project::Project;

// What sqlx writes into a new migration, so both tools create the same files.
const SIMPLE: &str = "-- Add migration script here\n";
const UP: &str = "-- Add up migration script here\n";
const DOWN: &str = "-- Add down migration script here\n";

pub fn run(project: &Project, args: &AddArgs) -> Result<(), Failure> {
    let description = snake_case(&args.description)?;
    let dir = project.migrations_dir();
    std::fs::create_dir_all(&dir).map_err(|e| {
        Failure::Error(format!(
            "cannot create the migrations directory `{}`: {e}",
            dir.display()
        ))
    })?;
    let version = free_version(SystemTime::now(), &versions_in(&dir)?)?;
    let files: Vec<(String, &str)> = if args.reversible {
        vec![
            (format!("{version}_{description}.up.sql"), UP),
            (format!("{version}_{description}.down.sql"), DOWN),
        ]
    } else {
        vec![(format!("{version}_{description}.sql"), SIMPLE)]
    };
    let mut created: Vec<PathBuf> = Vec::new();
    for (name, text) in &files {
        // The same name check discovery runs, so `add` never creates a file the build refuses.
        if let Some(Err(message)) = parse_file_name(name) {
            return Err(Failure::Error(format!("`{name}`: {message}")));
        }
        let path = dir.join(name);
        if let Err(e) = create_new(&path, text) {
            for done in &created {
                let _ = std::fs::remove_file(done);
            }
            return Err(Failure::Error(e));
        }
        created.push(path);
    }
    for path in &created {
        println!("{}", path.display());
    }
    Ok(())
}

/// `"Add price to items"` → `add_price_to_items`: words joined by `_`, ASCII lowercase.
fn snake_case(description: &str) -> Result<String, Failure> {
    let words: Vec<&str> = description
        .split(|c: char| c.is_whitespace() || c == '-')
        .filter(|w| !w.is_empty())
        .collect();
    let snake = words.join("_").to_ascii_lowercase();
    if snake.is_empty() || snake.chars().all(|c| c == '_') {
        return Err(Failure::Error(
            "the description is empty: say what the migration does, e.g. `create_items`".to_owned(),
        ));
    }
    if let Some(bad) = snake
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_'))
    {
        return Err(Failure::Error(format!(
            "the description {description:?} contains {bad:?}: use letters, digits, `_`, `-` \
             and spaces only, e.g. `add_price_to_items`"
        )));
    }
    Ok(snake)
}

/// Every version already used in `dir`, by any kind of file.
fn versions_in(dir: &Path) -> Result<BTreeSet<i64>, Failure> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        Failure::Error(format!(
            "cannot read the migrations directory `{}`: {e}",
            dir.display()
        ))
    })?;
    Ok(entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name();
            match parse_file_name(name.to_str()?) {
                Some(Ok(file)) => Some(file.version),
                _ => None,
            }
        })
        .collect())
}

/// The `YYYYMMDDHHMMSS` version of `now` (UTC), one second later while that one is taken.
fn free_version(mut now: SystemTime, taken: &BTreeSet<i64>) -> Result<i64, Failure> {
    loop {
        let version = timestamp(now)?;
        if !taken.contains(&version) {
            return Ok(version);
        }
        now += Duration::from_secs(1);
    }
}

fn timestamp(time: SystemTime) -> Result<i64, Failure> {
    // humantime cannot format a time before 1970 (it would panic): refuse a broken clock.
    if time < SystemTime::UNIX_EPOCH {
        return Err(Failure::Error(
            "the system clock is before 1970: fix it, versions are timestamps".to_owned(),
        ));
    }
    // `2024-05-01T12:30:00Z` → `20240501123000`
    let digits: String = humantime::format_rfc3339_seconds(time)
        .to_string()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    match digits.parse() {
        Ok(version) if digits.len() == 14 => Ok(version),
        _ => Err(Failure::Error(format!(
            "the system clock gives an unusable timestamp `{digits}`"
        ))),
    }
}

/// Writes a new file; an existing file is never overwritten.
fn create_new(path: &Path, text: &str) -> Result<(), String> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => {
                format!("`{}` already exists: not overwriting it", path.display())
            }
            _ => format!("cannot create `{}`: {e}", path.display()),
        })?;
    file.write_all(text.as_bytes())
        .map_err(|e| format!("cannot write `{}`: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_become_snake_case() {
        assert_eq!(snake_case("create_items").unwrap(), "create_items");
        assert_eq!(
            snake_case("  Add price  to-items ").unwrap(),
            "add_price_to_items"
        );
        assert!(snake_case("   ").is_err());
        assert!(snake_case("drop.items").is_err());
        assert!(snake_case("a/b").is_err());
    }

    #[test]
    fn versions_are_utc_timestamps_bumped_past_taken_ones() {
        // 2024-05-01T12:30:00Z
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_714_566_600);
        assert_eq!(timestamp(t).unwrap(), 20240501123000);
        let taken = BTreeSet::from([20240501123000, 20240501123001]);
        assert_eq!(free_version(t, &taken).unwrap(), 20240501123002);
        assert_eq!(free_version(t, &BTreeSet::new()).unwrap(), 20240501123000);
    }

    #[test]
    fn existing_files_are_never_overwritten() {
        let path = std::env::temp_dir().join(format!("pgready-cli-add-{}.sql", std::process::id()));
        std::fs::write(&path, "SELECT 1;\n").unwrap();
        let refused = create_new(&path, SIMPLE);
        let kept = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(refused.unwrap_err().contains("already exists"));
        assert_eq!(kept, "SELECT 1;\n");
    }
}
