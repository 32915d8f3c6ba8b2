//! Queries run and queries failed per SQLSTATE class, per pool: the numbers behind
//! `pgready_queries_total` and `pgready_query_errors_total{class}` (and the "more than 1% of
//! queries failing" alert).
//!
//! The success path stays off shared memory: a query adds 1 to a plain counter of the
//! connection it runs on, which goes into the pool's atomic total when the connection goes
//! back (one atomic add per checkout, beside the engine's lock). A failure adds 1 to
//! its class's atomic counter at once: a fixed array, no lock, no allocation.
//!
//! Counted: queries through [`Pool`](super::Pool) as an executor, through a pooled
//! connection's [`TrackedConnection`](super::TrackedConnection) (`&mut *conn`), and inside a
//! [`Transaction`](super::Transaction), whose `&mut *tx` is that same `TrackedConnection`.
//! Not counted, in either figure: a transaction's own `BEGIN`, `COMMIT` and `ROLLBACK`, and
//! what runs on sqlx's `PgConnection` reached directly (one deref further, or through a
//! `&mut PgConnection` parameter), which pgready does not see.

use std::sync::atomic::{AtomicU64, Ordering};

/// PostgreSQL's SQLSTATE classes (Appendix A, PostgreSQL 18), in the label's order.
pub(crate) const CLASSES: [&str; 43] = [
    "00", "01", "02", "03", "08", "09", "0A", "0B", "0F", "0L", "0P", "0Z", "20", "21", "22", "23",
    "24", "25", "26", "27", "28", "2B", "2D", "2F", "34", "38", "39", "3B", "3D", "3F", "40", "42",
    "44", "53", "54", "55", "57", "58", "72", "F0", "HV", "P0", "XX",
];

/// The label of a failure that carries no SQLSTATE because the connection failed (I/O, TLS,
/// protocol): it counts as class `08` (connection exception), as the server would name it.
const CONNECTION: usize = 4;
/// The label of a failure with no SQLSTATE and no lost connection (a parameter that cannot be
/// encoded, a type the server does not know, a class not in [`CLASSES`]).
pub(crate) const OTHER: &str = "other";

/// One pool's counts.
#[derive(Debug)]
pub(crate) struct QueryCounts {
    queries: AtomicU64,
    errors: [AtomicU64; CLASSES.len() + 1],
}

impl Default for QueryCounts {
    fn default() -> Self {
        QueryCounts {
            queries: AtomicU64::new(0),
            errors: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl QueryCounts {
    /// Adds the queries a connection ran while it was out.
    pub(crate) fn add_queries(&self, n: u64) {
        self.queries.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts one failed query under its class.
    pub(crate) fn count_error(&self, error: &sqlx::Error) {
        self.errors[class_index(error)].fetch_add(1, Ordering::Relaxed);
    }

    /// Queries run since start-up (those on connections still out are added when they go
    /// back).
    pub(crate) fn queries(&self) -> u64 {
        self.queries.load(Ordering::Relaxed)
    }

    /// Failed queries since start-up per class, only the classes seen.
    pub(crate) fn errors(&self) -> Vec<(&'static str, u64)> {
        CLASSES
            .iter()
            .copied()
            .chain(std::iter::once(OTHER))
            .zip(&self.errors)
            .map(|(class, n)| (class, n.load(Ordering::Relaxed)))
            .filter(|&(_, n)| n > 0)
            .collect()
    }
}

/// Where `error` is counted: its SQLSTATE's class, `08` for a lost connection, else
/// [`OTHER`].
fn class_index(error: &sqlx::Error) -> usize {
    match error {
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|code| {
                let class = code.get(..2)?;
                CLASSES.iter().position(|c| *c == class)
            })
            .unwrap_or(CLASSES.len()),
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_) => CONNECTION,
        _ => CLASSES.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_sorted_unique_and_08_is_the_connection_class() {
        assert_eq!(CLASSES[CONNECTION], "08");
        let mut sorted = CLASSES.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), CLASSES.len());
    }

    #[test]
    fn errors_are_counted_by_class() {
        let counts = QueryCounts::default();
        counts.count_error(&sqlx::Error::Io(std::io::Error::other("gone")));
        counts.count_error(&sqlx::Error::RowNotFound);
        counts.add_queries(5);
        assert_eq!(counts.errors(), [("08", 1), (OTHER, 1)]);
        assert_eq!(counts.queries(), 5);
    }
}
