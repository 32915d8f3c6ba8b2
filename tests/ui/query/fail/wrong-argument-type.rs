fn main() {
    let _ = pgready::query!("SELECT title FROM tasks WHERE id = $1", "seven");
}
