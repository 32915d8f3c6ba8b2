#[pgready::migrated_pool(config = "ui/migrated_pool/configs/backup-rpo-zero.toml")]
async fn main(db: pgready::Db) {
    let _ = db;
}
