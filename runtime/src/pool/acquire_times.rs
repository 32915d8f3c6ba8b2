//! The acquire-latency histogram each [`Pool`](super::Pool) keeps: lock-free counters that
//! `pgready::metrics` reads at scrape time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, in seconds: from an idle connection handed out at once
/// (tens of microseconds) to a wait that ends in `acquire_timeout`.
pub(crate) const BOUNDS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// How long acquires waited, and how many gave up at `acquire_timeout`.
#[derive(Debug, Default)]
pub(crate) struct AcquireTimes {
    /// Per bucket, not cumulative; the last counts waits above every bound.
    buckets: [AtomicU64; BOUNDS.len() + 1],
    sum_nanos: AtomicU64,
    timeouts: AtomicU64,
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
    /// Records one acquire that took `elapsed`; `timed_out` when it ended in
    /// `PoolTimedOut`.
    pub(crate) fn record(&self, elapsed: Duration, timed_out: bool) {
        let seconds = elapsed.as_secs_f64();
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
        let times = AcquireTimes::default();
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
