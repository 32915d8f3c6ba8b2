fn main() {
    let _ = pgready::query!("CREATE TABLE other (id int)");
}
