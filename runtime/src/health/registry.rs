//! The health state each [`Db`](crate::Db) carries: one cache per endpoint, the probes' own
//! connections, and the latest readiness report (for metrics).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use sqlx::postgres::PgConnection;

use super::endpoint::Kind;
use super::flight::{Flight, lock, read, write};
use super::report::Report;

pub(crate) struct Registry {
    pub(crate) started: Instant,
    /// Written once per endpoint, read by every request: a read lock lets requests on
    /// different cores look it up at the same time.
    flights: RwLock<HashMap<u64, Arc<Flight>>>,
    pub(crate) connections: Connections,
    latest: Mutex<Option<(Instant, Arc<Report>)>>,
    probes: AtomicU64,
}

/// The probes' own connections, one per database, opened on first use and dropped after any
/// error, so a connection left mid-query by a timeout is never reused. They are not taken
/// from the pools: a saturated pool shows as `warn` in `postgres:pool`, not as a database
/// that does not answer.
#[derive(Default)]
pub(crate) struct Connections {
    pub(crate) write: tokio::sync::Mutex<Option<PgConnection>>,
    pub(crate) read: tokio::sync::Mutex<Option<PgConnection>>,
}

impl Default for Registry {
    fn default() -> Registry {
        Registry {
            started: Instant::now(),
            flights: RwLock::default(),
            connections: Connections::default(),
            latest: Mutex::default(),
            probes: AtomicU64::new(0),
        }
    }
}

impl Registry {
    /// The cache and single flight of the endpoint numbered `id`.
    pub(crate) fn flight(&self, id: u64) -> Arc<Flight> {
        if let Some(flight) = read(&self.flights).get(&id) {
            return flight.clone();
        }
        write(&self.flights).entry(id).or_default().clone()
    }

    /// Counts a finished probe; a readiness report becomes the latest.
    pub(crate) fn record(&self, kind: Kind, report: &Arc<Report>) {
        self.probes.fetch_add(1, Ordering::Relaxed);
        if kind == Kind::Readiness {
            *lock(&self.latest) = Some((Instant::now(), report.clone()));
        }
    }

    /// The newest readiness report, if it is younger than `max_age`.
    pub(crate) fn latest(&self, max_age: Duration) -> Option<Arc<Report>> {
        lock(&self.latest)
            .as_ref()
            .filter(|(at, _)| at.elapsed() < max_age)
            .map(|(_, report)| report.clone())
    }

    /// How many probes this `Db` has run.
    pub(crate) fn probes(&self) -> u64 {
        self.probes.load(Ordering::Relaxed)
    }
}
