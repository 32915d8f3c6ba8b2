fn main() {
    let _ = pgready::query_scalar!("SELECT id, title FROM tasks");
}
