//! Metrics in the Prometheus text format, rendered on request from the [`Db`]'s own counters:
//! no global recorder, nothing to install.
//!
//! ```
//! let app: axum::Router<pgready::Db> =
//!     axum::Router::new().route("/metrics", axum::routing::get(pgready::metrics::handler));
//! ```
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `pgready_pool_connections` | gauge | `pool`: open connections, idle or in use |
//! | `pgready_pool_idle_connections` | gauge | `pool` |
//! | `pgready_pool_in_use_connections` | gauge | `pool` |
//! | `pgready_pool_max_connections` | gauge | `pool`: the configured `max_connections` |
//! | `pgready_pool_waiting_acquires` | gauge | `pool`: acquires waiting for a connection |
//! | `pgready_pool_acquire_duration_seconds` | histogram | `pool`: time to get a connection |
//! | `pgready_pool_acquire_timeouts_total` | counter | `pool`: acquires that hit `acquire_timeout` |
//! | `pgready_pool_connections_discarded_total` | counter | `pool`, `reason`: `max_lifetime`, `idle_timeout`, `broken` (failed validation or I/O), `dirty` (could not be made clean after release) |
//! | `pgready_migrations_applied` | gauge | |
//! | `pgready_migrations_pending` | gauge | |
//! | `pgready_health_status` | gauge | `status`: 1 for the current status, 0 for the others |
//! | `pgready_health_check_status` | gauge | `check`, `component`, `status` |
//! | `pgready_health_probes_total` | counter | probes run by this process |
//! | `pgready_health_probe_duration_seconds` | gauge | the latest probe |
//! | `pgready_postgres_response_time_seconds` | gauge | `pool`: `SELECT 1` in the latest probe |
//! | `pgready_replica_lag_seconds` | gauge | with a read replica |
//! | `pgready_replica_serving_reads` | gauge | with a read replica: 1 while `db.read()` goes to it, 0 while reads fall back to the primary |
//! | `pgready_transaction_retries_total` | counter | `sqlstate`: attempts of [`Db::transaction_with`] run again (`40001`, `40P01`, `08006` for a lost connection) |
//! | `pgready_transaction_give_ups_total` | counter | `sqlstate`: [`Db::transaction_with`] calls that gave up at their bounds |
//! | `pgready_queries_total` | counter | `pool`: queries run through the pool as an executor or on a pooled connection (added when the connection goes back), inside a `Transaction` too; not its `BEGIN`/`COMMIT`/`ROLLBACK`, nor what runs on sqlx's `PgConnection` reached directly |
//! | `pgready_query_errors_total` | counter | `pool`, `class`: queries that failed, by SQLSTATE class (`23` integrity, `40` rollback, `42` syntax or access, `57` operator intervention, …; `08` also for a lost connection, `other` without a SQLSTATE); only classes seen |
//! | `pgready_transaction_drops_total` | counter | `pool`: transactions dropped without `commit` or `rollback` (rolled back; not while a panic unwinds) |
//! | `pgready_backups` | gauge | backups (manifests) in `[backup] dir` |
//! | `pgready_backup_last_success_timestamp_seconds` | gauge | completion time of the newest backup (0: none) |
//! | `pgready_backup_last_verified_timestamp_seconds` | gauge | the newest passed `pgready backup verify` (0: none) |
//!
//! The backup figures are read from `[backup] dir` (relative to the working directory) on each
//! render, and left out when the directory does not exist: a service whose backups are kept
//! elsewhere does not report them.
//!
//! The health figures come from the latest readiness probe of any endpoint while it is younger
//! than `[health] cache`; otherwise rendering runs one (cached, single flight) through
//! [`Db::health`].
//!
//! With the cargo feature `metrics`, the same figures also go through the `metrics` crate's
//! facade under OpenTelemetry's names ([`publish`]; the README lists both forms). Pool
//! acquires, migrations and health probes run in `tracing` spans with OpenTelemetry's
//! attribute names either way.

#[cfg(feature = "metrics")]
mod facade;
mod figures;
mod text;

#[cfg(feature = "metrics")]
pub use facade::publish;
#[cfg(feature = "metrics")]
pub(crate) use facade::spawn as spawn_publisher;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::health::{CONNECTIVITY, REPLICATION, Report, Status};
use crate::{Db, Pool};
use figures::{migration_counts, pools};
use text::Text;

/// The `content-type` of the Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// An axum handler serving [`render`]'s text; usable with state `Db` or any state `S` where
/// `Db: FromRef<S>`.
pub async fn handler(State(db): State<Db>) -> Response {
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
        render(&db).await,
    )
        .into_response()
}

/// Every pgready metric of `db`, in the Prometheus text format.
pub async fn render(db: &Db) -> String {
    let report = db.recent_health().await;
    let mut t = Text::default();
    let pools = pools(db);
    pool_metrics(&mut t, &pools);
    migration_metrics(&mut t, db, &report);
    health_metrics(&mut t, db, &report);
    transaction_metrics(&mut t, db, &pools);
    query_metrics(&mut t, &pools);
    let dir = std::path::PathBuf::from(&db.config().backup.dir);
    let freshness = tokio::task::spawn_blocking(move || pgready_core::backup::freshness(&dir))
        .await
        .ok()
        .flatten();
    if let Some(f) = freshness {
        backup_metrics(&mut t, &f);
    }
    t.finish()
}

fn backup_metrics(t: &mut Text, f: &pgready_core::backup::Freshness) {
    let seconds = |at: Option<std::time::SystemTime>| {
        at.and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0.0, |d| d.as_secs_f64())
    };
    t.family(
        "pgready_backups",
        "gauge",
        "Backups (manifests) in `[backup] dir`.",
    );
    t.sample("pgready_backups", &[], f.backups as f64);
    let name = "pgready_backup_last_success_timestamp_seconds";
    t.family(
        name,
        "gauge",
        "Unix time the newest backup in `[backup] dir` completed; 0 when there is none.",
    );
    t.sample(name, &[], seconds(f.last_backup));
    let name = "pgready_backup_last_verified_timestamp_seconds";
    t.family(
        name,
        "gauge",
        "Unix time of the newest passed `pgready backup verify` (a restore test); 0 when none.",
    );
    t.sample(name, &[], seconds(f.last_verified));
}

/// A pool gauge: name, help, and how to read it.
type Gauge = (&'static str, &'static str, fn(&Pool) -> u32);

fn pool_metrics(t: &mut Text, pools: &[(&str, &Pool)]) {
    let gauges: [Gauge; 5] = [
        (
            "pgready_pool_connections",
            "Open connections in the pool, idle or in use.",
            |p| p.stats().size,
        ),
        (
            "pgready_pool_idle_connections",
            "Open connections waiting in the pool.",
            |p| p.stats().idle,
        ),
        (
            "pgready_pool_in_use_connections",
            "Connections handed out by the pool.",
            |p| p.stats().in_use,
        ),
        (
            "pgready_pool_max_connections",
            "The pool's configured max_connections.",
            |p| p.stats().max,
        ),
        (
            "pgready_pool_waiting_acquires",
            "Acquires waiting for a connection.",
            |p| p.stats().waiting,
        ),
    ];
    for (name, help, value) in gauges {
        t.family(name, "gauge", help);
        for (pool, p) in pools {
            t.sample(name, &[("pool", pool)], f64::from(value(p)));
        }
    }

    let name = "pgready_pool_acquire_duration_seconds";
    t.family(
        name,
        "histogram",
        "Time taken to get a connection from the pool.",
    );
    let snapshots: Vec<_> = pools
        .iter()
        .map(|(pool, p)| (*pool, p.acquire_times().snapshot()))
        .collect();
    for (pool, s) in &snapshots {
        for (bound, count) in &s.cumulative {
            let le = text::number(*bound);
            t.sample(
                &format!("{name}_bucket"),
                &[("pool", pool), ("le", &le)],
                *count as f64,
            );
        }
        t.sample(
            &format!("{name}_bucket"),
            &[("pool", pool), ("le", "+Inf")],
            s.count as f64,
        );
        t.sample(&format!("{name}_sum"), &[("pool", pool)], s.sum_seconds);
        t.sample(&format!("{name}_count"), &[("pool", pool)], s.count as f64);
    }
    let name = "pgready_pool_acquire_timeouts_total";
    t.family(
        name,
        "counter",
        "Acquires that gave up after acquire_timeout.",
    );
    for (pool, s) in &snapshots {
        t.sample(name, &[("pool", pool)], s.timeouts as f64);
    }
    let name = "pgready_pool_connections_discarded_total";
    t.family(name, "counter", "Connections the pool closed, by reason.");
    for (pool, p) in pools {
        for (why, count) in p.discarded() {
            t.sample(
                name,
                &[("pool", pool), ("reason", why.as_str())],
                count as f64,
            );
        }
    }
}

fn migration_metrics(t: &mut Text, db: &Db, report: &Report) {
    let (applied, pending) = migration_counts(db, Some(report));
    t.family(
        "pgready_migrations_applied",
        "gauge",
        "Migrations recorded as applied in the migrations table.",
    );
    t.sample("pgready_migrations_applied", &[], applied as f64);
    t.family(
        "pgready_migrations_pending",
        "gauge",
        "Migrations of this build not applied to the database.",
    );
    t.sample("pgready_migrations_pending", &[], pending as f64);
}

fn health_metrics(t: &mut Text, db: &Db, report: &Report) {
    let name = "pgready_health_status";
    t.family(
        name,
        "gauge",
        "Status of the latest readiness probe: 1 for the current status, 0 for the others.",
    );
    for status in Status::ALL {
        let value = if report.status() == status { 1.0 } else { 0.0 };
        t.sample(name, &[("status", status.as_str())], value);
    }

    let name = "pgready_health_check_status";
    t.family(
        name,
        "gauge",
        "Status of each check in the latest readiness probe: 1 for its status, 0 for the others.",
    );
    for (key, check) in report.checks() {
        let component = check.component_id().unwrap_or("");
        for status in Status::ALL {
            let value = if check.status() == status { 1.0 } else { 0.0 };
            t.sample(
                name,
                &[
                    ("check", key),
                    ("component", component),
                    ("status", status.as_str()),
                ],
                value,
            );
        }
    }

    let name = "pgready_health_probes_total";
    t.family(name, "counter", "Health probes run by this process.");
    t.sample(name, &[], db.health_registry().probes() as f64);

    let name = "pgready_health_probe_duration_seconds";
    t.family(name, "gauge", "How long the latest readiness probe took.");
    t.sample(name, &[], report.duration().as_secs_f64());

    let name = "pgready_postgres_response_time_seconds";
    t.family(
        name,
        "gauge",
        "Round trip of SELECT 1 in the latest readiness probe.",
    );
    for check in report.check(CONNECTIVITY) {
        if let (Some(ms), Some(pool)) = (check.observed_value(), check.component_id()) {
            t.sample(name, &[("pool", pool)], ms / 1000.0);
        }
    }

    let lag: Vec<f64> = report
        .check(REPLICATION)
        .filter_map(|c| c.observed_value())
        .collect();
    if !lag.is_empty() {
        let name = "pgready_replica_lag_seconds";
        t.family(name, "gauge", "Replication lag of the read replica.");
        for lag in lag {
            t.sample(name, &[("pool", "read")], lag);
        }
    }
    if db.has_replica() {
        let name = "pgready_replica_serving_reads";
        t.family(
            name,
            "gauge",
            "1 while db.read() goes to the replica, 0 while reads fall back to the primary.",
        );
        let serving = if db.reads_from_replica() { 1.0 } else { 0.0 };
        t.sample(name, &[("pool", "read")], serving);
    }
}

fn transaction_metrics(t: &mut Text, db: &Db, pools: &[(&str, &Pool)]) {
    let counts = db.retry_counts().snapshot();
    let name = "pgready_transaction_retries_total";
    t.family(
        name,
        "counter",
        "Transaction attempts run again after a retryable failure, by SQLSTATE.",
    );
    for (sqlstate, retries, _) in counts {
        t.sample(name, &[("sqlstate", sqlstate)], retries as f64);
    }
    let name = "pgready_transaction_give_ups_total";
    t.family(
        name,
        "counter",
        "Retried transactions that gave up at their bounds, by the last SQLSTATE.",
    );
    for (sqlstate, _, give_ups) in counts {
        t.sample(name, &[("sqlstate", sqlstate)], give_ups as f64);
    }
    let name = "pgready_transaction_drops_total";
    t.family(
        name,
        "counter",
        "Transactions dropped without commit or rollback, and so rolled back.",
    );
    for (pool, p) in pools {
        t.sample(name, &[("pool", pool)], p.dropped_transactions() as f64);
    }
}

fn query_metrics(t: &mut Text, pools: &[(&str, &Pool)]) {
    let name = "pgready_queries_total";
    t.family(
        name,
        "counter",
        "Queries run through the pool (counted when their connection goes back).",
    );
    for (pool, p) in pools {
        t.sample(name, &[("pool", pool)], p.query_counts().queries() as f64);
    }
    let name = "pgready_query_errors_total";
    t.family(name, "counter", "Queries that failed, by SQLSTATE class.");
    for (pool, p) in pools {
        for (class, count) in p.query_counts().errors() {
            t.sample(name, &[("pool", pool), ("class", class)], count as f64);
        }
    }
}
