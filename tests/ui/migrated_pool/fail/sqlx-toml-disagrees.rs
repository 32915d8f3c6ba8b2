#[pgready::migrated_pool(config = "ui/migrated_pool/configs/sqlx-table/pgready.toml")]
async fn main(db: pgready::Db) {
    let _ = db;
}
