//! Applying or verifying migrations at start-up, sqlx-compatible: same table, same checksums,
//! same advisory lock, so `sqlx migrate info` and pgready agree about every version.

use std::collections::BTreeMap;
use std::time::Instant;

use pgready_core::config::{self, OnStartup};
use pgready_core::migrations::{self, Kind, Migration};
use sqlx::postgres::{PgConnection, PgDatabaseError, PgErrorPosition};
use sqlx::{AssertSqlSafe, Connection, Executor};

use crate::Error;

/// What start-up found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MigrationState {
    /// Versions recorded as applied (after this start-up's work).
    pub applied: usize,
    /// Versions in the code but not in the database.
    pub pending: usize,
    /// The newest applied version.
    pub latest: Option<i64>,
}

/// Runs `[migrations] on_startup` on a dedicated connection, under sqlx's advisory lock.
///
/// The lock is released on every path: explicitly on success and on migration errors, and by
/// closing the connection (which the caller does) if the connection itself broke.
pub(crate) async fn on_startup(
    conn: &mut PgConnection,
    list: &[Migration],
    cfg: &config::Migrations,
) -> Result<MigrationState, Error> {
    if cfg.on_startup == OnStartup::Off {
        return Ok(MigrationState::default());
    }
    let database: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&mut *conn)
        .await?;
    let lock_id = migrations::lock_id(&database);
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(lock_id)
        .execute(&mut *conn)
        .await?;
    let result = locked(conn, list, cfg).await;
    let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(lock_id)
        .execute(&mut *conn)
        .await;
    let state = result?;
    unlocked?;
    Ok(state)
}

async fn locked(
    conn: &mut PgConnection,
    list: &[Migration],
    cfg: &config::Migrations,
) -> Result<MigrationState, Error> {
    let table = table_name(&cfg.table);
    conn.execute(AssertSqlSafe(format!(
        "CREATE TABLE IF NOT EXISTS {table} (
            version BIGINT PRIMARY KEY,
            description TEXT NOT NULL,
            installed_on TIMESTAMPTZ NOT NULL DEFAULT now(),
            success BOOLEAN NOT NULL,
            checksum BYTEA NOT NULL,
            execution_time BIGINT NOT NULL
        )"
    )))
    .await?;
    let rows: Vec<(i64, Vec<u8>, bool)> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT version, checksum, success FROM {table} ORDER BY version"
    )))
    .fetch_all(&mut *conn)
    .await?;
    let local: BTreeMap<i64, &Migration> = list
        .iter()
        .filter(|m| m.kind != Kind::Down)
        .map(|m| (m.version, m))
        .collect();

    for (version, checksum, success) in &rows {
        let file = local
            .get(version)
            .map_or_else(|| version.to_string(), |m| m.file_name.clone());
        if !success {
            return Err(Error::Migrate {
                file,
                message: format!(
                    "version {version} is marked failed (success = false) in `{}`: repair the \
                     schema by hand, then delete that row",
                    cfg.table
                ),
            });
        }
        match local.get(version) {
            None => {
                return Err(Error::Migrate {
                    file,
                    message: format!(
                        "version {version} is applied in the database but missing from the \
                         migrations directory: restore the file (never delete an applied migration)"
                    ),
                });
            }
            Some(m) if m.checksum != *checksum => {
                return Err(Error::Migrate {
                    file,
                    message: format!(
                        "was edited after it was applied (checksum differs from version \
                         {version} in `{}`): restore the original file and add a new migration \
                         instead",
                        cfg.table
                    ),
                });
            }
            Some(_) => {}
        }
    }

    let applied: Vec<i64> = rows.iter().map(|(v, _, _)| *v).collect();
    let pending: Vec<&Migration> = local
        .values()
        .copied()
        .filter(|m| applied.binary_search(&m.version).is_err())
        .collect();
    if cfg.on_startup == OnStartup::Verify && !pending.is_empty() {
        let names: Vec<&str> = pending.iter().map(|m| m.file_name.as_str()).collect();
        return Err(Error::Migrate {
            file: names.join(", "),
            message: "pending, and `[migrations] on_startup = \"verify\"` refuses to start: \
                      apply them first (`on_startup = \"apply\"` or `pgready migrate run`)"
                .to_owned(),
        });
    }
    for migration in &pending {
        apply(conn, migration, &table).await?;
    }
    Ok(MigrationState {
        applied: applied.len() + pending.len(),
        pending: 0,
        latest: local
            .keys()
            .next_back()
            .copied()
            .or(applied.last().copied()),
    })
}

async fn apply(conn: &mut PgConnection, m: &Migration, table: &str) -> Result<(), Error> {
    let started = Instant::now();
    let failed = |e: sqlx::Error| Error::Migrate {
        file: match error_line(&e, &m.sql) {
            Some(line) => format!("{}:{line}", m.file_name),
            None => m.file_name.clone(),
        },
        message: format!("failed and was rolled back: {e}"),
    };
    let record = format!(
        "INSERT INTO {table} (version, description, success, checksum, execution_time) \
         VALUES ($1, $2, TRUE, $3, -1)"
    );
    if m.no_transaction {
        sqlx::raw_sql(AssertSqlSafe(m.sql.clone()))
            .execute(&mut *conn)
            .await
            .map_err(failed)?;
        insert(&mut *conn, &record, m).await?;
    } else {
        let mut tx = conn.begin().await?;
        sqlx::raw_sql(AssertSqlSafe(m.sql.clone()))
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
        insert(&mut tx, &record, m).await?;
        tx.commit().await?;
    }
    let elapsed = i64::try_from(started.elapsed().as_nanos()).unwrap_or(i64::MAX);
    sqlx::query(AssertSqlSafe(format!(
        "UPDATE {table} SET execution_time = $1 WHERE version = $2"
    )))
    .bind(elapsed)
    .bind(m.version)
    .execute(&mut *conn)
    .await?;
    tracing::info!(version = m.version, file = %m.file_name, "applied migration in {:?}", started.elapsed());
    Ok(())
}

async fn insert(conn: &mut PgConnection, record: &str, m: &Migration) -> Result<(), Error> {
    sqlx::query(AssertSqlSafe(record.to_owned()))
        .bind(m.version)
        .bind(&m.description)
        .bind(&m.checksum)
        .execute(conn)
        .await?;
    Ok(())
}

/// `_sqlx_migrations` or `schema.table`, each part quoted.
fn table_name(configured: &str) -> String {
    configured
        .split('.')
        .map(crate::session::identifier)
        .collect::<Vec<_>>()
        .join(".")
}

/// The 1-based line of the file where PostgreSQL located the error, when it did.
fn error_line(e: &sqlx::Error, sql: &str) -> Option<usize> {
    let pg = e
        .as_database_error()?
        .try_downcast_ref::<PgDatabaseError>()?;
    let PgErrorPosition::Original(position) = pg.position()? else {
        return None;
    };
    // PostgreSQL counts characters from 1.
    let before: String = sql.chars().take(position.saturating_sub(1)).collect();
    Some(before.matches('\n').count() + 1)
}
