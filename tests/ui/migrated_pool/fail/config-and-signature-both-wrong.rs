#[pgready::migrated_pool(config = "ui/migrated_pool/configs/unknown-key.toml")]
async fn main(db: pgready::sqlx::PgPool) {
    let _ = db;
}
