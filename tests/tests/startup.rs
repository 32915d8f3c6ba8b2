//! Start-up: waiting for a database that is still starting, and giving up clearly.

use std::time::{Duration, Instant};

use pgready::embedded::Cluster;
use pgready_tests::setup;

#[tokio::test]
async fn start_waits_for_a_database_that_comes_up_within_connect_retry() {
    let mut cluster = tokio::task::spawn_blocking(Cluster::init)
        .await
        .unwrap()
        .expect("initdb");
    let url = cluster.url("postgres");
    let config = "[database]\nconnect_retry = \"20s\"\n";
    let app = tokio::spawn(async move { pgready::start(&setup(config, &url)).await });

    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !app.is_finished(),
        "start-up must keep retrying while the server is down"
    );
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.start().expect("start the server");
        cluster
    })
    .await
    .unwrap();

    let db = app
        .await
        .unwrap()
        .expect("start-up succeeds once the server is up");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM items")
        .fetch_one(db.write())
        .await
        .unwrap();
    assert_eq!(n, 0, "migrations were applied after the wait");
    db.close().await;
    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .unwrap();
}

#[tokio::test]
async fn start_gives_up_after_connect_retry_with_a_clear_error() {
    let cluster = tokio::task::spawn_blocking(Cluster::init)
        .await
        .unwrap()
        .expect("initdb");
    let url = cluster.url("postgres");
    let config = "[database]\nconnect_retry = \"1s\"\n";
    let started = Instant::now();
    let err = pgready::start(&setup(config, &url))
        .await
        .expect_err("nothing listens");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(700),
        "gave up too early: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(5),
        "gave up too late: {elapsed:?}"
    );
    let message = err.to_string();
    assert!(
        matches!(err, pgready::Error::Connect { attempts, .. } if attempts > 1),
        "{err:?}"
    );
    assert!(
        message.contains("cannot connect to postgres://"),
        "{message}"
    );
    assert!(
        message.contains("connect_retry"),
        "says what to raise: {message}"
    );
    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .unwrap();
}

#[tokio::test]
async fn production_without_a_dsn_refuses_the_embedded_database() {
    let setup = setup("", "unused")
        .var("DATABASE_URL", None)
        .var("PGREADY_PROFILE", Some("production"));
    let err = pgready::start(&setup)
        .await
        .expect_err("no DSN in production");
    assert!(matches!(err, pgready::Error::MissingDsn { .. }), "{err:?}");
    assert!(
        err.to_string().contains("`DATABASE_URL` is not set"),
        "{err}"
    );
}

#[tokio::test]
async fn an_unknown_profile_is_a_config_error() {
    let setup = setup("", "postgres://localhost/x").var("PGREADY_PROFILE", Some("staging"));
    let err = pgready::start(&setup).await.expect_err("unknown profile");
    assert!(matches!(err, pgready::Error::Config(_)), "{err:?}");
    assert!(err.to_string().contains("staging"), "{err}");
}
