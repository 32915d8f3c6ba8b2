//! The cache and the single flight: however many requests arrive, one probe per endpoint runs
//! at a time, and its report answers every request until it is `cache` old.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::watch;

use super::check::Check;
use super::endpoint::{CustomChecks, Endpoint, Kind, Options};
use super::probe::{self, Connections};
use super::report::Report;
use crate::Db;

/// The health state a [`Db`] carries: one cache per endpoint, the probes' own connections,
/// and the latest readiness report (for metrics).
pub(crate) struct Registry {
    pub(crate) started: Instant,
    flights: Mutex<HashMap<u64, Arc<Flight>>>,
    pub(crate) connections: Connections,
    latest: Mutex<Option<(Instant, Arc<Report>)>>,
    probes: AtomicU64,
}

impl Default for Registry {
    fn default() -> Registry {
        Registry {
            started: Instant::now(),
            flights: Mutex::default(),
            connections: Connections::default(),
            latest: Mutex::default(),
            probes: AtomicU64::new(0),
        }
    }
}

impl Registry {
    fn flight(&self, id: u64) -> Arc<Flight> {
        lock(&self.flights).entry(id).or_default().clone()
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

/// The report for `endpoint`: cached, in flight, or from a new probe.
pub(crate) async fn report(
    db: &Db,
    endpoint: &'static Endpoint,
    custom: Option<CustomChecks>,
) -> Arc<Report> {
    let options = Options::resolve(endpoint, db);
    let flight = db.health_registry().flight(endpoint.id.get());
    let db = db.clone();
    flight
        .get(options.cache, move || async move {
            let report = Arc::new(probe::run(&db, options, custom).await);
            let registry = db.health_registry();
            registry.probes.fetch_add(1, Ordering::Relaxed);
            if options.kind == Kind::Readiness {
                *lock(&registry.latest) = Some((Instant::now(), report.clone()));
            }
            report
        })
        .await
}

#[derive(Default)]
struct Flight {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The last report and when its probe finished.
    cached: Option<(Instant, Arc<Report>)>,
    /// The probe running now: every request subscribes to it.
    running: Option<watch::Receiver<Option<Arc<Report>>>>,
}

impl Flight {
    async fn get<P, Fut>(self: &Arc<Self>, cache: Duration, probe: P) -> Arc<Report>
    where
        P: FnOnce() -> Fut,
        Fut: Future<Output = Arc<Report>> + Send + 'static,
    {
        let mut running = {
            let mut state = lock(&self.state);
            if let Some((at, report)) = &state.cached
                && at.elapsed() < cache
            {
                return report.clone();
            }
            match &state.running {
                Some(running) => running.clone(),
                None => {
                    let (done, running) = watch::channel(None);
                    state.running = Some(running.clone());
                    // A task of its own, so a client that hangs up does not cancel the probe
                    // that other requests wait for.
                    let flight = self.clone();
                    let probe = probe();
                    tokio::spawn(async move {
                        let unlatch = Unlatch(flight.clone());
                        let report = probe.await;
                        {
                            let mut state = lock(&flight.state);
                            state.cached = Some((Instant::now(), report.clone()));
                            state.running = None;
                        }
                        std::mem::forget(unlatch);
                        let _ = done.send(Some(report));
                    });
                    running
                }
            }
        };
        match running.wait_for(Option::is_some).await {
            Ok(report) => report.clone().unwrap_or_else(lost),
            // The probe task ended without a report (the runtime is shutting down).
            Err(_) => lost(),
        }
    }
}

/// Clears `running` if the probe task dies without a report, so the next request probes anew.
struct Unlatch(Arc<Flight>);

impl Drop for Unlatch {
    fn drop(&mut self) {
        lock(&self.0.state).running = None;
    }
}

fn lost() -> Arc<Report> {
    Arc::new(Report::new(
        Kind::Readiness,
        vec![(
            "pgready:probe".to_owned(),
            Check::fail("the health probe task ended without a result"),
        )],
        SystemTime::now(),
        Duration::ZERO,
    ))
}

/// Nothing here leaves data half-written, so a panic elsewhere does not poison the cache.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
