//! The read replica: its pool, where `db.read()` goes, and the watcher that decides.
//!
//! With `[database] read_fallback = "primary"` a watcher task probes the replica every
//! [`CHECK_EVERY`] on a connection of its own (bounded by `[health] timeout`): reads go to the
//! replica while it answers and its lag is within `[health] max_replica_lag`, and to the
//! primary otherwise, until it answers and has caught up again. Each switch is logged once.
//! With `read_fallback = "error"` reads always go to the replica.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use pgready_core::config::{self, ReadFallback};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Row};

use crate::error::describe;
use crate::pool::Pool;

/// How often the watcher probes the replica.
pub(crate) const CHECK_EVERY: Duration = Duration::from_secs(1);

/// The lag query of the watcher and of the health check: 0 on a server not in recovery, 0 when
/// everything received is replayed (an idle primary sends nothing, and its replica is not
/// behind; a restarted WAL receiver starts at the beginning of a segment, before what was
/// replayed), else the age of the newest replayed transaction: unknown (`NULL`) on a replica
/// that has not received anything since it started, or replayed no transaction since.
const LAG_SQL: &str = "SELECT pg_is_in_recovery(), CASE \
       WHEN NOT pg_is_in_recovery() THEN 0 \
       WHEN pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() THEN 0 \
       ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END::float8";

/// The replica's pool and where reads go.
pub(crate) struct Replica {
    pool: Pool,
    routing: Arc<Routing>,
}

/// Where reads go, shared by the `Db` and the watcher.
struct Routing {
    fallback: ReadFallback,
    /// Reads go to the replica.
    serving: AtomicBool,
}

/// The replica as the watcher saw it.
#[derive(Clone, Debug, PartialEq)]
enum Seen {
    /// Answered, `lag` seconds behind (within the bound).
    Serving { lag: f64 },
    /// Answered, but `lag` seconds behind, above `[health] max_replica_lag`.
    Lagging { lag: f64 },
    /// Did not answer: why.
    Down(String),
}

impl Replica {
    /// A replica whose pool connected (`reachable`) or not at start-up.
    pub(crate) fn new(pool: Pool, fallback: ReadFallback, reachable: bool) -> Replica {
        let serving = reachable || fallback == ReadFallback::Error;
        Replica {
            pool,
            routing: Arc::new(Routing {
                fallback,
                serving: AtomicBool::new(serving),
            }),
        }
    }

    /// The replica's pool, wherever reads go now.
    pub(crate) fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Whether reads go to the replica now.
    pub(crate) fn serving(&self) -> bool {
        self.routing.serving.load(Ordering::Relaxed)
    }

    pub(crate) fn fallback(&self) -> ReadFallback {
        self.routing.fallback
    }

    /// Starts the watcher (with `read_fallback = "primary"`): it runs until the replica's
    /// `Db` is dropped or its pool closed.
    pub(crate) fn watch(&self, health: &config::Health) {
        if self.routing.fallback != ReadFallback::Primary {
            return;
        }
        let routing = Arc::downgrade(&self.routing);
        let pool = self.pool.clone();
        let options = pool.connect_options();
        let (timeout, max_lag) = (health.timeout, health.max_replica_lag);
        tokio::spawn(watch(routing, pool, options, timeout, max_lag));
    }
}

impl Routing {
    /// Records what the watcher saw and routes reads accordingly; logs a switch once.
    fn observe(&self, seen: &Seen, max_lag: Duration) {
        let serve = matches!(seen, Seen::Serving { .. });
        let was = self.serving.swap(serve, Ordering::Relaxed);
        match (seen, was, serve) {
            (Seen::Down(why), true, false) => tracing::warn!(
                "read replica unreachable ({why}): reads go to the primary until it answers"
            ),
            (Seen::Lagging { lag }, true, false) if !lag.is_finite() => tracing::warn!(
                "read replica cannot tell how far behind it is (it has received nothing from its \
                 primary since it started): reads go to the primary until it catches up"
            ),
            (Seen::Lagging { lag }, true, false) => tracing::warn!(
                lag_seconds = lag,
                "read replica {lag:.1}s behind, above `[health] max_replica_lag = {max_lag:?}`: \
                 reads go to the primary until it catches up"
            ),
            (Seen::Serving { lag }, false, true) => {
                tracing::info!(lag_seconds = lag, "read replica back: reads go to it again");
            }
            _ => {}
        }
    }
}

async fn watch(
    routing: Weak<Routing>,
    pool: Pool,
    options: PgConnectOptions,
    timeout: Duration,
    max_lag: Duration,
) {
    let mut conn: Option<PgConnection> = None;
    // Lag above the bound twice in a row before reads leave the replica: the first write after
    // a long idle spell shows the age of the previous transaction for a moment.
    let mut lagging_once = false;
    let mut interval = tokio::time::interval(CHECK_EVERY);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        if pool.is_closed() {
            return;
        }
        let Some(routing) = routing.upgrade() else {
            return;
        };
        let seen = match tokio::time::timeout(timeout, probe(&mut conn, &options)).await {
            Ok(Ok(lag)) if lag > max_lag.as_secs_f64() => {
                if lagging_once || !routing.serving.load(Ordering::Relaxed) {
                    Seen::Lagging { lag }
                } else {
                    lagging_once = true;
                    continue;
                }
            }
            Ok(Ok(lag)) => Seen::Serving { lag },
            Ok(Err(e)) => {
                conn = None;
                Seen::Down(pgready_core::dsn::redact_in(&describe(&e), ""))
            }
            Err(_) => {
                // A probe cut off mid-query leaves its connection unusable.
                conn = None;
                Seen::Down(format!("no answer within `[health] timeout = {timeout:?}`"))
            }
        };
        lagging_once = false;
        routing.observe(&seen, max_lag);
    }
}

/// Whether the server is in recovery, and its lag in seconds ([`LAG_SQL`]; `None`: it has
/// not replayed any transaction yet). The simple protocol: one round trip, and nothing a
/// transaction pooler in between could split.
pub(crate) async fn replica_lag(
    conn: &mut PgConnection,
) -> Result<(bool, Option<f64>), sqlx::Error> {
    let row = sqlx::raw_sql(LAG_SQL).fetch_one(conn).await?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}

/// The replica's lag in seconds, on the watcher's connection (opened when missing).
async fn probe(
    slot: &mut Option<PgConnection>,
    options: &PgConnectOptions,
) -> Result<f64, sqlx::Error> {
    let conn = match slot {
        Some(conn) => conn,
        None => slot.insert(options.connect().await?),
    };
    let started = Instant::now();
    let (_, lag) = replica_lag(conn).await?;
    tracing::trace!(elapsed = ?started.elapsed(), ?lag, "replica probe");
    // Never replayed anything yet: as far behind as can be.
    Ok(lag.unwrap_or(f64::INFINITY).max(0.0))
}
