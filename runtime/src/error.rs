//! The one error type of pgready's runtime. Every message names what to fix and never carries a
//! password: DSN-bearing text goes through [`pgready_core::dsn::redact_in`] before it is stored.

use std::time::Duration;

use crate::embedded::EmbeddedError;

/// Everything that can go wrong between `main` and a ready [`Db`](crate::Db).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `pgready.toml` (or the profile chosen at run time) is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),

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

    /// A query failed (password already redacted where sqlx quoted the DSN).
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
}
