#[pgready::migrated_pool(config = "ui/migrated_pool/configs/does-not-exist.toml")]
async fn main(db: pgready::Db) {
    let _ = db;
}
