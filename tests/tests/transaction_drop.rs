//! A transaction dropped without `commit` or `rollback` is rolled back and logged with a
//! warning that names the line that began it; one that was ended on purpose is not.

use pgready_tests::{Captured, fresh_database, setup};
use sqlx::Executor;

#[tokio::test]
async fn a_forgotten_commit_is_rolled_back_and_its_begin_named() {
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::WARN)
        .with_writer(logs.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let url = fresh_database("tx_drop").await;
    let config = "[pool]\nmax_connections = 1\nmin_connections = 0\n\
                  [migrations]\non_startup = \"off\"\n";
    let db = pgready::start(&setup(config, &url)).await.expect("start");
    db.write().execute("CREATE TABLE t (id int)").await.unwrap();
    logs.take();

    // Forgotten: rolled back, warned about with this file and line.
    let (mut tx, line) = (db.write().begin().await.unwrap(), line!());
    tx.execute("INSERT INTO t VALUES (1)").await.unwrap();
    drop(tx);
    let warning = logs.take();
    assert!(
        warning.contains(&format!("transaction_drop.rs:{line}:"))
            && warning.contains("dropped without `commit` or `rollback`"),
        "{warning}"
    );
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM t")
        .fetch_one(db.write())
        .await
        .unwrap();
    assert_eq!(rows, 0);

    // A savepoint and a transaction on an acquired connection name their own lines.
    let mut conn = db.write().acquire().await.unwrap();
    let (mut tx, on_conn) = (conn.begin().await.unwrap(), line!());
    let (savepoint, nested) = (tx.begin().await.unwrap(), line!());
    drop(savepoint);
    let warning = logs.take();
    assert!(
        warning.contains(&format!("transaction_drop.rs:{nested}:")),
        "{warning}"
    );
    drop(tx);
    let warning = logs.take();
    assert!(
        warning.contains(&format!("transaction_drop.rs:{on_conn}:")),
        "{warning}"
    );
    drop(conn);

    // Ended on purpose, either way: no warning.
    let mut tx = db.write().begin().await.unwrap();
    tx.execute("INSERT INTO t VALUES (2)").await.unwrap();
    tx.commit().await.unwrap();
    db.write().begin().await.unwrap().rollback().await.unwrap();
    db.transaction(|tx| {
        Box::pin(async move {
            tx.execute("INSERT INTO t VALUES (3)").await?;
            Ok::<_, pgready::Error>(())
        })
    })
    .await
    .unwrap();
    let quiet = logs.take();
    assert!(!quiet.contains("dropped without"), "{quiet}");
    db.close().await;
}
