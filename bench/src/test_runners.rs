//! `test-runners`: `#[pgready::test]` in both modes against `#[sqlx::test]` as users run them,
//! under `cargo test` and `cargo nextest run`, on a generated fixture crate with 50 migrations
//! and `TESTS` empty tests of each kind, on the same server with production durability and
//! with the test settings (no fsync). Each figure is the wall time of the filtered run minus an
//! empty run (harness start-up), divided by the number of tests. A run's wall time lasts until
//! the server has finished dropping its databases: pgready's last drops are sent as the test
//! processes exit and finish after them, and would otherwise slow down the next run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use sqlx::Connection;
use tokio::runtime::Runtime;

use crate::generated;
use crate::report::{Better, Figure, Samples};
use crate::server::Server;
use crate::test_db::Durability;

const MIGRATIONS: usize = 50;
const TESTS: usize = 20;
const REPEATS: usize = 3;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Builds and runs the fixture with cargo; call outside the runtime.
pub fn run(
    server: &Server,
    runtime: &Runtime,
    optimize_auth: bool,
) -> Result<Vec<Figure>, BoxError> {
    let workspace = generated::workspace()?;
    let dir = std::env::temp_dir().join(format!("pgready-bench-fixture-{}", std::process::id()));
    let _remove = RemoveOnDrop(dir.clone());
    write_fixture(&dir, &workspace, optimize_auth)?;
    let target = generated::target_dir(&workspace);
    let url = server.url("postgres");
    let cargo = |args: &[&str]| -> Result<Duration, BoxError> {
        let started = Instant::now();
        // The rustup proxy, so the toolchain is pinned for every rustc it starts (a registry
        // crate's own `rust-toolchain` file would otherwise pick one).
        let out = Command::new("cargo")
            .args(args)
            .current_dir(&dir)
            .env("CARGO_TARGET_DIR", &target)
            .env("DATABASE_URL", &url)
            .env("PGREADY_TEST_URL", &url)
            .output()?;
        if !out.status.success() {
            return Err(format!(
                "cargo {} failed:\n{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        runtime.block_on(until_no_test_databases(server))?;
        Ok(started.elapsed())
    };
    eprintln!(
        "  test-runners: building the fixture crate in {}",
        dir.display()
    );
    cargo(&["test", "--no-run", "-q"])?;
    cargo(&["nextest", "run", "--no-run"])?;

    let mut figures = Vec::new();
    println!(
        "\ntest-runners: fixture crate, {MIGRATIONS} migrations, {TESTS} empty tests per kind \
         (`pgready_`: the default, transaction mode; `pgdb_`: isolation = \"database\")"
    );
    for durability in [Durability::Production, Durability::Test] {
        runtime.block_on(async {
            let mut admin = server.admin().await?;
            durability.apply(&mut admin).await?;
            admin.close().await?;
            Ok::<_, BoxError>(())
        })?;
        for runner in ["cargo test", "cargo nextest run"] {
            let args = |filter: &'static str| -> Vec<&'static str> {
                if runner == "cargo test" {
                    vec!["test", "-q", "--", filter]
                } else {
                    vec!["nextest", "run", "--no-fail-fast", filter]
                }
            };
            let nextest_empty: Vec<&str> =
                vec!["nextest", "run", "--no-tests=pass", "no_such_test"];
            let empty_args = if runner == "cargo test" {
                args("no_such_test")
            } else {
                nextest_empty
            };
            // Warm up: the first pgready tests build the template and the shared database.
            cargo(&args("pgready_"))?;
            cargo(&args("pgdb_"))?;
            cargo(&args("sqlx_"))?;
            let (mut empty, mut tx, mut db, mut sq) = (
                Samples::default(),
                Samples::default(),
                Samples::default(),
                Samples::default(),
            );
            for _ in 0..REPEATS {
                empty.push(cargo(&empty_args)?);
                tx.push(cargo(&args("pgready_"))?);
                db.push(cargo(&args("pgdb_"))?);
                sq.push(cargo(&args("sqlx_"))?);
            }
            let empty = empty.median_ms();
            let per_test = |s: &mut Samples| (s.median_ms() - empty) / TESTS as f64;
            let (tx, db, sq) = (per_test(&mut tx), per_test(&mut db), per_test(&mut sq));
            let label = durability.label();
            println!(
                "{runner}, {label}: pgready transaction {tx:.1} ms/test ({:.3}), database \
                 {db:.1} ms/test ({:.3}), sqlx {sq:.1} ms/test (wall minus {empty:.0} ms empty \
                 run, median of {REPEATS})",
                tx / sq,
                db / sq
            );
            let auth = if optimize_auth {
                ", auth optimised"
            } else {
                ""
            };
            for (mode, pg) in [("transaction", tx), ("database", db)] {
                figures.push(Figure {
                    scenario: "test-db",
                    metric: format!(
                        "wall per test under `{runner}`, isolation = \"{mode}\", {label}{auth}"
                    ),
                    pgready: pg,
                    baseline_name: "#[sqlx::test]".to_owned(),
                    baseline: sq,
                    unit: "ms/test",
                    better: Better::Lower,
                });
            }
        }
    }
    runtime.block_on(async {
        let mut admin = server.admin().await?;
        Durability::Production.apply(&mut admin).await?;
        admin.close().await?;
        Ok::<_, BoxError>(())
    })?;
    Ok(figures)
}

/// Waits until neither framework's test databases are left on the server.
async fn until_no_test_databases(server: &Server) -> Result<(), BoxError> {
    let mut admin = server.admin().await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let left: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_database \
             WHERE starts_with(datname, 'pgready_t_') OR starts_with(datname, '_sqlx_test_')",
        )
        .fetch_one(&mut admin)
        .await?;
        if left == 0 {
            admin.close().await?;
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Err("test databases still there a minute after the run".into())
}

/// Removes the fixture crate however the run ends.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn write_fixture(dir: &Path, workspace: &Path, optimize_auth: bool) -> std::io::Result<()> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir.join("src"))?;
    std::fs::create_dir_all(dir.join("tests"))?;
    let files = generated::migrations(MIGRATIONS);
    let migrations = generated::write_dir("fixture-migrations", &files)?;
    std::fs::rename(&migrations, dir.join("migrations"))?;
    let mut profiles = generated::profiles(workspace, &[])?;
    if optimize_auth {
        // SCRAM-SHA-256 runs 4,096 HMAC rounds per connection; unoptimised, that is tens of ms.
        for package in ["sqlx-postgres", "sha2", "hmac", "digest", "block-buffer"] {
            profiles.push_str(&format!("[profile.dev.package.{package}]\nopt-level = 3\n"));
        }
    }
    let ws = workspace.display();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"bench-fixture\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\
             publish = false\n\n[workspace]\n\n[dependencies]\n\
             pgready = {{ path = \"{ws}/runtime\" }}\n\
             sqlx = {{ version = \"0.9\", default-features = false, features = \
             [\"postgres\", \"runtime-tokio\", \"migrate\", \"macros\"] }}\n\
             tokio = {{ version = \"1\", features = [\"rt-multi-thread\", \"macros\", \"time\", \
             \"net\", \"sync\", \"signal\"] }}\n\n{profiles}"
        ),
    )?;
    std::fs::copy(workspace.join("Cargo.lock"), dir.join("Cargo.lock"))?;
    std::fs::write(dir.join("src/lib.rs"), "")?;
    std::fs::write(dir.join("pgready.toml"), generated::PGREADY_TOML)?;
    let mut tests = String::new();
    for i in 0..TESTS {
        tests.push_str(&format!(
            "#[pgready::test]\nasync fn pgready_{i}(_db: pgready::Db) {{}}\n\n\
             #[pgready::test(isolation = \"database\")]\nasync fn pgdb_{i}(_db: pgready::Db) {{}}\n\n\
             #[sqlx::test]\nasync fn sqlx_{i}(_pool: sqlx::PgPool) {{}}\n\n"
        ));
    }
    std::fs::write(dir.join("tests/setup.rs"), tests)
}
