//! `test-db`: what a test pays for its isolated, migrated database, with 50 migrations, in
//! each `#[pgready::test]` mode against `#[sqlx::test]`, once with production durability and
//! once with the test settings (`fsync`, `synchronous_commit`, `full_page_writes` off, set with
//! `ALTER SYSTEM` on the same server).
//!
//! pgready, transaction mode (the default): `run_test` with an empty body on the shared
//! `_tx` database: one connection whose first round trip carries the session settings and
//! `BEGIN`, one round trip checking the transaction, close. pgready, database mode:
//! `pgready::__private::run_test` with an empty body, exactly what `#[pgready::test]`
//! expands to: `CREATE DATABASE … TEMPLATE` from a template migrated once (by the process's
//! admin thread), start-up on the copy, then the hand-over of the database, which the admin
//! thread drops once the test's session has ended. The figure runs until that drop is done, so
//! it is the steady cost of a test in a sequence (the next test's copy waits for the drop);
//! the time until `run_test` returns is printed too. sqlx: what `#[sqlx::test]` does per test,
//! in-process as under `cargo test` (its master connection is reused across tests): record the
//! database in `_sqlx_test.databases`, `CREATE DATABASE`, connect a pool, run every migration
//! with `sqlx::migrate::Migrator`, close, drop the database and its record. Also measured:
//! PostgreSQL's share (a bare copy and drop, with either `CREATE DATABASE` strategy, and a drop
//! while another copy exists) and start-up alone on a copy, as `#[pgready::test]` runs it.

use std::time::{Duration, Instant};

use sqlx::postgres::PgPoolOptions;
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};
use tokio::runtime::Runtime;

use pgready::__private::Isolation;

use crate::generated;
use crate::report::{Better, Figure, Samples};
use crate::server::Server;

const MIGRATIONS: usize = 50;
const TESTS: usize = 20;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Runs outside the runtime: `run_test` builds its own, as the generated test does.
pub fn run(server: &Server, runtime: &Runtime) -> Result<Vec<Figure>, BoxError> {
    let files = generated::migrations(MIGRATIONS);
    let embedded = generated::embedded(&files);
    let dir = generated::write_dir("test-db", &files)?;
    let migrator = runtime.block_on(sqlx::migrate::Migrator::new(dir.as_path()))?;
    let admin_url = server.url("postgres");
    let setup = pgready::Setup::new("", "pgready-bench", embedded)
        .var(pgready::testing::TEST_URL_ENV, Some(&admin_url))
        .var("DATABASE_URL", None)
        .var("DATABASE_READ_URL", None)
        .var("PGREADY_PROFILE", None);

    // The first test of a run (ever, per migration set) builds the template.
    let started = Instant::now();
    pgready::__private::run_test(
        setup.clone(),
        "bench_first",
        Isolation::Database,
        |_db| async {},
    );
    let first = started.elapsed();

    let mut master = runtime.block_on(server.admin())?;
    runtime.block_on(async {
        master
            .execute(
                "CREATE SCHEMA IF NOT EXISTS _sqlx_test; \
                 CREATE TABLE IF NOT EXISTS _sqlx_test.databases \
                 (db_name text PRIMARY KEY, test_path text NOT NULL, \
                  created_at timestamptz NOT NULL DEFAULT now())",
            )
            .await
    })?;

    // The first transaction-mode test makes the shared database (from the template).
    pgready::__private::run_test(
        setup.clone(),
        "bench_first_tx",
        Isolation::Transaction,
        |_db| async {},
    );
    let mut figures = Vec::new();
    for durability in [Durability::Production, Durability::Test] {
        runtime.block_on(durability.apply(&mut master))?;
        figures.extend(compare(
            server,
            runtime,
            &setup,
            &migrator,
            &mut master,
            durability,
        )?);
    }
    runtime.block_on(Durability::Production.apply(&mut master))?;
    // PostgreSQL's own share: the copy and the drop alone, with nothing of pgready around them.
    let mut floor = Samples::with_capacity(TESTS);
    let mut floor_create = Samples::with_capacity(TESTS);
    let mut floor_file_copy = Samples::with_capacity(TESTS);
    let mut drop_beside_copy = Samples::with_capacity(TESTS);
    let mut start_up = Samples::with_capacity(TESTS);
    let mut drop_after_use = Samples::with_capacity(TESTS);
    runtime.block_on(async {
        let template: String = sqlx::query_scalar(
            "SELECT datname::text FROM pg_database \
             WHERE starts_with(datname, 'pgready_tpl_pgready_bench_') LIMIT 1",
        )
        .fetch_one(&mut master)
        .await?;
        let version: i32 = sqlx::query_scalar("SELECT current_setting('server_version_num')::int")
            .fetch_one(&mut master)
            .await?;
        let copy = |name: &str, strategy: &str| {
            AssertSqlSafe(format!(
                "CREATE DATABASE \"{name}\" TEMPLATE \"{template}\"{strategy}"
            ))
        };
        let drop = |name: &str| AssertSqlSafe(format!("DROP DATABASE \"{name}\" WITH (FORCE)"));
        for i in 0..TESTS {
            let name = format!("bench_floor_{i}");
            let started = Instant::now();
            master.execute(copy(&name, "")).await?;
            floor_create.push(started.elapsed());
            master.execute(drop(&name)).await?;
            floor.push(started.elapsed());
        }
        // PostgreSQL 15 copies by writing WAL (`WAL_LOG`); `FILE_COPY` copies the files and
        // fsyncs them, between two checkpoints.
        if version >= 150000 {
            for i in 0..TESTS {
                let name = format!("bench_file_copy_{i}");
                let started = Instant::now();
                master.execute(copy(&name, " STRATEGY FILE_COPY")).await?;
                master.execute(drop(&name)).await?;
                floor_file_copy.push(started.elapsed());
            }
        }
        // A drop forces a checkpoint, which writes every other copy that exists.
        for i in 0..TESTS {
            let (first, second) = (format!("bench_first_{i}"), format!("bench_second_{i}"));
            master.execute(copy(&first, "")).await?;
            master.execute(copy(&second, "")).await?;
            let started = Instant::now();
            master.execute(drop(&first)).await?;
            drop_beside_copy.push(started.elapsed());
            master.execute(drop(&second)).await?;
        }
        for i in 0..TESTS {
            master
                .execute(AssertSqlSafe(format!(
                    "CREATE DATABASE \"bench_start_{i}\" TEMPLATE \"{template}\""
                )))
                .await?;
            // pgready's start-up on the copy, as the test runs it (one connection).
            let on_copy = setup.clone().var(
                "DATABASE_URL",
                Some(&server.url(&format!("bench_start_{i}"))),
            );
            let t = Instant::now();
            let db = pgready::__private::start_on_copy(&on_copy).await?;
            db.close().await;
            start_up.push(t.elapsed());
            // Dropping right after the last session ends waits for its backend to exit.
            let t = Instant::now();
            master
                .execute(AssertSqlSafe(format!(
                    "DROP DATABASE \"bench_start_{i}\" WITH (FORCE)"
                )))
                .await?;
            drop_after_use.push(t.elapsed());
        }
        Ok::<_, BoxError>(())
    })?;
    runtime.block_on(master.close())?;
    generated::remove_dir(&dir);

    println!(
        "\ntest-db: PostgreSQL's share, production durability; first database-mode test (builds \
         the template) {:.0} ms",
        first.as_secs_f64() * 1000.0
    );
    println!(
        "floor:   bare CREATE DATABASE … TEMPLATE + DROP DATABASE, median {:.1} ms \
         (CREATE alone {:.1} ms); with STRATEGY FILE_COPY {:.1} ms",
        floor.median_ms(),
        floor_create.median_ms(),
        floor_file_copy.median_ms()
    );
    println!(
        "drop:    DROP DATABASE while another fresh copy exists, median {:.1} ms",
        drop_beside_copy.median_ms()
    );
    println!(
        "start:   start-up alone on a template copy, as a test runs it (one connection), median {:.1} ms",
        start_up.median_ms()
    );
    println!(
        "drop:    DROP DATABASE right after a session on it closed, median {:.1} ms",
        drop_after_use.median_ms()
    );
    Ok(figures)
}

/// The server's durability for a round of the comparison.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// PostgreSQL's defaults: `fsync`, `synchronous_commit` and `full_page_writes` on.
    Production,
    /// As `#[pgready::test]`'s shared cluster runs: all three off.
    Test,
}

impl Durability {
    pub fn label(self) -> &'static str {
        match self {
            Durability::Production => "production durability",
            Durability::Test => "test settings (fsync off)",
        }
    }

    /// `ALTER SYSTEM` and a reload: all three settings take effect without a restart.
    pub async fn apply(self, master: &mut PgConnection) -> Result<(), BoxError> {
        let value = match self {
            Durability::Production => "DEFAULT",
            Durability::Test => "off",
        };
        for setting in ["fsync", "synchronous_commit", "full_page_writes"] {
            master
                .execute(AssertSqlSafe(format!(
                    "ALTER SYSTEM SET {setting} = {value}"
                )))
                .await?;
        }
        master.execute("SELECT pg_reload_conf()").await?;
        // The reload is asynchronous: wait until this session's backend has it.
        let wanted = if self == Durability::Test {
            "off"
        } else {
            "on"
        };
        for _ in 0..200 {
            let fsync: String = sqlx::query_scalar("SELECT current_setting('fsync')")
                .fetch_one(&mut *master)
                .await?;
            if fsync == wanted {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Err("the server did not reload its durability settings".into())
    }
}

/// Per test, alternating (so drift on the machine hits all alike): transaction mode, database
/// mode (until its database is dropped), and `#[sqlx::test]`'s work.
fn compare(
    server: &Server,
    runtime: &Runtime,
    setup: &pgready::Setup,
    migrator: &sqlx::migrate::Migrator,
    master: &mut PgConnection,
    durability: Durability,
) -> Result<Vec<Figure>, BoxError> {
    let mut tx_times = Samples::with_capacity(TESTS);
    let mut pgready_times = Samples::with_capacity(TESTS);
    let mut pgready_returned = Samples::with_capacity(TESTS);
    let mut sqlx_times = Samples::with_capacity(TESTS);
    let (mut tx_total, mut pgready_total, mut sqlx_total) =
        (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let ours = format!("pgready_t_{}_", std::process::id());
    for i in 0..TESTS {
        let started = Instant::now();
        pgready::__private::run_test(
            setup.clone(),
            &format!("bench_tx_{i}"),
            Isolation::Transaction,
            |_db| async {},
        );
        let t = started.elapsed();
        tx_times.push(t);
        tx_total += t;

        let started = Instant::now();
        pgready::__private::run_test(
            setup.clone(),
            &format!("bench_{i}"),
            Isolation::Database,
            |_db| async {},
        );
        pgready_returned.push(started.elapsed());
        // Until the admin thread has dropped it: a later copy would wait for that, and a drop
        // running during the sqlx test would make its checkpoint write sqlx's database.
        runtime.block_on(until_dropped(master, &ours))?;
        let t = started.elapsed();
        pgready_times.push(t);
        pgready_total += t;

        let started = Instant::now();
        runtime.block_on(async {
            let name = format!("_sqlx_test_{i}");
            sqlx::query("INSERT INTO _sqlx_test.databases (db_name, test_path) VALUES ($1, $2)")
                .bind(&name)
                .bind(format!("bench::test_{i}"))
                .execute(&mut *master)
                .await?;
            master
                .execute(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                .await?;
            let pool = PgPoolOptions::new()
                .max_connections(20)
                .connect(&server.url(&name))
                .await?;
            migrator.run(&pool).await?;
            pool.close().await;
            master
                .execute(AssertSqlSafe(format!("DROP DATABASE IF EXISTS \"{name}\"")))
                .await?;
            sqlx::query("DELETE FROM _sqlx_test.databases WHERE db_name = $1")
                .bind(&name)
                .execute(&mut *master)
                .await?;
            Ok::<_, BoxError>(())
        })?;
        let t = started.elapsed();
        sqlx_times.push(t);
        sqlx_total += t;
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0 / TESTS as f64;
    let label = durability.label();
    println!(
        "\ntest-db: {MIGRATIONS} migrations, {TESTS} tests each, in-process (as `cargo test`), {label}"
    );
    println!(
        "pgready transaction: mean {:.1} ms, median {:.1} ms (until `run_test` returned; nothing left to drop)",
        ms(tx_total),
        tx_times.median_ms()
    );
    println!(
        "pgready database:    mean {:.1} ms, median {:.1} ms (until its database is dropped; \
         `run_test` returned after a median {:.1} ms)",
        ms(pgready_total),
        pgready_times.median_ms(),
        pgready_returned.median_ms()
    );
    println!(
        "sqlx:                mean {:.1} ms, median {:.1} ms",
        ms(sqlx_total),
        sqlx_times.median_ms()
    );
    let (tx, db, sq) = (
        tx_times.median_ms(),
        pgready_times.median_ms(),
        sqlx_times.median_ms(),
    );
    println!(
        "ratio vs #[sqlx::test] (medians): transaction {:.3}, database {:.3}",
        tx / sq,
        db / sq
    );
    let fig = |metric: String, pg: f64, base: f64| Figure {
        scenario: "test-db",
        metric,
        pgready: pg,
        baseline_name: "#[sqlx::test] (in-process)".to_owned(),
        baseline: base,
        unit: "ms/test",
        better: Better::Lower,
    };
    Ok(vec![
        fig(
            format!("per test, isolation = \"transaction\", median, {label}"),
            tx,
            sq,
        ),
        fig(
            format!("per test, isolation = \"database\" (setup and drop), median, {label}"),
            db,
            sq,
        ),
        fig(
            format!("per test, isolation = \"database\" (setup and drop), mean, {label}"),
            ms(pgready_total),
            ms(sqlx_total),
        ),
        fig(
            format!(
                "until a database-mode test returns (drop left to the admin thread), median, {label}"
            ),
            pgready_returned.median_ms(),
            sq,
        ),
    ])
}

/// Waits until no database named `prefix…` is left.
async fn until_dropped(master: &mut PgConnection, prefix: &str) -> Result<(), BoxError> {
    loop {
        let left: i64 =
            sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE starts_with(datname, $1)")
                .bind(prefix)
                .fetch_one(&mut *master)
                .await?;
        if left == 0 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}
