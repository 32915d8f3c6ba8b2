//! The acquire-latency histogram each [`Pool`](super::Pool) keeps: lock-free counters that
//! `pgready::metrics` reads at scrape time. With the `metrics` feature, each acquire is also
//! recorded through the facade as `db.client.connection.wait_time`; without it, that costs
//! nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;

/// Upper bounds of the buckets, in seconds: from an idle connection handed out at once
/// (tens of microseconds) to a wait that ends in `acquire_timeout`.
pub(crate) const BOUNDS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// How long acquires waited, and how many gave up at `acquire_timeout`; and the names the
/// pool's metrics and spans carry.
#[derive(Debug)]
pub(crate) struct AcquireTimes {
    /// Per bucket, not cumulative; the last counts waits above every bound.
    buckets: [AtomicU64; BOUNDS.len() + 1],
    sum_nanos: AtomicU64,
    timeouts: AtomicU64,
    /// `write` or `read`: `pool` in the Prometheus text, `db.client.connection.pool.name`.
    pub(crate) pool: &'static str,
    /// The database name, `db.namespace`.
    pub(crate) namespace: Arc<str>,
    /// `db.client.connection.wait_time` with this pool's attributes, built once.
    #[cfg(feature = "metrics")]
    wait_time: metrics::Key,
}

/// A copy of the counters, cumulative as Prometheus wants them.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Snapshot {
    /// `(upper bound, observations ≤ bound)`, then `+Inf` as the count.
    pub(crate) cumulative: Vec<(f64, u64)>,
    pub(crate) count: u64,
    pub(crate) sum_seconds: f64,
    pub(crate) timeouts: u64,
}

impl AcquireTimes {
    /// The counters of the pool `pool` (`write` or `read`) connecting with `options`.
    pub(crate) fn new(pool: &'static str, options: &PgConnectOptions) -> AcquireTimes {
        let namespace = crate::spans::namespace(options);
        AcquireTimes {
            buckets: Default::default(),
            sum_nanos: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
            pool,
            #[cfg(feature = "metrics")]
            wait_time: crate::otel::wait_time_key(pool, &namespace),
            namespace,
        }
    }

    /// The span an acquire runs in.
    pub(crate) fn span(&self) -> tracing::Span {
        crate::spans::acquire(self.pool, &self.namespace)
    }

    /// Records one acquire that took `elapsed`; `timed_out` when it ended in
    /// `PoolTimedOut`.
    pub(crate) fn record(&self, elapsed: Duration, timed_out: bool) {
        let seconds = elapsed.as_secs_f64();
        #[cfg(feature = "metrics")]
        crate::otel::record_wait(&self.wait_time, seconds);
        let bucket = BOUNDS
            .iter()
            .position(|&bound| seconds <= bound)
            .unwrap_or(BOUNDS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        if timed_out {
            self.timeouts.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn snapshot(&self) -> Snapshot {
        let mut running = 0;
        let mut cumulative = Vec::with_capacity(BOUNDS.len());
        for (bound, bucket) in BOUNDS.iter().zip(&self.buckets) {
            running += bucket.load(Ordering::Relaxed);
            cumulative.push((*bound, running));
        }
        running += self.buckets[BOUNDS.len()].load(Ordering::Relaxed);
        // The count is the buckets' total, so `+Inf` always equals `_count` as Prometheus
        // requires, even when a scrape races an acquire.
        Snapshot {
            cumulative,
            count: running,
            sum_seconds: self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9,
            timeouts: self.timeouts.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_end_at_the_count() {
        let options = PgConnectOptions::new().database("app");
        let times = AcquireTimes::new("write", &options);
        assert_eq!(&*times.namespace, "app");
        times.record(Duration::from_micros(50), false);
        times.record(Duration::from_millis(3), false);
        times.record(Duration::from_secs(11), true);
        let s = times.snapshot();
        assert_eq!(s.count, 3);
        assert_eq!(s.timeouts, 1);
        assert_eq!(s.cumulative[0], (0.0001, 1));
        let five_ms = s.cumulative.iter().find(|(b, _)| *b == 0.005).unwrap();
        assert_eq!(five_ms.1, 2);
        assert_eq!(s.cumulative.last().unwrap(), &(10.0, 2));
        assert!((s.sum_seconds - 11.00305).abs() < 1e-9, "{}", s.sum_seconds);
    }
}
