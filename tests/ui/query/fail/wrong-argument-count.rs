fn main() {
    let _ = pgready::query!("SELECT title FROM tasks WHERE id = $1 AND title = $2", 7i64);
}
