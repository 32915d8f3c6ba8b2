//! The rule catalogue: every rule's stable name, default level and one-line summary.

use super::LintLevel;
use super::LintLevel::{Allow, Deny, Warn};

/// One lint rule.
///
/// The name is stable: it is what `[migrations.lints]` and `-- pgready:allow(rule-name)` refer
/// to, so a rule is never renamed once released.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rule {
    /// kebab-case name, e.g. `require-concurrent-index-creation`
    pub name: &'static str,
    /// the level used when `[migrations.lints]` does not name the rule
    pub default_level: LintLevel,
    /// what the rule flags, in one line
    pub summary: &'static str,
}

const fn rule_def(name: &'static str, default_level: LintLevel, summary: &'static str) -> Rule {
    Rule {
        name,
        default_level,
        summary,
    }
}

pub(super) const REQUIRE_CONCURRENT_INDEX_CREATION: Rule = rule_def(
    "require-concurrent-index-creation",
    Warn,
    "`CREATE INDEX` without `CONCURRENTLY` on a table this file did not create",
);
pub(super) const REQUIRE_CONCURRENT_INDEX_DELETION: Rule = rule_def(
    "require-concurrent-index-deletion",
    Warn,
    "`DROP INDEX` without `CONCURRENTLY`",
);
pub(super) const CONCURRENTLY_IN_TRANSACTION: Rule = rule_def(
    "concurrently-in-transaction",
    Deny,
    "`CREATE`/`DROP`/`REINDEX … CONCURRENTLY` or `DETACH PARTITION … CONCURRENTLY` inside a \
     transaction, where PostgreSQL refuses it",
);
pub(super) const CONSTRAINT_MISSING_NOT_VALID: Rule = rule_def(
    "constraint-missing-not-valid",
    Warn,
    "`ADD CONSTRAINT` (`CHECK`, `FOREIGN KEY`) without `NOT VALID`, or validated in the same \
     transaction",
);
pub(super) const ADDING_FOREIGN_KEY_CONSTRAINT: Rule = rule_def(
    "adding-foreign-key-constraint",
    Warn,
    "`ADD COLUMN … REFERENCES`: a foreign key validated while both tables are locked",
);
pub(super) const ADDING_UNIQUE_CONSTRAINT: Rule = rule_def(
    "adding-unique-constraint",
    Warn,
    "`UNIQUE` constraint added to an existing table without `USING INDEX`",
);
pub(super) const ADDING_PRIMARY_KEY_CONSTRAINT: Rule = rule_def(
    "adding-primary-key-constraint",
    Warn,
    "`PRIMARY KEY` added to an existing table without `USING INDEX`",
);
pub(super) const ADDING_FIELD_WITH_VOLATILE_DEFAULT: Rule = rule_def(
    "adding-field-with-volatile-default",
    Deny,
    "`ADD COLUMN` with a volatile default or a stored generated expression: a table rewrite",
);
pub(super) const ADDING_NOT_NULL_FIELD: Rule = rule_def(
    "adding-not-null-field",
    Deny,
    "`ADD COLUMN … NOT NULL` without a default: fails on any table that has rows",
);
pub(super) const SETTING_NOT_NULL: Rule = rule_def(
    "setting-not-null",
    Warn,
    "`ALTER COLUMN … SET NOT NULL` without a validated `IS NOT NULL` check",
);
pub(super) const CHANGING_COLUMN_TYPE: Rule = rule_def(
    "changing-column-type",
    Warn,
    "`ALTER COLUMN … TYPE`: usually a table rewrite, and it breaks running code",
);
pub(super) const RENAMING_COLUMN: Rule = rule_def(
    "renaming-column",
    Warn,
    "`RENAME COLUMN`: breaks the code still running during the deploy",
);
pub(super) const RENAMING_TABLE: Rule = rule_def(
    "renaming-table",
    Warn,
    "`ALTER TABLE … RENAME TO`: breaks the code still running during the deploy",
);
pub(super) const DROPPING_COLUMN: Rule = rule_def(
    "dropping-column",
    Warn,
    "`DROP COLUMN`: breaks the code still running that reads it",
);
pub(super) const DROPPING_TABLE: Rule = rule_def(
    "dropping-table",
    Warn,
    "`DROP TABLE`: breaks the code still running and loses the data",
);
pub(super) const DROPPING_DATABASE: Rule =
    rule_def("dropping-database", Deny, "`DROP DATABASE` in a migration");
pub(super) const TRUNCATE: Rule = rule_def(
    "truncate",
    Warn,
    "`TRUNCATE`: deletes every row under an `ACCESS EXCLUSIVE` lock",
);
pub(super) const TRANSACTION_NESTING: Rule = rule_def(
    "transaction-nesting",
    Deny,
    "`BEGIN`/`COMMIT`/`ROLLBACK` in a migration pgready already runs in a transaction, or \
     unbalanced in a no-transaction one",
);
pub(super) const NON_IDEMPOTENT_DDL: Rule = rule_def(
    "non-idempotent-ddl",
    Warn,
    "`CREATE` without `IF NOT EXISTS`/`OR REPLACE`, `DROP` without `IF EXISTS`",
);
pub(super) const MIXED_DDL_AND_DML: Rule = rule_def(
    "mixed-ddl-and-dml",
    Warn,
    "schema changes and `INSERT`/`UPDATE`/`DELETE`/`MERGE` on existing tables in one file",
);
pub(super) const MISSING_LOCK_TIMEOUT: Rule = rule_def(
    "missing-lock-timeout",
    Allow,
    "DDL that takes a lock before any `SET lock_timeout` in the file",
);
pub(super) const UNPARSABLE_STATEMENT: Rule = rule_def(
    "unparsable-statement",
    Warn,
    "a statement the PostgreSQL grammar cannot parse",
);
pub(super) const ALLOW_WITHOUT_REASON: Rule = rule_def(
    "allow-without-reason",
    Warn,
    "`-- pgready:allow(rule-name)` with no reason after it",
);
pub(super) const UNKNOWN_RULE: Rule = rule_def(
    "unknown-rule",
    Warn,
    "`-- pgready:allow(…)` naming no rule, or malformed",
);
pub(super) const INVALID_DIRECTIVE: Rule = rule_def(
    "invalid-directive",
    Warn,
    "a `-- pgready:` comment pgready does not understand, or a misplaced \
     `-- pgready:no-transaction`",
);
pub(super) const UNUSED_ALLOW: Rule = rule_def(
    "unused-allow",
    Warn,
    "`-- pgready:allow(rule-name)` for a rule that finds nothing in the file",
);
pub(super) const MIGRATION_FILE_NAME: Rule = rule_def(
    "migration-file-name",
    Warn,
    "a new migration's name that sqlx accepts but pgready's style does not (version not \
     positive, `.` or spaces in the description, an unpaired `.up.sql`/`.down.sql`), or a file \
     sqlx skips that looks like a migration",
);

/// Every rule, in the order of the table in the module documentation.
///
/// ```
/// use pgready_core::lint::RULES;
///
/// assert!(RULES.iter().any(|rule| rule.name == "truncate"));
/// ```
pub const RULES: &[Rule] = &[
    REQUIRE_CONCURRENT_INDEX_CREATION,
    REQUIRE_CONCURRENT_INDEX_DELETION,
    CONCURRENTLY_IN_TRANSACTION,
    CONSTRAINT_MISSING_NOT_VALID,
    ADDING_FOREIGN_KEY_CONSTRAINT,
    ADDING_UNIQUE_CONSTRAINT,
    ADDING_PRIMARY_KEY_CONSTRAINT,
    ADDING_FIELD_WITH_VOLATILE_DEFAULT,
    ADDING_NOT_NULL_FIELD,
    SETTING_NOT_NULL,
    CHANGING_COLUMN_TYPE,
    RENAMING_COLUMN,
    RENAMING_TABLE,
    DROPPING_COLUMN,
    DROPPING_TABLE,
    DROPPING_DATABASE,
    TRUNCATE,
    TRANSACTION_NESTING,
    NON_IDEMPOTENT_DDL,
    MIXED_DDL_AND_DML,
    MISSING_LOCK_TIMEOUT,
    UNPARSABLE_STATEMENT,
    ALLOW_WITHOUT_REASON,
    UNKNOWN_RULE,
    INVALID_DIRECTIVE,
    UNUSED_ALLOW,
    MIGRATION_FILE_NAME,
];

/// The rule with this name, if there is one.
///
/// `[migrations.lints]` validation uses it to refuse unknown names, and hints the closest
/// with [`closest`](crate::suggest::closest) over [`RULES`].
///
/// ```
/// use pgready_core::lint::LintLevel;
/// use pgready_core::lint::rule;
///
/// assert_eq!(rule("truncate").map(|r| r.default_level), Some(LintLevel::Warn));
/// assert!(rule("no-such-rule").is_none());
/// ```
pub fn rule(name: &str) -> Option<&'static Rule> {
    RULES.iter().find(|rule| rule.name == name)
}
