#[pgready::test(config = "ui/migrated_pool/configs/ok.toml")]
fn creates_an_item(db: pgready::Db) {
    let _ = db;
}

fn main() {}
