fn main() {
    let _ = pgready::query!("SELECT status FROM tasks");
}
