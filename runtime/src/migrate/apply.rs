//! Running migrations: one transaction per migration, the bookkeeping row.

use std::time::Instant;

use pgready_core::config;
use pgready_core::migrations::{Kind, Migration};
use sqlx::postgres::{PgConnection, PgDatabaseError, PgErrorPosition};
use sqlx::{AssertSqlSafe, Connection, Executor};
use tracing::Instrument;

use super::plan::{self, quoted};
use crate::Error;
use crate::error::{During, describe};

/// What start-up found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MigrationState {
    /// Versions recorded as applied.
    pub applied: usize,
    /// Versions in the code but not in the database.
    pub pending: usize,
    /// The newest applied version.
    pub latest: Option<i64>,
}

/// `apply = false` only checks.
pub(crate) async fn run(
    conn: &mut PgConnection,
    list: &[Migration],
    cfg: &config::Migrations,
    apply: bool,
) -> Result<MigrationState, Error> {
    let table = quoted(&cfg.table);
    if apply {
        // As sqlx's `create-schemas`: before the table, which may live in one of them.
        for schema in &cfg.create_schemas {
            conn.execute(AssertSqlSafe(format!(
                "CREATE SCHEMA IF NOT EXISTS {}",
                quoted(schema)
            )))
            .await
            .during(format_args!(
                "creating the schema `{schema}` (`[migrations] create_schemas`)"
            ))?;
        }
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
        .await
        .during(format_args!(
            "creating the migrations table `{}`",
            cfg.table
        ))?;
    }
    let rows = plan::applied_rows(conn, &cfg.table).await?;
    let pending = plan::pending(list, &rows, cfg)?;
    if !apply {
        if !pending.is_empty() {
            let names: Vec<&str> = pending.iter().map(|m| m.file_name.as_str()).collect();
            return Err(Error::Migrate {
                file: names.join(", "),
                message: "pending, and `[migrations] on_startup = \"verify\"` refuses to start: \
                          apply them first (`pgready migrate run`, or `on_startup = \"apply\"`)"
                    .to_owned(),
            });
        }
        return Ok(MigrationState {
            applied: rows.len(),
            pending: 0,
            latest: rows.last().map(|r| r.version),
        });
    }
    for m in &pending {
        apply_one(conn, m, &table)
            .instrument(crate::spans::migration(m))
            .await?;
    }
    let latest = rows
        .iter()
        .map(|r| r.version)
        .chain(pending.iter().map(|m| m.version))
        .max();
    Ok(MigrationState {
        applied: rows.len() + pending.len(),
        pending: 0,
        latest,
    })
}

async fn apply_one(conn: &mut PgConnection, m: &Migration, table: &str) -> Result<(), Error> {
    let started = Instant::now();
    let record = format!(
        "INSERT INTO {table} (version, description, success, checksum, execution_time) \
         VALUES ($1, $2, $3, $4, -1)"
    );
    if m.no_transaction {
        // Statement by statement, each in its own implicit transaction, so `CREATE INDEX
        // CONCURRENTLY` works; a failure is recorded as `success = false` so that nobody
        // retries a half-applied file blindly.
        for (sql, line) in statements(&m.sql) {
            if let Err(e) = sqlx::raw_sql(AssertSqlSafe(sql.clone()))
                .execute(&mut *conn)
                .await
            {
                record_row(conn, &record, m, false).await?;
                return Err(failed(m, &e, line, &sql));
            }
        }
        record_row(conn, &record, m, true).await?;
    } else {
        let mut tx = conn.begin().await.during(format_args!(
            "starting the transaction of `{}`",
            m.file_name
        ))?;
        if let Err(e) = sqlx::raw_sql(AssertSqlSafe(m.sql.clone()))
            .execute(&mut *tx)
            .await
        {
            tx.rollback().await.ok();
            return Err(failed(m, &e, 1, &m.sql));
        }
        record_row(&mut tx, &record, m, true).await?;
        // A deferred constraint fails here: the migration's failure, not pgready's.
        tx.commit().await.map_err(|e| failed(m, &e, 1, ""))?;
    }
    let elapsed = i64::try_from(started.elapsed().as_nanos()).unwrap_or(i64::MAX);
    sqlx::query(AssertSqlSafe(format!(
        "UPDATE {table} SET execution_time = $1 WHERE version = $2"
    )))
    .bind(elapsed)
    .bind(m.version)
    .execute(&mut *conn)
    .await
    .during(format_args!(
        "recording the execution time of `{}` in `{table}`",
        m.file_name
    ))?;
    tracing::info!(version = m.version, file = %m.file_name, "applied migration in {:?}", started.elapsed());
    Ok(())
}

pub(crate) async fn revert(
    conn: &mut PgConnection,
    list: &[Migration],
    cfg: &config::Migrations,
) -> Result<i64, Error> {
    let rows = plan::applied_rows(conn, &cfg.table).await?;
    let Some(newest) = rows.last() else {
        return Err(Error::Migrate {
            file: cfg.table.clone(),
            message: "nothing to revert: no migration is applied".to_owned(),
        });
    };
    let version = newest.version;
    let up = list
        .iter()
        .find(|m| m.version == version && m.kind != Kind::Down);
    let down = list
        .iter()
        .find(|m| m.version == version && m.kind == Kind::Down);
    let (Some(up), Some(down)) = (up, down) else {
        return Err(Error::Migrate {
            file: up.map_or_else(|| format!("version {version}"), |m| m.file_name.clone()),
            message: "is not reversible (no `.down.sql`): write a new migration that undoes it"
                .to_owned(),
        });
    };
    if up.checksum != newest.checksum {
        return Err(Error::Migrate {
            file: up.file_name.clone(),
            message: "was edited after it was applied: its `.down.sql` may not match what ran"
                .to_owned(),
        });
    }
    let delete = format!("DELETE FROM {} WHERE version = $1", quoted(&cfg.table));
    let mut tx = conn.begin().await.during(format_args!(
        "starting the transaction of `{}`",
        down.file_name
    ))?;
    if let Err(e) = sqlx::raw_sql(AssertSqlSafe(down.sql.clone()))
        .execute(&mut *tx)
        .await
    {
        tx.rollback().await.ok();
        return Err(failed(down, &e, 1, &down.sql));
    }
    sqlx::query(AssertSqlSafe(delete))
        .bind(version)
        .execute(&mut *tx)
        .await
        .during(format_args!(
            "removing version {version} from the migrations table `{}`",
            cfg.table
        ))?;
    tx.commit().await.map_err(|e| failed(down, &e, 1, ""))?;
    tracing::info!(version, file = %down.file_name, "reverted migration");
    Ok(version)
}

async fn record_row(
    conn: &mut PgConnection,
    record: &str,
    m: &Migration,
    success: bool,
) -> Result<(), Error> {
    sqlx::query(AssertSqlSafe(record.to_owned()))
        .bind(m.version)
        .bind(&m.description)
        .bind(success)
        .bind(&m.checksum)
        .execute(conn)
        .await
        .during(format_args!(
            "recording `{}` in the migrations table",
            m.file_name
        ))?;
    Ok(())
}

/// The file's statements with the line each starts on.
fn statements(sql: &str) -> Vec<(String, usize)> {
    match pgready_core::migrations::statements(sql) {
        Ok(statements) => statements.into_iter().map(|s| (s.text, s.line)).collect(),
        // The grammar could not split it (the compile-time lint said so as a warning): run it
        // whole, and let the server report where it stops.
        Err(_) => vec![(sql.to_owned(), 1)],
    }
}

/// The error for a failed migration: the file, the line PostgreSQL pointed at, the message.
fn failed(m: &Migration, e: &sqlx::Error, first_line: usize, sql: &str) -> Error {
    let line = error_line(e, sql).map_or(first_line, |l| first_line + l - 1);
    let reason = describe(e);
    let outcome = if m.no_transaction {
        "failed (outside a transaction: the statements before this one stay applied)"
    } else {
        "failed and was rolled back"
    };
    Error::Migrate {
        file: format!("{}:{line}", m.file_name),
        message: format!("{outcome}: {reason}"),
    }
}

/// The 1-based line of `sql` where PostgreSQL located the error, when it did.
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
