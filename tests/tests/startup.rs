//! Start-up: waiting for a database that is still starting, giving up clearly, and saying
//! which step failed.

use std::time::{Duration, Instant};

use pgready::embedded::Cluster;
use pgready_tests::{fresh_database, setup};
use sqlx::{Connection, Executor};

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

#[tokio::test]
async fn a_locked_migrations_table_is_named_without_postgresql_source_lines() {
    let url = fresh_database("locked_table").await;
    pgready::start(&setup("", &url))
        .await
        .expect("first start-up creates the migrations table")
        .close()
        .await;
    let mut blocker = sqlx::PgConnection::connect(&url).await.unwrap();
    blocker
        .execute("BEGIN; LOCK TABLE _sqlx_migrations IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();

    let err = pgready::start(&setup("[migrations]\nlock_timeout = \"1s\"\n", &url))
        .await
        .expect_err("the migrations table is locked");
    let message = err.to_string();
    assert!(matches!(err, pgready::Error::Database { .. }), "{err:?}");
    assert_eq!(
        message,
        "reading the migrations table `_sqlx_migrations` failed: canceling statement due to \
         lock timeout (SQLSTATE 55P03)"
    );
    assert!(!message.contains("at line"), "{message}");
    blocker.execute("ROLLBACK").await.unwrap();
}

#[tokio::test]
async fn a_role_without_create_on_the_database_is_told_what_failed_and_what_to_do() {
    let url = fresh_database("no_create").await;
    let role = format!("t_no_create_{}", std::process::id());
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    let create =
        format!("DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN PASSWORD 'role-secret-pw'");
    admin.execute(sqlx::AssertSqlSafe(create)).await.unwrap();
    let (_, host_and_database) = url.split_once('@').expect("a DSN with user info");
    let role_url = format!("postgres://{role}:role-secret-pw@{host_and_database}");

    let err = pgready::start(&setup("[session]\nschema = \"app\"\n", &role_url))
        .await
        .expect_err("the role may not create schemas");
    let message = err.to_string();
    assert!(matches!(err, pgready::Error::Database { .. }), "{err:?}");
    assert!(
        message.starts_with(
            "creating schema `app` (`[session] schema`) failed: permission denied for database"
        ),
        "{message}"
    );
    assert!(
        message.ends_with(
            "(SQLSTATE 42501): create the schema beforehand, or grant this role CREATE on the \
             database"
        ),
        "{message}"
    );
    assert!(message.contains("(SQLSTATE 42501)"), "{message}");
    assert!(!message.contains("at line"), "{message}");
    assert!(!message.contains("role-secret-pw"), "{message}");
    admin
        .execute(sqlx::AssertSqlSafe(format!("DROP ROLE {role}")))
        .await
        .unwrap();
}
