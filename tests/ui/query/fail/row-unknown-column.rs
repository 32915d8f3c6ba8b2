#[derive(pgready::Row)]
#[pgready(table = "tasks")]
struct Task {
    id: i64,
    titel: String,
}

fn main() {}
