struct Task {
    id: i64,
    remark: String,
}

fn main() {
    let _ = pgready::query_as!(Task, "SELECT id, remark FROM tasks");
}
