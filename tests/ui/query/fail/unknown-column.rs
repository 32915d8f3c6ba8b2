fn main() {
    let _ = pgready::query!("SELECT id, titel FROM tasks");
}
