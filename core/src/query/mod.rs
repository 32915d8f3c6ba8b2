//! Queries checked against the schema the migrations build, with no database: what
//! `pgready::query!`, `query_as!`, `query_scalar!` and `#[derive(pgready::Row)]` stand on.
//!
//! [`analyze`] parses one statement with the pinned squawk parser and resolves it against a
//! replayed [`Catalog`]: every relation and column must exist (an unknown one is an error with
//! "did you mean"), every `$n` gets a type from its context (a comparison, an `INSERT` value,
//! `UPDATE … SET`, `LIMIT`, a cast), and every result column gets a name, a type and a
//! nullability, as PostgreSQL's describe would give them.
//!
//! # Nullability
//!
//! A column is non-null only when pgready can prove it: a `NOT NULL` column (primary keys,
//! identity and serial columns included) read from a relation that is not on the nullable side
//! of an outer join, a non-null literal, `count(…)`, `EXISTS`, `IS [NOT] NULL`, a comparison,
//! arithmetic or cast of non-null operands, `COALESCE`/`GREATEST`/`LEAST` with a non-null
//! argument, and the few functions of [`functions`] that never return NULL for non-null
//! arguments. Everything else is nullable: other aggregates (NULL over no rows), scalar
//! subqueries (NULL when they find no row), `CASE` without `ELSE`, views' columns (PostgreSQL
//! records no `NOT NULL` for them), JSON operators. A nullable that is in fact never NULL costs
//! an `Option` or a `"col!"` override; a non-null that can be NULL would be a decode error at
//! run time, so pgready never guesses that way.
//!
//! # What it does not type
//!
//! A construct outside what it models (a function or operator it has no signature for, a
//! set-returning function in `FROM`, `LATERAL`, a row value, …) is an error at that position
//! that says what to write instead: a cast (`expr::type`) and, for nullability, sqlx's `"col!"`
//! / `"col?"` overrides. It never guesses a type.

mod analyze;
mod functions;

#[cfg(test)]
mod tests;

pub use analyze::analyze;

/// A statement checked against the schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Analysis {
    /// The type of `$1`, `$2`, …, as `format_type` prints it without a type modifier
    /// (`character varying`, `numeric`, `integer[]`): the type PostgreSQL infers for it.
    pub params: Vec<String>,
    /// The result columns, in order (empty for a statement without `RETURNING`).
    pub columns: Vec<OutputColumn>,
}

/// One result column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputColumn {
    /// Its name, as PostgreSQL names it (`AS` name, column name, function name, `?column?`).
    pub name: String,
    /// Its type, as `format_type` prints it without a type modifier.
    pub type_name: String,
    /// `None` when it is never NULL; else why it can be.
    pub nullable: Option<String>,
    /// The table column it reads, when it is one (`table`, `column`), for messages.
    pub source: Option<(String, String)>,
}

/// Why a statement was refused, at a byte offset of its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryError {
    /// Byte offset in the SQL text of what the message is about.
    pub offset: usize,
    /// What is wrong and what to write instead.
    pub message: String,
}

impl QueryError {
    pub(crate) fn at(offset: usize, message: impl Into<String>) -> QueryError {
        QueryError {
            offset,
            message: message.into(),
        }
    }
}

/// A type without its modifier: `character varying(255)` → `character varying`,
/// `numeric(10,2)[]` → `numeric[]`, `timestamp(3) with time zone` →
/// `timestamp with time zone`.
pub fn without_typmod(type_name: &str) -> String {
    let mut out = String::with_capacity(type_name.len());
    let mut depth = 0usize;
    let mut in_quotes = false;
    for c in type_name.chars() {
        match c {
            '"' => {
                in_quotes = !in_quotes;
                out.push(c);
            }
            '(' if !in_quotes => depth += 1,
            ')' if !in_quotes => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}
