#[derive(pgready::Row)]
#[pgready(table = "tasks")]
struct Task {
    id: i64,
    status: String,
}

fn main() {}
