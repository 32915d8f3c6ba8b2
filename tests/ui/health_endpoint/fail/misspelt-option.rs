#[pgready::health_endpoint(timout = "1s")]
async fn health() {}

fn main() {}
