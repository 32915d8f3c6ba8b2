#[pgready::health_endpoint(ttl = "1s")]
async fn health() {}

fn main() {}
