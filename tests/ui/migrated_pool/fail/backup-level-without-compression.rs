#[pgready::migrated_pool(config = "ui/migrated_pool/configs/backup-level-without-compression.toml")]
async fn main(db: pgready::Db) {
    let _ = db;
}
