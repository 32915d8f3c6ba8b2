//! Pool limits: `max_connections` concurrent acquires succeed, the next fails after
//! `acquire_timeout` with an error that says what to change.

use std::time::{Duration, Instant};

use pgready_tests::{fresh_database, setup};

#[tokio::test]
async fn the_connection_after_max_waits_then_fails_clearly() {
    let url = fresh_database("limits").await;
    let config = "[pool]\nmax_connections = 3\nmin_connections = 0\nacquire_timeout = \"300ms\"\n";
    let db = pgready::start(&setup(config, &url)).await.expect("start");

    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(db.write().acquire().await.expect("within max_connections"));
    }
    let stats = db.write().stats();
    assert_eq!((stats.size, stats.in_use, stats.max), (3, 3, 3));

    let started = Instant::now();
    let err = db
        .write()
        .acquire()
        .await
        .expect_err("the fourth must time out");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(290),
        "waited only {waited:?}"
    );
    assert!(waited < Duration::from_secs(3), "waited {waited:?}");
    assert!(
        matches!(err, pgready::Error::PoolTimedOut { .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("write pool"), "{message}");
    assert!(message.contains("max_connections = 3"), "{message}");
    assert!(message.contains("`[pool] max_connections`"), "{message}");

    // A released connection serves the next waiter.
    drop(held.pop());
    db.write()
        .acquire()
        .await
        .expect("a freed connection is handed out");
    assert!(db.read().stats().size <= 3, "never above max_connections");
    drop(held);
    db.close().await;
    assert!(db.write().is_closed());
}
