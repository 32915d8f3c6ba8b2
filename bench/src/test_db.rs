//! `test-db`: what a test pays for its own migrated database, with 50 migrations.
//!
//! pgready: `pgready::__private::run_test` with an empty body, exactly what `#[pgready::test]`
//! expands to: `CREATE DATABASE … TEMPLATE` from a template migrated once, start-up's migration
//! check, drop. sqlx: what `#[sqlx::test]` does per test, in-process as under `cargo test`
//! (its master connection is reused across tests): record the database in
//! `_sqlx_test.databases`, `CREATE DATABASE`, connect a pool, run every migration with
//! `sqlx::migrate::Migrator`, close, drop the database and its record. Also measured: the
//! floor (a bare copy and drop) and `pgready::start` alone on a copy, to locate the rest.

use std::time::{Duration, Instant};

use sqlx::postgres::PgPoolOptions;
use sqlx::{AssertSqlSafe, Connection, Executor};
use tokio::runtime::Runtime;

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
    pgready::__private::run_test(setup.clone(), "bench_first", |_db| async {});
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

    let mut pgready_times = Samples::with_capacity(TESTS);
    let mut sqlx_times = Samples::with_capacity(TESTS);
    let (mut pgready_total, mut sqlx_total) = (Duration::ZERO, Duration::ZERO);
    // Alternate the two, so drift on the machine hits both alike.
    for i in 0..TESTS {
        let started = Instant::now();
        pgready::__private::run_test(setup.clone(), &format!("bench_{i}"), |_db| async {});
        let t = started.elapsed();
        pgready_times.push(t);
        pgready_total += t;

        let started = Instant::now();
        runtime.block_on(async {
            let name = format!("_sqlx_test_{i}");
            sqlx::query("INSERT INTO _sqlx_test.databases (db_name, test_path) VALUES ($1, $2)")
                .bind(&name)
                .bind(format!("bench::test_{i}"))
                .execute(&mut master)
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
                .execute(&mut master)
                .await?;
            Ok::<_, BoxError>(())
        })?;
        let t = started.elapsed();
        sqlx_times.push(t);
        sqlx_total += t;
    }
    // PostgreSQL's own share: the copy and the drop alone, with nothing of pgready around them.
    let mut floor = Samples::with_capacity(TESTS);
    let mut start_up = Samples::with_capacity(TESTS);
    let mut drop_after_use = Samples::with_capacity(TESTS);
    runtime.block_on(async {
        let template: String = sqlx::query_scalar(
            "SELECT datname::text FROM pg_database \
             WHERE starts_with(datname, 'pgready_tpl_pgready_bench_') LIMIT 1",
        )
        .fetch_one(&mut master)
        .await?;
        for i in 0..TESTS {
            let started = Instant::now();
            master
                .execute(AssertSqlSafe(format!(
                    "CREATE DATABASE \"bench_floor_{i}\" TEMPLATE \"{template}\""
                )))
                .await?;
            master
                .execute(AssertSqlSafe(format!(
                    "DROP DATABASE \"bench_floor_{i}\" WITH (FORCE)"
                )))
                .await?;
            floor.push(started.elapsed());
        }
        for i in 0..TESTS {
            master
                .execute(AssertSqlSafe(format!(
                    "CREATE DATABASE \"bench_start_{i}\" TEMPLATE \"{template}\""
                )))
                .await?;
            // pgready's start-up on the copy, as the test runs it (pools open lazily).
            let mut on_copy = setup.clone().var(
                "DATABASE_URL",
                Some(&server.url(&format!("bench_start_{i}"))),
            );
            on_copy.for_tests = true;
            let t = Instant::now();
            let db = pgready::start(&on_copy).await?;
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

    let ms = |d: Duration| d.as_secs_f64() * 1000.0 / TESTS as f64;
    println!(
        "\ntest-db: {MIGRATIONS} migrations, {TESTS} tests each, in-process (as `cargo test`)"
    );
    println!(
        "pgready: first test (builds the template) {:.0} ms; then mean {:.1} ms, median {:.1} ms",
        first.as_secs_f64() * 1000.0,
        ms(pgready_total),
        pgready_times.median_ms()
    );
    println!(
        "sqlx:    mean {:.1} ms, median {:.1} ms",
        ms(sqlx_total),
        sqlx_times.median_ms()
    );
    println!(
        "floor:   bare CREATE DATABASE … TEMPLATE + DROP DATABASE, median {:.1} ms",
        floor.median_ms()
    );
    println!(
        "start:   pgready::start alone on a template copy (pools lazy), median {:.1} ms",
        start_up.median_ms()
    );
    println!(
        "drop:    DROP DATABASE right after a session on it closed, median {:.1} ms",
        drop_after_use.median_ms()
    );
    let fig = |metric: &str, pg: f64, base: f64| Figure {
        scenario: "test-db",
        metric: metric.to_owned(),
        pgready: pg,
        baseline_name: "#[sqlx::test] (in-process)".to_owned(),
        baseline: base,
        unit: "ms/test",
        better: Better::Lower,
    };
    Ok(vec![
        fig(
            "per-test setup, 50 migrations, mean",
            ms(pgready_total),
            ms(sqlx_total),
        ),
        fig(
            "per-test setup, 50 migrations, median",
            pgready_times.median_ms(),
            sqlx_times.median_ms(),
        ),
    ])
}
