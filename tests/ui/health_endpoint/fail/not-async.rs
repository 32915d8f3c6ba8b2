#[pgready::health_endpoint]
fn health() {}

fn main() {}
