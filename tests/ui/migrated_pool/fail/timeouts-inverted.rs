#[pgready::migrated_pool(config = "ui/migrated_pool/configs/timeouts-inverted.toml")]
async fn main(db: pgready::Db) {
    let _ = db;
}
