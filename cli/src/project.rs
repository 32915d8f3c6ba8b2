//! The project a command works on: `pgready.toml` (or the defaults), the profile in effect, and
//! the paths and DSN it names.

use std::path::{Path, PathBuf};

use pgready_core::config::{self, Config, Severity};
use pgready_core::migrations::Migration;
use pgready_core::project::{self, Problem, Source};

use crate::failure::Failure;

/// The configuration file used when `--config` is not given.
pub const DEFAULT_CONFIG: &str = "pgready.toml";

/// The name `pgready.toml` is parsed for: it becomes the default `session.application_name`,
/// so the CLI's connections show up as `pgready` in `pg_stat_activity`.
const APPLICATION: &str = "pgready";

/// The configuration in effect, where its relative paths start, and the project check's
/// findings.
#[derive(Debug)]
pub struct Project {
    /// The configuration of the profile chosen by `PGREADY_PROFILE`.
    pub config: Config,
    /// The profile's name (`PGREADY_PROFILE`, default `development`).
    pub profile: String,
    /// The directory of the configuration file; relative paths in it start here.
    pub root: PathBuf,
    /// What `pgready_core::project::check` found: the same check `#[migrated_pool]` runs at
    /// compile time.
    pub checked: project::Project,
}

impl Project {
    /// Loads `--config PATH`, or `./pgready.toml` when it is not given, and checks the project
    /// (migrations from `dir_override` instead of `[migrations] dir` when given).
    ///
    /// A missing `./pgready.toml` means every setting takes its default; a missing file named
    /// with `--config` is an error, since it is most likely a typo. Problems with the
    /// configuration stop here; problems with the migrations are for each command to report.
    pub fn load(explicit: Option<&Path>, dir_override: Option<&Path>) -> Result<Project, Failure> {
        let path = explicit.unwrap_or(Path::new(DEFAULT_CONFIG));
        let name = path.display().to_string();
        let checked = project::check(&project::Input {
            config: path,
            config_name: &name,
            crate_name: APPLICATION,
            missing_config_is_default: explicit.is_none(),
            always_read_migrations: true,
            dir_override,
        });
        let Some(file) = &checked.file else {
            return Err(report_problems(&checked, |_| true));
        };
        for warning in checked.warnings().filter(|p| p.source == Source::Config) {
            eprintln!("warning: {}", warning.message);
        }
        let profile =
            env(config::PROFILE_ENV).unwrap_or_else(|| config::DEFAULT_PROFILE.to_owned());
        let config = file
            .profile(&profile)
            .map_err(|d| Failure::Error(format!("{name}: {d}")))?;
        Ok(Project {
            config,
            profile,
            root: checked.root.clone(),
            checked,
        })
    }

    /// The migrations, or every problem that stops a command from reading them (the
    /// configuration, `sqlx.toml`, a file sqlx cannot read, a duplicate version), printed.
    pub fn migrations(&self) -> Result<Vec<Migration>, Failure> {
        let stops = |p: &Problem| {
            p.severity == Severity::Error
                && matches!(
                    p.source,
                    Source::Config | Source::SqlxToml | Source::Discovery
                )
        };
        if self.checked.problems.iter().any(stops) {
            return Err(report_problems(&self.checked, stops));
        }
        Ok(self.checked.migrations.clone())
    }

    /// `[migrations] dir` (or the folder given on the command line), relative to the
    /// configuration file.
    pub fn migrations_dir(&self) -> PathBuf {
        self.checked.migrations_dir.clone()
    }

    /// `[migrations] ledger`, relative to the configuration file; `None` when `ledger = false`.
    pub fn ledger(&self) -> Option<PathBuf> {
        self.config
            .migrations
            .ledger
            .as_deref()
            .map(|l| project::resolve(&self.root, l))
    }

    /// The DSN from the variable named by `[database] url_env`.
    pub fn database_url(&self) -> Result<String, Failure> {
        let name = &self.config.database.url_env;
        match std::env::var(name) {
            Ok(url) if !url.is_empty() => Ok(url),
            Err(std::env::VarError::NotUnicode(_)) => Err(Failure::Error(format!(
                "`{name}` is not valid UTF-8: set it to the database's DSN"
            ))),
            _ => Err(Failure::Error(format!(
                "`{name}` is not set: set it to the database's DSN (e.g. \
                 `postgres://app@localhost/app`); `[database] url_env` names this variable"
            ))),
        }
    }

    /// The DSN migrations run over and the variable it came from, as the service's start-up
    /// picks them: `[database] migrations_url_env`'s variable when set (the direct DSN a
    /// transaction pooler needs), else `url_env`'s.
    pub fn migrations_url(&self) -> Result<(String, String), Failure> {
        let direct = self.config.database.migrations_url_env.as_ref();
        match direct.and_then(|name| env(name).map(|url| (name.clone(), url))) {
            Some(found) => Ok(found),
            None => Ok((self.config.database.url_env.clone(), self.database_url()?)),
        }
    }
}

/// An environment variable; empty counts as unset, as at the service's start-up.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Prints the errors among `checked`'s problems that `which` selects, as `error: …` lines.
fn report_problems(checked: &project::Project, which: impl Fn(&Problem) -> bool) -> Failure {
    for p in checked
        .problems
        .iter()
        .filter(|p| p.severity == Severity::Error && which(p))
    {
        eprintln!("error: {}", p.message);
    }
    Failure::Reported
}
