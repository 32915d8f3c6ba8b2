use axum::routing::get;
use pgready::health::{Check, Checks};

/// Built-ins plus two checks of our own.
#[pgready::health_endpoint(timeout = "1s")]
async fn health(db: &pgready::Db) -> Checks {
    let db = db.clone();
    Checks::new()
        .add("items:count", async move {
            let n: i64 = pgready::sqlx::query_scalar("SELECT count(*) FROM items")
                .fetch_one(db.read())
                .await?;
            Ok::<_, pgready::sqlx::Error>(Check::pass().with_observed(n as f64, "items"))
        })
        .add("queue:connectivity", async { Check::warn("queue is slow") })
}

#[pgready::health_endpoint]
async fn short(_: &::pgready::Db) -> pgready::health::Checks {
    Checks::new()
}

fn main() {
    let _app: axum::Router<pgready::Db> = axum::Router::new()
        .route("/health", get(health))
        .route("/short", get(short));
}
