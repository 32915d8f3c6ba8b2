#[pgready::migrated_pool(config = "ui/migrated_pool/configs/duplicate-version.toml")]
async fn main(db: pgready::Db) {
    let _ = db;
}
