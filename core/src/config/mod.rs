//! `pgready.toml`: parsing and validation, shared by the macros (compile time) and the runtime
//! (start-up), so both accept exactly the same files.
//!
//! [`parse`] reads the file, checks every section, key and value, builds the base configuration
//! and every `[profiles.<name>]` configuration, and validates each of them. Every problem found
//! is a [`Diagnostic`] naming the TOML key and its line; all of them are reported together.
//!
//! ```
//! use pgready_core::config;
//!
//! let source = r#"
//! [pool]
//! max_connections = 30
//!
//! [profiles.production.pool]
//! max_connections = 50
//! "#;
//! let parsed = config::parse(source, "my-service").map_err(|errors| errors.len());
//! let production = parsed.and_then(|p| p.file.profile("production").map_err(|_| 1));
//! assert_eq!(production.map(|c| c.pool.max_connections), Ok(50));
//! ```

mod backup;
mod database;
mod diagnostic;
mod health;
mod ident;
mod layer;
mod migrations;
mod pool;
mod profile;
mod resolve;
mod schema;
mod secrets;
mod session;
mod shutdown;

use toml::de::DeTable;

pub use backup::{Backup, Compression};
pub use database::{DEFAULT_RESERVED_CONNECTIONS, Database, Embedded, ReadFallback};
pub use diagnostic::{Diagnostic, Severity};
pub use health::Health;
pub use migrations::{Migrations, OnStartup, OutOfOrder};
pub use pool::Pool;
pub use profile::{BUILT_IN_PROFILES, ConfigFile};
pub use session::{RoleSetting, Session};
pub use shutdown::Shutdown;

use diagnostic::LineIndex;
use layer::Reader;
use resolve::{Checker, Resolved};
use schema::Section;

/// The profile used when `PGREADY_PROFILE` is not set.
pub const DEFAULT_PROFILE: &str = "development";

/// The environment variable that chooses the profile at run time.
pub const PROFILE_ENV: &str = "PGREADY_PROFILE";

/// A successfully parsed `pgready.toml`: the validated configurations and the warnings (e.g.
/// session settings with `pgbouncer = true`) that do not refuse the file.
#[derive(Clone, Debug, PartialEq)]
pub struct Parsed {
    /// the base configuration and every profile's, all validated
    pub file: ConfigFile,
    /// problems that do not refuse the file, sorted by line
    pub warnings: Vec<Diagnostic>,
}

/// The configuration in effect for one profile.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// `[database]`
    pub database: Database,
    /// `[pool]`: the write pool
    pub pool: Pool,
    /// `[read_pool]`: the replica pool
    pub read_pool: Pool,
    /// `[session]`
    pub session: Session,
    /// `[migrations]`
    pub migrations: Migrations,
    /// `[health]`
    pub health: Health,
    /// `[shutdown]`
    pub shutdown: Shutdown,
    /// `[backup]`: the operations CLI's backups
    pub backup: Backup,
}

impl Config {
    /// The configuration of an empty `pgready.toml` for the crate `crate_name` (which becomes
    /// `session.application_name`).
    pub fn defaults(crate_name: &str) -> Config {
        Config {
            database: Database::default(),
            pool: Pool::write_defaults(),
            read_pool: Pool::read_defaults(),
            session: Session::defaults(crate_name),
            migrations: Migrations::default(),
            health: Health::default(),
            shutdown: Shutdown::default(),
            backup: Backup::default(),
        }
    }

    /// Builds the configuration in effect for `resolved` and runs every rule on it.
    fn resolve(
        resolved: &Resolved<'_>,
        crate_name: &str,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Config {
        let config = Config {
            database: Database::build(resolved),
            pool: Pool::build(resolved, Section::Pool),
            read_pool: Pool::build(resolved, Section::ReadPool),
            session: Session::build(resolved, crate_name),
            migrations: Migrations::build(resolved),
            health: Health::build(resolved),
            shutdown: Shutdown::build(resolved),
            backup: Backup::build(resolved),
        };
        let mut checker = Checker {
            resolved,
            diagnostics,
        };
        config.database.validate(&mut checker);
        config.pool.validate(Section::Pool, &mut checker);
        config.read_pool.validate(Section::ReadPool, &mut checker);
        pool::validate_budget(
            config.database.connection_limit(),
            config.database.server_max_connections,
            &config.pool,
            &config.read_pool,
            &mut checker,
        );
        config.session.validate(&mut checker);
        config.migrations.validate(&mut checker);
        config.health.validate(&mut checker);
        config.shutdown.validate(&mut checker);
        config.backup.validate(&mut checker);
        config
    }
}

/// Parses and validates the text of `pgready.toml` for the crate `crate_name` (the default
/// `session.application_name`).
///
/// On success, every profile's configuration is valid and [`Parsed::warnings`] holds what is
/// worth a warning. On failure, the list holds every error found (never warnings), sorted by
/// line; a TOML syntax error is reported alone, with toml's message and position.
pub fn parse(source: &str, crate_name: &str) -> Result<Parsed, Vec<Diagnostic>> {
    let index = LineIndex::new(source);
    let document = DeTable::parse(source).map_err(|e| vec![syntax_error(&e, &index)])?;
    let document = document.get_ref();
    let mut diagnostics = Vec::new();
    secrets::scan(document, &index, &mut diagnostics);

    let mut reader = Reader {
        index: &index,
        diagnostics: &mut diagnostics,
    };
    let base_layer = reader.read(document, None);
    let profile_layers = profile::read(document, &mut reader);

    let base_view = Resolved {
        base: &base_layer,
        profile: None,
    };
    let base = Config::resolve(&base_view, crate_name, &mut diagnostics);
    let mut profiles = std::collections::BTreeMap::new();
    for (name, layer) in &profile_layers {
        let view = Resolved {
            base: &base_layer,
            profile: Some((name, layer)),
        };
        let config = Config::resolve(&view, crate_name, &mut diagnostics);
        profiles.insert(name.clone(), config);
    }

    diagnostic::tidy(&mut diagnostics);
    let (errors, warnings): (Vec<_>, Vec<_>) =
        diagnostics.into_iter().partition(Diagnostic::is_error);
    if errors.is_empty() {
        Ok(Parsed {
            file: ConfigFile { base, profiles },
            warnings,
        })
    } else {
        Err(errors)
    }
}

fn syntax_error(error: &toml::de::Error, index: &LineIndex<'_>) -> Diagnostic {
    let (line, column) = error
        .span()
        .map_or((0, 0), |span| index.position(span.start));
    let message = error.message().trim_end().trim_end_matches('.');
    Diagnostic::error("", line, column, format!("invalid TOML: {message}"))
}

#[cfg(test)]
pub(crate) mod testing {
    //! Shorthands for the tests of every section.

    use super::{Config, ConfigFile, Diagnostic, Parsed};

    pub(crate) const CRATE: &str = "my-service";

    pub(crate) fn parse(source: &str) -> Result<Parsed, Vec<Diagnostic>> {
        super::parse(source, CRATE)
    }

    /// The file, which must be valid.
    pub(crate) fn file(source: &str) -> ConfigFile {
        match parse(source) {
            Ok(parsed) => parsed.file,
            Err(errors) => panic!("expected a valid file, got {errors:#?}"),
        }
    }

    /// The base configuration of a valid file.
    pub(crate) fn parse_ok(source: &str) -> Config {
        file(source).base
    }

    /// The errors of an invalid file (empty when the file is valid).
    pub(crate) fn errors(source: &str) -> Vec<Diagnostic> {
        parse(source).err().unwrap_or_default()
    }

    /// The single error of a file that has exactly one.
    pub(crate) fn only_error(source: &str) -> Diagnostic {
        let mut all = errors(source);
        assert_eq!(all.len(), 1, "expected exactly one error, got {all:#?}");
        all.remove(0)
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{CRATE, errors, file, only_error, parse};
    use super::*;

    /// The sample file of the design document, with the keys this version reads, each at its
    /// default value.
    const DESIGN_SAMPLE: &str = r#"
[database]
url_env = "DATABASE_URL"            # env var holding the primary DSN; a literal DSN is refused
read_url_env = "DATABASE_READ_URL"  # optional replica DSN; unset at run time → reads use the primary
require_tls = false                 # true: refuse a DSN whose sslmode is not require/verify-*
connect_retry = "30s"               # keep retrying a refused connection this long at start-up
embedded = "auto"                   # auto: no DSN and profile != production → throw-away local cluster
pgbouncer = false                   # true: statement cache off; session settings must live on the role
migrations_url_env = "DATABASE_MIGRATIONS_URL"  # optional direct DSN for migrations (required behind a transaction pooler)
read_fallback = "primary"           # replica down or lagging: primary | error

[pool]                              # write pool
max_connections = 20
min_connections = 5
acquire_timeout = "10s"
idle_timeout = "10m"
max_lifetime = "30m"
test_before_acquire = true          # validates only connections idle longer than validation_bypass
validation_bypass = "500ms"

[read_pool]                         # same keys; default max_connections 40

[session]                           # applied on every new physical connection
statement_timeout = "30s"
lock_timeout = "5s"
idle_in_transaction_timeout = "60s"
application_name = "my-service"     # ≤ 63 bytes
time_zone = "UTC"
schema = "public"                   # search_path; created if absent; plain identifier only

[migrations]
dir = "migrations"                  # relative to the crate
on_startup = "apply"                # apply | verify (refuse to start if pending) | off
out_of_order = "error"              # error | apply: a pending version older than the newest applied
table = "_sqlx_migrations"          # sqlx-compatible by default
ledger = "migrations.lock"          # optional release ledger, checked at compile time
statement_timeout = "0"             # migrations run on their own connection with their own limits
lock_timeout = "5s"
[migrations.lints]                  # rule = "deny" | "warn" | "allow"

[health]
timeout = "2s"                      # a probe never waits longer
cache = "1s"                        # concurrent and repeated probes share one result
max_replica_lag = "60s"             # above: warn
pool_saturation_warn = 0.9

[shutdown]
drain = "5s"                        # readiness 503 before the server stops accepting
grace = "30s"                       # bound on in-flight work and pool close

[backup]
dir = "backups"                     # relative to pgready.toml
compression = "gzip"                # gzip | zstd | lz4 (pg_dump 16+) | none
keep = 30                           # backups kept by `backup prune` (also `keep_days`)

[profiles.production.pool]          # a profile overrides any section; chosen at run time by
max_connections = 50                # PGREADY_PROFILE (default "development"); all validated at compile time
"#;

    #[test]
    fn design_sample_spells_out_the_defaults() {
        let f = file(DESIGN_SAMPLE);
        let defaults = Config::defaults(CRATE);
        assert_eq!(f.base(), &defaults);
        assert_eq!(f.profile(DEFAULT_PROFILE), Ok(defaults.clone()));
        let mut production = defaults;
        production.pool.max_connections = 50;
        assert_eq!(f.profile("production"), Ok(production));
        // and an empty file gives exactly the same base
        assert_eq!(file("").base(), f.base());
    }

    #[test]
    fn syntax_errors_carry_toml_message_and_position() {
        let all = errors("[pool]\nmax_connections = \n");
        assert_eq!(all.len(), 1, "{all:?}");
        assert_eq!(
            (all[0].key.as_str(), all[0].line, all[0].column),
            ("", 2, 19)
        );
        assert!(all[0].message.starts_with("invalid TOML: "), "{}", all[0]);
        let d = only_error("[pool]\nmax_connections = 1\n[pool]\n");
        assert_eq!(d.line, 3);
        assert!(d.message.contains("duplicate key"), "{d}");
    }

    #[test]
    fn unknown_sections_and_keys() {
        let all = errors(
            "url_env = \"X\"\n[pools]\nmax = 1\n[pool]\nmax_conections = 3\nstatement_timeout = \"1s\"\n\
             [weird]\n[health]\nfoo = 1\n[pool.extra]\n",
        );
        let found: Vec<(&str, usize, usize)> = all
            .iter()
            .map(|d| (d.key.as_str(), d.line, d.column))
            .collect();
        assert_eq!(
            found,
            [
                ("url_env", 1, 1),
                ("pools", 2, 2),
                ("pool.max_conections", 5, 1),
                ("pool.statement_timeout", 6, 1),
                ("weird", 7, 2),
                ("health.foo", 9, 1),
                ("pool.extra", 10, 7),
            ]
        );
        assert!(
            all[0]
                .message
                .contains("`url_env` is a key of `[database]`"),
            "{}",
            all[0]
        );
        assert!(
            all[1].message.contains("did you mean `[pool]`?"),
            "{}",
            all[1]
        );
        assert!(
            all[2].message.contains("did you mean `max_connections`?"),
            "{}",
            all[2]
        );
        assert!(
            all[3].message.contains("belongs in `[session]`"),
            "{}",
            all[3]
        );
        assert!(
            all[4].message.contains("expected `[database]`, `[pool]`"),
            "{}",
            all[4]
        );
        assert!(
            all[5].message.ends_with(
                "expected `timeout`, `cache`, `max_replica_lag` or `pool_saturation_warn`"
            ),
            "{}",
            all[5]
        );
        assert!(
            all[6]
                .message
                .starts_with("unknown key `extra` in `[pool]`"),
            "{}",
            all[6]
        );
    }

    #[test]
    fn wrong_types_name_the_expected_type() {
        let all = errors(
            "[database]\nrequire_tls = \"yes\"\nurl_env = 3\n[pool]\nmax_connections = 2.5\n\
             [session]\nschema = [\"a\"]\n[health]\ncache = 1\n",
        );
        let messages: Vec<&str> = all.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "expected a boolean (`true` or `false`), found string",
                "expected a string, found integer",
                "expected a non-negative integer, found float",
                "expected a string, found array",
                "expected a duration string such as `\"30s\"`, `\"10m\"` or `\"500ms\"`, found integer",
            ]
        );
    }

    #[test]
    fn independent_problems_are_reported_together() {
        let all = errors(
            "[pool]\nmax_connections = 0\n[session]\nschema = \"Bad\"\n[health]\ntimeout = \"0\"\n\
             [migrations]\non_startup = \"now\"\n",
        );
        let keys: Vec<&str> = all.iter().map(|d| d.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "pool.max_connections",
                "session.schema",
                "health.timeout",
                "migrations.on_startup"
            ]
        );
        assert!(all.iter().all(Diagnostic::is_error));
    }

    #[test]
    fn display_names_key_and_line() {
        let d = only_error("\n[pool]\nmax_connections = 0\n");
        assert_eq!(
            d.to_string(),
            "line 3, column 1: `pool.max_connections`: must be at least 1"
        );
    }

    #[test]
    fn messages_are_lowercase_without_trailing_period() {
        let all = errors(
            "x = 1\n[pool]\nmax_connections = 0\nacquire_timeout = \"0\"\nidle_timeout = \"x\"\n\
             [database]\nurl_env = \"postgres://a:b@c\"\nserver_max_connections = 0\n\
             [session]\nlock_timeout = \"1h\"\nschema = \"A\"\ntime_zone = \"'\"\n\
             application_name = \"é\"\n[migrations]\ntable = \"a.b.c\"\ndir = \"\"\n\
             [health]\ntimeout = \"0\"\npool_saturation_warn = 3\n[migrations.lints]\nX = \"deny\"\n",
        );
        assert!(all.len() >= 14, "{all:#?}");
        for d in &all {
            let first = d.message.chars().next().unwrap_or('x');
            assert!(!first.is_uppercase(), "{d}");
            assert!(!d.message.ends_with('.'), "{d}");
        }
    }

    #[test]
    fn values_with_passwords_are_never_quoted() {
        let all = errors(
            "[session]\nschema = \"postgres://u:hunter2@h/db\"\n[migrations]\n\
             on_startup = \"host=h password=hunter2\"\n",
        );
        assert!(all.len() >= 4, "{all:#?}");
        for d in &all {
            assert!(!d.to_string().contains("hunter2"), "{d}");
        }
    }

    /// A word key maps each of its enum's words to the value that word names, and no other:
    /// the schema's word list and the enum the section builds are the same `VALID`.
    #[test]
    fn every_word_is_read_as_itself() {
        for word in OnStartup::VALID {
            let m = testing::parse_ok(&format!("[migrations]\non_startup = \"{word}\"\n"));
            assert_eq!(m.migrations.on_startup.as_str(), *word);
        }
        for word in OutOfOrder::VALID {
            let m = testing::parse_ok(&format!("[migrations]\nout_of_order = \"{word}\"\n"));
            assert_eq!(m.migrations.out_of_order.as_str(), *word);
        }
        for word in Embedded::VALID {
            let d = testing::parse_ok(&format!("[database]\nembedded = \"{word}\"\n"));
            assert_eq!(d.database.embedded.as_str(), *word);
        }
        for word in crate::lint::LintLevel::VALID {
            let l = testing::parse_ok(&format!("[migrations.lints]\ntruncate = \"{word}\"\n"));
            assert_eq!(l.migrations.lints["truncate"].as_str(), *word);
        }
    }

    #[test]
    fn an_unknown_word_lists_the_enums_words() {
        let d = only_error("[database]\nembedded = \"always\"\n");
        assert!(
            d.message.ends_with("expected `\"auto\"` or `\"never\"`"),
            "{d}"
        );
        let d = only_error("[migrations]\nout_of_order = \"ignore\"\n");
        assert!(
            d.message.ends_with("expected `\"error\"` or `\"apply\"`"),
            "{d}"
        );
    }

    #[test]
    fn warnings_do_not_refuse_the_file() {
        let parsed = parse("[database]\npgbouncer = true\n[session]\nlock_timeout = \"1s\"\n");
        assert_eq!(parsed.map(|p| p.warnings.len()), Ok(1));
    }
}
