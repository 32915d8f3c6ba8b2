//! Pure logic shared by pgready's compile time (the macros) and run time (the runtime crate):
//! configuration model and validation, DSN inspection, migration discovery and checksums,
//! migration lints, and the project check that runs them all.
//!
//! Nothing here touches a database, an async runtime or proc-macro tokens, so every rule is
//! unit-tested directly and the same function runs at compile time and at start-up.
//!
//! Modules depend on each other one way, from the top down: [`project`] runs [`config`],
//! [`lint`] and [`migrations`]; `config` validates `[migrations.lints]` with `lint` (rule names,
//! [`lint::LintLevel`]); `lint` reads migration names and the no-transaction marker with
//! `migrations`; `lint` and `migrations` parse SQL through one private module (`sql`). Under
//! them all: [`health`] and the other word enums built with [`word`], the one "did you mean"
//! matcher [`suggest`], [`duration`] and [`dsn`]. [`schema`] replays migrations into a model of
//! the catalog and knows PostgreSQL's built-in functions, operators and types
//! (`schema::builtins`) and the Rust types sqlx decodes them into (`schema::rust_types`).

pub mod project;

pub mod backup;
pub mod config;
pub mod lint;
pub mod migrations;
pub mod query;
pub mod schema;

pub mod dsn;
pub mod duration;
pub mod health;
pub mod isolation;
pub mod suggest;
pub mod word;

mod message;
mod sql;
