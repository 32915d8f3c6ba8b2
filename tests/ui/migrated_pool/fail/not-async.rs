#[pgready::migrated_pool(config = "ui/migrated_pool/configs/ok.toml")]
fn main(db: pgready::Db) {
    let _ = db;
}
