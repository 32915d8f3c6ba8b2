//! The migrator against real PostgreSQL: sqlx interop both ways, exactly-once under
//! concurrency, failures that roll back and name the line, crashes that leave nothing behind.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use pgready::__private::EmbeddedFile;
use pgready_tests::{demo_migrations_dir, fresh_database, setup};
use sqlx::Connection;

async fn connect(url: &str) -> sqlx::PgConnection {
    sqlx::PgConnection::connect(url).await.expect("connect")
}

fn fixture_dir(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pgready-fixture-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (file, sql) in files {
        std::fs::write(dir.join(file), sql).unwrap();
    }
    dir
}

fn runner(dir: &Path, url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_migrate_runner"));
    cmd.env("MIGRATIONS_DIR", dir)
        .env("DATABASE_URL", url)
        .env_remove("PGREADY_PROFILE");
    cmd
}

#[tokio::test]
async fn what_pgready_applied_sqlx_sees_as_applied() {
    let url = fresh_database("to_sqlx").await;
    let db = pgready::start(&setup("", &url))
        .await
        .expect("pgready applies");
    db.close().await;

    let migrator = sqlx::migrate::Migrator::new(demo_migrations_dir())
        .await
        .unwrap();
    let mut conn = connect(&url).await;
    // sqlx validates every applied checksum against its own and applies nothing new.
    migrator
        .run(&mut conn)
        .await
        .expect("sqlx agrees with pgready");
    let rows: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT version, checksum FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    let expected: Vec<(i64, Vec<u8>)> = migrator
        .iter()
        .map(|m| (m.version, m.checksum.to_vec()))
        .collect();
    assert_eq!(rows, expected);
}

#[tokio::test]
async fn what_sqlx_applied_pgready_sees_as_applied() {
    let url = fresh_database("from_sqlx").await;
    let migrator = sqlx::migrate::Migrator::new(demo_migrations_dir())
        .await
        .unwrap();
    let mut conn = connect(&url).await;
    migrator.run(&mut conn).await.unwrap();
    conn.close().await.unwrap();

    let db = pgready::start(&setup("[migrations]\non_startup = \"verify\"\n", &url))
        .await
        .expect("verify accepts sqlx's rows");
    assert_eq!(db.migrations().applied, migrator.iter().count());
    db.close().await;
}

#[tokio::test]
async fn eight_processes_at_once_apply_each_migration_exactly_once() {
    let url = fresh_database("eight").await;
    // Not idempotent on purpose: a second apply would insert a second row.
    let dir = fixture_dir(
        "eight",
        &[
            (
                "1_create_log.sql",
                "CREATE TABLE applied_log (version int);",
            ),
            (
                "2_first.sql",
                "INSERT INTO applied_log VALUES (2); SELECT pg_sleep(0.2);",
            ),
            ("3_second.sql", "INSERT INTO applied_log VALUES (3);"),
        ],
    );
    let children: Vec<_> = (0..8)
        .map(|_| {
            runner(&dir, &url)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(stdout.contains("MIGRATED 3"), "{stdout}");
    }
    let mut conn = connect(&url).await;
    let log: Vec<i32> = sqlx::query_scalar("SELECT version FROM applied_log ORDER BY version")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(log, [2, 3], "each migration ran once");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(rows, 3);
    std::fs::remove_dir_all(dir).ok();
}

static OK: EmbeddedFile = EmbeddedFile {
    name: "1_ok.sql",
    sql: "CREATE TABLE first (id int);",
};
static BROKEN: [EmbeddedFile; 2] = [
    OK,
    EmbeddedFile {
        name: "2_broken.sql",
        sql: "CREATE TABLE second (id int);\nINSERT INTO second\n  SELECT id FROM no_such_table;\n",
    },
];
static FIXED: [EmbeddedFile; 2] = [
    OK,
    EmbeddedFile {
        name: "2_broken.sql",
        sql: "CREATE TABLE second (id int);\nINSERT INTO second\n  SELECT id FROM first;\n",
    },
];

#[tokio::test]
async fn a_failing_migration_rolls_back_and_names_its_file_and_line() {
    let url = fresh_database("failing").await;
    let mut broken = setup("", &url);
    broken.migrations = &BROKEN;
    let err = pgready::start(&broken)
        .await
        .expect_err("the migration fails");
    let message = err.to_string();
    assert!(
        message.starts_with("migration 2_broken.sql:3: failed and was rolled back"),
        "{message}"
    );
    assert!(
        message.contains("no_such_table") && message.contains("SQLSTATE 42P01"),
        "{message}"
    );
    assert!(
        !message.contains("at line"),
        "no PostgreSQL source lines: {message}"
    );

    let mut conn = connect(&url).await;
    let second: Option<String> = sqlx::query_scalar("SELECT to_regclass('second')::text")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(second, None, "nothing of the failed file remains");
    let versions: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY 1")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(versions, [1], "no row for the failed migration");

    let mut fixed = setup("", &url);
    fixed.migrations = &FIXED;
    let db = pgready::start(&fixed)
        .await
        .expect("the fixed file applies");
    assert_eq!(db.migrations().applied, 2);
    db.close().await;
}

#[tokio::test]
async fn a_process_killed_mid_migration_leaves_no_partial_schema_and_no_lock() {
    let url = fresh_database("killed").await;
    // The sleep's length comes from the connection's options, so the same file (same checksum)
    // is slow for the first process and instant for the second.
    let dir = fixture_dir(
        "killed",
        &[(
            "1_slow.sql",
            "CREATE TABLE half_done (id int);\n\
             SELECT pg_sleep(coalesce(current_setting('pgready.test_sleep', true), '0')::float);\n",
        )],
    );
    let database = url.rsplit('/').next().unwrap().to_owned();
    let slow_url = format!("{url}?options=-c%20pgready.test_sleep%3D60");
    let mut child = runner(&dir, &slow_url)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();

    let mut conn = connect(&pgready_tests::url("postgres")).await;
    let started = Instant::now();
    loop {
        let sleeping: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND query LIKE '%pg_sleep%' AND state = 'active'",
        )
        .bind(&database)
        .fetch_one(&mut conn)
        .await
        .unwrap();
        if sleeping > 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the migration never started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let killed_at = Instant::now();
    let output = runner(&dir, &url).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("MIGRATED 1"));
    assert!(
        killed_at.elapsed() < Duration::from_secs(20),
        "the dead process's lock was released promptly, not after its 60 s statement ({:?})",
        killed_at.elapsed()
    );
    let mut db = connect(&url).await;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(rows, 1);
    let locks: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' \
         AND database = (SELECT oid FROM pg_database WHERE datname = $1)",
    )
    .bind(&database)
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(locks, 0, "no advisory lock is left behind");
    std::fs::remove_dir_all(dir).ok();
}

static NO_TRANSACTION: [EmbeddedFile; 2] = [
    EmbeddedFile {
        name: "1_events.sql",
        sql: "CREATE TABLE events (id bigint, kind text, at timestamptz);",
    },
    EmbeddedFile {
        name: "2_index_events.sql",
        sql: "-- pgready:no-transaction\n\
              CREATE INDEX CONCURRENTLY IF NOT EXISTS events_kind ON events (kind);\n\
              -- a comment; with a semicolon\n\
              CREATE INDEX CONCURRENTLY IF NOT EXISTS events_at ON events (at);\n",
    },
];

#[tokio::test]
async fn a_no_transaction_migration_runs_every_statement_on_its_own() {
    let url = fresh_database("no_tx").await;
    let mut with_indexes = setup("", &url);
    with_indexes.migrations = &NO_TRANSACTION;
    let db = pgready::start(&with_indexes)
        .await
        .expect("both CONCURRENTLY statements apply");
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT indexname::text FROM pg_indexes WHERE tablename = 'events' ORDER BY 1",
    )
    .fetch_all(db.read())
    .await
    .unwrap();
    assert_eq!(indexes, ["events_at", "events_kind"]);
    let recorded: bool =
        sqlx::query_scalar("SELECT success FROM _sqlx_migrations WHERE version = 2")
            .fetch_one(db.read())
            .await
            .unwrap();
    assert!(recorded);
    db.close().await;
}

static ONE_AND_THREE: [EmbeddedFile; 2] = [
    EmbeddedFile {
        name: "1_a.sql",
        sql: "CREATE TABLE a (id int);",
    },
    EmbeddedFile {
        name: "3_c.sql",
        sql: "CREATE TABLE c (id int);",
    },
];
static ONE_TWO_THREE: [EmbeddedFile; 3] = [
    EmbeddedFile {
        name: "1_a.sql",
        sql: "CREATE TABLE a (id int);",
    },
    EmbeddedFile {
        name: "2_b_merged_late.sql",
        sql: "CREATE TABLE b (id int);",
    },
    EmbeddedFile {
        name: "3_c.sql",
        sql: "CREATE TABLE c (id int);",
    },
];

#[tokio::test]
async fn an_out_of_order_migration_is_refused_unless_allowed() {
    let url = fresh_database("out_of_order").await;
    let mut first = setup("", &url);
    first.migrations = &ONE_AND_THREE;
    pgready::start(&first)
        .await
        .expect("1 and 3 apply")
        .close()
        .await;

    let mut late = setup("", &url);
    late.migrations = &ONE_TWO_THREE;
    let err = pgready::start(&late)
        .await
        .expect_err("2 is older than the applied 3");
    let message = err.to_string();
    assert!(
        message.starts_with("migration 2_b_merged_late.sql: is pending but older than version 3"),
        "{message}"
    );
    assert!(message.contains("out_of_order = \"apply\""), "{message}");

    let mut allowed = setup("[migrations]\nout_of_order = \"apply\"\n", &url);
    allowed.migrations = &ONE_TWO_THREE;
    let db = pgready::start(&allowed).await.expect("allowed: 2 applies");
    assert_eq!(db.migrations().applied, 3);
    db.close().await;
}

// Waiting for the migration lock: `pg_try_advisory_lock` polls, bounded by `[migrations]
// lock_wait`, never `lock_timeout`, and never holding a snapshot that would stall the holder.

/// Waits for `child` at most `bound`; kills it and returns `None` past that.
async fn output_within(mut child: Child, bound: Duration) -> Option<Output> {
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > bound {
            child.kill().ok();
            child.wait().ok();
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Some(child.wait_with_output().unwrap())
}

fn spawn_runners(n: usize, dir: &Path, url: &str, config: &str) -> Vec<Child> {
    (0..n)
        .map(|_| {
            runner(dir, url)
                .env("RUNNER_CONFIG", config)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect()
}

/// Every runner's stdout (its log and `MIGRATED <n>`), after checking that it started.
async fn all_started(children: Vec<Child>, bound: Duration, migrated: &str) -> Vec<String> {
    let mut logs = Vec::new();
    for child in children {
        let output = output_within(child, bound)
            .await
            .unwrap_or_else(|| panic!("an instance did not finish within {bound:?}"));
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(stdout.contains(migrated), "{stdout}");
        logs.push(stdout);
    }
    logs
}

async fn advisory_locks(conn: &mut sqlx::PgConnection) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .fetch_one(conn)
    .await
    .unwrap()
}

#[tokio::test]
async fn four_instances_start_behind_a_20_second_migration_and_apply_it_once() {
    let url = fresh_database("behind_long").await;
    let dir = fixture_dir(
        "behind_long",
        &[
            (
                "1_create_log.sql",
                "CREATE TABLE applied_log (version int);",
            ),
            (
                "2_long.sql",
                "INSERT INTO applied_log VALUES (2);\nSELECT pg_sleep(20);\n",
            ),
        ],
    );
    // A blocking `pg_advisory_lock` would be cancelled by this `lock_timeout` after 2 s.
    let config = "[database]\nconnect_retry = \"5s\"\n[migrations]\nlock_timeout = \"2s\"\n";
    let started = Instant::now();
    let children = spawn_runners(4, &dir, &url, config);
    let logs = all_started(children, Duration::from_secs(60), "MIGRATED 2").await;
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(20) && elapsed < Duration::from_secs(45),
        "the 4 instances waited for one 20 s migration side by side: {elapsed:?}"
    );

    let waiters: Vec<&String> = logs
        .iter()
        .filter(|log| log.contains("waiting for the migration lock, held by pid "))
        .collect();
    assert_eq!(waiters.len(), 3, "three instances waited: {logs:#?}");
    for log in &waiters {
        assert!(
            log.contains("got the migration lock after waiting"),
            "{log}"
        );
    }
    assert!(
        waiters
            .iter()
            .any(|log| log.contains("SELECT pg_sleep(20);` for")),
        "the log says what the holder runs: {waiters:#?}"
    );

    let mut conn = connect(&url).await;
    let log: Vec<i32> = sqlx::query_scalar("SELECT version FROM applied_log")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(log, [2], "the long migration ran once");
    let rows: Vec<(i64, bool)> =
        sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert_eq!(rows, [(1, true), (2, true)]);
    assert_eq!(
        advisory_locks(&mut conn).await,
        0,
        "every lock was released"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn create_index_concurrently_completes_while_other_instances_wait() {
    let url = fresh_database("cic_waiters").await;
    let dir = fixture_dir(
        "cic_waiters",
        &[
            (
                "1_events.sql",
                "CREATE TABLE events (id bigint, kind text);\n\
                 INSERT INTO events SELECT g, 'kind-' || (g % 10) FROM generate_series(1, 20000) g;\n",
            ),
            // The pause lets the other instances start waiting before the index build begins.
            (
                "2_index_events.sql",
                "-- pgready:no-transaction\n\
                 SELECT pg_sleep(3);\n\
                 CREATE INDEX CONCURRENTLY events_kind ON events (kind);\n",
            ),
        ],
    );
    // No `lock_timeout` at all: a waiter holding a snapshot (a blocking `pg_advisory_lock`)
    // would make `CREATE INDEX CONCURRENTLY` wait for it, and it for the index, forever.
    let config = "[database]\nconnect_retry = \"5s\"\n[migrations]\nlock_timeout = \"0\"\n";
    let children = spawn_runners(3, &dir, &url, config);
    let logs = all_started(children, Duration::from_secs(30), "MIGRATED 2").await;
    let waiters = logs
        .iter()
        .filter(|log| log.contains("waiting for the migration lock, held by pid "))
        .count();
    assert_eq!(
        waiters, 2,
        "two instances waited during the index build: {logs:#?}"
    );

    let mut conn = connect(&url).await;
    let valid: bool = sqlx::query_scalar(
        "SELECT indisvalid FROM pg_index WHERE indexrelid = 'events_kind'::regclass",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(valid, "the concurrent index build finished");
    assert_eq!(advisory_locks(&mut conn).await, 0);
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn an_instance_gives_up_after_lock_wait_naming_the_holder() {
    let url = fresh_database("lock_wait").await;
    let mut holder = connect(&url).await;
    let database: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&mut holder)
        .await
        .unwrap();
    let key = pgready_core::migrations::lock_id(&database);
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(key)
        .execute(&mut holder)
        .await
        .unwrap();
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut holder)
        .await
        .unwrap();

    let started = Instant::now();
    let err = pgready::start(&setup("[migrations]\nlock_wait = \"1s\"\n", &url))
        .await
        .expect_err("another session holds the lock");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(1) && elapsed < Duration::from_secs(10),
        "{elapsed:?}"
    );
    let message = err.to_string();
    match &err {
        pgready::Error::MigrationLock {
            database: locked,
            key: locked_key,
            holder_pid,
            waited,
            lock_wait,
            ..
        } => {
            assert_eq!(locked, &database);
            assert_eq!(*locked_key, key);
            assert_eq!(
                *holder_pid,
                Some(pid),
                "pg_locks names the holder: {message}"
            );
            assert!(*waited >= Duration::from_secs(1), "{waited:?}");
            assert_eq!(*lock_wait, Duration::from_secs(1));
        }
        other => panic!("expected Error::MigrationLock, got {other:?}"),
    }
    for part in [
        format!("database `{database}`"),
        format!("held by pid {pid}"),
        "idle for".to_owned(),
        "raise `[migrations] lock_wait`".to_owned(),
    ] {
        assert!(message.contains(&part), "`{part}` in: {message}");
    }
    assert!(!message.contains("at line"), "{message}");

    let created: Option<String> =
        sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations')::text")
            .fetch_one(&mut holder)
            .await
            .unwrap();
    assert_eq!(created, None, "nothing ran without the lock");
    let released: bool = sqlx::query_scalar("SELECT pg_advisory_unlock($1)")
        .bind(key)
        .fetch_one(&mut holder)
        .await
        .unwrap();
    assert!(released);
    assert_eq!(
        advisory_locks(&mut holder).await,
        0,
        "the waiter left no lock behind"
    );
    let db = pgready::start(&setup("[migrations]\nlock_wait = \"1s\"\n", &url))
        .await
        .expect("the lock is free again");
    db.close().await;
}

/// sqlx.toml's `create-schemas` + a qualified `table-name`, as `pgready init` copies them into
/// `[migrations]`: pgready creates the schema before its table, and sqlx configured the same
/// way agrees about every version.
#[tokio::test]
async fn create_schemas_and_a_qualified_table_as_sqlx_toml_sets_them() {
    let url = fresh_database("create_schemas").await;
    let config = "[migrations]\ncreate_schemas = [\"ops\"]\ntable = \"ops.history\"\n";
    let db = pgready::start(&setup(config, &url))
        .await
        .expect("pgready creates the schema, then its table in it");
    db.close().await;

    let mut migrator = sqlx::migrate::Migrator::new(demo_migrations_dir())
        .await
        .unwrap();
    migrator.dangerous_set_table_name("ops.history");
    migrator.create_schema("ops");
    let mut conn = connect(&url).await;
    migrator
        .run(&mut conn)
        .await
        .expect("sqlx agrees with pgready");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM ops.history")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let expected = migrator
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .count();
    assert_eq!(rows, i64::try_from(expected).unwrap());
    let public: Option<String> =
        sqlx::query_scalar("SELECT to_regclass('public._sqlx_migrations')::text")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(public, None, "no second table in the default place");
}

/// A loopback proxy to the test server that counts round trips: the times the client speaks
/// again after the server has answered. Serves one connection.
struct TurnCounter {
    port: u16,
    turns: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl TurnCounter {
    async fn start(server_port: u16) -> TurnCounter {
        use std::sync::Arc;
        use std::sync::atomic::AtomicU64;

        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let turns = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&turns);
        // Every connection to it (a connect may be retried), counted together.
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(Self::forward(client, server_port, Arc::clone(&counted)));
            }
        });
        TurnCounter { port, turns }
    }

    async fn forward(
        client: tokio::net::TcpStream,
        server_port: u16,
        counted: std::sync::Arc<std::sync::atomic::AtomicU64>,
    ) {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", server_port)).await else {
            return;
        };
        let (mut client_read, mut client_write) = client.into_split();
        let (mut server_read, mut server_write) = server.into_split();
        let answered = Arc::new(AtomicBool::new(true));
        let answered_too = Arc::clone(&answered);
        let up = async move {
            let mut buf = vec![0; 64 * 1024];
            while let Ok(n @ 1..) = client_read.read(&mut buf).await {
                if answered.swap(false, Ordering::SeqCst) {
                    counted.fetch_add(1, Ordering::SeqCst);
                }
                if server_write.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
            server_write.shutdown().await.ok();
        };
        let down = async move {
            let mut buf = vec![0; 64 * 1024];
            while let Ok(n @ 1..) = server_read.read(&mut buf).await {
                // Set before the client can read the answer and speak again.
                answered_too.store(true, Ordering::SeqCst);
                if client_write.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
            client_write.shutdown().await.ok();
        };
        tokio::join!(up, down);
    }

    fn turns(&self) -> u64 {
        self.turns.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// `url` (the shared cluster's `127.0.0.1:<port>` DSN) through this proxy.
    fn url(&self, url: &str) -> String {
        let options: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
        url.replace(
            &format!("127.0.0.1:{}", options.get_port()),
            &format!("127.0.0.1:{}", self.port),
        )
    }
}

/// Round trips `f` takes on a connection through a fresh [`TurnCounter`], not counting
/// connecting (the connection is made and settled first).
async fn round_trips<C>(
    url: &str,
    connect: impl AsyncFnOnce(String) -> C,
    f: impl AsyncFnOnce(&mut C),
) -> u64 {
    let options: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
    let counter = TurnCounter::start(options.get_port()).await;
    let mut conn = connect(counter.url(url)).await;
    let before = counter.turns();
    f(&mut conn).await;
    counter.turns() - before
}

// Start-up with every migration applied reads the rows once and takes no lock: no more round
// trips than sqlx's `Migrator::run` (which locks, creates the table if missing, looks for a
// dirty version, lists the rows and unlocks), counted on the wire.
#[tokio::test]
async fn start_up_with_all_applied_takes_no_more_round_trips_than_sqlx() {
    let url = fresh_database("round_trips").await;
    let db = pgready::start(&setup("", &url))
        .await
        .expect("pgready applies");
    db.close().await;
    let sqlx_migrator = sqlx::migrate::Migrator::new(demo_migrations_dir())
        .await
        .unwrap();
    let cfg = pgready::config::parse("", "round-trips")
        .expect("the default config")
        .file
        .base()
        .clone();
    let list = pgready_core::migrations::discover(
        &demo_migrations_dir(),
        &pgready_core::migrations::Resolve::default(),
    )
    .unwrap();
    let migrator = pgready::migrate::Migrator::new(list, &cfg.migrations);
    let pgready_conn = async |url: String| pgready::migrate::connection(&cfg, &url).await.unwrap();

    let sqlx_run = round_trips(
        &url,
        async |url| connect(&url).await,
        async |conn| {
            sqlx_migrator.run(conn).await.unwrap();
        },
    )
    .await;
    let run = round_trips(&url, pgready_conn, async |conn| {
        let state = migrator.run(conn).await.unwrap();
        assert_eq!(state.pending, 0);
    })
    .await;
    let verify = round_trips(&url, pgready_conn, async |conn| {
        migrator.verify(conn).await.unwrap();
    })
    .await;
    eprintln!("round trips, all applied: pgready run {run}, verify {verify}; sqlx run {sqlx_run}");
    assert!(
        run <= sqlx_run && verify <= sqlx_run,
        "{run}, {verify} vs {sqlx_run}"
    );
    assert_eq!((run, verify), (1, 1), "one read of the rows, no lock");
    // Under the lock no longer: a held lock does not delay a start-up with nothing to do.
    let mut holder = connect(&url).await;
    let database: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&mut holder)
        .await
        .unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(pgready_core::migrations::lock_id(&database))
        .execute(&mut holder)
        .await
        .unwrap();
    let mut conn = pgready::migrate::connection(&cfg, &url).await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), migrator.verify(&mut conn))
        .await
        .expect("verify does not wait for the lock")
        .unwrap();
}
