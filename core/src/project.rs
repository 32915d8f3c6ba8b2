//! The project check: one function answers "is this project's `pgready.toml`, migrations
//! folder, release ledger and lints all right?" for `#[migrated_pool]`, `#[pgready::test]`,
//! the `pgready` CLI and the tests, so they can never disagree.
//!
//! # Paths
//!
//! Every relative path in `pgready.toml` (`[migrations] dir`, `ledger`) starts at the folder
//! that holds `pgready.toml`. The attribute macros find `pgready.toml` next to the crate's
//! `Cargo.toml` (or where `config = "…"` says, relative to the crate); the CLI takes
//! `--config` or `./pgready.toml`. A project whose `pgready.toml` sits next to `Cargo.toml`
//! (the usual case) therefore resolves every path against the crate, from both.
//!
//! # History
//!
//! A migration is *history* when the release ledger records it, or when its version is at most
//! `[migrations] lint_after`. History is verified against the ledger (an edit or a deletion is
//! an error) but never linted or naming-checked again: adopting pgready on a project with years
//! of migrations prints nothing about them. Every other migration is *new* and checked in full.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::config::{self, Config, ConfigFile, Diagnostic, OnStartup, Severity};
use crate::lint::{self, Finding, LintLevel};
use crate::migrations::{self, Ledger, Migration, MigrationError, SqlxToml};
use crate::schema;
use crate::sql;

/// sqlx's own configuration file, read next to `pgready.toml`.
pub const SQLX_TOML: &str = "sqlx.toml";

/// What to check.
#[derive(Clone, Debug)]
pub struct Input<'a> {
    /// `pgready.toml`, absolute or relative to the working directory.
    pub config: &'a Path,
    /// How messages name the configuration file (`pgready.toml`, `config/pgready.toml`).
    pub config_name: &'a str,
    /// The crate's name: the default `session.application_name`.
    pub crate_name: &'a str,
    /// A missing configuration file means every default (the CLI without `--config`) instead of
    /// an error.
    pub missing_config_is_default: bool,
    /// Read the migrations even when no profile applies or verifies them at start-up (the CLI
    /// always needs them; the macros embed them only when some profile does).
    pub always_read_migrations: bool,
    /// Read the migrations from this folder instead of `[migrations] dir`
    /// (`pgready migrate lint DIR`).
    pub dir_override: Option<&'a Path>,
}

/// What a [`Problem`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// `pgready.toml` (or reading it)
    Config,
    /// `sqlx.toml`, or its disagreement with `pgready.toml`
    SqlxToml,
    /// the migrations folder: a file sqlx cannot read, a duplicate version
    Discovery,
    /// the release ledger: a released migration edited or deleted, a malformed line
    Ledger,
    /// a lint finding on a new migration (also in [`Project::findings`])
    Lint,
}

/// A problem found by [`check`], already rendered with its file and line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Error (refuses the build or the command) or warning.
    pub severity: Severity,
    /// What it is about.
    pub source: Source,
    /// `pgready.toml:3:1: `key`: …`, `migrations/0003_x.sql:7: warn[rule]: …`.
    pub message: String,
}

/// The checked project.
#[derive(Clone, Debug)]
pub struct Project {
    /// The folder of `pgready.toml`: relative paths in it start here.
    pub root: PathBuf,
    /// `pgready.toml` itself (it may not exist: see [`Input::missing_config_is_default`]).
    pub config_path: PathBuf,
    /// Every profile's configuration, validated; `None` when the file could not be read.
    pub file: Option<ConfigFile>,
    /// The migrations folder.
    pub migrations_dir: PathBuf,
    /// `[migrations] dir` as written (or the override), for messages.
    pub migrations_dir_name: String,
    /// Whether some profile applies or verifies migrations at start-up: the macros embed the
    /// migrations exactly then.
    pub uses_migrations: bool,
    /// Every migration, in order (empty when none were read or discovery failed).
    pub migrations: Vec<Migration>,
    /// For each of [`Project::migrations`]: whether it is history (see the module docs).
    pub history: Vec<bool>,
    /// The release ledger, when the file exists.
    pub ledger_path: Option<PathBuf>,
    /// `sqlx.toml` next to `pgready.toml`, when it exists.
    pub sqlx_toml_path: Option<PathBuf>,
    /// Lint findings on new migrations (their `file` is the file name in the migrations folder).
    pub findings: Vec<Finding>,
    /// Everything found, errors and warnings, in the order found.
    pub problems: Vec<Problem>,
    /// The schema the migrations build (`[session] schema` first on the path), replayed from
    /// the same parse as the lints; `None` when the migrations were not read.
    pub schema: Option<schema::Replay>,
}

impl Project {
    /// The configuration of the base file with no profile (the defaults when unreadable).
    pub fn base(&self, crate_name: &str) -> Config {
        self.file
            .as_ref()
            .map_or_else(|| Config::defaults(crate_name), |f| f.base().clone())
    }

    /// The errors.
    pub fn errors(&self) -> impl Iterator<Item = &Problem> {
        self.problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
    }

    /// The warnings.
    pub fn warnings(&self) -> impl Iterator<Item = &Problem> {
        self.problems
            .iter()
            .filter(|p| p.severity == Severity::Warning)
    }

    /// Whether any problem is an error.
    pub fn has_errors(&self) -> bool {
        self.errors().next().is_some()
    }

    /// How many migrations are history.
    pub fn history_count(&self) -> usize {
        self.history.iter().filter(|h| **h).count()
    }

    fn error(&mut self, source: Source, message: String) {
        self.problems.push(Problem {
            severity: Severity::Error,
            source,
            message,
        });
    }

    fn warning(&mut self, source: Source, message: String) {
        self.problems.push(Problem {
            severity: Severity::Warning,
            source,
            message,
        });
    }
}

/// Checks the whole project: the configuration (every profile), `sqlx.toml` next to it, the
/// migrations folder, the release ledger, and the lints of every new migration.
///
/// Never fails: every problem, of whatever kind, is in [`Project::problems`], so one build or
/// one command reports all of them at once.
pub fn check(input: &Input<'_>) -> Project {
    let root = match input.config.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut project = Project {
        root: root.clone(),
        config_path: input.config.to_path_buf(),
        file: None,
        migrations_dir: PathBuf::new(),
        migrations_dir_name: String::new(),
        uses_migrations: false,
        migrations: Vec::new(),
        history: Vec::new(),
        ledger_path: None,
        sqlx_toml_path: None,
        findings: Vec::new(),
        problems: Vec::new(),
        schema: None,
    };
    let name = input.config_name;
    let source = match std::fs::read_to_string(input.config) {
        Ok(source) => Some(source),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && input.missing_config_is_default => {
            None
        }
        Err(e) => {
            project.error(
                Source::Config,
                format!("cannot read `{name}` ({}): {e}", input.config.display()),
            );
            return project;
        }
    };
    let file = match config::parse(source.as_deref().unwrap_or(""), input.crate_name) {
        Ok(parsed) => {
            for d in &parsed.warnings {
                project.warning(Source::Config, format!("{name}:{}", located(d)));
            }
            parsed.file
        }
        Err(diagnostics) => {
            for d in &diagnostics {
                project.error(Source::Config, format!("{name}:{}", located(d)));
            }
            return project;
        }
    };
    let base = file.base().clone();
    project.uses_migrations = file.profile_names().iter().any(|p| {
        file.profile(p)
            .is_ok_and(|c| c.migrations.on_startup != OnStartup::Off)
    });
    project.file = Some(file);

    let sqlx_path = root.join(SQLX_TOML);
    if sqlx_path.is_file() {
        check_sqlx_toml(&mut project, &sqlx_path, &base.migrations, name);
        project.sqlx_toml_path = Some(sqlx_path);
    }

    let (dir, dir_name) = match input.dir_override {
        Some(dir) => (dir.to_path_buf(), dir.display().to_string()),
        None => (
            resolve(&root, &base.migrations.dir),
            base.migrations.dir.clone(),
        ),
    };
    project.migrations_dir = dir.clone();
    project.migrations_dir_name = dir_name.clone();
    if !(project.uses_migrations || input.always_read_migrations) {
        return project;
    }
    if !dir.is_dir() {
        if input.always_read_migrations {
            project.error(
                Source::Discovery,
                format!(
                    "migrations directory `{dir_name}` not found ({}): create it or set \
                     `[migrations] dir`",
                    dir.display()
                ),
            );
        } else {
            project.warning(
                Source::Discovery,
                format!(
                    "migrations directory `{dir_name}` not found: no migrations are embedded; \
                     create it or set `[migrations] on_startup = \"off\"`"
                ),
            );
        }
        return project;
    }
    let resolve_options = migrations::Resolve {
        ignored_chars: base.migrations.ignored_chars.clone(),
    };
    let discovered = match migrations::read_directory(&dir, &resolve_options) {
        Ok(discovered) => discovered,
        Err(errors) => {
            for e in &errors {
                project.error(
                    Source::Discovery,
                    format!("migration {}", in_dir(&dir_name, e)),
                );
            }
            return project;
        }
    };

    let ledger = read_ledger(
        &mut project,
        &root,
        &base.migrations,
        &discovered.migrations,
    );
    let history: Vec<bool> = discovered
        .migrations
        .iter()
        .map(|m| {
            ledger.as_ref().is_some_and(|l| l.contains(&m.file_name))
                || base.migrations.lint_after.is_some_and(|v| m.version <= v)
        })
        .collect();

    let levels = &base.migrations.lints;
    let mut findings = Vec::new();
    let mut replayer = schema::Replayer::new(&base.session.schema);
    // each file is parsed once, for its lints (new files) and the replay (files that run, in
    // version order: discovery sorts them)
    for (m, history) in discovered.migrations.iter().zip(&history) {
        let applied = m.kind.is_applied();
        if *history && !applied {
            continue;
        }
        let parsed = sql::Source::parse(&m.sql);
        if !*history {
            findings.extend(lint::lint_file_name(m, &discovered.migrations, levels));
            findings.extend(lint::lint_parsed(
                &m.file_name,
                &m.sql,
                parsed.as_ref(),
                !m.no_transaction,
                levels,
            ));
        }
        if applied {
            match &parsed {
                Some(source) => replayer.parsed(&m.file_name, source),
                None => replayer.file(&m.file_name, &m.sql),
            }
        }
    }
    project.schema = Some(replayer.finish());
    for skipped in &discovered.skipped {
        findings.extend(lint::lint_skipped_file(skipped, levels));
    }
    for f in &findings {
        let message = format!(
            "migration {dir_name}/{}:{}: {}[{}]: {}",
            f.file,
            f.line,
            f.level.as_str(),
            f.rule,
            f.message
        );
        match f.level {
            LintLevel::Deny => project.error(Source::Lint, message),
            _ => project.warning(Source::Lint, message),
        }
    }
    project.findings = findings;
    project.migrations = discovered.migrations;
    project.history = history;
    project
}

/// A path from `pgready.toml`, resolved against the folder that holds it.
pub fn resolve(root: &Path, relative: &str) -> PathBuf {
    let path = Path::new(relative);
    if path.is_absolute() || root == Path::new(".") {
        path.to_path_buf()
    } else {
        root.join(path)
    }
}

/// sqlx.toml's `[migrate]` settings that change what is applied or recorded must agree with
/// `pgready.toml`: pgready applies what sqlx would, into the same table, with the same
/// checksums.
fn check_sqlx_toml(
    project: &mut Project,
    path: &Path,
    cfg: &config::Migrations,
    config_name: &str,
) {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            project.error(Source::SqlxToml, format!("cannot read `{SQLX_TOML}`: {e}"));
            return;
        }
    };
    let sqlx = match SqlxToml::parse(&text) {
        Ok(sqlx) => sqlx,
        Err(e) => {
            project.error(Source::SqlxToml, format!("{SQLX_TOML}: {e}"));
            return;
        }
    };
    let mut disagree = |sqlx_key: &str, sqlx_value: String, key: &str, ours: String| {
        project.error(
            Source::SqlxToml,
            format!(
                "{SQLX_TOML}: `migrate.{sqlx_key}` is {sqlx_value} but `{config_name}` has \
             `[migrations] {key}` = {ours}: pgready must apply and record migrations as sqlx \
             does, so set `{key} = {sqlx_value}` in `[migrations]` (`pgready init` does)"
            ),
        );
    };
    if let Some(table) = &sqlx.table_name
        && table != &cfg.table
    {
        disagree(
            "table-name",
            format!("{table:?}"),
            "table",
            format!("{:?}", cfg.table),
        );
    }
    if let Some(dir) = &sqlx.migrations_dir
        && Path::new(dir) != Path::new(&cfg.dir)
    {
        disagree(
            "migrations-dir",
            format!("{dir:?}"),
            "dir",
            format!("{:?}", cfg.dir),
        );
    }
    let ours: BTreeSet<&String> = cfg.create_schemas.iter().collect();
    if sqlx.create_schemas.iter().collect::<BTreeSet<_>>() != ours {
        disagree(
            "create-schemas",
            format!("{:?}", sqlx.create_schemas),
            "create_schemas",
            format!("{:?}", cfg.create_schemas),
        );
    }
    if sqlx.ignored_chars != cfg.ignored_chars {
        disagree(
            "ignored-chars",
            chars_list(&sqlx.ignored_chars),
            "ignored_chars",
            chars_list(&cfg.ignored_chars),
        );
    }
}

/// `["\r", " "]`, as TOML writes it.
pub fn chars_list(chars: &BTreeSet<char>) -> String {
    let items: Vec<String> = chars
        .iter()
        .map(|c| format!("\"{}\"", c.escape_default()))
        .collect();
    format!("[{}]", items.join(", "))
}

/// The ledger, when the project keeps one and the file exists; its problems (a released file
/// edited or deleted, a line that does not parse) are errors.
fn read_ledger(
    project: &mut Project,
    root: &Path,
    cfg: &config::Migrations,
    found: &[Migration],
) -> Option<Ledger> {
    let name = cfg.ledger.as_ref()?;
    let path = resolve(root, name);
    if !path.is_file() {
        return None;
    }
    project.ledger_path = Some(path.clone());
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            project.error(
                Source::Ledger,
                format!("cannot read the release ledger `{name}`: {e}"),
            );
            return None;
        }
    };
    match Ledger::parse(name, &text) {
        Ok(ledger) => {
            let dir = project.migrations_dir_name.clone();
            for e in ledger.check(name, found) {
                project.error(Source::Ledger, format!("migration {}", in_dir(&dir, &e)));
            }
            Some(ledger)
        }
        Err(errors) => {
            for e in &errors {
                project.error(Source::Ledger, e.to_string());
            }
            None
        }
    }
}

/// `dir/file:line: message`.
fn in_dir(dir: &str, e: &MigrationError) -> String {
    format!("{dir}/{e}")
}

/// `line:column: `key`: message`, after the file name, as rustc prints positions.
fn located(d: &Diagnostic) -> String {
    let position = if d.line == 0 {
        " ".to_owned()
    } else {
        format!("{}:{}: ", d.line, d.column)
    };
    let key = if d.key.is_empty() {
        String::new()
    } else {
        format!("`{}`: ", d.key)
    };
    format!("{position}{key}{}", d.message)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A project folder with `pgready.toml` = `config` and `files` (path → text), removed on
    /// drop.
    struct Folder(PathBuf);

    impl Folder {
        fn new(label: &str, config: &str, files: &[(&str, &str)]) -> Folder {
            let dir = std::env::temp_dir()
                .join(format!("pgready-project-{label}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(dir.join("migrations")).unwrap();
            std::fs::write(dir.join("pgready.toml"), config).unwrap();
            for (path, text) in files {
                let path = dir.join(path);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, text).unwrap();
            }
            Folder(dir)
        }

        fn check(&self) -> Project {
            check(&Input {
                config: &self.0.join("pgready.toml"),
                config_name: "pgready.toml",
                crate_name: "app",
                missing_config_is_default: false,
                always_read_migrations: false,
                dir_override: None,
            })
        }
    }

    impl Drop for Folder {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn messages(p: &Project, severity: Severity) -> Vec<String> {
        p.problems
            .iter()
            .filter(|x| x.severity == severity)
            .map(|x| x.message.clone())
            .collect()
    }

    const UNSAFE: &str = "CREATE INDEX IF NOT EXISTS items_name ON items (name);\n";

    #[test]
    fn released_migrations_are_history_and_new_ones_are_linted() {
        let old = migrations::checksum(UNSAFE.as_bytes());
        let hex: String = old.iter().map(|b| format!("{b:02x}")).collect();
        let folder = Folder::new(
            "history",
            "",
            &[
                ("migrations/1_index.sql", UNSAFE),
                ("migrations/2_index.sql", UNSAFE),
                ("migrations.lock", &format!("1_index.sql sha384:{hex}\n")),
            ],
        );
        let p = folder.check();
        assert_eq!(p.history, [true, false]);
        let warnings = messages(&p, Severity::Warning);
        assert_eq!(warnings.len(), 1, "{warnings:#?}");
        assert!(
            warnings[0].starts_with(
                "migration migrations/2_index.sql:1: warn[require-concurrent-index-creation]"
            ),
            "{warnings:#?}"
        );
        assert!(!p.has_errors());
    }

    #[test]
    fn lint_after_makes_history_without_a_ledger() {
        let folder = Folder::new(
            "lint-after",
            "[migrations]\nlint_after = 1\n",
            &[
                ("migrations/1_index.sql", UNSAFE),
                ("migrations/2_index.sql", UNSAFE),
            ],
        );
        let p = folder.check();
        assert_eq!(p.history, [true, false]);
        assert_eq!(p.history_count(), 1);
        assert_eq!(messages(&p, Severity::Warning).len(), 1);
    }

    #[test]
    fn an_edited_released_migration_is_an_error_even_as_history() {
        let folder = Folder::new(
            "edited",
            "",
            &[
                ("migrations/1_index.sql", UNSAFE),
                (
                    "migrations.lock",
                    &format!("1_index.sql sha384:{}\n", "00".repeat(48)),
                ),
            ],
        );
        let p = folder.check();
        let errors = messages(&p, Severity::Error);
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert!(
            errors[0].contains("released migration was edited"),
            "{errors:#?}"
        );
        assert_eq!(p.problems[0].source, Source::Ledger);
    }

    #[test]
    fn paths_start_at_the_folder_of_pgready_toml() {
        let folder = Folder::new(
            "paths",
            "",
            &[
                (
                    "config/pgready.toml",
                    "[migrations]\ndir = \"../migrations\"\n",
                ),
                ("migrations/1_a.sql", "SELECT 1;\n"),
            ],
        );
        let p = check(&Input {
            config: &folder.0.join("config/pgready.toml"),
            config_name: "config/pgready.toml",
            crate_name: "app",
            missing_config_is_default: false,
            always_read_migrations: false,
            dir_override: None,
        });
        assert_eq!(p.migrations.len(), 1, "{:#?}", p.problems);
        assert_eq!(p.migrations_dir, folder.0.join("config/../migrations"));
    }

    #[test]
    fn a_profile_that_applies_migrations_gets_them_read() {
        let folder = Folder::new(
            "profile",
            "[migrations]\non_startup = \"off\"\n[profiles.production.migrations]\non_startup = \"verify\"\n",
            &[("migrations/1_a.sql", "SELECT 1;\n")],
        );
        let p = folder.check();
        assert!(p.uses_migrations);
        assert_eq!(p.migrations.len(), 1);
        let off = Folder::new(
            "off",
            "[migrations]\non_startup = \"off\"\n",
            &[("migrations/1_a.sql", "SELECT 1;\n")],
        );
        let p = off.check();
        assert!(!p.uses_migrations);
        assert!(
            p.migrations.is_empty(),
            "not read at all when nothing uses them"
        );
    }

    #[test]
    fn sqlx_toml_must_agree_with_pgready_toml() {
        let folder = Folder::new(
            "sqlx",
            "[migrations]\nignored_chars = [\"\\r\"]\n",
            &[
                (
                    "sqlx.toml",
                    "[migrate]\ntable-name = \"app_migrations\"\nignored-chars = [\"\\r\"]\n",
                ),
                ("migrations/1_a.sql", "SELECT 1;\r\n"),
            ],
        );
        let p = folder.check();
        let errors = messages(&p, Severity::Error);
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert!(
            errors[0].contains("`migrate.table-name` is \"app_migrations\"")
                && errors[0].contains("set `table = \"app_migrations\"`"),
            "{errors:#?}"
        );
        // the ignored characters agree, and the checksum leaves them out as sqlx does
        let agreed = Folder::new(
            "sqlx-ok",
            "[migrations]\nignored_chars = [\"\\r\"]\ntable = \"app_migrations\"\n",
            &[
                (
                    "sqlx.toml",
                    "[migrate]\ntable-name = \"app_migrations\"\nignored-chars = [\"\\r\"]\n",
                ),
                ("migrations/1_a.sql", "SELECT 1;\r\n"),
            ],
        );
        let p = agreed.check();
        assert!(!p.has_errors(), "{:#?}", p.problems);
        assert_eq!(
            p.migrations[0].checksum,
            migrations::checksum(b"SELECT 1;\n")
        );
    }
}
