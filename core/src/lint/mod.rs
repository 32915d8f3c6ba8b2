//! Migration lints: unsafe SQL found before it ships, by one engine that the macro runs at
//! compile time and `pgready migrate lint` runs in CI.
//!
//! Every file is parsed with a real PostgreSQL grammar in pure Rust (the [squawk] parser,
//! pinned to an exact version) and checked by squawk's migration rules where they fit, reported
//! under pgready's names with advice that names pgready's own ways out, plus pgready's project
//! rules. A statement the grammar cannot read is a warning (`unparsable-statement`), never a
//! panic, and it does not stop the other statements from being checked.
//!
//! ```
//! use std::collections::BTreeMap;
//! use pgready_core::lint::LintLevel;
//! use pgready_core::lint::lint_file;
//!
//! let sql = "ALTER TABLE items ADD COLUMN IF NOT EXISTS owner BIGINT NOT NULL;\n";
//! let findings = lint_file("20250101000200_owner.sql", sql, true, &BTreeMap::new());
//! assert_eq!(findings.len(), 1);
//! assert_eq!(findings[0].rule, "adding-not-null-field");
//! assert_eq!(findings[0].level, LintLevel::Deny);
//! assert_eq!(findings[0].line, 1);
//! ```
//!
//! # Rules
//!
//! `deny` is a compile error and makes `pgready migrate lint` fail; `warn` is a compiler
//! warning; `allow` is off. The defaults deny what certainly fails at run time or rewrites a
//! whole table under an exclusive lock, and warn about the rest.
//!
//! | rule | default | flags |
//! |---|---|---|
//! | `require-concurrent-index-creation` | warn | `CREATE INDEX` without `CONCURRENTLY` on a table this file did not create |
//! | `require-concurrent-index-deletion` | warn | `DROP INDEX` without `CONCURRENTLY` |
//! | `concurrently-in-transaction` | deny | `CREATE`/`DROP INDEX CONCURRENTLY`, `REINDEX … CONCURRENTLY`, `DETACH PARTITION … CONCURRENTLY` in a transaction: PostgreSQL refuses it |
//! | `constraint-missing-not-valid` | warn | `ADD CONSTRAINT` (`CHECK`, `FOREIGN KEY`) without `NOT VALID`, or validated in the same transaction |
//! | `adding-foreign-key-constraint` | warn | `ADD COLUMN … REFERENCES` |
//! | `adding-unique-constraint` | warn | a `UNIQUE` constraint added to an existing table without `USING INDEX` |
//! | `adding-primary-key-constraint` | warn | a `PRIMARY KEY` added to an existing table without `USING INDEX` |
//! | `adding-field-with-volatile-default` | deny | `ADD COLUMN` with a volatile default (`random()`, `gen_random_uuid()`, `clock_timestamp()`, …) or a stored generated expression: a table rewrite under `ACCESS EXCLUSIVE` |
//! | `adding-not-null-field` | deny | `ADD COLUMN … NOT NULL` without a default: fails on any table that has rows |
//! | `setting-not-null` | warn | `SET NOT NULL` without a validated `CHECK (… IS NOT NULL)` |
//! | `changing-column-type` | warn | `ALTER COLUMN … TYPE` |
//! | `renaming-column` | warn | `RENAME COLUMN` |
//! | `renaming-table` | warn | `ALTER TABLE … RENAME TO` |
//! | `dropping-column` | warn | `DROP COLUMN` |
//! | `dropping-table` | warn | `DROP TABLE` |
//! | `dropping-database` | deny | `DROP DATABASE` |
//! | `truncate` | warn | `TRUNCATE` |
//! | `transaction-nesting` | deny | `BEGIN`/`COMMIT`/`ROLLBACK` in a migration pgready already runs in a transaction (it would break its atomicity), or unbalanced ones in a no-transaction file |
//! | `non-idempotent-ddl` | warn | `CREATE` without `IF NOT EXISTS` / `OR REPLACE`, `DROP` without `IF EXISTS`, `ADD COLUMN`/`ADD VALUE` without `IF NOT EXISTS`, `DROP COLUMN`/`DROP CONSTRAINT` without `IF EXISTS`, an unnamed `CREATE INDEX` |
//! | `mixed-ddl-and-dml` | warn | `CREATE`/`ALTER`/`DROP` and `INSERT`/`UPDATE`/`DELETE`/`MERGE` in one file (rows written into a table the file creates do not count) |
//! | `missing-lock-timeout` | allow | DDL that takes a lock before any `SET lock_timeout` in the file (off by default: pgready's migrator already sets `[migrations] lock_timeout` on its connection) |
//! | `unparsable-statement` | warn | a statement the PostgreSQL grammar cannot parse |
//! | `allow-without-reason` | warn | `-- pgready:allow(rule-name)` with no reason |
//! | `unknown-rule` | warn | `-- pgready:allow(…)` naming a rule that does not exist |
//! | `invalid-directive` | warn | a malformed `-- pgready:` comment, or `-- pgready:no-transaction` anywhere but as the first line |
//! | `unused-allow` | warn | `-- pgready:allow(rule-name)` in a file where that rule finds nothing |
//! | `migration-file-name` | warn | a new file named as sqlx accepts but pgready's style does not: a version that is not positive or not plain digits (`0_`, `+5_`, `007_`), an empty description or one with `.` or spaces, an `.up.sql` without its `.down.sql` or the reverse, a simple `.sql` with a `.down.sql`; and a file sqlx skips that looks like a migration (`20240101.sql`, `1_init.SQL`, a directory) — see [`lint_file_name`] and [`lint_skipped_file`] |
//!
//! Levels are changed per project in `pgready.toml`:
//!
//! ```toml
//! [migrations.lints]
//! require-concurrent-index-creation = "deny"
//! non-idempotent-ddl = "allow"
//! ```
//!
//! # Allowing a rule in one file
//!
//! A comment `-- pgready:allow(rule-name) reason` anywhere in a file turns that rule off for the
//! whole file; several rules can be listed, `-- pgready:allow(dropping-table, truncate) reason`.
//! The reason is for the reviewer: an allow without one still works but is itself a finding
//! (`allow-without-reason`), so a team can make reasons mandatory with
//! `allow-without-reason = "deny"`. squawk's own `-- squawk-ignore` comments are not read.
//!
//! [squawk]: https://squawkhq.com

mod allow;
mod file_name;
mod finding;
mod level;
mod project;
mod rules;
mod squawk;

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::collections::BTreeMap;

use squawk_syntax::SyntaxKind;

pub use file_name::{lint_file_name, lint_skipped_file};
pub use finding::{Finding, to_text};
pub use level::LintLevel;
pub use rules::{RULES, Rule, rule};

use crate::sql::Source;
use rules::{MIGRATION_FILE_NAME, UNPARSABLE_STATEMENT, UNUSED_ALLOW};

/// Lints one migration file.
///
/// `file_name` is copied into every finding as is. `in_transaction` is `false` for a file whose
/// first line is `-- pgready:no-transaction` (pgready then runs it statement by statement).
/// `levels` is `[migrations.lints]`: rule name → level; rules it does not name keep their
/// default level, and names that are not rules are ignored here (the configuration refuses
/// them, see [`rule`]).
///
/// Findings come sorted by line; findings whose level is `allow`, and findings of rules the
/// file allows with `-- pgready:allow(…)`, are not returned.
///
/// ```
/// use std::collections::BTreeMap;
/// use pgready_core::lint::LintLevel;
/// use pgready_core::lint::lint_file;
///
/// let sql = "CREATE INDEX CONCURRENTLY IF NOT EXISTS items_name ON items (name);\n";
/// let in_transaction = lint_file("2_index.sql", sql, true, &BTreeMap::new());
/// assert_eq!(in_transaction[0].rule, "concurrently-in-transaction");
///
/// let no_transaction = format!("-- pgready:no-transaction\n{sql}");
/// assert!(lint_file("2_index.sql", &no_transaction, false, &BTreeMap::new()).is_empty());
///
/// let levels = BTreeMap::from([("concurrently-in-transaction".to_owned(), LintLevel::Allow)]);
/// assert!(lint_file("2_index.sql", sql, true, &levels).is_empty());
/// ```
pub fn lint_file(
    file_name: &str,
    sql: &str,
    in_transaction: bool,
    levels: &BTreeMap<String, LintLevel>,
) -> Vec<Finding> {
    lint_parsed(
        file_name,
        sql,
        Source::parse(sql).as_ref(),
        in_transaction,
        levels,
    )
}

/// [`lint_file`] on a file already parsed (`None`: the parser panicked on it), so the project
/// check parses each migration once for the lints and the schema replay.
pub(crate) fn lint_parsed(
    file_name: &str,
    sql: &str,
    parsed: Option<&Source>,
    in_transaction: bool,
    levels: &BTreeMap<String, LintLevel>,
) -> Vec<Finding> {
    let level_of = |rule: &Rule| levels.get(rule.name).copied().unwrap_or(rule.default_level);
    let finding = |line: usize, rule: &'static Rule, message: String| Finding {
        file: file_name.to_owned(),
        line,
        rule: rule.name,
        level: level_of(rule),
        message,
    };

    let Some((text, source)) = parsed.and_then(|source| without_squawk_comments(sql, source))
    else {
        let only = finding(
            1,
            &UNPARSABLE_STATEMENT,
            "the SQL parser failed on this file, so it was not linted: check its syntax".to_owned(),
        );
        return if only.level == LintLevel::Allow {
            Vec::new()
        } else {
            vec![only]
        };
    };

    let mut raw = Vec::new();
    for span in &source.spans {
        if let Some(error) = &span.error {
            let consequence = if in_transaction {
                "fix its syntax, or allow `unparsable-statement` with a reason if PostgreSQL \
                 accepts it"
            } else {
                "fix its syntax: pgready runs a `-- pgready:no-transaction` file statement by \
                 statement and cannot split one it cannot parse"
            };
            raw.push(Raw::new(
                span.start,
                &UNPARSABLE_STATEMENT,
                format!(
                    "cannot parse this statement ({error}), so it was not linted: {consequence}"
                ),
            ));
        }
    }
    squawk::check(&source, &text, in_transaction, &mut raw);
    project::check(&source, in_transaction, &mut raw);
    // rules read an unparsable statement's broken tree: whatever they say about it is noise
    raw.retain(|r| {
        r.rule.name == UNPARSABLE_STATEMENT.name
            || source
                .span_at(r.offset)
                .is_none_or(|span| span.error.is_none())
    });

    let (allows, directive_findings) = allow::scan(&source, &text);
    raw.extend(directive_findings);
    for allow in &allows {
        // `migration-file-name` is about the name, checked by `lint_file_name`, not here
        let used = allow.rule == UNUSED_ALLOW.name
            || allow.rule == MIGRATION_FILE_NAME.name
            || raw.iter().any(|r| r.rule.name == allow.rule);
        if !used {
            raw.push(Raw::at_line(
                allow.line,
                &UNUSED_ALLOW,
                format!(
                    "`-- pgready:allow({})` allows nothing: `{}` finds nothing in this file, so \
                     remove the comment",
                    allow.rule, allow.rule
                ),
            ));
        }
    }

    let mut findings: Vec<Finding> = raw
        .into_iter()
        .filter(|r| !allows.iter().any(|allow| allow.rule == r.rule.name))
        .map(|r| {
            let line = r.line.unwrap_or_else(|| source.line(r.offset));
            finding(line, r.rule, r.message)
        })
        .filter(|f| f.level != LintLevel::Allow)
        .collect();
    let order = |name: &str| RULES.iter().position(|rule| rule.name == name);
    findings.sort_by(|a, b| {
        (a.line, order(a.rule), &a.message).cmp(&(b.line, order(b.rule), &b.message))
    });
    findings.dedup();
    findings
}

/// A finding before levels and allows: where it is (a byte offset, or a line for findings
/// about comments), which rule, what to do.
#[derive(Debug)]
struct Raw {
    offset: usize,
    line: Option<usize>,
    rule: &'static Rule,
    message: String,
}

impl Raw {
    fn new(offset: usize, rule: &'static Rule, message: String) -> Raw {
        Raw {
            offset,
            line: None,
            rule,
            message,
        }
    }

    fn at_line(line: usize, rule: &'static Rule, message: String) -> Raw {
        Raw {
            offset: 0,
            line: Some(line),
            rule,
            message,
        }
    }
}

/// Parses the file with every `-- squawk-…` / `/* squawk-… */` comment blanked out (same
/// length, same lines), so squawk's own ignore and setting comments cannot silence a rule behind
/// pgready's back: `-- pgready:allow(rule-name) reason` is the one way to allow a rule.
/// `source` is `sql` parsed; it is parsed again only when it has such comments. `None` if the
/// parser panicked.
fn without_squawk_comments<'a>(
    sql: &'a str,
    source: &'a Source,
) -> Option<(Cow<'a, str>, Cow<'a, Source>)> {
    let squawk_comments: Vec<_> = source
        .parse
        .syntax_node()
        .descendants_with_tokens()
        .filter_map(|element| element.into_token())
        .filter(|token| token.kind() == SyntaxKind::COMMENT)
        .filter(|token| {
            let body = token.text().get(2..).unwrap_or_default();
            body.trim_start().starts_with("squawk-")
        })
        .map(|token| {
            let text = token.text();
            let closed = text.len() >= 4 && text.starts_with("/*") && text.ends_with("*/");
            let (start, end) = (
                usize::from(token.text_range().start()),
                usize::from(token.text_range().end()),
            );
            (start + 2, if closed { end - 2 } else { end })
        })
        .collect();
    if squawk_comments.is_empty() {
        return Some((Cow::Borrowed(sql), Cow::Borrowed(source)));
    }
    let mut bytes = sql.as_bytes().to_vec();
    for (start, end) in squawk_comments {
        // a comment token is whole characters, so overwriting all of its bytes but the line
        // breaks with spaces keeps the text valid UTF-8 and every offset and line in place
        for byte in &mut bytes[start..end] {
            if *byte != b'\n' && *byte != b'\r' {
                *byte = b' ';
            }
        }
    }
    let text = String::from_utf8(bytes).ok()?;
    let source = Source::parse(&text)?;
    Some((Cow::Owned(text), Cow::Owned(source)))
}
