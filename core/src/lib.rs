//! Pure logic shared by pgready's compile time (the macros) and run time (the runtime crate):
//! configuration model and validation, DSN inspection, migration discovery and checksums,
//! migration lints, and the project check that runs them all.
//!
//! Nothing here touches a database, an async runtime or proc-macro tokens, so every rule is
//! unit-tested directly and the same function runs at compile time and at start-up.
//!
//! Modules depend on each other one way, from the top of this list down: [`project`] runs
//! [`config`], [`lint`] and [`migrations`]; `config` checks lint rule names with `lint`; `lint`
//! reads migration names with `migrations`; both parse SQL through one private module; and
//! every module builds on [`word`], [`suggest`], [`duration`], [`health`] and [`dsn`].

pub mod project;

pub mod config;
pub mod lint;
pub mod migrations;

pub mod dsn;
pub mod duration;
pub mod health;
pub mod suggest;
pub mod word;

mod message;
mod sql;
