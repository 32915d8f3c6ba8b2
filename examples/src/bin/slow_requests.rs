//! A service whose requests can outlive `[shutdown] grace`: `GET /sleep/{ms}` holds a pooled
//! connection in `pg_sleep` for that long, `GET /health` is readiness. Its test
//! (`tests/shutdown.rs`) shows that such a request does not hold up the exit, and that a
//! second signal stops at once.
//!
//! ```text
//! cargo run -p pgready-examples --bin slow_requests
//! curl -s localhost:8081/sleep/60000 &   # then Ctrl-C: the exit waits 0.3 s + at most 1 s
//! ```

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use pgready::sqlx;

#[pgready::migrated_pool(config = "slow_requests.toml")]
async fn main(db: pgready::Db) -> Result<(), Box<dyn std::error::Error>> {
    let app = Router::new()
        .route("/sleep/{ms}", get(sleep))
        .route("/health", get(health))
        .with_state(db.clone());
    let addr = std::env::var("SLOW_REQUESTS_ADDR").unwrap_or_else(|_| "127.0.0.1:8081".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!(
        "slow_requests listening on http://{}",
        listener.local_addr()?
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(db.shutdown_signal())
        .await?;
    Ok(())
}

#[pgready::health_endpoint]
async fn health() {}

/// Sleeps `ms` milliseconds in PostgreSQL, on a connection from the write pool.
async fn sleep(
    State(db): State<pgready::Db>,
    Path(ms): Path<u32>,
) -> Result<String, pgready::Error> {
    sqlx::query("SELECT pg_sleep($1::float8 / 1000)")
        .bind(f64::from(ms))
        .execute(db.write())
        .await?;
    Ok(format!("slept {ms} ms\n"))
}
