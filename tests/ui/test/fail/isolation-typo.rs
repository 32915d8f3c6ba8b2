#[pgready::test(isolation = "databse")]
async fn builds_an_index_concurrently(db: pgready::Db) {
    let _ = db;
}

fn main() {}
