//! Beyond one machine, against real servers on loopback: a streaming replica that reads go to
//! and come back from, PgBouncer in transaction pooling, and a failover. The servers are the
//! test binary's [`topology`]: one primary, its replica (`pg_basebackup -R`) and a PgBouncer,
//! shared by these tests in turn.
//!
//! Each test prints its figures on a `figures:` line (`--nocapture` shows them); the README's
//! "Beyond one machine" section quotes them.

use std::time::{Duration, Instant};

use pgready::Db;
use pgready::health::Status;
use pgready_tests::topology::{Topology, topology};
use pgready_tests::{Captured, setup};
use sqlx::{Connection, Executor, PgConnection};

/// Small pools, no idle connections kept, probes never cached, a replica more than a second
/// behind is lagging.
const CONFIG: &str = r#"
[pool]
max_connections = 16
min_connections = 0
[read_pool]
max_connections = 4
min_connections = 0
[health]
cache = "0"
max_replica_lag = "1s"
"#;

fn logs() -> (Captured, tracing::subscriber::DefaultGuard) {
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    (logs, tracing::subscriber::set_default(subscriber))
}

/// Polls `done` every 10 ms until it holds; how long that took. Fails past `bound`.
async fn until(what: &str, bound: Duration, mut done: impl AsyncFnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !done().await {
        assert!(started.elapsed() < bound, "{what}: not within {bound:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    started.elapsed()
}

/// Whether a read through `db.read()` ran on a server in recovery (the replica).
async fn read_on_replica(db: &Db) -> bool {
    sqlx::query_scalar("SELECT pg_is_in_recovery()")
        .fetch_one(db.read())
        .await
        .expect("a read through db.read()")
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

async fn start_with_replica(topo: &Topology, database: &str, config: &str) -> Db {
    let setup = setup(config, &topo.primary.url(database))
        .var("DATABASE_READ_URL", Some(&topo.replica.url(database)));
    pgready::start(&setup).await.expect("start pgready")
}

fn check<'a>(
    report: &'a pgready::health::Report,
    key: &'a str,
    id: &str,
) -> &'a pgready::health::Check {
    report
        .check(key)
        .find(|c| c.component_id() == Some(id))
        .unwrap_or_else(|| panic!("no `{key}` check for `{id}`"))
}

#[tokio::test]
async fn reads_leave_a_replica_that_is_down_or_behind_and_come_back_without_a_restart() {
    let topo = topology().await;
    let database = topo.fresh_database("routing").await;
    let (logs, _guard) = logs();
    let db = start_with_replica(&topo, &database, CONFIG).await;

    // Every read goes to the replica.
    assert!(db.reads_from_replica());
    let mut on_replica = 0;
    for _ in 0..200 {
        on_replica += usize::from(read_on_replica(&db).await);
    }
    assert_eq!(on_replica, 200, "reads served by the replica");
    let report = db.health().await;
    assert_eq!(
        report.status(),
        Status::Pass,
        "{}",
        report.to_json(pgready::health::Detail::Full)
    );

    // Down: reads go to the primary, health warns; back: reads return, without a restart.
    topo.replica.stop().await;
    let fallback = until(
        "reads on the primary",
        Duration::from_secs(10),
        async || !db.reads_from_replica(),
    )
    .await;
    assert!(!read_on_replica(&db).await);
    let report = db.health().await;
    assert_eq!(report.status(), Status::Warn);
    let connectivity = check(&report, "postgres:connectivity", "read");
    assert_eq!(connectivity.status(), Status::Warn);
    assert!(
        connectivity
            .output()
            .is_some_and(|o| o.ends_with("reads go to the primary meanwhile")),
        "{connectivity:?}"
    );
    topo.replica.start().await;
    let back = until(
        "reads back on the replica",
        Duration::from_secs(10),
        async || db.reads_from_replica(),
    )
    .await;
    assert!(read_on_replica(&db).await);
    assert_eq!(db.health().await.status(), Status::Pass);

    // Behind: replay paused while the primary writes; past `max_replica_lag` (1 s) reads go to
    // the primary until the replica has caught up.
    let mut primary = PgConnection::connect(&topo.primary.url(&database))
        .await
        .unwrap();
    primary
        .execute("CREATE TABLE ticks (at timestamptz DEFAULT now())")
        .await
        .unwrap();
    topo.caught_up(Duration::from_secs(10)).await;
    topo.pause_replay().await;
    let behind = until(
        "reads leave the lagging replica",
        Duration::from_secs(15),
        async || {
            primary
                .execute("INSERT INTO ticks DEFAULT VALUES")
                .await
                .unwrap();
            !db.reads_from_replica()
        },
    )
    .await;
    let lag = topo.lag().await;
    assert!(lag.replay_paused, "{lag:?}");
    assert!(lag.bytes.is_some_and(|b| b > 0), "{lag:?}");
    let report = db.health().await;
    let replication = check(&report, "postgres:replication", "read");
    assert_eq!(replication.status(), Status::Warn, "{replication:?}");
    assert!(
        replication
            .output()
            .is_some_and(|o| o.contains("above `[health] max_replica_lag = 1s`")
                && o.ends_with("reads go to the primary until it catches up")),
        "{replication:?}"
    );
    topo.resume_replay().await;
    let caught_up = until(
        "reads back after catching up",
        Duration::from_secs(10),
        async || db.reads_from_replica(),
    )
    .await;
    primary.close().await.ok();

    // Each switch is logged once.
    let text = logs.text();
    let count = |needle: &str| text.matches(needle).count();
    assert_eq!(
        count("reads go to the primary until it answers"),
        1,
        "{text}"
    );
    assert_eq!(
        count("reads go to the primary until it catches up"),
        1,
        "{text}"
    );
    assert_eq!(
        count("read replica back: reads go to it again"),
        2,
        "{text}"
    );
    eprintln!(
        "figures: reads served by the replica {on_replica}/200; replica stopped -> reads on the \
         primary {} ms; replica started -> reads back {} ms; replay paused under writes -> \
         reads on the primary {} ms (max_replica_lag 1 s); replay resumed -> reads back {} ms",
        ms(fallback),
        ms(back),
        ms(behind),
        ms(caught_up)
    );
    db.close().await;
}

#[tokio::test]
async fn a_replica_down_at_start_up_does_not_stop_the_service_unless_read_fallback_is_error() {
    let topo = topology().await;
    let database = topo.fresh_database("startup").await;
    topo.replica.stop().await;

    let started = Instant::now();
    let db = start_with_replica(&topo, &database, CONFIG).await;
    let start_up = started.elapsed();
    assert!(!db.reads_from_replica());
    assert!(!read_on_replica(&db).await);
    assert_eq!(db.health().await.status(), Status::Warn);

    let strict = format!("{CONFIG}[database]\nread_fallback = \"error\"\nconnect_retry = \"1s\"\n");
    let setup = setup(&strict, &topo.primary.url(&database))
        .var("DATABASE_READ_URL", Some(&topo.replica.url(&database)));
    let refused = pgready::start(&setup)
        .await
        .expect_err("a replica that is down is required");
    let message = refused.to_string();
    assert!(message.starts_with("cannot connect to "), "{message}");
    assert!(
        !message.contains(topo.replica.get().password()),
        "{message}"
    );

    topo.replica.start().await;
    let back = until(
        "reads on the replica",
        Duration::from_secs(10),
        async || db.reads_from_replica(),
    )
    .await;
    assert!(read_on_replica(&db).await);
    eprintln!(
        "figures: start-up with the replica down {} ms; replica started -> reads on it {} ms",
        ms(start_up),
        ms(back)
    );
    db.close().await;
}
