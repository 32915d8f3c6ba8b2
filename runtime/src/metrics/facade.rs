//! The `metrics` feature: every figure of [`render`](super::render) also through the `metrics`
//! crate's facade, under OpenTelemetry's database client names where one exists
//! (`db.client.connection.*`) and `pgready.*` otherwise, so a service that already runs a
//! recorder (`metrics-exporter-prometheus`, an OpenTelemetry bridge) sees them with no second
//! endpoint.
//!
//! Nothing is added to the pool's hot path but one histogram record per acquire
//! (`db.client.connection.wait_time`). Gauges and counters are read from what pgready counts
//! anyway and published by a task of the `Db`'s, once a second, and by [`publish`]: counters
//! with [`Counter::absolute`](metrics::Counter::absolute), as the facade provides for counts
//! kept elsewhere. Every publication asks the facade for the current recorder, so a recorder
//! installed after start-up (inside `#[migrated_pool]`'s `main`) gets every figure, the
//! counters since start-up included.
//!
//! Health figures follow the latest readiness probe (a health endpoint's, [`Db::health`]'s or
//! [`render`](super::render)'s); publishing never probes the database.

use std::time::Duration;

use metrics::{Key, KeyName, Label, Recorder, SharedString, Unit};

use super::figures::{migration_counts, pools};
use crate::Db;
use crate::health::{CONNECTIVITY, REPLICATION, Report, Status};
use crate::otel::{METADATA, NAMESPACE, POOL_NAME, WAIT_TIME, pool_labels};

/// How often the `Db`'s task publishes.
const EVERY: Duration = Duration::from_secs(1);

const COUNT: &str = "db.client.connection.count";
const MAX: &str = "db.client.connection.max";
const IDLE_MIN: &str = "db.client.connection.idle.min";
const PENDING: &str = "db.client.connection.pending_requests";
const TIMEOUTS: &str = "db.client.connection.timeouts";
const DISCARDED: &str = "pgready.connection.discarded";
const APPLIED: &str = "pgready.migration.applied";
const MIGRATIONS_PENDING: &str = "pgready.migration.pending";
const HEALTH: &str = "pgready.health.status";
const CHECK: &str = "pgready.health.check.status";
const PROBES: &str = "pgready.health.probes";
const PROBE_DURATION: &str = "pgready.health.probe.duration";
const RESPONSE_TIME: &str = "pgready.health.response_time";
const REPLICA_LAG: &str = "pgready.replica.lag";
const RETRIES: &str = "pgready.transaction.retries";
const GIVE_UPS: &str = "pgready.transaction.give_ups";
const DROPS: &str = "pgready.transaction.drops";
const QUERIES: &str = "pgready.queries";
const QUERY_ERRORS: &str = "pgready.query.errors";

const STATE: &str = "db.client.connection.state";
const DISCARD_REASON: &str = "pgready.connection.discard_reason";
const STATUS: &str = "pgready.health.status";
const CHECK_NAME: &str = "pgready.health.check";
const COMPONENT: &str = "pgready.health.component";
/// OpenTelemetry's attribute for a database's status code: PostgreSQL's SQLSTATE.
const STATUS_CODE: &str = "db.response.status_code";
/// The SQLSTATE class of a failed query (`23`, `42`, …; `other` without one).
const ERROR_CLASS: &str = "pgready.query.error_class";

enum Instrument {
    Counter,
    Gauge,
    Histogram,
}

/// Every instrument: name, kind, unit, description.
const DESCRIPTIONS: [(&str, Instrument, Unit, &str); 20] = [
    (
        COUNT,
        Instrument::Gauge,
        Unit::Count,
        "Open connections in the pool, by state (idle, used).",
    ),
    (
        MAX,
        Instrument::Gauge,
        Unit::Count,
        "The pool's configured max_connections.",
    ),
    (
        IDLE_MIN,
        Instrument::Gauge,
        Unit::Count,
        "The pool's configured min_connections, kept open while idle.",
    ),
    (
        PENDING,
        Instrument::Gauge,
        Unit::Count,
        "Acquires waiting for a connection.",
    ),
    (
        TIMEOUTS,
        Instrument::Counter,
        Unit::Count,
        "Acquires that gave up after acquire_timeout.",
    ),
    (
        WAIT_TIME,
        Instrument::Histogram,
        Unit::Seconds,
        "Time taken to get a connection from the pool.",
    ),
    (
        DISCARDED,
        Instrument::Counter,
        Unit::Count,
        "Connections the pool closed, by reason.",
    ),
    (
        APPLIED,
        Instrument::Gauge,
        Unit::Count,
        "Migrations recorded as applied in the migrations table.",
    ),
    (
        MIGRATIONS_PENDING,
        Instrument::Gauge,
        Unit::Count,
        "Migrations of this build not applied to the database.",
    ),
    (
        HEALTH,
        Instrument::Gauge,
        Unit::Count,
        "Status of the latest readiness probe: 1 for the current status, 0 for the others.",
    ),
    (
        CHECK,
        Instrument::Gauge,
        Unit::Count,
        "Status of each check in the latest readiness probe: 1 for its status, 0 for the others.",
    ),
    (
        PROBES,
        Instrument::Counter,
        Unit::Count,
        "Health probes run by this process.",
    ),
    (
        PROBE_DURATION,
        Instrument::Gauge,
        Unit::Seconds,
        "How long the latest readiness probe took.",
    ),
    (
        RESPONSE_TIME,
        Instrument::Gauge,
        Unit::Seconds,
        "Round trip of SELECT 1 in the latest readiness probe.",
    ),
    (
        REPLICA_LAG,
        Instrument::Gauge,
        Unit::Seconds,
        "Replication lag of the read replica.",
    ),
    (
        RETRIES,
        Instrument::Counter,
        Unit::Count,
        "Transaction attempts run again after a retryable failure, by SQLSTATE.",
    ),
    (
        GIVE_UPS,
        Instrument::Counter,
        Unit::Count,
        "Retried transactions that gave up at their bounds, by the last SQLSTATE.",
    ),
    (
        DROPS,
        Instrument::Counter,
        Unit::Count,
        "Transactions dropped without commit or rollback, and so rolled back.",
    ),
    (
        QUERIES,
        Instrument::Counter,
        Unit::Count,
        "Queries run through the pool (counted when their connection goes back).",
    ),
    (
        QUERY_ERRORS,
        Instrument::Counter,
        Unit::Count,
        "Queries that failed, by SQLSTATE class.",
    ),
];

/// Publishes every pgready figure of `db` through the `metrics` facade now (the `Db` does so
/// once a second on its own): gauges are set, counters set to pgready's totals since start-up.
/// Health figures come from the latest readiness probe, if any; this never probes.
///
/// ```no_run
/// # fn f(db: &pgready::Db) {
/// // After installing a recorder, to see the figures before the next second:
/// pgready::metrics::publish(db);
/// # }
/// ```
pub fn publish(db: &Db) {
    metrics::with_recorder(|r| publish_to(r, db));
}

/// Publishes `db`'s figures once a second while it lives and is open.
pub(crate) fn spawn(db: &Db) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let weak = db.downgrade();
    runtime.spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(db) = weak.upgrade() else { return };
            if db.write().is_closed() {
                return;
            }
            publish(&db);
        }
    });
}

fn publish_to(r: &dyn Recorder, db: &Db) {
    describe(r);
    for (pool, p) in pools(db) {
        let stats = p.stats();
        let series = Series::new(r, pool_labels(pool, &p.acquire_times().namespace));
        series.gauge(COUNT, &[(STATE, "idle")], stats.idle);
        series.gauge(COUNT, &[(STATE, "used")], stats.in_use);
        series.gauge(MAX, &[], stats.max);
        series.gauge(IDLE_MIN, &[], p.limits().min_connections);
        series.gauge(PENDING, &[], stats.waiting);
        series.counter(TIMEOUTS, &[], p.acquire_times().snapshot().timeouts);
        for (why, count) in p.discarded() {
            series.counter(DISCARDED, &[(DISCARD_REASON, why.as_str())], count);
        }
        series.counter(DROPS, &[], p.dropped_transactions());
        let counts = p.query_counts();
        series.counter(QUERIES, &[], counts.queries());
        for (class, count) in counts.errors() {
            series.counter(QUERY_ERRORS, &[(ERROR_CLASS, class)], count);
        }
    }

    let namespace = db.write().acquire_times().namespace.clone();
    let series = Series::new(r, vec![Label::new(NAMESPACE, namespace)]);
    let report = db.health_registry().latest(Duration::MAX);
    let (applied, pending) = migration_counts(db, report.as_deref());
    series.gauge(APPLIED, &[], applied as f64);
    series.gauge(MIGRATIONS_PENDING, &[], pending as f64);
    series.counter(PROBES, &[], db.health_registry().probes());
    for (sqlstate, retries, give_ups) in db.retry_counts().snapshot() {
        series.counter(RETRIES, &[(STATUS_CODE, sqlstate)], retries);
        series.counter(GIVE_UPS, &[(STATUS_CODE, sqlstate)], give_ups);
    }
    if let Some(report) = report {
        health(&series, &report);
    }
}

fn health(series: &Series<'_>, report: &Report) {
    for status in Status::ALL {
        let value = if report.status() == status { 1 } else { 0 };
        series.gauge(HEALTH, &[(STATUS, status.as_str())], value);
    }
    for (key, check) in report.checks() {
        let component = check.component_id().unwrap_or("");
        for status in Status::ALL {
            let value = if check.status() == status { 1 } else { 0 };
            let attributes = [
                (CHECK_NAME, key),
                (COMPONENT, component),
                (STATUS, status.as_str()),
            ];
            series.gauge(CHECK, &attributes, value);
        }
    }
    series.gauge(PROBE_DURATION, &[], report.duration().as_secs_f64());
    for check in report.check(CONNECTIVITY) {
        if let (Some(ms), Some(pool)) = (check.observed_value(), check.component_id()) {
            series.gauge(RESPONSE_TIME, &[(POOL_NAME, pool)], ms / 1000.0);
        }
    }
    for lag in report.check(REPLICATION).filter_map(|c| c.observed_value()) {
        series.gauge(REPLICA_LAG, &[(POOL_NAME, "read")], lag);
    }
}

/// Figures that share attributes (one pool's, or the `Db`'s), published to one recorder.
struct Series<'r> {
    recorder: &'r dyn Recorder,
    labels: Vec<Label>,
}

impl<'r> Series<'r> {
    fn new(recorder: &'r dyn Recorder, labels: Vec<Label>) -> Series<'r> {
        Series { recorder, labels }
    }

    fn key(&self, name: &'static str, extra: &[(&'static str, &str)]) -> Key {
        let mut labels = self.labels.clone();
        labels.extend(
            extra
                .iter()
                .map(|&(k, v)| Label::new(k, SharedString::from(v.to_owned()))),
        );
        Key::from_parts(name, labels)
    }

    fn gauge(&self, name: &'static str, extra: &[(&'static str, &str)], value: impl Into<f64>) {
        let key = self.key(name, extra);
        self.recorder
            .register_gauge(&key, &METADATA)
            .set(value.into());
    }

    /// Counters are kept by pgready: the facade gets the total.
    fn counter(&self, name: &'static str, extra: &[(&'static str, &str)], total: u64) {
        let key = self.key(name, extra);
        self.recorder
            .register_counter(&key, &METADATA)
            .absolute(total);
    }
}

/// Descriptions go with every publication: a recorder installed late still gets them.
fn describe(r: &dyn Recorder) {
    for (name, kind, unit, help) in DESCRIPTIONS {
        let (name, help) = (KeyName::from_const_str(name), SharedString::const_str(help));
        match kind {
            Instrument::Counter => r.describe_counter(name, Some(unit), help),
            Instrument::Gauge => r.describe_gauge(name, Some(unit), help),
            Instrument::Histogram => r.describe_histogram(name, Some(unit), help),
        }
    }
}
