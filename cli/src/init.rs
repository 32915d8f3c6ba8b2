//! `pgready init [--force]`: adopts pgready in an existing sqlx crate without re-baselining
//! anything.
//!
//! Run in the crate's folder (next to `Cargo.toml`), it
//! - finds the migrations folder: `sqlx.toml`'s `migrate.migrations-dir`, else the path in a
//!   `sqlx::migrate!("…")` call under `src/`, else `migrations/`;
//! - writes `pgready.toml` with what differs from the defaults (the folder, and sqlx.toml's
//!   table name and ignored characters, which change what is recorded);
//! - writes the release ledger of every existing migration, so they are history: verified,
//!   never linted again (see `pgready_core::project`);
//! - writes `build.rs` with the line that re-expands the macro when a migration is added, or
//!   says which line to add to an existing one;
//! - prints what it found and the one attribute to add.
//!
//! It is idempotent, and never overwrites a file without `--force`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use pgready_core::lint;
use pgready_core::migrations::{self, Kind, Ledger, Resolve, SqlxToml};
use pgready_core::project::{SQLX_TOML, chars_list};

use crate::args::InitArgs;
use crate::failure::Failure;

const CONFIG: &str = "pgready.toml";
const LEDGER: &str = "migrations.lock";
const BUILD_RS: &str = "build.rs";

pub fn run(args: &InitArgs) -> Result<(), Failure> {
    let root = args.path.clone().unwrap_or_else(|| PathBuf::from("."));
    if !root.join("Cargo.toml").is_file() {
        return Err(Failure::Error(format!(
            "no `Cargo.toml` in `{}`: run `pgready init` in the crate's folder (or pass it)",
            root.display()
        )));
    }
    let sqlx = read_sqlx_toml(&root)?;
    let (dir, found_by) = find_migrations_dir(&root, sqlx.as_ref())?;
    let resolve = Resolve {
        ignored_chars: sqlx
            .as_ref()
            .map(|s| s.ignored_chars.clone())
            .unwrap_or_default(),
    };
    let discovered = migrations::read_directory(&root.join(&dir), &resolve).map_err(|errors| {
        let shown: Vec<String> = errors.iter().map(|e| format!("{dir}/{e}")).collect();
        crate::failure::report(&shown)
    })?;
    let list = &discovered.migrations;

    let mut done = Vec::new();
    let config_text = config_text(&dir, sqlx.as_ref());
    done.push(write_file(&root.join(CONFIG), &config_text, args.force)?);

    let mut ledger = Ledger::default();
    ledger.record_new(list);
    let ledger_path = root.join(LEDGER);
    done.push(match std::fs::read_to_string(&ledger_path) {
        // An existing ledger already says what was released; it is checked, never rewritten.
        Ok(text) if !args.force => {
            Ledger::parse(LEDGER, &text).map_err(|errors| crate::failure::report(&errors))?;
            format!("{LEDGER}: exists, left as is (`pgready migrate lock` records new files)")
        }
        _ => write_file(&ledger_path, &ledger.to_text(), args.force)?,
    });
    done.push(build_rs(&root, &dir, args.force)?);

    let mut out = String::new();
    let _ = writeln!(out, "pgready init in {}", root.display());
    for line in &done {
        let _ = writeln!(out, "  {line}");
    }
    let _ = writeln!(out, "\nfound:");
    let _ = writeln!(out, "  migrations folder: {dir} ({found_by})");
    let simple = list.iter().filter(|m| m.kind == Kind::Simple).count();
    let up = list.iter().filter(|m| m.kind == Kind::Up).count();
    let down = list.iter().filter(|m| m.kind == Kind::Down).count();
    let _ = writeln!(
        out,
        "  {} file(s): {simple} simple, {up} up, {down} down; versions {}",
        list.len(),
        match (list.first(), list.last()) {
            (Some(first), Some(last)) => format!("{} to {}", first.version, last.version),
            _ => "none".to_owned(),
        }
    );
    let _ = writeln!(
        out,
        "  all {} recorded in {LEDGER} as released: verified against it at every build, never \
         linted again",
        list.len()
    );
    if let Some(sqlx) = &sqlx {
        let _ = writeln!(
            out,
            "  {SQLX_TOML}: table {}, ignored characters {}",
            sqlx.table_name
                .as_deref()
                .unwrap_or("_sqlx_migrations (default)"),
            chars_list(&sqlx.ignored_chars)
        );
    }
    let irregular: Vec<String> = list
        .iter()
        .flat_map(|m| lint::lint_file_name(m, list, &BTreeMap::new()))
        .map(|f| format!("{}: {}", f.file, f.message))
        .collect();
    if !irregular.is_empty() {
        let _ = writeln!(
            out,
            "  {} irregular name(s), read exactly as sqlx reads them (history: no warning):",
            irregular.len()
        );
        for line in &irregular {
            let _ = writeln!(out, "    {line}");
        }
    }
    if !discovered.skipped.is_empty() {
        let _ = writeln!(
            out,
            "  {} file(s) sqlx skips (never applied; rename or move them, pgready warns about \
             them):",
            discovered.skipped.len()
        );
        for skipped in &discovered.skipped {
            let _ = writeln!(out, "    {}", skipped.file_name);
        }
    }
    let _ = writeln!(out, "\nnext:");
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap_or_default();
    if !manifest
        .lines()
        .any(|l| l.trim_start().starts_with("pgready"))
    {
        let _ = writeln!(out, "  add `pgready = \"0.1\"` to [dependencies]");
    }
    let _ = writeln!(
        out,
        "  put the attribute on your main function:\n\n    \
         #[pgready::migrated_pool(config = \"{CONFIG}\")]\n    async fn main(db: pgready::Db) \
         -> Result<(), Box<dyn std::error::Error>> {{ … }}\n"
    );
    let _ = writeln!(
        out,
        "  `db.write()` / `db.read()` take the place of your `PgPool`; new migrations are \
         linted in full, and `pgready migrate lock` records them at release"
    );
    print!("{out}");
    Ok(())
}

fn read_sqlx_toml(root: &Path) -> Result<Option<SqlxToml>, Failure> {
    let path = root.join(SQLX_TOML);
    match std::fs::read_to_string(&path) {
        Ok(text) => SqlxToml::parse(&text)
            .map(Some)
            .map_err(|e| Failure::Error(format!("{SQLX_TOML}: {e}"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Failure::Error(format!("cannot read `{SQLX_TOML}`: {e}"))),
    }
}

/// The migrations folder, relative to the crate, and how it was found.
fn find_migrations_dir(
    root: &Path,
    sqlx: Option<&SqlxToml>,
) -> Result<(String, &'static str), Failure> {
    if let Some(dir) = sqlx.and_then(|s| s.migrations_dir.clone()) {
        return Ok((dir, "from sqlx.toml"));
    }
    if let Some(dir) = migrate_macro_path(&root.join("src")) {
        return Ok((dir, "from `sqlx::migrate!` in src/"));
    }
    if root.join("migrations").is_dir() {
        return Ok(("migrations".to_owned(), "sqlx's default"));
    }
    Err(Failure::Error(format!(
        "no migrations folder found in `{}`: neither `{SQLX_TOML}`'s `migrate.migrations-dir`, \
         nor a `sqlx::migrate!(\"…\")` under src/, nor `migrations/`; create it or run \
         `pgready init` in the crate that holds it",
        root.display()
    )))
}

/// The folder named by the first `migrate!("…")` under `src/`, when there is one.
fn migrate_macro_path(dir: &Path) -> Option<String> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            if let Some(found) = migrate_macro_path(&path) {
                return Some(found);
            }
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let mut rest = text.as_str();
        while let Some(at) = rest.find("migrate!(") {
            rest = &rest[at + "migrate!(".len()..];
            let args = rest.trim_start();
            if let Some(literal) = args.strip_prefix('"')
                && let Some(end) = literal.find('"')
            {
                return Some(literal[..end].to_owned());
            }
            if args.starts_with(')') {
                return Some("migrations".to_owned());
            }
        }
    }
    None
}

fn config_text(dir: &str, sqlx: Option<&SqlxToml>) -> String {
    let mut text = String::from(
        "# pgready: every key has a production default; see the README's configuration \
         reference.\n# Written by `pgready init`.\n\n[migrations]\n",
    );
    let _ = writeln!(text, "dir = {dir:?}");
    if let Some(table) = sqlx.and_then(|s| s.table_name.as_ref()) {
        let _ = writeln!(text, "table = {table:?}  # from sqlx.toml");
    }
    if let Some(sqlx) = sqlx.filter(|s| !s.create_schemas.is_empty()) {
        let _ = writeln!(
            text,
            "create_schemas = {:?}  # from sqlx.toml: created before the migrations table",
            sqlx.create_schemas
        );
    }
    if let Some(sqlx) = sqlx.filter(|s| !s.ignored_chars.is_empty()) {
        let _ = writeln!(
            text,
            "ignored_chars = {}  # from sqlx.toml: checksums as sqlx computes them",
            chars_list(&sqlx.ignored_chars)
        );
    }
    let _ = writeln!(
        text,
        "# the migrations released before pgready: verified against it, never linted again\n\
         ledger = \"{LEDGER}\""
    );
    text
}

/// Writes `path` unless it exists (then `--force` is needed); says what it did.
fn write_file(path: &Path, text: &str, force: bool) -> Result<String, Failure> {
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    match std::fs::read_to_string(path) {
        Ok(existing) if existing == text => return Ok(format!("{name}: up to date")),
        Ok(_) if !force => {
            return Ok(format!(
                "{name}: exists, left as is (`--force` rewrites it)"
            ));
        }
        _ => {}
    }
    std::fs::write(path, text)
        .map_err(|e| Failure::Error(format!("cannot write `{}`: {e}", path.display())))?;
    Ok(format!("{name}: written"))
}

/// `build.rs` with the rerun line: written when absent, checked when present.
fn build_rs(root: &Path, dir: &str, force: bool) -> Result<String, Failure> {
    let line = format!("println!(\"cargo:rerun-if-changed={dir}\");");
    let path = root.join(BUILD_RS);
    match std::fs::read_to_string(&path) {
        Ok(text) if text.contains(&format!("cargo:rerun-if-changed={dir}")) => {
            Ok(format!("{BUILD_RS}: already re-runs when `{dir}` changes"))
        }
        Ok(_) if !force => Ok(format!(
            "{BUILD_RS}: exists; add this line to its `main` so adding a migration re-expands \
             the macro: {line}"
        )),
        _ => write_file(
            &path,
            &format!(
                "// Re-expands `#[pgready::migrated_pool]` when a migration is added.\nfn main() \
                 {{\n    {line}\n}}\n"
            ),
            true,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_folder_of_sqlx_migrate() {
        let dir = std::env::temp_dir().join(format!("pgready-init-src-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("db")).unwrap();
        std::fs::write(dir.join("lib.rs"), "fn x() {}\n").unwrap();
        std::fs::write(
            dir.join("db/mod.rs"),
            "pub static M: Migrator = sqlx::migrate!( \"db/migrations\");\n",
        )
        .unwrap();
        let found = migrate_macro_path(&dir);
        std::fs::write(dir.join("db/mod.rs"), "sqlx::migrate!().run(&pool)").unwrap();
        let default = migrate_macro_path(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(found.as_deref(), Some("db/migrations"));
        assert_eq!(default.as_deref(), Some("migrations"));
    }

    #[test]
    fn config_carries_what_sqlx_toml_changes() {
        let sqlx = SqlxToml::parse(
            "[migrate]\ntable-name = \"ops.history\"\nignored-chars = [\"\\r\"]\n\
             create-schemas = [\"ops\"]\n",
        )
        .unwrap();
        let text = config_text("db/migrations", Some(&sqlx));
        let parsed = pgready_core::config::parse(&text, "app").unwrap();
        let m = &parsed.file.base().migrations;
        assert_eq!(m.dir, "db/migrations");
        assert_eq!(m.table, "ops.history");
        assert_eq!(m.ignored_chars, std::collections::BTreeSet::from(['\r']));
        assert_eq!(m.create_schemas, ["ops"]);
        assert_eq!(m.ledger.as_deref(), Some(LEDGER));
    }
}
