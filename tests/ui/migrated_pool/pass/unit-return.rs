#[pgready::migrated_pool(config = "ui/migrated_pool/configs/ok.toml")]
async fn main(db: pgready::Db) {
    let _rows = pgready::sqlx::query("SELECT 1").execute(db.write());
}
