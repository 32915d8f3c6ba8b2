//! `pool`: 64 tasks hammering `SELECT 1` and a primary-key lookup through pgready's `Db`, a
//! hand-written `PgPool` with identical settings, a `PgPool` with sqlx's defaults, and
//! dedicated connections with no pool (the limit any pool can reach).
//!
//! Even iterations run `SELECT 1` through the pool as an executor (`fetch_one(db.write())`,
//! what service code writes); odd ones acquire explicitly, which is where acquire latency is
//! timed, and run the lookup on the connection. Contenders take turns in rounds, so drift on a
//! noisy machine spreads over all of them.

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
const ROUNDS: u32 = 2;
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
    Dedicated(Arc<Vec<Mutex<PgConnection>>>),
}

impl Contender {
    /// One query; returns the acquire (or lock) wait when this iteration timed one.
    async fn once(&self, task: usize, iteration: u64) -> Result<Option<Duration>, BoxError> {
        let id = ((task as u64 * 7919 + iteration) % ROWS as u64) as i32 + 1;
        let lookup = "SELECT v FROM kv WHERE id = $1";
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
}

/// Runs all tasks against `contender` until `duration` has passed.
async fn drive(contender: &Arc<Contender>, duration: Duration) -> Result<Tally, BoxError> {
    let started = Instant::now();
    let deadline = started + duration;
    let mut handles = Vec::with_capacity(TASKS);
    for task in 0..TASKS {
        let contender = Arc::clone(contender);
        handles.push(tokio::spawn(async move {
            let mut latency = Samples::with_capacity(8192);
            let mut acquire = Samples::with_capacity(4096);
            let mut iteration = 0u64;
            while Instant::now() < deadline {
                let t = Instant::now();
                let waited = contender.once(task, iteration).await?;
                latency.push(t.elapsed());
                if let Some(w) = waited {
                    acquire.push(w);
                }
                iteration += 1;
            }
            Ok::<_, BoxError>((latency, acquire))
        }));
    }
    let mut tally = Tally::default();
    for handle in handles {
        let (latency, acquire) = handle.await??;
        tally.queries += latency.len() as u64;
        tally.latency.extend(latency);
        tally.acquire.extend(acquire);
    }
    tally.elapsed = started.elapsed();
    Ok(tally)
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

pub async fn run(server: &Server, seconds: f64) -> Result<Vec<Figure>, BoxError> {
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
    let mut dedicated = Vec::with_capacity(MAX as usize);
    for _ in 0..MAX {
        let mut conn = options(&url)?.connect().await?;
        sqlx::raw_sql(SESSION_SQL).execute(&mut conn).await?;
        dedicated.push(Mutex::new(conn));
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
            "16 dedicated connections",
            Arc::new(Contender::Dedicated(Arc::new(dedicated))),
        ),
    ];

    let round = Duration::from_secs_f64(seconds / f64::from(ROUNDS));
    let mut totals: Vec<Tally> = contenders.iter().map(|_| Tally::default()).collect();
    for r in 0..ROUNDS {
        for ((name, contender), total) in contenders.iter().zip(&mut totals) {
            drive(contender, WARM_UP).await?;
            let tally = drive(contender, round).await?;
            eprintln!(
                "  pool round {}: {name}: {:.0} queries/s",
                r + 1,
                tally.queries as f64 / tally.elapsed.as_secs_f64()
            );
            total.queries += tally.queries;
            total.elapsed += tally.elapsed;
            total.latency.extend(tally.latency);
            total.acquire.extend(tally.acquire);
        }
    }

    let mut rows = Vec::new();
    for ((name, _), t) in contenders.iter().zip(&mut totals) {
        rows.push((
            *name,
            t.queries as f64 / t.elapsed.as_secs_f64(),
            t.latency.quantile_us(0.5),
            t.latency.quantile_us(0.99),
            t.acquire.quantile_us(0.5),
            t.acquire.quantile_us(0.99),
        ));
    }
    println!("\npool: {TASKS} tasks, max {MAX} connections, {seconds} s each ({ROUNDS} rounds)");
    println!(
        "{:<26} {:>10} {:>10} {:>10} {:>12} {:>12}",
        "contender", "queries/s", "p50 µs", "p99 µs", "acq p50 µs", "acq p99 µs"
    );
    for (name, qps, p50, p99, a50, a99) in &rows {
        println!("{name:<26} {qps:>10.0} {p50:>10.0} {p99:>10.0} {a50:>12.0} {a99:>12.0}");
    }

    let (_, qps, p50, p99, a50, a99) = rows[0];
    let mut figures = Vec::new();
    for (name, bqps, b50, b99, ba50, ba99) in &rows[1..] {
        let fig = |metric: &str, pg: f64, base: f64, unit, better| Figure {
            scenario: "pool",
            metric: metric.to_owned(),
            pgready: pg,
            baseline_name: (*name).to_owned(),
            baseline: base,
            unit,
            better,
        };
        figures.push(fig("queries/s", qps, *bqps, "q/s", Better::Higher));
        figures.push(fig("query latency p50", p50, *b50, "µs", Better::Lower));
        figures.push(fig("query latency p99", p99, *b99, "µs", Better::Lower));
        let wait = if name.contains("dedicated") {
            "acquire (vs lock wait)"
        } else {
            "acquire"
        };
        figures.push(fig(&format!("{wait} p50"), a50, *ba50, "µs", Better::Lower));
        figures.push(fig(&format!("{wait} p99"), a99, *ba99, "µs", Better::Lower));
    }
    db.close().await;
    for (_, contender) in contenders {
        if let Contender::Sqlx(pool) = &*contender {
            pool.close().await;
        }
    }
    Ok(figures)
}
