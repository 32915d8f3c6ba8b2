#[pgready::migrated_pool(config = "ui/migrated_pool/configs/ok.toml")]
async fn main(db: ::pgready::Db) -> Result<(), pgready::Error> {
    let mut conn = db.write().acquire().await?;
    let _tx = conn.begin();
    Ok(())
}
