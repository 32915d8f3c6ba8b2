#[pgready::health_endpoint(kind = "ready")]
async fn health() {}

fn main() {}
