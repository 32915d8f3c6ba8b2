// The base config runs no migrations at start-up but the `production` profile applies them:
// they are embedded and checked all the same.
#[pgready::migrated_pool(config = "ui/migrated_pool/configs/profile-applies.toml")]
async fn main(db: pgready::Db) {
    let _rows = pgready::sqlx::query("SELECT 1").execute(db.write());
}
