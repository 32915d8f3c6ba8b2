// a later migration renamed the column: the build fails at the query, naming it
fn main() {
    let _ = pgready::query!("SELECT id, note FROM tasks");
}
