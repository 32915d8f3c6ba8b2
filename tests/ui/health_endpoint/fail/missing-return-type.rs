#[pgready::health_endpoint]
async fn health(db: &pgready::Db) {
    let _ = db;
}

fn main() {}
