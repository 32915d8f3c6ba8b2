#[pgready::migrated_pool(config = "ui/migrated_pool/configs/ok.toml")]
async fn main(db: pgready::sqlx::PgPool) {
    let _ = db;
}
