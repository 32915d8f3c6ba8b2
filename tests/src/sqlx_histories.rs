//! `tests/fixtures/sqlx-histories/<name>/`: migration folders that sqlx 0.9 accepts, each with
//! one irregularity real projects have (version 0, dots in descriptions, CRLF files, …), and
//! the tools to apply them with sqlx itself.

use std::path::PathBuf;

use pgready_core::migrations::{Resolve, SqlxToml};
use sqlx::migrate::{Migrator, ResolveConfig, ResolveWith};

/// Every fixture; a test checks that this list and the folder agree.
pub const NAMES: &[&str] = &[
    "version-zero",
    "signed-versions",
    "dots-and-spaces",
    "up-without-down",
    "wide-versions",
    "no-trailing-newline",
    "mixed-simple-and-reversible",
    "readme-and-notes",
    "explicit-begin-commit",
    "no-transaction",
    "ignored-chars",
    "long-history",
];

/// The folder holding every fixture.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/sqlx-histories")
}

/// One fixture: its migrations folder and the `sqlx.toml` beside them (the defaults without one).
#[derive(Clone, Debug)]
pub struct History {
    /// The fixture's name, e.g. `version-zero`.
    pub name: &'static str,
    /// The migrations folder.
    pub dir: PathBuf,
    /// `sqlx.toml` in the folder (sqlx skips it: no `_` in the name).
    pub sqlx_toml: SqlxToml,
}

impl History {
    /// Loads the fixture `name`.
    pub fn load(name: &'static str) -> History {
        let dir = root().join(name);
        assert!(dir.is_dir(), "no fixture {}", dir.display());
        let sqlx_toml = match std::fs::read_to_string(dir.join("sqlx.toml")) {
            Ok(text) => SqlxToml::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}")),
            Err(_) => SqlxToml::default(),
        };
        assert_eq!(
            (&sqlx_toml.table_name, &sqlx_toml.create_schemas[..]),
            (&None, &[][..]),
            "{name}: the comparison tests use sqlx's default table"
        );
        History {
            name,
            dir,
            sqlx_toml,
        }
    }

    /// pgready's resolve options, from `sqlx.toml`.
    pub fn resolve(&self) -> Resolve {
        self.sqlx_toml.resolve()
    }

    /// sqlx's resolve options, from the same `sqlx.toml`.
    pub fn resolve_config(&self) -> ResolveConfig {
        let mut config = ResolveConfig::new();
        config.ignore_chars(self.sqlx_toml.ignored_chars.iter().copied());
        config
    }

    /// sqlx's own migrator for the folder, as `sqlx migrate run` builds it.
    pub async fn sqlx_migrator(&self) -> Migrator {
        Migrator::new(ResolveWith(self.dir.clone(), self.resolve_config()))
            .await
            .unwrap_or_else(|e| panic!("{}: sqlx cannot resolve the fixture: {e}", self.name))
    }
}
