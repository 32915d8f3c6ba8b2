//! A pooled connection, and how it goes back to the pool.
//!
//! A clean connection goes back with no round trip. pgready knows it is clean because it saw
//! every query: [`TrackedConnection`] is the `sqlx::Executor` users reach with `&mut *conn`,
//! and it notes what each query may have left behind:
//!
//! - a query that finished leaves nothing; one that failed may leave results in flight, which
//!   are drained before anyone else gets the connection;
//! - a query whose future or stream was dropped before it finished is abandoned: it still runs
//!   on the server and may change the session after its caller gave up (a `SET`, an advisory
//!   lock, a temporary table, `LISTEN`), so the release drains it, rolls back a block it may
//!   have opened, and resets the session to what a new connection has ([`RESET_SESSION`] and
//!   the `[session]` batch again);
//! - SQL that may open a transaction block (`BEGIN`, `START TRANSACTION`, see [`scan`]) gets
//!   one check on release: a transaction left open is rolled back;
//! - a [`Transaction`](super::Transaction) dropped uncommitted queues its rollback, which is
//!   sent and answered before anyone else gets the connection;
//! - an I/O error means the connection is broken, and it is closed;
//! - direct `&mut PgConnection` access (anything pgready cannot see) is checked like `BEGIN`.
//!
//! sqlx does not tell pgready the server's transaction status, hence the rules above rather than
//! reading it. The check and the clean-up run in a task after release, so the user never waits
//! for them; a connection that cannot be made clean within [`CLEANUP_TIMEOUT`] is closed.
//!
//! [`scan`]: super::scan

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

use futures_core::future::BoxFuture;
use futures_core::stream::BoxStream;
use futures_util::{FutureExt, TryStreamExt};
use sqlx::postgres::{
    PgConnection, PgDatabaseError, PgQueryResult, PgRow, PgSeverity, PgStatement, PgTypeInfo,
    Postgres,
};
use sqlx::{Connection, Describe, Either, Execute, Executor, SqlStr};
use sqlx_core::transaction::TransactionManager;

use super::engine::{self, Conn, Discard, Object};
use super::scan::Scanned;

/// The most a released connection may take to be made clean before it is closed instead.
pub(crate) const CLEANUP_TIMEOUT: Duration = Duration::from_secs(5);

type Tm = <Postgres as sqlx::Database>::TransactionManager;

/// What a connection's last user may have left on it, from nothing to broken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum State {
    /// Every query finished: nothing to do.
    Clean,
    /// A query did not finish (dropped, or failed): results may be in flight.
    Drain,
    /// A transaction block may be open: check, and roll it back.
    Check,
    /// A query was dropped before it finished: drain, check, and reset the session.
    Abandoned,
    /// An I/O or protocol error: close it.
    Broken,
}

impl State {
    /// What running `query` to the end leaves.
    fn after(query: &Scanned<'_>) -> State {
        if query.may_open_transaction() {
            State::Check
        } else {
            State::Clean
        }
    }

    /// What a failed query leaves.
    fn after_error(e: &sqlx::Error) -> State {
        match e {
            // FATAL: the server ends the session (`pg_terminate_backend`, shutdown).
            sqlx::Error::Database(db)
                if db.try_downcast_ref::<PgDatabaseError>().is_some_and(|pg| {
                    matches!(pg.severity(), PgSeverity::Fatal | PgSeverity::Panic)
                }) =>
            {
                State::Broken
            }
            sqlx::Error::Database(_)
            | sqlx::Error::Encode(_)
            | sqlx::Error::Decode(_)
            | sqlx::Error::ColumnDecode { .. }
            | sqlx::Error::ColumnNotFound(_)
            | sqlx::Error::ColumnIndexOutOfBounds { .. }
            | sqlx::Error::TypeNotFound { .. }
            | sqlx::Error::RowNotFound => State::Drain,
            _ => State::Broken,
        }
    }
}

/// A connection taken from a [`Pool`](super::Pool); goes back to the pool when dropped.
///
/// `&mut *conn` is a [`TrackedConnection`], an `Executor` like `&mut PgConnection`; `conn.begin()`
/// starts a [`Transaction`](super::Transaction) that borrows the connection; a `&mut PgConnection` is one more
/// deref away (`&mut **conn`, or any function taking `&mut PgConnection`).
///
/// ```no_run
/// # async fn f(db: pgready::Db) -> Result<(), pgready::Error> {
/// let mut conn = db.write().acquire().await?;
/// let n: i64 = pgready::sqlx::query_scalar("SELECT count(*) FROM items")
///     .fetch_one(&mut *conn)
///     .await?;
/// # Ok(()) }
/// ```
pub struct PoolConnection {
    conn: TrackedConnection,
}

/// A pooled `PgConnection` whose queries pgready sees, so that it can go back to the pool
/// without a round trip. Derefs to [`PgConnection`]; `&mut TrackedConnection` is a
/// [`sqlx::Executor`].
pub struct TrackedConnection {
    /// `Some` until the connection goes back to the pool.
    object: Option<Object>,
    state: State,
}

impl PoolConnection {
    pub(crate) fn new(object: Object) -> PoolConnection {
        PoolConnection {
            conn: TrackedConnection {
                object: Some(object),
                state: State::Clean,
            },
        }
    }
}

impl TrackedConnection {
    fn conn(&mut self) -> &mut Conn {
        self.object
            .as_mut()
            .expect("a pooled connection is present until it is dropped")
    }

    /// Whether it runs behind a transaction pooler (see `Conn::unnamed`).
    pub(crate) fn unnamed(&self) -> bool {
        self.object.as_ref().is_some_and(|object| object.unnamed)
    }

    /// The connection itself, without marking it as used directly.
    pub(crate) fn raw(&mut self) -> &mut PgConnection {
        &mut self.conn().raw
    }

    /// Marks what the caller may have left on the connection.
    pub(crate) fn note(&mut self, state: State) {
        self.state = self.state.max(state);
    }

    pub(crate) fn state(&self) -> State {
        self.state
    }

    /// For a transaction that ended: what the connection holds again.
    pub(crate) fn set_state(&mut self, state: State) {
        self.state = state;
    }

    /// Counts a query about to run, on the connection itself: no shared memory on the way.
    fn count_query(&mut self) {
        if let Some(object) = self.object.as_mut() {
            object.queries += 1;
        }
    }

    /// Counts a failed query under its SQLSTATE class, in the pool's counts.
    fn count_error(&self, error: &sqlx::Error) {
        if let Some(object) = self.object.as_ref() {
            object.counts.count_error(error);
        }
    }

    /// Counts a transaction on this connection dropped without `commit` or `rollback`, in
    /// its pool's `pgready_transaction_drops_total`.
    pub(crate) fn count_dropped_transaction(&self) {
        if let Some(object) = self.object.as_ref() {
            object.engine().manager().count_dropped_transaction();
        }
    }
}

impl Deref for PoolConnection {
    type Target = TrackedConnection;

    fn deref(&self) -> &TrackedConnection {
        &self.conn
    }
}

impl DerefMut for PoolConnection {
    fn deref_mut(&mut self) -> &mut TrackedConnection {
        &mut self.conn
    }
}

impl Deref for TrackedConnection {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        &self
            .object
            .as_ref()
            .expect("a pooled connection is present until it is dropped")
            .raw
    }
}

/// Direct access: pgready cannot see what is done with it, so the connection is checked when
/// it goes back.
impl DerefMut for TrackedConnection {
    fn deref_mut(&mut self) -> &mut PgConnection {
        self.note(State::Check);
        self.raw()
    }
}

impl fmt::Debug for PoolConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PoolConnection").field(&self.conn).finish()
    }
}

impl fmt::Debug for TrackedConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrackedConnection")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Drop for PoolConnection {
    fn drop(&mut self) {
        let Some(mut object) = self.conn.object.take() else {
            return;
        };
        if object.queries > 0 {
            let queries = std::mem::take(&mut object.queries);
            object.counts.add_queries(queries);
        }
        let mut state = self.conn.state;
        // Inside a test's transaction (`#[pgready::test]`), depth 1 is clean.
        let base = object.base_depth();
        if let Some(test) = &object.test {
            test.held.store(false, std::sync::atomic::Ordering::Release);
        }
        // A dropped transaction queues its rollback: it must reach the server now, not
        // when the next user happens to send something.
        if object.raw.should_flush() || Tm::get_transaction_depth(&object.raw) > base {
            state = state.max(State::Drain);
        }
        if state == State::Drain
            && let Some(Ok(())) = object.raw.flush().now_or_never()
            && Tm::get_transaction_depth(&object.raw) <= base
        {
            state = State::Clean;
        }
        match state {
            State::Clean => {
                object.released = Instant::now();
                // Dropping the object puts it back.
            }
            State::Broken => discard(object, Discard::Broken),
            State::Drain | State::Check | State::Abandoned => {
                match tokio::runtime::Handle::try_current() {
                    Ok(runtime) => {
                        runtime.spawn(clean_up(object, state));
                    }
                    Err(_) => discard(object, Discard::Dirty),
                }
            }
        }
    }
}

/// Makes a released connection clean, then puts it back; closes it if that fails.
async fn clean_up(mut object: Object, state: State) {
    let base = object.base_depth();
    // Behind a transaction pooler a session outlives no transaction, and a test's transaction
    // (which keeps its mark in a setting) ends with the test: nothing to reset.
    let reset = (state == State::Abandoned && !object.unnamed && base == 0)
        .then(|| object.engine().manager().settings().clone());
    let cleaning = make_clean(&mut object.raw, state, base, reset);
    match tokio::time::timeout(CLEANUP_TIMEOUT, cleaning).await {
        Ok(Ok(())) => object.released = Instant::now(),
        Ok(Err(e)) => {
            tracing::debug!("a released connection could not be made clean: {e}");
            discard(object, Discard::Dirty);
        }
        Err(_) => discard(object, Discard::Dirty),
    }
}

/// `base`: the transaction depth the connection goes back with (1 inside a test's
/// transaction, whose block stays open). `reset`: the `[session]` batch, to run after
/// [`RESET_SESSION`] for an abandoned query.
async fn make_clean(
    raw: &mut PgConnection,
    state: State,
    base: usize,
    reset: Option<SqlStr>,
) -> Result<(), sqlx::Error> {
    // Sends what is queued and reads every result still in flight.
    raw.flush().await?;
    // A transaction that was leaked (`mem::forget`) rather than dropped.
    while Tm::get_transaction_depth(raw) > base {
        Tm::rollback(raw).await?;
    }
    if state >= State::Check && base == 0 {
        roll_back_open_block(raw).await?;
    }
    if let Some(settings) = reset {
        raw.execute(sqlx::AssertSqlSafe(format!(
            "{RESET_SESSION}{}",
            settings.as_str()
        )))
        .await?;
    }
    Ok(())
}

/// What PostgreSQL's `DISCARD ALL` does but `DEALLOCATE ALL`: sqlx's prepared statements stay,
/// as sqlx's cache still names them. Parameters go back to the role's, the database's and the
/// startup packet's values (`application_name` stays), then the `[session]` batch follows.
const RESET_SESSION: &str = "CLOSE ALL; RESET ALL; UNLISTEN *; SELECT pg_advisory_unlock_all(); \
     DISCARD TEMP; DISCARD SEQUENCES;\n";

/// Rolls back a transaction block opened by raw SQL (`BEGIN` sent as a query), in one round
/// trip when there is none. sqlx keeps the server's transaction status to itself but says
/// whether a statement left one open: `begin_with` fails with `BeginFailed` when it did not.
async fn roll_back_open_block(raw: &mut PgConnection) -> Result<(), sqlx::Error> {
    match raw.begin_with("SELECT 1").await {
        Err(sqlx::Error::BeginFailed) => return Ok(()),
        Ok(block) => return block.rollback().await,
        // 25P02 in_failed_sql_transaction: an aborted block, which only a rollback ends.
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("25P02") => {}
        Err(e) => return Err(e),
    }
    raw.execute("ROLLBACK").await.map(drop)
}

/// Takes a connection out of the pool for good and closes it.
fn discard(object: Object, why: Discard) {
    object.engine().manager().count_discard(why);
    let conn = object.take();
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(engine::close(conn));
    }
}

impl TrackedConnection {
    /// Notes an operation about to start that leaves `leaves` once it finishes; returns the
    /// state to [`finish`](Self::finish) with. Until then a dropped future abandons it.
    fn start(&mut self, leaves: State) -> State {
        let done = self.state.max(leaves);
        self.note(State::Abandoned);
        done
    }

    fn finish<T>(&mut self, done: State, result: &Result<T, sqlx::Error>) {
        self.state = match result {
            Ok(_) => done,
            Err(e) => done.max(State::after_error(e)),
        };
    }
}

/// Deallocates the named statements sqlx prepared on this server connection (`sqlx_s_<n>`):
/// behind a transaction pooler, those an earlier client left there would clash with this
/// client's own `sqlx_s_<n>`. Run first in every transaction there; the server connection is
/// this client's until the transaction ends.
pub(crate) const DEALLOCATE_SQLX_STATEMENTS: &str = "DO $pgready$ DECLARE s text; BEGIN \
     FOR s IN SELECT name FROM pg_prepared_statements WHERE name LIKE 'sqlx\\_s\\_%' LOOP \
     EXECUTE format('DEALLOCATE %I', s); END LOOP; END $pgready$";

/// Behind a transaction pooler, runs `f` (which prepares a named statement: `prepare`,
/// `describe`) in a transaction of its own that deallocates it again before it ends (and what
/// other clients left before it starts), unless a transaction is open already (which did that
/// when it began; its successor on that server connection deallocates this one).
async fn alone<T>(
    raw: &mut PgConnection,
    f: impl AsyncFnOnce(&mut PgConnection) -> Result<T, sqlx::Error>,
) -> Result<T, sqlx::Error> {
    if raw.is_in_transaction() {
        return f(raw).await;
    }
    // Another client's `sqlx_s_<n>` may be on the server connection: gone first, then ours
    // once `f` has what it needs.
    raw.execute(sqlx::AssertSqlSafe(format!(
        "BEGIN; {DEALLOCATE_SQLX_STATEMENTS}"
    )))
    .await?;
    let result = f(&mut *raw).await;
    let cleaned = raw.execute(DEALLOCATE_SQLX_STATEMENTS).await;
    let ended = raw.execute("ROLLBACK").await;
    let value = result?;
    cleaned?;
    ended?;
    Ok(value)
}

/// Ends the transaction a statement ran in on its own: `COMMIT` after success, `ROLLBACK`
/// (whose failure the statement's error outweighs) after failure.
async fn end_own_transaction<T>(
    raw: &mut PgConnection,
    result: Result<T, sqlx::Error>,
) -> Result<T, sqlx::Error> {
    match result {
        Ok(value) => raw.execute("COMMIT").await.map(|_| value),
        Err(e) => {
            if let Err(rollback) = raw.execute("ROLLBACK").await {
                tracing::debug!("rolling back a statement's own transaction: {rollback}");
            }
            Err(e)
        }
    }
}

impl TrackedConnection {
    /// Behind a transaction pooler, a prepared statement outside a transaction runs in one of
    /// its own: sqlx sends `Sync` between parsing it and executing it, and a transaction
    /// pooler may hand the server connection to another client at that `Sync`, leaving the
    /// execution on a server that never parsed it ("unnamed prepared statement does not
    /// exist"). Inside a transaction the server connection stays this client's: one begun
    /// through sqlx, or one that SQL sent on this connection may have opened (`BEGIN` as a
    /// query; then its statements are left alone). While the statement runs, the connection
    /// counts as possibly inside a block, so a dropped future has it rolled back on release.
    fn needs_own_transaction(&mut self, query: &Scanned<'_>, done: State) -> bool {
        let own = self.unnamed()
            && query.is_prepared()
            && done < State::Check
            && !self.raw().is_in_transaction();
        if own {
            self.note(State::Check);
        }
        own
    }

    /// `query`, read ahead of execution; unnamed behind a transaction pooler, outside a
    /// [`Transaction`](super::Transaction) (inside one the server connection stays this
    /// client's, and the query runs as given, as on sqlx's own transaction).
    fn scanned<'q>(&self, query: impl Execute<'q, Postgres>) -> Scanned<'q> {
        let query = Scanned::new(query);
        if self.unnamed() && !self.is_in_transaction() {
            query.unnamed()
        } else {
            query
        }
    }
}

/// The single-result operations, unboxed: the `Executor` impls of both `&mut
/// TrackedConnection` and `&Pool` box them once, so a query through the pool allocates no
/// future of pgready's beyond that one.
impl TrackedConnection {
    /// `fetch_optional`: the query is noted as started and counted when called, as sqlx's
    /// connection sends nothing before it is polled.
    pub(crate) fn run_fetch_optional<'e, 'q: 'e, E>(
        &'e mut self,
        query: E,
    ) -> impl Future<Output = Result<Option<PgRow>, sqlx::Error>> + Send + 'e
    where
        E: 'q + Execute<'q, Postgres>,
    {
        let query = self.scanned(query);
        let done = self.start(State::after(&query));
        let own = self.needs_own_transaction(&query, done);
        self.count_query();
        async move {
            let result = if own {
                match self.raw().execute("BEGIN").await {
                    Ok(_) => {
                        let result = self.raw().fetch_optional(query).await;
                        end_own_transaction(self.raw(), result).await
                    }
                    Err(e) => Err(e),
                }
            } else {
                self.raw().fetch_optional(query).await
            };
            if let Err(e) = &result {
                self.count_error(e);
            }
            self.finish(done, &result);
            result
        }
    }

    /// `execute`, as [`run_fetch_optional`](Self::run_fetch_optional).
    pub(crate) fn run_execute<'e, 'q: 'e, E>(
        &'e mut self,
        query: E,
    ) -> impl Future<Output = Result<PgQueryResult, sqlx::Error>> + Send + 'e
    where
        E: 'q + Execute<'q, Postgres>,
    {
        let query = self.scanned(query);
        let done = self.start(State::after(&query));
        let own = self.needs_own_transaction(&query, done);
        self.count_query();
        async move {
            let result = if own {
                match self.raw().execute("BEGIN").await {
                    Ok(_) => {
                        let result = self.raw().execute(query).await;
                        end_own_transaction(self.raw(), result).await
                    }
                    Err(e) => Err(e),
                }
            } else {
                self.raw().execute(query).await
            };
            if let Err(e) = &result {
                self.count_error(e);
            }
            self.finish(done, &result);
            result
        }
    }
}

impl<'c> Executor<'c> for &'c mut TrackedConnection {
    type Database = Postgres;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<PgQueryResult, PgRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        let query = self.scanned(query);
        let done = self.start(State::after(&query));
        let own = self.needs_own_transaction(&query, done);
        self.count_query();
        Box::pin(sqlx_core::ext::async_stream::TryAsyncStream::new(
            move |yielder| async move {
                if own && let Err(e) = self.raw().execute("BEGIN").await {
                    self.count_error(&e);
                    let result = Err(e);
                    self.finish(done, &result);
                    return result;
                }
                let mut rows = self.raw().fetch_many(query);
                let result = loop {
                    match rows.try_next().await {
                        Ok(Some(row)) => yielder.r#yield(row).await,
                        Ok(None) => break Ok(()),
                        Err(e) => break Err(e),
                    }
                };
                drop(rows);
                let result = if own {
                    end_own_transaction(self.raw(), result).await
                } else {
                    result
                };
                if let Err(e) = &result {
                    self.count_error(e);
                }
                self.finish(done, &result);
                result
            },
        ))
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<PgRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        Box::pin(self.run_fetch_optional(query))
    }

    /// Without sqlx's default (a stream of results collected): one future, as `fetch_optional`.
    fn execute<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, Result<PgQueryResult, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        Box::pin(self.run_execute(query))
    }

    fn prepare_with<'e>(
        self,
        sql: SqlStr,
        parameters: &'e [PgTypeInfo],
    ) -> BoxFuture<'e, Result<PgStatement, sqlx::Error>>
    where
        'c: 'e,
    {
        let done = self.start(State::Clean);
        Box::pin(async move {
            let result = if self.unnamed() {
                let raw = self.raw();
                alone(raw, async |raw| raw.prepare_with(sql, parameters).await).await
            } else {
                self.raw().prepare_with(sql, parameters).await
            };
            self.finish(done, &result);
            result
        })
    }

    fn describe<'e>(self, sql: SqlStr) -> BoxFuture<'e, Result<Describe<Postgres>, sqlx::Error>>
    where
        'c: 'e,
    {
        let done = self.start(State::Clean);
        Box::pin(async move {
            let result = if self.unnamed() {
                alone(self.raw(), async |raw| raw.describe(sql).await).await
            } else {
                self.raw().describe(sql).await
            };
            self.finish(done, &result);
            result
        })
    }
}
