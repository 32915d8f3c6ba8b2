//! `history`: adopting a real-looking history, `tests/fixtures/sqlx-histories/long-history`
//! (74 files over six years, many of which break today's lints).
//!
//! - The compile-time project check (`pgready_core::project::check`, what `#[migrated_pool]`
//!   runs) on that folder, before adopting (every file linted) and after `pgready init` (every
//!   file in the ledger: verified, not linted), against sqlx's own resolution of the folder
//!   (what `sqlx::migrate!` does at compile time).
//! - Applying it to a fresh database, pgready's `Migrator` against sqlx's.

use std::path::{Path, PathBuf};
use std::time::Instant;

use pgready_core::migrations::Ledger;
use pgready_core::project;
use sqlx::{Connection, PgConnection};

use crate::report::{Better, Figure, Samples};
use crate::server::Server;

const CHECK_REPEATS: usize = 15;
const APPLY_REPEATS: usize = 4;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/sqlx-histories/long-history")
}

/// A crate folder with `pgready.toml` (ledger `migrations.lock`) and the fixture as
/// `migrations/`.
fn project_dir() -> Result<PathBuf, BoxError> {
    let dir = std::env::temp_dir().join(format!("pgready-bench-history-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("migrations"))?;
    for entry in std::fs::read_dir(fixture())? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            std::fs::copy(entry.path(), dir.join("migrations").join(entry.file_name()))?;
        }
    }
    std::fs::write(dir.join("pgready.toml"), "")?;
    Ok(dir)
}

fn check(dir: &Path) -> project::Project {
    project::check(&project::Input {
        config: &dir.join("pgready.toml"),
        config_name: "pgready.toml",
        crate_name: "bench",
        missing_config_is_default: false,
        always_read_migrations: false,
        dir_override: None,
    })
}

pub async fn run(server: &Server) -> Result<Vec<Figure>, BoxError> {
    let dir = project_dir()?;
    let migrations_dir = dir.join("migrations");

    // Before adopting: no ledger, every file is new and linted.
    let mut before = Samples::default();
    let mut sqlx_resolve = Samples::default();
    let mut findings = 0;
    for _ in 0..CHECK_REPEATS {
        let started = Instant::now();
        let checked = check(&dir);
        before.push(started.elapsed());
        findings = checked.findings.len();
        let started = Instant::now();
        let resolved = sqlx::migrate::Migrator::new(migrations_dir.as_path()).await?;
        sqlx_resolve.push(started.elapsed());
        std::hint::black_box(resolved);
    }
    let checked = check(&dir);
    let files = checked.migrations.len();
    // After `pgready init`: the whole history is in the ledger.
    let mut ledger = Ledger::default();
    ledger.record_new(&checked.migrations);
    std::fs::write(dir.join("migrations.lock"), ledger.to_text())?;
    let mut after = Samples::default();
    for _ in 0..CHECK_REPEATS {
        let started = Instant::now();
        let checked = check(&dir);
        after.push(started.elapsed());
        if !checked.problems.is_empty() || checked.history_count() != files {
            return Err(format!("after adopting: {:?}", checked.problems).into());
        }
    }

    let migrator = pgready::migrate::Migrator::new(checked.migrations.clone(), &Default::default());
    let sqlx_migrator = sqlx::migrate::Migrator::new(migrations_dir.as_path()).await?;
    let (mut pg_apply, mut sqlx_apply) = (Samples::default(), Samples::default());
    for rep in 0..APPLY_REPEATS {
        let pg_url = server
            .fresh_database(&format!("bench_history_pgready_{rep}"))
            .await?;
        let sqlx_url = server
            .fresh_database(&format!("bench_history_sqlx_{rep}"))
            .await?;
        let mut pg = PgConnection::connect(&pg_url).await?;
        let mut sq = PgConnection::connect(&sqlx_url).await?;
        for turn in 0..2 {
            let started = Instant::now();
            if (rep + turn).is_multiple_of(2) {
                migrator.run(&mut pg).await?;
                pg_apply.push(started.elapsed());
            } else {
                sqlx_migrator.run(&mut sq).await?;
                sqlx_apply.push(started.elapsed());
            }
        }
        pg.close().await?;
        sq.close().await?;
    }
    let _ = std::fs::remove_dir_all(&dir);

    let (before, after, sqlx_resolve) = (
        before.median_ms(),
        after.median_ms(),
        sqlx_resolve.median_ms(),
    );
    let (pg_apply, sqlx_apply) = (pg_apply.median_ms(), sqlx_apply.median_ms());
    println!("\nhistory: tests/fixtures/sqlx-histories/long-history, {files} files");
    println!(
        "project check, median of {CHECK_REPEATS}: {before:.1} ms before adopting ({findings} \
         findings), {after:.1} ms after `pgready init` (all history); sqlx's resolution \
         {sqlx_resolve:.1} ms"
    );
    println!(
        "apply to a fresh database, median of {APPLY_REPEATS}: pgready {pg_apply:.0} ms, sqlx \
         {sqlx_apply:.0} ms"
    );
    let fig = |metric: &str, pg: f64, base: f64, baseline: &str| Figure {
        scenario: "history",
        metric: metric.to_owned(),
        pgready: pg,
        baseline_name: baseline.to_owned(),
        baseline: base,
        unit: "ms",
        better: Better::Lower,
    };
    Ok(vec![
        fig(
            &format!("compile-time check, {files} files, history (ledger)"),
            after,
            sqlx_resolve,
            "sqlx resolve (migrate!)",
        ),
        fig(
            &format!("compile-time check, {files} files, all linted"),
            before,
            sqlx_resolve,
            "sqlx resolve (migrate!)",
        ),
        fig(
            &format!("apply {files} files to a fresh database"),
            pg_apply,
            sqlx_apply,
            "sqlx Migrator::run",
        ),
    ])
}
