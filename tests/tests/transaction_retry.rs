//! `Db::transaction_with` against PostgreSQL: the mode is applied, transactions that really
//! conflict are retried until each commits exactly once, a transaction that always conflicts
//! gives up at its bounds naming the SQLSTATE, a lost connection before `COMMIT` is retried and
//! one after `COMMIT` was sent is not. The retries show in the Prometheus text.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use pgready::{ErrorClass, IsolationLevel, TransactionOptions};
use pgready_tests::{fresh_database, setup};
use sqlx::Executor;

async fn start(url: &str, max_connections: u32) -> pgready::Db {
    let config = format!(
        "[pool]\nmax_connections = {max_connections}\nmin_connections = 0\n\
         [migrations]\non_startup = \"off\"\n"
    );
    pgready::start(&setup(&config, url)).await.expect("start")
}

/// `name{sqlstate="…"}` in the Prometheus text of `db`.
async fn counter(db: &pgready::Db, name: &str, sqlstate: &str) -> u64 {
    let text = pgready::metrics::render(db).await;
    let series = format!("{name}{{sqlstate=\"{sqlstate}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&series))
        .unwrap_or_else(|| panic!("no `{series}` in:\n{text}"))
        .parse()
        .expect("a count")
}

/// Fast backoff, generous bounds: the conflict test must not give up.
fn patient() -> TransactionOptions {
    TransactionOptions::new()
        .isolation(IsolationLevel::Serializable)
        .max_attempts(200)
        .max_elapsed(Duration::from_secs(120))
        .backoff(Duration::from_millis(1), Duration::from_millis(50))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conflicting_serializable_transfers_each_commit_exactly_once() {
    const TASKS: i64 = 8;
    const TRANSFERS: i64 = 25;
    let url = fresh_database("tx_transfers").await;
    let db = start(&url, TASKS as u32).await;
    db.write()
        .execute(
            "CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL);
             INSERT INTO accounts VALUES (0, 1000), (1, 1000), (2, 1000);
             CREATE TABLE ledger (transfer_id bigint PRIMARY KEY, source int NOT NULL,
                                  target int NOT NULL, amount bigint NOT NULL)",
        )
        .await
        .expect("schema");

    let calls = Arc::new(AtomicU32::new(0));
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let (db, calls) = (db.clone(), calls.clone());
        tasks.push(tokio::spawn(async move {
            for n in 0..TRANSFERS {
                let transfer_id = task * TRANSFERS + n;
                let source = (task + n) % 3;
                let target = (source + 1 + n % 2) % 3;
                let amount = 1 + transfer_id % 7;
                db.transaction_with(patient(), |tx| {
                    calls.fetch_add(1, Ordering::Relaxed);
                    Box::pin(async move {
                        // Read, then write what was read: the pattern serializable protects.
                        let balance: i64 =
                            sqlx::query_scalar("SELECT balance FROM accounts WHERE id = $1")
                                .bind(source as i32)
                                .fetch_one(&mut **tx)
                                .await?;
                        sqlx::query("UPDATE accounts SET balance = $2 WHERE id = $1")
                            .bind(source as i32)
                            .bind(balance - amount)
                            .execute(&mut **tx)
                            .await?;
                        sqlx::query("UPDATE accounts SET balance = balance + $2 WHERE id = $1")
                            .bind(target as i32)
                            .bind(amount)
                            .execute(&mut **tx)
                            .await?;
                        sqlx::query("INSERT INTO ledger VALUES ($1, $2, $3, $4)")
                            .bind(transfer_id)
                            .bind(source as i32)
                            .bind(target as i32)
                            .bind(amount)
                            .execute(&mut **tx)
                            .await?;
                        Ok::<_, pgready::Error>(())
                    })
                })
                .await
                .unwrap_or_else(|e| panic!("transfer {transfer_id}: {e}"));
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }

    let (rows, distinct, moved): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT transfer_id), coalesce(sum(amount), 0)::bigint FROM ledger",
    )
    .fetch_one(db.write())
    .await
    .unwrap();
    assert_eq!((rows, distinct), (TASKS * TRANSFERS, TASKS * TRANSFERS));
    let total: i64 = sqlx::query_scalar("SELECT sum(balance)::bigint FROM accounts")
        .fetch_one(db.write())
        .await
        .unwrap();
    assert_eq!(total, 3000, "money is conserved");
    // Each account's balance is exactly what its ledger rows say: no lost update.
    let drift: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM accounts a WHERE a.balance <> 1000
           - coalesce((SELECT sum(amount) FROM ledger WHERE source = a.id), 0)
           + coalesce((SELECT sum(amount) FROM ledger WHERE target = a.id), 0)",
    )
    .fetch_one(db.write())
    .await
    .unwrap();
    assert_eq!(
        drift, 0,
        "a balance disagrees with the ledger: a lost update"
    );
    assert!(moved > 0);

    let serialization = counter(&db, "pgready_transaction_retries_total", "40001").await;
    let deadlocks = counter(&db, "pgready_transaction_retries_total", "40P01").await;
    assert!(serialization > 0, "the transfers really conflicted");
    assert_eq!(
        u64::from(calls.load(Ordering::Relaxed)),
        (TASKS * TRANSFERS) as u64 + serialization + deadlocks,
        "every call of the closure is a first attempt or a counted retry"
    );
    assert_eq!(
        counter(&db, "pgready_transaction_give_ups_total", "40001").await,
        0
    );
    eprintln!("{serialization} serialization retries, {deadlocks} deadlock retries");
    db.close().await;
}

/// A `DO` block that fails with `sqlstate`, as the server would.
fn raise(sqlstate: &str) -> String {
    format!("DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '{sqlstate}', MESSAGE = 'forced'; END $$")
}

#[tokio::test]
async fn an_always_conflicting_transaction_gives_up_at_its_bounds() {
    let url = fresh_database("tx_give_up").await;
    let db = start(&url, 2).await;
    let options = TransactionOptions::new()
        .max_attempts(3)
        .backoff(Duration::from_millis(5), Duration::from_millis(20));
    let calls = AtomicU32::new(0);
    let sql = raise("40001");
    let error = db
        .transaction_with(options, |tx| {
            calls.fetch_add(1, Ordering::Relaxed);
            let sql = sqlx::AssertSqlSafe(sql.clone());
            Box::pin(async move {
                tx.execute(sql).await?;
                Ok::<_, pgready::Error>(())
            })
        })
        .await
        .unwrap_err();
    assert_eq!(calls.load(Ordering::Relaxed), 3);
    let message = error.to_string();
    assert!(
        matches!(
            &error,
            pgready::Error::TransactionGaveUp {
                sqlstate: "40001",
                attempts: 3,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.class(), ErrorClass::SerializationFailure);
    assert!(
        message.contains("gave up after 3 attempt(s)")
            && message.contains("SQLSTATE 40001")
            && message.contains("max_attempts = 3 reached"),
        "{message}"
    );
    assert_eq!(
        counter(&db, "pgready_transaction_retries_total", "40001").await,
        2
    );
    assert_eq!(
        counter(&db, "pgready_transaction_give_ups_total", "40001").await,
        1
    );

    // The time bound: many attempts allowed, but not past `max_elapsed`.
    let options = TransactionOptions::new()
        .max_attempts(1000)
        .max_elapsed(Duration::from_millis(300))
        .backoff(Duration::from_millis(40), Duration::from_millis(40));
    let started = Instant::now();
    let sql = raise("40P01");
    let error = db
        .transaction_with(options, |tx| {
            let sql = sqlx::AssertSqlSafe(sql.clone());
            Box::pin(async move {
                tx.execute(sql).await?;
                Ok::<_, pgready::Error>(())
            })
        })
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(
        error.to_string().contains("max_elapsed = 300ms reached")
            && error.to_string().contains("SQLSTATE 40P01"),
        "{error}"
    );
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert_eq!(
        counter(&db, "pgready_transaction_give_ups_total", "40P01").await,
        1
    );
    db.close().await;
}

#[tokio::test]
async fn options_apply_and_other_errors_are_not_retried() {
    let url = fresh_database("tx_options").await;
    let db = start(&url, 2).await;
    db.write()
        .execute("CREATE TABLE t (id int PRIMARY KEY)")
        .await
        .unwrap();

    let options = TransactionOptions::new()
        .isolation(IsolationLevel::RepeatableRead)
        .read_only(true);
    let (isolation, read_only): (String, String) = db
        .transaction_with(options, |tx| {
            Box::pin(async move {
                let mode = sqlx::query_as(
                    "SELECT current_setting('transaction_isolation'), \
                            current_setting('transaction_read_only')",
                )
                .fetch_one(&mut **tx)
                .await?;
                Ok::<_, pgready::Error>(mode)
            })
        })
        .await
        .unwrap();
    assert_eq!(
        (isolation.as_str(), read_only.as_str()),
        ("repeatable read", "on")
    );

    // A write in a read-only transaction: 25006, returned at once.
    let calls = AtomicU32::new(0);
    let error = db
        .transaction_with(options, |tx| {
            calls.fetch_add(1, Ordering::Relaxed);
            Box::pin(async move {
                tx.execute("INSERT INTO t VALUES (1)").await?;
                Ok::<_, pgready::Error>(())
            })
        })
        .await
        .unwrap_err();
    assert_eq!(error.class(), ErrorClass::ReadOnly, "{error}");
    assert_eq!(calls.load(Ordering::Relaxed), 1);

    // The closure's own error type: anything that converts from and classifies like
    // `pgready::Error`; a unique violation is not retried either.
    let calls = AtomicU32::new(0);
    let error = db
        .transaction_with(TransactionOptions::new(), |tx| {
            calls.fetch_add(1, Ordering::Relaxed);
            Box::pin(async move {
                tx.execute("INSERT INTO t VALUES (2), (2)").await?;
                Ok::<_, pgready::Error>(())
            })
        })
        .await
        .unwrap_err();
    assert!(matches!(error.class(), ErrorClass::UniqueViolation { .. }));
    assert_eq!(calls.load(Ordering::Relaxed), 1);
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM t")
        .fetch_one(db.write())
        .await
        .unwrap();
    assert_eq!(rows, 0);
    db.close().await;
}

#[tokio::test]
async fn a_connection_lost_before_commit_is_retried_and_after_commit_is_not() {
    let url = fresh_database("tx_lost").await;
    let db = start(&url, 3).await;
    db.write()
        .execute("CREATE TABLE t (id int PRIMARY KEY)")
        .await
        .unwrap();

    // The first attempt's session is terminated mid-transaction: nothing committed, so the
    // closure runs again on a new connection.
    let calls = AtomicU32::new(0);
    db.transaction_with(TransactionOptions::new(), |tx| {
        let first = calls.fetch_add(1, Ordering::Relaxed) == 0;
        Box::pin(async move {
            tx.execute("INSERT INTO t VALUES (1)").await?;
            if first {
                tx.execute("SELECT pg_terminate_backend(pg_backend_pid())")
                    .await?;
            }
            Ok::<_, pgready::Error>(())
        })
    })
    .await
    .expect("retried on a new connection");
    assert_eq!(calls.load(Ordering::Relaxed), 2);
    assert_eq!(
        counter(&db, "pgready_transaction_retries_total", "08006").await,
        1
    );

    // The session dies while COMMIT runs (a deferred trigger sleeps at commit; another
    // session terminates it then): the outcome is unknown, so no retry.
    db.write()
        .execute(
            "CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS
               $$ BEGIN PERFORM pg_sleep(5); RETURN NULL; END $$;
             CREATE CONSTRAINT TRIGGER slow AFTER INSERT ON t DEFERRABLE INITIALLY DEFERRED
               FOR EACH ROW EXECUTE FUNCTION slow_commit()",
        )
        .await
        .unwrap();
    let calls = AtomicU32::new(0);
    let killer = db.clone();
    let kill = tokio::spawn(async move {
        // Terminates whichever session is sleeping in the trigger, once one is.
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let killed: Option<bool> = sqlx::query_scalar(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE query = 'COMMIT' AND wait_event = 'PgSleep'",
            )
            .fetch_optional(killer.write())
            .await
            .unwrap();
            if killed == Some(true) {
                return true;
            }
        }
        false
    });
    let error = db
        .transaction_with(TransactionOptions::new(), |tx| {
            calls.fetch_add(1, Ordering::Relaxed);
            Box::pin(async move {
                tx.execute("INSERT INTO t VALUES (2)").await?;
                Ok::<_, pgready::Error>(())
            })
        })
        .await
        .unwrap_err();
    assert!(kill.await.unwrap(), "the COMMIT was seen and terminated");
    assert_eq!(calls.load(Ordering::Relaxed), 1, "not retried");
    assert_eq!(error.class(), ErrorClass::CommitOutcomeUnknown);
    assert!(
        matches!(
            error,
            pgready::Error::CommitOutcomeUnknown { attempt: 1, .. }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("outcome is unknown"), "{error}");
    db.close().await;
}
