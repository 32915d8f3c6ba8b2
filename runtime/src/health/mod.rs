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
//! [`Db::health`] runs the same built-in probe without an endpoint.

mod builtin;
mod check;
mod endpoint;
mod flight;
mod probe;
mod report;

use std::sync::Arc;

pub use check::{Check, Checks, Status};
pub use endpoint::{Detail, Kind};
pub use report::{CONTENT_TYPE, Report};

#[doc(hidden)]
pub use endpoint::{CustomChecks, Endpoint, EndpointId, respond};
pub(crate) use flight::Registry;

use crate::Db;

/// The endpoint behind [`Db::health`]: readiness, `[health]`'s timeout and cache.
static DEFAULT: Endpoint = Endpoint::new(Kind::Readiness, None, None, Detail::Status);

impl Db {
    /// The built-in readiness report, with `[health]`'s timeout and cache; shares the cache and
    /// the single flight with other callers of this method.
    ///
    /// ```no_run
    /// # async fn f(db: pgready::Db) {
    /// let report = db.health().await;
    /// println!("{} {}", report.status(), report.to_json(pgready::health::Detail::Status));
    /// # }
    /// ```
    pub async fn health(&self) -> Arc<Report> {
        flight::answer(self, &DEFAULT, None).await.report.clone()
    }

    /// The newest readiness report of any endpoint, if younger than `[health] cache`; else a
    /// new probe through [`Db::health`].
    pub(crate) async fn recent_health(&self) -> Arc<Report> {
        match self.health_registry().latest(self.config().health.cache) {
            Some(report) => report,
            None => self.health().await,
        }
    }
}

pub(crate) use builtin::{CONNECTIVITY, MIGRATIONS, REPLICATION};
