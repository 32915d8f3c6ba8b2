//! Generated migration sets: tables, indexes and added columns, as a growing schema has.

use std::path::{Path, PathBuf};

/// `n` migrations as `(file name, sql)`: every fourth creates a table, the others index it,
/// add a column, and index that column.
pub fn migrations(n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            let t = i / 4;
            let (what, sql) = match i % 4 {
                0 => (
                    format!("create_t{t}"),
                    format!(
                        "CREATE TABLE t{t} (\n    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n    \
                         name text NOT NULL,\n    created_at timestamptz NOT NULL DEFAULT now()\n);\n"
                    ),
                ),
                1 => (
                    format!("index_t{t}_name"),
                    format!("CREATE INDEX t{t}_name ON t{t} (name);\n"),
                ),
                2 => (
                    format!("add_t{t}_note"),
                    format!("ALTER TABLE t{t} ADD COLUMN note text;\n"),
                ),
                _ => (
                    format!("index_t{t}_note"),
                    format!("CREATE INDEX t{t}_note ON t{t} (note) WHERE note IS NOT NULL;\n"),
                ),
            };
            (format!("{:04}_{what}.sql", i + 1), sql)
        })
        .collect()
}

/// The same files as `#[migrated_pool]` embeds them (leaked: they live for the process).
pub fn embedded(files: &[(String, String)]) -> &'static [pgready::__private::EmbeddedFile] {
    let list: Vec<_> = files
        .iter()
        .map(|(name, sql)| pgready::__private::EmbeddedFile {
            name: Box::leak(name.clone().into_boxed_str()),
            sql: Box::leak(sql.clone().into_boxed_str()),
        })
        .collect();
    Box::leak(list.into_boxed_slice())
}

/// Writes the files to a fresh directory for sqlx's `Migrator::new`.
pub fn write_dir(label: &str, files: &[(String, String)]) -> std::io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("pgready-bench-{label}-{}", std::process::id()));
    remove_dir(&dir);
    std::fs::create_dir_all(&dir)?;
    for (name, sql) in files {
        std::fs::write(dir.join(name), sql)?;
    }
    Ok(dir)
}

pub fn remove_dir(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
}

/// `pgready.toml` for generated crates: the migrations above index tables created by earlier
/// files and are not idempotent, which the lints would flag on every build.
pub const PGREADY_TOML: &str = "[migrations]\nledger = false\n\n[migrations.lints]\n\
     require-concurrent-index-creation = \"allow\"\nnon-idempotent-ddl = \"allow\"\n";

/// This workspace's root directory.
pub fn workspace() -> std::io::Result<PathBuf> {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
}

/// The workspace's target dir: generated crates build there, so the dependencies compiled for
/// the workspace are reused instead of built from scratch.
pub fn target_dir(workspace: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace.join("target"), PathBuf::from)
}

/// The workspace's `[profile.*]` sections, so cargo reuses its compiled dependencies; minus
/// the `[profile.*.package.<name>]` sections of the packages in `without`.
pub fn profiles(workspace: &Path, without: &[&str]) -> std::io::Result<String> {
    let root = std::fs::read_to_string(workspace.join("Cargo.toml"))?;
    let Some(start) = root.find("[profile.") else {
        return Ok(String::new());
    };
    let mut out = String::new();
    let mut keep = true;
    for line in root[start..].lines() {
        if line.starts_with('[') {
            keep = !without
                .iter()
                .any(|package| line.ends_with(&format!(".package.{package}]")));
        }
        if keep {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out)
}
