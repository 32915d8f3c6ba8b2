//! [`Pool::begin`](super::Pool::begin)'s transaction: owns its pooled connection.

use std::fmt;
use std::ops::{Deref, DerefMut};

use sqlx::postgres::{PgConnection, Postgres};
use sqlx_core::transaction::TransactionManager;

use super::connection::{PoolConnection, State};

type Tm = <Postgres as sqlx::Database>::TransactionManager;

/// A transaction on a pooled connection, from [`Pool::begin`](super::Pool::begin) or
/// [`Db::transaction`](crate::Db::transaction). Rolls back unless committed.
///
/// Used like sqlx's `Transaction`: `&mut *tx` is the connection to run queries on,
/// `tx.begin()` opens a savepoint, [`commit`](Self::commit) and [`rollback`](Self::rollback)
/// end it.
///
/// ```no_run
/// # async fn f(db: pgready::Db) -> Result<(), pgready::Error> {
/// let mut tx = db.write().begin().await?;
/// pgready::sqlx::query("INSERT INTO items (name) VALUES ('a')")
///     .execute(&mut *tx)
///     .await?;
/// tx.commit().await?;
/// # Ok(()) }
/// ```
pub struct Transaction {
    conn: PoolConnection,
    /// Whether this transaction has not been committed or rolled back yet.
    open: bool,
}

impl Transaction {
    pub(crate) async fn begin(mut conn: PoolConnection) -> Result<Transaction, sqlx::Error> {
        // A future dropped while `BEGIN` is in flight may leave the server inside a block
        // that sqlx does not count: checked on release.
        conn.note(State::Check);
        Tm::begin(conn.raw(), None).await?;
        conn.reset(State::Clean);
        Ok(Transaction { conn, open: true })
    }

    /// Commits the transaction; the connection goes back to the pool.
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        Tm::commit(self.conn.raw()).await?;
        self.end();
        Ok(())
    }

    /// Rolls the transaction back; the connection goes back to the pool.
    pub async fn rollback(mut self) -> Result<(), sqlx::Error> {
        Tm::rollback(self.conn.raw()).await?;
        self.end();
        Ok(())
    }

    /// `COMMIT` or `ROLLBACK` answered, which ends any transaction block whatever ran inside,
    /// and read every result before it: the connection is clean. (A savepoint transaction
    /// that was leaked still counts: the release rolls it back.)
    fn end(&mut self) {
        self.open = false;
        self.conn.reset(State::Clean);
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if self.open {
            // Queued, not sent: the connection's release sends it and waits for the answer
            // before anyone else gets the connection.
            Tm::start_rollback(self.conn.raw());
        }
    }
}

impl Deref for Transaction {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        &self.conn
    }
}

impl DerefMut for Transaction {
    fn deref_mut(&mut self) -> &mut PgConnection {
        // Not `TrackedConnection`'s checked access: whatever runs inside, the `COMMIT` or
        // `ROLLBACK` that ends this transaction ends it too.
        self.conn.raw()
    }
}

impl fmt::Debug for Transaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transaction")
            .field("open", &self.open)
            .finish_non_exhaustive()
    }
}
