//! Every rule fires on the unsafe form and stays quiet on the safe alternative; allows, levels
//! and the text output.

use std::collections::BTreeMap;

use super::LintLevel::{self, Allow, Deny, Warn};
use super::*;

const FILE: &str = "20250101000000_test.sql";

fn lint_with(sql: &str, in_transaction: bool, levels: &[(&str, LintLevel)]) -> Vec<Finding> {
    let levels: BTreeMap<String, LintLevel> = levels
        .iter()
        .map(|(rule, level)| ((*rule).to_owned(), *level))
        .collect();
    lint_file(FILE, sql, in_transaction, &levels)
}

/// `(rule, line, level)` of every finding, in a transactional migration.
fn found(sql: &str) -> Vec<(&'static str, usize, LintLevel)> {
    summary(&lint_with(sql, true, &[]))
}

/// The same in a `-- pgready:no-transaction` migration.
fn found_no_tx(sql: &str) -> Vec<(&'static str, usize, LintLevel)> {
    summary(&lint_with(sql, false, &[]))
}

fn summary(findings: &[Finding]) -> Vec<(&'static str, usize, LintLevel)> {
    findings.iter().map(|f| (f.rule, f.line, f.level)).collect()
}

fn rules_of(findings: &[(&'static str, usize, LintLevel)]) -> Vec<&'static str> {
    findings.iter().map(|f| f.0).collect()
}

#[track_caller]
fn assert_fires(
    findings: &[(&'static str, usize, LintLevel)],
    rule: &str,
    line: usize,
    level: LintLevel,
) {
    assert!(
        findings.contains(&(rule_name(rule), line, level)),
        "expected {rule} at line {line} ({level:?}), got {findings:?}"
    );
}

#[track_caller]
fn assert_quiet(findings: &[(&'static str, usize, LintLevel)], rule: &str) {
    assert!(
        !rules_of(findings).contains(&rule_name(rule)),
        "expected no {rule}, got {findings:?}"
    );
}

/// The `&'static str` of a rule name, failing the test for a name that is not a rule.
#[track_caller]
fn rule_name(name: &str) -> &'static str {
    match rule(name) {
        Some(rule) => rule.name,
        None => panic!("{name} is not a rule"),
    }
}

// --- the catalogue -------------------------------------------------------------------------

#[test]
fn rule_names_are_unique_kebab_case_and_found_by_name() {
    let mut names: Vec<&str> = RULES.iter().map(|r| r.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), RULES.len(), "duplicate rule names");
    for r in RULES {
        assert!(
            r.name
                .split('-')
                .all(|word| !word.is_empty() && word.chars().all(|c| c.is_ascii_lowercase())),
            "{} is not kebab-case",
            r.name
        );
        assert_eq!(rule(r.name), Some(r));
        assert!(!r.summary.is_empty());
    }
    assert_eq!(rule("Truncate"), None);
    let names = || RULES.iter().map(|r| r.name);
    assert_eq!(
        crate::suggest::closest("truncat", names()),
        Some("truncate")
    );
    assert_eq!(crate::suggest::closest("zzzz", names()), None);
}

#[test]
fn default_levels_are_the_documented_ones() {
    let deny: Vec<&str> = RULES
        .iter()
        .filter(|r| r.default_level == Deny)
        .map(|r| r.name)
        .collect();
    assert_eq!(
        deny,
        [
            "concurrently-in-transaction",
            "adding-field-with-volatile-default",
            "adding-not-null-field",
            "dropping-database",
            "transaction-nesting",
        ]
    );
    let allow: Vec<&str> = RULES
        .iter()
        .filter(|r| r.default_level == Allow)
        .map(|r| r.name)
        .collect();
    assert_eq!(allow, ["missing-lock-timeout"]);
}

#[test]
fn every_rule_is_documented_in_the_module_table() {
    let docs = include_str!("mod.rs");
    for r in RULES {
        let row = format!("//! | `{}` | {} |", r.name, r.default_level.as_str());
        assert!(
            docs.contains(&row),
            "no table row `{row}` in the module docs"
        );
    }
}

/// One SQL sample per rule that must trigger it with its default level (or with the level set
/// to `warn` for a rule that is off by default). A rule added without a sample fails here.
const TRIGGERS: &[(&str, &str, bool)] = &[
    (
        "require-concurrent-index-creation",
        "CREATE INDEX IF NOT EXISTS i ON items (a);",
        true,
    ),
    (
        "require-concurrent-index-deletion",
        "DROP INDEX IF EXISTS i;",
        true,
    ),
    (
        "concurrently-in-transaction",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON items (a);",
        true,
    ),
    (
        "constraint-missing-not-valid",
        "ALTER TABLE items ADD CONSTRAINT c CHECK (a > 0);",
        true,
    ),
    (
        "adding-foreign-key-constraint",
        "ALTER TABLE items ADD COLUMN IF NOT EXISTS o BIGINT REFERENCES owners (id);",
        true,
    ),
    (
        "adding-unique-constraint",
        "ALTER TABLE items ADD CONSTRAINT u UNIQUE (a);",
        true,
    ),
    (
        "adding-primary-key-constraint",
        "ALTER TABLE items ADD PRIMARY KEY (id);",
        true,
    ),
    (
        "adding-field-with-volatile-default",
        "ALTER TABLE items ADD COLUMN IF NOT EXISTS u UUID DEFAULT gen_random_uuid();",
        true,
    ),
    (
        "adding-not-null-field",
        "ALTER TABLE items ADD COLUMN IF NOT EXISTS n INT NOT NULL;",
        true,
    ),
    (
        "setting-not-null",
        "ALTER TABLE items ALTER COLUMN a SET NOT NULL;",
        true,
    ),
    (
        "changing-column-type",
        "ALTER TABLE items ALTER COLUMN a TYPE BIGINT;",
        true,
    ),
    (
        "renaming-column",
        "ALTER TABLE items RENAME COLUMN a TO b;",
        true,
    ),
    (
        "renaming-table",
        "ALTER TABLE items RENAME TO things;",
        true,
    ),
    (
        "dropping-column",
        "ALTER TABLE items DROP COLUMN IF EXISTS a;",
        true,
    ),
    ("dropping-table", "DROP TABLE IF EXISTS items;", true),
    ("dropping-database", "DROP DATABASE IF EXISTS app;", true),
    ("truncate", "TRUNCATE items;", true),
    ("transaction-nesting", "BEGIN;\nSELECT 1;\nCOMMIT;", true),
    (
        "non-idempotent-ddl",
        "CREATE TABLE items (id BIGINT);",
        true,
    ),
    (
        "mixed-ddl-and-dml",
        "ALTER TABLE items ADD COLUMN IF NOT EXISTS d BOOLEAN;\nUPDATE items SET d = false;",
        true,
    ),
    (
        "missing-lock-timeout",
        "ALTER TABLE items ADD COLUMN IF NOT EXISTS d BOOLEAN;",
        true,
    ),
    ("unparsable-statement", "SELEC 1;", true),
    (
        "allow-without-reason",
        "-- pgready:allow(truncate)\nTRUNCATE items;",
        true,
    ),
    (
        "unknown-rule",
        "-- pgready:allow(no-such-rule) because\nSELECT 1;",
        true,
    ),
    (
        "invalid-directive",
        "-- pgready:alow(truncate) because\nSELECT 1;",
        true,
    ),
    (
        "unused-allow",
        "-- pgready:allow(truncate) because\nSELECT 1;",
        true,
    ),
];

#[test]
fn every_rule_has_a_sample_that_triggers_it() {
    for r in RULES {
        if r.name == "migration-file-name" {
            // about the file name, not the SQL: its samples are in `file_name.rs`; one here
            let all = crate::migrations::from_files(
                [("0_init.sql", "SELECT 1;")],
                &crate::migrations::Resolve::default(),
            )
            .unwrap();
            let findings = lint_file_name(&all[0], &all, &BTreeMap::new());
            assert!(findings.iter().any(|f| f.rule == r.name && f.level == Warn));
            continue;
        }
        let Some((_, sql, in_transaction)) = TRIGGERS.iter().find(|t| t.0 == r.name) else {
            panic!("no trigger sample for {}", r.name);
        };
        let level = if r.default_level == Allow {
            Warn
        } else {
            r.default_level
        };
        let findings = summary(&lint_with(sql, *in_transaction, &[(r.name, level)]));
        assert!(
            findings.iter().any(|f| f.0 == r.name && f.2 == level),
            "{} did not fire on {sql:?}: {findings:?}",
            r.name
        );
    }
}

// --- squawk's rules ------------------------------------------------------------------------

#[test]
fn require_concurrent_index_creation() {
    let sql = "SELECT 1;\nCREATE INDEX IF NOT EXISTS items_a ON items (a);\n";
    let findings = lint_with(sql, true, &[]);
    assert_fires(
        &summary(&findings),
        "require-concurrent-index-creation",
        2,
        Warn,
    );
    let message = &findings
        .iter()
        .find(|f| f.rule == "require-concurrent-index-creation")
        .map(|f| f.message.as_str());
    assert_eq!(
        *message,
        Some(
            "`CREATE INDEX` blocks writes to the table while it builds: use `CREATE INDEX \
             CONCURRENTLY` in a migration whose first line is `-- pgready:no-transaction`"
        )
    );

    // the safe alternative, in a no-transaction file
    let safe = "-- pgready:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS items_a ON items (a);\n";
    assert_eq!(found_no_tx(safe), []);
    // an index on a table the same transaction creates blocks nobody
    let new_table =
        "CREATE TABLE IF NOT EXISTS t (a INT);\nCREATE INDEX IF NOT EXISTS t_a ON t (a);\n";
    assert_eq!(found(new_table), []);
}

#[test]
fn require_concurrent_index_deletion() {
    assert_fires(
        &found("DROP INDEX IF EXISTS items_a;"),
        "require-concurrent-index-deletion",
        1,
        Warn,
    );
    let safe = "-- pgready:no-transaction\nDROP INDEX CONCURRENTLY IF EXISTS items_a;\n";
    assert_eq!(found_no_tx(safe), []);
}

#[test]
fn constraint_missing_not_valid() {
    let check = "ALTER TABLE items\n  ADD CONSTRAINT positive CHECK (a > 0);";
    assert_fires(&found(check), "constraint-missing-not-valid", 2, Warn);
    let fk = "ALTER TABLE items ADD CONSTRAINT fk FOREIGN KEY (o) REFERENCES owners (id);";
    let findings = found(fk);
    assert_fires(&findings, "constraint-missing-not-valid", 1, Warn);
    // one finding for one problem: the foreign-key rule leaves `ADD CONSTRAINT` to this one
    assert_quiet(&findings, "adding-foreign-key-constraint");

    let same_transaction = "ALTER TABLE items ADD CONSTRAINT positive CHECK (a > 0) NOT VALID;\n\
                            ALTER TABLE items VALIDATE CONSTRAINT positive;\n";
    assert_fires(
        &found(same_transaction),
        "constraint-missing-not-valid",
        2,
        Warn,
    );

    // the safe alternative: `NOT VALID` now, `VALIDATE` in a later migration
    assert_eq!(
        found("ALTER TABLE items ADD CONSTRAINT positive CHECK (a > 0) NOT VALID;"),
        []
    );
    assert_eq!(found("ALTER TABLE items VALIDATE CONSTRAINT positive;"), []);
    // `UNIQUE` cannot be `NOT VALID`: its own rule reports it, with advice that works
    assert_quiet(
        &found("ALTER TABLE items ADD CONSTRAINT u UNIQUE (a);"),
        "constraint-missing-not-valid",
    );
}

#[test]
fn adding_foreign_key_constraint() {
    let sql = "ALTER TABLE items ADD COLUMN IF NOT EXISTS owner BIGINT REFERENCES owners (id);";
    assert_fires(&found(sql), "adding-foreign-key-constraint", 1, Warn);
    let safe = "ALTER TABLE items ADD COLUMN IF NOT EXISTS owner BIGINT;\n\
                ALTER TABLE items ADD CONSTRAINT fk FOREIGN KEY (owner) REFERENCES owners (id) NOT VALID;\n";
    assert_eq!(found(safe), []);
}

#[test]
fn adding_unique_constraint() {
    assert_fires(
        &found("ALTER TABLE items ADD CONSTRAINT u UNIQUE (a);"),
        "adding-unique-constraint",
        1,
        Warn,
    );
    assert_eq!(
        found("ALTER TABLE items ADD CONSTRAINT u UNIQUE USING INDEX items_a_key;"),
        []
    );
}

#[test]
fn adding_primary_key_constraint() {
    assert_fires(
        &found("ALTER TABLE items ADD PRIMARY KEY (id);"),
        "adding-primary-key-constraint",
        1,
        Warn,
    );
    assert_eq!(
        found("ALTER TABLE items ADD CONSTRAINT items_pkey PRIMARY KEY USING INDEX items_id;"),
        []
    );
}

#[test]
fn adding_field_with_volatile_default() {
    let volatile = "ALTER TABLE items ADD COLUMN IF NOT EXISTS u UUID DEFAULT gen_random_uuid();";
    assert_fires(
        &found(volatile),
        "adding-field-with-volatile-default",
        1,
        Deny,
    );
    let generated =
        "ALTER TABLE items\n  ADD COLUMN IF NOT EXISTS g INT GENERATED ALWAYS AS (a * 2) STORED;";
    let findings = lint_with(generated, true, &[]);
    assert_fires(
        &summary(&findings),
        "adding-field-with-volatile-default",
        2,
        Deny,
    );
    assert!(
        findings[0]
            .message
            .starts_with("a stored generated column rewrites")
    );

    // constants and stable functions are stored once, no rewrite (PostgreSQL 11+)
    assert_eq!(
        found("ALTER TABLE items ADD COLUMN IF NOT EXISTS n INT DEFAULT 0;"),
        []
    );
    assert_eq!(
        found("ALTER TABLE items ADD COLUMN IF NOT EXISTS t TIMESTAMPTZ DEFAULT now();"),
        []
    );
}

#[test]
fn adding_not_null_field() {
    let sql = "ALTER TABLE items ADD COLUMN IF NOT EXISTS n INT NOT NULL;";
    assert_fires(&found(sql), "adding-not-null-field", 1, Deny);
    assert_eq!(
        found("ALTER TABLE items ADD COLUMN IF NOT EXISTS n INT NOT NULL DEFAULT 0;"),
        []
    );
    assert_eq!(
        found("ALTER TABLE items ADD COLUMN IF NOT EXISTS n INT;"),
        []
    );
}

#[test]
fn setting_not_null() {
    assert_fires(
        &found("ALTER TABLE items ALTER COLUMN a SET NOT NULL;"),
        "setting-not-null",
        1,
        Warn,
    );
    // the check was added `NOT VALID` and validated by an earlier migration
    let safe = "ALTER TABLE items VALIDATE CONSTRAINT a_not_null;\n\
                ALTER TABLE items ALTER COLUMN a SET NOT NULL;\n";
    assert_eq!(found(safe), []);
}

#[test]
fn changing_column_type() {
    assert_fires(
        &found("ALTER TABLE items ALTER COLUMN a TYPE BIGINT;"),
        "changing-column-type",
        1,
        Warn,
    );
    assert_eq!(
        found("ALTER TABLE items ADD COLUMN IF NOT EXISTS a2 BIGINT;"),
        []
    );
}

#[test]
fn renaming_column_and_table() {
    let findings =
        found("ALTER TABLE items RENAME COLUMN a TO b;\nALTER TABLE items RENAME TO things;");
    assert_fires(&findings, "renaming-column", 1, Warn);
    assert_fires(&findings, "renaming-table", 2, Warn);
    assert_eq!(
        found("ALTER TABLE items ADD COLUMN IF NOT EXISTS b TEXT;"),
        []
    );
    assert_eq!(
        found("CREATE OR REPLACE VIEW things AS SELECT * FROM items;"),
        []
    );
}

#[test]
fn dropping_column_table_and_database() {
    let findings = found(
        "ALTER TABLE items DROP COLUMN IF EXISTS a;\nDROP TABLE IF EXISTS old;\nDROP DATABASE IF EXISTS app;",
    );
    assert_fires(&findings, "dropping-column", 1, Warn);
    assert_fires(&findings, "dropping-table", 2, Warn);
    assert_fires(&findings, "dropping-database", 3, Deny);
    assert_eq!(found("DROP VIEW IF EXISTS old_view;"), []);
}

#[test]
fn transaction_nesting() {
    let findings = found("BEGIN;\nCREATE TABLE IF NOT EXISTS t (a INT);\nCOMMIT;");
    assert_fires(&findings, "transaction-nesting", 1, Deny);
    assert_fires(&findings, "transaction-nesting", 3, Deny);
    // outside pgready's transaction, a balanced block is the file's own business
    assert_eq!(
        found_no_tx("BEGIN;\nCREATE TABLE IF NOT EXISTS t (a INT);\nCOMMIT;"),
        []
    );
    assert_fires(
        &found_no_tx("SELECT 1;\nCOMMIT;"),
        "transaction-nesting",
        2,
        Deny,
    );
}

#[test]
fn missing_lock_timeout_is_off_by_default_and_respects_set_lock_timeout() {
    let sql = "ALTER TABLE items ADD COLUMN IF NOT EXISTS d BOOLEAN;";
    assert_eq!(found(sql), []);
    let on = [("missing-lock-timeout", Warn)];
    assert_eq!(
        summary(&lint_with(sql, true, &on)),
        [("missing-lock-timeout", 1, Warn)]
    );
    let safe = format!("SET lock_timeout = '2s';\n{sql}");
    assert_eq!(summary(&lint_with(&safe, true, &on)), []);
    let local = format!("SET LOCAL lock_timeout = '2s';\n{sql}");
    assert_eq!(summary(&lint_with(&local, true, &on)), []);
}

// --- project rules -------------------------------------------------------------------------

#[test]
fn concurrently_in_transaction() {
    let sql = "CREATE INDEX CONCURRENTLY IF NOT EXISTS a ON items (a);\n\
               DROP INDEX CONCURRENTLY IF EXISTS b;\n\
               REINDEX INDEX CONCURRENTLY c;\n\
               ALTER TABLE measurements DETACH PARTITION m2024 CONCURRENTLY;\n";
    let findings = found(sql);
    for line in 1..=4 {
        assert_fires(&findings, "concurrently-in-transaction", line, Deny);
    }
    let messages = lint_with(sql, true, &[]);
    assert_eq!(
        messages[0].message,
        "`CREATE INDEX CONCURRENTLY` cannot run inside a transaction, so this migration would \
         fail: make `-- pgready:no-transaction` the first line of the file (pgready then runs \
         its statements one by one)"
    );

    // the safe alternative: the same statements outside a transaction
    let no_tx = format!("-- pgready:no-transaction\n{sql}");
    assert_quiet(&found_no_tx(&no_tx), "concurrently-in-transaction");
    // …unless the file opens a transaction block itself
    let block = "BEGIN;\nCREATE INDEX CONCURRENTLY IF NOT EXISTS a ON items (a);\nCOMMIT;\n\
                 CREATE INDEX CONCURRENTLY IF NOT EXISTS b ON items (b);";
    let findings = found_no_tx(block);
    assert_fires(&findings, "concurrently-in-transaction", 2, Deny);
    assert!(!findings.contains(&("concurrently-in-transaction", 4, Deny)));
    // `REFRESH MATERIALIZED VIEW CONCURRENTLY` is allowed in a transaction
    assert_quiet(
        &found("REFRESH MATERIALIZED VIEW CONCURRENTLY totals;"),
        "concurrently-in-transaction",
    );
}

#[test]
fn truncate() {
    let findings = lint_with("SELECT 1;\nTRUNCATE items CASCADE;", true, &[]);
    assert_fires(&summary(&findings), "truncate", 2, Warn);
    assert!(
        findings[0]
            .message
            .contains("`CASCADE` also empties every table")
    );
    assert_eq!(found("DELETE FROM items WHERE done;"), []);
}

#[test]
fn non_idempotent_ddl() {
    let sql = "CREATE TABLE items (id BIGINT);\n\
               CREATE INDEX items_a ON items (a);\n\
               CREATE INDEX ON items (b);\n\
               CREATE SCHEMA app;\n\
               CREATE EXTENSION pg_trgm;\n\
               CREATE SEQUENCE s;\n\
               CREATE VIEW v AS SELECT 1;\n\
               CREATE FUNCTION f() RETURNS INT LANGUAGE sql AS $$ SELECT 1 $$;\n\
               CREATE MATERIALIZED VIEW mv AS SELECT 1;\n\
               DROP VIEW v;\n\
               DROP FUNCTION f;\n\
               ALTER TABLE items ADD COLUMN c INT, DROP COLUMN d, DROP CONSTRAINT e;\n\
               ALTER TYPE mood ADD VALUE 'meh';\n\
               CREATE TABLE t2 AS SELECT 1;\n";
    let findings = lint_with(sql, true, &[]);
    let lines: Vec<usize> = findings
        .iter()
        .filter(|f| f.rule == "non-idempotent-ddl")
        .map(|f| f.line)
        .collect();
    assert_eq!(
        lines,
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 12, 12, 13, 14]
    );
    let message = |line: usize, needle: &str| {
        assert!(
            findings.iter().any(|f| f.rule == "non-idempotent-ddl"
                && f.line == line
                && f.message.contains(needle)),
            "no non-idempotent-ddl at {line} containing {needle:?}: {findings:#?}"
        );
    };
    message(1, "write `CREATE TABLE IF NOT EXISTS`");
    message(3, "name it and write `CREATE INDEX IF NOT EXISTS <name>`");
    message(7, "write `CREATE OR REPLACE VIEW`");
    message(10, "write `DROP VIEW IF EXISTS`");
    message(12, "write `DROP CONSTRAINT IF EXISTS`");
    message(13, "write `ADD VALUE IF NOT EXISTS`");
    message(14, "write `CREATE TABLE IF NOT EXISTS … AS`");
    assert_eq!(
        findings[0].message,
        "`CREATE TABLE` fails when what it creates already exists, so the migration cannot be \
         run again after a partial failure: write `CREATE TABLE IF NOT EXISTS`"
    );

    let safe = "CREATE TABLE IF NOT EXISTS items (id BIGINT);\n\
                CREATE SCHEMA IF NOT EXISTS app;\n\
                CREATE EXTENSION IF NOT EXISTS pg_trgm;\n\
                CREATE OR REPLACE VIEW v AS SELECT 1;\n\
                CREATE OR REPLACE FUNCTION f() RETURNS INT LANGUAGE sql AS $$ SELECT 1 $$;\n\
                DROP VIEW IF EXISTS v;\n\
                ALTER TABLE items ADD COLUMN IF NOT EXISTS c INT;\n\
                ALTER TYPE mood ADD VALUE IF NOT EXISTS 'meh';\n\
                CREATE TEMPORARY TABLE scratch (a INT);\n\
                CREATE TYPE mood AS ENUM ('ok');\n";
    assert_eq!(found(safe), []);

    // dropping first is re-runnable too, for the object it drops
    let drop_first = "DROP TRIGGER IF EXISTS touch ON items;\n\
                      CREATE TRIGGER touch BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION touch();\n\
                      DROP FUNCTION IF EXISTS public.f(INT), g();\n\
                      CREATE FUNCTION public.F(a INT) RETURNS INT LANGUAGE sql AS 'select 1';\n\
                      CREATE FUNCTION g() RETURNS INT LANGUAGE sql AS 'select 1';\n\
                      CREATE FUNCTION h() RETURNS INT LANGUAGE sql AS 'select 1';\n\
                      CREATE TRIGGER other BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION touch();\n\
                      CREATE VIEW touch AS SELECT 1;\n";
    let findings = found(drop_first);
    assert_eq!(
        findings,
        [
            ("non-idempotent-ddl", 6, Warn),
            ("non-idempotent-ddl", 7, Warn),
            ("non-idempotent-ddl", 8, Warn),
        ]
    );
    let table = "DROP TABLE IF EXISTS staging;\nCREATE UNLOGGED TABLE staging (a INT);\n";
    assert_eq!(found(table), [("dropping-table", 1, Warn)]);
    // …but only when the drop comes first
    let created_then_dropped = "CREATE TRIGGER touch BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION touch();\n\
                                DROP TRIGGER IF EXISTS touch ON items;\n";
    assert_eq!(
        found(created_then_dropped),
        [("non-idempotent-ddl", 1, Warn)]
    );
}

#[test]
fn mixed_ddl_and_dml() {
    let sql = "ALTER TABLE items ADD COLUMN IF NOT EXISTS d BOOLEAN;\n\
               -- backfill\n\
               UPDATE items SET d = false;\n\
               DELETE FROM items WHERE d;\n";
    let findings = found(sql);
    // reported once, at the first data change
    assert_eq!(findings, [("mixed-ddl-and-dml", 3, Warn)]);

    // data changes alone, and schema changes alone, are fine
    assert_eq!(
        found("UPDATE items SET d = false;\nINSERT INTO log VALUES (1);"),
        []
    );
    assert_eq!(
        found("ALTER TABLE items ADD COLUMN IF NOT EXISTS d BOOLEAN;"),
        []
    );
    // seed rows for a table the same file creates are part of creating it
    let seed = "CREATE TABLE IF NOT EXISTS roles (name TEXT PRIMARY KEY);\n\
                INSERT INTO roles (name) VALUES ('admin'), ('user');\n";
    assert_eq!(found(seed), []);
    let seed_other = format!("{seed}INSERT INTO public.users (name) VALUES ('root');\n");
    assert_eq!(found(&seed_other), [("mixed-ddl-and-dml", 3, Warn)]);
}

// --- unparsable statements -----------------------------------------------------------------

#[test]
fn unparsable_statement_is_a_warning_and_the_rest_is_still_linted() {
    let sql = "TRUNCATE a;\n\
               CREATE TABEL oops (id INT);\n\
               ALTER TABLE items ALTER COLUMN a TYPE BIGINT,, ;\n\
               TRUNCATE b;\n";
    let findings = lint_with(sql, true, &[]);
    assert_eq!(
        summary(&findings),
        [
            ("truncate", 1, Warn),
            ("unparsable-statement", 2, Warn),
            // a rule reading a broken statement would only add noise
            ("unparsable-statement", 3, Warn),
            ("truncate", 4, Warn),
        ]
    );
    assert!(
        findings[1]
            .message
            .starts_with("cannot parse this statement (")
    );
    assert!(findings[1].message.ends_with("if PostgreSQL accepts it"));
    let no_tx = lint_with(sql, false, &[]);
    assert!(
        no_tx[1]
            .message
            .contains("cannot split one it cannot parse")
    );
}

#[test]
fn garbage_never_panics() {
    let samples = [
        "",
        ";;;",
        "$$",
        "$tag$ unterminated",
        "'unterminated",
        "/* unterminated",
        "\"",
        "CREATE",
        "ALTER TABLE",
        "-- pgready:allow(",
        "-- pgready:allow()",
        "-- pgready:allow(,) x",
        "\\connect other",
        "\u{feff}SELECT 1;",
        "SELECT 'é';\u{0}",
    ];
    for sql in samples {
        let _ = lint_with(sql, true, &[]);
        let _ = lint_with(sql, false, &[]);
        let _ = crate::migrations::statements(sql);
    }
    // every prefix of a realistic file
    let file = "-- pgready:allow(truncate) reset\nCREATE TABLE IF NOT EXISTS t (id BIGINT \
                GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name TEXT NOT NULL CHECK (name <> ''));\n\
                CREATE OR REPLACE FUNCTION touch() RETURNS trigger AS $body$ BEGIN NEW.at := now(); \
                RETURN NEW; END $body$ LANGUAGE plpgsql;\nTRUNCATE t;\n";
    for (i, _) in file.char_indices() {
        let _ = lint_with(&file[..i], true, &[]);
        let _ = crate::migrations::statements(&file[..i]);
    }
}

// --- allows and levels ---------------------------------------------------------------------

#[test]
fn allow_with_reason_silences_the_rule_for_the_whole_file() {
    let sql = "TRUNCATE a;\n-- pgready:allow(truncate) the table is a cache, rebuilt on start\nTRUNCATE b;\n";
    assert_eq!(found(sql), []);
    // several rules in one comment
    let several = "-- pgready:allow(dropping-table, truncate) retired feature\nDROP TABLE IF EXISTS a;\nTRUNCATE b;\n";
    assert_eq!(found(several), []);
    // only the named rule
    let other =
        "-- pgready:allow(truncate) retired feature\nDROP TABLE IF EXISTS a;\nTRUNCATE b;\n";
    assert_eq!(found(other), [("dropping-table", 2, Warn)]);
    // an allow beats a `deny` level too
    let deny =
        "-- pgready:allow(dropping-database) test fixture only\nDROP DATABASE IF EXISTS x;\n";
    assert_eq!(found(deny), []);
}

#[test]
fn allow_in_a_string_or_function_body_is_not_a_comment() {
    let sql = "INSERT INTO notes VALUES ('-- pgready:allow(truncate) no');\n\
               CREATE OR REPLACE FUNCTION f() RETURNS void LANGUAGE sql AS $$\n\
               -- pgready:allow(truncate) no\n\
               SELECT 1\n$$;\n\
               TRUNCATE a;\n";
    assert_fires(&found(sql), "truncate", 6, Warn);
}

#[test]
fn allow_without_reason_still_allows_but_is_reported() {
    let findings = lint_with("-- pgready:allow(truncate)\nTRUNCATE a;\n", true, &[]);
    assert_eq!(summary(&findings), [("allow-without-reason", 1, Warn)]);
    assert_eq!(
        findings[0].message,
        "`-- pgready:allow(truncate)` gives no reason: say after it why this is safe, e.g. \
         `-- pgready:allow(truncate) the table is empty`"
    );
    let required = lint_with(
        "-- pgready:allow(truncate)   \nTRUNCATE a;\n",
        true,
        &[("allow-without-reason", Deny)],
    );
    assert_eq!(summary(&required), [("allow-without-reason", 1, Deny)]);
}

#[test]
fn allow_of_an_unknown_rule_is_reported_with_a_suggestion() {
    let findings = lint_with(
        "SELECT 1;\n-- pgready:allow(truncat) because\nTRUNCATE a;\n",
        true,
        &[],
    );
    assert_eq!(
        summary(&findings),
        [("unknown-rule", 2, Warn), ("truncate", 3, Warn)]
    );
    assert_eq!(
        findings[0].message,
        "`-- pgready:allow(truncat)` names no pgready lint rule: did you mean `truncate`?"
    );
}

#[test]
fn malformed_and_misplaced_directives_are_reported() {
    let findings =
        found("-- pgready:allow truncate because\nSELECT 1;\n-- pgready:no-transaction\n");
    assert_eq!(
        findings,
        [
            ("invalid-directive", 1, Warn),
            ("invalid-directive", 3, Warn)
        ]
    );
    // on the first line, the marker is what it should be
    assert_eq!(found_no_tx("-- pgready:no-transaction\nSELECT 1;\n"), []);
    assert_eq!(
        found_no_tx("  -- pgready:no-transaction  \nSELECT 1;\n"),
        []
    );
    // not the whole first line: discovery would not read it either
    assert_eq!(
        found("SELECT 1; -- pgready:no-transaction\n"),
        [("invalid-directive", 1, Warn)]
    );
}

#[test]
fn unused_allow_is_reported() {
    let findings = found("-- pgready:allow(dropping-table) gone\nTRUNCATE a;\n");
    assert_eq!(findings, [("unused-allow", 1, Warn), ("truncate", 2, Warn)]);
    // a rule that fires but is set to `allow` still uses the comment
    let off = lint_with(
        "-- pgready:allow(truncate) gone\nTRUNCATE a;\n",
        true,
        &[("truncate", Allow)],
    );
    assert_eq!(summary(&off), []);
}

#[test]
fn squawk_ignore_comments_do_not_silence_anything() {
    let sql = "-- squawk-ignore-file\n/* squawk-ignore ban-truncate-cascade */\n\
               -- squawk-ignore require-concurrent-index-creation\n\
               CREATE INDEX IF NOT EXISTS i ON items (a);\n";
    assert_eq!(found(sql), [("require-concurrent-index-creation", 4, Warn)]);
}

#[test]
fn levels_override_the_defaults() {
    let sql = "CREATE INDEX CONCURRENTLY IF NOT EXISTS a ON items (a);\nTRUNCATE a;\n";
    assert_eq!(
        summary(&lint_with(sql, true, &[])),
        [
            ("concurrently-in-transaction", 1, Deny),
            ("truncate", 2, Warn)
        ]
    );
    assert_eq!(
        summary(&lint_with(
            sql,
            true,
            &[("concurrently-in-transaction", Warn), ("truncate", Deny)]
        )),
        [
            ("concurrently-in-transaction", 1, Warn),
            ("truncate", 2, Deny)
        ]
    );
    assert_eq!(
        summary(&lint_with(
            sql,
            true,
            &[("truncate", Allow), ("no-such-rule", Deny)]
        )),
        [("concurrently-in-transaction", 1, Deny)]
    );
    assert!(lint_with(sql, true, &[])[0].is_error());
    assert!(!lint_with(sql, true, &[])[1].is_error());
}

// --- output --------------------------------------------------------------------------------

fn two_findings() -> Vec<Finding> {
    vec![
        Finding {
            file: "migrations/1_a.sql".to_owned(),
            line: 3,
            rule: "truncate",
            level: Warn,
            message: "use `DELETE … WHERE`".to_owned(),
        },
        Finding {
            file: "dir\\2_\"b\".sql".to_owned(),
            line: 12,
            rule: "adding-not-null-field",
            level: Deny,
            message: "tab\there\nnew line \u{1}".to_owned(),
        },
    ]
}

#[test]
fn text_output_is_one_line_per_finding() {
    assert_eq!(
        to_text(&two_findings()),
        "migrations/1_a.sql:3: warn[truncate]: use `DELETE … WHERE`\n\
         dir\\2_\"b\".sql:12: deny[adding-not-null-field]: tab\there\nnew line \u{1}\n"
    );
    assert_eq!(to_text(&[]), "");
}

#[test]
fn findings_serialize_as_the_five_keys_in_order() {
    let json = serde_json::to_string(&two_findings()[..1]).unwrap_or_default();
    assert_eq!(
        json,
        "[{\"file\":\"migrations/1_a.sql\",\"line\":3,\"rule\":\"truncate\",\
         \"level\":\"warn\",\"message\":\"use `DELETE … WHERE`\"}]"
    );
}

#[test]
fn findings_are_sorted_by_line_and_carry_the_file_name() {
    let sql = "TRUNCATE b;\nDROP TABLE IF EXISTS a;\nTRUNCATE c;\n";
    let findings = lint_file("x/9_y.sql", sql, true, &BTreeMap::new());
    assert_eq!(
        findings
            .iter()
            .map(|f| (f.line, f.rule))
            .collect::<Vec<_>>(),
        [(1, "truncate"), (2, "dropping-table"), (3, "truncate")]
    );
    assert!(findings.iter().all(|f| f.file == "x/9_y.sql"));
    assert!(findings.iter().all(|f| !f.message.ends_with('.')
        && f.message.chars().next().is_some_and(|c| !c.is_uppercase())));
}
