#[pgready::migrated_pool(config = "ui/migrated_pool/configs/backup-keep-zero.toml")]
async fn main(db: pgready::Db) {
    let _ = db;
}
