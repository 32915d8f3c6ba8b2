//! The live server the operations commands work on: connecting with the project's DSN, the
//! catalog questions they ask, and PostgreSQL's client tools run against it.

pub mod catalog;
pub mod server;
pub mod tool;

pub use server::Server;
