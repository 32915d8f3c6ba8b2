//! The one error type of pgready's runtime. Every message names what to fix and never carries a
//! password: text that may quote a DSN (sqlx's errors about parsing one or connecting with it,
//! all at start-up) goes through [`pgready_core::dsn::redact_in`] before it is stored.

use std::fmt;
use std::time::Duration;

use sqlx::postgres::PgDatabaseError;

use crate::embedded::EmbeddedError;

mod class;
mod problem;

pub use class::{Classify, ErrorClass};

/// Everything that can go wrong: from `main` to a ready [`Db`](crate::Db) (configuration,
/// DSN, connecting, migrations), and after it on a [`Pool`](crate::Pool), a pooled connection
/// or a [`Transaction`](crate::Transaction) (acquire, begin, commit, rollback, savepoints) or
/// in a query (`?` on a `sqlx::Error` converts into [`Error::Sqlx`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `pgready.toml` (or the profile chosen at run time) is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),

    /// `#[pgready::test]` in transaction mode: a connection was asked for while the test's one
    /// connection is held (it would wait forever).
    #[error(
        "a second connection was asked for while the test's only one is held: \
         `#[pgready::test]` runs the test on one connection inside a transaction that is rolled \
         back at the end (`isolation = \"transaction\"`, the default); run the query on the \
         connection or transaction already held (`&mut *tx`), or give a test that needs several \
         connections at once a database of its own: `#[pgready::test(isolation = \"database\")]`"
    )]
    TestConnectionHeld,

    /// No DSN in the environment and the embedded cluster is not allowed.
    #[error(
        "`{env}` is not set: set it to the database's DSN (e.g. `postgres://app@db.internal/app`){hint}"
    )]
    MissingDsn {
        /// The environment variable named by `[database] url_env`.
        env: String,
        /// Why no embedded cluster was started instead.
        hint: &'static str,
    },

    /// The DSN in the environment is unusable (password already redacted).
    #[error("`{env}` holds an invalid DSN: {message}")]
    Dsn {
        /// The environment variable holding the DSN.
        env: String,
        /// What is wrong with it.
        message: String,
    },

    /// The database did not accept a connection (password already redacted).
    #[error("cannot connect to {target} after {attempts} attempt(s) over {elapsed:?}: {message}")]
    Connect {
        /// The DSN, with its password replaced by `***`.
        target: String,
        /// How many attempts were made.
        attempts: u32,
        /// How long start-up kept trying (`[database] connect_retry`).
        elapsed: Duration,
        /// The last error, redacted.
        message: String,
    },

    /// No connection became free within `acquire_timeout`.
    #[error(
        "timed out after {timeout:?} waiting for a connection from the {pool} pool \
         (max_connections = {max}): raise `[{section}] max_connections` or `acquire_timeout`, \
         or find the code that holds connections too long"
    )]
    PoolTimedOut {
        /// `write` or `read`.
        pool: &'static str,
        /// The config section of that pool.
        section: &'static str,
        /// Its `acquire_timeout`.
        timeout: Duration,
        /// Its `max_connections`.
        max: u32,
    },

    /// [`Pool::close_within`](crate::Pool::close_within) gave up waiting for connections that
    /// tasks still hold.
    #[error(
        "closing the {pool} pool: {in_use} connection(s) still in use after {waited:?}; \
         stopped waiting (they close when their holders drop them): release connections before \
         closing the pool"
    )]
    PoolCloseTimedOut {
        /// `write` or `read`.
        pool: &'static str,
        /// Connections still handed out.
        in_use: u32,
        /// How long `close` waited.
        waited: Duration,
    },

    /// The embedded development cluster could not start.
    #[error(transparent)]
    Embedded(#[from] EmbeddedError),

    /// A migration failed, or the database's migration state does not match the code.
    #[error("migration {file}: {message}")]
    Migrate {
        /// The migration file (or version) concerned.
        file: String,
        /// What happened and what to do.
        message: String,
    },

    /// The migration DSN reaches the server through a transaction pooler, where a migration
    /// has no session of its own (its advisory lock, `SET`s and statements could each land on
    /// another server connection).
    #[error(
        "migrations need a session of their own, and `{env}` reaches the server through a \
         transaction pooler (two connections were served by one server process): set \
         `{migrations_env}` to a direct DSN for migrations{hint}"
    )]
    TransactionPooler {
        /// The variable that held the DSN.
        env: String,
        /// The variable `[database] migrations_url_env` names (or what to set).
        migrations_env: String,
        /// How to name it when `migrations_url_env = false`.
        hint: &'static str,
    },

    /// Another process held the migration lock longer than `[migrations] lock_wait`.
    #[error(
        "gave up after {waited:?} waiting for the migration lock of database `{database}` \
         (advisory lock {key}), held by {holder}: raise `[migrations] lock_wait` (now \
         {lock_wait:?}) if its migrations need longer, or end that session"
    )]
    MigrationLock {
        /// The database whose migrations are locked.
        database: String,
        /// The advisory lock id (sqlx's, `0x3d32ad9e * crc32(database)`).
        key: i64,
        /// The process holding the lock, when the server showed one.
        holder_pid: Option<i32>,
        /// That process as the server showed it: pid, application, what it runs, for how long.
        holder: String,
        /// How long this process waited.
        waited: Duration,
        /// `[migrations] lock_wait`.
        lock_wait: Duration,
    },

    /// A statement pgready runs for itself (start-up, the migrator) failed; `step` says which.
    #[error("{step} failed: {message}")]
    Database {
        /// What pgready was doing: `creating schema `app``, `reading the migrations table …`.
        step: String,
        /// PostgreSQL's message, SQLSTATE, detail and hint (never its source line).
        message: String,
    },

    /// [`Db::transaction_with`](crate::Db::transaction_with) ran its closure as often as its
    /// [`TransactionOptions`](crate::TransactionOptions) allow, and every attempt failed with a
    /// retryable error; the last one's class is `class`.
    #[error(
        "transaction gave up after {attempts} attempt(s) over {elapsed:?}: the last failed with \
         {} (SQLSTATE {sqlstate}); {limit}: reduce contention on the rows it touches, or raise \
         `TransactionOptions::max_attempts` / `max_elapsed`",
        class.as_str()
    )]
    TransactionGaveUp {
        /// The last attempt's failure: serialization failure, deadlock or connection lost.
        class: ErrorClass,
        /// Its SQLSTATE (`08006` for a lost connection).
        sqlstate: &'static str,
        /// Attempts made, the first included.
        attempts: u32,
        /// From the first `BEGIN` to giving up.
        elapsed: Duration,
        /// Which bound stopped it: `max_attempts = 5 reached`, `max_elapsed = 10s reached`.
        limit: String,
    },

    /// The connection broke after `COMMIT` was sent: the transaction may have committed or
    /// not. [`Db::transaction_with`](crate::Db::transaction_with) never retries it.
    #[error(
        "the connection was lost after COMMIT was sent (attempt {attempt}): the transaction's \
         outcome is unknown, so it was not retried; check whether its changes are there before \
         running it again ({message})"
    )]
    CommitOutcomeUnknown {
        /// The attempt whose `COMMIT` went unanswered.
        attempt: u32,
        /// What broke.
        message: String,
    },

    /// A query, or an operation on a pooled connection or transaction, failed. (sqlx quotes a
    /// DSN only when parsing it or connecting with it, which start-up does and reports as
    /// [`Error::Dsn`], [`Error::Connect`] or [`Error::Database`], redacted.)
    #[error("{}", describe(.0))]
    Sqlx(#[from] sqlx::Error),
}

impl Classify for Error {
    fn class(&self) -> ErrorClass {
        match self {
            Error::Sqlx(e) => e.class(),
            Error::PoolTimedOut { .. } => ErrorClass::PoolTimeout,
            Error::TransactionGaveUp { class, .. } => class.clone(),
            Error::CommitOutcomeUnknown { .. } => ErrorClass::CommitOutcomeUnknown,
            _ => ErrorClass::Other,
        }
    }
}

impl Error {
    /// What kind of failure this is (see [`ErrorClass`]); the same as [`Classify::class`].
    pub fn class(&self) -> ErrorClass {
        Classify::class(self)
    }
}

/// An error as a person should read it. For a PostgreSQL error: its message, SQLSTATE, detail
/// and hint; sqlx's own `Display` appends the server's C source line instead (`… at line
/// 3312`), which reads like a line of the user's SQL.
pub(crate) fn describe(e: &sqlx::Error) -> String {
    let Some(pg) = e
        .as_database_error()
        .and_then(|d| d.try_downcast_ref::<PgDatabaseError>())
    else {
        return e.to_string();
    };
    let mut text = format!("{} (SQLSTATE {})", pg.message(), pg.code());
    for extra in [pg.detail(), pg.hint()].into_iter().flatten() {
        text.push_str("; ");
        text.push_str(extra);
    }
    text
}

/// One message per line: several independent problems reported together.
pub(crate) fn lines<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Labels a failed statement with what pgready was doing: `.during("creating schema `app`")`.
pub(crate) trait During<T> {
    fn during(self, step: impl fmt::Display) -> Result<T, Error>;
}

impl<T> During<T> for Result<T, sqlx::Error> {
    fn during(self, step: impl fmt::Display) -> Result<T, Error> {
        self.map_err(|e| Error::Database {
            step: step.to_string(),
            message: describe(&e),
        })
    }
}
