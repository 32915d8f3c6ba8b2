#[pgready::test(config = "ui/migrated_pool/configs/ok.toml")]
async fn creates_an_item() {}

fn main() {}
