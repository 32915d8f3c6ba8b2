use pgready::Db;

#[pgready::migrated_pool(config = "ui/migrated_pool/configs/ok.toml")]
async fn main(db: Db) -> Result<(), Box<dyn std::error::Error>> {
    let one: i32 = pgready::sqlx::query_scalar("SELECT 1").fetch_one(db.read()).await?;
    assert_eq!(one, 1);
    Ok(())
}
