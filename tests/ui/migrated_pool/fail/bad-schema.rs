#[pgready::migrated_pool(config = "ui/migrated_pool/configs/bad-schema.toml")]
async fn main(db: pgready::Db) {
    let _ = db;
}
