#[pgready::health_endpoint(kind = "livenes")]
async fn health() {}

fn main() {}
