//! The cache and the single flight: however many requests arrive, one probe per endpoint runs
//! at a time, and its report answers every request until it is `cache` old.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::watch;
use tracing::Instrument;

use super::check::Check;
use super::endpoint::{CustomChecks, Detail, Endpoint, Kind, Options};
use super::probe::{self, Connections};
use super::report::{Rendered, Report};
use crate::Db;

/// The health state a [`Db`] carries: one cache per endpoint, the probes' own connections,
/// and the latest readiness report (for metrics).
pub(crate) struct Registry {
    pub(crate) started: Instant,
    /// Written once per endpoint, read by every request: a read lock lets requests on
    /// different cores look it up at the same time.
    flights: RwLock<HashMap<u64, Arc<Flight>>>,
    pub(crate) connections: Connections,
    latest: Mutex<Option<(Instant, Arc<Report>)>>,
    probes: AtomicU64,
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
    fn flight(&self, id: u64) -> Arc<Flight> {
        if let Some(flight) = read(&self.flights).get(&id) {
            return flight.clone();
        }
        write(&self.flights).entry(id).or_default().clone()
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

/// One probe's outcome as every request gets it: the report, and its HTTP answer rendered
/// once at the endpoint's detail, so a request answered from the cache serialises nothing.
pub(crate) struct Answer {
    /// When the probe finished.
    finished: Instant,
    pub(crate) report: Arc<Report>,
    pub(crate) rendered: Rendered,
}

impl Answer {
    fn new(report: Arc<Report>, detail: Detail) -> Answer {
        Answer {
            finished: Instant::now(),
            rendered: report.render(detail),
            report,
        }
    }
}

/// The answer for `endpoint`: cached, in flight, or from a new probe.
pub(crate) async fn answer(
    db: &Db,
    endpoint: &'static Endpoint,
    custom: Option<CustomChecks>,
) -> Arc<Answer> {
    let options = Options::resolve(endpoint, db);
    let flight = db.health_registry().flight(endpoint.id.get());
    flight
        .get(options.cache, endpoint.detail, || {
            // Cloned only for a probe: a request answered from the cache touches no `Arc`
            // of the `Db`'s.
            let db = db.clone();
            async move {
                let namespace = &db.write().acquire_times().namespace;
                let span = crate::metrics::spans::health_probe(namespace, options.kind);
                let probe = probe::run(&db, options, custom).instrument(span.clone());
                let report = Arc::new(probe.await);
                span.record("pgready.health.status", report.status().as_str());
                let registry = db.health_registry();
                registry.probes.fetch_add(1, Ordering::Relaxed);
                if options.kind == Kind::Readiness {
                    *lock(&registry.latest) = Some((Instant::now(), report.clone()));
                }
                Arc::new(Answer::new(report, endpoint.detail))
            }
        })
        .await
}

#[derive(Default)]
struct Flight {
    /// The last answer. Every request reads it; only a finished probe writes it, so requests
    /// answered from the cache never wait for each other.
    cached: RwLock<Option<Arc<Answer>>>,
    /// The probe running now: every request that misses the cache subscribes to it. Taken
    /// before `cached` whenever both are held.
    running: Mutex<Option<watch::Receiver<Option<Arc<Answer>>>>>,
}

impl Flight {
    /// The cached answer, if younger than `cache`.
    fn fresh(&self, cache: Duration) -> Option<Arc<Answer>> {
        read(&self.cached)
            .as_ref()
            .filter(|answer| answer.finished.elapsed() < cache)
            .cloned()
    }

    async fn get<P, Fut>(self: &Arc<Self>, cache: Duration, detail: Detail, probe: P) -> Arc<Answer>
    where
        P: FnOnce() -> Fut,
        Fut: Future<Output = Arc<Answer>> + Send + 'static,
    {
        if let Some(answer) = self.fresh(cache) {
            return answer;
        }
        let mut running = {
            let mut running = lock(&self.running);
            // A probe may have finished between the look above and taking the lock.
            if let Some(answer) = self.fresh(cache) {
                return answer;
            }
            match &*running {
                Some(receiver) => receiver.clone(),
                None => {
                    let (done, receiver) = watch::channel(None);
                    *running = Some(receiver.clone());
                    // A task of its own, so a client that hangs up does not cancel the probe
                    // that other requests wait for.
                    let flight = self.clone();
                    let probe = probe();
                    tokio::spawn(async move {
                        let unlatch = Unlatch(flight.clone());
                        let answer = probe.await;
                        {
                            // `cached` before `running` is cleared: a request that finds no
                            // probe running then finds this answer.
                            let mut running = lock(&flight.running);
                            *write(&flight.cached) = Some(answer.clone());
                            *running = None;
                        }
                        std::mem::forget(unlatch);
                        let _ = done.send(Some(answer));
                    });
                    receiver
                }
            }
        };
        match running.wait_for(Option::is_some).await {
            Ok(answer) => answer.clone().unwrap_or_else(|| lost(detail)),
            // The probe task ended without a report (the runtime is shutting down).
            Err(_) => lost(detail),
        }
    }
}

/// Clears `running` if the probe task dies without a report, so the next request probes anew.
struct Unlatch(Arc<Flight>);

impl Drop for Unlatch {
    fn drop(&mut self) {
        *lock(&self.0.running) = None;
    }
}

fn lost(detail: Detail) -> Arc<Answer> {
    let report = Report::new(
        Kind::Readiness,
        vec![(
            "pgready:probe".to_owned(),
            Check::fail("the health probe task ended without a result"),
        )],
        SystemTime::now(),
        Duration::ZERO,
    );
    Arc::new(Answer::new(Arc::new(report), detail))
}

// Nothing here leaves data half-written, so a panic elsewhere does not poison the cache.

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;
    use crate::health::Status;

    /// A probe that counts its runs and takes `takes` to answer `pass`, or panics.
    fn probe(
        runs: &Arc<AtomicUsize>,
        takes: Duration,
        panics: bool,
    ) -> impl FnOnce() -> std::pin::Pin<Box<dyn Future<Output = Arc<Answer>> + Send>> {
        let runs = runs.clone();
        move || {
            Box::pin(async move {
                runs.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(takes).await;
                assert!(!panics, "a probe that panics");
                let report = Report::new(
                    Kind::Readiness,
                    vec![("a:b".to_owned(), Check::pass())],
                    SystemTime::now(),
                    takes,
                );
                Arc::new(Answer::new(Arc::new(report), Detail::Status))
            })
        }
    }

    #[tokio::test]
    async fn one_probe_and_one_rendered_answer_per_cache_period() {
        let flight = Arc::new(Flight::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let (cache, takes) = (Duration::from_millis(300), Duration::from_millis(50));
        let (a, b) = tokio::join!(
            flight.get(cache, Detail::Status, probe(&runs, takes, false)),
            flight.get(cache, Detail::Status, probe(&runs, takes, false)),
        );
        assert_eq!(
            runs.load(Ordering::SeqCst),
            1,
            "concurrent requests share the probe"
        );
        assert!(Arc::ptr_eq(&a, &b));
        let c = flight
            .get(cache, Detail::Status, probe(&runs, takes, false))
            .await;
        assert_eq!(runs.load(Ordering::SeqCst), 1, "answered from the cache");
        assert!(
            Arc::ptr_eq(&a, &c),
            "the cached answer, not a new rendering"
        );

        tokio::time::sleep(cache).await;
        let d = flight
            .get(cache, Detail::Status, probe(&runs, takes, false))
            .await;
        assert_eq!(
            runs.load(Ordering::SeqCst),
            2,
            "a new probe once the cache is stale"
        );
        assert!(!Arc::ptr_eq(&a, &d));
    }

    #[tokio::test]
    async fn a_probe_that_dies_fails_and_the_next_request_probes_anew() {
        let flight = Arc::new(Flight::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let cache = Duration::from_secs(60);
        let lost = flight
            .get(cache, Detail::Status, probe(&runs, Duration::ZERO, true))
            .await;
        assert_eq!(lost.report.status(), Status::Fail);
        let next = flight
            .get(cache, Detail::Status, probe(&runs, Duration::ZERO, false))
            .await;
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert_eq!(next.report.status(), Status::Pass);
    }
}
