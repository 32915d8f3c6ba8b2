//! Health: an `application/health+json` report (draft-inadarei-api-health-check) that an
//! orchestrator can trust and that cannot overload the database.
//!
//! `#[pgready::health_endpoint]` turns an async fn into an axum handler:
//!
//! ```
//! #[pgready::health_endpoint]
//! async fn health() {}
//!
//! #[pgready::health_endpoint(kind = "liveness")]
//! async fn live() {}
//!
//! let app: axum::Router<pgready::Db> = axum::Router::new()
//!     .route("/health", axum::routing::get(health))
//!     .route("/health/live", axum::routing::get(live));
//! ```
//!
//! - Readiness (the default) checks `postgres:connectivity` (response time of `SELECT 1`),
//!   `postgres:pool` (utilization and connections per pool), `migrations:status` (applied,
//!   pending, latest) and, with a read replica, `postgres:replication` (lag); liveness never
//!   touches the database and reports `process:uptime`.
//! - Checks run concurrently, each under the timeout; a check that fails, panics or times out
//!   is a failed check. Any failed check: `fail`, HTTP 503. Else any warning: `warn`, HTTP 200.
//!   Else `pass`, HTTP 200.
//! - One probe per endpoint runs at a time and its result is cached for `cache`: a storm of
//!   requests costs the database one probe per period.
//! - The body never carries a DSN, password, host name or database error text unless
//!   `detail = "full"`.
//!
//! [`Db::health`](crate::Db::health) runs the same built-in probe without an endpoint.
//!
//! The files, each using only those listed before it (and `crate::Db` from `builtin` on):
//! `check.rs` (one check's result, custom checks), `endpoint.rs` (an endpoint's options),
//! `report.rs` (the report and its JSON), `flight.rs` (cache and single flight),
//! `registry.rs` (the health state a `Db` carries), `builtin.rs` (the built-in checks),
//! `probe.rs` (one probe: every check under one deadline), `handler.rs` (a handler's body and
//! [`Db::health`](crate::Db::health)).

mod builtin;
mod check;
mod endpoint;
mod flight;
mod handler;
mod probe;
mod registry;
mod report;

pub use check::{Check, Checks, Status};
pub use endpoint::{Detail, Kind};
pub use report::{CONTENT_TYPE, Report};

pub(crate) use builtin::{CONNECTIVITY, MIGRATIONS, REPLICATION};
#[doc(hidden)]
pub use endpoint::{Endpoint, EndpointId};
#[doc(hidden)]
pub use handler::respond;
#[doc(hidden)]
pub use probe::CustomChecks;
pub(crate) use registry::Registry;
