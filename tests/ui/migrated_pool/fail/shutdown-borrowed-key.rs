#[pgready::migrated_pool(config = "ui/migrated_pool/configs/shutdown-borrowed-key.toml")]
async fn main(db: pgready::Db) {
    let _ = db;
}
