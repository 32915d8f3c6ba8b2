//! Start-up: from the embedded config and migrations to a ready [`Db`], and the `main` runner
//! that `#[migrated_pool]` expands to.

use std::future::Future;

use pgready_core::config::{self, Embedded, ReadFallback};

use crate::connect::{self, Target};
use crate::embedded::Cluster;
use crate::error::{describe, lines};
use crate::migrate::{EmbeddedFile, Migrator};
use crate::pool::Role;
use crate::pooler;
use crate::replica::Replica;
use crate::stop;
use crate::{Db, Error};
use sqlx::Connection as _;
use sqlx::postgres::PgConnection;

/// Everything start-up needs: the config text and migrations the macro embedded, and where to
/// read the environment from.
///
/// `#[migrated_pool]` builds one and runs [`start`] with it; a service that builds its own
/// runtime does the same (the config text and files are usually `include_str!`ed):
///
/// ```no_run
/// # async fn f() -> Result<(), pgready::Error> {
/// use pgready::migrate::EmbeddedFile;
///
/// static MIGRATIONS: [EmbeddedFile; 1] = [EmbeddedFile {
///     name: "20250101000000_items.sql",
///     sql: "CREATE TABLE items (id bigserial PRIMARY KEY, name text NOT NULL);",
/// }];
/// let setup = pgready::Setup::new("[pool]\nmax_connections = 8\n", "my-service", &MIGRATIONS);
/// let db = pgready::start(&setup).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Setup {
    /// `pgready.toml`'s text.
    pub config_source: &'static str,
    /// The crate name, the default `application_name`.
    pub crate_name: &'static str,
    /// The migration files.
    pub migrations: &'static [EmbeddedFile],
    /// Environment overrides consulted before the process environment (`None` = unset).
    env: Vec<(String, Option<String>)>,
    purpose: Purpose,
}

/// What a start-up is for: a service, or one of `#[pgready::test]`'s databases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// Pools as configured, migrations as `[migrations] on_startup` says.
    Service,
    /// `#[pgready::test]` migrating its template: pools keep no idle connections
    /// (`min_connections = 0`), so a test opens only the connections it uses (plus the one
    /// that checks the DSN).
    TestTemplate,
    /// `#[pgready::test]` on a copy of its migrated template: as `TestTemplate`, and the schema
    /// and the migrations were checked when the template was built, so start-up skips the
    /// migration connection.
    TestCopy,
    /// `#[pgready::test]` in transaction mode, on the database shared by such tests (a copy of
    /// the template): as `TestCopy`, and the write pool is one connection inside the test's
    /// transaction; reads go to it too (no replica).
    TestTransaction,
}

impl Setup {
    /// A setup reading the process environment.
    pub fn new(
        config_source: &'static str,
        crate_name: &'static str,
        migrations: &'static [EmbeddedFile],
    ) -> Setup {
        Setup {
            config_source,
            crate_name,
            migrations,
            env: Vec::new(),
            purpose: Purpose::Service,
        }
    }

    /// Overrides one environment variable for this start-up only (`None` = treat as unset).
    pub fn var(mut self, key: &str, value: Option<&str>) -> Setup {
        self.env.push((key.to_owned(), value.map(str::to_owned)));
        self
    }

    /// The same setup, started for `purpose` (`#[pgready::test]`'s databases).
    pub(crate) fn purpose(mut self, purpose: Purpose) -> Setup {
        self.purpose = purpose;
        self
    }

    /// The profile chosen by `PGREADY_PROFILE` (default `development`) and its configuration:
    /// what start-up runs with, and what `#[pgready::test]` builds its template with.
    pub(crate) fn config(&self) -> Result<(String, config::Config), Error> {
        let file = config::parse(self.config_source, self.crate_name)
            .map_err(|diagnostics| Error::Config(format!("pgready.toml: {}", lines(&diagnostics))))?
            .file;
        let profile = self
            .lookup(config::PROFILE_ENV)
            .unwrap_or_else(|| config::DEFAULT_PROFILE.to_owned());
        let cfg = file
            .profile(&profile)
            .map_err(|d| Error::Config(d.to_string()))?;
        Ok((profile, cfg))
    }

    pub(crate) fn lookup(&self, key: &str) -> Option<String> {
        match self.env.iter().rev().find(|(k, _)| k == key) {
            Some((_, value)) => value.clone(),
            None => std::env::var(key).ok(),
        }
        .filter(|v| !v.is_empty())
    }
}

/// Connects, applies session settings and migrations, and returns the ready [`Db`].
///
/// This is what `#[migrated_pool]` runs before `main`'s body; it is public for services that
/// build their own runtime.
pub async fn start(setup: &Setup) -> Result<Db, Error> {
    let (profile, cfg) = setup.config()?;
    let migrator = Migrator::from_embedded(setup.migrations, &cfg.migrations)?;

    let (url, embedded) = match setup.lookup(&cfg.database.url_env) {
        Some(url) => (url, None),
        None => {
            let cluster = embedded_cluster(&cfg, &profile).await?;
            (cluster.url("postgres"), Some(cluster))
        }
    };
    let target = Target::parse(
        &cfg.database.url_env,
        &url,
        &cfg.database,
        &cfg.session.application_name,
    )?;

    // Migrations take the direct DSN when there is one: behind a transaction pooler they
    // must (`[database] migrations_url_env`).
    let migration_target = match (&embedded, &cfg.database.migrations_url_env) {
        (None, Some(env)) => match setup.lookup(env) {
            Some(url) => Target::parse(env, &url, &cfg.database, &cfg.session.application_name)?,
            None => target.clone(),
        },
        _ => target.clone(),
    };
    let migrations = if matches!(setup.purpose, Purpose::TestCopy | Purpose::TestTransaction) {
        migrator.assumed_applied()
    } else {
        match connect::migration_connection(&migration_target, &cfg).await {
            Ok(mut conn) => {
                let span = crate::spans::migrate(&migration_target.options);
                let done =
                    tracing::Instrument::instrument(migrator.on_startup(&mut conn), span).await;
                connect::close(conn).await;
                done.map_err(|e| migration_target.scrub_error(e))?
            }
            // Nothing to migrate: the pooler only keeps `session.schema` from being created.
            Err(Error::TransactionPooler { env, .. })
                if cfg.migrations.on_startup == config::OnStartup::Off =>
            {
                tracing::info!(
                    "`{env}` reaches the server through a transaction pooler and \
                     `[migrations] on_startup = \"off\"`: no migration connection"
                );
                crate::migrate::MigrationState::default()
            }
            Err(e) => return Err(e),
        }
    };

    // A test's pools would otherwise open `min_connections` (5 by default) before the test
    // runs, each with a SCRAM handshake, and its database could not be dropped until all of
    // their server processes had exited.
    let (write_limits, read_limits) = if setup.purpose == Purpose::Service {
        (cfg.pool.clone(), cfg.read_pool.clone())
    } else {
        let idle_free = |limits: &config::Pool| config::Pool {
            min_connections: 0,
            ..limits.clone()
        };
        (idle_free(&cfg.pool), idle_free(&cfg.read_pool))
    };
    let in_test_transaction = setup.purpose == Purpose::TestTransaction;
    let write = if in_test_transaction {
        connect::test_transaction_pool(&target, &write_limits, &cfg).await?
    } else {
        connect::pool(&target, &write_limits, &cfg, Role::Write).await?
    };
    let read = match &cfg.database.read_url_env {
        // A test's transaction has one connection: reads run on it.
        _ if in_test_transaction => None,
        Some(env) => match setup.lookup(env) {
            Some(url) => Some(replica(env, &url, &read_limits, &cfg).await?),
            None => None,
        },
        None => None,
    };
    if cfg.database.pgbouncer {
        pooler::check_role_settings(&write, &cfg.session).await;
    }
    tracing::info!(
        profile,
        target = %target.redacted,
        migrations_applied = migrations.applied,
        replica = read.is_some(),
        reads_from_replica = read.as_ref().is_some_and(Replica::serving),
        "database ready"
    );
    let db = Db::new(write, read, cfg, profile, migrations, migrator, embedded);
    // Here rather than in `Db::new`: `metrics` reads the `Db`, so `db` may not call it.
    #[cfg(feature = "metrics")]
    crate::metrics::spawn_publisher(&db);
    Ok(db)
}

/// The read replica's pool. With `read_fallback = "error"` the replica must answer (retried for
/// `[database] connect_retry`, as the primary); with `"primary"` one attempt within
/// `[health] timeout` decides whether reads start on it or on the primary, and a watcher moves
/// them from then on.
async fn replica(
    env: &str,
    url: &str,
    limits: &config::Pool,
    cfg: &config::Config,
) -> Result<Replica, Error> {
    let target = Target::parse(env, url, &cfg.database, &cfg.session.application_name)?;
    let fallback = cfg.database.read_fallback;
    let replica = match fallback {
        ReadFallback::Error => {
            let conn = connect::wait_until_ready(&target, cfg.database.connect_retry).await?;
            connect::close(conn).await;
            let pool = connect::pool(&target, limits, cfg, Role::Read).await?;
            Replica::new(pool, fallback, true)
        }
        ReadFallback::Primary => {
            let attempt = tokio::time::timeout(
                cfg.health.timeout,
                PgConnection::connect_with(&target.options),
            )
            .await;
            let unreachable = match attempt {
                Ok(Ok(conn)) => {
                    connect::close(conn).await;
                    None
                }
                // A wrong password or database: waiting would not fix it.
                Ok(Err(e)) if !connect::is_transient(&e) => return Err(target.connect_error(&e)),
                Ok(Err(e)) => Some(target.scrub(&describe(&e))),
                Err(_) => Some(format!(
                    "no answer within `[health] timeout = {:?}`",
                    cfg.health.timeout
                )),
            };
            let pool = match unreachable {
                None => connect::pool(&target, limits, cfg, Role::Read).await,
                Some(_) => connect::pool_later(&target, limits, cfg, Role::Read).await,
            };
            match (pool, unreachable) {
                (Ok(pool), None) => Replica::new(pool, fallback, true),
                (Ok(pool), Some(why)) => {
                    tracing::warn!(
                        target = %target.redacted,
                        "read replica unreachable at start-up ({why}): reads go to the primary \
                         until it answers"
                    );
                    Replica::new(pool, fallback, false)
                }
                // It answered a moment ago: gone again, or refusing the pool's session batch.
                (Err(e), _) => return Err(e),
            }
        }
    };
    replica.watch(&cfg.health);
    Ok(replica)
}

async fn embedded_cluster(cfg: &config::Config, profile: &str) -> Result<Cluster, Error> {
    let env = cfg.database.url_env.clone();
    if cfg.database.embedded == Embedded::Never {
        return Err(Error::MissingDsn {
            env,
            hint: " (`[database] embedded = \"never\"`)",
        });
    }
    if profile == "production" {
        return Err(Error::MissingDsn {
            env,
            hint: " (the embedded development database is never used in production)",
        });
    }
    let cluster = tokio::task::spawn_blocking(Cluster::start_temporary)
        .await
        .map_err(|e| Error::Config(format!("embedded PostgreSQL start-up task failed: {e}")))??;
    tracing::info!(
        port = cluster.port(),
        data_dir = %cluster.data_dir().display(),
        "`{env}` is not set: started an embedded PostgreSQL for development; its data is \
         thrown away when the process exits"
    );
    Ok(cluster)
}

/// The body of the `main` that `#[migrated_pool]` generates: builds a multi-threaded tokio
/// runtime, starts the database, runs the user's body with the [`Db`], then closes the pools
/// (and stops the embedded cluster, if one was started).
///
/// A failure before the body runs prints one error line (password redacted) and exits with
/// status 1.
///
/// On SIGTERM or SIGINT (Ctrl-C): readiness endpoints answer 503 at once; after `[shutdown]
/// drain`, [`Db::shutdown_signal`] resolves and the body gets `[shutdown] grace` to return;
/// then the pools close within what is left of `grace`, the embedded cluster stops, and the
/// process exits with the body's value, or status 0 when the body was still running at the
/// bound. A body that never asked for the signal is dropped when the drain ends, and a second
/// signal drops the body at once: both exit with 128 + the signal's number (130 for SIGINT,
/// 143 for SIGTERM).
pub fn run<F, Fut, T>(setup: Setup, body: F) -> T
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = T>,
{
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => exit_with(&format!("cannot build the tokio runtime: {e}")),
    };
    let db = match runtime.block_on(start(&setup)) {
        Ok(db) => db,
        Err(e) => exit_with(&e.to_string()),
    };
    let embedded = db.take_embedded();
    let (ended, deadline) = runtime.block_on(async {
        let (ended, deadline) = stop::run(&db, body(db.clone())).await;
        match deadline {
            None => db.close().await,
            Some(deadline) => db.close_within(stop::remaining(deadline)).await,
        }
        (ended, deadline)
    });
    let since = db.shutdown_phase().since();
    drop(db);
    match deadline {
        // Tasks still running (a request past the bound) are dropped; blocking ones get what
        // is left of the bound.
        Some(deadline) => runtime.shutdown_timeout(stop::remaining(deadline)),
        None => drop(runtime),
    }
    if let Some(since) = since {
        tracing::info!(took = ?since.elapsed(), "shut down: requests ended, pools closed");
    }
    if let Some(cluster) = embedded {
        let stopping = std::time::Instant::now();
        drop(cluster);
        tracing::info!(took = ?stopping.elapsed(), "embedded PostgreSQL stopped and removed");
    }
    match ended {
        stop::Ended::Returned(output) | stop::Ended::ReturnedAfterSignal(output) => output,
        stop::Ended::Cut => std::process::exit(0),
        stop::Ended::Interrupted(signal) | stop::Ended::Forced(signal) => {
            std::process::exit(signal.exit_code())
        }
    }
}

fn exit_with(message: &str) -> ! {
    eprintln!("error: pgready could not start: {message}");
    std::process::exit(1)
}

/// A `RUST_LOG`-driven (default `info`) subscriber, unless the process already has one.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .try_init();
}
