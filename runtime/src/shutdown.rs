//! Where a [`Db`](crate::Db) is in its shutdown: serving, draining (readiness answers 503, the
//! server still serves), or stopping (the server is told to stop: `db.shutdown_signal()` has
//! resolved). The signals and the ordered shutdown are `stop.rs`'s; this file only holds the
//! phase and the future that waits for it.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// A shutdown's phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// No shutdown asked for.
    Serving,
    /// Readiness answers 503; the server is told to stop at `since + drain`.
    Draining { since: Instant },
    /// The server is told to stop: `shutdown_signal()` has resolved.
    Stopping { since: Instant },
}

impl Phase {
    /// `draining` or `stopping`, as the readiness body says it; `None` while serving.
    pub(crate) fn name(self) -> Option<&'static str> {
        match self {
            Phase::Serving => None,
            Phase::Draining { .. } => Some("draining"),
            Phase::Stopping { .. } => Some("stopping"),
        }
    }

    /// When the shutdown began.
    pub(crate) fn since(self) -> Option<Instant> {
        match self {
            Phase::Serving => None,
            Phase::Draining { since } | Phase::Stopping { since } => Some(since),
        }
    }
}

/// The shutdown state a `Db` carries.
pub(crate) struct Shutdown {
    phase: watch::Sender<Phase>,
    drain: Duration,
    /// Whether anyone asked for [`signal`](Self::signal): a `main` that never did is not
    /// waiting for it, and is stopped when the drain ends rather than after `grace`.
    listened: AtomicBool,
}

impl Shutdown {
    /// Serving, with `[shutdown] drain`.
    pub(crate) fn new(drain: Duration) -> Shutdown {
        Shutdown {
            phase: watch::Sender::new(Phase::Serving),
            drain,
            listened: AtomicBool::new(false),
        }
    }

    pub(crate) fn phase(&self) -> Phase {
        *self.phase.borrow()
    }

    /// Starts draining, unless a shutdown already began; returns whether this call began it.
    pub(crate) fn begin(&self) -> bool {
        self.phase.send_if_modified(|phase| {
            if *phase != Phase::Serving {
                return false;
            }
            *phase = Phase::Draining {
                since: Instant::now(),
            };
            true
        })
    }

    /// Ends the drain now: [`signal`](Self::signal) resolves.
    pub(crate) fn stop(&self) {
        self.phase.send_if_modified(|phase| {
            let since = match *phase {
                Phase::Stopping { .. } => return false,
                Phase::Draining { since } => since,
                Phase::Serving => Instant::now(),
            };
            *phase = Phase::Stopping { since };
            true
        });
    }

    /// Whether [`signal`](Self::signal) was ever asked for.
    pub(crate) fn listened(&self) -> bool {
        self.listened.load(Ordering::Relaxed)
    }

    /// Resolves once the shutdown began and its drain is over (or [`stop`](Self::stop) ended
    /// it early); also when the `Db` is gone.
    pub(crate) fn signal(&self) -> impl Future<Output = ()> + Send + 'static {
        self.listened.store(true, Ordering::Relaxed);
        let mut phase = self.phase.subscribe();
        let drain = self.drain;
        async move {
            loop {
                let now = *phase.borrow_and_update();
                let until = match now {
                    Phase::Stopping { .. } => return,
                    Phase::Draining { since } => Some(since + drain),
                    Phase::Serving => None,
                };
                let changed = phase.changed();
                let closed = match until {
                    Some(until) => tokio::select! {
                        () = tokio::time::sleep_until(until.into()) => return,
                        changed = changed => changed.is_err(),
                    },
                    None => changed.await.is_err(),
                };
                if closed {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DRAIN: Duration = Duration::from_millis(200);

    #[tokio::test]
    async fn the_signal_waits_for_the_drain() {
        let s = Shutdown::new(DRAIN);
        assert!(!s.listened());
        let mut signal = Box::pin(s.signal());
        assert!(s.listened());
        assert!(
            tokio::time::timeout(2 * DRAIN, &mut signal).await.is_err(),
            "no shutdown began"
        );
        assert_eq!(s.phase().name(), None);
        assert!(s.begin());
        let began = Instant::now();
        assert!(!s.begin(), "a second call does not restart the drain");
        assert_eq!(s.phase().name(), Some("draining"));
        signal.await;
        let waited = began.elapsed();
        assert!(waited >= DRAIN && waited < 5 * DRAIN, "{waited:?}");
        // Stopping keeps the time the shutdown began; a late listener resolves at once.
        s.stop();
        assert_eq!(s.phase().name(), Some("stopping"));
        assert!(s.phase().since().is_some_and(|t| t <= began));
        tokio::time::timeout(DRAIN / 10, s.signal()).await.unwrap();
    }

    #[tokio::test]
    async fn stop_ends_the_drain_early() {
        let s = Shutdown::new(Duration::from_secs(60));
        let waiter = tokio::spawn(s.signal());
        s.begin();
        tokio::time::sleep(DRAIN).await;
        assert!(!waiter.is_finished());
        s.stop();
        tokio::time::timeout(DRAIN, waiter).await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn a_dropped_state_releases_its_listeners() {
        let s = Shutdown::new(Duration::from_secs(60));
        let signal = s.signal();
        drop(s);
        tokio::time::timeout(DRAIN, signal).await.unwrap();
    }
}
