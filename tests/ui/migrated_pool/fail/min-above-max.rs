#[pgready::migrated_pool(config = "ui/migrated_pool/configs/min-above-max.toml")]
async fn main(db: pgready::Db) {
    let _ = db;
}
