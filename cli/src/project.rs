//! The project a command works on: `pgready.toml` (or the defaults), the profile in effect, and
//! the paths and DSN it names.

use std::path::{Path, PathBuf};

use pgready_core::config::{self, Config};

use crate::failure::Failure;

/// The configuration file used when `--config` is not given.
pub const DEFAULT_CONFIG: &str = "pgready.toml";

/// The name `pgready.toml` is parsed for: it becomes the default `session.application_name`,
/// so the CLI's connections show up as `pgready` in `pg_stat_activity`.
const APPLICATION: &str = "pgready";

/// The configuration in effect and where its relative paths start.
#[derive(Debug)]
pub struct Project {
    /// The configuration of the profile chosen by `PGREADY_PROFILE`.
    pub config: Config,
    /// The directory of the configuration file; relative paths in it start here.
    pub root: PathBuf,
}

impl Project {
    /// Loads `--config PATH`, or `./pgready.toml` when it is not given.
    ///
    /// A missing `./pgready.toml` means every setting takes its default; a missing file named
    /// with `--config` is an error, since it is most likely a typo.
    pub fn load(explicit: Option<&Path>) -> Result<Project, Failure> {
        let path = explicit.unwrap_or(Path::new(DEFAULT_CONFIG));
        let source = match std::fs::read_to_string(path) {
            Ok(source) => source,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && explicit.is_none() => {
                String::new()
            }
            Err(e) => {
                return Err(Failure::Error(format!(
                    "cannot read `{}`: {e}",
                    path.display()
                )));
            }
        };
        let parsed = config::parse(&source, APPLICATION).map_err(|diagnostics| {
            for d in &diagnostics {
                eprintln!("error: {}: {d}", path.display());
            }
            Failure::Reported
        })?;
        for warning in &parsed.warnings {
            eprintln!("warning: {}: {warning}", path.display());
        }
        let profile =
            env(config::PROFILE_ENV).unwrap_or_else(|| config::DEFAULT_PROFILE.to_owned());
        let config = parsed
            .file
            .profile(&profile)
            .map_err(|d| Failure::Error(format!("{}: {d}", path.display())))?;
        let root = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Ok(Project { config, root })
    }

    /// `[migrations] dir`, relative to the configuration file.
    pub fn migrations_dir(&self) -> PathBuf {
        self.resolve(&self.config.migrations.dir)
    }

    /// `[migrations] ledger`, relative to the configuration file; `None` when `ledger = false`.
    pub fn ledger(&self) -> Option<PathBuf> {
        self.config
            .migrations
            .ledger
            .as_deref()
            .map(|l| self.resolve(l))
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

    fn resolve(&self, relative: &str) -> PathBuf {
        let path = Path::new(relative);
        if path.is_absolute() || self.root == Path::new(".") {
            path.to_path_buf()
        } else {
            self.root.join(path)
        }
    }
}

/// An environment variable; empty counts as unset, as at the service's start-up.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}
