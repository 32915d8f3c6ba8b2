use axum::routing::get;

#[pgready::health_endpoint]
async fn health() {}

#[pgready::health_endpoint(kind = "liveness", timeout = "250ms", cache = "0", detail = "none")]
pub async fn live() {}

#[pgready::health_endpoint(kind = "readiness", timeout = "1s 500ms", cache = "5s", detail = "full")]
pub(crate) async fn ready() {}

fn main() {
    let _app: axum::Router<pgready::Db> = axum::Router::new()
        .route("/health", get(health))
        .route("/health/live", get(live))
        .route("/health/ready", get(ready));
}
