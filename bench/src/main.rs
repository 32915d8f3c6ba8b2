//! pgready against the hand-written sqlx and axum code it replaces, measured in one run on one
//! PostgreSQL server (an embedded temporary cluster with production durability settings).
//!
//! ```sh
//! cargo run -p pgready-bench --release -- all
//! ```

mod alloc;
mod compile;
mod generated;
mod health;
mod history;
mod migrate;
mod pool;
mod report;
mod schema;
mod server;
mod test_db;
mod test_runners;

use clap::{Parser, ValueEnum};

use crate::server::Server;

#[global_allocator]
static ALLOCATOR: alloc::Counting = alloc::Counting;

#[derive(Parser)]
#[command(about = "pgready versus hand-written sqlx, side by side on one server")]
struct Args {
    /// Which scenario to run.
    scenario: Scenario,
    /// Measured seconds per contender in the load scenarios (pool, health).
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// test-runners: build the fixture's SCRAM code (sqlx-postgres, sha2, hmac) at opt-level 3.
    #[arg(long)]
    optimize_auth: bool,
    /// pool: interleaved rounds the measured seconds are split into; queries/s is the median.
    #[arg(long, default_value_t = 3)]
    rounds: u32,
    /// pool: run only the contenders whose name contains this text (repeatable), for
    /// profiling one of them; figures compare pgready with those that ran.
    #[arg(long)]
    only: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    Pool,
    TestDb,
    /// `#[pgready::test]` vs `#[sqlx::test]` under `cargo test` and `cargo nextest run`.
    TestRunners,
    Migrate,
    /// Adopting a long, irregular sqlx history: the compile-time check and applying it.
    History,
    Health,
    /// Macro expansion and incremental rebuild time against a hand-written service.
    Compile,
    /// Replaying 500 migrations into the schema model vs applying them and reading pg_catalog.
    Schema,
    All,
}

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let args = Args::parse();
    // Before anything of ours runs: the load other processes put on the machine.
    let load = report::load_average();
    if let Some([one, ..]) = load
        && one > report::QUIET_LOAD
    {
        eprintln!(
            "warning: the 1-minute load average is {one:.2} (> {}) before the run: other \
             processes share the CPU, and timings will understate what this machine does quiet; \
             the per-query counts (allocations, CPU µs) hold less so than queries/s",
            report::QUIET_LOAD
        );
    }
    let server = Server::start().map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let version = runtime.block_on(server.version())?;
    println!(
        "machine: {} cores ({}), {version}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::env::consts::ARCH,
    );
    println!("server: embedded temporary cluster, default durability (fsync on)");
    println!("load average before the run: {}", report::load_text(load));
    let run = |s: Scenario| args.scenario == s || args.scenario == Scenario::All;

    let mut figures = Vec::new();
    if run(Scenario::Pool) {
        figures.extend(runtime.block_on(pool::run(
            &server,
            args.seconds,
            args.rounds.max(1),
            &args.only,
        ))?);
    }
    if run(Scenario::TestDb) {
        figures.extend(test_db::run(&server, &runtime)?);
    }
    if run(Scenario::TestRunners) {
        figures.extend(test_runners::run(&server, &runtime, args.optimize_auth)?);
    }
    if run(Scenario::Migrate) {
        figures.extend(runtime.block_on(migrate::run(&server))?);
    }
    if run(Scenario::History) {
        figures.extend(runtime.block_on(history::run(&server))?);
    }
    if run(Scenario::Health) {
        figures.extend(runtime.block_on(health::run(&server, args.seconds))?);
    }
    if run(Scenario::Schema) {
        figures.extend(runtime.block_on(schema::run(&server))?);
    }
    if run(Scenario::Compile) {
        figures.extend(compile::run()?);
    }
    report::print(&figures);
    println!(
        "load average: {} before the run, {} after",
        report::load_text(load),
        report::load_text(report::load_average())
    );
    drop(runtime);
    drop(server);
    Ok(())
}
