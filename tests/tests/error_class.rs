//! `pgready::Error::class()` and `impl IntoResponse for pgready::Error`, for errors produced
//! for real against PostgreSQL: the class (with the constraint), the status, `Retry-After`,
//! the RFC 9457 body, and nothing from the error (SQL, values, constraint, host, password)
//! in that body.

use std::time::Duration;

use axum::response::IntoResponse;
use pgready::{Classify, ErrorClass, TransactionOptions};
use pgready_tests::{fresh_database, setup};
use sqlx::{Connection, Executor};

/// Things that must never reach a client: the SQL, the values, the constraint names, where
/// the server is, the password.
const SECRETS: [&str; 12] = [
    "INSERT",
    "SELECT",
    "UPDATE",
    "pg_sleep",
    "accounts",
    "accounts_email_key",
    "orders_account_fkey",
    "accounts_email_check",
    "secret@example.com",
    "127.0.0.1",
    "SQLSTATE",
    "forced",
];

/// Answers `error` as a handler would and checks the problem details against `status`.
async fn answer(error: pgready::Error, status: u16, url: &str) -> serde_json::Value {
    let text = error.to_string();
    let response = error.into_response();
    assert_eq!(response.status().as_u16(), status, "{text}");
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json",
        "{text}"
    );
    let retry_after = response.headers().get("retry-after").cloned();
    assert_eq!(
        retry_after.is_some(),
        status == 503,
        "{text}: {retry_after:?}"
    );
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = String::from_utf8(body.to_vec()).unwrap();
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    let fields: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
    assert_eq!(fields, ["detail", "status", "title", "type"], "{body}");
    assert_eq!(json["status"], status);
    assert!(
        json["type"]
            .as_str()
            .unwrap()
            .starts_with("urn:pgready:problem:")
    );
    let password = url
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .and_then(|(user, _)| user.split_once(':'))
        .map(|(_, password)| password.to_owned());
    for secret in SECRETS.iter().copied().chain(password.as_deref()) {
        assert!(
            !body.contains(secret),
            "`{secret}` in the body for {text}: {body}"
        );
    }
    json
}

async fn start(url: &str, pool: &str) -> pgready::Db {
    let config = format!("{pool}[migrations]\non_startup = \"off\"\n");
    pgready::start(&setup(&config, url)).await.expect("start")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_class_for_real_with_its_status_and_a_clean_body() {
    let url = fresh_database("error_class").await;
    let db = start(
        &url,
        "[pool]\nmax_connections = 3\nmin_connections = 0\nacquire_timeout = \"300ms\"\n",
    )
    .await;
    db.write()
        .execute(
            "CREATE TABLE accounts (id int PRIMARY KEY,
                 email text UNIQUE CONSTRAINT accounts_email_check CHECK (email LIKE '%@%'));
             CREATE TABLE orders (id int PRIMARY KEY,
                 account int CONSTRAINT orders_account_fkey REFERENCES accounts);
             INSERT INTO accounts VALUES (1, 'secret@example.com'), (2, 'other@example.com')",
        )
        .await
        .unwrap();
    let pool = db.write();
    let run = |sql: &'static str| async move {
        pgready::Error::from(pool.execute(sql).await.expect_err(sql))
    };

    // Constraint violations, with the constraint's name in the class only.
    let e = run("INSERT INTO accounts VALUES (3, 'secret@example.com')").await;
    let constraint = Some("accounts_email_key".to_owned());
    assert_eq!(e.class(), ErrorClass::UniqueViolation { constraint });
    let json = answer(e, 409, &url).await;
    assert_eq!(json["type"], "urn:pgready:problem:unique-violation");

    let e = run("INSERT INTO orders VALUES (1, 99)").await;
    let constraint = Some("orders_account_fkey".to_owned());
    assert_eq!(e.class(), ErrorClass::ForeignKeyViolation { constraint });
    answer(e, 500, &url).await;

    let e = run("INSERT INTO accounts VALUES (4, 'no-at-sign')").await;
    let constraint = Some("accounts_email_check".to_owned());
    assert_eq!(e.class(), ErrorClass::CheckViolation { constraint });
    answer(e, 500, &url).await;

    // `sqlx::Error` classifies the same way, through `Classify`.
    let sqlx_error = pool
        .execute("INSERT INTO accounts VALUES (1, 'x@y')")
        .await
        .unwrap_err();
    assert!(matches!(
        sqlx_error.class(),
        ErrorClass::UniqueViolation { .. }
    ));

    // Serialization failure after the retries: 409.
    let e = db
        .transaction_with(
            TransactionOptions::new()
                .max_attempts(2)
                .backoff(Duration::from_millis(1), Duration::from_millis(1)),
            |tx| {
                Box::pin(async move {
                    tx.execute(
                        "DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '40001', \
                         MESSAGE = 'forced'; END $$",
                    )
                    .await?;
                    Ok::<_, pgready::Error>(())
                })
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::SerializationFailure);
    let json = answer(e, 409, &url).await;
    assert_eq!(json["type"], "urn:pgready:problem:transaction-conflict");

    // A real deadlock: two transactions lock rows 1 and 2 in opposite orders.
    let mut a = pool.begin().await.unwrap();
    let mut b = pool.begin().await.unwrap();
    a.execute("UPDATE accounts SET email = email WHERE id = 1")
        .await
        .unwrap();
    b.execute("UPDATE accounts SET email = email WHERE id = 2")
        .await
        .unwrap();
    let (ra, rb) = tokio::join!(
        a.execute("UPDATE accounts SET email = email WHERE id = 2"),
        async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            b.execute("UPDATE accounts SET email = email WHERE id = 1")
                .await
        }
    );
    let e = pgready::Error::from(ra.err().or(rb.err()).expect("one is the victim"));
    assert_eq!(e.class(), ErrorClass::Deadlock, "{e}");
    answer(e, 409, &url).await;
    drop((a, b));

    // A lock not granted at once (NOWAIT; `lock_timeout` is the same SQLSTATE).
    let mut holder = pool.begin().await.unwrap();
    holder
        .execute("SELECT * FROM accounts WHERE id = 1 FOR UPDATE")
        .await
        .unwrap();
    let e = run("SELECT * FROM accounts WHERE id = 1 FOR UPDATE NOWAIT").await;
    assert_eq!(e.class(), ErrorClass::LockTimeout, "{e}");
    answer(e, 503, &url).await;
    holder.rollback().await.unwrap();

    // `statement_timeout`.
    let mut conn = pool.acquire().await.unwrap();
    conn.execute("SET statement_timeout = '50ms'")
        .await
        .unwrap();
    let e = pgready::Error::from(conn.execute("SELECT pg_sleep(2)").await.unwrap_err());
    assert_eq!(e.class(), ErrorClass::StatementTimeout, "{e}");
    answer(e, 504, &url).await;
    conn.execute("RESET statement_timeout").await.unwrap();
    drop(conn);

    // A write in a read-only transaction.
    let e = db
        .transaction_with(TransactionOptions::new().read_only(true), |tx| {
            Box::pin(async move {
                tx.execute("UPDATE accounts SET email = email").await?;
                Ok::<_, pgready::Error>(())
            })
        })
        .await
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::ReadOnly, "{e}");
    answer(e, 503, &url).await;

    // The session terminated under the query.
    let e = run("SELECT pg_terminate_backend(pg_backend_pid())").await;
    assert_eq!(e.class(), ErrorClass::ConnectionLost, "{e}");
    let json = answer(e, 503, &url).await;
    assert_eq!(json["type"], "urn:pgready:problem:database-unavailable");

    // Any other error: 500 and nothing of it.
    let e = run("SELECT no_such_column FROM accounts").await;
    assert_eq!(e.class(), ErrorClass::Other);
    answer(e, 500, &url).await;

    // No free connection within `acquire_timeout`.
    let held = [
        pool.acquire().await.unwrap(),
        pool.acquire().await.unwrap(),
        pool.acquire().await.unwrap(),
    ];
    let e = pool.acquire().await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::PoolTimeout);
    let response = e.into_response();
    assert_eq!(response.headers()["retry-after"], "1");
    let e = pool.begin().await.unwrap_err();
    answer(e, 503, &url).await;
    drop(held);

    db.close().await;
}

#[tokio::test]
async fn a_lost_connection_outside_a_pool_is_connection_lost() {
    // An I/O error rather than a server's FATAL message: the server's socket closed under
    // a plain sqlx connection.
    let url = fresh_database("error_class_io").await;
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    let mut killer = sqlx::PgConnection::connect(&url).await.unwrap();
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .execute(&mut killer)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let e = conn.execute("SELECT 1").await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::ConnectionLost, "{e:?}");
    answer(pgready::Error::from(e), 503, &url).await;
}
