//! `migrate`: 200 generated migrations applied to a fresh database by pgready's `Migrator`
//! and by sqlx's, then the start-up cost once all are applied (pgready's `run` and `verify`,
//! sqlx's `run`), each on an open connection, so connecting is not part of any figure.

use std::time::{Duration, Instant};

use sqlx::{Connection, PgConnection};

use crate::generated;
use crate::report::{Better, Figure, Samples};
use crate::server::Server;

const MIGRATIONS: usize = 200;
const REPEATS: usize = 41;
const APPLY_REPEATS: usize = 4;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub async fn run(server: &Server) -> Result<Vec<Figure>, BoxError> {
    let files = generated::migrations(MIGRATIONS);
    let embedded = generated::embedded(&files);
    let dir = generated::write_dir("migrate", &files)?;
    let sqlx_migrator = sqlx::migrate::Migrator::new(dir.as_path()).await?;
    let cfg = pgready::config::parse("", "pgready-bench")
        .map_err(|d| format!("{} config diagnostics", d.len()))?
        .file
        .profile("development")
        .map_err(|d| d.to_string())?;
    let migrator = pgready::migrate::Migrator::from_embedded(embedded, &cfg.migrations)?;

    // Apply several times, into fresh databases, alternating who goes first: the first run on
    // a cold server pays for warming its catalog caches.
    let (mut pg_apply, mut sqlx_apply) = (Samples::default(), Samples::default());
    let (mut pg_conn, mut sqlx_conn) = (None, None);
    for rep in 0..APPLY_REPEATS {
        let pg_url = server
            .fresh_database(&format!("bench_migrate_pgready_{rep}"))
            .await?;
        let sqlx_url = server
            .fresh_database(&format!("bench_migrate_sqlx_{rep}"))
            .await?;
        let mut pg = pgready::migrate::connection(&cfg, &pg_url).await?;
        let mut sq = PgConnection::connect(&sqlx_url).await?;
        for turn in 0..2 {
            if (rep + turn).is_multiple_of(2) {
                let started = Instant::now();
                let state = migrator.run(&mut pg).await?;
                pg_apply.push(started.elapsed());
                if state.applied != MIGRATIONS {
                    return Err(format!("pgready applied {} of {MIGRATIONS}", state.applied).into());
                }
            } else {
                sqlx_apply.push(timed(sqlx_migrator.run(&mut sq)).await?);
            }
        }
        if let Some(old) = pg_conn.replace(pg) {
            PgConnection::close(old).await?;
        }
        if let Some(old) = sqlx_conn.replace(sq) {
            PgConnection::close(old).await?;
        }
    }
    let (mut pg_conn, mut sqlx_conn) =
        (pg_conn.ok_or("no repeats")?, sqlx_conn.ok_or("no repeats")?);
    let (pg_apply, sqlx_apply) = (pg_apply.median_ms(), sqlx_apply.median_ms());

    let (mut pg_noop, mut pg_verify, mut sqlx_noop) =
        (Samples::default(), Samples::default(), Samples::default());
    for _ in 0..REPEATS {
        pg_noop.push(timed(migrator.run(&mut pg_conn)).await?);
        pg_verify.push(timed(migrator.verify(&mut pg_conn)).await?);
        sqlx_noop.push(timed(sqlx_migrator.run(&mut sqlx_conn)).await?);
    }
    pg_conn.close().await?;
    sqlx_conn.close().await?;
    generated::remove_dir(&dir);

    let (pg_noop, pg_verify, sqlx_noop) = (
        pg_noop.median_ms(),
        pg_verify.median_ms(),
        sqlx_noop.median_ms(),
    );
    println!("\nmigrate: {MIGRATIONS} migrations (tables, indexes, added columns)");
    println!(
        "apply to a fresh database, median of {APPLY_REPEATS}: pgready {pg_apply:.0} ms, \
         sqlx {sqlx_apply:.0} ms"
    );
    println!(
        "all applied, median of {REPEATS}: pgready run {pg_noop:.2} ms, verify {pg_verify:.2} ms; \
         sqlx run {sqlx_noop:.2} ms"
    );
    let fig = |metric: &str, pg: f64, base: f64| Figure {
        scenario: "migrate",
        metric: metric.to_owned(),
        pgready: pg,
        baseline_name: "sqlx Migrator::run".to_owned(),
        baseline: base,
        unit: "ms",
        better: Better::Lower,
    };
    Ok(vec![
        fig("apply 200 to a fresh database", pg_apply, sqlx_apply),
        fig("start-up, all applied: run (no-op)", pg_noop, sqlx_noop),
        fig("start-up, all applied: verify", pg_verify, sqlx_noop),
    ])
}

async fn timed<T, E>(f: impl Future<Output = Result<T, E>>) -> Result<Duration, E> {
    let started = Instant::now();
    f.await?;
    Ok(started.elapsed())
}
