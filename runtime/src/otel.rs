//! The `metrics` feature's piece on the pool's hot path: one histogram record per acquire,
//! `db.client.connection.wait_time` (OpenTelemetry's name), under the attributes every figure
//! of a pool carries. A leaf module, so the pool records without depending on
//! [`metrics`](crate::metrics), which reads the pool.

use std::sync::Arc;

use metrics::{Key, Label, Level, Metadata};

/// `db.client.connection.wait_time`.
pub(crate) const WAIT_TIME: &str = "db.client.connection.wait_time";
/// `db.client.connection.pool.name`: `write` or `read`.
pub(crate) const POOL_NAME: &str = "db.client.connection.pool.name";
/// `db.namespace`: the database name.
pub(crate) const NAMESPACE: &str = "db.namespace";

/// Where pgready's figures come from, for recorders that filter on it.
pub(crate) static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// The attributes of every figure of one pool.
pub(crate) fn pool_labels(pool: &'static str, namespace: &Arc<str>) -> Vec<Label> {
    vec![
        Label::new(POOL_NAME, pool),
        Label::new(NAMESPACE, namespace.clone()),
    ]
}

/// `db.client.connection.wait_time` of one pool, built once per pool so that an acquire only
/// looks its histogram up.
pub(crate) fn wait_time_key(pool: &'static str, namespace: &Arc<str>) -> Key {
    Key::from_parts(WAIT_TIME, pool_labels(pool, namespace))
}

/// One acquire's wait, through the current recorder (none installed: a no-op).
pub(crate) fn record_wait(key: &Key, seconds: f64) {
    metrics::with_recorder(|r| r.register_histogram(key, &METADATA).record(seconds));
}
