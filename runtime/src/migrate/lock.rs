//! The migration lock: sqlx's session-level advisory lock on a dedicated connection, polled
//! with `pg_try_advisory_lock` for at most `[migrations] lock_wait`.
//!
//! Polling, not `SELECT pg_advisory_lock(…)`, because a blocking wait goes wrong twice behind a
//! long migration: PostgreSQL applies the connection's `lock_timeout` to it (55P03, and the
//! waiting instance fails to start), and the waiting statement holds a snapshot, so the
//! holder's `CREATE INDEX CONCURRENTLY`, which waits for every older snapshot, would wait for
//! the waiter forever (a deadlock PostgreSQL does not detect). Each poll is one short statement:
//! nothing is held between polls and `lock_timeout` never applies.

use std::time::{Duration, Instant};

use pgready_core::migrations;
use sqlx::postgres::PgConnection;

use crate::Error;
use crate::error::During;

/// The first pause between polls; it doubles up to [`LONGEST_POLL`].
const FIRST_POLL: Duration = Duration::from_millis(50);
const LONGEST_POLL: Duration = Duration::from_secs(1);
/// A waiting instance says who it waits for when it starts waiting, then at most this often.
const LOG_EVERY: Duration = Duration::from_secs(10);
/// How much of the holder's statement a log line or an error quotes.
const QUERY_CHARS: usize = 120;

/// Runs `f` holding the migration lock of the connection's database, waiting at most
/// `lock_wait` for another process to release it. The lock is released on every path that
/// still has the connection, and by the server when the connection (or the process) dies.
pub(crate) async fn locked<T>(
    conn: &mut PgConnection,
    lock_wait: Duration,
    f: impl AsyncFnOnce(&mut PgConnection) -> Result<T, Error>,
) -> Result<T, Error> {
    let database: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&mut *conn)
        .await
        .during("reading the database name for the migration lock")?;
    let key = migrations::lock_id(&database);
    acquire(conn, &database, key, lock_wait).await?;
    let result = f(&mut *conn).await;
    let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(key)
        .execute(&mut *conn)
        .await
        .during(format_args!(
            "releasing the migration lock of database `{database}`"
        ));
    let value = result?;
    unlocked?;
    Ok(value)
}

/// Polls until the lock is ours, or fails with [`Error::MigrationLock`] once `lock_wait` has
/// passed (after one last poll at the bound).
async fn acquire(
    conn: &mut PgConnection,
    database: &str,
    key: i64,
    lock_wait: Duration,
) -> Result<(), Error> {
    let started = Instant::now();
    let mut pause = FIRST_POLL;
    let mut last_log: Option<Instant> = None;
    loop {
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut *conn)
            .await
            .during(format_args!(
                "waiting for the migration lock of database `{database}`"
            ))?;
        let waited = started.elapsed();
        if got {
            if last_log.is_some() {
                tracing::info!(
                    database,
                    "got the migration lock after waiting {:?}",
                    millis(waited)
                );
            }
            return Ok(());
        }
        if waited >= lock_wait {
            let holder = holder(conn, database, key).await?;
            return Err(Error::MigrationLock {
                database: database.to_owned(),
                key,
                holder_pid: holder.as_ref().map(|h| h.pid),
                holder: describe(holder.as_ref()),
                waited: millis(waited),
                lock_wait,
            });
        }
        if last_log.is_none_or(|at| at.elapsed() >= LOG_EVERY) {
            let holder = holder(conn, database, key).await?;
            tracing::info!(
                database,
                holder_pid = holder.as_ref().map(|h| h.pid),
                "another process is migrating this database: waiting for the migration lock, \
                 held by {}; waited {:?} of `[migrations] lock_wait` = {lock_wait:?}",
                describe(holder.as_ref()),
                millis(waited),
            );
            last_log = Some(Instant::now());
        }
        tokio::time::sleep(pause.min(lock_wait - waited)).await;
        pause = (pause * 2).min(LONGEST_POLL);
    }
}

/// The session holding the lock, as `pg_locks` and `pg_stat_activity` show it.
struct Holder {
    pid: i32,
    application: Option<String>,
    state: Option<String>,
    query: Option<String>,
    /// Seconds since its backend started: the longest it can have held the lock.
    connected: Option<f64>,
    /// Seconds since its state last changed: for an `active` session, how long its statement
    /// has run.
    in_state: Option<f64>,
}

/// `Holder`'s fields, as `holder` selects them.
type HolderRow = (
    i32,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<f64>,
    Option<f64>,
);

/// A 64-bit advisory lock shows in `pg_locks` as `classid` = its high 32 bits, `objid` = its
/// low 32 bits, `objsubid` = 1 (2 is the two-key form).
async fn holder(
    conn: &mut PgConnection,
    database: &str,
    key: i64,
) -> Result<Option<Holder>, Error> {
    let bits = key as u64;
    let (high, low) = (i64::from((bits >> 32) as u32), i64::from(bits as u32));
    let row: Option<HolderRow> = sqlx::query_as(
        "SELECT l.pid, a.application_name::text, a.state, a.query, \
                    extract(epoch FROM now() - a.backend_start)::float8, \
                    extract(epoch FROM now() - a.state_change)::float8 \
             FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
               AND l.classid::int8 = $1 AND l.objid::int8 = $2 AND l.pid <> pg_backend_pid() \
             LIMIT 1",
    )
    .bind(high)
    .bind(low)
    .fetch_optional(&mut *conn)
    .await
    .during(format_args!(
        "looking up who holds the migration lock of database `{database}`"
    ))?;
    Ok(row.map(
        |(pid, application, state, query, connected, in_state)| Holder {
            pid,
            application,
            state,
            query,
            connected,
            in_state,
        },
    ))
}

/// `pid 4242 (`my-service`), running `CREATE INDEX …` for 12.3s, connected 13.0s ago`.
fn describe(holder: Option<&Holder>) -> String {
    let Some(h) = holder else {
        return "a process that has just released it".to_owned();
    };
    let mut text = format!("pid {}", h.pid);
    if let Some(application) = h.application.as_deref().filter(|a| !a.is_empty()) {
        text.push_str(&format!(" (`{application}`)"));
    }
    let query = h.query.as_deref().map(statement);
    let query = query
        .as_deref()
        .unwrap_or("(its statement is not visible to this role)");
    let since = h
        .in_state
        .map_or_else(String::new, |s| format!(" for {s:.1}s"));
    match h.state.as_deref() {
        Some("active") => text.push_str(&format!(", running {query}{since}")),
        Some(state) => text.push_str(&format!(", {state}{since} after {query}")),
        None => {}
    }
    if let Some(connected) = h.connected {
        text.push_str(&format!(
            ", connected {connected:.1}s ago (at most that long holding the lock)"
        ));
    }
    text
}

/// The holder's statement for a log line: one line, truncated, and not at all when it may
/// carry a password (`ALTER ROLE … PASSWORD '…'`).
fn statement(query: &str) -> String {
    if query.to_ascii_lowercase().contains("password") {
        return "(a statement that mentions a password, not shown)".to_owned();
    }
    let flat = query.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut shown: String = flat.chars().take(QUERY_CHARS).collect();
    if shown.len() < flat.len() {
        shown.push('…');
    }
    format!("`{shown}`")
}

/// Rounded to milliseconds, so messages read `12.345s`.
fn millis(d: Duration) -> Duration {
    Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::{Holder, describe, statement};

    #[test]
    fn statements_are_one_short_line_without_passwords() {
        assert_eq!(statement("SELECT\n  pg_sleep(20)"), "`SELECT pg_sleep(20)`");
        let long = "x".repeat(500);
        assert_eq!(statement(&long).chars().count(), 120 + 3);
        assert!(statement("ALTER ROLE app PASSWORD 'hunter2'").contains("not shown"));
        assert!(!statement("ALTER ROLE app PASSWORD 'hunter2'").contains("hunter2"));
    }

    #[test]
    fn a_holder_is_named_with_what_it_runs_and_for_how_long() {
        let h = Holder {
            pid: 42,
            application: Some("svc".into()),
            state: Some("active".into()),
            query: Some("SELECT pg_sleep(20)".into()),
            connected: Some(3.04),
            in_state: Some(2.5),
        };
        assert_eq!(
            describe(Some(&h)),
            "pid 42 (`svc`), running `SELECT pg_sleep(20)` for 2.5s, connected 3.0s ago \
             (at most that long holding the lock)"
        );
        let idle = Holder {
            state: Some("idle".into()),
            query: None,
            ..h
        };
        assert!(
            describe(Some(&idle)).contains(", idle for 2.5s after (its statement is not visible"),
            "{}",
            describe(Some(&idle))
        );
    }
}
