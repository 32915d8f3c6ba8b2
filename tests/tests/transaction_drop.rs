//! A transaction dropped without `commit` or `rollback` is rolled back, logged with a warning
//! that names the line that began it, and counted in `pgready_transaction_drops_total`; one
//! that was ended on purpose is not.

use pgready_tests::{Captured, fresh_database, setup};
use sqlx::Executor;

/// `pgready_transaction_drops_total{pool="write"}` in `/metrics`'s text.
async fn drops(db: &pgready::Db) -> f64 {
    let text = pgready::metrics::render(db).await;
    let series = "pgready_transaction_drops_total{pool=\"write\"} ";
    text.lines()
        .find_map(|line| line.strip_prefix(series))
        .unwrap_or_else(|| panic!("no `{series}` in:\n{text}"))
        .parse()
        .unwrap()
}

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
    assert_eq!(drops(&db).await, 0.0);

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
    assert_eq!(drops(&db).await, 1.0, "the forgotten commit is counted");

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
    assert_eq!(
        drops(&db).await,
        3.0,
        "the savepoint and its transaction count too"
    );

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
    assert_eq!(drops(&db).await, 3.0, "ended on purpose: not counted");

    // A cancelled request's transaction (its future dropped mid-closure) is counted too.
    let cancelled = db.transaction(|tx| {
        Box::pin(async move {
            tx.execute("INSERT INTO t VALUES (4)").await?;
            std::future::pending::<()>().await;
            Ok::<_, pgready::Error>(())
        })
    });
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(100), cancelled)
            .await
            .is_err()
    );
    assert_eq!(drops(&db).await, 4.0);
    // Not while a panic unwinds: that is the panic's to report.
    let db2 = db.clone();
    let panicked = tokio::spawn(async move {
        let _tx = db2.write().begin().await.unwrap();
        panic!("a handler panics inside a transaction");
    })
    .await;
    assert!(panicked.is_err());
    assert_eq!(drops(&db).await, 4.0);
    db.close().await;
}
