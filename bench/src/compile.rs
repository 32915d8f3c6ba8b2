//! `compile`: what `#[pgready::migrated_pool]` costs at build time with 200 migrations.
//!
//! A workspace is generated in the target dir and built with this workspace's dev profile into
//! this workspace's target dir, so the dependencies are compiled once and reused. It holds:
//! - `svc-pgready`: `#[pgready::migrated_pool] async fn main(db: pgready::Db)`, a
//!   `#[pgready::health_endpoint]` and a small axum router;
//! - `svc-expanded`: the same file with the attribute replaced by exactly what it expands to,
//!   the control for the expansion time (the rest of the build is the same);
//! - `svc-hand`: the same service by hand: `PgPoolOptions`, `sqlx::migrate!()` over the same
//!   200 files, a `SELECT 1` health handler;
//! - `svc-queries`: `svc-pgready` plus `CHECKED_QUERIES` functions, each with a
//!   `pgready::query!` on a different table of the 200 migrations: what checked queries add to
//!   a rebuild (the schema is replayed once per compiler process, then each query is checked).
//!
//! Every timed build is `cargo build` after touching `src/main.rs`, what an edit costs with
//! incremental compilation; crates take turns, medians of `REPEATS`. The expansion is measured
//! twice: the rebuild with the attribute minus the rebuild of the control (paired per round,
//! wall time and CPU time), and the macro's own timer (`PGREADY_MACROS_DEBUG`). Then again in a second workspace
//! without the `opt-level = 3` lines for squawk that the README recommends.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use crate::generated;
use crate::report::{Better, Figure};

const MIGRATIONS: usize = 200;
/// Checked queries in `svc-queries`.
const CHECKED_QUERIES: usize = 20;
const REPEATS: usize = 9;
/// The figure the issue sets for one expansion with 200 migrations.
const GOAL_MS: f64 = 100.0;
/// The packages the README tells users to optimise in the dev profile.
const SQUAWK: &[&str] = &[
    "squawk-parser",
    "squawk-syntax",
    "squawk-linter",
    "squawk-lexer",
    "rowan",
];

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Blocking: generates the crates and builds them with cargo.
pub fn run() -> Result<Vec<Figure>, BoxError> {
    let workspace = generated::workspace()?;
    let target = generated::target_dir(&workspace);
    let root = target.join("pgready-bench-compile");

    let optimised = Generated::write(&root.join("optimised"), &workspace, "", &[], true)?;
    let unoptimised = Generated::write(
        &root.join("unoptimised"),
        &workspace,
        "-unopt",
        SQUAWK,
        false,
    )?;
    let fast = optimised.measure(&target, "squawk at opt-level 3")?;
    let slow = unoptimised.measure(&target, "squawk unoptimised")?;

    let hand = fast.hand.ok_or("the hand-written crate was not built")?;
    let queries = fast
        .queries
        .ok_or("the checked-queries crate was not built")?;
    println!(
        "\ncompile: {MIGRATIONS} migrations, touch src/main.rs + cargo build, median of {REPEATS}, \
         wall / CPU (cargo, rustc, linker) in ms"
    );
    println!(
        "{:<24} {:>13} {:>13} {:>13} {:>17} {:>12}",
        "dev profile", "pgready", "expanded", "hand", "attr − expanded", "macro timer"
    );
    for (label, m) in [
        ("squawk at opt-level 3", &fast),
        ("squawk unoptimised", &slow),
    ] {
        let pair = |t: Times| format!("{:.0} / {:.0}", t.wall, t.cpu);
        println!(
            "{label:<24} {:>13} {:>13} {:>13} {:>17} {:>12.1}",
            pair(m.pgready),
            pair(m.expanded),
            m.hand.map_or_else(|| "-".to_owned(), pair),
            pair(m.delta),
            m.timer
        );
    }

    println!(
        "{CHECKED_QUERIES} checked queries: rebuild {:.0} / {:.0} ms against {:.0} / {:.0} \
         without them (wall / CPU), {:.0} ms CPU more",
        queries.wall,
        queries.cpu,
        fast.pgready.wall,
        fast.pgready.cpu,
        fast.queries_delta.map_or(f64::NAN, |d| d.cpu)
    );
    let goal = |metric: &str, ms: f64| Figure {
        scenario: "compile",
        metric: metric.to_owned(),
        pgready: ms,
        baseline_name: format!("goal ≤ {GOAL_MS:.0} ms"),
        baseline: GOAL_MS,
        unit: "ms",
        better: Better::Lower,
    };
    let rebuild = |metric: &str, ms: f64, hand: f64| Figure {
        scenario: "compile",
        metric: metric.to_owned(),
        pgready: ms,
        baseline_name: "hand-written sqlx + axum".to_owned(),
        baseline: hand,
        unit: "ms",
        better: Better::Lower,
    };
    Ok(vec![
        goal("migrated_pool expansion, macro timer", fast.timer),
        goal("expansion, rebuild CPU minus pre-expanded", fast.delta.cpu),
        goal(
            "expansion, rebuild wall minus pre-expanded",
            fast.delta.wall,
        ),
        goal("expansion, squawk unoptimised, timer", slow.timer),
        goal("expansion, squawk unoptimised, CPU delta", slow.delta.cpu),
        rebuild(
            "rebuild after touching main.rs, wall",
            fast.pgready.wall,
            hand.wall,
        ),
        rebuild(
            "rebuild after touching main.rs, CPU",
            fast.pgready.cpu,
            hand.cpu,
        ),
        rebuild(
            "rebuild, attribute pre-expanded, wall",
            fast.expanded.wall,
            hand.wall,
        ),
        Figure {
            scenario: "compile",
            metric: format!("rebuild with {CHECKED_QUERIES} checked queries, CPU"),
            pgready: queries.cpu,
            baseline_name: "the same crate without them".to_owned(),
            baseline: fast.pgready.cpu,
            unit: "ms",
            better: Better::Lower,
        },
    ])
}

/// Milliseconds of one build, or medians of several.
#[derive(Clone, Copy)]
struct Times {
    wall: f64,
    /// CPU of cargo and everything it ran (rustc, the linker): less moved by other work on
    /// the machine than wall time.
    cpu: f64,
}

impl Times {
    fn median(times: &[Times]) -> Times {
        Times {
            wall: median(times.iter().map(|t| t.wall)),
            cpu: median(times.iter().map(|t| t.cpu)),
        }
    }
}

/// Medians for one generated workspace.
struct Measured {
    pgready: Times,
    expanded: Times,
    hand: Option<Times>,
    queries: Option<Times>,
    /// Median of the per-round differences `pgready − expanded`.
    delta: Times,
    /// Median of the per-round differences `queries − pgready`.
    queries_delta: Option<Times>,
    /// The macro's own timer.
    timer: f64,
}

/// One generated workspace and its crates' package names.
struct Generated {
    dir: PathBuf,
    pgready: String,
    expanded: String,
    hand: Option<String>,
    queries: Option<String>,
}

impl Generated {
    /// Writes the workspace at `dir` (replacing what was there). `suffix` keeps package names
    /// apart from another generated workspace's in the shared target dir; `without` lists the
    /// packages whose `[profile.dev.package.*]` lines are left out.
    fn write(
        dir: &Path,
        workspace: &Path,
        suffix: &str,
        without: &[&str],
        with_hand: bool,
    ) -> std::io::Result<Generated> {
        let _ = std::fs::remove_dir_all(dir);
        let migrations = dir.join("migrations");
        std::fs::create_dir_all(&migrations)?;
        let files = generated::migrations(MIGRATIONS);
        for (name, sql) in &files {
            std::fs::write(migrations.join(name), sql)?;
        }
        let generated = Generated {
            dir: dir.to_owned(),
            pgready: format!("svc-pgready{suffix}"),
            expanded: format!("svc-expanded{suffix}"),
            hand: with_hand.then(|| format!("svc-hand{suffix}")),
            queries: with_hand.then(|| format!("svc-queries{suffix}")),
        };
        let ws = workspace.display();
        let common = "axum = { version = \"0.8\", default-features = false, features = \
                      [\"tokio\", \"http1\", \"json\", \"query\"] }\n\
                      tokio = { version = \"1\", features = [\"rt-multi-thread\", \"macros\", \
                      \"time\", \"net\", \"sync\", \"signal\"] }\n";
        let pgready_deps = format!("pgready = {{ path = \"{ws}/runtime\" }}\n{common}");
        let config = generated::PGREADY_TOML.replacen(
            "[migrations]\n",
            "[migrations]\ndir = \"../migrations\"\n",
            1,
        );
        for (name, expanded) in [(&generated.pgready, false), (&generated.expanded, true)] {
            let crate_dir = dir.join(name);
            let main = pgready_main(expanded.then_some((crate_dir.as_path(), files.as_slice())));
            write_crate(&crate_dir, name, &pgready_deps, &main)?;
            std::fs::write(crate_dir.join("pgready.toml"), &config)?;
        }
        if let Some(name) = &generated.queries {
            let crate_dir = dir.join(name);
            let main = format!("{}\n{}", pgready_main(None), checked_queries());
            write_crate(&crate_dir, name, &pgready_deps, &main)?;
            std::fs::write(crate_dir.join("pgready.toml"), &config)?;
        }
        if let Some(name) = &generated.hand {
            // The TLS feature pgready enables too: one sqlx build serves both, and a
            // production service needs it either way.
            let deps = format!(
                "sqlx = {{ version = \"0.9\", default-features = false, features = [\"postgres\", \
                 \"runtime-tokio\", \"migrate\", \"macros\", \"tls-rustls-ring-webpki\"] }}\n\
                 {common}"
            );
            write_crate(&dir.join(name), name, &deps, &hand_main())?;
        }
        let members: Vec<String> = [&generated.pgready, &generated.expanded]
            .into_iter()
            .chain(&generated.hand)
            .chain(&generated.queries)
            .map(|name| format!("\"{name}\""))
            .collect();
        std::fs::write(
            dir.join("Cargo.toml"),
            format!(
                "[workspace]\nresolver = \"3\"\nmembers = [{}]\n\n{}",
                members.join(", "),
                generated::profiles(workspace, without)?
            ),
        )?;
        std::fs::copy(workspace.join("Cargo.lock"), dir.join("Cargo.lock"))?;
        Ok(generated)
    }

    fn measure(&self, target: &Path, label: &str) -> Result<Measured, BoxError> {
        let crates: Vec<&String> = [&self.pgready, &self.expanded]
            .into_iter()
            .chain(&self.hand)
            .chain(&self.queries)
            .collect();
        eprintln!(
            "  compile ({label}): building {} in {} (the first run builds their dependencies)",
            crates
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            self.dir.display()
        );
        for name in &crates {
            self.build(target, name, false)?;
            // A second build, after a touch, fills the incremental cache as the timed ones
            // find it.
            self.touch(name)?;
            self.build(target, name, false)?;
        }
        let mut times: Vec<Vec<Times>> = crates.iter().map(|_| Vec::new()).collect();
        let mut timer = Vec::new();
        for round in 0..REPEATS {
            for (name, samples) in crates.iter().zip(&mut times) {
                self.touch(name)?;
                samples.push(self.build(target, name, false)?.0);
            }
            self.touch(&self.pgready)?;
            let (_, stderr) = self.build(target, &self.pgready, true)?;
            let ms = stderr
                .lines()
                .find_map(|line| {
                    line.strip_prefix("// #[pgready::migrated_pool] expanded in ")?
                        .strip_suffix(" ms")?
                        .parse::<f64>()
                        .ok()
                })
                .ok_or("no expansion time in the build output (PGREADY_MACROS_DEBUG)")?;
            timer.push(ms);
            eprintln!(
                "  compile ({label}) round {}: {}; macro timer {ms:.1} ms",
                round + 1,
                crates
                    .iter()
                    .zip(&times)
                    .map(|(name, t)| format!(
                        "{name} {:.0} ms ({:.0} CPU)",
                        t[round].wall, t[round].cpu
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let deltas: Vec<Times> = times[0]
            .iter()
            .zip(&times[1])
            .map(|(a, b)| Times {
                wall: a.wall - b.wall,
                cpu: a.cpu - b.cpu,
            })
            .collect();
        let queries_at = self.hand.is_some() as usize + 2;
        let queries_delta = times.get(queries_at).map(|q| {
            let d: Vec<Times> = q
                .iter()
                .zip(&times[0])
                .map(|(a, b)| Times {
                    wall: a.wall - b.wall,
                    cpu: a.cpu - b.cpu,
                })
                .collect();
            Times::median(&d)
        });
        Ok(Measured {
            pgready: Times::median(&times[0]),
            expanded: Times::median(&times[1]),
            hand: self
                .hand
                .as_ref()
                .and_then(|_| times.get(2))
                .map(|t| Times::median(t)),
            queries: times.get(queries_at).map(|t| Times::median(t)),
            delta: Times::median(&deltas),
            queries_delta,
            timer: median(timer.iter().copied()),
        })
    }

    /// `cargo build -p name`: its times and stderr.
    fn build(
        &self,
        target: &Path,
        name: &str,
        debug_macros: bool,
    ) -> Result<(Times, String), BoxError> {
        let mut cargo = Command::new("cargo");
        cargo
            .args(["build", "-p", name])
            .current_dir(&self.dir)
            .env("CARGO_TARGET_DIR", target)
            .env_remove("PGREADY_MACROS_DEBUG");
        if debug_macros {
            cargo.env("PGREADY_MACROS_DEBUG", "1");
        }
        let cpu_before = children_cpu();
        let started = Instant::now();
        let out = cargo.output()?;
        let wall = started.elapsed();
        let cpu = children_cpu().saturating_sub(cpu_before);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if !out.status.success() {
            return Err(format!("cargo build -p {name} failed:\n{stderr}").into());
        }
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        Ok((
            Times {
                wall: ms(wall),
                cpu: ms(cpu),
            },
            stderr,
        ))
    }

    /// A new modification time on `src/main.rs`, so cargo recompiles the crate.
    fn touch(&self, name: &str) -> std::io::Result<()> {
        std::fs::File::options()
            .append(true)
            .open(self.dir.join(name).join("src/main.rs"))?
            .set_modified(SystemTime::now())
    }
}

fn write_crate(dir: &Path, name: &str, deps: &str, main: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(dir.join("src"))?;
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\
             publish = false\n\n[dependencies]\n{deps}"
        ),
    )?;
    std::fs::write(dir.join("src/main.rs"), main)
}

/// User plus system CPU of this process's finished children and their descendants (cargo
/// waits for rustc and the linker, so theirs is included), from `/proc/self/stat`'s `cutime`
/// and `cstime`, in clock ticks of 10 ms (`CLK_TCK` = 100 on Linux). Zero where there is no
/// `/proc`.
fn children_cpu() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // Fields after the command name, which may itself hold spaces: field 3 is first.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks: u64 = [13, 14]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

/// The median; a difference of two build times can be negative, so not `Samples`.
fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut sorted: Vec<f64> = values.collect();
    sorted.sort_by(f64::total_cmp);
    sorted
        .get(sorted.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or(f64::NAN)
}

/// `CHECKED_QUERIES` functions, each a checked query on its own table of the generated
/// migrations (`t<i>`: `id`, `name`, `created_at`, `note`).
fn checked_queries() -> String {
    (0..CHECKED_QUERIES)
        .map(|i| {
            format!(
                "#[allow(dead_code)]\nasync fn checked_{i}(db: &pgready::Db, id: i64) -> \
                 Result<Option<String>, sqlx::Error> {{\n    \
                 let row = pgready::query!(\"SELECT id, name, note FROM t{i} WHERE id = $1\", id)\n        \
                 .fetch_one(db.read())\n        .await?;\n    Ok(row.note.map(|n| format!(\"{{}} {{n}}\", row.name)))\n}}\n"
            )
        })
        .collect()
}

/// The handlers both services share; `STATE`, `READ` and `WRITE` name the state type and the
/// executors for reads and writes.
const HANDLERS: &str = r#"
async fn list(State(state): State<STATE>) -> Result<Json<Vec<(i64, String)>>, StatusCode> {
    sqlx::query_as("SELECT id, name FROM t0 ORDER BY id DESC LIMIT 100")
        .fetch_all(READ)
        .await
        .map(Json)
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)
}

async fn create(
    State(state): State<STATE>,
    name: String,
) -> Result<(StatusCode, Json<(i64, String)>), StatusCode> {
    sqlx::query_as("INSERT INTO t0 (name) VALUES ($1) RETURNING id, name")
        .bind(name)
        .fetch_one(WRITE)
        .await
        .map(|row| (StatusCode::CREATED, Json(row)))
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)
}
"#;

const PGREADY_BODY: &str = r#"{
    let app = Router::new()
        .route("/items", get(list).post(create))
        .route("/health", get(health))
        .with_state(db);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
    axum::serve(listener, app).await?;
    Ok(())
}"#;

/// The pgready service; with `expanded` (its crate dir and the migrations), `main` is written as `#[migrated_pool]` expands it
/// (`macros/src/migrated_pool/expand.rs`), with the same absolute `include_str!` paths.
fn pgready_main(expanded: Option<(&Path, &[(String, String)])>) -> String {
    let main = match expanded {
        None => format!(
            "#[pgready::migrated_pool(config = \"pgready.toml\")]\n\
             async fn main(db: pgready::Db) -> Result<(), Box<dyn std::error::Error>> \
             {PGREADY_BODY}\n"
        ),
        Some((crate_dir, files)) => {
            let migrations = crate_dir.join("../migrations");
            let embedded: String = files
                .iter()
                .map(|(name, _)| {
                    format!(
                        "::pgready::__private::EmbeddedFile {{ name: {name:?}, \
                         sql: ::core::include_str!({:?}) }},\n",
                        migrations.join(name).display().to_string()
                    )
                })
                .collect();
            format!(
                "fn main() -> Result<(), Box<dyn std::error::Error>> {{\n\
                 async fn __pgready_main(db: pgready::Db) -> Result<(), Box<dyn std::error::Error>> \
                 {PGREADY_BODY}\n\
                 ::pgready::__private::run(\n\
                 ::pgready::__private::Setup::new(\n\
                 ::core::include_str!({:?}),\n\
                 ::core::env!(\"CARGO_PKG_NAME\"),\n\
                 &[{embedded}],\n\
                 ),\n\
                 __pgready_main,\n\
                 )\n}}\n",
                crate_dir.join("pgready.toml").display().to_string()
            )
        }
    };
    format!(
        "use axum::extract::State;\nuse axum::http::StatusCode;\nuse axum::routing::get;\n\
         use axum::{{Json, Router}};\nuse pgready::sqlx;\n\n{main}\n\
         #[pgready::health_endpoint]\nasync fn health() {{}}\n{}",
        HANDLERS
            .replace("STATE", "pgready::Db")
            .replace("READ", "state.read()")
            .replace("WRITE", "state.write()")
    )
}

/// The same service by hand: a configured `PgPool`, `sqlx::migrate!()`, a health handler
/// that asks the database.
fn hand_main() -> String {
    format!(
        r#"use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{{Json, Router}};
use sqlx::Executor;
use sqlx::postgres::{{PgPool, PgPoolOptions}};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {{
    let url = std::env::var("DATABASE_URL")?;
    let pool = PgPoolOptions::new()
        .max_connections(10)
        .min_connections(2)
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(|conn, _| {{
            Box::pin(async move {{
                conn.execute("SET statement_timeout = '5s'; SET lock_timeout = '2s'")
                    .await?;
                Ok(())
            }})
        }})
        .connect(&url)
        .await?;
    sqlx::migrate!("../migrations").run(&pool).await?;
    let app = Router::new()
        .route("/items", get(list).post(create))
        .route("/health", get(health))
        .with_state(pool);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
    axum::serve(listener, app).await?;
    Ok(())
}}

async fn health(State(pool): State<PgPool>) -> StatusCode {{
    match sqlx::query("SELECT 1").execute(&pool).await {{
        Ok(_) => StatusCode::OK,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }}
}}
{}"#,
        HANDLERS
            .replace("STATE", "PgPool")
            .replace("READ", "&state")
            .replace("WRITE", "&state")
    )
}
