#[pgready::migrated_pool(config = "ui/migrated_pool/configs/ok.toml", config = "pgready.toml")]
async fn main(db: pgready::Db) {
    let _ = db;
}
