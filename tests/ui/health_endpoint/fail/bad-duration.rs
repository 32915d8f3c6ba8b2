#[pgready::health_endpoint(timeout = "two seconds")]
async fn health() {}

fn main() {}
