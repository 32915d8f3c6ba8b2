//! A service whose `main` is `#[migrated_pool]`: the integration tests run it as a process and
//! read what it prints.

use pgready::sqlx;

#[pgready::migrated_pool(config = "e2e.toml")]
async fn main(db: pgready::Db) -> Result<(), sqlx::Error> {
    let (timeout, name, schema): (String, String, String) = sqlx::query_as(
        "SELECT current_setting('statement_timeout'), current_setting('application_name'), \
                (current_schemas(false))[1]",
    )
    .fetch_one(db.write())
    .await?;
    let items: i64 = sqlx::query_scalar("SELECT count(*) FROM items")
        .fetch_one(db.read())
        .await?;
    println!(
        "E2E statement_timeout={timeout} application_name={name} schema={schema} items={items}"
    );
    if std::env::var_os("E2E_FAIL").is_some() {
        return Err(sqlx::Error::RowNotFound);
    }
    if std::env::var_os("E2E_WAIT").is_some() {
        // A `main` that never asks for `db.shutdown_signal()`: it ends only by a signal.
        println!("E2E waiting");
        std::future::pending::<()>().await;
    }
    Ok(())
}
