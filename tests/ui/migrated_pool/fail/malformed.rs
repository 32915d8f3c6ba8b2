#[pgready::migrated_pool(config = "ui/migrated_pool/configs/malformed.toml")]
async fn main(db: pgready::Db) {
    let _ = db;
}
