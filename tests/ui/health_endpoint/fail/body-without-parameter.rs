#[pgready::health_endpoint]
async fn health() {
    println!("checking");
}

fn main() {}
