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

/// One `#[tokio::test]` per fixture, each calling `$check(name).await`, and a test that the list
/// covers every fixture in [`NAMES`]: the list is written here once for every test file.
///
/// ```ignore
/// pgready_tests::for_each_history!(sqlx_and_pgready_write_the_same_history);
/// ```
#[macro_export]
macro_rules! for_each_history {
    ($check:path) => {
        $crate::for_each_history!(@tests $check;
            version_zero: "version-zero",
            signed_versions: "signed-versions",
            dots_and_spaces: "dots-and-spaces",
            up_without_down: "up-without-down",
            wide_versions: "wide-versions",
            no_trailing_newline: "no-trailing-newline",
            mixed_simple_and_reversible: "mixed-simple-and-reversible",
            readme_and_notes: "readme-and-notes",
            explicit_begin_commit: "explicit-begin-commit",
            no_transaction: "no-transaction",
            ignored_chars: "ignored-chars",
            long_history: "long-history",
        );
    };
    (@tests $check:path; $($test:ident: $name:literal,)*) => {
        $(
            #[tokio::test]
            async fn $test() {
                $check($name).await;
            }
        )*

        #[test]
        fn every_fixture_is_checked() {
            let mut tested = vec![$($name),*];
            tested.sort_unstable();
            let mut all = $crate::sqlx_histories::NAMES.to_vec();
            all.sort_unstable();
            assert_eq!(tested, all);
        }
    };
}
