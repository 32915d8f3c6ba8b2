//! `pgready::Db`: the handle a service holds.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_core::future::BoxFuture;
use pgready_core::config::Config;

use crate::embedded::Cluster;
use crate::health::Registry;
use crate::migrate::{MigrationState, Migrator};
use crate::replica::Replica;
use crate::retry::RetryCounts;
use crate::shutdown::{Phase, Shutdown};
use crate::{Classify, Error, ErrorClass, Pool, Transaction, TransactionOptions};

/// The database as the service sees it: a write pool, a read pool (the replica when
/// `[database] read_url_env` is set at run time and the replica serves, else the write pool),
/// the validated config
/// and the migration state found at start-up.
///
/// Cloning is cheap (one `Arc`); every clone shares the same pools.
///
/// Hand it to the code that queries as framework state: with axum,
/// `Router::new().….with_state(db)` and `State(db): State<pgready::Db>` in handlers (or any
/// state `S` where `Db: FromRef<S>`). Tests can then give each handler its own database.
///
/// Code that no state reaches (a library callback, a `log` sink) can read it from a `static`
/// set once in `main`, after start-up, with std's `OnceLock`:
///
/// ```ignore
/// use std::sync::OnceLock;
///
/// static DB: OnceLock<pgready::Db> = OnceLock::new();
///
/// /// The database; set in `main` before anything runs that calls this.
/// fn db() -> &'static pgready::Db {
///     DB.get().expect("DB is set in main at start-up")
/// }
///
/// #[pgready::migrated_pool]
/// async fn main(db: pgready::Db) {
///     DB.set(db).expect("main sets DB once");
///     // … serve; anywhere: sqlx::query("…").execute(db().write()).await
/// }
/// ```
///
/// `#[migrated_pool]` closes the pools when `main`'s body returns, also those of the copy in
/// the `static`. A `LazyLock` cannot hold it: start-up is async and can fail, so it belongs
/// in `main`, where its error is reported.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    write: Pool,
    read: Option<Replica>,
    config: Config,
    profile: String,
    migrations: MigrationState,
    /// The development cluster, when pgready started one; stopped when taken and dropped.
    embedded: Mutex<Option<Cluster>>,
    /// The migrations built into the binary, for the health check's live comparison.
    migrator: Migrator,
    /// Health endpoints' caches and the probes' own connections.
    health: Registry,
    /// `transaction_with`'s retries and give-ups, for `pgready::metrics`.
    retries: RetryCounts,
    /// Serving, draining or stopping: readiness and `shutdown_signal()` follow it.
    shutdown: Shutdown,
}

impl Db {
    /// What start-up ends with: the pools, the configuration in force, the migrations and
    /// what it found of them, and the development cluster if it started one.
    pub(crate) fn new(
        write: Pool,
        read: Option<Replica>,
        config: Config,
        profile: String,
        migrations: MigrationState,
        migrator: Migrator,
        embedded: Option<Cluster>,
    ) -> Db {
        let shutdown = Shutdown::new(config.shutdown.drain);
        Db {
            inner: Arc::new(Inner {
                write,
                read,
                config,
                profile,
                migrations,
                embedded: Mutex::new(embedded),
                migrator,
                health: Registry::default(),
                retries: RetryCounts::default(),
                shutdown,
            }),
        }
    }

    /// A handle that does not keep the `Db` alive (the metrics publisher's).
    #[cfg(feature = "metrics")]
    pub(crate) fn downgrade(&self) -> WeakDb {
        WeakDb(Arc::downgrade(&self.inner))
    }

    /// The primary's pool: use it for writes and for reads that must see them.
    pub fn write(&self) -> &Pool {
        &self.inner.write
    }

    /// Where reads go now: the replica's pool when a read DSN is set and the replica serves,
    /// else the primary's.
    ///
    /// With `[database] read_fallback = "primary"` (the default) reads move to the primary
    /// while the replica does not answer or lags more than `[health] max_replica_lag`, and
    /// back once it answers and has caught up (checked every second; each switch is logged).
    /// A replica may lag: reads that must see this process's own writes belong on
    /// [`write`](Self::write) or in [`transaction`](Self::transaction).
    pub fn read(&self) -> &Pool {
        match &self.inner.read {
            Some(replica) if replica.serving() => replica.pool(),
            _ => &self.inner.write,
        }
    }

    /// Whether a replica is configured (a read DSN was set at start-up), whether or not reads
    /// go to it right now ([`reads_from_replica`](Self::reads_from_replica)).
    pub fn has_replica(&self) -> bool {
        self.inner.read.is_some()
    }

    /// The replica's pool, when a read DSN was set, wherever reads go now.
    pub fn replica(&self) -> Option<&Pool> {
        self.inner.read.as_ref().map(Replica::pool)
    }

    /// Whether [`read`](Self::read) goes to the replica right now.
    pub fn reads_from_replica(&self) -> bool {
        self.inner.read.as_ref().is_some_and(Replica::serving)
    }

    /// The replica's router, for the health check.
    pub(crate) fn replica_routing(&self) -> Option<&Replica> {
        self.inner.read.as_ref()
    }

    /// The configuration in force (the profile chosen by `PGREADY_PROFILE`).
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The profile name chosen at start-up.
    pub fn profile(&self) -> &str {
        &self.inner.profile
    }

    /// What start-up found in the migrations table, after applying.
    pub fn migrations(&self) -> &MigrationState {
        &self.inner.migrations
    }

    /// Runs `f` in a transaction on the write pool: committed when `f` returns `Ok`, rolled back
    /// when it returns `Err` (or panics, or its future is dropped).
    ///
    /// `f`'s error type converts from [`pgready::Error`](crate::Error), which a failed
    /// `BEGIN` or `COMMIT` (or a pool timeout) is; `pgready::Error` itself converts from the
    /// `sqlx::Error` of a query:
    ///
    /// ```no_run
    /// # async fn f(db: pgready::Db) -> Result<(), pgready::Error> {
    /// let id: i64 = db
    ///     .transaction(|tx| Box::pin(async move {
    ///         let id = pgready::sqlx::query_scalar("INSERT INTO items (name) VALUES ('a') RETURNING id")
    ///             .fetch_one(&mut **tx)
    ///             .await?;
    ///         Ok::<_, pgready::Error>(id)
    ///     }))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn transaction<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: for<'c> FnOnce(&'c mut Transaction<'static>) -> BoxFuture<'c, Result<T, E>>,
        E: From<Error>,
    {
        let mut tx = self.write().begin().await?;
        match f(&mut tx).await {
            Ok(value) => {
                tx.commit().await?;
                Ok(value)
            }
            Err(e) => {
                // Rolled back here rather than on drop, so the connection goes back clean; if the
                // rollback fails, the connection is closed and `f`'s error is the one to see.
                if let Err(rollback) = tx.rollback().await {
                    tracing::debug!("rolling back after an error: {rollback}");
                }
                Err(e)
            }
        }
    }

    /// [`transaction`](Self::transaction) with a mode and retries: `f` runs in a transaction
    /// begun as `options` say (isolation level, read only, deferrable), committed when it
    /// returns `Ok`; when an attempt fails with a serialization failure (SQLSTATE 40001), a
    /// deadlock (40P01) or a connection lost before `COMMIT` was sent, it is rolled back and
    /// `f` runs again in a new transaction, after a jittered exponential backoff, within
    /// `options`' bounds (by default 5 attempts and 10 s: see [`TransactionOptions`]). Each
    /// retry is logged (`tracing::warn!`, with the SQLSTATE and the attempt) and counted in
    /// `pgready_transaction_retries_total`.
    ///
    /// `f` may therefore run more than once: whatever it does outside the database (an email,
    /// a counter) happens once per attempt. Its error type tells its [`ErrorClass`]
    /// ([`Classify`]: `pgready::Error` and `sqlx::Error` do), which decides whether to retry.
    ///
    /// Past the bounds it fails with [`Error::TransactionGaveUp`] (naming the SQLSTATE and
    /// the attempts; counted in `pgready_transaction_give_ups_total`); any other error of `f`
    /// is returned as it is, after the rollback. A connection lost after `COMMIT` was sent is
    /// never retried: the transaction may have committed, and the error,
    /// [`Error::CommitOutcomeUnknown`], says so.
    ///
    /// ```no_run
    /// # async fn f(db: pgready::Db) -> Result<(), pgready::Error> {
    /// use pgready::{IsolationLevel, TransactionOptions};
    ///
    /// let serializable = TransactionOptions::new().isolation(IsolationLevel::Serializable);
    /// db.transaction_with(serializable, |tx| Box::pin(async move {
    ///     pgready::sqlx::query("UPDATE accounts SET balance = balance - 10 WHERE id = 1")
    ///         .execute(&mut **tx)
    ///         .await?;
    ///     pgready::sqlx::query("UPDATE accounts SET balance = balance + 10 WHERE id = 2")
    ///         .execute(&mut **tx)
    ///         .await?;
    ///     Ok::<_, pgready::Error>(())
    /// }))
    /// .await?;
    /// # Ok(()) }
    /// ```
    pub async fn transaction_with<T, E, F>(
        &self,
        options: TransactionOptions,
        mut f: F,
    ) -> Result<T, E>
    where
        F: for<'c> FnMut(&'c mut Transaction<'static>) -> BoxFuture<'c, Result<T, E>>,
        E: From<Error> + Classify,
    {
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let failure = match self.attempt(&options, attempt, &mut f).await {
                Ok(value) => return Ok(value),
                Err(e) => e,
            };
            let class = failure.class();
            let Some(sqlstate) = class.retried_as() else {
                return Err(failure);
            };
            let delay = options.delay(attempt);
            let elapsed = started.elapsed();
            let limit = if attempt >= options.attempts() {
                Some(format!("max_attempts = {} reached", options.attempts()))
            } else if elapsed + delay > options.elapsed_bound() {
                Some(format!(
                    "max_elapsed = {:?} reached",
                    options.elapsed_bound()
                ))
            } else {
                None
            };
            if let Some(limit) = limit {
                self.inner.retries.gave_up(sqlstate);
                let error = Error::TransactionGaveUp {
                    class,
                    sqlstate,
                    attempts: attempt,
                    elapsed: round_ms(elapsed),
                    limit,
                };
                tracing::warn!(sqlstate, attempt, "{error}");
                return Err(E::from(error));
            }
            self.inner.retries.retried(sqlstate);
            tracing::warn!(
                sqlstate,
                attempt,
                ?delay,
                "transaction attempt {attempt} failed with {} (SQLSTATE {sqlstate}); retrying",
                class.as_str()
            );
            tokio::time::sleep(delay).await;
        }
    }

    /// One attempt of [`transaction_with`](Self::transaction_with).
    async fn attempt<T, E, F>(
        &self,
        options: &TransactionOptions,
        attempt: u32,
        f: &mut F,
    ) -> Result<T, E>
    where
        F: for<'c> FnMut(&'c mut Transaction<'static>) -> BoxFuture<'c, Result<T, E>>,
        E: From<Error> + Classify,
    {
        let mut tx = self.write().begin_with(options.begin_statement()).await?;
        match f(&mut tx).await {
            Ok(value) => match tx.commit().await {
                Ok(()) => Ok(value),
                // The server answered with an error (40001 at commit, a deferred constraint):
                // rolled back, as the error says.
                Err(e) if e.class() != ErrorClass::ConnectionLost => Err(E::from(e)),
                Err(e) => Err(E::from(Error::CommitOutcomeUnknown {
                    attempt,
                    message: e.to_string(),
                })),
            },
            Err(e) => {
                if let Err(rollback) = tx.rollback().await {
                    tracing::debug!("rolling back after an error: {rollback}");
                }
                Err(e)
            }
        }
    }

    /// Retries and give-ups of [`transaction_with`](Self::transaction_with).
    pub(crate) fn retry_counts(&self) -> &RetryCounts {
        &self.inner.retries
    }

    /// Closes both pools and waits for their connections to close, at most `[shutdown] grace`
    /// (30 s by default) for those still in use; past it, logs which pool still had how many
    /// and returns (see [`Pool::close_within`]).
    ///
    /// `#[migrated_pool]` calls it when `main`'s body returns.
    pub async fn close(&self) {
        self.close_within(self.config().shutdown.grace).await;
    }

    /// [`close`](Self::close) with its own bound; logs a warning for a pool that still had
    /// connections in use past it.
    pub(crate) async fn close_within(&self, grace: Duration) {
        let close = |pool: &Pool| {
            let pool = pool.clone();
            async move {
                if let Err(e) = pool.close_within(grace).await {
                    tracing::warn!("{e}");
                }
            }
        };
        let read = async {
            if let Some(read) = &self.inner.read {
                close(read.pool()).await;
            }
        };
        tokio::join!(close(&self.inner.write), read);
    }

    /// A future that resolves when the service should stop accepting requests: after SIGTERM
    /// or Ctrl-C (or [`begin_shutdown`](Self::begin_shutdown)) and then `[shutdown] drain`,
    /// during which readiness endpoints already answer 503 so that load balancers stop
    /// sending. Hand it to axum's graceful shutdown:
    ///
    /// ```no_run
    /// # async fn f(db: pgready::Db, listener: tokio::net::TcpListener, app: axum::Router) -> std::io::Result<()> {
    /// axum::serve(listener, app)
    ///     .with_graceful_shutdown(db.shutdown_signal())
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// axum then stops accepting and waits for the requests in flight. Under
    /// `#[migrated_pool]`, `main`'s body gets `[shutdown] grace` to return; then the pools
    /// close and the process exits with status 0. A body that never asked for this future is
    /// dropped when the drain ends instead, and the exit status is the signal's (128 + its
    /// number). The future is `'static`: any number may wait, in any task.
    pub fn shutdown_signal(&self) -> impl Future<Output = ()> + Send + 'static {
        self.inner.shutdown.signal()
    }

    /// Starts the shutdown as SIGTERM does under `#[migrated_pool]`: readiness endpoints
    /// answer 503 from now on, and [`shutdown_signal`](Self::shutdown_signal) resolves after
    /// `[shutdown] drain`. For a service that runs its own signal handling (built on
    /// [`pgready::start`](crate::start)), or that stops on another event. A second call does
    /// nothing.
    pub fn begin_shutdown(&self) {
        if self.inner.shutdown.begin() {
            tracing::info!(
                drain = ?self.config().shutdown.drain,
                "shutting down: readiness answers 503, the server is told to stop after the drain"
            );
        }
    }

    /// Whether a shutdown began: readiness endpoints answer 503.
    pub fn is_shutting_down(&self) -> bool {
        self.inner.shutdown.phase() != Phase::Serving
    }

    /// The shutdown's phase, for readiness.
    pub(crate) fn shutdown_phase(&self) -> Phase {
        self.inner.shutdown.phase()
    }

    /// The shutdown state, for the generated `main`.
    pub(crate) fn shutdown(&self) -> &Shutdown {
        &self.inner.shutdown
    }

    /// The migrations built into the binary.
    pub(crate) fn migrator(&self) -> &Migrator {
        &self.inner.migrator
    }

    /// Health endpoints' state.
    pub(crate) fn health_registry(&self) -> &Registry {
        &self.inner.health
    }

    /// Takes the embedded cluster out, so the caller decides when it stops.
    pub(crate) fn take_embedded(&self) -> Option<Cluster> {
        self.inner
            .embedded
            .lock()
            .map_or(None, |mut slot| slot.take())
    }
}

/// `d` to the millisecond, for messages.
fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A [`Db`] that may have been dropped.
#[cfg(feature = "metrics")]
pub(crate) struct WeakDb(std::sync::Weak<Inner>);

#[cfg(feature = "metrics")]
impl WeakDb {
    pub(crate) fn upgrade(&self) -> Option<Db> {
        self.0.upgrade().map(|inner| Db { inner })
    }
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("profile", &self.inner.profile)
            .field("write", &self.inner.write)
            .field("read", &self.inner.read.as_ref().map(Replica::pool))
            .field("reads_from_replica", &self.reads_from_replica())
            .finish_non_exhaustive()
    }
}
