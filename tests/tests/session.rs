//! Every pooled connection carries the configured session settings, also after it is replaced.

use pgready_tests::{fresh_database, setup};
use sqlx::Row;

const CONFIG: &str = r#"
[pool]
max_connections = 4
min_connections = 1
max_lifetime = "1s"

[session]
statement_timeout = "1234ms"
lock_timeout = "567ms"
idle_in_transaction_timeout = "89s"
application_name = "session-test"
time_zone = "Asia/Tokyo"
schema = "app_one"
"#;

async fn settings(conn: &mut sqlx::PgConnection) -> Vec<String> {
    let row = sqlx::query(
        "SELECT current_setting('statement_timeout'), current_setting('lock_timeout'), \
                current_setting('idle_in_transaction_session_timeout'), \
                current_setting('application_name'), current_setting('TimeZone'), \
                (current_schemas(false))[1], pg_backend_pid()::text",
    )
    .fetch_one(conn)
    .await
    .expect("read settings");
    (0..7).map(|i| row.get::<String, _>(i)).collect()
}

#[tokio::test]
async fn every_connection_has_the_session_settings_and_schema() {
    let url = fresh_database("session").await;
    let db = pgready::start(&setup(CONFIG, &url)).await.expect("start");

    // Several connections at once, so more than one physical connection is checked.
    let mut conns = Vec::new();
    for _ in 0..4 {
        conns.push(db.write().acquire().await.expect("acquire"));
    }
    let mut pids = Vec::new();
    for conn in &mut conns {
        let s = settings(conn).await;
        assert_eq!(
            s[..6],
            [
                "1234ms",
                "567ms",
                "89s",
                "session-test",
                "Asia/Tokyo",
                "app_one"
            ]
        );
        pids.push(s[6].clone());
    }
    pids.sort();
    pids.dedup();
    assert_eq!(pids.len(), 4, "four distinct backends");
    drop(conns);

    // Migrations ran with the session's search_path: the demo table and the migrations table
    // are in `app_one`, and nothing leaked into `public`.
    let schemas: Vec<(String, String)> = sqlx::query_as(
        "SELECT n.nspname::text, c.relname::text FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relname IN ('items', '_sqlx_migrations') ORDER BY 2",
    )
    .fetch_all(db.write())
    .await
    .unwrap();
    let expected = [("app_one", "_sqlx_migrations"), ("app_one", "items")];
    assert_eq!(schemas, expected.map(|(a, b)| (a.to_owned(), b.to_owned())));

    // A backend killed server-side is replaced; the replacement has the settings too.
    let mut conn = db.write().acquire().await.unwrap();
    let before = settings(&mut conn).await[6].clone();
    drop(conn);
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'session-test' AND pid <> pg_backend_pid()")
        .execute(db.read())
        .await
        .unwrap();
    // max_lifetime = 1s: after it, every connection handed out is a new physical one.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let mut conn = db.write().acquire().await.unwrap();
    let after = settings(&mut conn).await;
    assert_ne!(after[6], before, "a new physical connection");
    assert_eq!(
        after[..6],
        [
            "1234ms",
            "567ms",
            "89s",
            "session-test",
            "Asia/Tokyo",
            "app_one"
        ]
    );
    drop(conn);
}

#[tokio::test]
async fn statement_timeout_is_enforced_on_pooled_connections() {
    let url = fresh_database("timeout").await;
    let db = pgready::start(&setup(
        "[session]\nstatement_timeout = \"200ms\"\nlock_timeout = \"100ms\"\n",
        &url,
    ))
    .await
    .expect("start");
    let started = std::time::Instant::now();
    let err = sqlx::query("SELECT pg_sleep(5)")
        .execute(db.write())
        .await
        .unwrap_err();
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    let code = err
        .as_database_error()
        .and_then(|e| e.code())
        .map(|c| c.into_owned());
    assert_eq!(
        code.as_deref(),
        Some("57014"),
        "query_canceled by statement_timeout: {err}"
    );
    db.close().await;
}

#[pgready::test]
async fn transaction_commits_on_ok_and_rolls_back_on_err(db: pgready::Db) {
    let id: i64 = db
        .transaction(|tx| {
            Box::pin(async move {
                sqlx::query_scalar("INSERT INTO items (name) VALUES ('kept') RETURNING id")
                    .fetch_one(&mut **tx)
                    .await
                    .map_err(pgready::Error::from)
            })
        })
        .await
        .unwrap();
    let failed: Result<(), pgready::Error> = db
        .transaction(|tx| {
            Box::pin(async move {
                sqlx::query("INSERT INTO items (name) VALUES ('dropped')")
                    .execute(&mut **tx)
                    .await?;
                Err(sqlx::Error::RowNotFound.into())
            })
        })
        .await;
    assert!(failed.is_err());
    let names: Vec<String> = sqlx::query_scalar("SELECT name FROM items ORDER BY id")
        .fetch_all(db.read())
        .await
        .unwrap();
    assert_eq!(names, ["kept"]);
    assert!(id > 0);

    // `conn.begin()` on a pooled connection is a `pgready::Transaction` borrowing it.
    let mut conn = db.write().acquire().await.unwrap();
    let mut tx = conn.begin().await.unwrap();
    sqlx::query("INSERT INTO items (name) VALUES ('rolled back')")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM items")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(count, 1);
    drop(conn);
    db.close().await;
}

#[tokio::test]
async fn reads_go_to_the_read_dsn_when_it_is_set() {
    let primary = fresh_database("primary").await;
    let replica = fresh_database("replica").await;
    let config = "[read_pool]\nmax_connections = 2\nmin_connections = 0\n[session]\nstatement_timeout = \"7s\"\n";
    let db = pgready::start(&setup(config, &primary).var("DATABASE_READ_URL", Some(&replica)))
        .await
        .expect("start");
    assert!(db.has_replica());
    let write: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(db.write())
        .await
        .unwrap();
    let (read, timeout): (String, String) =
        sqlx::query_as("SELECT current_database(), current_setting('statement_timeout')")
            .fetch_one(db.read())
            .await
            .unwrap();
    assert_eq!(
        format!("{}/{write}", primary.rsplit_once('/').unwrap().0),
        primary
    );
    assert_eq!(
        format!("{}/{read}", replica.rsplit_once('/').unwrap().0),
        replica
    );
    assert_eq!(timeout, "7s", "the read pool has the session settings too");
    assert_eq!(
        db.read().stats().max,
        2,
        "[read_pool] limits apply to the read pool"
    );
    db.close().await;

    // Without the read DSN, reads use the primary.
    let db = pgready::start(&setup("", &primary)).await.expect("start");
    assert!(!db.has_replica());
    let read: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(db.read())
        .await
        .unwrap();
    assert_eq!(read, write);
    db.close().await;
}
