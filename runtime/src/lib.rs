//! Production-ready PostgreSQL for sqlx services.
//!
//! (Not compiled here: the attribute reads `pgready.toml` next to your crate's `Cargo.toml`;
//! `tests/ui/migrated_pool/pass` compiles and runs this form.)
//!
//! ```ignore
//! #[pgready::migrated_pool(config = "pgready.toml")]
//! async fn main(db: pgready::Db) -> Result<(), pgready::sqlx::Error> {
//!     let one: i32 = pgready::sqlx::query_scalar("SELECT 1").fetch_one(db.write()).await?;
//!     assert_eq!(one, 1);
//!     Ok(())
//! }
//! ```
//!
//! `#[migrated_pool]` validates `pgready.toml` and every migration at compile time; at start-up
//! it connects (or starts an embedded PostgreSQL in development), applies session settings on
//! every connection, applies migrations under sqlx's advisory lock and hands `main` a [`Db`].
//!
//! `#[health_endpoint]` turns `async fn health() {}` into an axum handler answering
//! `application/health+json` ([`health`]); [`metrics::handler`] serves Prometheus metrics.
//!
//! The [`Db`] is best handed to handlers as framework state (axum's `State`); its docs show
//! the one way to keep it in a `static` when no state reaches the code.

// The modules, each using only those listed before it (`module_graph.rs` checks, file by file,
// that no module uses another in a circle, and prints the graph):
// - `embedded`: the development and test clusters;
// - `error`: `pgready::Error`, how a failed statement is described, its class, its HTTP answer;
// - `session`: the session settings batch, identifier and literal quoting;
// - `shutdown`: a shutdown's phase (serving, draining, stopping) and `shutdown_signal()`;
// - `signal`: SIGTERM and SIGINT;
// - `pool`: the pool engine, pooled connections, transactions, acquire latency;
// - `retry`: `TransactionOptions`, the retry policy and its counters;
// - `pooler`: telling a transaction pooler is there; the role settings it needs;
// - `connect`: DSN to connections: retry, the migration connection, pools;
// - `replica`: the read replica's pool, where reads go, the watcher that decides;
// - `migrate`: the migrator (`EmbeddedFile`, `Migrator`, `connection`);
// - `health::{check, endpoint, report, flight, registry}`: health state, no `Db` needed;
// - `db`: `Db`, which holds the pools, the migrator and that health state;
// - `health::{builtin, probe, handler}`: probing through a `Db`;
// - `metrics`: Prometheus text from a `Db`;
// - `stop`: the generated `main`'s ordered shutdown on a signal;
// - `start`: `Setup`, `start`, the `main` runner;
// - `testing`: `#[pgready::test]`'s databases, started through `start`.

mod connect;
mod db;
pub mod embedded;
mod error;
pub mod health;
pub mod metrics;
pub mod migrate;
#[cfg(test)]
mod module_graph;
#[cfg(feature = "metrics")]
mod otel;
mod pool;
mod pooler;
mod replica;
mod retry;
mod session;
mod shutdown;
mod signal;
mod spans;
mod start;
mod stop;
pub mod testing;

pub use db::Db;
pub use error::{Classify, Error, ErrorClass};
pub use pool::{Pool, PoolConnection, PoolStats, TrackedConnection, Transaction};
pub use retry::{IsolationLevel, TransactionOptions};
pub use start::{Setup, start};

/// The `pgready.toml` model, as validated at compile time.
pub use pgready_core::config;
pub use pgready_macros::health_endpoint;
pub use pgready_macros::migrated_pool;
pub use pgready_macros::test;
pub use pgready_macros::{Row, query, query_as, query_scalar};
/// The sqlx that pgready was built with.
pub use sqlx;

/// What macro expansions refer to; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::migrate::EmbeddedFile;
    pub use crate::start::{Setup, run};
    pub use crate::testing::{run_test, start_in_transaction, start_on_copy};
    pub use pgready_core::isolation::Isolation;

    pub use crate::Db;
    pub use axum;
    pub use futures_core::future::BoxFuture;

    /// What `#[health_endpoint]` expands to.
    pub mod health {
        pub use crate::health::{Checks, CustomChecks, Detail, Endpoint, Kind, respond};
    }
}
