use axum::extract::FromRef;
use axum::routing::get;

/// An application state that holds the `Db` among other things.
#[derive(Clone)]
struct AppState {
    db: pgready::Db,
    name: &'static str,
}

impl FromRef<AppState> for pgready::Db {
    fn from_ref(state: &AppState) -> pgready::Db {
        state.db.clone()
    }
}

#[pgready::health_endpoint]
async fn health() {}

#[pgready::health_endpoint(kind = "liveness")]
async fn live(_db: &pgready::Db) -> pgready::health::Checks {
    pgready::health::Checks::new()
}

fn main() {
    let _app: axum::Router<AppState> = axum::Router::new()
        .route("/health", get(health))
        .route("/health/live", get(live))
        .route("/metrics", get(pgready::metrics::handler));
    let _ = |state: AppState| state.name;
}
