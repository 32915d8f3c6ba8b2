//! pgready's transaction, whichever way it was begun: [`Pool::begin`](super::Pool::begin)
//! (owns its pooled connection), `conn.begin()` on a pooled connection, or `tx.begin()` for a
//! savepoint (both borrow).

use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::panic::Location;

use sqlx::postgres::Postgres;
use sqlx::{SqlSafeStr, SqlStr};
use sqlx_core::transaction::TransactionManager;

use super::connection::{DEALLOCATE_SQLX_STATEMENTS, PoolConnection, State, TrackedConnection};
use crate::Error;

type Tm = <Postgres as sqlx::Database>::TransactionManager;

/// A transaction on a pooled connection, from [`Pool::begin`](super::Pool::begin),
/// [`Db::transaction`](crate::Db::transaction) or `conn.begin()` on a
/// [`PoolConnection`]. Rolls back unless committed.
///
/// Used like sqlx's `Transaction`: `&mut *tx` is the connection to run queries on,
/// [`begin`](Self::begin) opens a savepoint, [`commit`](Self::commit) and
/// [`rollback`](Self::rollback) end it. A transaction dropped without either is rolled back
/// before its connection runs anything else: at once when the connection goes back to the
/// pool, or with the connection's next statement; and, unless a panic is unwinding, a
/// `tracing::warn!` names where it was begun, since an open transaction that is dropped is
/// usually a forgotten `commit` (a cancelled request's is not), and
/// `pgready_transaction_drops_total` counts it.
///
/// `'c` is how long the connection is borrowed: `Transaction<'static>` from
/// [`Pool::begin`](super::Pool::begin) owns its connection and returns it to the pool when it
/// ends; `conn.begin()` and `tx.begin()` borrow theirs.
///
/// ```no_run
/// # async fn f(db: pgready::Db) -> Result<(), pgready::Error> {
/// let mut tx = db.write().begin().await?;
/// pgready::sqlx::query("INSERT INTO items (name) VALUES ('a')")
///     .execute(&mut *tx)
///     .await?;
/// let mut savepoint = tx.begin().await?;
/// pgready::sqlx::query("INSERT INTO items (name) VALUES ('b')")
///     .execute(&mut *savepoint)
///     .await?;
/// savepoint.rollback().await?; // 'b' is gone, 'a' stays
/// tx.commit().await?;
///
/// let mut conn = db.write().acquire().await?;
/// let tx = conn.begin().await?; // the same type, borrowing `conn`
/// tx.commit().await?;
/// # Ok(()) }
/// ```
pub struct Transaction<'c> {
    conn: Held<'c>,
    /// What the connection's last user had left on it when this transaction began: what it
    /// is left with again when the transaction ends.
    before: State,
    /// Whether this transaction has not been committed or rolled back yet.
    open: bool,
    /// Whether `commit` or `rollback` was called (it may have failed): no warning on drop.
    ending: bool,
    /// Where the user began it, for the warning when it is dropped open.
    begun_at: &'static Location<'static>,
}

/// The connection a transaction runs on.
enum Held<'c> {
    Owned(PoolConnection),
    Borrowed(&'c mut TrackedConnection),
}

impl Held<'_> {
    fn tracked(&mut self) -> &mut TrackedConnection {
        match self {
            Held::Owned(conn) => conn,
            Held::Borrowed(conn) => conn,
        }
    }
}

impl TrackedConnection {
    /// Starts a transaction on this connection (a savepoint if one is open): the same
    /// [`Transaction`] as [`Pool::begin`](super::Pool::begin)'s, borrowing the connection.
    ///
    /// Dropping it uncommitted rolls it back, before the connection runs anything else or
    /// goes back to the pool.
    #[track_caller]
    pub fn begin(&mut self) -> impl Future<Output = Result<Transaction<'_>, Error>> + Send + '_ {
        Transaction::begin_borrowed(self, Location::caller())
    }
}

impl Transaction<'static> {
    /// A transaction owning `conn`, fresh from the pool.
    pub(crate) async fn begin_owned(
        conn: PoolConnection,
        statement: Option<SqlStr>,
        begun_at: &'static Location<'static>,
    ) -> Result<Transaction<'static>, Error> {
        Transaction::begin_on(Held::Owned(conn), statement, begun_at).await
    }
}

impl<'c> Transaction<'c> {
    /// A transaction (or a savepoint, if one is open) borrowing `conn`.
    pub(crate) async fn begin_borrowed(
        conn: &'c mut TrackedConnection,
        begun_at: &'static Location<'static>,
    ) -> Result<Transaction<'c>, Error> {
        Transaction::begin_on(Held::Borrowed(conn), None, begun_at).await
    }

    /// `statement` is the `BEGIN` with its modes (isolation level, …), `None` for a plain one.
    async fn begin_on(
        mut conn: Held<'c>,
        statement: Option<SqlStr>,
        begun_at: &'static Location<'static>,
    ) -> Result<Transaction<'c>, Error> {
        let tracked = conn.tracked();
        let before = tracked.state();
        // A future dropped while `BEGIN` is in flight may leave the server inside a block
        // that sqlx does not count: checked on release. Once the transaction exists, its drop
        // queues the rollback, which the release (or the next statement) sends.
        tracked.note(State::Check);
        let statement = if tracked.unnamed() && Tm::get_transaction_depth(tracked.raw()) == 0 {
            // One round trip still: the clean-up rides in the `BEGIN`'s simple query.
            let begin = statement.as_ref().map_or("BEGIN", SqlStr::as_str);
            Some(
                sqlx::AssertSqlSafe(format!("{begin}; {DEALLOCATE_SQLX_STATEMENTS}"))
                    .into_sql_str(),
            )
        } else {
            statement
        };
        Tm::begin(tracked.raw(), statement).await?;
        tracked.set_state(before);
        Ok(Transaction {
            conn,
            before,
            open: true,
            ending: false,
            begun_at,
        })
    }

    /// Opens a savepoint: a transaction nested in this one, borrowing its connection. Its
    /// `commit` releases the savepoint; its `rollback` (or drop) undoes only what ran in it.
    #[track_caller]
    pub fn begin(&mut self) -> impl Future<Output = Result<Transaction<'_>, Error>> + Send + '_ {
        Transaction::begin_borrowed(self.conn.tracked(), Location::caller())
    }

    /// Commits the transaction (releases the savepoint); an owned connection goes back to the
    /// pool.
    pub async fn commit(mut self) -> Result<(), Error> {
        self.ending = true;
        Tm::commit(self.conn.tracked().raw()).await?;
        self.end();
        Ok(())
    }

    /// Rolls the transaction back (to the savepoint); an owned connection goes back to the
    /// pool.
    pub async fn rollback(mut self) -> Result<(), Error> {
        self.ending = true;
        Tm::rollback(self.conn.tracked().raw()).await?;
        self.end();
        Ok(())
    }

    /// `COMMIT` or `ROLLBACK` answered, which read every result before it: the connection is
    /// as its last user left it before `BEGIN` (clean, for one fresh from the pool). A
    /// savepoint transaction that was leaked still counts: the release rolls it back.
    fn end(&mut self) {
        self.open = false;
        let before = self.before;
        self.conn.tracked().set_state(before);
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if self.open && !self.ending && !std::thread::panicking() {
            self.conn.tracked().count_dropped_transaction();
            let at = self.begun_at;
            tracing::warn!(
                "a transaction begun at {}:{}:{} was dropped without `commit` or `rollback`: \
                 it is rolled back; call `commit()` to keep its changes, or `rollback()` to \
                 end it on purpose",
                at.file(),
                at.line(),
                at.column()
            );
        }
        if self.open {
            // Queued, not sent: the connection's release (or its next statement) sends it and
            // waits for the answer before anything else runs on it. The rollback ends whatever
            // ran inside, so the connection is left as before the transaction, unless a query
            // inside found it broken or was abandoned (its session-level effects, such as an
            // advisory lock, outlive the rollback).
            let tracked = self.conn.tracked();
            if tracked.state() < State::Abandoned {
                tracked.set_state(self.before);
            }
            Tm::start_rollback(tracked.raw());
        }
    }
}

/// `&mut *tx` is the pooled connection's [`TrackedConnection`], so a query inside the
/// transaction counts in `pgready_queries_total` and `pgready_query_errors_total` like any
/// other; one deref further (or deref coercion into a `&mut PgConnection` parameter) is sqlx's
/// connection.
impl Deref for Transaction<'_> {
    type Target = TrackedConnection;

    fn deref(&self) -> &TrackedConnection {
        match &self.conn {
            Held::Owned(conn) => conn,
            Held::Borrowed(conn) => conn,
        }
    }
}

impl DerefMut for Transaction<'_> {
    fn deref_mut(&mut self) -> &mut TrackedConnection {
        // What runs inside is ended by the `COMMIT` or `ROLLBACK` that ends this transaction
        // (or the rollback its drop queues): see `end` and `drop`.
        self.conn.tracked()
    }
}

impl fmt::Debug for Transaction<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transaction")
            .field("open", &self.open)
            .field("owns_connection", &matches!(self.conn, Held::Owned(_)))
            .finish_non_exhaustive()
    }
}
