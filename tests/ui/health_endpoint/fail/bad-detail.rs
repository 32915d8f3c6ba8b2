#[pgready::health_endpoint(detail = "verbose")]
async fn health() {}

fn main() {}
