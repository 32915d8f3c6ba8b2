#[pgready::migrated_pool(config = "ui/migrated_pool/configs/shutdown-drain-number.toml")]
async fn main(db: pgready::Db) {
    let _ = db;
}
