//! pgready's own rules, over squawk's syntax tree: `concurrently-in-transaction`, `truncate`,
//! `non-idempotent-ddl` and `mixed-ddl-and-dml`.

use std::collections::BTreeSet;

use squawk_syntax::ast::{self, AstNode};
use squawk_syntax::{SyntaxKind, SyntaxNode};

use super::Raw;
use super::rules::{CONCURRENTLY_IN_TRANSACTION, MIXED_DDL_AND_DML, NON_IDEMPOTENT_DDL, TRUNCATE};
use crate::sql::{Source, node_start};

/// Runs every project rule.
pub(super) fn check(source: &Source, in_transaction: bool, out: &mut Vec<Raw>) {
    concurrently_in_transaction(source, in_transaction, out);
    truncate(source, out);
    non_idempotent_ddl(source, out);
    mixed_ddl_and_dml(source, out);
}

/// `CONCURRENTLY` operations that PostgreSQL refuses inside a transaction block: the migration
/// would fail when it runs, so this is found before it ships.
fn concurrently_in_transaction(source: &Source, in_transaction: bool, out: &mut Vec<Raw>) {
    // inside a no-transaction file, an explicit `BEGIN` … `COMMIT` is a transaction block too
    let mut explicit = false;
    for stmt in source.stmts() {
        let what = match &stmt {
            ast::Stmt::Begin(_) => {
                explicit = true;
                None
            }
            ast::Stmt::Commit(_) | ast::Stmt::Rollback(_) => {
                explicit = false;
                None
            }
            ast::Stmt::CreateIndex(it) if it.concurrently_token().is_some() => {
                Some("CREATE INDEX CONCURRENTLY")
            }
            ast::Stmt::DropIndex(it) if it.concurrently_token().is_some() => {
                Some("DROP INDEX CONCURRENTLY")
            }
            ast::Stmt::Reindex(it) if it.is_concurrently() => Some("REINDEX … CONCURRENTLY"),
            ast::Stmt::AlterTable(it)
                if it.actions().any(|action| detaches_concurrently(&action)) =>
            {
                Some("DETACH PARTITION … CONCURRENTLY")
            }
            _ => None,
        };
        let Some(what) = what else { continue };
        let message = if in_transaction {
            format!(
                "`{what}` cannot run inside a transaction, so this migration would fail: make \
                 `-- pgready:no-transaction` the first line of the file (pgready then runs its \
                 statements one by one)"
            )
        } else if explicit {
            format!(
                "`{what}` cannot run inside a transaction block: move it out of the `BEGIN` … \
                 `COMMIT`"
            )
        } else {
            continue;
        };
        out.push(Raw::new(
            node_start(stmt.syntax()),
            &CONCURRENTLY_IN_TRANSACTION,
            message,
        ));
    }
}

fn detaches_concurrently(action: &ast::AlterTableAction) -> bool {
    matches!(
        action,
        ast::AlterTableAction::DetachPartition(detach)
            if matches!(
                detach.detach_partition_option(),
                Some(ast::DetachPartitionOption::DetachConcurrently(_))
            )
    )
}

/// `TRUNCATE` empties whole tables; in a migration that is almost always a mistake.
fn truncate(source: &Source, out: &mut Vec<Raw>) {
    for stmt in source.stmts() {
        let ast::Stmt::Truncate(truncate) = &stmt else {
            continue;
        };
        let cascade = matches!(
            truncate.drop_behavior(),
            Some(ast::DropBehavior::Cascade(_))
        );
        let message = format!(
            "`TRUNCATE` deletes every row of the table under an `ACCESS EXCLUSIVE` lock{}: \
             delete the rows you mean with `DELETE … WHERE`, or allow `truncate` with a reason \
             if emptying the table is the point",
            if cascade {
                ", and `CASCADE` also empties every table that references it"
            } else {
                ""
            }
        );
        out.push(Raw::new(node_start(stmt.syntax()), &TRUNCATE, message));
    }
}

/// How a statement is made re-runnable.
enum Fix {
    /// `CREATE … IF NOT EXISTS`, `ADD … IF NOT EXISTS`
    IfNotExists,
    /// `CREATE OR REPLACE …`
    OrReplace,
    /// `DROP … IF EXISTS`
    IfExists,
}

/// DDL that fails when run a second time: a migration that stopped half-way (outside a
/// transaction, or applied by hand) cannot simply be run again.
///
/// `DROP … IF EXISTS x` followed by `CREATE … x` is the classic re-runnable form (the only one
/// for triggers before PostgreSQL 14) and is not reported.
fn non_idempotent_ddl(source: &Source, out: &mut Vec<Raw>) {
    let mut dropped = BTreeSet::new();
    for stmt in source.stmts() {
        dropped.extend(dropped_if_exists(&stmt));
        let start = node_start(stmt.syntax());
        if let ast::Stmt::CreateIndex(index) = &stmt
            && index.index().is_none()
        {
            out.push(Raw::new(
                start,
                &NON_IDEMPOTENT_DDL,
                "an unnamed `CREATE INDEX` adds one more index every time it runs: name it and \
                 write `CREATE INDEX IF NOT EXISTS <name>`"
                    .to_owned(),
            ));
            continue;
        }
        if let Some((what, fix)) = missing_guard(&stmt)
            && !created_object(&stmt).is_some_and(|object| dropped.contains(&object))
        {
            out.push(Raw::new(
                start,
                &NON_IDEMPOTENT_DDL,
                guard_message(what, fix),
            ));
        }
        match &stmt {
            ast::Stmt::AlterTable(alter) => {
                for action in alter.actions() {
                    let missing = match &action {
                        ast::AlterTableAction::AddColumn(it) if it.if_not_exists().is_none() => {
                            Some(("ADD COLUMN", Fix::IfNotExists))
                        }
                        ast::AlterTableAction::DropColumn(it) if it.if_exists().is_none() => {
                            Some(("DROP COLUMN", Fix::IfExists))
                        }
                        ast::AlterTableAction::DropConstraint(it) if it.if_exists().is_none() => {
                            Some(("DROP CONSTRAINT", Fix::IfExists))
                        }
                        _ => None,
                    };
                    if let Some((what, fix)) = missing {
                        out.push(Raw::new(
                            node_start(action.syntax()),
                            &NON_IDEMPOTENT_DDL,
                            guard_message(what, fix),
                        ));
                    }
                }
            }
            ast::Stmt::AlterType(alter) => {
                if let Some(ast::AlterTypeAction::AddValue(add)) = alter.action()
                    && add.if_not_exists().is_none()
                {
                    out.push(Raw::new(
                        node_start(add.syntax()),
                        &NON_IDEMPOTENT_DDL,
                        guard_message("ADD VALUE", Fix::IfNotExists),
                    ));
                }
            }
            _ => {}
        }
    }
}

/// `(kind, name)` of every object a `DROP … IF EXISTS` removes: `("TRIGGER", "touch")`.
fn dropped_if_exists(stmt: &ast::Stmt) -> Vec<(String, String)> {
    let node = stmt.syntax();
    let kind = format!("{:?}", node.kind());
    let Some(object_kind) = kind.strip_prefix("DROP_") else {
        return Vec::new();
    };
    let mut names = Vec::new();
    let mut after_if_exists = false;
    for child in node.children() {
        match child.kind() {
            SyntaxKind::IF_EXISTS => after_if_exists = true,
            SyntaxKind::ON_RELATION => {}
            _ if after_if_exists => {
                let kind = format!("{:?}", child.kind());
                // `DROP FUNCTION IF EXISTS f(int), g()`: a list of signatures
                let items: Vec<SyntaxNode> = if kind.ends_with("_LIST") {
                    child.children().collect()
                } else {
                    vec![child]
                };
                names.extend(items.iter().filter_map(object_name));
            }
            _ => {}
        }
    }
    names
        .into_iter()
        .map(|name| (object_kind.to_owned(), name))
        .collect()
}

/// `(kind, name)` of the object a `CREATE` statement makes: `("TRIGGER", "touch")`.
fn created_object(stmt: &ast::Stmt) -> Option<(String, String)> {
    let node = stmt.syntax();
    let kind = format!("{:?}", node.kind());
    let object_kind = kind.strip_prefix("CREATE_")?;
    let object_kind = object_kind.strip_suffix("_AS").unwrap_or(object_kind);
    // the first node after the keywords, `OR REPLACE`, `TEMP`/`UNLOGGED` and `IF NOT EXISTS`
    // is the name
    let name = node
        .children()
        .find(|child| {
            !matches!(
                child.kind(),
                SyntaxKind::OR_REPLACE
                    | SyntaxKind::IF_NOT_EXISTS
                    | SyntaxKind::TEMP
                    | SyntaxKind::UNLOGGED
            )
        })
        .and_then(|child| object_name(&child))?;
    Some((object_kind.to_owned(), name))
}

/// The unqualified name a name node stands for, folded the way PostgreSQL folds it:
/// `public.Touch` → `touch`, `"Touch"` → `Touch`, `f(int)` → `f`.
fn object_name(node: &SyntaxNode) -> Option<String> {
    if format!("{:?}", node.kind()).ends_with("_SIG") {
        return node.children().next().and_then(|name| object_name(&name));
    }
    let text = node.text().to_string();
    let path = text.split('(').next()?.trim();
    let last = path.rsplit('.').next()?.trim();
    if last.is_empty() {
        return None;
    }
    Some(
        match last.strip_prefix('"').and_then(|l| l.strip_suffix('"')) {
            Some(quoted) => quoted.to_owned(),
            None => last.to_lowercase(),
        },
    )
}

fn guard_message(what: &str, fix: Fix) -> String {
    let (fails, written) = match fix {
        Fix::IfNotExists if what.starts_with("ADD") => (
            "what it adds already exists",
            with_guard(what, "IF NOT EXISTS"),
        ),
        Fix::IfNotExists => (
            "what it creates already exists",
            with_guard(what, "IF NOT EXISTS"),
        ),
        Fix::IfExists => (
            "what it drops is already gone",
            with_guard(what, "IF EXISTS"),
        ),
        Fix::OrReplace => (
            "what it creates already exists",
            what.replacen("CREATE ", "CREATE OR REPLACE ", 1),
        ),
    };
    format!(
        "`{what}` fails when {fails}, so the migration cannot be run again after a partial \
         failure: write `{written}`"
    )
}

/// `CREATE INDEX CONCURRENTLY` + `IF NOT EXISTS` → `CREATE INDEX CONCURRENTLY IF NOT EXISTS`;
/// `CREATE TABLE … AS` + `IF NOT EXISTS` → `CREATE TABLE IF NOT EXISTS … AS`.
fn with_guard(what: &str, guard: &str) -> String {
    match what.strip_suffix(" … AS") {
        Some(head) => format!("{head} {guard} … AS"),
        None => format!("{what} {guard}"),
    }
}

/// The statement's name and the guard it lacks, for `CREATE`/`DROP` statements that have one.
fn missing_guard(stmt: &ast::Stmt) -> Option<(&'static str, Fix)> {
    use ast::Stmt as S;

    macro_rules! guarded {
        ($stmt:expr; $fix:ident via $method:ident: $($variant:ident => $what:literal,)*) => {
            match $stmt {
                $(S::$variant(it) => {
                    return it.$method().is_none().then_some(($what, Fix::$fix));
                })*
                _ => {}
            }
        };
    }

    if let S::CreateIndex(it) = stmt {
        let what = if it.concurrently_token().is_some() {
            "CREATE INDEX CONCURRENTLY"
        } else {
            "CREATE INDEX"
        };
        return it
            .if_not_exists()
            .is_none()
            .then_some((what, Fix::IfNotExists));
    }
    if let S::CreateTable(it) = stmt {
        // a temporary table lives only as long as the session that runs the migration
        let temporary = matches!(it.persistence(), Some(ast::Persistence::Temp(_)));
        return (it.if_not_exists().is_none() && !temporary)
            .then_some(("CREATE TABLE", Fix::IfNotExists));
    }
    if let S::DropIndex(it) = stmt {
        let what = if it.concurrently_token().is_some() {
            "DROP INDEX CONCURRENTLY"
        } else {
            "DROP INDEX"
        };
        return it.if_exists().is_none().then_some((what, Fix::IfExists));
    }
    guarded!(stmt; IfNotExists via if_not_exists:
        CreateTableAs => "CREATE TABLE … AS",
        CreateSchema => "CREATE SCHEMA",
        CreateSequence => "CREATE SEQUENCE",
        CreateExtension => "CREATE EXTENSION",
        CreateMaterializedView => "CREATE MATERIALIZED VIEW",
        CreateForeignTable => "CREATE FOREIGN TABLE",
        CreateStatistics => "CREATE STATISTICS",
        CreateServer => "CREATE SERVER",
        CreateCollation => "CREATE COLLATION",
        CreateUserMapping => "CREATE USER MAPPING",
    );
    guarded!(stmt; OrReplace via or_replace:
        CreateFunction => "CREATE FUNCTION",
        CreateProcedure => "CREATE PROCEDURE",
        CreateView => "CREATE VIEW",
        CreateTrigger => "CREATE TRIGGER",
        CreateRule => "CREATE RULE",
        CreateAggregate => "CREATE AGGREGATE",
        CreateLanguage => "CREATE LANGUAGE",
        CreateTransform => "CREATE TRANSFORM",
    );
    guarded!(stmt; IfExists via if_exists:
        DropTable => "DROP TABLE",
        DropView => "DROP VIEW",
        DropMaterializedView => "DROP MATERIALIZED VIEW",
        DropSequence => "DROP SEQUENCE",
        DropSchema => "DROP SCHEMA",
        DropType => "DROP TYPE",
        DropDomain => "DROP DOMAIN",
        DropFunction => "DROP FUNCTION",
        DropProcedure => "DROP PROCEDURE",
        DropRoutine => "DROP ROUTINE",
        DropAggregate => "DROP AGGREGATE",
        DropTrigger => "DROP TRIGGER",
        DropRule => "DROP RULE",
        DropPolicy => "DROP POLICY",
        DropExtension => "DROP EXTENSION",
        DropForeignTable => "DROP FOREIGN TABLE",
        DropStatistics => "DROP STATISTICS",
        DropCollation => "DROP COLLATION",
        DropConversion => "DROP CONVERSION",
        DropCast => "DROP CAST",
        DropOperator => "DROP OPERATOR",
        DropOperatorClass => "DROP OPERATOR CLASS",
        DropOperatorFamily => "DROP OPERATOR FAMILY",
        DropEventTrigger => "DROP EVENT TRIGGER",
        DropPublication => "DROP PUBLICATION",
        DropSubscription => "DROP SUBSCRIPTION",
        DropServer => "DROP SERVER",
        DropUserMapping => "DROP USER MAPPING",
        DropForeignDataWrapper => "DROP FOREIGN DATA WRAPPER",
        DropAccessMethod => "DROP ACCESS METHOD",
        DropLanguage => "DROP LANGUAGE",
        DropTransform => "DROP TRANSFORM",
        DropTextSearchConfig => "DROP TEXT SEARCH CONFIGURATION",
        DropTextSearchDict => "DROP TEXT SEARCH DICTIONARY",
        DropTextSearchParser => "DROP TEXT SEARCH PARSER",
        DropTextSearchTemplate => "DROP TEXT SEARCH TEMPLATE",
        DropRole => "DROP ROLE",
        DropUser => "DROP USER",
        DropGroup => "DROP GROUP",
        DropDatabase => "DROP DATABASE",
        DropTablespace => "DROP TABLESPACE",
    );
    None
}

/// Schema changes and data changes in one file: in a transaction the data change runs while
/// the DDL's locks are held, and a slow backfill turns a quick schema change into an outage.
/// Rows written into a table the same file creates (seed data) are not a data migration and
/// do not count.
fn mixed_ddl_and_dml(source: &Source, out: &mut Vec<Raw>) {
    let created: BTreeSet<String> = source
        .stmts()
        .filter_map(|stmt| match stmt {
            ast::Stmt::CreateTable(it) => Some(it.table_name()?.path()?.segment()?.text()),
            ast::Stmt::CreateTableAs(it) => Some(it.table_name()?.path()?.segment()?.text()),
            _ => None,
        })
        .collect();
    if !source.stmts().any(|stmt| is_ddl(&stmt)) {
        return;
    }
    let first_dml = source.stmts().find_map(|stmt| {
        let (verb, table) = dml_target(&stmt)?;
        if table.as_ref().is_some_and(|table| created.contains(table)) {
            return None;
        }
        Some((node_start(stmt.syntax()), verb))
    });
    if let Some((offset, verb)) = first_dml {
        out.push(Raw::new(
            offset,
            &MIXED_DDL_AND_DML,
            format!(
                "this file changes the schema and also existing rows (`{verb}`): move the data \
                 change into its own migration, so the schema change's locks are not held while \
                 rows change and each part can be retried on its own"
            ),
        ));
    }
}

/// Schema-changing statements: every `CREATE …`, `ALTER …` and `DROP …`.
fn is_ddl(stmt: &ast::Stmt) -> bool {
    // squawk names statement kinds after their leading keywords (`CREATE_TABLE`,
    // `ALTER_SEQUENCE`, `DROP_VIEW`, …), which covers all ~130 of them without a list to keep
    // in sync with the grammar
    let kind = format!("{:?}", stmt.syntax().kind());
    ["CREATE_", "ALTER_", "DROP_"]
        .iter()
        .any(|prefix| kind.starts_with(prefix))
}

/// The verb and the target table (unqualified, normalized) of a data-changing statement.
fn dml_target(stmt: &ast::Stmt) -> Option<(&'static str, Option<String>)> {
    match stmt {
        ast::Stmt::Insert(it) => Some((
            "INSERT",
            it.relation_name_ref()
                .and_then(|r| r.path_ref())
                .and_then(|p| p.segment())
                .map(|s| s.text()),
        )),
        ast::Stmt::Update(it) => Some((
            "UPDATE",
            it.relation_name()
                .and_then(|r| r.relation_name_ref())
                .and_then(|r| r.path_ref())
                .and_then(|p| p.segment())
                .map(|s| s.text()),
        )),
        ast::Stmt::Delete(it) => Some((
            "DELETE",
            it.relation_name()
                .and_then(|r| r.relation_name_ref())
                .and_then(|r| r.path_ref())
                .and_then(|p| p.segment())
                .map(|s| s.text()),
        )),
        ast::Stmt::Merge(it) => Some((
            "MERGE",
            it.table_relation_name()
                .and_then(|r| r.table_name_ref())
                .and_then(|r| r.path_ref())
                .and_then(|p| p.segment())
                .map(|s| s.text()),
        )),
        _ => None,
    }
}
