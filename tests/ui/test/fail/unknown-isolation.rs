#[pgready::test(isolation = "rollback")]
async fn creates_an_item(db: pgready::Db) {
    let _ = db;
}

fn main() {}
