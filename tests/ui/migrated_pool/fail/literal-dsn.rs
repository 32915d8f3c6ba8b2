#[pgready::migrated_pool(config = "ui/migrated_pool/configs/literal-dsn.toml")]
async fn main(db: pgready::Db) {
    let _ = db;
}
