//! The schema the migrations build, replayed without a database.
//!
//! [`replay`] runs the migrations (simple and `.up.sql` files, in version order) through the
//! pinned squawk parser and applies each statement to a model of PostgreSQL's catalog:
//! schemas and `search_path`, tables, columns (type as `format_type` prints it, `NOT NULL`,
//! default, identity, generated), primary key / unique / foreign key / check constraints with
//! the names PostgreSQL generates, indexes (the implicit ones included), enums with their label
//! order, domains, views (columns derived from simple queries) and the types extensions add.
//!
//! Every statement gets one [`Outcome`]: applied, no schema effect (grants, comments,
//! functions, data changes, …) or opaque (a `DO` block, `CREATE TABLE … AS`, anything the
//! replay does not model or cannot parse), with its file and line. What an opaque statement
//! may have touched is marked uncertain, and lookups on it answer [`Known::Unknown`] with that
//! file and line instead of a guess.
//!
//! ```
//! use pgready_core::schema::{Known, Outcome, replay_sql};
//!
//! let replay = replay_sql(
//!     "public",
//!     &[
//!         ("1_users.sql", "CREATE TABLE users (id bigserial PRIMARY KEY, email varchar(255));"),
//!         ("2_backfill.sql", "DO $$ BEGIN EXECUTE 'ALTER TABLE users ADD x int'; END $$;"),
//!     ],
//! );
//! assert_eq!(replay.statements[0].outcome, Outcome::Applied);
//! assert!(matches!(replay.statements[1].outcome, Outcome::Opaque(_)));
//! match replay.catalog.column("users", "email") {
//!     Known::Unknown(origin) => assert_eq!(origin.to_string(), "2_backfill.sql:1"),
//!     other => panic!("{other:?}"),
//! }
//! ```

mod catalog;
mod diff;
pub(crate) mod names;
mod objects;
pub(crate) mod replay;
mod show;
pub(crate) mod types;
mod view;

pub mod builtins;
pub mod rust_types;

#[cfg(test)]
mod tests;

pub use catalog::{
    Catalog, Column, Constraint, ConstraintKind, Domain, Enum, Identity, Index, Known, Origin,
    Schema, Table, View, ViewColumn,
};
pub use diff::{Drift, diff};
pub use show::to_text;

pub(crate) use replay::Replayer;

use crate::migrations::Migration;

/// What replaying one statement did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "outcome", content = "reason", rename_all = "snake_case")]
pub enum Outcome {
    /// the model now holds the statement's effect
    Applied,
    /// the statement changes no part of the schema the model keeps (data, grants, comments,
    /// functions, triggers, other settings, an `IF NOT EXISTS` that found the object)
    NoSchemaEffect,
    /// the replay cannot tell what the statement did; what it may have touched is uncertain
    Opaque(String),
}

/// One statement's outcome, with where it is.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct StatementOutcome {
    /// the file and line the statement starts on
    pub origin: Origin,
    /// what replaying it did
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// The result of a replay: the catalog and every statement's outcome, in order.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Replay {
    /// the model of the catalog after the last migration
    pub catalog: Catalog,
    /// one entry per statement of every replayed file
    pub statements: Vec<StatementOutcome>,
    /// what became of relations and columns, in order: for messages that name the migration
    /// (a query on a dropped column, a field on a column made nullable)
    #[serde(skip)]
    pub changes: Vec<Change>,
}

/// One change to a relation or a column, with the statement that made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// the statement
    pub origin: Origin,
    /// the relation's schema and name (its name at the time)
    pub relation: (String, String),
    /// the column (its name at the time), or `None` for the relation itself
    pub column: Option<String>,
    /// what happened
    pub kind: ChangeKind,
}

/// What a [`Change`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// dropped
    Dropped,
    /// renamed to this name
    RenamedTo(String),
    /// the column was created without `NOT NULL`, or lost it (`DROP NOT NULL`)
    MadeNullable,
}

impl Replay {
    /// What the migrations did to a relation (or, with `column`, a column of it) that is no
    /// longer there under that name: "was dropped by `file:line`" or "was renamed to `x` by
    /// `file:line`".
    pub fn fate(&self, relation: &(String, String), column: Option<&str>) -> Option<String> {
        let change = self.last_change(relation, column, |k| {
            matches!(k, ChangeKind::Dropped | ChangeKind::RenamedTo(_))
        })?;
        Some(match &change.kind {
            ChangeKind::RenamedTo(new) => format!("was renamed to `{new}` by `{}`", change.origin),
            _ => format!("was dropped by `{}`", change.origin),
        })
    }

    /// The last change of `kind`'s sort to the column (or, with `column` `None`, the relation)
    /// `relation` had under that name.
    pub fn last_change(
        &self,
        relation: &(String, String),
        column: Option<&str>,
        matches: impl Fn(&ChangeKind) -> bool,
    ) -> Option<&Change> {
        self.changes
            .iter()
            .rev()
            .find(|c| &c.relation == relation && c.column.as_deref() == column && matches(&c.kind))
    }
}

impl Replay {
    /// The opaque statements: `(origin, reason)`.
    pub fn opaque(&self) -> impl Iterator<Item = (&Origin, &str)> {
        self.statements.iter().filter_map(|s| match &s.outcome {
            Outcome::Opaque(reason) => Some((&s.origin, reason.as_str())),
            _ => None,
        })
    }
}

/// Replays `migrations` into a catalog whose unqualified names resolve in `base_schema`
/// (`[session] schema`, `public` by default). Only the files that run (`m.kind.is_applied()`)
/// count, in version order. They run on one connection, as pgready's and sqlx's migrators run
/// them: `SET search_path` holds for the following files too, `SET LOCAL` to the end of its file.
pub fn replay(migrations: &[Migration], base_schema: &str) -> Replay {
    let mut applied: Vec<&Migration> = migrations.iter().filter(|m| m.kind.is_applied()).collect();
    applied.sort_by_key(|m| m.version);
    let mut replayer = replay::Replayer::new(base_schema);
    for m in applied {
        replayer.file(&m.file_name, &m.sql);
    }
    replayer.finish()
}

/// Replays `(file name, text)` pairs in the order given: for tests and tools that have text
/// rather than [`Migration`]s.
pub fn replay_sql(base_schema: &str, files: &[(&str, &str)]) -> Replay {
    let mut replayer = replay::Replayer::new(base_schema);
    for (file, text) in files {
        replayer.file(file, text);
    }
    replayer.finish()
}
