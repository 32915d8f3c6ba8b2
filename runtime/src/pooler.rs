//! A transaction pooler (PgBouncer in `pool_mode = transaction`) between pgready and the
//! server: telling one is there, and the role settings it needs.
//!
//! Detection, for migrations: a transaction pooler hands a server connection to whichever
//! client runs the next transaction, so the same server process (`pg_backend_pid()`) answers
//! two client connections that are open at the same time, or one client connection gets
//! different server processes from one statement to the next. A direct connection, or a
//! session pooler, never shows either: each client connection keeps one server process for its
//! life. [`shares_sessions`] opens a second connection and asks both, three rounds; any
//! sharing is proof. (PgBouncer gives an idle server connection to the next client most recent
//! first, so on a pooler that is not busy the first round shows it.)

use pgready_core::config;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection, Row};

use crate::pool::Pool;

/// Rounds of the sharing test.
const ROUNDS: usize = 3;

/// Whether `conn` reaches the server through a pooler that shares server sessions between
/// clients (transaction or statement pooling): see the module docs.
pub(crate) async fn shares_sessions(
    conn: &mut PgConnection,
    options: &PgConnectOptions,
) -> Result<bool, sqlx::Error> {
    let mut other = options.connect().await?;
    let shared = async {
        for _ in 0..ROUNDS {
            let first = backend_pid(conn).await?;
            let theirs = backend_pid(&mut other).await?;
            let again = backend_pid(conn).await?;
            if first == theirs || first != again {
                return Ok(true);
            }
        }
        Ok(false)
    }
    .await;
    if let Err(e) = other.close().await {
        tracing::debug!("closing the pooler test's second connection: {e}");
    }
    shared
}

/// The simple protocol: through a transaction pooler a prepared statement could be parsed on
/// one server connection and executed on another.
async fn backend_pid(conn: &mut PgConnection) -> Result<i32, sqlx::Error> {
    sqlx::raw_sql("SELECT pg_backend_pid()")
        .fetch_one(conn)
        .await?
        .try_get(0)
}

/// Behind a transaction pooler the `[session]` settings PgBouncer does not keep per client are
/// never sent: the role must hold them. Reads the role's settings (`pg_db_role_setting`, for
/// this database and for all) and warns, once, with the statements that give the missing ones.
pub(crate) async fn check_role_settings(pool: &Pool, session: &config::Session) {
    match missing_role_settings(pool, session).await {
        Ok((_, missing)) if missing.is_empty() => {}
        Ok((role, missing)) => {
            let statements: Vec<String> = missing
                .iter()
                .map(|setting| format!("{};", setting.statement(&role)))
                .collect();
            tracing::warn!(
                role,
                "behind a transaction pooler (`[database] pgbouncer = true`) the `[session]` \
                 settings {} are the role's, and role `{role}` does not hold them: run `{}`",
                missing
                    .iter()
                    .map(|s| format!("`{}`", s.key))
                    .collect::<Vec<_>>()
                    .join(", "),
                statements.join(" ")
            );
        }
        Err(e) => tracing::warn!(
            "behind a transaction pooler the `[session]` settings must be the role's, and its \
             settings could not be read: {e}"
        ),
    }
}

/// The current role and the settings it lacks.
pub(crate) async fn missing_role_settings(
    pool: &Pool,
    session: &config::Session,
) -> Result<(String, Vec<config::RoleSetting>), sqlx::Error> {
    let role: String = sqlx::query_scalar("SELECT current_user::text")
        .persistent(false)
        .fetch_one(pool)
        .await?;
    // This database's entries first: they win over the role's entries for all databases.
    let entries: Vec<String> = sqlx::query_scalar(
        "SELECT entry FROM pg_db_role_setting s CROSS JOIN LATERAL unnest(s.setconfig) AS entry \
         WHERE s.setrole = (SELECT oid FROM pg_roles WHERE rolname = current_user) \
           AND s.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database())) \
         ORDER BY s.setdatabase DESC",
    )
    .persistent(false)
    .fetch_all(pool)
    .await?;
    let missing = session
        .role_settings()
        .into_iter()
        .filter(|setting| !setting.is_satisfied_by(entries.iter().map(String::as_str)))
        .collect();
    Ok((role, missing))
}
