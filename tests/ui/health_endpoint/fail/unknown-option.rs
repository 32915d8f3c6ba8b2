#[pgready::health_endpoint(interval = "1s")]
async fn health() {}

fn main() {}
