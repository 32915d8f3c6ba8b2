#[pgready::health_endpoint]
async fn health(_db: &pgready::Db, _name: &str) -> pgready::health::Checks {
    pgready::health::Checks::new()
}

fn main() {}
