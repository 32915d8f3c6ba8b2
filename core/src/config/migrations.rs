//! `[migrations]` and `[migrations.lints]`: where migrations live, what start-up does with them,
//! the limits they run under and how loud each lint is.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::ident;
use super::resolve::{Checker, KeyRef, Resolved};
use super::schema::Section;
use super::session::check_lock_within_statement;
use crate::duration::check_pg_timeout;
use crate::lint::LintLevel;
use crate::word::words;

/// `[migrations]`: discovery, start-up policy and limits of the migrations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Migrations {
    /// directory of the `.sql` files, relative to the crate (default `migrations`)
    pub dir: String,
    /// what start-up does with pending migrations (default `apply`)
    pub on_startup: OnStartup,
    /// what to do with a pending migration older than the newest applied one (default `error`)
    pub out_of_order: OutOfOrder,
    /// the sqlx-compatible migrations table, `table` or `schema.table` (default
    /// `_sqlx_migrations`)
    pub table: String,
    /// the release ledger checked at compile time (default `migrations.lock`); `None`
    /// (`ledger = false`) turns the check off
    pub ledger: Option<String>,
    /// `statement_timeout` on the migration connection (default 0: none)
    pub statement_timeout: Duration,
    /// `lock_timeout` on the migration connection (default 5s); never applied to waiting for
    /// the migration lock
    pub lock_timeout: Duration,
    /// versions up to this one are history (released before pgready was adopted): checked
    /// against the ledger, never linted (default: none); a migration recorded in the ledger is
    /// history whatever its version
    pub lint_after: Option<i64>,
    /// characters left out of checksums, as sqlx.toml's `migrate.ignored-chars` (default none)
    pub ignored_chars: BTreeSet<char>,
    /// schemas created (if absent) before the migrations table, as sqlx.toml's
    /// `migrate.create-schemas` (default none)
    pub create_schemas: Vec<String>,
    /// how long start-up (or `pgready migrate`) waits for another process's migration lock
    /// before giving up (default 10m; `"0"`: try once, do not wait)
    pub lock_wait: Duration,
    /// lint rule name (kebab-case) → level; rules not listed keep their built-in level
    pub lints: BTreeMap<String, LintLevel>,
}

words! {
    /// `migrations.on_startup`: what start-up does with migrations.
    pub enum OnStartup {
        /// apply pending migrations under the advisory lock
        Apply = "apply",
        /// refuse to start while migrations are pending
        Verify = "verify",
        /// do nothing (migrations are run by `pgready migrate` or another tool)
        Off = "off",
    }
}

words! {
    /// `migrations.out_of_order`: a pending migration whose version is older than the newest
    /// applied one (typically a branch merged late).
    pub enum OutOfOrder {
        /// refuse, naming both versions: it was never tested in this order
        Error = "error",
        /// apply it anyway, as sqlx does
        Apply = "apply",
    }
}

const DIR: KeyRef = (Section::Migrations, "dir");
const ON_STARTUP: KeyRef = (Section::Migrations, "on_startup");
const OUT_OF_ORDER: KeyRef = (Section::Migrations, "out_of_order");
const TABLE: KeyRef = (Section::Migrations, "table");
const LEDGER: KeyRef = (Section::Migrations, "ledger");
const STATEMENT_TIMEOUT: KeyRef = (Section::Migrations, "statement_timeout");
const LOCK_TIMEOUT: KeyRef = (Section::Migrations, "lock_timeout");
const LINT_AFTER: KeyRef = (Section::Migrations, "lint_after");
const IGNORED_CHARS: KeyRef = (Section::Migrations, "ignored_chars");
const CREATE_SCHEMAS: KeyRef = (Section::Migrations, "create_schemas");
const LOCK_WAIT: KeyRef = (Section::Migrations, "lock_wait");

impl Default for Migrations {
    fn default() -> Self {
        Migrations {
            dir: "migrations".to_owned(),
            on_startup: OnStartup::Apply,
            out_of_order: OutOfOrder::Error,
            table: "_sqlx_migrations".to_owned(),
            ledger: Some("migrations.lock".to_owned()),
            statement_timeout: Duration::ZERO,
            lock_timeout: Duration::from_secs(5),
            lint_after: None,
            ignored_chars: BTreeSet::new(),
            create_schemas: Vec::new(),
            lock_wait: Duration::from_secs(600),
            lints: BTreeMap::new(),
        }
    }
}

impl Migrations {
    pub(crate) fn build(r: &Resolved<'_>) -> Self {
        let d = Migrations::default();
        Migrations {
            dir: r.string(DIR, &d.dir),
            on_startup: r.word(ON_STARTUP).unwrap_or(d.on_startup),
            out_of_order: r.word(OUT_OF_ORDER).unwrap_or(d.out_of_order),
            table: r.string(TABLE, &d.table),
            ledger: match &d.ledger {
                Some(default) => r.opt_string(LEDGER, default),
                None => None,
            },
            statement_timeout: r.duration(STATEMENT_TIMEOUT, d.statement_timeout),
            lock_timeout: r.duration(LOCK_TIMEOUT, d.lock_timeout),
            lint_after: r
                .setting(LINT_AFTER)
                .is_some()
                .then(|| r.version(LINT_AFTER, 0)),
            ignored_chars: r.chars(IGNORED_CHARS),
            create_schemas: r.strings(CREATE_SCHEMAS),
            lock_wait: r.duration(LOCK_WAIT, d.lock_wait),
            lints: r
                .lints()
                .into_iter()
                .map(|(rule, (level, _))| (rule.to_owned(), level))
                .collect(),
        }
    }

    pub(crate) fn validate(&self, c: &mut Checker<'_>) {
        if self.dir.trim().is_empty() {
            c.check(
                DIR,
                Err(
                    "must not be empty: name the directory of the `.sql` files, such as \
                     `\"migrations\"`"
                        .to_owned(),
                ),
            );
        }
        c.check(TABLE, ident::check_table(&self.table));
        for schema in &self.create_schemas {
            c.check(CREATE_SCHEMAS, ident::check_schema(schema));
        }
        c.check(STATEMENT_TIMEOUT, check_pg_timeout(self.statement_timeout));
        c.check(LOCK_TIMEOUT, check_pg_timeout(self.lock_timeout));
        check_lock_within_statement(
            c,
            (STATEMENT_TIMEOUT, self.statement_timeout),
            (LOCK_TIMEOUT, self.lock_timeout),
        );
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::time::Duration;

    use super::{LintLevel, OnStartup};
    use crate::config::testing::{errors, file, only_error, parse_ok};

    #[test]
    fn defaults() {
        let m = parse_ok("").migrations;
        assert_eq!(m.dir, "migrations");
        assert_eq!(m.on_startup, OnStartup::Apply);
        assert_eq!(m.table, "_sqlx_migrations");
        assert_eq!(m.ledger.as_deref(), Some("migrations.lock"));
        assert_eq!(m.statement_timeout, Duration::ZERO);
        assert_eq!(m.lock_timeout, Duration::from_secs(5));
        assert_eq!(m.lock_wait, Duration::from_secs(600));
        assert!(m.lints.is_empty());
    }

    #[test]
    fn every_key_is_read() {
        let m = parse_ok(
            "[migrations]\ndir = \"db/migrations\"\non_startup = \"verify\"\n\
             table = \"ops.schema_history\"\nledger = false\nstatement_timeout = \"10m\"\n\
             lock_timeout = \"2s\"\nlock_wait = \"90s\"\n[migrations.lints]\nrequire-concurrent-index-creation = \"deny\"\n\
             renaming-column = \"allow\"\nmissing-lock-timeout = \"warn\"\n",
        )
        .migrations;
        assert_eq!(m.dir, "db/migrations");
        assert_eq!(m.on_startup, OnStartup::Verify);
        assert_eq!(m.table, "ops.schema_history");
        assert_eq!(m.ledger, None);
        assert_eq!(m.statement_timeout, Duration::from_secs(600));
        assert_eq!(m.lock_timeout, Duration::from_secs(2));
        assert_eq!(m.lock_wait, Duration::from_secs(90));
        let want = BTreeMap::from([
            ("missing-lock-timeout".to_owned(), LintLevel::Warn),
            (
                "require-concurrent-index-creation".to_owned(),
                LintLevel::Deny,
            ),
            ("renaming-column".to_owned(), LintLevel::Allow),
        ]);
        assert_eq!(m.lints, want);
        let off = parse_ok("[migrations]\non_startup = \"off\"\n").migrations;
        assert_eq!(off.on_startup, OnStartup::Off);
        assert_eq!(off.out_of_order, super::OutOfOrder::Error, "default");
        let apply = parse_ok("[migrations]\nout_of_order = \"apply\"\n").migrations;
        assert_eq!(apply.out_of_order, super::OutOfOrder::Apply);
    }

    #[test]
    fn history_and_checksum_keys() {
        let m = parse_ok(
            "[migrations]\nlint_after = 20240101000000\nignored_chars = [\"\\r\", \" \"]\n",
        )
        .migrations;
        assert_eq!(m.lint_after, Some(20240101000000));
        assert_eq!(m.ignored_chars, BTreeSet::from(['\r', ' ']));
        assert_eq!(parse_ok("").migrations.lint_after, None);
        let d = only_error("[migrations]\nignored_chars = [\"ab\"]\n");
        assert_eq!((d.key.as_str(), d.line), ("migrations.ignored_chars", 2));
        assert!(d.message.contains("one character"), "{d}");
        let m = parse_ok("[migrations]\ncreate_schemas = [\"audit\", \"billing\"]\n").migrations;
        assert_eq!(m.create_schemas, ["audit", "billing"]);
        let d = only_error("[migrations]\ncreate_schemas = [\"Audit Log\"]\n");
        assert_eq!(d.key, "migrations.create_schemas");
        let d = only_error("[migrations]\nlint_after = \"2024\"\n");
        assert!(d.message.contains("integer migration version"), "{d}");
    }

    #[test]
    fn build_time_keys_are_refused_in_profiles() {
        let all = errors(
            "[profiles.production.migrations]\ndir = \"prod\"\ntable = \"t\"\n\
             [profiles.production.migrations.lints]\ntruncate = \"deny\"\n",
        );
        let found: Vec<(&str, usize)> = all.iter().map(|d| (d.key.as_str(), d.line)).collect();
        assert_eq!(
            found,
            [
                ("profiles.production.migrations.dir", 2),
                ("profiles.production.migrations.lints", 4),
            ]
        );
        assert!(
            all[0].message.contains("cannot differ between profiles"),
            "{}",
            all[0]
        );
    }

    #[test]
    fn lock_wait_is_a_duration_that_profiles_override() {
        let f = file(
            "[migrations]\nlock_wait = \"30s\"\n[profiles.production.migrations]\n\
             lock_wait = \"1h\"\n",
        );
        assert_eq!(f.base().migrations.lock_wait, Duration::from_secs(30));
        let production = f.profile("production").expect("production profile");
        assert_eq!(production.migrations.lock_wait, Duration::from_secs(3600));
        assert_eq!(
            parse_ok("[migrations]\nlock_wait = \"0\"\n")
                .migrations
                .lock_wait,
            Duration::ZERO
        );
        let d = only_error("[migrations]\nlock_wiat = \"1m\"\n");
        assert_eq!((d.key.as_str(), d.line), ("migrations.lock_wiat", 2));
        assert!(d.message.contains("did you mean `lock_wait`?"), "{d}");
        let d = only_error("[profiles.production.migrations]\nlock_wait = 600\n");
        assert_eq!(
            (d.key.as_str(), d.line),
            ("profiles.production.migrations.lock_wait", 2)
        );
        assert!(d.message.contains("duration"), "{d}");
    }

    #[test]
    fn on_startup_lists_valid_values() {
        let d = only_error("[migrations]\non_startup = \"migrate\"\n");
        assert_eq!((d.key.as_str(), d.line), ("migrations.on_startup", 2));
        assert!(
            d.message
                .ends_with("expected `\"apply\"`, `\"verify\"` or `\"off\"`"),
            "{d}"
        );
    }

    #[test]
    fn table_is_an_optionally_qualified_identifier() {
        let d = only_error("[migrations]\ntable = \"a.b.c\"\n");
        assert_eq!((d.key.as_str(), d.line), ("migrations.table", 2));
        assert!(d.message.contains("write `table` or `schema.table`"), "{d}");
        only_error("[migrations]\ntable = \"Migrations\"\n");
    }

    #[test]
    fn dir_and_ledger_are_not_empty() {
        let d = only_error("[migrations]\ndir = \" \"\n");
        assert_eq!(d.key, "migrations.dir");
        let d = only_error("[migrations]\nledger = \"\"\n");
        assert_eq!(d.key, "migrations.ledger");
        assert!(d.message.contains("write `false` to turn it off"), "{d}");
    }

    #[test]
    fn lock_timeout_within_statement_timeout() {
        let d = only_error("[migrations]\nstatement_timeout = \"1s\"\n");
        assert_eq!(
            (d.key.as_str(), d.line),
            ("migrations.statement_timeout", 2)
        );
        assert!(
            d.message
                .contains("`lock_timeout` (5s) is longer than `statement_timeout` (1s)")
        );
        parse_ok("[migrations]\nstatement_timeout = \"1m\"\n");
    }

    #[test]
    fn lint_names_and_levels() {
        let all = errors(
            "[migrations.lints]\nNonConcurrentIndex = \"deny\"\nrenaming-column = \"error\"\n\
             dropping-table = true\n",
        );
        let found: Vec<(&str, usize)> = all.iter().map(|d| (d.key.as_str(), d.line)).collect();
        assert_eq!(
            found,
            [
                ("migrations.lints.NonConcurrentIndex", 2),
                ("migrations.lints.renaming-column", 3),
                ("migrations.lints.dropping-table", 4),
            ]
        );
        assert!(all[0].message.contains("kebab-case"), "{}", all[0]);
        assert!(
            all[1]
                .message
                .ends_with("expected `\"deny\"`, `\"warn\"` or `\"allow\"`"),
            "{}",
            all[1]
        );
        assert!(all[2].message.contains("found boolean"), "{}", all[2]);
        let d = only_error("[migrations.lints]\nrequire-concurent-index-creation = \"deny\"\n");
        assert_eq!(
            (d.key.as_str(), d.line),
            ("migrations.lints.require-concurent-index-creation", 2)
        );
        assert!(
            d.message.contains("unknown lint rule")
                && d.message
                    .contains("did you mean `require-concurrent-index-creation`?"),
            "{d}"
        );
        let d = only_error("[migrations]\nlints = \"deny\"\n");
        assert!(d.message.contains("expected a table"), "{d}");
    }
}
