#[pgready::health_endpoint]
async fn health(_db: &pgready::Db) -> Result<(), String> {
    Ok(())
}

fn main() {}
