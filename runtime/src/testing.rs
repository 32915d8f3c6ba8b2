//! `#[pgready::test]`: a database per test, cloned from a template migrated once.
//!
//! The template is named after the crate and a hash of the migrations' checksums (and the
//! schema and migrations table), built once under an advisory lock by whichever test process
//! gets there first, and reused by every later test, process and run; a changed migration makes
//! a new template and the crate's old ones are dropped. Each test gets
//! `CREATE DATABASE … TEMPLATE …`, which costs milliseconds instead of replaying every
//! migration as `#[sqlx::test]` does.
//!
//! The server: `PGREADY_TEST_URL`, else `DATABASE_URL`, else the shared embedded cluster in
//! `$TMPDIR/pgready-test-cluster`, started by the first test process and left running for the
//! next run (every test process of a run uses the same one, also under `cargo nextest`).
//!
//! A passing test's database is dropped. A failing test's database is kept, commented, and its
//! name printed; the next run of the same test drops it. Databases left by test processes that
//! died are dropped by the next test that starts.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU32, Ordering};

use futures_util::FutureExt;
use pgready_core::{config, dsn, migrations};
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};

use crate::embedded::Cluster;
use crate::start::join;
use crate::{Db, Error, Setup};

/// Where `#[pgready::test]` looks for a server before starting the shared embedded cluster.
pub const TEST_URL_ENV: &str = "PGREADY_TEST_URL";

const TEMPLATE_PREFIX: &str = "pgready_tpl_";
const TEST_PREFIX: &str = "pgready_t_";
/// One advisory lock per server for building templates and cleaning up (an arbitrary constant).
const LOCK_ID: i64 = 0x7067_7265_6164_7931;

/// `server URL + template` pairs this process has already prepared.
static PREPARED: std::sync::Mutex<std::collections::BTreeSet<String>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

/// What a test function returned: `()` passes; `Result` passes when `Ok`.
pub trait TestOutcome {
    /// Whether the test failed without panicking.
    fn failed(&self) -> bool;
}

impl TestOutcome for () {
    fn failed(&self) -> bool {
        false
    }
}

impl<T, E> TestOutcome for Result<T, E> {
    fn failed(&self) -> bool {
        self.is_err()
    }
}

/// The shared embedded cluster the tests of every process use when no server is given.
pub fn shared_cluster() -> Result<Cluster, Error> {
    Ok(Cluster::shared(
        &std::env::temp_dir().join("pgready-test-cluster"),
    )?)
}

/// The body of a `#[pgready::test]` function.
pub fn run_test<F, Fut, T>(setup: Setup, test: &str, body: F) -> T
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = T>,
    T: TestOutcome,
{
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => panic!("pgready::test: cannot build a tokio runtime: {e}"),
    };
    let database = match runtime.block_on(TestDatabase::create(&setup, test)) {
        Ok(database) => database,
        Err(e) => panic!("pgready::test: cannot prepare a database for `{test}`: {e}"),
    };
    let mut setup = setup.var(&database.url_env, Some(&database.url));
    setup.for_tests = true;
    setup.template_clone = true;
    let db = match runtime.block_on(crate::start(&setup)) {
        Ok(db) => db,
        Err(e) => panic!(
            "pgready::test: cannot start `{test}` on `{}`: {e}",
            database.name
        ),
    };
    let outcome = runtime.block_on(async {
        let outcome = AssertUnwindSafe(body(db.clone())).catch_unwind().await;
        db.close().await;
        outcome
    });
    drop(db);
    let failed = outcome.as_ref().map_or(true, TestOutcome::failed);
    let finished = if failed {
        runtime.block_on(database.keep(test))
    } else {
        runtime.block_on(database.drop())
    };
    if let Err(e) = finished {
        eprintln!("pgready::test: {e}");
    }
    match outcome {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// A test's own database on the test server.
struct TestDatabase {
    /// Creates, then drops or keeps, the database: one connection for both.
    admin: PgConnection,
    url_env: String,
    name: String,
    url: String,
}

impl TestDatabase {
    async fn create(setup: &Setup, test: &str) -> Result<TestDatabase, Error> {
        let file = config::parse(setup.config_source, setup.crate_name)
            .map_err(|d| Error::Config(format!("pgready.toml: {}", join(&d))))?
            .file;
        let cfg = file
            .profile(config::DEFAULT_PROFILE)
            .map_err(|d| Error::Config(d.to_string()))?;
        let admin_url = server_url(setup, &cfg.database.url_env)?;
        let template = template_name(setup, &cfg)?;
        let test_hash = short_hash(test.as_bytes());
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "{TEST_PREFIX}{}_{}_{test_hash}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );

        let mut admin = connect(&admin_url).await?;
        let created = async {
            // Template and leftovers once per process and server; every later test of the
            // process only copies the template.
            let key = format!("{admin_url}\n{template}");
            let mut prepared = PREPARED.lock().is_ok_and(|done| done.contains(&key));
            loop {
                if !prepared {
                    lock(&mut admin).await?;
                    let ready = async {
                        clean_up(&mut admin).await?;
                        ensure_template(&mut admin, setup, &cfg, &admin_url, &template).await
                    }
                    .await;
                    unlock(&mut admin).await?;
                    ready?;
                    if let Ok(mut done) = PREPARED.lock() {
                        done.insert(key.clone());
                    }
                }
                drop_kept(&mut admin, &test_hash).await?;
                let copy = format!(
                    "CREATE DATABASE {} TEMPLATE {}",
                    quote(&name),
                    quote(&template)
                );
                match admin.execute(AssertSqlSafe(copy)).await {
                    Ok(_) => return Ok::<_, Error>(()),
                    // Another process replaced the template (a migration was edited meanwhile).
                    Err(_) if prepared => prepared = false,
                    Err(e) => return Err(e.into()),
                }
            }
        }
        .await;
        if let Err(e) = created {
            admin.close().await.ok();
            return Err(e);
        }
        let url = dsn::with_database(&admin_url, &name);
        Ok(TestDatabase {
            admin,
            url_env: cfg.database.url_env,
            name,
            url,
        })
    }

    async fn drop(mut self) -> Result<(), Error> {
        drop_database(&mut self.admin, &self.name).await?;
        self.admin.close().await.ok();
        Ok(())
    }

    async fn keep(mut self, test: &str) -> Result<(), Error> {
        self.admin
            .execute(AssertSqlSafe(format!(
                "COMMENT ON DATABASE {} IS {}",
                quote(&self.name),
                crate::session::literal(&format!("pgready: kept after `{test}` failed"))
            )))
            .await?;
        self.admin.close().await.ok();
        eprintln!(
            "pgready::test: `{test}` failed; its database `{}` is kept for inspection: {}",
            self.name,
            dsn::redact(&self.url)
        );
        Ok(())
    }
}

/// `PGREADY_TEST_URL`, else the config's DSN variable, else the shared embedded cluster.
fn server_url(setup: &Setup, url_env: &str) -> Result<String, Error> {
    if let Some(url) = setup.lookup(TEST_URL_ENV).or_else(|| setup.lookup(url_env)) {
        return Ok(url);
    }
    let cluster = shared_cluster()?;
    Ok(cluster.url("postgres"))
}

/// `pgready_tpl_<crate>_<hash of what the template holds>`, ≤ 63 bytes.
fn template_name(setup: &Setup, cfg: &config::Config) -> Result<String, Error> {
    let list =
        migrations::from_files(setup.migrations.iter().map(|f| (f.name, f.sql))).map_err(|e| {
            Error::Migrate {
                file: String::new(),
                message: join(&e),
            }
        })?;
    let mut key = format!("{}\n{}\n", cfg.session.schema, cfg.migrations.table).into_bytes();
    for m in &list {
        key.extend_from_slice(m.file_name.as_bytes());
        key.extend_from_slice(&m.checksum);
    }
    Ok(format!(
        "{TEMPLATE_PREFIX}{}_{}",
        crate_part(setup.crate_name),
        short_hash(&key)
    ))
}

fn crate_part(crate_name: &str) -> String {
    crate_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(24)
        .collect()
}

fn short_hash(bytes: &[u8]) -> String {
    migrations::checksum(bytes)
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Builds the template unless it exists; drops the crate's older templates. Under the lock.
async fn ensure_template(
    admin: &mut PgConnection,
    setup: &Setup,
    cfg: &config::Config,
    admin_url: &str,
    template: &str,
) -> Result<(), Error> {
    if exists(admin, template).await? {
        return Ok(());
    }
    let building = format!("{template}_new");
    admin
        .execute(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote(&building)
        )))
        .await?;
    admin
        .execute(AssertSqlSafe(format!(
            "CREATE DATABASE {}",
            quote(&building)
        )))
        .await?;
    let mut build = setup.clone().var(
        &cfg.database.url_env,
        Some(&dsn::with_database(admin_url, &building)),
    );
    build.for_tests = true;
    let db = crate::start(&build).await?;
    db.close().await;
    drop(db);
    admin
        .execute(AssertSqlSafe(format!(
            "ALTER DATABASE {} RENAME TO {}",
            quote(&building),
            quote(template)
        )))
        .await?;
    let prefix = template
        .rsplit_once('_')
        .map_or(template, |(prefix, _)| prefix);
    let old: Vec<String> = sqlx::query_scalar(
        "SELECT datname::text FROM pg_database WHERE starts_with(datname, $1) AND datname <> $2",
    )
    .bind(format!("{prefix}_"))
    .bind(template)
    .fetch_all(&mut *admin)
    .await?;
    for name in old.iter().filter(|n| n.len() == template.len()) {
        admin
            .execute(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                quote(name)
            )))
            .await?;
        tracing::info!(template = %name, "dropped an outdated test template");
    }
    Ok(())
}

/// Drops test databases whose process is gone (crashed runs), kept ones excepted.
async fn clean_up(admin: &mut PgConnection) -> Result<(), Error> {
    for (name, kept, _) in test_databases(admin).await? {
        let pid: Option<u32> = name[TEST_PREFIX.len()..]
            .split('_')
            .next()
            .and_then(|p| p.parse().ok());
        let gone = pid.is_some_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists());
        if gone && !kept {
            drop_database(admin, &name).await?;
        }
    }
    Ok(())
}

/// Drops the databases kept after earlier failures of this test: this run replaces them.
async fn drop_kept(admin: &mut PgConnection, test_hash: &str) -> Result<(), Error> {
    for (name, kept, hash) in test_databases(admin).await? {
        if kept && hash == test_hash {
            drop_database(admin, &name).await?;
        }
    }
    Ok(())
}

/// Every `pgready_t_<pid>_<n>_<test hash>` database: name, whether kept, test hash.
async fn test_databases(admin: &mut PgConnection) -> Result<Vec<(String, bool, String)>, Error> {
    let rows: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT datname::text, shobj_description(oid, 'pg_database') FROM pg_database \
         WHERE starts_with(datname, $1)",
    )
    .bind(TEST_PREFIX)
    .fetch_all(&mut *admin)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(name, comment)| {
            let hash = name.rsplit('_').next().unwrap_or_default().to_owned();
            let kept = comment.is_some_and(|c| c.starts_with("pgready: kept"));
            (name, kept, hash)
        })
        .collect())
}

async fn drop_database(admin: &mut PgConnection, name: &str) -> Result<(), Error> {
    admin
        .execute(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote(name)
        )))
        .await?;
    Ok(())
}

async fn exists(admin: &mut PgConnection, name: &str) -> Result<bool, Error> {
    Ok(
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(name)
            .fetch_one(&mut *admin)
            .await?,
    )
}

async fn connect(url: &str) -> Result<PgConnection, Error> {
    PgConnection::connect(url)
        .await
        .map_err(|e| Error::Connect {
            target: dsn::redact(url),
            attempts: 1,
            elapsed: std::time::Duration::ZERO,
            message: dsn::redact_in(&e.to_string(), url),
        })
}

async fn lock(admin: &mut PgConnection) -> Result<(), Error> {
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(LOCK_ID)
        .execute(&mut *admin)
        .await?;
    Ok(())
}

async fn unlock(admin: &mut PgConnection) -> Result<(), Error> {
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(LOCK_ID)
        .execute(&mut *admin)
        .await?;
    Ok(())
}

fn quote(name: &str) -> String {
    crate::session::identifier(name)
}
