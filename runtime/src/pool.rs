//! `pgready::Pool`: the pool handle users query through.
//!
//! The engine behind it is sqlx's `PgPool` for now; everything users touch (`&Pool` as a
//! `sqlx::Executor`, [`Pool::acquire`], [`PoolConnection`], [`PoolStats`]) is pgready's own, so
//! the engine can change without changing this API.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_core::future::BoxFuture;
use futures_core::stream::BoxStream;
use futures_util::TryStreamExt;
use sqlx::postgres::{
    PgConnectOptions, PgConnection, PgQueryResult, PgRow, PgStatement, PgTypeInfo, Postgres,
};
use sqlx::{Describe, Either, Execute, Executor, SqlStr};

use crate::Error;
use crate::metrics::AcquireTimes;

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
    inner: sqlx::PgPool,
    role: Role,
    acquire_timeout: Duration,
    max_connections: u32,
    /// Acquire latency, for `pgready::metrics`.
    acquire_times: Arc<AcquireTimes>,
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
}

impl Pool {
    pub(crate) fn new(
        inner: sqlx::PgPool,
        role: Role,
        acquire_timeout: Duration,
        max_connections: u32,
    ) -> Pool {
        Pool {
            inner,
            role,
            acquire_timeout,
            max_connections,
            acquire_times: Arc::default(),
        }
    }

    /// sqlx's acquire, timed for the `pgready_pool_acquire_duration_seconds` histogram.
    async fn acquire_timed(&self) -> Result<sqlx::pool::PoolConnection<Postgres>, sqlx::Error> {
        let started = Instant::now();
        let result = self.inner.acquire().await;
        let timed_out = matches!(result, Err(sqlx::Error::PoolTimedOut));
        self.acquire_times.record(started.elapsed(), timed_out);
        result
    }

    pub(crate) fn acquire_times(&self) -> &AcquireTimes {
        &self.acquire_times
    }

    /// How this pool connects (the health probe opens its own connection the same way).
    pub(crate) fn connect_options(&self) -> PgConnectOptions {
        (*self.inner.connect_options()).clone()
    }

    /// Takes a connection out of the pool, waiting at most `acquire_timeout`.
    ///
    /// The connection derefs to [`sqlx::PgConnection`], so `conn.begin()` starts an ordinary
    /// sqlx transaction; it goes back to the pool when dropped.
    pub async fn acquire(&self) -> Result<PoolConnection, Error> {
        match self.acquire_timed().await {
            Ok(inner) => Ok(PoolConnection { inner }),
            Err(sqlx::Error::PoolTimedOut) => Err(Error::PoolTimedOut {
                pool: self.role.name(),
                section: self.role.section(),
                timeout: self.acquire_timeout,
                max: self.max_connections,
            }),
            Err(e) => Err(Error::Sqlx(e)),
        }
    }

    /// Starts a transaction on a pooled connection; it rolls back unless committed.
    pub async fn begin(&self) -> Result<sqlx::Transaction<'static, Postgres>, Error> {
        self.begin_sqlx().await.map_err(|e| match e {
            sqlx::Error::PoolTimedOut => Error::PoolTimedOut {
                pool: self.role.name(),
                section: self.role.section(),
                timeout: self.acquire_timeout,
                max: self.max_connections,
            },
            e => Error::Sqlx(e),
        })
    }

    /// [`begin`](Self::begin) with sqlx's error type, for callers whose errors convert from it.
    pub(crate) async fn begin_sqlx(
        &self,
    ) -> Result<sqlx::Transaction<'static, Postgres>, sqlx::Error> {
        // What `PgPool::begin` does, with the acquire timed.
        sqlx::Transaction::begin(self.acquire_timed().await?, None).await
    }

    /// Size, idle and in-use connections right now.
    pub fn stats(&self) -> PoolStats {
        let size = self.inner.size();
        let idle = u32::try_from(self.inner.num_idle())
            .unwrap_or(u32::MAX)
            .min(size);
        PoolStats {
            size,
            idle,
            in_use: size - idle,
            max: self.max_connections,
        }
    }

    /// Closes every connection and waits until they are closed; later acquires fail.
    pub async fn close(&self) {
        self.inner.close().await;
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("role", &self.role.name())
            .field("stats", &self.stats())
            .finish()
    }
}

/// A connection taken from a [`Pool`]; derefs to [`sqlx::PgConnection`].
pub struct PoolConnection {
    inner: sqlx::pool::PoolConnection<Postgres>,
}

impl fmt::Debug for PoolConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolConnection").finish_non_exhaustive()
    }
}

impl Deref for PoolConnection {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        &self.inner
    }
}

impl DerefMut for PoolConnection {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.inner
    }
}

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
        // sqlx's own `&PgPool` executor, with the acquire timed.
        Box::pin(sqlx_core::ext::async_stream::TryAsyncStream::new(
            move |yielder| async move {
                let mut conn = self.acquire_timed().await?;
                let mut rows = conn.fetch_many(query);
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
        Box::pin(async move { self.acquire_timed().await?.fetch_optional(query).await })
    }

    fn prepare_with<'e>(
        self,
        sql: SqlStr,
        parameters: &'e [PgTypeInfo],
    ) -> BoxFuture<'e, Result<PgStatement, sqlx::Error>>
    where
        'p: 'e,
    {
        (&self.inner).prepare_with(sql, parameters)
    }

    fn describe<'e>(self, sql: SqlStr) -> BoxFuture<'e, Result<Describe<Postgres>, sqlx::Error>>
    where
        'p: 'e,
    {
        (&self.inner).describe(sql)
    }
}
