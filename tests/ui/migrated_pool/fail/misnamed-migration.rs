#[pgready::migrated_pool(config = "ui/migrated_pool/configs/misnamed-migration.toml")]
async fn main(db: pgready::Db) {
    let _ = db;
}
