//! Unit tests: one statement kind at a time.

use super::*;

#[test]
fn smoke_long_history() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/sqlx-histories/long-history");
    let migrations =
        crate::migrations::discover(&dir, &crate::migrations::Resolve::default()).unwrap();
    let replay = replay(&migrations, "public");
    for s in &replay.statements {
        println!("{} {:?}", s.origin, s.outcome);
    }
    println!("{:#?}", replay.catalog);
}
