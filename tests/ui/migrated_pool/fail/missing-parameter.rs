#[pgready::migrated_pool(config = "ui/migrated_pool/configs/ok.toml")]
async fn main() {}
