#[pgready::migrated_pool(config = "ui/migrated_pool/configs/profile-migrations-dir.toml")]
async fn main(db: pgready::Db) {
    let _ = db;
}
