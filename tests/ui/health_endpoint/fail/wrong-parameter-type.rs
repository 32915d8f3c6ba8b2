#[pgready::health_endpoint]
async fn health(db: pgready::Db) -> pgready::health::Checks {
    let _ = db;
    pgready::health::Checks::new()
}

fn main() {}
