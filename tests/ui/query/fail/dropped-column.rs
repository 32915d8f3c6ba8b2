// a later migration dropped the column: the build fails at the query, naming it
fn main() {
    let _ = pgready::query!("UPDATE tasks SET legacy = $1", "x");
}
