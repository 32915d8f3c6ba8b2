//! The documented way to reach the `Db` from code that no framework state reaches: a std
//! `OnceLock` set once after start-up (see `pgready::Db`'s docs).

use std::sync::OnceLock;

use pgready_tests::{fresh_database, setup};

static DB: OnceLock<pgready::Db> = OnceLock::new();

/// The database; set before anything runs that calls this.
fn db() -> &'static pgready::Db {
    DB.get().expect("DB is set at start-up")
}

/// Code with no `Db` parameter and no state: it reads the static.
async fn add_item(name: &str) -> Result<i64, pgready::Error> {
    let mut tx = db().write().begin().await?;
    let id = sqlx::query_scalar("INSERT INTO items (name) VALUES ($1) RETURNING id")
        .bind(name)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(id)
}

async fn item_names() -> Result<Vec<String>, pgready::Error> {
    Ok(sqlx::query_scalar("SELECT name FROM items ORDER BY id")
        .fetch_all(db().read())
        .await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_db_set_once_in_a_static_serves_code_without_state() {
    let url = fresh_database("static_db").await;
    let started = pgready::start(&setup("", &url)).await.expect("start");
    DB.set(started.clone()).expect("set once, after start-up");

    // Tasks of their own (`'static`): nothing is passed to them.
    let writers: Vec<_> = ["a", "b", "c"]
        .into_iter()
        .map(|name| tokio::spawn(add_item(name)))
        .collect();
    for writer in writers {
        writer
            .await
            .expect("task")
            .expect("insert through the static");
    }
    let mut names = tokio::spawn(item_names())
        .await
        .expect("task")
        .expect("read through the static");
    names.sort();
    assert_eq!(names, ["a", "b", "c"]);

    // One `Db`: the static and start-up's handle share the pools.
    assert_eq!(db().migrations(), started.migrations());
    assert!(
        DB.set(started.clone()).is_err(),
        "a OnceLock is set only once"
    );

    // Closing the `Db` start-up returned closes the static's too, as `#[migrated_pool]`'s
    // `main` does when its body returns.
    started.close().await;
    assert!(db().write().is_closed());
    let err = item_names().await.expect_err("the pool is closed");
    assert!(err.to_string().contains("closed"), "{err}");
}
