struct Task {
    id: i32,
    title: String,
}

fn main() {
    let _ = pgready::query_as!(Task, "SELECT id, title FROM tasks");
}
