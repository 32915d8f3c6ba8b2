fn main() {
    let _ = pgready::query!(
        "SELECT id
         FROM tasks
         WHERE id = = 1"
    );
}
