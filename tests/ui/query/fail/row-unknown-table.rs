#[derive(pgready::Row)]
#[pgready(table = "taks")]
struct Task {
    id: i64,
}

fn main() {}
