#[pgready::test(config = "ui/migrated_pool/configs/ok.toml")]
async fn creates_an_item(pool: pgready::sqlx::PgPool) {
    let _ = pool;
}

fn main() {}
