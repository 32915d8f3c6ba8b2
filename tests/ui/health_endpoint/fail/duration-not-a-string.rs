#[pgready::health_endpoint(cache = 1)]
async fn health() {}

fn main() {}
