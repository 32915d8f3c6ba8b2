//! What [`Db::transaction_with`](crate::Db::transaction_with) takes: the transaction's mode
//! (isolation level, read only, deferrable) and its retry policy (attempts, total time,
//! jittered exponential backoff), and the retry counters `pgready::metrics` reports.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::{AssertSqlSafe, SqlSafeStr, SqlStr};

use crate::error::ErrorClass;

/// A transaction's isolation level (PostgreSQL's `READ UNCOMMITTED` is `READ COMMITTED`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IsolationLevel {
    /// Each statement sees what was committed before it began (PostgreSQL's default).
    ReadCommitted,
    /// Every statement sees the snapshot taken at the transaction's first statement; a write
    /// to a row changed since fails with SQLSTATE 40001.
    RepeatableRead,
    /// As if the transactions ran one after the other; any that cannot be ordered fails with
    /// SQLSTATE 40001.
    Serializable,
}

impl IsolationLevel {
    /// The words after `ISOLATION LEVEL`.
    pub fn as_sql(self) -> &'static str {
        match self {
            IsolationLevel::ReadCommitted => "READ COMMITTED",
            IsolationLevel::RepeatableRead => "REPEATABLE READ",
            IsolationLevel::Serializable => "SERIALIZABLE",
        }
    }
}

/// How [`Db::transaction_with`](crate::Db::transaction_with) begins its transaction and how
/// often it runs the closure again after a failure that retrying can cure: a serialization
/// failure (SQLSTATE 40001), a deadlock (40P01), or a connection lost before `COMMIT` was sent.
///
/// Defaults: the session's isolation level (PostgreSQL's default is read committed), read
/// write, not deferrable; at most [`MAX_ATTEMPTS`](Self::MAX_ATTEMPTS) (5) attempts within
/// [`MAX_ELAPSED`](Self::MAX_ELAPSED) (10 s); backoff from
/// [`BACKOFF`](Self::BACKOFF) (20 ms) doubling up to [`MAX_BACKOFF`](Self::MAX_BACKOFF) (1 s),
/// each wait drawn at random between half of it and all of it.
///
/// ```
/// use pgready::{IsolationLevel, TransactionOptions};
///
/// let options = TransactionOptions::new()
///     .isolation(IsolationLevel::Serializable)
///     .max_attempts(10);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TransactionOptions {
    isolation: Option<IsolationLevel>,
    read_only: bool,
    deferrable: bool,
    max_attempts: u32,
    max_elapsed: Duration,
    backoff: Duration,
    max_backoff: Duration,
}

impl Default for TransactionOptions {
    fn default() -> Self {
        TransactionOptions {
            isolation: None,
            read_only: false,
            deferrable: false,
            max_attempts: Self::MAX_ATTEMPTS,
            max_elapsed: Self::MAX_ELAPSED,
            backoff: Self::BACKOFF,
            max_backoff: Self::MAX_BACKOFF,
        }
    }
}

impl TransactionOptions {
    /// The default number of attempts, the first included.
    pub const MAX_ATTEMPTS: u32 = 5;
    /// The default bound on the time from the first `BEGIN` to the last retry's start.
    pub const MAX_ELAPSED: Duration = Duration::from_secs(10);
    /// The default wait before the first retry (before jitter).
    pub const BACKOFF: Duration = Duration::from_millis(20);
    /// The default longest wait between two attempts (before jitter).
    pub const MAX_BACKOFF: Duration = Duration::from_secs(1);

    /// The defaults (see the type's docs).
    pub fn new() -> Self {
        Self::default()
    }

    /// `BEGIN ISOLATION LEVEL …`; without it, the session's `default_transaction_isolation`.
    pub fn isolation(mut self, level: IsolationLevel) -> Self {
        self.isolation = Some(level);
        self
    }

    /// `READ ONLY`: writes fail with SQLSTATE 25006.
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// `DEFERRABLE`: with serializable and read only, waits for a snapshot that cannot
    /// conflict, then never fails with 40001 (PostgreSQL ignores it otherwise).
    pub fn deferrable(mut self, deferrable: bool) -> Self {
        self.deferrable = deferrable;
        self
    }

    /// At most this many attempts, the first included (1: no retry; 0 counts as 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// No retry starts later than this after the first `BEGIN`.
    pub fn max_elapsed(mut self, bound: Duration) -> Self {
        self.max_elapsed = bound;
        self
    }

    /// The wait before the first retry, doubling for each further one up to `max`; each wait
    /// is drawn at random between half of it and all of it, so transactions that conflicted
    /// once do not meet again in step.
    pub fn backoff(mut self, first: Duration, max: Duration) -> Self {
        self.backoff = first;
        self.max_backoff = max.max(first);
        self
    }

    pub(crate) fn attempts(&self) -> u32 {
        self.max_attempts
    }

    pub(crate) fn elapsed_bound(&self) -> Duration {
        self.max_elapsed
    }

    /// The `BEGIN` statement, or `None` for a plain `BEGIN`.
    pub(crate) fn begin_statement(&self) -> Option<SqlStr> {
        let mut modes = Vec::new();
        if let Some(level) = self.isolation {
            modes.push(format!("ISOLATION LEVEL {}", level.as_sql()));
        }
        if self.read_only {
            modes.push("READ ONLY".to_owned());
        }
        if self.deferrable {
            modes.push("DEFERRABLE".to_owned());
        }
        if modes.is_empty() {
            return None;
        }
        Some(AssertSqlSafe(format!("BEGIN {}", modes.join(", "))).into_sql_str())
    }

    /// The wait after failed attempt `attempt` (1 for the first), jittered.
    pub(crate) fn delay(&self, attempt: u32) -> Duration {
        let doubled = self
            .backoff
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        let ceiling = doubled.min(self.max_backoff);
        let half = ceiling / 2;
        half + half.mul_f64(unit_random())
    }
}

/// A number in [0, 1) that differs from call to call: std's per-hasher random keys, enough
/// for jitter (not for secrets).
fn unit_random() -> f64 {
    let bits = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// The failures [`Db::transaction_with`](crate::Db::transaction_with) retries, by the SQLSTATE
/// that labels them in metrics and logs; a lost connection has none of its own and counts as
/// `08006` (connection_failure).
pub(crate) const RETRIED: [&str; 3] = ["40001", "40P01", "08006"];

impl ErrorClass {
    /// The SQLSTATE label of a failure [`Db::transaction_with`](crate::Db::transaction_with)
    /// retries, `None` for the others.
    pub(crate) fn retried_as(&self) -> Option<&'static str> {
        match self {
            ErrorClass::SerializationFailure => Some(RETRIED[0]),
            ErrorClass::Deadlock => Some(RETRIED[1]),
            ErrorClass::ConnectionLost => Some(RETRIED[2]),
            _ => None,
        }
    }
}

/// Retries and give-ups of [`Db::transaction_with`](crate::Db::transaction_with) since
/// start-up, per entry of [`RETRIED`].
#[derive(Default)]
pub(crate) struct RetryCounts {
    retries: [AtomicU64; 3],
    give_ups: [AtomicU64; 3],
}

impl RetryCounts {
    pub(crate) fn retried(&self, sqlstate: &str) {
        if let Some(i) = RETRIED.iter().position(|s| *s == sqlstate) {
            self.retries[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn gave_up(&self, sqlstate: &str) {
        if let Some(i) = RETRIED.iter().position(|s| *s == sqlstate) {
            self.give_ups[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// `(sqlstate, retries, give-ups)` for every retried SQLSTATE, zeros included.
    pub(crate) fn snapshot(&self) -> [(&'static str, u64, u64); 3] {
        std::array::from_fn(|i| {
            (
                RETRIED[i],
                self.retries[i].load(Ordering::Relaxed),
                self.give_ups[i].load(Ordering::Relaxed),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn begin_statement_lists_the_modes_chosen() {
        assert!(TransactionOptions::new().begin_statement().is_none());
        let options = TransactionOptions::new()
            .isolation(IsolationLevel::Serializable)
            .read_only(true)
            .deferrable(true);
        assert_eq!(
            options.begin_statement().unwrap().as_str(),
            "BEGIN ISOLATION LEVEL SERIALIZABLE, READ ONLY, DEFERRABLE"
        );
        let options = TransactionOptions::new().isolation(IsolationLevel::RepeatableRead);
        assert_eq!(
            options.begin_statement().unwrap().as_str(),
            "BEGIN ISOLATION LEVEL REPEATABLE READ"
        );
    }

    #[test]
    fn backoff_doubles_within_half_and_whole_and_stops_at_the_ceiling() {
        let options = TransactionOptions::new()
            .backoff(Duration::from_millis(20), Duration::from_millis(100));
        for (attempt, ceiling) in [(1, 20), (2, 40), (3, 80), (4, 100), (30, 100)] {
            let ceiling = Duration::from_millis(ceiling);
            for _ in 0..50 {
                let d = options.delay(attempt);
                assert!(d >= ceiling / 2 && d <= ceiling, "{attempt}: {d:?}");
            }
        }
        let draws: std::collections::BTreeSet<_> = (0..20).map(|_| options.delay(3)).collect();
        assert!(draws.len() > 1, "the wait is jittered");
    }

    #[test]
    fn counts_per_sqlstate() {
        let counts = RetryCounts::default();
        counts.retried("40001");
        counts.retried("40001");
        counts.gave_up("40P01");
        counts.retried("23505");
        assert_eq!(
            counts.snapshot(),
            [("40001", 2, 0), ("40P01", 0, 1), ("08006", 0, 0)]
        );
    }
}
