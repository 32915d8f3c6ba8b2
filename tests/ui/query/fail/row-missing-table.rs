#[derive(pgready::Row)]
struct Task {
    id: i64,
}

fn main() {}
