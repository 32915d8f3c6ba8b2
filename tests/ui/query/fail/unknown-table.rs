fn main() {
    let _ = pgready::query!("SELECT id FROM task");
}
