#[derive(pgready::Row)]
#[pgready(table = "tasks")]
struct Task {
    id: i64,
    note: Option<String>,
}

fn main() {}
