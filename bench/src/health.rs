//! `health`: a probe storm (64 keep-alive clients) against `#[pgready::health_endpoint]`, a
//! static JSON handler (the upper bound for any handler) and the naive handler that queries
//! the database on every request (`SELECT 1` plus a `count(*)`). Database load is the
//! `xact_commit` delta of the dedicated database the handlers use. Handlers take turns in
//! rounds, so a build starting on the shared machine halfway through slows all of them.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Connection, Executor, PgConnection};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::report::{Better, Figure, Samples};
use crate::server::{self, Server};

const CLIENTS: usize = 64;
const ROUNDS: u32 = 3;
const DATABASE: &str = "bench_health";
const CONFIG: &str = "[pool]\nmax_connections = 16\nmin_connections = 2\n\
                      [migrations]\non_startup = \"off\"\n";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Readiness with `[health]` defaults spelt out: 2 s timeout, 1 s cache.
#[pgready::health_endpoint(timeout = "2s", cache = "1s")]
async fn health() {}

async fn static_json() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "pass" }))
}

/// What a health check written in a hurry does: ask the database on every request.
async fn naive(State(pool): State<PgPool>) -> Result<Json<serde_json::Value>, StatusCode> {
    let unavailable = |_| StatusCode::SERVICE_UNAVAILABLE;
    let _: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(&pool)
        .await
        .map_err(unavailable)?;
    let items: i64 = sqlx::query_scalar("SELECT count(*) FROM items")
        .fetch_one(&pool)
        .await
        .map_err(unavailable)?;
    Ok(Json(
        serde_json::json!({ "status": "pass", "items": items }),
    ))
}

#[derive(Default)]
struct Storm {
    requests: u64,
    failures: u64,
    elapsed: Duration,
    latency: Samples,
    transactions: i64,
    /// This process's CPU time: the server and the clients, not PostgreSQL.
    cpu: Duration,
}

impl Storm {
    fn add(&mut self, other: Storm) {
        self.requests += other.requests;
        self.failures += other.failures;
        self.elapsed += other.elapsed;
        self.latency.extend(other.latency);
        self.transactions += other.transactions;
        self.cpu += other.cpu;
    }
}

pub async fn run(server: &Server, seconds: f64) -> Result<Vec<Figure>, BoxError> {
    let url = server.fresh_database(DATABASE).await?;
    let mut conn = PgConnection::connect(&url).await?;
    conn.execute(
        "CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL); \
         INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 1000) g",
    )
    .await?;
    conn.close().await?;

    let db = pgready::start(&server::setup(CONFIG, &url)).await?;
    let naive_pool = PgPoolOptions::new()
        .max_connections(16)
        .connect(&url)
        .await?;
    let app = axum::Router::new()
        .route("/health", get(health))
        .with_state(db.clone())
        .merge(
            axum::Router::new()
                .route("/naive", get(naive))
                .with_state(naive_pool.clone()),
        )
        .route("/static", get(static_json));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let serving = tokio::spawn(async move { axum::serve(listener, app).await });

    let handlers = [
        ("pgready health endpoint", "/health"),
        ("static JSON handler", "/static"),
        ("naive handler (SELECT 1 + count)", "/naive"),
    ];
    let round = Duration::from_secs_f64(seconds / f64::from(ROUNDS));
    let mut totals: Vec<Storm> = handlers.iter().map(|_| Storm::default()).collect();
    for r in 0..ROUNDS {
        for ((name, path), total) in handlers.iter().zip(&mut totals) {
            let storm = storm(server, addr, path, round).await?;
            eprintln!(
                "  health round {}: {name}: {:.0} requests/s, {} failed",
                r + 1,
                storm.requests as f64 / storm.elapsed.as_secs_f64(),
                storm.failures
            );
            total.add(storm);
        }
    }
    let results = handlers.iter().map(|(name, _)| *name).zip(totals);
    serving.abort();
    db.close().await;
    naive_pool.close().await;

    println!("\nhealth: {CLIENTS} keep-alive clients, {seconds} s each ({ROUNDS} rounds)");
    println!(
        "{:<34} {:>11} {:>9} {:>9} {:>8} {:>14} {:>10}",
        "handler", "requests/s", "p50 µs", "p99 µs", "failed", "db xacts (/s)", "cpu µs/req"
    );
    let mut rows = Vec::new();
    for (name, mut s) in results {
        let secs = s.elapsed.as_secs_f64();
        let row = (
            name,
            s.requests as f64 / secs,
            s.latency.quantile_us(0.5),
            s.latency.quantile_us(0.99),
            s.transactions as f64,
            s.transactions as f64 / secs,
            s.cpu.as_secs_f64() * 1e6 / s.requests.max(1) as f64,
        );
        println!(
            "{:<34} {:>11.0} {:>9.0} {:>9.0} {:>8} {:>6} ({:.1}) {:>10.1}",
            row.0, row.1, row.2, row.3, s.failures, row.4, row.5, row.6
        );
        rows.push(row);
    }
    let fig = |metric: &str, pg: f64, base: f64, baseline: &str, unit, better| Figure {
        scenario: "health",
        metric: metric.to_owned(),
        pgready: pg,
        baseline_name: baseline.to_owned(),
        baseline: base,
        unit,
        better,
    };
    let (pg, st, nv) = (&rows[0], &rows[1], &rows[2]);
    Ok(vec![
        fig("requests/s", pg.1, st.1, st.0, "req/s", Better::Higher),
        fig("latency p99", pg.3, st.3, st.0, "µs", Better::Lower),
        fig(
            "process CPU per request (server + clients)",
            pg.6,
            st.6,
            st.0,
            "µs/req",
            Better::Lower,
        ),
        fig("requests/s", pg.1, nv.1, nv.0, "req/s", Better::Higher),
        fig("latency p99", pg.3, nv.3, nv.0, "µs", Better::Lower),
        fig(
            "database transactions per second",
            pg.5,
            nv.5,
            nv.0,
            "xact/s",
            Better::Lower,
        ),
    ])
}

/// `CLIENTS` keep-alive connections sending `GET path` back to back for `duration`.
async fn storm(
    server: &Server,
    addr: SocketAddr,
    path: &'static str,
    duration: Duration,
) -> Result<Storm, BoxError> {
    let before = transactions(server).await?;
    let cpu_before = process_cpu();
    let started = Instant::now();
    let deadline = started + duration;
    let mut handles = Vec::with_capacity(CLIENTS);
    for _ in 0..CLIENTS {
        handles.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
            let mut buf = Vec::with_capacity(4096);
            let mut latency = Samples::with_capacity(16_384);
            let mut failures = 0u64;
            while Instant::now() < deadline {
                let t = Instant::now();
                stream.write_all(request.as_bytes()).await?;
                let status = read_response(&mut stream, &mut buf).await?;
                latency.push(t.elapsed());
                if status != 200 {
                    failures += 1;
                }
            }
            Ok::<_, BoxError>((latency, failures))
        }));
    }
    let mut latency = Samples::default();
    let mut failures = 0;
    for handle in handles {
        let (l, f) = handle.await??;
        latency.extend(l);
        failures += f;
    }
    let elapsed = started.elapsed();
    let cpu = process_cpu().saturating_sub(cpu_before);
    // Backends report their statistics at most once a second, when idle.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after = transactions(server).await?;
    Ok(Storm {
        requests: latency.len() as u64,
        failures,
        elapsed,
        latency,
        transactions: after - before,
        cpu,
    })
}

/// Reads one response (headers plus a `content-length` body) and returns its status.
async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<u16, BoxError> {
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end])?;
            let status: u16 = head
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .ok_or("no status code")?;
            let length: usize = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .ok_or("no content-length")?;
            let total = end + 4 + length;
            while buf.len() < total {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return Err("connection closed mid-body".into());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            buf.drain(..total);
            return Ok(status);
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err("connection closed".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// On-CPU time of every thread of this process, from the scheduler's own accounting
/// (`/proc/self/task/*/schedstat`, nanoseconds). On a machine shared with other work, CPU per
/// request moves much less between runs than requests per second. Zero where there is no
/// `/proc`.
fn process_cpu() -> Duration {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    let nanos: u64 = tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(nanos)
}

/// Committed plus rolled-back transactions in the handlers' database, counted by the server.
async fn transactions(server: &Server) -> Result<i64, BoxError> {
    let mut admin = server.admin().await?;
    let n: i64 = sqlx::query_scalar(
        "SELECT (xact_commit + xact_rollback)::int8 FROM pg_stat_database WHERE datname = $1",
    )
    .bind(DATABASE)
    .fetch_one(&mut admin)
    .await?;
    admin.close().await?;
    Ok(n)
}
