//! `pgready::Pool`: the pool handle users query through, and its engine.
//!
//! The engine (`engine.rs`) is pgready's slots over sqlx `PgConnection`s. What users
//! touch (`&Pool` as a `sqlx::Executor`, [`Pool::acquire`], [`Pool::begin`], [`PoolStats`]) is
//! pgready's own. A connection goes back to the pool without a round trip when pgready saw it
//! left clean, and is rolled back and drained first when not (`connection.rs`); transactions
//! are `transaction.rs`, the acquire-latency histogram `acquire_times.rs`.

mod acquire_times;
mod connection;
mod engine;
mod query_counts;
mod scan;
mod transaction;

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_core::future::BoxFuture;
use futures_core::stream::BoxStream;
use futures_util::TryStreamExt;
use pgready_core::config;
use sqlx::postgres::{PgConnectOptions, PgQueryResult, PgRow, PgStatement, PgTypeInfo, Postgres};
use sqlx::{Describe, Either, Execute, Executor, SqlStr};
use tracing::Instrument;

pub use connection::{PoolConnection, TrackedConnection};
pub(crate) use engine::Discard;
pub use transaction::Transaction;

use crate::Error;
use acquire_times::AcquireTimes;
use engine::{Engine, GetError, Manager};
pub(crate) use engine::{TEST_TRANSACTION_MARK, TestTransaction};
pub(crate) use query_counts::QueryCounts;

/// A pool of PostgreSQL connections with pgready's session settings applied to each.
///
/// `&Pool` is a [`sqlx::Executor`], exactly like `&PgPool`:
///
/// ```no_run
/// # async fn f(db: pgready::Db) -> Result<(), pgready::sqlx::Error> {
/// let n: i64 = pgready::sqlx::query_scalar("SELECT count(*) FROM items")
///     .fetch_one(db.read())
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Pool {
    engine: Engine,
    shared: Arc<Shared>,
}

struct Shared {
    role: Role,
    /// Acquire latency, for `pgready::metrics`.
    acquire_times: AcquireTimes,
}

/// Which of the two pools this is; named in errors and statistics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    Write,
    Read,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Write => "write",
            Role::Read => "read",
        }
    }

    fn section(self) -> &'static str {
        match self {
            Role::Write => "pool",
            Role::Read => "read_pool",
        }
    }
}

/// A point-in-time view of a pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolStats {
    /// Open connections, idle or in use.
    pub size: u32,
    /// Open connections waiting in the pool.
    pub idle: u32,
    /// Open connections currently handed out.
    pub in_use: u32,
    /// The configured `max_connections`.
    pub max: u32,
    /// Acquires waiting for a connection.
    pub waiting: u32,
}

impl Pool {
    /// How long [`close`](Self::close) waits for connections still in use: 30 s, the default
    /// of `[shutdown] grace`, which [`Db::close`](crate::Db::close) waits instead.
    /// [`close_within`](Self::close_within) takes another bound.
    pub const CLOSE_GRACE: Duration = Duration::from_secs(30);

    /// Builds a pool: every new connection runs the `settings` batch. One connection is opened
    /// before this returns, so a bad DSN fails here; the rest of `min_connections` open in the
    /// background.
    ///
    /// With `pgbouncer` (a transaction pooler between the pool and the server) no named
    /// statement outlives a transaction: statements are unnamed, and each transaction begins
    /// by deallocating sqlx's named statements an earlier client left on the server connection.
    pub(crate) async fn connect(
        options: PgConnectOptions,
        settings: SqlStr,
        limits: &config::Pool,
        role: Role,
        pgbouncer: bool,
    ) -> Result<Pool, sqlx::Error> {
        Pool::build(options, settings, limits, role, pgbouncer, true, None).await
    }

    /// `#[pgready::test]`'s transaction mode: at most one connection, which begins the test's
    /// transaction when it opens (in the round trip of the session batch) and goes back to the
    /// pool with it still open; `begin()` on it opens savepoints. A second acquire while it is
    /// held fails at once with [`Error::TestConnectionHeld`].
    pub(crate) async fn connect_in_test_transaction(
        options: PgConnectOptions,
        settings: SqlStr,
        limits: &config::Pool,
    ) -> Result<Pool, sqlx::Error> {
        let limits = config::Pool {
            max_connections: 1,
            min_connections: 0,
            // Closing the connection would end the test's transaction.
            idle_timeout: None,
            max_lifetime: None,
            test_before_acquire: false,
            ..limits.clone()
        };
        let test = Some(Arc::default());
        Pool::build(options, settings, &limits, Role::Write, false, true, test).await
    }

    /// [`connect`](Self::connect) without opening a connection first: for a replica that does
    /// not answer at start-up, whose pool fills once it does.
    pub(crate) async fn connect_later(
        options: PgConnectOptions,
        settings: SqlStr,
        limits: &config::Pool,
        role: Role,
        pgbouncer: bool,
    ) -> Result<Pool, sqlx::Error> {
        Pool::build(options, settings, limits, role, pgbouncer, false, None).await
    }

    async fn build(
        options: PgConnectOptions,
        settings: SqlStr,
        limits: &config::Pool,
        role: Role,
        pgbouncer: bool,
        first: bool,
        test: Option<Arc<TestTransaction>>,
    ) -> Result<Pool, sqlx::Error> {
        let acquire_times = AcquireTimes::new(role.name(), &options);
        let engine = Engine::new(Manager::new(
            options,
            settings,
            limits.clone(),
            pgbouncer,
            test,
        ));
        engine::start(&engine, first).await?;
        Ok(Pool {
            engine,
            shared: Arc::new(Shared {
                role,
                acquire_times,
            }),
        })
    }

    /// Waits at most `acquire_timeout` for a connection, timed for
    /// `pgready_pool_acquire_duration_seconds`. No timer is armed per acquire: the engine
    /// ends waits past their deadline (see `engine.rs`).
    async fn checkout(&self) -> Result<PoolConnection, sqlx::Error> {
        if let Some(test) = &self.engine.manager().test {
            return self.checkout_test(test).await;
        }
        let started = Instant::now();
        let span = self.shared.acquire_times.span();
        // A span no subscriber records (`pgready::pool` below debug) is not entered: entering
        // and leaving it on every poll would cost each query for nothing.
        let got = if span.is_disabled() {
            self.engine.get(started).await
        } else {
            self.engine.get(started).instrument(span).await
        };
        let result = got.map(PoolConnection::new).map_err(GetError::into_sqlx);
        let timed_out = matches!(result, Err(sqlx::Error::PoolTimedOut));
        self.shared
            .acquire_times
            .record(started.elapsed(), timed_out);
        result
    }

    /// `#[pgready::test]`'s transaction mode: the one connection, unless a user holds it
    /// (waiting would never end); waits only while a release cleans it up.
    async fn checkout_test(&self, test: &TestTransaction) -> Result<PoolConnection, sqlx::Error> {
        if test.held.swap(true, Ordering::AcqRel) {
            return Err(sqlx::Error::Configuration(Box::new(
                Error::TestConnectionHeld,
            )));
        }
        match self.engine.get(Instant::now()).await {
            Ok(object) => Ok(PoolConnection::new(object)),
            Err(e) => {
                test.held.store(false, Ordering::Release);
                Err(e.into_sqlx())
            }
        }
    }

    pub(crate) fn limits(&self) -> &config::Pool {
        self.engine.manager().limits()
    }

    /// sqlx's `PoolTimedOut` as pgready's error that names the setting to raise.
    fn error(&self, e: sqlx::Error) -> Error {
        match e {
            sqlx::Error::PoolTimedOut => Error::PoolTimedOut {
                pool: self.shared.role.name(),
                section: self.shared.role.section(),
                timeout: self.limits().acquire_timeout,
                max: self.limits().max_connections,
            },
            sqlx::Error::Configuration(e) if e.is::<Error>() => match e.downcast::<Error>() {
                Ok(e) => *e,
                Err(e) => Error::Sqlx(sqlx::Error::Configuration(e)),
            },
            e => Error::Sqlx(e),
        }
    }

    pub(crate) fn acquire_times(&self) -> &AcquireTimes {
        &self.shared.acquire_times
    }

    /// Connections closed so far, per reason.
    pub(crate) fn discarded(&self) -> [(Discard, u64); 4] {
        self.engine.manager().discarded()
    }

    /// Queries run on this pool's connections and those that failed, per SQLSTATE class.
    pub(crate) fn query_counts(&self) -> &QueryCounts {
        &self.engine.manager().counts
    }

    /// Transactions on this pool's connections dropped without `commit` or `rollback`.
    pub(crate) fn dropped_transactions(&self) -> u64 {
        self.engine.manager().dropped_transactions()
    }

    /// How this pool connects (the health probe opens its own connection the same way).
    pub(crate) fn connect_options(&self) -> PgConnectOptions {
        self.engine.manager().options().clone()
    }

    /// Takes a connection out of the pool, waiting at most `acquire_timeout`.
    ///
    /// `&mut *conn` runs queries; `conn.begin()` starts a [`Transaction`] borrowing the
    /// connection; the connection goes back to the pool when dropped.
    pub async fn acquire(&self) -> Result<PoolConnection, Error> {
        self.checkout().await.map_err(|e| self.error(e))
    }

    /// Starts a transaction on a connection of its own, which goes back to the pool when the
    /// transaction ends; it rolls back unless committed.
    #[track_caller]
    pub fn begin(&self) -> impl Future<Output = Result<Transaction<'static>, Error>> + Send + '_ {
        self.begin_with(None)
    }

    /// [`begin`](Self::begin) with `statement` as the `BEGIN` (isolation level, …).
    #[track_caller]
    pub(crate) fn begin_with(
        &self,
        statement: Option<SqlStr>,
    ) -> impl Future<Output = Result<Transaction<'static>, Error>> + Send + '_ {
        let begun_at = Location::caller();
        async move { Transaction::begin_owned(self.acquire().await?, statement, begun_at).await }
    }

    /// Size, idle and in-use connections, and acquires waiting, right now.
    pub fn stats(&self) -> PoolStats {
        let status = self.engine.status();
        let spares = self.engine.manager().spares.len();
        let size = u32::try_from(status.size + spares).unwrap_or(u32::MAX);
        let idle = u32::try_from(status.available + spares)
            .unwrap_or(u32::MAX)
            .min(size);
        PoolStats {
            size,
            idle,
            in_use: size - idle,
            max: self.limits().max_connections,
            waiting: u32::try_from(status.waiting).unwrap_or(u32::MAX),
        }
    }

    /// Closes the pool: later acquires fail, idle connections are closed now and those in use
    /// when they come back. Waits until all are closed, but at most [`CLOSE_GRACE`](Self::CLOSE_GRACE); past it,
    /// logs a warning that names this pool and the connections still in use, and returns.
    pub async fn close(&self) {
        if let Err(e) = self.close_within(Self::CLOSE_GRACE).await {
            tracing::warn!("{e}");
        }
    }

    /// [`close`](Self::close), waiting at most `grace` for connections still in use: past it,
    /// fails with [`Error::PoolCloseTimedOut`]. The pool is closed either way; a connection
    /// still held is closed when its holder drops it.
    pub async fn close_within(&self, grace: Duration) -> Result<(), Error> {
        let started = Instant::now();
        let idle = self.engine.close();
        let spares = self.engine.manager().spares.drain();
        for conn in idle.into_iter().chain(spares) {
            engine::close(conn).await;
        }
        loop {
            let in_use = self.engine.status().size;
            if in_use == 0 {
                return Ok(());
            }
            let waited = started.elapsed();
            if waited >= grace {
                return Err(Error::PoolCloseTimedOut {
                    pool: self.shared.role.name(),
                    in_use: u32::try_from(in_use).unwrap_or(u32::MAX),
                    waited: Duration::from_millis(
                        u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(10).min(grace - waited)).await;
        }
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.engine.is_closed()
    }
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("role", &self.shared.role.name())
            .field("stats", &self.stats())
            .finish()
    }
}

/// Each query runs on a connection of its own for as long as it takes, like `&PgPool`.
impl<'p> Executor<'p> for &'p Pool {
    type Database = Postgres;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<PgQueryResult, PgRow>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        Box::pin(sqlx_core::ext::async_stream::TryAsyncStream::new(
            move |yielder| async move {
                let mut conn = self.checkout().await?;
                let mut rows = (&mut *conn).fetch_many(query);
                while let Some(row) = rows.try_next().await? {
                    yielder.r#yield(row).await;
                }
                Ok(())
            },
        ))
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<PgRow>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        Box::pin(async move {
            let mut conn = self.checkout().await?;
            conn.run_fetch_optional(query).await
        })
    }

    /// Without sqlx's default (a stream of results collected): one future, as `fetch_optional`.
    fn execute<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, Result<PgQueryResult, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        Box::pin(async move {
            let mut conn = self.checkout().await?;
            conn.run_execute(query).await
        })
    }

    fn prepare_with<'e>(
        self,
        sql: SqlStr,
        parameters: &'e [PgTypeInfo],
    ) -> BoxFuture<'e, Result<PgStatement, sqlx::Error>>
    where
        'p: 'e,
    {
        Box::pin(async move {
            (&mut *self.checkout().await?)
                .prepare_with(sql, parameters)
                .await
        })
    }

    fn describe<'e>(self, sql: SqlStr) -> BoxFuture<'e, Result<Describe<Postgres>, sqlx::Error>>
    where
        'p: 'e,
    {
        Box::pin(async move { (&mut *self.checkout().await?).describe(sql).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pool that has opened nothing: enough to build futures without polling them.
    fn unopened() -> Pool {
        let options = PgConnectOptions::new();
        let acquire_times = AcquireTimes::new("write", &options);
        let limits = config::Pool::write_defaults();
        let manager = Manager::new(options, SqlStr::from_static(""), limits, false, None);
        Pool {
            engine: Engine::new(manager),
            shared: Arc::new(Shared {
                role: Role::Write,
                acquire_times,
            }),
        }
    }

    /// Every query through `&Pool` allocates its future (sqlx's `Executor` returns a
    /// `BoxFuture`). Under 1,032 bytes glibc serves that from its per-thread cache; above, from
    /// the shared arena. Opening or pinging a connection, rare, is boxed apart so that it does
    /// not count here (it made the future 1,264 bytes).
    #[test]
    fn a_query_through_the_pool_allocates_a_small_future() {
        let pool = unopened();
        let acquire = std::mem::size_of_val(&pool.checkout());
        assert!(acquire <= 400, "an acquire's future is {acquire} bytes");
        let query = (&pool).fetch_optional(sqlx::query("SELECT 1"));
        let boxed = std::mem::size_of_val(&*query);
        assert!(boxed <= 1024, "a query's boxed future is {boxed} bytes");
    }
}
