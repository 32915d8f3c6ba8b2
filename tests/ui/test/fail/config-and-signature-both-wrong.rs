#[pgready::test(config = "ui/migrated_pool/configs/unknown-key.toml")]
async fn creates_an_item(db: pgready::Db, port: u16) {
    let _ = (db, port);
}

fn main() {}
