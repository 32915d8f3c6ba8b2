//! From a DSN in the environment to connections: TLS policy, start-up retry, the migration
//! connection (schema created, `[migrations]` limits set) and pools with their limits. Start-up
//! and `pgready migrate` both connect through here; no error leaves it with a password in it.

use std::time::{Duration, Instant};

use pgready_core::{config, dsn};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection, Executor, SqlSafeStr, SqlStr};

use crate::error::{During, describe};
use crate::pool::{Pool, Role};
use crate::{Error, pooler, session};

/// A DSN read from the environment, parsed, with its redacted form for messages.
#[derive(Clone)]
pub(crate) struct Target {
    pub(crate) options: PgConnectOptions,
    /// The environment variable the DSN came from.
    pub(crate) env: String,
    /// The DSN itself: used only to scrub it out of error text, never printed.
    secret: String,
    /// The DSN with its password replaced by `***`: safe for logs and errors.
    pub(crate) redacted: String,
}

impl Target {
    /// Parses `url` (taken from `env`), enforcing `require_tls`.
    pub(crate) fn parse(
        env: &str,
        url: &str,
        database: &config::Database,
        application_name: &str,
    ) -> Result<Target, Error> {
        let invalid = |message: String| Error::Dsn {
            env: env.to_owned(),
            message,
        };
        dsn::check_tls(url, database.require_tls).map_err(invalid)?;
        if let Some(ca) = dsn::sslrootcert(url)
            // sqlx's inline form: the PEM text itself
            && !ca.starts_with("-----")
            && let Err(e) = std::fs::File::open(&ca)
        {
            return Err(invalid(format!(
                "`sslrootcert={ca}` cannot be read ({e}): point `sslrootcert` at the PEM file \
                 of the CA that signed the server's certificate"
            )));
        }
        let options: PgConnectOptions = url
            .parse()
            .map_err(|e: sqlx::Error| invalid(dsn::redact_in(&e.to_string(), url)))?;
        Ok(Target {
            // pgready's session settings are sent with one batch after connecting; sqlx's own
            // statement log at INFO would print every query of a busy service.
            options: options
                .application_name(application_name)
                .disable_statement_logging(),
            env: env.to_owned(),
            secret: url.to_owned(),
            redacted: dsn::redact(url),
        })
    }

    /// A failed connection attempt, as the error start-up returns.
    pub(crate) fn connect_error(&self, e: &sqlx::Error) -> Error {
        let mut message = self.scrub(&describe(e));
        if let Some(fix) = tls_failure(e) {
            message = format!("{message} ({fix})");
        }
        Error::Connect {
            target: self.redacted.clone(),
            attempts: 1,
            elapsed: Duration::ZERO,
            message,
        }
    }

    /// Removes this target's password from any text about it.
    pub(crate) fn scrub(&self, text: &str) -> String {
        dsn::redact_in(text, &self.secret)
    }

    /// Removes this target's password from an error of a statement run on it: migration and
    /// query errors may quote the DSN (sqlx's connection errors do).
    pub(crate) fn scrub_error(&self, e: Error) -> Error {
        match e {
            // Every statement of start-up says what it was for; this is only a safety net.
            Error::Sqlx(inner) => Error::Database {
                step: "a statement on the migration connection".to_owned(),
                message: self.scrub(&describe(&inner)),
            },
            Error::Database { step, message } => Error::Database {
                step,
                message: self.scrub(&message),
            },
            Error::Migrate { file, message } => Error::Migrate {
                file,
                message: self.scrub(&message),
            },
            other => other,
        }
    }
}

/// The shortest time one connection attempt is given, however little is left of
/// `connect_retry`: a TLS handshake to a distant server may need that long.
const MIN_ATTEMPT: Duration = Duration::from_secs(1);

/// Connects once, retrying refused connections (and "the database system is starting up")
/// with backoff until `retry_for` has passed. Other errors (bad password, unknown database)
/// fail at once: waiting would not fix them.
pub(crate) async fn wait_until_ready(
    target: &Target,
    retry_for: Duration,
) -> Result<PgConnection, Error> {
    let started = Instant::now();
    let mut delay = Duration::from_millis(50);
    let mut attempts = 0;
    loop {
        attempts += 1;
        // A server that accepts but never answers (a black-holed route, a frozen host) would
        // hold an attempt for ever: each one gets what is left of `connect_retry`, at least
        // `MIN_ATTEMPT`, and runs out as a transient I/O error.
        let bound = retry_for.saturating_sub(started.elapsed()).max(MIN_ATTEMPT);
        let attempt = tokio::time::timeout(bound, PgConnection::connect_with(&target.options))
            .await
            .unwrap_or_else(|_| {
                Err(sqlx::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no answer from the server within {bound:?}"),
                )))
            });
        match attempt {
            Ok(conn) => {
                if attempts > 1 {
                    tracing::info!(
                        target = %target.redacted,
                        attempts,
                        "database is ready after {:?}",
                        started.elapsed()
                    );
                }
                return Ok(conn);
            }
            Err(e) if is_transient(&e) && started.elapsed() < retry_for => {
                // The last wait ends at `connect_retry`, for one last attempt there.
                let delay_now = delay.min(retry_for.saturating_sub(started.elapsed()));
                tracing::warn!(
                    target = %target.redacted,
                    "database not ready ({}), retrying in {delay_now:?}",
                    target.scrub(&describe(&e))
                );
                tokio::time::sleep(delay_now).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
            Err(e) => {
                let hint = if let Some(fix) = tls_failure(&e) {
                    format!(" ({fix})")
                } else if is_transient(&e) {
                    " (raise `[database] connect_retry` if the database needs longer to start)"
                        .to_owned()
                } else {
                    String::new()
                };
                return Err(Error::Connect {
                    target: target.redacted.clone(),
                    attempts,
                    elapsed: started.elapsed(),
                    message: format!("{}{hint}", target.scrub(&describe(&e))),
                });
            }
        }
    }
}

/// Errors that go away by themselves while a database starts.
pub(crate) fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        // A certificate the client rejects stays rejected: retrying would only delay the error.
        sqlx::Error::Io(_) => tls_failure(e).is_none(),
        // 57P03 cannot_connect_now: starting up, shutting down or in recovery
        sqlx::Error::Database(db) => db.code().as_deref() == Some("57P03"),
        _ => false,
    }
}

/// What to fix when the TLS handshake failed on the client's side: the server's certificate
/// was rejected, or the server does not speak TLS. `None` for any other error.
///
/// rustls reports a rejected certificate as an I/O error ("invalid peer certificate: …");
/// sqlx reports a server without TLS as its own TLS error.
pub(crate) fn tls_failure(e: &sqlx::Error) -> Option<&'static str> {
    let text = match e {
        sqlx::Error::Io(io) => io.to_string(),
        sqlx::Error::Tls(tls) => tls.to_string(),
        _ => return None,
    };
    if text.contains("server does not support TLS") {
        Some(
            "the server does not accept TLS: turn on `ssl` on the server (with its certificate \
             and key), or connect through something that terminates TLS",
        )
    } else if text.contains("not valid for name") {
        Some(
            "the server's certificate does not name the DSN's host: connect by a name the \
             certificate lists, or use `sslmode=verify-ca` to check only who signed it",
        )
    } else if text.contains("certificate expired") || text.contains("not valid yet") {
        Some("the server's certificate is outside its validity period: renew it on the server")
    } else if text.contains("peer certificate") {
        Some(
            "the server's certificate is not signed by the CA the client trusts: set \
             `sslrootcert` in the DSN to the PEM file of the CA that signed it (without \
             `sslrootcert` only public CAs are trusted), or use `sslmode=require` to encrypt \
             without verifying the server",
        )
    } else if matches!(e, sqlx::Error::Tls(_)) {
        Some("check `sslmode` and `sslrootcert` in the DSN")
    } else {
        None
    }
}

/// Creates `schema` unless it exists (checked first: `CREATE SCHEMA IF NOT EXISTS` would still
/// need the CREATE privilege on the database).
async fn ensure_schema(conn: &mut PgConnection, schema: &str) -> Result<(), Error> {
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
            .bind(schema)
            .fetch_one(&mut *conn)
            .await
            .during(format_args!("checking that schema `{schema}` exists"))?;
    if !exists {
        let sql = format!(
            "CREATE SCHEMA IF NOT EXISTS {}",
            session::identifier(schema)
        );
        if let Err(e) = conn.execute(sqlx::AssertSqlSafe(sql)).await {
            let mut message = describe(&e);
            if e.as_database_error().and_then(|d| d.code()).as_deref() == Some("42501") {
                message.push_str(
                    ": create the schema beforehand, or grant this role CREATE on the database",
                );
            }
            return Err(Error::Database {
                step: format!("creating schema `{schema}` (`[session] schema`)"),
                message,
            });
        }
        tracing::info!(schema, "created schema");
    }
    Ok(())
}

/// Builds a pool with `[pool]`-style limits; every new connection runs the session batch.
///
/// With `[database] pgbouncer = true` the pool is built for a transaction pooler in between:
/// sqlx's statement cache is off and statements are unnamed (the pool's business), sqlx's
/// `extra_float_digits` startup parameter is left out (PgBouncer refuses unknown ones unless
/// told to ignore them), and the batch holds only what PgBouncer keeps per client (`TimeZone`;
/// `application_name` travels in the startup packet): the other settings are the role's.
pub(crate) async fn pool(
    target: &Target,
    limits: &config::Pool,
    cfg: &config::Config,
    role: Role,
) -> Result<Pool, Error> {
    let (options, settings) = pool_setup(target, cfg);
    Pool::connect(options, settings, limits, role, cfg.database.pgbouncer)
        .await
        .map_err(|e| target.connect_error(&e))
}

/// `#[pgready::test]`'s transaction mode: a write pool of one connection inside the test's
/// transaction (see [`Pool::connect_in_test_transaction`]).
pub(crate) async fn test_transaction_pool(
    target: &Target,
    limits: &config::Pool,
    cfg: &config::Config,
) -> Result<Pool, Error> {
    let (options, settings) = pool_setup(target, cfg);
    Pool::connect_in_test_transaction(options, settings, limits)
        .await
        .map_err(|e| target.connect_error(&e))
}

/// [`pool`] without opening a connection first: for a replica that does not answer yet.
pub(crate) async fn pool_later(
    target: &Target,
    limits: &config::Pool,
    cfg: &config::Config,
    role: Role,
) -> Result<Pool, Error> {
    let (options, settings) = pool_setup(target, cfg);
    Pool::connect_later(options, settings, limits, role, cfg.database.pgbouncer)
        .await
        .map_err(|e| target.connect_error(&e))
}

fn pool_setup(target: &Target, cfg: &config::Config) -> (PgConnectOptions, SqlStr) {
    if cfg.database.pgbouncer {
        let options = target
            .options
            .clone()
            .statement_cache_capacity(0)
            .extra_float_digits(None);
        let settings = session::pooled_settings_sql(&cfg.session);
        (options, sqlx::AssertSqlSafe(settings).into_sql_str())
    } else {
        let settings = session::settings_sql(&cfg.session);
        (
            target.options.clone(),
            sqlx::AssertSqlSafe(settings).into_sql_str(),
        )
    }
}

/// The migration connection, as start-up and `pgready migrate` make it: one connection,
/// retried for `[database] connect_retry`, refused through a transaction pooler (see
/// `pooler.rs`), `session.schema` created if absent, `[migrations]` limits set. Errors never
/// carry the DSN's password.
pub(crate) async fn migration_connection(
    target: &Target,
    cfg: &config::Config,
) -> Result<PgConnection, Error> {
    let mut conn = wait_until_ready(target, cfg.database.connect_retry).await?;
    let prepared = async {
        let pooled = pooler::shares_sessions(&mut conn, &target.options)
            .await
            .during("checking that the migration connection is not behind a transaction pooler")?;
        if pooled {
            return Err(Error::TransactionPooler {
                env: target.env.clone(),
                migrations_env: cfg
                    .database
                    .migrations_url_env
                    .clone()
                    .unwrap_or_else(|| "DATABASE_MIGRATIONS_URL".to_owned()),
                hint: if cfg.database.migrations_url_env.is_some() {
                    " (`[database] migrations_url_env`)"
                } else {
                    " and `[database] migrations_url_env = \"DATABASE_MIGRATIONS_URL\"` (it is \
                     `false` now)"
                },
            });
        }
        ensure_schema(&mut conn, &cfg.session.schema).await?;
        prepare_for_migrations(&mut conn, cfg).await
    }
    .await;
    match prepared {
        Ok(()) => Ok(conn),
        Err(e) => {
            close(conn).await;
            Err(target.scrub_error(e))
        }
    }
}

/// Turns a fresh connection into the migration connection: `[migrations]` limits, the app's
/// schema, and (PostgreSQL 14+) a periodic check that the client is still there, so a migrating
/// process that dies mid-statement has its statement cancelled and its lock released promptly.
async fn prepare_for_migrations(
    conn: &mut PgConnection,
    cfg: &config::Config,
) -> Result<(), Error> {
    let mut sql = session::migration_settings_sql(&cfg.migrations, &cfg.session);
    let version: i32 = sqlx::query_scalar("SELECT current_setting('server_version_num')::int")
        .fetch_one(&mut *conn)
        .await
        .during("reading the server version on the migration connection")?;
    if version >= 140000 {
        sql.push_str("SET client_connection_check_interval = 1000;\n");
    }
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut *conn)
        .await
        .during("applying the `[migrations]` limits and the session's `search_path` to the migration connection")?;
    Ok(())
}

/// Closes a connection politely, ignoring a peer that is already gone.
pub(crate) async fn close(conn: PgConnection) {
    if let Err(e) = conn.close().await {
        tracing::debug!("closing a connection: {e}");
    }
}
