#[pgready::health_endpoint(timeout = "1s", timeout = "2s")]
async fn health() {}

fn main() {}
