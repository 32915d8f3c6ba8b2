//! The engine under [`Pool`](super::Pool): deadpool's managed pool over sqlx `PgConnection`s.
//!
//! deadpool supplies the slots, the fair (first-come-first-served) semaphore waiters queue on,
//! and `max_connections` as a hard limit. pgready supplies what a connection needs: the session
//! batch on connect, validation only for connections idle longer than `validation_bypass`,
//! `max_lifetime`, `idle_timeout` reaping and `min_connections` kept open (a maintenance task),
//! and a count of every connection discarded and why.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use pgready_core::config;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{Connection, Executor, SqlSafeStr, SqlStr};
use sqlx_core::transaction::TransactionManager;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use super::query_counts::QueryCounts;

/// deadpool's pool of pgready connections.
pub(crate) type Engine = managed::Pool<Manager>;
/// A connection on loan from the engine; goes back when dropped.
pub(crate) type Object = managed::Object<Manager>;

/// One physical connection and what the pool knows about it.
pub(crate) struct Conn {
    pub(crate) raw: PgConnection,
    /// One of `max_connections`, held until the connection is closed, not only until it
    /// leaves deadpool's slots: a connection being closed still counts.
    _open: OwnedSemaphorePermit,
    created: Instant,
    /// When it last went back to the pool clean: the validation bypass and idle reaping count
    /// from here.
    pub(crate) released: Instant,
    /// Behind a transaction pooler (`[database] pgbouncer = true`): its statements are
    /// unnamed, and its transactions begin by removing sqlx's named statements that an earlier
    /// client left on the server connection.
    pub(crate) unnamed: bool,
    /// Queries run since it was handed out, added to `counts` when it goes back.
    pub(crate) queries: u64,
    /// The pool's counts of queries and failures.
    pub(crate) counts: Arc<QueryCounts>,
    /// `#[pgready::test]`'s transaction mode: the connection runs inside the test's
    /// transaction, which going back to the pool leaves open (transaction depth 1 is clean).
    pub(crate) test: Option<Arc<TestTransaction>>,
}

/// `#[pgready::test]`'s transaction mode (`isolation = "transaction"`): the pool's only
/// connection begins the test's transaction when it opens, and every acquire hands it out.
#[derive(Default)]
pub(crate) struct TestTransaction {
    /// A user holds the connection: another acquire fails at once instead of waiting for ever.
    pub(crate) held: AtomicBool,
}

/// Marks the test's transaction: a setting local to it, gone once it ends, so the end of the
/// test can tell whether SQL it ran (`COMMIT`, `ROLLBACK`) ended it.
pub(crate) const TEST_TRANSACTION_MARK: &str = "pgready.test_transaction";

impl Conn {
    /// The transaction depth a connection goes back to the pool with: 1 inside a test's
    /// transaction, else 0.
    pub(crate) fn base_depth(&self) -> usize {
        usize::from(self.test.is_some())
    }
}

/// Why the pool closed a connection; a label of `pgready_pool_connections_discarded_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Discard {
    /// Older than `max_lifetime`.
    Lifetime,
    /// Idle longer than `idle_timeout`, above `min_connections`.
    Idle,
    /// Failed validation or an I/O error: the server or the network dropped it.
    Broken,
    /// Could not be made clean (rolled back, drained) after its user left it mid-operation.
    Dirty,
}

impl Discard {
    pub(crate) const ALL: [Discard; 4] = [
        Discard::Lifetime,
        Discard::Idle,
        Discard::Broken,
        Discard::Dirty,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Discard::Lifetime => "max_lifetime",
            Discard::Idle => "idle_timeout",
            Discard::Broken => "broken",
            Discard::Dirty => "dirty",
        }
    }
}

/// Creates, validates and counts connections for deadpool.
pub(crate) struct Manager {
    options: PgConnectOptions,
    /// The `[session]` batch, run once on every new connection.
    settings: SqlStr,
    limits: config::Pool,
    /// Behind a transaction pooler: see [`Conn::unnamed`].
    unnamed: bool,
    /// `max_connections` permits, one per open connection.
    open: Arc<Semaphore>,
    pub(crate) spares: Arc<Spares>,
    discarded: [AtomicU64; Discard::ALL.len()],
    /// Transactions dropped without `commit` or `rollback`.
    dropped_transactions: AtomicU64,
    /// Queries run and failed, per class; each connection holds it too.
    pub(crate) counts: Arc<QueryCounts>,
    /// `#[pgready::test]`'s transaction mode.
    pub(crate) test: Option<Arc<TestTransaction>>,
}

impl Manager {
    pub(crate) fn new(
        options: PgConnectOptions,
        settings: SqlStr,
        limits: config::Pool,
        unnamed: bool,
        test: Option<Arc<TestTransaction>>,
    ) -> Self {
        Manager {
            options,
            settings,
            unnamed,
            open: Arc::new(Semaphore::new(limits.max_connections as usize)),
            spares: Arc::default(),
            limits,
            discarded: Default::default(),
            dropped_transactions: AtomicU64::new(0),
            counts: Arc::default(),
            test,
        }
    }

    /// The `[session]` batch every new connection runs.
    pub(crate) fn settings(&self) -> &SqlStr {
        &self.settings
    }

    pub(crate) fn options(&self) -> &PgConnectOptions {
        &self.options
    }

    pub(crate) fn limits(&self) -> &config::Pool {
        &self.limits
    }

    pub(crate) fn count_discard(&self, why: Discard) {
        self.discarded[why as usize].fetch_add(1, Ordering::Relaxed);
        tracing::debug!(reason = why.as_str(), "discarded a pooled connection");
    }

    pub(crate) fn count_dropped_transaction(&self) {
        self.dropped_transactions.fetch_add(1, Ordering::Relaxed);
    }

    /// Transactions dropped without `commit` or `rollback` so far.
    pub(crate) fn dropped_transactions(&self) -> u64 {
        self.dropped_transactions.load(Ordering::Relaxed)
    }

    /// Connections discarded so far, per reason.
    pub(crate) fn discarded(&self) -> [(Discard, u64); Discard::ALL.len()] {
        Discard::ALL.map(|why| (why, self.discarded[why as usize].load(Ordering::Relaxed)))
    }

    /// With `test_before_acquire`, a connection idle longer than `validation_bypass` is pinged
    /// before it is handed out (HikariCP's rule: one used within the last 500 ms is alive).
    fn needs_validation(&self, conn: &Conn, now: Instant) -> bool {
        self.limits.test_before_acquire
            && now.saturating_duration_since(conn.released) > self.limits.validation_bypass
    }

    fn expired(&self, conn: &Conn, now: Instant) -> bool {
        self.limits
            .max_lifetime
            .is_some_and(|max| now.saturating_duration_since(conn.created) >= max)
    }
}

impl managed::Manager for Manager {
    type Type = Conn;
    type Error = sqlx::Error;

    /// Opens a connection in a task of its own: if the acquire that asked for it gives up
    /// (dropped, or `acquire_timeout`), the connection is still opened and kept as a spare for
    /// the next one, so a pool under load with impatient callers still grows.
    async fn create(&self) -> Result<Conn, sqlx::Error> {
        loop {
            if let Some(mut conn) = self.spares.take(self) {
                if self.needs_validation(&conn, Instant::now()) && conn.raw.ping().await.is_err() {
                    self.count_discard(Discard::Broken);
                    continue;
                }
                return Ok(conn);
            }
            tokio::select! {
                // Waits only while a discarded connection is still being closed, or while
                // spares hold the places.
                open = Arc::clone(&self.open).acquire_owned() => {
                    let open = open.map_err(|_| sqlx::Error::PoolClosed)?;
                    let (sender, receiver) = tokio::sync::oneshot::channel();
                    let (options, settings) = (self.options.clone(), self.settings.clone());
                    let spares = Arc::clone(&self.spares);
                    let unnamed = self.unnamed;
                    let counts = Arc::clone(&self.counts);
                    let test = self.test.clone();
                    tokio::spawn(async move {
                        let result = connect(&options, settings, open, unnamed, counts, test).await;
                        if let Err(Ok(conn)) = sender.send(result) {
                            spares.put(conn);
                        }
                    });
                    return receiver
                        .await
                        .unwrap_or(Err(sqlx::Error::WorkerCrashed));
                }
                () = self.spares.added.notified() => {}
            }
        }
    }

    /// Runs on every hand-out of an idle connection, so it costs no round trip unless the
    /// connection needs validation, and one clock read.
    async fn recycle(&self, conn: &mut Conn, _: &Metrics) -> RecycleResult<sqlx::Error> {
        let now = Instant::now();
        if self.expired(conn, now) {
            self.count_discard(Discard::Lifetime);
            return Err(RecycleError::message("older than max_lifetime"));
        }
        if self.needs_validation(conn, now)
            && let Err(e) = conn.raw.ping().await
        {
            self.count_discard(Discard::Broken);
            return Err(RecycleError::Backend(e));
        }
        Ok(())
    }
}

async fn connect(
    options: &PgConnectOptions,
    settings: SqlStr,
    open: OwnedSemaphorePermit,
    unnamed: bool,
    counts: Arc<QueryCounts>,
    test: Option<Arc<TestTransaction>>,
) -> Result<Conn, sqlx::Error> {
    let mut raw = PgConnection::connect_with(options).await?;
    if test.is_some() {
        // One round trip: the session batch, `BEGIN` (through sqlx, which then counts the
        // transaction, so `begin()` opens savepoints) and the mark.
        let batch = format!(
            "{}; BEGIN; SELECT set_config('{TEST_TRANSACTION_MARK}', 'on', true)",
            settings.as_str()
        );
        <sqlx::Postgres as sqlx::Database>::TransactionManager::begin(
            &mut raw,
            Some(sqlx::AssertSqlSafe(batch).into_sql_str()),
        )
        .await?;
    } else if !settings.as_str().is_empty() {
        raw.execute(settings).await?;
    }
    let now = Instant::now();
    Ok(Conn {
        raw,
        _open: open,
        created: now,
        released: now,
        unnamed,
        queries: 0,
        counts,
        test,
    })
}

/// Connections opened ahead of need: to keep `min_connections` open, or for an acquire that
/// gave up before its connection was ready. When the pool needs a new connection (none idle),
/// it takes one from here before it opens one.
#[derive(Default)]
pub(crate) struct Spares {
    conns: Mutex<Vec<Conn>>,
    added: Notify,
}

impl Spares {
    fn put(&self, conn: Conn) {
        self.lock().push(conn);
        self.added.notify_one();
    }

    /// The newest spare within `max_lifetime`; older ones are dropped (closed).
    fn take(&self, manager: &Manager) -> Option<Conn> {
        let mut conns = self.lock();
        let now = Instant::now();
        while let Some(conn) = conns.pop() {
            if !manager.expired(&conn, now) {
                return Some(conn);
            }
            manager.count_discard(Discard::Lifetime);
        }
        None
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Every spare, to close.
    pub(crate) fn drain(&self) -> Vec<Conn> {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Conn>> {
        // A panic while holding this lock leaves the list intact.
        self.conns
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// With `first`, opens one connection, so a bad DSN fails here and not on the first query;
/// then opens the rest of `min_connections` and keeps the pool in shape in the background
/// until it is dropped or closed. Without `first` (a replica that is down at start-up) the
/// pool opens its connections once the server answers.
pub(crate) async fn start(engine: &Engine, first: bool) -> Result<(), sqlx::Error> {
    if first {
        top_up(engine, 1).await?;
    }
    let weak = engine.weak();
    let tick = maintenance_interval(&engine.manager().limits);
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Said once when it starts failing and once when it works again, not every tick.
        let mut failing = false;
        loop {
            // The first tick is at once: the rest of `min_connections`.
            interval.tick().await;
            let Some(engine) = weak.upgrade() else { return };
            if engine.is_closed() {
                return;
            }
            reap(&engine).await;
            let min = engine.manager().limits.min_connections as usize;
            match top_up(&engine, min).await {
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!(
                        "could not reopen pool connections up to min_connections: {e}; \
                         retrying every {tick:?}"
                    );
                }
                Ok(()) if failing => {
                    failing = false;
                    tracing::info!("pool connections reopened up to min_connections");
                }
                _ => {}
            }
        }
    });
    Ok(())
}

/// Often enough that `idle_timeout` and `max_lifetime` are kept to within half their length,
/// at most once a second.
fn maintenance_interval(limits: &config::Pool) -> Duration {
    [limits.idle_timeout, limits.max_lifetime]
        .into_iter()
        .flatten()
        .map(|d| d / 2)
        .fold(Duration::from_secs(1), Duration::min)
        .max(Duration::from_millis(10))
}

/// Closes idle connections past `max_lifetime`, and those idle longer than `idle_timeout` while
/// the pool holds more than `min_connections`.
async fn reap(engine: &Engine) {
    let manager = engine.manager();
    let min = manager.limits.min_connections as usize;
    let mut size = engine.status().size + manager.spares.len();
    let idle_too_long = |conn: &Conn| {
        manager
            .limits
            .idle_timeout
            .is_some_and(|idle| conn.released.elapsed() >= idle)
    };
    let now = Instant::now();
    let mut reasons = Vec::new();
    let removed = engine.retain(|conn, _| {
        let why = if manager.expired(conn, now) {
            Discard::Lifetime
        } else if size > min && idle_too_long(conn) {
            Discard::Idle
        } else {
            return true;
        };
        size -= 1;
        reasons.push(why);
        false
    });
    let mut closing: Vec<_> = removed.removed.into_iter().zip(reasons).collect();
    for conn in manager.spares.drain() {
        let why = if manager.expired(&conn, now) {
            Discard::Lifetime
        } else if size > min && idle_too_long(&conn) {
            Discard::Idle
        } else {
            manager.spares.put(conn);
            continue;
        };
        size -= 1;
        closing.push((conn, why));
    }
    for (conn, why) in closing {
        manager.count_discard(why);
        close(conn).await;
    }
}

/// Opens connections, as spares, until the pool holds `min`; never past `max_connections`.
async fn top_up(engine: &Engine, min: usize) -> Result<(), sqlx::Error> {
    let manager = engine.manager();
    let missing = min.saturating_sub(engine.status().size + manager.spares.len());
    for _ in 0..missing {
        let Ok(open) = Arc::clone(&manager.open).try_acquire_owned() else {
            return Ok(());
        };
        let conn = connect(
            &manager.options,
            manager.settings.clone(),
            open,
            manager.unnamed,
            Arc::clone(&manager.counts),
            manager.test.clone(),
        )
        .await?;
        manager.spares.put(conn);
    }
    Ok(())
}

/// Closes a connection politely (a Terminate message), ignoring a peer that is already gone;
/// its place under `max_connections` is free once it is closed.
pub(crate) async fn close(conn: Conn) {
    if let Err(e) = conn.raw.close().await {
        tracing::debug!("closing a pooled connection: {e}");
    }
}
