//! Support for pgready's integration tests: one real PostgreSQL server shared by every test
//! process of a run (nextest runs one process per test), a fresh database per test, the sqlx
//! histories under `fixtures/`, and a primary with a replica and PgBouncer ([`topology`]).

pub mod faults;
pub mod forwarder;
pub mod sqlx_histories;
pub mod tls;
pub mod topology;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use pgready::embedded::Cluster;
use sqlx::{Connection, Executor};

/// The shared test cluster, started (or reused) once per process.
///
/// It lives in the temp dir and stays up after the run, so the next run reuses it; the
/// embedded cluster's own code starts it, as an unprivileged user when run as root. The same
/// cluster as `#[pgready::test]`'s, with its test settings (no fsync).
pub fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let dir = std::env::temp_dir().join("pgready-test-cluster");
        match Cluster::shared_for_tests(&dir) {
            Ok(cluster) => cluster,
            Err(e) => panic!(
                "cannot start the shared test cluster in {}: {e}",
                dir.display()
            ),
        }
    })
}

/// A DSN for `database` on the shared cluster.
pub fn url(database: &str) -> String {
    cluster().url(database)
}

/// Creates an empty database named after `label` and returns its DSN.
pub async fn fresh_database(label: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "t_{label}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let mut admin = sqlx::PgConnection::connect(&url("postgres"))
        .await
        .expect("connect as admin");
    static CLEANED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !CLEANED.swap(true, Ordering::Relaxed) {
        drop_leftovers(&mut admin).await;
    }
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .await
        .expect("create test database");
    admin.close().await.ok();
    url(&name)
}

/// Drops the databases of earlier test processes that have exited (`t_<pid>_…`).
async fn drop_leftovers(admin: &mut sqlx::PgConnection) {
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname::text FROM pg_database WHERE datname LIKE 't\\_%'")
            .fetch_all(&mut *admin)
            .await
            .unwrap_or_default();
    for name in names {
        let pid = name
            .split('_')
            .rev()
            .nth(1)
            .and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists()) {
            let drop = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
            let _ = admin.execute(sqlx::AssertSqlSafe(drop)).await;
        }
    }
}

/// `pg_dump --schema-only --no-owner` of the database at `url` on the shared cluster, with the
/// cluster's own `pg_dump` (found as its server binaries are) and without the random
/// `\restrict` keys newer `pg_dump`s write, so two dumps of equal schemas are equal text.
pub fn schema_dump(url: &str) -> String {
    let cluster = cluster();
    let database = url.rsplit('/').next().expect("a database in the url");
    let binaries = pgready::embedded::Binaries::discover().expect("the PostgreSQL binaries");
    let pg_dump = binaries.pg_dump().unwrap_or_else(|| {
        panic!(
            "no `pg_dump` in {}: install PostgreSQL's client binaries",
            binaries.dir().display()
        )
    });
    let out = std::process::Command::new(&pg_dump)
        .args(["--schema-only", "--no-owner", "--host", "127.0.0.1"])
        .arg(format!("--port={}", cluster.port()))
        .arg(format!("--username={}", cluster.superuser()))
        .arg(format!("--dbname={database}"))
        .env("PGPASSWORD", cluster.password())
        .env_remove("PGSERVICE")
        .output()
        .expect("run pg_dump");
    assert!(
        out.status.success(),
        "pg_dump {database}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8 dump")
        .lines()
        .filter(|line| !line.starts_with("\\restrict") && !line.starts_with("\\unrestrict"))
        .map(|line| format!("{line}\n"))
        .collect()
}

/// `migrations/` at the workspace root: the demo schema.
pub fn demo_migrations_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../migrations")
}

/// The demo migrations, embedded as `#[migrated_pool]` embeds them.
pub fn demo_migrations() -> &'static [pgready::__private::EmbeddedFile] {
    static FILES: OnceLock<Vec<pgready::__private::EmbeddedFile>> = OnceLock::new();
    FILES.get_or_init(|| {
        let mut files: Vec<_> = std::fs::read_dir(demo_migrations_dir())
            .expect("read migrations/")
            .map(|entry| {
                let path = entry.expect("dir entry").path();
                let name = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .expect("utf-8 name")
                    .to_owned();
                let sql = std::fs::read_to_string(&path).expect("read migration");
                pgready::__private::EmbeddedFile {
                    name: Box::leak(name.into_boxed_str()),
                    sql: Box::leak(sql.into_boxed_str()),
                }
            })
            .collect();
        files.sort_by_key(|f| f.name);
        files
    })
}

/// A [`pgready::Setup`] for `config` (TOML text) against `database_url`, environment isolated
/// from the process's own `DATABASE_URL` and profile.
pub fn setup(config: &str, database_url: &str) -> pgready::Setup {
    pgready::Setup::new(
        Box::leak(config.to_owned().into_boxed_str()),
        "pgready-tests",
        demo_migrations(),
    )
    .var("DATABASE_URL", Some(database_url))
    .var("DATABASE_READ_URL", None)
    .var("DATABASE_MIGRATIONS_URL", None)
    .var("PGREADY_PROFILE", None)
}

/// Everything a `tracing_subscriber::fmt` subscriber writes, kept for the test to read: pass a
/// clone to `.with_writer(…)`.
#[derive(Clone, Default)]
pub struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Captured {
    /// What was written so far, emptied.
    pub fn take(&self) -> String {
        String::from_utf8_lossy(&std::mem::take(&mut *self.lock())).into_owned()
    }

    /// What was written so far, kept.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.lock()).into_owned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.lock().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}
