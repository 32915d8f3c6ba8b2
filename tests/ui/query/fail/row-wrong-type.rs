#[derive(pgready::Row)]
#[pgready(table = "tasks")]
struct Task {
    id: i32,
    title: String,
}

fn main() {}
