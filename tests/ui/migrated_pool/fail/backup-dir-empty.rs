#[pgready::migrated_pool(config = "ui/migrated_pool/configs/backup-dir-empty.toml")]
async fn main(db: pgready::Db) {
    let _ = db;
}
