#[pgready::migrated_pool(config = "ui/migrated_pool/configs/unknown-profile-key.toml")]
async fn main(db: pgready::Db) {
    let _ = db;
}
