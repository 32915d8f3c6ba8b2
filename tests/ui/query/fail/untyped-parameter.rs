fn main() {
    let _ = pgready::query!("SELECT $1 AS anything", 7i64);
}
