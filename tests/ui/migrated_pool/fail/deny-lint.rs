#[pgready::migrated_pool(config = "ui/migrated_pool/configs/deny-lint.toml")]
async fn main(db: pgready::Db) {
    let _ = db;
}
