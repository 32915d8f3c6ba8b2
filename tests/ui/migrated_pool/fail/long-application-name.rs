#[pgready::migrated_pool(config = "ui/migrated_pool/configs/long-application-name.toml")]
async fn main(db: pgready::Db) {
    let _ = db;
}
