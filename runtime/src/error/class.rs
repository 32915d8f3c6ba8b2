//! What kind of failure an error is, for code that acts on it: answer 409, retry, back off.

use sqlx::postgres::PgDatabaseError;

/// The kind of failure behind a [`pgready::Error`](crate::Error) or a `sqlx::Error`, from its
/// SQLSTATE or from what pgready saw ([`Classify::class`]).
///
/// ```no_run
/// # async fn f(db: pgready::Db) -> Result<(), pgready::Error> {
/// use pgready::{Classify, ErrorClass};
///
/// let inserted = pgready::sqlx::query("INSERT INTO items (name) VALUES ('a')")
///     .execute(db.write())
///     .await;
/// match inserted {
///     Err(e) if matches!(e.class(), ErrorClass::UniqueViolation { .. }) => { /* exists */ }
///     other => { other?; }
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorClass {
    /// 23505: a row with this key exists already.
    UniqueViolation {
        /// The violated constraint (or unique index), when the server named it.
        constraint: Option<String>,
    },
    /// 23503: the referenced row does not exist (or is still referenced).
    ForeignKeyViolation {
        /// The violated constraint, when the server named it.
        constraint: Option<String>,
    },
    /// 23514: a `CHECK` constraint rejected the row.
    CheckViolation {
        /// The violated constraint, when the server named it.
        constraint: Option<String>,
    },
    /// 40001: the transaction conflicted with a concurrent one; running it again may succeed
    /// ([`Db::transaction_with`](crate::Db::transaction_with) does, within its bounds).
    SerializationFailure,
    /// 40P01: the transaction was chosen as a deadlock's victim; running it again may succeed.
    Deadlock,
    /// 55P03: a lock was not granted within `lock_timeout`, or at once with `NOWAIT`.
    LockTimeout,
    /// 57014: the statement ran past `statement_timeout` (or was cancelled).
    StatementTimeout,
    /// No pooled connection became free within `acquire_timeout`.
    PoolTimeout,
    /// The connection broke (I/O error, SQLSTATE class 08, the server shutting down) before
    /// the statement's outcome was known to matter: nothing was committed.
    ConnectionLost,
    /// The connection broke after `COMMIT` was sent: the transaction may or may not have
    /// committed. Never retried by pgready.
    CommitOutcomeUnknown,
    /// 25006: a write in a read-only transaction, or on a standby.
    ReadOnly,
    /// Anything else.
    Other,
}

impl ErrorClass {
    /// The class of a PostgreSQL error by its SQLSTATE.
    fn of_database(pg: &PgDatabaseError) -> ErrorClass {
        let constraint = || pg.constraint().map(str::to_owned);
        match pg.code() {
            "23505" => ErrorClass::UniqueViolation {
                constraint: constraint(),
            },
            "23503" => ErrorClass::ForeignKeyViolation {
                constraint: constraint(),
            },
            "23514" => ErrorClass::CheckViolation {
                constraint: constraint(),
            },
            "40001" => ErrorClass::SerializationFailure,
            "40P01" => ErrorClass::Deadlock,
            "55P03" => ErrorClass::LockTimeout,
            "57014" => ErrorClass::StatementTimeout,
            "25006" => ErrorClass::ReadOnly,
            // admin_shutdown, crash_shutdown, cannot_connect_now: the session is gone.
            "57P01" | "57P02" | "57P03" => ErrorClass::ConnectionLost,
            code if code.starts_with("08") => ErrorClass::ConnectionLost,
            _ => ErrorClass::Other,
        }
    }

    /// The SQLSTATE that stands for this class (a lost connection: `08006`), if one does.
    pub fn sqlstate(&self) -> Option<&'static str> {
        Some(match self {
            ErrorClass::UniqueViolation { .. } => "23505",
            ErrorClass::ForeignKeyViolation { .. } => "23503",
            ErrorClass::CheckViolation { .. } => "23514",
            ErrorClass::SerializationFailure => "40001",
            ErrorClass::Deadlock => "40P01",
            ErrorClass::LockTimeout => "55P03",
            ErrorClass::StatementTimeout => "57014",
            ErrorClass::ConnectionLost => "08006",
            ErrorClass::ReadOnly => "25006",
            ErrorClass::PoolTimeout | ErrorClass::CommitOutcomeUnknown | ErrorClass::Other => {
                return None;
            }
        })
    }

    /// The class as a word, for logs: `serialization_failure`, `unique_violation`, ….
    pub fn as_str(&self) -> &'static str {
        match self {
            ErrorClass::UniqueViolation { .. } => "unique_violation",
            ErrorClass::ForeignKeyViolation { .. } => "foreign_key_violation",
            ErrorClass::CheckViolation { .. } => "check_violation",
            ErrorClass::SerializationFailure => "serialization_failure",
            ErrorClass::Deadlock => "deadlock",
            ErrorClass::LockTimeout => "lock_timeout",
            ErrorClass::StatementTimeout => "statement_timeout",
            ErrorClass::PoolTimeout => "pool_timeout",
            ErrorClass::ConnectionLost => "connection_lost",
            ErrorClass::CommitOutcomeUnknown => "commit_outcome_unknown",
            ErrorClass::ReadOnly => "read_only",
            ErrorClass::Other => "other",
        }
    }
}

/// Errors that know their [`ErrorClass`]: [`pgready::Error`](crate::Error) and `sqlx::Error`.
/// [`Db::transaction_with`](crate::Db::transaction_with) reads it from the closure's error to
/// decide whether to retry; an application error type implements it by asking the
/// database error it wraps (and [`ErrorClass::Other`] for the rest).
pub trait Classify {
    /// What kind of failure this is.
    fn class(&self) -> ErrorClass;
}

impl Classify for sqlx::Error {
    fn class(&self) -> ErrorClass {
        match self {
            sqlx::Error::Database(db) => db
                .try_downcast_ref::<PgDatabaseError>()
                .map_or(ErrorClass::Other, ErrorClass::of_database),
            sqlx::Error::Io(_) => ErrorClass::ConnectionLost,
            sqlx::Error::PoolTimedOut => ErrorClass::PoolTimeout,
            _ => ErrorClass::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    #[test]
    fn sqlx_errors_without_a_server_answer() {
        let io = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert_eq!(io.class(), ErrorClass::ConnectionLost);
        assert_eq!(sqlx::Error::PoolTimedOut.class(), ErrorClass::PoolTimeout);
        assert_eq!(sqlx::Error::RowNotFound.class(), ErrorClass::Other);
        assert_eq!(Error::Sqlx(io).class(), ErrorClass::ConnectionLost);
        assert_eq!(ErrorClass::Deadlock.sqlstate(), Some("40P01"));
        assert_eq!(ErrorClass::PoolTimeout.sqlstate(), None);
    }
}
