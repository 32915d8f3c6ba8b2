#[derive(pgready::Row)]
#[pgready(tabel = "tasks")]
struct Task {
    id: i64,
}

fn main() {}
