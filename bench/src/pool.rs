//! `pool`: 64 tasks hammering `SELECT 1` and a primary-key lookup through pgready's `Db`, a
//! hand-written `PgPool` with identical settings, a `PgPool` with sqlx's defaults, and
//! dedicated connections with no pool, two ways: 16 tasks each owning its connection (the
//! limit any pool can reach: no lock, no hand-over), and 64 tasks sharing the 16 connections
//! behind a `tokio::sync::Mutex` each; and the least a pool does (a fair semaphore and a stack
//! of connections, nothing else), which shows what the hand-over itself costs.
//!
//! Even iterations run `SELECT 1` through the pool as an executor (`fetch_one(db.write())`,
//! what service code writes); odd ones acquire explicitly, which is where acquire latency is
//! timed, and run the lookup on the connection. Every contender, the owned one included, runs
//! the same task loop and the same per-query function, so the bench's own dispatch costs them
//! all alike. Contenders take turns in rounds, so drift on a
//! noisy machine spreads over all of them; queries/s is the median over the rounds. Beside
//! it: the client process's CPU time per query (`/proc/self/stat`, all threads) and its heap
//! allocations per query (the bench's counting allocator), which do not depend on the load.

use std::error::Error;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, Executor, SqlSafeStr};
use tokio::sync::Mutex;

use crate::report::{Better, Figure, Samples};
use crate::server::{self, Server};

const TASKS: usize = 64;
const MAX: u32 = 16;
const ROWS: i32 = 10_000;
const WARM_UP: Duration = Duration::from_millis(500);

/// pgready's `[pool]` defaults except the size, so the hand-written pool can copy them.
const CONFIG: &str = "[pool]\nmax_connections = 16\nmin_connections = 16\n\
                      [migrations]\non_startup = \"off\"\n";
/// The session batch pgready runs on every new connection with the default `[session]`.
const SESSION_SQL: &str = "SET statement_timeout = 30000;\nSET lock_timeout = 5000;\n\
     SET idle_in_transaction_session_timeout = 60000;\nSET TimeZone = 'UTC';\n\
     SET search_path = \"public\";\n";

type BoxError = Box<dyn Error + Send + Sync>;

enum Contender {
    Pgready(pgready::Db),
    Sqlx(PgPool),
    /// Variant B: the 64 tasks take turns on 16 connections, each behind a lock.
    Dedicated(Arc<Vec<Mutex<PgConnection>>>),
    /// Variant A: 16 tasks, each owning one connection for the whole run; no lock.
    Owned(std::sync::Mutex<Vec<PgConnection>>),
    /// The least a pool does: a fair semaphore of 16 permits and a stack of connections.
    Minimal(tokio::sync::Semaphore, std::sync::Mutex<Vec<PgConnection>>),
}

impl Contender {
    /// One query; returns the acquire (or lock) wait when this iteration timed one. `own`:
    /// the task's own connection, for the owned variant (which waits for nothing: zero). Every
    /// contender runs through this one function and the one loop of [`drive`], so the bench's
    /// own dispatch costs them all the same.
    async fn once(
        &self,
        task: usize,
        iteration: u64,
        own: Option<&mut PgConnection>,
    ) -> Result<Option<Duration>, BoxError> {
        let id = ((task as u64 * 7919 + iteration) % ROWS as u64) as i32 + 1;
        let lookup = "SELECT v FROM kv WHERE id = $1";
        if let Contender::Owned(_) = self {
            let conn = own.ok_or("the owned variant runs on the task's own connection")?;
            if iteration.is_multiple_of(2) {
                let _: i32 = sqlx::query_scalar("SELECT 1").fetch_one(&mut *conn).await?;
                return Ok(None);
            }
            let _: String = sqlx::query_scalar(lookup)
                .bind(id)
                .fetch_one(&mut *conn)
                .await?;
            return Ok(Some(Duration::ZERO));
        }
        if iteration.is_multiple_of(2) {
            match self {
                Contender::Pgready(db) => {
                    let _: i32 = sqlx::query_scalar("SELECT 1").fetch_one(db.write()).await?;
                }
                Contender::Sqlx(pool) => {
                    let _: i32 = sqlx::query_scalar("SELECT 1").fetch_one(pool).await?;
                }
                Contender::Dedicated(conns) => {
                    let mut conn = conns[task % conns.len()].lock().await;
                    let _: i32 = sqlx::query_scalar("SELECT 1").fetch_one(&mut *conn).await?;
                }
                Contender::Minimal(permits, conns) => {
                    let _permit = permits.acquire().await?;
                    let mut conn = conns.lock().map_err(|_| "poisoned")?.pop().ok_or("empty")?;
                    let r = sqlx::query_scalar::<_, i32>("SELECT 1")
                        .fetch_one(&mut conn)
                        .await;
                    conns.lock().map_err(|_| "poisoned")?.push(conn);
                    r?;
                }
                Contender::Owned(_) => {}
            }
            return Ok(None);
        }
        let started = Instant::now();
        let waited;
        match self {
            Contender::Pgready(db) => {
                let mut conn = db.write().acquire().await?;
                waited = started.elapsed();
                let _: String = sqlx::query_scalar(lookup)
                    .bind(id)
                    .fetch_one(&mut *conn)
                    .await?;
            }
            Contender::Sqlx(pool) => {
                let mut conn = pool.acquire().await?;
                waited = started.elapsed();
                let _: String = sqlx::query_scalar(lookup)
                    .bind(id)
                    .fetch_one(&mut *conn)
                    .await?;
            }
            Contender::Dedicated(conns) => {
                let mut conn = conns[task % conns.len()].lock().await;
                waited = started.elapsed();
                let _: String = sqlx::query_scalar(lookup)
                    .bind(id)
                    .fetch_one(&mut *conn)
                    .await?;
            }
            Contender::Minimal(permits, conns) => {
                let _permit = permits.acquire().await?;
                let mut conn = conns.lock().map_err(|_| "poisoned")?.pop().ok_or("empty")?;
                waited = started.elapsed();
                let r = sqlx::query_scalar::<_, String>(lookup)
                    .bind(id)
                    .fetch_one(&mut conn)
                    .await;
                conns.lock().map_err(|_| "poisoned")?.push(conn);
                r?;
            }
            Contender::Owned(_) => waited = Duration::ZERO,
        }
        Ok(Some(waited))
    }
}

#[derive(Default)]
struct Tally {
    queries: u64,
    elapsed: Duration,
    latency: Samples,
    acquire: Samples,
    /// Client process CPU time (user + system, all threads) over the run.
    cpu: Duration,
    /// Heap allocations over the run (every thread: the bench's too).
    allocations: u64,
    /// The machine's CPU ticks over the run (every process: the server's too), busy and all.
    machine: MachineTicks,
}

/// Runs all tasks against `contender` until `duration` has passed.
async fn drive(contender: &Arc<Contender>, duration: Duration) -> Result<Tally, BoxError> {
    let cpu = process_cpu();
    let machine = MachineTicks::now();
    let allocations = crate::alloc::count();
    let started = Instant::now();
    let deadline = started + duration;
    // The owned variant: one task per connection, each task holding its own.
    let owned: Vec<Option<PgConnection>> = match &**contender {
        Contender::Owned(conns) => std::mem::take(&mut *conns.lock().map_err(|_| "poisoned")?)
            .into_iter()
            .map(Some)
            .collect(),
        _ => (0..TASKS).map(|_| None).collect(),
    };
    let mut handles = Vec::with_capacity(owned.len());
    for (task, mut own) in owned.into_iter().enumerate() {
        let contender = Arc::clone(contender);
        handles.push(tokio::spawn(async move {
            let mut latency = Samples::with_capacity(8192);
            let mut acquire = Samples::with_capacity(4096);
            let mut iteration = 0u64;
            while Instant::now() < deadline {
                let t = Instant::now();
                let waited = contender.once(task, iteration, own.as_mut()).await?;
                latency.push(t.elapsed());
                if let Some(w) = waited {
                    acquire.push(w);
                }
                iteration += 1;
            }
            Ok::<_, BoxError>((latency, acquire, own))
        }));
    }
    let mut tally = Tally::default();
    let mut back = Vec::new();
    for handle in handles {
        let (latency, acquire, own) = handle.await??;
        back.extend(own);
        tally.queries += latency.len() as u64;
        tally.latency.extend(latency);
        tally.acquire.extend(acquire);
    }
    if let Contender::Owned(conns) = &**contender {
        *conns.lock().map_err(|_| "poisoned")? = back;
    }
    tally.elapsed = started.elapsed();
    tally.cpu = process_cpu().saturating_sub(cpu);
    tally.allocations = crate::alloc::count() - allocations;
    tally.machine = MachineTicks::now().since(machine);
    Ok(tally)
}

/// This process's CPU time so far, user + system over all threads: `utime` and `stime` of
/// `/proc/self/stat`, in clock ticks of 1/100 s (`USER_HZ`, fixed at 100 in Linux's ABI).
/// Zero where there is no `/proc`.
fn process_cpu() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return Duration::ZERO;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state); utime and stime are fields 14 and 15.
    let ticks: u64 = fields
        .get(11..13)
        .map_or(0, |f| f.iter().filter_map(|t| t.parse::<u64>().ok()).sum());
    Duration::from_millis(ticks * 10)
}

/// The machine's CPU time from the first line of `/proc/stat`, in ticks: busy (everything
/// but idle and I/O wait), stolen by the hypervisor, and the total. A run that leaves the CPUs
/// idle is bound by hand-overs and wake-ups, not by CPU.
#[derive(Clone, Copy, Default)]
struct MachineTicks {
    busy: u64,
    steal: u64,
    total: u64,
}

impl MachineTicks {
    fn now() -> MachineTicks {
        let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
            return MachineTicks::default();
        };
        let ticks: Vec<u64> = stat
            .lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .skip(1)
            .filter_map(|t| t.parse().ok())
            .collect();
        // user nice system idle iowait irq softirq steal (guest times are inside user).
        let field = |i: usize| ticks.get(i).copied().unwrap_or(0);
        let total: u64 = (0..8).map(field).sum();
        MachineTicks {
            busy: total - field(3) - field(4),
            steal: field(7),
            total,
        }
    }

    fn since(self, earlier: MachineTicks) -> MachineTicks {
        MachineTicks {
            busy: self.busy.saturating_sub(earlier.busy),
            steal: self.steal.saturating_sub(earlier.steal),
            total: self.total.saturating_sub(earlier.total),
        }
    }

    fn add(&mut self, other: MachineTicks) {
        self.busy += other.busy;
        self.steal += other.steal;
        self.total += other.total;
    }

    fn percent(part: u64, total: u64) -> f64 {
        if total == 0 {
            return 0.0;
        }
        part as f64 * 100.0 / total as f64
    }
}

fn options(url: &str) -> Result<PgConnectOptions, sqlx::Error> {
    let options: PgConnectOptions = url.parse()?;
    Ok(options
        .application_name("pgready-bench")
        .disable_statement_logging())
}

/// What a careful engineer writes by hand to get pgready's pool: same limits, same session
/// batch after connect.
async fn hand_written(url: &str) -> Result<PgPool, sqlx::Error> {
    let settings = sqlx::AssertSqlSafe(SESSION_SQL).into_sql_str();
    PgPoolOptions::new()
        .max_connections(MAX)
        .min_connections(MAX)
        .acquire_timeout(Duration::from_secs(10))
        .idle_timeout(Duration::from_secs(600))
        .max_lifetime(Duration::from_secs(1800))
        .test_before_acquire(true)
        .after_connect(move |conn, _| {
            let settings = settings.clone();
            Box::pin(async move {
                sqlx::raw_sql(settings).execute(conn).await?;
                Ok(())
            })
        })
        .connect_with(options(url)?)
        .await
}

pub async fn run(
    server: &Server,
    seconds: f64,
    rounds: u32,
    only: &[String],
) -> Result<Vec<Figure>, BoxError> {
    let url = server.fresh_database("bench_pool").await?;
    let mut conn = PgConnection::connect(&url).await?;
    conn.execute("CREATE TABLE kv (id int PRIMARY KEY, v text NOT NULL)")
        .await?;
    sqlx::query("INSERT INTO kv SELECT g, md5(g::text) FROM generate_series(1, $1) g")
        .bind(ROWS)
        .execute(&mut conn)
        .await?;
    conn.execute("VACUUM ANALYZE kv").await?;
    conn.close().await?;

    let db = pgready::start(&server::setup(CONFIG, &url)).await?;
    let mut shared = Vec::with_capacity(MAX as usize);
    let mut owned = Vec::with_capacity(MAX as usize);
    let mut minimal = Vec::with_capacity(MAX as usize);
    for _ in 0..MAX {
        for list in [&mut shared, &mut owned, &mut minimal] {
            let mut conn = options(&url)?.connect().await?;
            sqlx::raw_sql(SESSION_SQL).execute(&mut conn).await?;
            list.push(conn);
        }
    }
    let contenders: Vec<(&str, Arc<Contender>)> = vec![
        ("pgready Db", Arc::new(Contender::Pgready(db.clone()))),
        (
            "hand-written PgPool",
            Arc::new(Contender::Sqlx(hand_written(&url).await?)),
        ),
        (
            "PgPool, sqlx defaults",
            Arc::new(Contender::Sqlx(
                PgPoolOptions::new()
                    .max_connections(MAX)
                    .connect(&url)
                    .await?,
            )),
        ),
        (
            "minimal pool",
            Arc::new(Contender::Minimal(
                tokio::sync::Semaphore::new(MAX as usize),
                std::sync::Mutex::new(minimal),
            )),
        ),
        (
            "16 dedicated, 1 task each",
            Arc::new(Contender::Owned(std::sync::Mutex::new(owned))),
        ),
        (
            "16 dedicated, 64 tasks+lock",
            Arc::new(Contender::Dedicated(Arc::new(
                shared.into_iter().map(Mutex::new).collect(),
            ))),
        ),
    ];
    let contenders: Vec<_> = contenders
        .into_iter()
        .filter(|(name, _)| only.is_empty() || only.iter().any(|o| name.contains(o.as_str())))
        .collect();
    if contenders.is_empty() {
        return Err(format!("--only {only:?} matches no contender").into());
    }

    let round = Duration::from_secs_f64(seconds / f64::from(rounds));
    let mut totals: Vec<Tally> = contenders.iter().map(|_| Tally::default()).collect();
    let mut per_round: Vec<Vec<f64>> = contenders.iter().map(|_| Vec::new()).collect();
    for r in 0..rounds {
        // Who goes first changes every round.
        let n = contenders.len();
        for k in 0..n {
            let i = (k + r as usize) % n;
            let (name, contender) = &contenders[i];
            drive(contender, WARM_UP).await?;
            let tally = drive(contender, round).await?;
            let qps = tally.queries as f64 / tally.elapsed.as_secs_f64();
            eprintln!(
                "  pool round {}: {name}: {qps:.0} queries/s, {:.1} µs CPU and {:.1} allocations \
                 per query; machine {:.0} % busy, {:.0} % stolen",
                r + 1,
                tally.cpu.as_secs_f64() * 1e6 / tally.queries as f64,
                tally.allocations as f64 / tally.queries as f64,
                MachineTicks::percent(tally.machine.busy, tally.machine.total),
                MachineTicks::percent(tally.machine.steal, tally.machine.total),
            );
            per_round[i].push(qps);
            let total = &mut totals[i];
            total.queries += tally.queries;
            total.elapsed += tally.elapsed;
            total.cpu += tally.cpu;
            total.allocations += tally.allocations;
            total.machine.add(tally.machine);
            total.latency.extend(tally.latency);
            total.acquire.extend(tally.acquire);
        }
    }

    // pgready against each contender round by round: the two ran minutes apart at most, so
    // drift in the machine's speed cancels out of the ratio.
    let paired: Vec<(f64, f64, f64)> = per_round
        .iter()
        .map(|other| {
            let mut ratios: Vec<f64> = per_round[0].iter().zip(other).map(|(p, o)| p / o).collect();
            ratios.sort_by(f64::total_cmp);
            (
                ratios[0],
                ratios[ratios.len() / 2],
                ratios[ratios.len() - 1],
            )
        })
        .collect();
    let mut rows = Vec::new();
    for (((name, _), t), qps) in contenders.iter().zip(&mut totals).zip(&mut per_round) {
        qps.sort_by(f64::total_cmp);
        rows.push(Row {
            name,
            qps: qps[qps.len() / 2],
            cpu_us: t.cpu.as_secs_f64() * 1e6 / t.queries as f64,
            allocations: t.allocations as f64 / t.queries as f64,
            busy: MachineTicks::percent(t.machine.busy, t.machine.total),
            p50: t.latency.quantile_us(0.5),
            p99: t.latency.quantile_us(0.99),
            a50: t.acquire.quantile_us(0.5),
            a99: t.acquire.quantile_us(0.99),
        });
    }
    println!(
        "\npool: {TASKS} tasks (16 for \"1 task each\"), max {MAX} connections, {seconds} s each \
         in {rounds} interleaved rounds; queries/s is the median round"
    );
    println!(
        "{:<28} {:>10} {:>10} {:>9} {:>7} {:>9} {:>9} {:>11} {:>11}",
        "contender",
        "queries/s",
        "CPU µs/q",
        "allocs/q",
        "busy %",
        "p50 µs",
        "p99 µs",
        "acq p50 µs",
        "acq p99 µs"
    );
    for r in &rows {
        println!(
            "{:<28} {:>10.0} {:>10.1} {:>9.1} {:>7.0} {:>9.0} {:>9.0} {:>11.0} {:>11.0}",
            r.name, r.qps, r.cpu_us, r.allocations, r.busy, r.p50, r.p99, r.a50, r.a99
        );
    }

    if contenders[0].0 == "pgready Db" {
        println!("\npgready's queries/s over each contender's in the same round: median (min–max)");
        for ((name, _), (low, median, high)) in contenders.iter().zip(&paired).skip(1) {
            println!("  {name:<28} {median:.3} ({low:.3}–{high:.3})");
        }
    }

    let mut figures = Vec::new();
    let (pg, baselines) = match rows.split_first() {
        Some((pg, rest)) if pg.name == "pgready Db" => (pg, rest),
        _ => (&rows[0], &[][..]),
    };
    for b in baselines {
        let fig = |metric: &str, pg: f64, base: f64, unit, better| Figure {
            scenario: "pool",
            metric: metric.to_owned(),
            pgready: pg,
            baseline_name: b.name.to_owned(),
            baseline: base,
            unit,
            better,
        };
        figures.push(fig("queries/s", pg.qps, b.qps, "q/s", Better::Higher));
        figures.push(fig(
            "client CPU per query",
            pg.cpu_us,
            b.cpu_us,
            "µs",
            Better::Lower,
        ));
        figures.push(fig("query latency p50", pg.p50, b.p50, "µs", Better::Lower));
        figures.push(fig("query latency p99", pg.p99, b.p99, "µs", Better::Lower));
        if b.name.contains("1 task each") {
            // No acquire, no lock: nothing to compare the acquire wait with.
            continue;
        }
        let wait = if b.name.contains("dedicated") {
            "acquire (vs lock wait)"
        } else {
            "acquire"
        };
        figures.push(fig(
            &format!("{wait} p50"),
            pg.a50,
            b.a50,
            "µs",
            Better::Lower,
        ));
        figures.push(fig(
            &format!("{wait} p99"),
            pg.a99,
            b.a99,
            "µs",
            Better::Lower,
        ));
    }
    db.close().await;
    for (_, contender) in contenders {
        if let Contender::Sqlx(pool) = &*contender {
            pool.close().await;
        }
    }
    Ok(figures)
}

/// One contender's line of the table.
struct Row<'a> {
    name: &'a str,
    qps: f64,
    cpu_us: f64,
    allocations: f64,
    /// The machine's CPU busy over the contender's runs, in percent.
    busy: f64,
    p50: f64,
    p99: f64,
    a50: f64,
    a99: f64,
}
