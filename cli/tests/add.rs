//! `pgready migrate add`: timestamped files, reversible pairs, the configured directory.

mod support;

use std::time::{Duration, SystemTime};

use support::{Project, files_in};

/// `YYYYMMDDHHMMSS` of `time`, UTC.
fn version_at(time: SystemTime) -> i64 {
    let digits: String = humantime::format_rfc3339_seconds(time)
        .to_string()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    digits.parse().expect("14 digits")
}

/// The version of a file name `<version>_…`.
fn version_of(file: &str) -> i64 {
    file.split('_')
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("`{file}` has no version"))
}

#[test]
fn add_creates_a_timestamped_migration() {
    let project = Project::new("add", "");
    let before = version_at(SystemTime::now());
    let out = project.pgready(&["migrate", "add", "Create items table"]);
    let after = version_at(SystemTime::now());
    assert_eq!(out.code, 0, "{}", out.stderr);

    let files = project.migration_files();
    assert_eq!(files.len(), 1, "{files:?}");
    let file = &files[0];
    assert!(file.ends_with("_create_items_table.sql"), "{file}");
    let version = version_of(file);
    assert_eq!(version.to_string().len(), 14, "{file}");
    assert!(
        (before..=after).contains(&version),
        "{before} <= {version} <= {after}"
    );
    assert_eq!(out.stdout, format!("migrations/{file}\n"));
}

#[test]
fn add_reversible_creates_an_up_and_down_pair() {
    let project = Project::new("add-reversible", "");
    let out = project.pgready(&["migrate", "add", "add_tags", "--reversible"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let files = project.migration_files();
    assert_eq!(files.len(), 2, "{files:?}");
    let version = version_of(&files[0]);
    assert_eq!(
        files,
        [
            format!("{version}_add_tags.down.sql"),
            format!("{version}_add_tags.up.sql")
        ]
    );
    assert_eq!(
        out.stdout,
        format!("migrations/{version}_add_tags.up.sql\nmigrations/{version}_add_tags.down.sql\n")
    );
    // what was created is a valid reversible migration for every other subcommand
    let lock = project.pgready(&["migrate", "lock"]);
    assert_eq!(lock.code, 0, "{}", lock.stderr);
}

#[test]
fn add_never_reuses_a_version() {
    let project = Project::new("add-bump", "");
    // every second of the next two minutes is taken: the new file must come right after them
    let start = SystemTime::now();
    for s in 0..120 {
        let version = version_at(start + Duration::from_secs(s));
        project.write(&format!("{version}_taken.sql"), "SELECT 1;\n");
    }
    let out = project.pgready(&["migrate", "add", "next"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let expected = version_at(start + Duration::from_secs(120));
    assert_eq!(out.stdout, format!("migrations/{expected}_next.sql\n"));
    assert!(project.migration(&format!("{expected}_next.sql")).exists());
}

#[test]
fn add_uses_the_configured_directory_relative_to_the_config_file() {
    let project = Project::new("add-dir", "[migrations]\ndir = \"db/migrations\"\n");
    let elsewhere = std::env::temp_dir();
    let config = project.dir.join("pgready.toml");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pgready"))
        .args([
            "--config",
            config.to_str().expect("utf-8"),
            "migrate",
            "add",
            "first",
        ])
        .current_dir(&elsewhere)
        .output()
        .expect("run pgready");
    assert_eq!(out.status.code(), Some(0));
    let created = files_in(&project.dir.join("db/migrations"));
    assert_eq!(created.len(), 1, "{created:?}");
    assert!(created[0].ends_with("_first.sql"));
}

#[test]
fn add_refuses_descriptions_that_cannot_be_file_names() {
    let project = Project::new("add-bad", "");
    for bad in ["drop.items", "a/b", "  "] {
        let out = project.pgready(&["migrate", "add", bad]);
        assert_eq!(out.code, 1, "{bad:?}");
        assert!(
            out.stderr.starts_with("error: the description"),
            "{}",
            out.stderr
        );
    }
    assert!(project.migration_files().is_empty());
    let usage = project.pgready(&["migrate", "add"]);
    assert_eq!(usage.code, 2, "a missing argument is a usage error");
}
