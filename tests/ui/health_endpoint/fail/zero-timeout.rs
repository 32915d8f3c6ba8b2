#[pgready::health_endpoint(timeout = "0")]
async fn health() {}

fn main() {}
