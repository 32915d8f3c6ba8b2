#[pgready::migrated_pool(path = "ui/migrated_pool/configs/ok.toml")]
async fn main(db: pgready::Db) {
    let _ = db;
}
