//! The rules squawk's linter already knows, run through `squawk_linter` and reported under
//! pgready's names with pgready's messages.
//!
//! squawk finds the statement; pgready decides the rule name, the level and the advice, which
//! names pgready's own ways out (`-- pgready:no-transaction`, a later migration).

use std::panic::{AssertUnwindSafe, catch_unwind};

use squawk_linter::{Linter, Rule as Squawk, Violation};
use squawk_syntax::ast::{self, AstNode};
use squawk_syntax::{SyntaxKind, SyntaxNode};

use super::Raw;
use super::rules::{
    ADDING_FIELD_WITH_VOLATILE_DEFAULT, ADDING_FOREIGN_KEY_CONSTRAINT, ADDING_NOT_NULL_FIELD,
    ADDING_PRIMARY_KEY_CONSTRAINT, ADDING_UNIQUE_CONSTRAINT, CHANGING_COLUMN_TYPE,
    CONSTRAINT_MISSING_NOT_VALID, DROPPING_COLUMN, DROPPING_DATABASE, DROPPING_TABLE,
    MISSING_LOCK_TIMEOUT, RENAMING_COLUMN, RENAMING_TABLE, REQUIRE_CONCURRENT_INDEX_CREATION,
    REQUIRE_CONCURRENT_INDEX_DELETION, SETTING_NOT_NULL, TRANSACTION_NESTING,
};
use crate::sql::Source;

/// The squawk rules pgready runs. Each maps to one pgready rule in [`translate`].
const SQUAWK_RULES: &[Squawk] = &[
    Squawk::RequireConcurrentIndexCreation,
    Squawk::RequireConcurrentIndexDeletion,
    Squawk::ConstraintMissingNotValid,
    Squawk::AddingForeignKeyConstraint,
    Squawk::DisallowedUniqueConstraint,
    Squawk::AddingSerialPrimaryKeyField,
    Squawk::AddingFieldWithDefault,
    Squawk::AddingRequiredField,
    Squawk::AddingNotNullableField,
    Squawk::ChangingColumnType,
    Squawk::RenamingColumn,
    Squawk::RenamingTable,
    Squawk::BanDropColumn,
    Squawk::BanDropTable,
    Squawk::BanDropDatabase,
    Squawk::TransactionNesting,
    Squawk::RequireLockTimeout,
];

/// Runs squawk's rules over the file. `in_transaction`: whether pgready wraps the file in a
/// transaction (squawk's `assume_in_transaction`).
pub(super) fn check(source: &Source, text: &str, in_transaction: bool, out: &mut Vec<Raw>) {
    let violations = catch_unwind(AssertUnwindSafe(|| {
        let mut linter = Linter::from(SQUAWK_RULES.iter().copied());
        linter.settings.assume_in_transaction = in_transaction;
        linter.lint(&source.parse, text)
    }));
    // a panic inside squawk's rules is a squawk bug: the file's other findings still stand
    let Ok(violations) = violations else { return };
    let root = source.parse.syntax_node();
    for violation in violations {
        if let Some(raw) = translate(&root, &violation, in_transaction) {
            out.push(raw);
        }
    }
}

/// The pgready finding for one squawk violation, or `None` when another pgready rule already
/// covers it better.
fn translate(root: &SyntaxNode, violation: &Violation, in_transaction: bool) -> Option<Raw> {
    let offset = usize::from(violation.text_range.start());
    let element = root.covering_element(violation.text_range);
    let node = match element.as_node() {
        Some(node) => node.clone(),
        None => element.as_token()?.parent()?,
    };
    let within = |kind: SyntaxKind| node.ancestors().find(|n| n.kind() == kind);
    let no_transaction_hint = if in_transaction {
        " in a migration whose first line is `-- pgready:no-transaction`"
    } else {
        ""
    };
    let (rule, message) = match violation.code {
        Squawk::RequireConcurrentIndexCreation => (
            &REQUIRE_CONCURRENT_INDEX_CREATION,
            format!(
                "`CREATE INDEX` blocks writes to the table while it builds: use \
                 `CREATE INDEX CONCURRENTLY`{no_transaction_hint}"
            ),
        ),
        Squawk::RequireConcurrentIndexDeletion => (
            &REQUIRE_CONCURRENT_INDEX_DELETION,
            format!(
                "`DROP INDEX` takes an `ACCESS EXCLUSIVE` lock that blocks reads and writes of \
                 the table: use `DROP INDEX CONCURRENTLY`{no_transaction_hint}"
            ),
        ),
        Squawk::ConstraintMissingNotValid => {
            if within(SyntaxKind::VALIDATE_CONSTRAINT).is_some() {
                (
                    &CONSTRAINT_MISSING_NOT_VALID,
                    "`VALIDATE CONSTRAINT` in the same transaction as its `NOT VALID` \
                     constraint keeps the `ADD CONSTRAINT` lock during the whole scan: validate \
                     it in a later migration"
                        .to_owned(),
                )
            } else {
                let add = within(SyntaxKind::ADD_CONSTRAINT).and_then(ast::AddConstraint::cast)?;
                match add.constraint()? {
                    // these cannot be `NOT VALID`: their own rules give the way out
                    ast::Constraint::UniqueConstraint(_)
                    | ast::Constraint::PrimaryKeyConstraint(_)
                    | ast::Constraint::ExcludeConstraint(_) => return None,
                    ast::Constraint::ForeignKeyConstraint(_)
                    | ast::Constraint::ReferencesConstraint(_) => (
                        &CONSTRAINT_MISSING_NOT_VALID,
                        "adding a foreign key scans the table while blocking writes to both \
                         tables: add it with `NOT VALID`, then `VALIDATE CONSTRAINT` in a later \
                         migration"
                            .to_owned(),
                    ),
                    _ => (
                        &CONSTRAINT_MISSING_NOT_VALID,
                        "adding a constraint scans the whole table under an `ACCESS EXCLUSIVE` \
                         lock: add it with `NOT VALID`, then `VALIDATE CONSTRAINT` in a later \
                         migration"
                            .to_owned(),
                    ),
                }
            }
        }
        Squawk::AddingForeignKeyConstraint => {
            // `ADD CONSTRAINT … FOREIGN KEY` is `constraint-missing-not-valid`'s; only the
            // inline `ADD COLUMN … REFERENCES` (which cannot be `NOT VALID`) is left here
            within(SyntaxKind::ADD_COLUMN)?;
            (
                &ADDING_FOREIGN_KEY_CONSTRAINT,
                "`ADD COLUMN … REFERENCES` validates the foreign key while blocking writes to \
                 both tables: add the column without `REFERENCES`, then \
                 `ADD CONSTRAINT … FOREIGN KEY … NOT VALID` and `VALIDATE CONSTRAINT` in a later \
                 migration"
                    .to_owned(),
            )
        }
        Squawk::DisallowedUniqueConstraint => (
            &ADDING_UNIQUE_CONSTRAINT,
            "adding a `UNIQUE` constraint builds its index under an `ACCESS EXCLUSIVE` lock: \
             `CREATE UNIQUE INDEX CONCURRENTLY` first, then \
             `ADD CONSTRAINT … UNIQUE USING INDEX`"
                .to_owned(),
        ),
        Squawk::AddingSerialPrimaryKeyField => (
            &ADDING_PRIMARY_KEY_CONSTRAINT,
            "adding a `PRIMARY KEY` builds its index under an `ACCESS EXCLUSIVE` lock: \
             `CREATE UNIQUE INDEX CONCURRENTLY` first, then \
             `ADD CONSTRAINT … PRIMARY KEY USING INDEX`"
                .to_owned(),
        ),
        Squawk::AddingFieldWithDefault => {
            let message = if within(SyntaxKind::GENERATED_CONSTRAINT).is_some() {
                "a stored generated column rewrites the whole table under an `ACCESS EXCLUSIVE` \
                 lock: add a plain nullable column, backfill it in batches, and keep it up to \
                 date with a trigger"
            } else {
                "a volatile default rewrites the whole table under an `ACCESS EXCLUSIVE` lock: \
                 add the column without a default (or with a constant one), backfill it in \
                 batches, then `SET DEFAULT`"
            };
            (&ADDING_FIELD_WITH_VOLATILE_DEFAULT, message.to_owned())
        }
        Squawk::AddingRequiredField => (
            &ADDING_NOT_NULL_FIELD,
            "a `NOT NULL` column without a default fails on a table that has rows: give it a \
             constant `DEFAULT`, or add it nullable, backfill it, then make it `NOT NULL`"
                .to_owned(),
        ),
        Squawk::AddingNotNullableField => (
            &SETTING_NOT_NULL,
            "`SET NOT NULL` scans the whole table under an `ACCESS EXCLUSIVE` lock: add \
             `CHECK (column IS NOT NULL) NOT VALID`, `VALIDATE CONSTRAINT` it in a later \
             migration, then `SET NOT NULL` (which then skips the scan)"
                .to_owned(),
        ),
        Squawk::ChangingColumnType => (
            &CHANGING_COLUMN_TYPE,
            "changing a column's type usually rewrites the table under an `ACCESS EXCLUSIVE` \
             lock and breaks the code still running: add a column of the new type, backfill it, \
             move readers and writers over, then drop the old one"
                .to_owned(),
        ),
        Squawk::RenamingColumn => (
            &RENAMING_COLUMN,
            "renaming a column breaks the code still running during the deploy: add the new \
             column, write to both, move readers over, then drop the old one in a later \
             migration"
                .to_owned(),
        ),
        Squawk::RenamingTable => (
            &RENAMING_TABLE,
            "renaming a table breaks the code still running during the deploy: create the new \
             table (or a view under the old name) and move the code over before dropping the \
             old name"
                .to_owned(),
        ),
        Squawk::BanDropColumn => (
            &DROPPING_COLUMN,
            "dropping a column breaks the code still running that reads it: release code that \
             no longer uses the column first, then drop it in a later migration"
                .to_owned(),
        ),
        Squawk::BanDropTable => (
            &DROPPING_TABLE,
            "dropping a table loses its data and breaks the code still running that uses it: \
             release code that no longer uses the table first, then drop it in a later \
             migration"
                .to_owned(),
        ),
        Squawk::BanDropDatabase => (
            &DROPPING_DATABASE,
            "`DROP DATABASE` does not belong in a migration: drop databases by hand, outside \
             the application's migrations"
                .to_owned(),
        ),
        Squawk::TransactionNesting => {
            let begins = within(SyntaxKind::BEGIN).is_some();
            let message = match (in_transaction, begins) {
                (true, true) => {
                    "pgready already runs this migration in a transaction, so this `BEGIN` does \
                     nothing and a matching `COMMIT` would end pgready's transaction early: \
                     remove it, or make `-- pgready:no-transaction` the file's first line"
                }
                (true, false) => {
                    "this ends the transaction pgready runs the migration in, so the rest of \
                     the file and the migration's record are no longer applied atomically: \
                     remove it, or make `-- pgready:no-transaction` the file's first line"
                }
                (false, true) => {
                    "`BEGIN` while a transaction is already open: `COMMIT` the previous one \
                     first"
                }
                (false, false) => {
                    "there is no open transaction to end here: remove the statement or `BEGIN` \
                     before it"
                }
            };
            (&TRANSACTION_NESTING, message.to_owned())
        }
        Squawk::RequireLockTimeout => (
            &MISSING_LOCK_TIMEOUT,
            "this statement waits for its lock with no `lock_timeout` set in the file, and every \
             query on the table queues behind it: start the file with \
             `SET lock_timeout = '5s';` when it may run without pgready's \
             `[migrations] lock_timeout`"
                .to_owned(),
        ),
        _ => return None,
    };
    Some(Raw::new(offset, rule, message))
}
