//! A small service on pgready: `POST /items`, `GET /items`, `GET /items/{id}`, plus the
//! orchestrator's `GET /health` (readiness), `GET /health/live` (liveness) and Prometheus's
//! `GET /metrics`.
//!
//! ```text
//! cargo run -p pgready-examples --bin quickstart
//! curl -s -X POST localhost:8080/items -H 'content-type: application/json' -d '{"name":"milk"}'
//! curl -s localhost:8080/items
//! curl -s localhost:8080/health
//! ```
//!
//! With no `DATABASE_URL`, pgready starts an embedded PostgreSQL and applies `migrations/`.
//!
//! On SIGTERM or Ctrl-C, `/health` answers 503 for `[shutdown] drain` (1 s here) while
//! requests are still served; then the server stops accepting, requests in flight finish
//! (within `[shutdown] grace`), the pools close, and the process exits with status 0.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use pgready::sqlx;
use serde::{Deserialize, Serialize};

/// A row of `items`, checked at compile time against the migrations: a field for a column that
/// does not exist, of the wrong type, or not `Option` for a nullable column is a build error.
#[derive(Serialize, pgready::Row)]
#[pgready(table = "items")]
struct Item {
    id: i64,
    name: String,
    done: bool,
}

#[derive(Deserialize)]
struct NewItem {
    name: String,
}

#[pgready::migrated_pool(config = "pgready.toml")]
async fn main(db: pgready::Db) -> Result<(), Box<dyn std::error::Error>> {
    let app = Router::new()
        .route("/items", get(list).post(create))
        .route("/items/{id}", get(show))
        .route("/health", get(health))
        .route("/health/live", get(live))
        .route("/metrics", get(pgready::metrics::handler))
        .with_state(db.clone());
    let addr = std::env::var("QUICKSTART_ADDR").unwrap_or_else(|_| "127.0.0.1:8080".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("quickstart listening on http://{}", listener.local_addr()?);
    // `shutdown_signal()` resolves after SIGTERM or Ctrl-C and the drain: axum stops
    // accepting, lets requests in flight finish, and `main` returns.
    axum::serve(listener, app)
        .with_graceful_shutdown(db.shutdown_signal())
        .await?;
    Ok(())
}

/// Readiness: the database answers, the pools have room, the migrations are applied.
#[pgready::health_endpoint]
async fn health() {}

/// Liveness: never touches the database, so an outage does not restart every instance.
#[pgready::health_endpoint(kind = "liveness")]
async fn live() {}

async fn list(State(db): State<pgready::Db>) -> Result<Json<Vec<Item>>, ApiError> {
    // checked at compile time against the migrations: a typo, a dropped column or a wrong
    // type in `Item` is a build error here, with no database
    let items = pgready::query_as!(
        Item,
        "SELECT id, name, done FROM items ORDER BY id DESC LIMIT 100"
    )
    .fetch_all(db.read())
    .await?;
    Ok(Json(items))
}

async fn create(
    State(db): State<pgready::Db>,
    Json(new): Json<NewItem>,
) -> Result<(StatusCode, Json<Item>), ApiError> {
    let item = pgready::query_as!(
        Item,
        "INSERT INTO items (name) VALUES ($1) RETURNING id, name, done",
        new.name
    )
    .fetch_one(db.write())
    .await?;
    Ok((StatusCode::CREATED, Json(item)))
}

async fn show(State(db): State<pgready::Db>, Path(id): Path<i64>) -> Result<Json<Item>, ApiError> {
    let item = pgready::query_as!(Item, "SELECT id, name, done FROM items WHERE id = $1", id)
        .fetch_optional(db.read())
        .await?;
    item.map(Json).ok_or(ApiError::NotFound)
}

/// Database errors become a 500 without their text; constraint violations a 422.
enum ApiError {
    NotFound,
    Invalid,
    Internal,
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        match e.as_database_error().and_then(|d| d.code()) {
            // check_violation, not_null_violation
            Some(code) if code == "23514" || code == "23502" => ApiError::Invalid,
            _ => {
                eprintln!("database error: {e}");
                ApiError::Internal
            }
        }
    }
}

impl axum::response::IntoResponse for ApiError {
    fn into_response(self) -> axum::response::Response {
        let (status, message) = match self {
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not found"),
            ApiError::Invalid => (StatusCode::UNPROCESSABLE_ENTITY, "invalid item"),
            ApiError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal error"),
        };
        (status, Json(serde_json::json!({ "error": message }))).into_response()
    }
}
