#[pgready::migrated_pool(config = "ui/migrated_pool/configs/edited-released-migration.toml")]
async fn main(db: pgready::Db) {
    let _ = db;
}
