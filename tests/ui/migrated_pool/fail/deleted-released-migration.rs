#[pgready::migrated_pool(config = "ui/migrated_pool/configs/deleted-released-migration.toml")]
async fn main(db: pgready::Db) {
    let _ = db;
}
