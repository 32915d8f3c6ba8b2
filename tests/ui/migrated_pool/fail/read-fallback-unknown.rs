#[pgready::migrated_pool(config = "ui/migrated_pool/configs/read-fallback-unknown.toml")]
async fn main(db: pgready::Db) {
    let _ = db;
}
