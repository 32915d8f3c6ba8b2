//! Pure logic shared by pgready's compile time (the macros) and run time (the runtime crate):
//! configuration model and validation, DSN inspection, migration discovery and checksums,
//! migration lints.
//!
//! Nothing here touches a database, an async runtime or proc-macro tokens, so every rule is
//! unit-tested directly and the same function runs at compile time and at start-up.

pub mod config;
pub mod dsn;
pub mod lint;
pub mod migrations;
pub mod project;
pub mod schema;
