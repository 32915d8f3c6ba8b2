// A warning, not an error: `deny(warnings)` turns it into a failure trybuild can check.
#![deny(warnings)]

#[pgready::migrated_pool(config = "ui/migrated_pool/configs/warn-lint.toml")]
async fn main(db: pgready::Db) {
    let _ = db;
}
