//! The ordered shutdown of the `main` that `#[migrated_pool]` generates: `main`'s body runs
//! until it returns or SIGTERM/SIGINT arrives; then readiness answers 503 for `[shutdown]
//! drain`, `db.shutdown_signal()` resolves, and the body gets `[shutdown] grace` to return.
//! A second signal stops at once. What is left (closing the pools, stopping the runtime and
//! the embedded cluster) is `start::run`'s, with the bound this returns.

use std::future::Future;
use std::pin::pin;
use std::time::{Duration, Instant};

use crate::Db;
use crate::signal::{Signal, Signals};

/// How `main`'s body ended.
pub(crate) enum Ended<T> {
    /// It returned, with no signal received.
    Returned(T),
    /// It returned after a signal, within the bounds.
    ReturnedAfterSignal(T),
    /// It waited for `shutdown_signal()` but was still running when `grace` ran out: dropped,
    /// the shutdown kept its bound (exit status 0).
    Cut,
    /// It never asked for `shutdown_signal()`, so nothing it does can end on purpose: dropped
    /// when the drain ended, and the exit status says the signal stopped it, as it did before
    /// pgready handled signals (a batch job's runner must not read that as success).
    Interrupted(Signal),
    /// A second signal: dropped at once.
    Forced(Signal),
}

/// Runs `body` under the shutdown sequence; returns how it ended and by when what is left
/// must be done (`None` without a signal: the pools then get `[shutdown] grace` as usual).
pub(crate) async fn run<T>(db: &Db, body: impl Future<Output = T>) -> (Ended<T>, Option<Instant>) {
    let mut signals = Signals::listen();
    let mut body = pin!(body);
    let first = tokio::select! {
        output = &mut body => return (Ended::Returned(output), None),
        signal = signals.recv() => signal,
    };
    let shutdown = db.shutdown();
    let config = &db.config().shutdown;
    shutdown.begin();
    let since = shutdown.phase().since().unwrap_or_else(Instant::now);
    let drain_ends = since + config.drain;
    tracing::info!(
        drain = ?config.drain,
        grace = ?config.grace,
        "{} received: readiness answers 503; the server is told to stop after the drain \
         (a second signal stops at once)",
        first.name()
    );

    tokio::select! {
        output = &mut body => {
            let deadline = Instant::now() + config.grace;
            return (Ended::ReturnedAfterSignal(output), Some(deadline));
        }
        () = tokio::time::sleep_until(drain_ends.into()) => {}
        signal = signals.recv() => return forced(signal, since),
    }
    shutdown.stop();
    let deadline = Instant::now() + config.grace;
    if !shutdown.listened() {
        tracing::info!(
            "drained; `main` does not wait for `db.shutdown_signal()`, so it is stopped now \
             (pass the signal to `axum::serve(..).with_graceful_shutdown(..)` to let requests \
             in flight finish)"
        );
        return (Ended::Interrupted(first), Some(deadline));
    }
    tracing::info!(
        grace = ?config.grace,
        "drained: the server is told to stop; waiting for requests in flight"
    );
    tokio::select! {
        output = &mut body => (Ended::ReturnedAfterSignal(output), Some(deadline)),
        () = tokio::time::sleep_until(deadline.into()) => {
            tracing::warn!(
                grace = ?config.grace,
                "`main` was still running when `[shutdown] grace` ran out: stopping it, with \
                 the requests still in flight"
            );
            (Ended::Cut, Some(deadline))
        }
        signal = signals.recv() => forced(signal, since),
    }
}

fn forced<T>(signal: Signal, since: Instant) -> (Ended<T>, Option<Instant>) {
    tracing::warn!(
        after = ?since.elapsed(),
        "a second signal ({}): stopping at once, with the requests still in flight",
        signal.name()
    );
    (Ended::Forced(signal), Some(Instant::now()))
}

/// What is left of `deadline` (zero once it passed).
pub(crate) fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}
