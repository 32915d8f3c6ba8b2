#[derive(pgready::Row)]
#[pgready(table = "tasks")]
struct Task {
    id: i64,
    owner: String,
}

fn main() {}
