#[pgready::migrated_pool(config = "ui/migrated_pool/configs/ok.toml")]
async fn main(db: pgready::Db, port: u16) {
    let _ = (db, port);
}
