//! `tracing` spans around pool acquires, migrations and health probes, with OpenTelemetry's
//! database attribute names, so `tracing-opentelemetry` exports them as they are.
//!
//! | span | level, target | attributes |
//! |---|---|---|
//! | `pgready.pool.acquire` | debug, `pgready::pool` | `db.system.name`, `db.namespace`, `db.client.connection.pool.name` |
//! | `pgready.migrate` | info, `pgready::migrate` | `db.system.name`, `db.namespace` (start-up's migration run) |
//! | `pgready.migration.apply` | info, `pgready::migrate` | `db.system.name`, `pgready.migration.version`, `pgready.migration.file` |
//! | `pgready.health.probe` | debug, `pgready::health` | `db.system.name`, `db.namespace`, `pgready.health.kind`, `pgready.health.status` (when done) |
//! | `pgready.health.check` | debug, `pgready::health` | `pgready.health.check`: the checks one task runs, comma-separated |
//!
//! A span whose level or target no subscriber wants costs one check of a cached
//! interest: field values are not even evaluated.

use std::sync::Arc;

use pgready_core::migrations::Migration;
use sqlx::postgres::PgConnectOptions;
use tracing::Span;
use tracing::field::Empty;

use crate::health::Kind;

/// `db.system.name`.
const SYSTEM: &str = "postgresql";

/// `db.namespace`: the database a connection opens; PostgreSQL's default is the user's name.
pub(crate) fn namespace(options: &PgConnectOptions) -> Arc<str> {
    Arc::from(
        options
            .get_database()
            .unwrap_or_else(|| options.get_username()),
    )
}

/// Waiting for a connection from the pool `pool`.
pub(crate) fn acquire(pool: &'static str, namespace: &str) -> Span {
    tracing::debug_span!(
        target: "pgready::pool",
        "pgready.pool.acquire",
        db.system.name = SYSTEM,
        db.namespace = namespace,
        db.client.connection.pool.name = pool,
    )
}

/// Start-up's migration run against the database `options` opens.
pub(crate) fn migrate(options: &PgConnectOptions) -> Span {
    tracing::info_span!(
        target: "pgready::migrate",
        "pgready.migrate",
        db.system.name = SYSTEM,
        db.namespace = &*namespace(options),
    )
}

/// Applying one migration.
pub(crate) fn migration(m: &Migration) -> Span {
    tracing::info_span!(
        target: "pgready::migrate",
        "pgready.migration.apply",
        db.system.name = SYSTEM,
        pgready.migration.version = m.version,
        pgready.migration.file = %m.file_name,
    )
}

/// One health probe; `pgready.health.status` is recorded when it is done.
pub(crate) fn health_probe(namespace: &str, kind: Kind) -> Span {
    tracing::debug_span!(
        target: "pgready::health",
        "pgready.health.probe",
        db.system.name = SYSTEM,
        db.namespace = namespace,
        pgready.health.kind = kind.as_str(),
        pgready.health.status = Empty,
    )
}

/// One task of a probe, running the checks `keys`.
pub(crate) fn health_check<'a>(keys: impl IntoIterator<Item = &'a str>) -> Span {
    tracing::debug_span!(
        target: "pgready::health",
        "pgready.health.check",
        pgready.health.check = %keys.into_iter().collect::<Vec<_>>().join(","),
    )
}
