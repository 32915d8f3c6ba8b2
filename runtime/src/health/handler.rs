//! The body of every health handler: the one `#[pgready::health_endpoint]` generates
//! ([`respond`]) and [`Db::health`]. Each answers from the endpoint's cache, from the probe in
//! flight, or from a new probe.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::response::Response;
use tracing::Instrument as _;

use super::builtin;
use super::endpoint::{Detail, Endpoint, Kind, Options};
use super::flight::Answer;
use super::probe::{self, CustomChecks};
use super::report::Report;
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
        answer(self, &DEFAULT, None).await.report.clone()
    }

    /// The newest readiness report of any endpoint, if younger than `[health] cache`; else a
    /// new probe through [`Db::health`]. Once a shutdown began no probe runs, and the newest
    /// report stands, whatever its age: a deploy is not an outage on the dashboards.
    pub(crate) async fn recent_health(&self) -> Arc<Report> {
        let max_age = if self.is_shutting_down() {
            Duration::MAX
        } else {
            self.config().health.cache
        };
        match self.health_registry().latest(max_age) {
            Some(report) => report,
            None => self.health().await,
        }
    }
}

/// The body of a generated health handler: the cached report when it is fresh, else the
/// result of the probe in flight, else a new probe; answered at the endpoint's detail.
#[doc(hidden)]
pub async fn respond(
    db: &Db,
    endpoint: &'static Endpoint,
    custom: Option<CustomChecks>,
) -> Response {
    answer(db, endpoint, custom).await.rendered.to_response()
}

/// The answer for `endpoint`: cached, in flight, or from a new probe; for readiness once a
/// shutdown began, `process:shutdown` failed, with no probe.
async fn answer(db: &Db, endpoint: &'static Endpoint, custom: Option<CustomChecks>) -> Arc<Answer> {
    if endpoint.kind == Kind::Readiness
        && let Some(check) = builtin::shutting_down(db)
    {
        // Not cached nor recorded for metrics: a deploy is not an outage.
        let report = Report::new(
            Kind::Readiness,
            vec![check],
            SystemTime::now(),
            Duration::ZERO,
        );
        return Arc::new(Answer::new(Arc::new(report), endpoint.detail));
    }
    let options = Options::resolve(endpoint, &db.config().health);
    let flight = db.health_registry().flight(endpoint.id.get());
    flight
        .get(options.cache, endpoint.detail, || {
            // Cloned only for a probe: a request answered from the cache touches no `Arc`
            // of the `Db`'s.
            let db = db.clone();
            async move {
                let namespace = db.write().acquire_times().namespace.clone();
                let span = crate::spans::health_probe(&namespace, options.kind);
                let probe = probe::run(&db, options, custom).instrument(span.clone());
                let report = Arc::new(probe.await);
                span.record("pgready.health.status", report.status().as_str());
                db.health_registry().record(options.kind, &report);
                Arc::new(Answer::new(report, endpoint.detail))
            }
        })
        .await
}
