#[pgready::test(config = "ui/test/no-such-config.toml")]
async fn creates_an_item(db: pgready::Db) {
    let _ = db;
}

fn main() {}
