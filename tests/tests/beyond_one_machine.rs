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
use pgready_tests::forwarder::Forwarder;
use pgready_tests::topology::{BOUNCER_POOL_SIZE, Topology, topology};
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
    let metrics = pgready::metrics::render(&db).await;
    assert!(
        metrics.contains("pgready_replica_serving_reads{pool=\"read\"} 0"),
        "{metrics}"
    );
    let connectivity = check(&report, "postgres:connectivity", "read");
    assert_eq!(connectivity.status(), Status::Warn);
    assert!(
        connectivity
            .output()
            .is_some_and(|o| o.ends_with("reads go to the primary meanwhile")),
        "{connectivity:?}"
    );
    topo.replica.start().await;
    // Until it streams from its primary again the replica cannot tell how far behind it is.
    let restarted = Instant::now();
    let streams = until(
        "the replica streams again",
        Duration::from_secs(30),
        async || {
            topo.lag()
                .await
                .state
                .is_some_and(|state| state == "streaming")
        },
    )
    .await;
    until(
        "reads back on the replica",
        Duration::from_secs(10),
        async || db.reads_from_replica(),
    )
    .await;
    let back = restarted.elapsed();
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
         primary {} ms; replica started -> streaming again {} ms, reads back {} ms; replay \
         paused under writes -> reads on the primary {} ms (max_replica_lag 1 s); replay resumed \
         -> reads back {} ms",
        ms(fallback),
        ms(streams),
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

/// `[database] pgbouncer = true` on top of [`CONFIG`].
fn bouncer_config() -> String {
    format!("{CONFIG}[database]\npgbouncer = true\n")
}

/// A service behind PgBouncer: its DSN is PgBouncer's, migrations take the primary's directly.
async fn start_behind_bouncer(topo: &Topology, database: &str, config: &str) -> Db {
    let setup = setup(config, &topo.bouncer.url(database))
        .var("DATABASE_MIGRATIONS_URL", Some(&topo.primary.url(database)));
    pgready::start(&setup)
        .await
        .expect("start pgready behind PgBouncer")
}

/// `tasks` concurrent tasks each run `per_task` transactions (an insert and a count with bound
/// parameters) and as many single statements outside a transaction. Returns the errors (by
/// message) and how long it took.
async fn workload(db: &Db, tasks: i32, per_task: i32) -> (Vec<String>, Duration) {
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for task in 0..tasks {
        let db = db.clone();
        set.spawn(async move {
            let mut errors = Vec::new();
            for n in 0..per_task {
                let counted = db
                    .transaction(|tx| {
                        Box::pin(async move {
                            sqlx::query("INSERT INTO work (task, n) VALUES ($1, $2)")
                                .bind(task)
                                .bind(n)
                                .execute(&mut **tx)
                                .await?;
                            let count: i64 =
                                sqlx::query_scalar("SELECT count(*) FROM work WHERE task = $1")
                                    .bind(task)
                                    .fetch_one(&mut **tx)
                                    .await?;
                            Ok::<_, pgready::Error>(count)
                        })
                    })
                    .await;
                if let Err(e) = counted {
                    errors.push(e.to_string());
                }
                let single: Result<i32, _> = sqlx::query_scalar("SELECT $1::int + 1")
                    .bind(n)
                    .fetch_one(db.write())
                    .await;
                if let Err(e) = single {
                    errors.push(e.to_string());
                }
            }
            errors
        });
    }
    let mut errors = Vec::new();
    while let Some(done) = set.join_next().await {
        errors.extend(done.expect("a workload task panicked"));
    }
    (errors, started.elapsed())
}

async fn create_work_table(topo: &Topology, database: &str) {
    let mut primary = PgConnection::connect(&topo.primary.url(database))
        .await
        .unwrap();
    primary
        .execute("CREATE TABLE work (id bigserial PRIMARY KEY, task int NOT NULL, n int NOT NULL)")
        .await
        .unwrap();
    primary.close().await.ok();
}

const TASKS: i32 = 32;
const PER_TASK: i32 = 12;

#[tokio::test]
async fn hundreds_of_concurrent_transactions_through_pgbouncer_never_clash_on_statement_names() {
    let topo = topology().await;
    let database = topo.fresh_database("bouncer").await;
    create_work_table(&topo, &database).await;

    // Direct, for comparison.
    let direct = pgready::start(&setup(CONFIG, &topo.primary.url(&database)))
        .await
        .unwrap();
    let (errors, direct_time) = workload(&direct, TASKS, PER_TASK).await;
    assert_eq!(errors, Vec::<String>::new());
    direct.close().await;

    // Through PgBouncer in transaction pooling: 16 pooled connections over 8 server ones.
    let db = start_behind_bouncer(&topo, &database, &bouncer_config()).await;
    let (errors, bouncer_time) = workload(&db, TASKS, PER_TASK).await;
    assert_eq!(errors, Vec::<String>::new(), "errors through PgBouncer");
    assert!(db.write().stats().max > BOUNCER_POOL_SIZE);
    // Every transaction committed.
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM work")
        .fetch_one(db.write())
        .await
        .unwrap();
    assert_eq!(rows, i64::from(2 * TASKS * PER_TASK));
    // What `prepare` and `describe` leave is gone when they return.
    let mut conn = db.write().acquire().await.unwrap();
    let statement = (&mut *conn)
        .prepare(sqlx::SqlSafeStr::into_sql_str("SELECT $1::int"))
        .await
        .unwrap();
    drop(statement);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_prepared_statements")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(left, 0);
    drop(conn);
    db.close().await;

    let count = f64::from(TASKS * PER_TASK);
    eprintln!(
        "figures: {} transactions + {} statements from {TASKS} tasks over 16 pooled \
         connections: direct {:.0} tx/s, through PgBouncer (transaction pooling, {BOUNCER_POOL_SIZE} \
         server connections) {:.0} tx/s, 0 errors",
        TASKS * PER_TASK,
        TASKS * PER_TASK,
        count / direct_time.as_secs_f64(),
        count / bouncer_time.as_secs_f64(),
    );
}

#[tokio::test]
async fn without_pgbouncer_mode_named_statements_clash_behind_pgbouncer() {
    let topo = topology().await;
    let database = topo.fresh_database("clash").await;
    create_work_table(&topo, &database).await;

    // pgready with `pgbouncer = false` behind PgBouncer: sqlx's cached named statements.
    let db = start_behind_bouncer(&topo, &database, CONFIG).await;
    let (errors, _) = workload(&db, TASKS, PER_TASK).await;
    db.close().await;
    let clashes = errors
        .iter()
        .filter(|e| e.contains("prepared statement \"sqlx_s_"))
        .count();
    assert!(
        clashes > 0,
        "no clash without `pgbouncer = true`: {errors:?}"
    );

    // sqlx's own pool with its statement cache off: still named statements, now never
    // deallocated, so clients' `sqlx_s_<n>` collide on shared server connections.
    let options: sqlx::postgres::PgConnectOptions = topo.bouncer.url(&database).parse().unwrap();
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(16)
        .connect_with(options.statement_cache_capacity(0))
        .await
        .unwrap();
    let mut set = tokio::task::JoinSet::new();
    for task in 0..TASKS {
        let pool = pool.clone();
        set.spawn(async move {
            let mut errors = Vec::new();
            for n in 0..PER_TASK {
                let result: Result<i32, _> = sqlx::query_scalar("SELECT $1::int + $2")
                    .bind(n)
                    .bind(task)
                    .fetch_one(&pool)
                    .await;
                if let Err(e) = result {
                    errors.push(e.to_string());
                }
            }
            errors
        });
    }
    let mut sqlx_errors = Vec::new();
    while let Some(done) = set.join_next().await {
        sqlx_errors.extend(done.unwrap());
    }
    pool.close().await;
    let sqlx_clashes = sqlx_errors
        .iter()
        .filter(|e| e.contains("prepared statement \"sqlx_s_"))
        .count();
    assert!(
        sqlx_clashes > 0,
        "statement_cache_capacity(0) alone: {sqlx_errors:?}"
    );
    eprintln!(
        "figures: without `pgbouncer = true` {clashes} of {} operations failed with \
         \"prepared statement … already exists/does not exist\"; sqlx's PgPool with \
         statement_cache_capacity(0): {sqlx_clashes} of {} queries",
        2 * TASKS * PER_TASK,
        TASKS * PER_TASK
    );
}

#[tokio::test]
async fn migrations_refuse_a_transaction_pooler_and_take_the_direct_dsn() {
    let topo = topology().await;
    let database = topo.fresh_database("migrate").await;

    let through_bouncer = setup(&bouncer_config(), &topo.bouncer.url(&database));
    let refused = pgready::start(&through_bouncer)
        .await
        .expect_err("migrations through PgBouncer in transaction pooling");
    let message = refused.to_string();
    assert!(
        matches!(refused, pgready::Error::TransactionPooler { .. }),
        "{message}"
    );
    assert!(
        message.contains(
            "`DATABASE_URL` reaches the server through a transaction pooler (two connections \
             were served by one server process): set `DATABASE_MIGRATIONS_URL` to a direct DSN"
        ),
        "{message}"
    );
    assert!(
        !message.contains(topo.primary.get().password()),
        "{message}"
    );

    // Direct DSN for migrations: applied there; the service runs through PgBouncer.
    let db = start_behind_bouncer(&topo, &database, &bouncer_config()).await;
    assert_eq!(db.migrations().pending, 0);
    assert!(db.migrations().applied > 0);
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM items")
        .fetch_one(db.write())
        .await
        .unwrap();
    assert_eq!(rows, 0);
    db.close().await;

    // A direct DSN, or PgBouncer in session pooling, is not mistaken for one.
    let direct = pgready::migrate::connection(
        &pgready::config::parse("", "t").unwrap().file.base().clone(),
        &topo.primary.url(&database),
    )
    .await
    .expect("a direct DSN is no pooler");
    direct.close().await.ok();
}

#[tokio::test]
async fn behind_pgbouncer_the_role_settings_are_checked_and_health_and_metrics_work() {
    let topo = topology().await;
    let database = topo.fresh_database("role").await;
    let (logs, _guard) = logs();
    let config = format!(
        "{}[session]\nstatement_timeout = \"20s\"\n",
        bouncer_config()
    );
    let db = start_behind_bouncer(&topo, &database, &config).await;
    let text = logs.take();
    let expected = "run `ALTER ROLE \"pgready\" SET statement_timeout = '20s'; ALTER ROLE \"pgready\" \
                    SET lock_timeout = '5s'; ALTER ROLE \"pgready\" SET \
                    idle_in_transaction_session_timeout = '1min';`";
    assert!(text.contains(expected), "{text}");
    assert_eq!(text.matches("does not hold them").count(), 1, "{text}");

    // Health and metrics through PgBouncer, twice (the probe keeps its connection).
    for _ in 0..2 {
        let report = db.health().await;
        assert_eq!(
            report.status(),
            Status::Pass,
            "{}",
            report.to_json(pgready::health::Detail::Full)
        );
        let metrics = pgready::metrics::render(&db).await;
        assert!(
            metrics.contains("pgready_health_status{status=\"pass\"} 1"),
            "{metrics}"
        );
        assert!(
            metrics.contains("pgready_migrations_applied 2"),
            "{metrics}"
        );
    }
    db.close().await;

    // Given to the role for this database, they are found, and in force through PgBouncer.
    let mut primary = PgConnection::connect(&topo.primary.url(&database))
        .await
        .unwrap();
    for setting in [
        "statement_timeout = '20s'",
        "lock_timeout = '5s'",
        "idle_in_transaction_session_timeout = '1min'",
    ] {
        primary
            .execute(sqlx::AssertSqlSafe(format!(
                "ALTER ROLE pgready IN DATABASE \"{database}\" SET {setting}"
            )))
            .await
            .unwrap();
    }
    primary.close().await.ok();
    // New server connections read the role's settings.
    topo.bouncer.stop().await;
    topo.bouncer.restart().await;
    let db = start_behind_bouncer(&topo, &database, &config).await;
    assert!(!logs.take().contains("does not hold them"));
    let timeout: String = sqlx::query_scalar("SHOW statement_timeout")
        .fetch_one(db.write())
        .await
        .unwrap();
    assert_eq!(timeout, "20s");
    db.close().await;
}

#[tokio::test]
async fn after_a_failover_writes_resume_on_the_promoted_replica_without_a_restart() {
    let mut topo = topology().await;
    let database = topo.fresh_database("failover").await;
    // The DSN names an address the test moves, as a virtual IP or a DNS name is moved.
    let address = Forwarder::start(topo.primary.port()).await;
    let password = topo.primary.get().password().to_owned();
    let url = format!(
        "postgres://pgready:{password}@127.0.0.1:{}/{database}",
        address.port()
    );
    let config = r#"
[pool]
max_connections = 8
min_connections = 2
acquire_timeout = "2s"
[health]
cache = "0"
timeout = "1s"
"#;
    let db = pgready::start(&setup(config, &url))
        .await
        .expect("start pgready");
    let acquire_timeout = Duration::from_secs(2);
    let write = async |db: &Db| {
        sqlx::query("INSERT INTO items (name) VALUES ($1)")
            .bind("failover")
            .execute(db.write())
            .await
    };
    for _ in 0..20 {
        write(&db).await.expect("a write before the failover");
    }
    assert_eq!(db.health().await.status(), Status::Pass);
    topo.caught_up(Duration::from_secs(10)).await;

    // The primary goes away: writes fail fast, health fails.
    topo.primary.stop().await;
    let started = Instant::now();
    assert!(write(&db).await.is_err());
    assert!(started.elapsed() < acquire_timeout + Duration::from_millis(500));
    assert_eq!(db.health().await.status(), Status::Fail);

    // Failover: the replica is promoted and the address moved to it.
    let promoting = Instant::now();
    topo.promote_replica().await;
    let promoted = promoting.elapsed();
    address.retarget(topo.replica.port());
    let moved = Instant::now();
    let mut attempts = 0;
    let mut slowest = Duration::ZERO;
    loop {
        attempts += 1;
        let attempt = Instant::now();
        let result = write(&db).await;
        slowest = slowest.max(attempt.elapsed());
        assert!(
            attempt.elapsed() < acquire_timeout + Duration::from_millis(500),
            "a write hung for {:?}",
            attempt.elapsed()
        );
        if result.is_ok() {
            break;
        }
        assert!(
            moved.elapsed() < Duration::from_secs(15),
            "no write succeeded: {result:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let first_write = moved.elapsed();
    let health = until("health passes again", Duration::from_secs(10), async || {
        db.health().await.status() == Status::Pass
    })
    .await;
    // The writes went to the new primary, which kept what the old one had replicated.
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM items")
        .fetch_one(db.write())
        .await
        .unwrap();
    assert_eq!(rows, 21);
    let in_recovery: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
        .fetch_one(db.write())
        .await
        .unwrap();
    assert!(!in_recovery);
    let metrics = pgready::metrics::render(&db).await;
    let broken = metrics
        .lines()
        .find(|l| {
            l.starts_with("pgready_pool_connections_discarded_total{")
                && l.contains("pool=\"write\"")
                && l.contains("reason=\"broken\"")
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or_default();
    assert!(
        broken >= 1.0,
        "dead connections were not discarded: {metrics}"
    );
    eprintln!(
        "figures: pg_ctl promote {} ms; address moved -> first successful write {} ms \
         ({attempts} attempt(s), slowest {} ms, acquire_timeout 2 s); health fail -> pass {} ms \
         after the first write; {broken} dead connection(s) discarded",
        ms(promoted),
        ms(first_write),
        ms(slowest),
        ms(health)
    );
    db.close().await;
}

/// A line an instance printed, with the instance's number; `None` when its stdout ended.
type Printed = (usize, Option<String>);

/// Forwards every line `child` prints to `lines`, from a thread of its own.
fn forward_stdout(
    n: usize,
    child: &mut std::process::Child,
    lines: tokio::sync::mpsc::UnboundedSender<Printed>,
) {
    use std::io::BufRead as _;
    let stdout = child.stdout.take().expect("a piped stdout");
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines.send((n, Some(line))).is_err() {
                return;
            }
        }
        let _ = lines.send((n, None));
    });
}

/// Reads what the instances print until every one of them has printed a line `done` accepts
/// (`counts[n]` of them); fails past `bound`, or when an instance's stdout ends first.
async fn until_each(
    what: &str,
    lines: &mut tokio::sync::mpsc::UnboundedReceiver<Printed>,
    logs: &mut [String],
    bound: Duration,
    wanted: usize,
    done: impl Fn(&str) -> bool,
) {
    let deadline = tokio::time::Instant::now() + bound;
    let mut seen = vec![0; logs.len()];
    while seen.iter().any(|&s| s < wanted) {
        let printed = tokio::time::timeout_at(deadline, lines.recv()).await;
        let Ok(Some((n, line))) = printed else {
            panic!("{what}: not every instance within {bound:?}: {logs:#?}");
        };
        let Some(line) = line else {
            panic!("{what}: instance {n} ended first: {}", logs[n]);
        };
        seen[n] += usize::from(done(&line));
        logs[n].push_str(&line);
        logs[n].push('\n');
    }
}

#[tokio::test]
async fn eight_instances_behind_pgbouncer_start_together_migrate_once_and_serve() {
    const INSTANCES: usize = 8;
    const REQUESTS: usize = 3;
    let topo = topology().await;
    let database = topo.fresh_database("instances").await;
    let dir = std::env::temp_dir().join(format!("pgready-instances-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // Not idempotent on purpose: a second apply would log a second row. The pause keeps the
    // lock held while the other instances arrive.
    for (file, sql) in [
        (
            "1_tables.sql",
            "CREATE TABLE applied_log (version int);\n\
             CREATE TABLE served (id bigserial PRIMARY KEY, instance text NOT NULL);\n",
        ),
        (
            "2_log.sql",
            "INSERT INTO applied_log VALUES (2);\nSELECT pg_sleep(0.3);\n",
        ),
    ] {
        std::fs::write(dir.join(file), sql).unwrap();
    }
    let config = "[database]\npgbouncer = true\nconnect_retry = \"5s\"\n\
                  [pool]\nmax_connections = 4\nmin_connections = 0\n";

    let started = Instant::now();
    let (sender, mut lines) = tokio::sync::mpsc::unbounded_channel();
    let mut children: Vec<std::process::Child> = (0..INSTANCES)
        .map(|n| {
            let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_migrate_runner"))
                .env("MIGRATIONS_DIR", &dir)
                .env("RUNNER_CONFIG", config)
                .env("RUNNER_SERVE", format!("i{n}"))
                .env("DATABASE_URL", topo.bouncer.url(&database))
                .env("DATABASE_MIGRATIONS_URL", topo.primary.url(&database))
                .env_remove("DATABASE_READ_URL")
                .env_remove("PGREADY_PROFILE")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn an instance");
            forward_stdout(n, &mut child, sender.clone());
            child
        })
        .collect();
    drop(sender);
    let mut logs = vec![String::new(); INSTANCES];
    until_each(
        "instances serving",
        &mut lines,
        &mut logs,
        Duration::from_secs(30),
        1,
        |line| line == "SERVING",
    )
    .await;
    let start_up = started.elapsed();

    // Every instance answers requests that write and read through PgBouncer, all at once.
    let requested = Instant::now();
    for child in &mut children {
        use std::io::Write as _;
        let stdin = child.stdin.as_mut().expect("a piped stdin");
        stdin
            .write_all("request\n".repeat(REQUESTS).as_bytes())
            .unwrap();
        stdin.flush().unwrap();
    }
    until_each(
        "answers",
        &mut lines,
        &mut logs,
        Duration::from_secs(30),
        REQUESTS,
        |line| line.starts_with("ANSWER ") || line.starts_with("FAILED "),
    )
    .await;
    let answered = requested.elapsed();

    // While they run: clients of PgBouncer, sharing its few server connections.
    let admin_url = topo.bouncer.get().admin_url();
    let mut admin = PgConnection::connect(&admin_url).await.unwrap();
    let clients = sqlx::raw_sql("SHOW CLIENTS")
        .fetch_all(&mut admin)
        .await
        .unwrap()
        .iter()
        .filter(|row| {
            use sqlx::Row as _;
            row.try_get::<String, _>("database").ok().as_deref() == Some(database.as_str())
        })
        .count();
    admin.close().await.ok();
    assert!(clients >= INSTANCES, "{clients} clients of PgBouncer");
    let mut primary = PgConnection::connect(&topo.primary.url(&database))
        .await
        .unwrap();
    let backends: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
         AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
    )
    .fetch_one(&mut primary)
    .await
    .unwrap();
    assert!(
        backends <= i64::from(BOUNCER_POOL_SIZE),
        "{backends} server connections for {clients} clients"
    );

    // Stdin closed: each instance ends its body and exits cleanly.
    for child in &mut children {
        drop(child.stdin.take());
    }
    for (n, mut child) in children.into_iter().enumerate() {
        let status = tokio::task::spawn_blocking(move || {
            let status = child.wait();
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                use std::io::Read as _;
                let _ = pipe.read_to_string(&mut stderr);
            }
            (status, stderr)
        })
        .await
        .unwrap();
        let (status, stderr) = status;
        assert!(
            status.as_ref().is_ok_and(|s| s.success()),
            "instance {n}: {status:?}\n{}\n{stderr}",
            logs[n]
        );
    }
    while let Some((n, line)) = lines.recv().await {
        if let Some(line) = line {
            logs[n].push_str(&line);
            logs[n].push('\n');
        }
    }

    // No instance failed; each answered every request with its own rows.
    for (n, log) in logs.iter().enumerate() {
        assert!(log.contains("MIGRATED 2"), "instance {n}: {log}");
        assert!(!log.contains("FAILED"), "instance {n}: {log}");
        let answers: Vec<&str> = log.lines().filter(|l| l.starts_with("ANSWER ")).collect();
        assert_eq!(answers.len(), REQUESTS, "instance {n}: {log}");
        assert!(
            answers[REQUESTS - 1].ends_with(&format!(" {REQUESTS}")),
            "instance {n}: {log}"
        );
    }
    // One instance applied the migrations; the others waited for its lock or found them done.
    let appliers: Vec<&String> = logs
        .iter()
        .filter(|log| log.contains("applied migration"))
        .collect();
    assert_eq!(appliers.len(), 1, "{logs:#?}");
    assert_eq!(appliers[0].matches("applied migration").count(), 2);
    let waited = logs
        .iter()
        .filter(|log| log.contains("waiting for the migration lock"))
        .count();
    for log in logs
        .iter()
        .filter(|log| log.contains("waiting for the migration lock"))
    {
        assert!(
            log.contains("got the migration lock after waiting"),
            "{log}"
        );
    }
    let once: Vec<i32> = sqlx::query_scalar("SELECT version FROM applied_log")
        .fetch_all(&mut primary)
        .await
        .unwrap();
    assert_eq!(once, [2], "the migration ran once");
    let rows: Vec<(i64, bool)> =
        sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut primary)
            .await
            .unwrap();
    assert_eq!(rows, [(1, true), (2, true)]);
    let served: i64 = sqlx::query_scalar("SELECT count(*) FROM served")
        .fetch_one(&mut primary)
        .await
        .unwrap();
    assert_eq!(served, (INSTANCES * REQUESTS) as i64);
    let locks: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .fetch_one(&mut primary)
    .await
    .unwrap();
    assert_eq!(locks, 0, "the migration lock was released");
    primary.close().await.ok();
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!(
        "figures: {INSTANCES} instances through PgBouncer ({BOUNCER_POOL_SIZE} server \
         connections): spawn -> all serving {} ms, migrations applied once ({waited} waited for \
         the lock); {} requests (a write and a read each) answered by all in {} ms; \
         {clients} PgBouncer clients on {backends} server connections",
        ms(start_up),
        INSTANCES * REQUESTS,
        ms(answered)
    );
}

/// `[database] require_tls = true`, fails fast.
const TLS_CONFIG: &str = "[database]\nrequire_tls = true\nconnect_retry = \"0s\"\n\
                          [pool]\nmax_connections = 2\nmin_connections = 0\n";

/// Whether the connection a query runs on is encrypted, from the server's side.
async fn encrypted(db: &Db) -> bool {
    sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(db.write())
        .await
        .expect("read pg_stat_ssl")
}

/// `n` connections one after the other to `url`, each closed; how long one took on average.
async fn connect_time(url: &str, n: u32) -> Duration {
    let started = Instant::now();
    for _ in 0..n {
        let conn = PgConnection::connect(url).await.expect("connect");
        conn.close().await.expect("close");
    }
    started.elapsed() / n
}

#[tokio::test]
async fn require_tls_connects_encrypted_and_verified_and_refuses_a_plain_dsn_or_a_wrong_ca() {
    let server = tokio::task::spawn_blocking(pgready_tests::tls::TlsCluster::start)
        .await
        .expect("the TLS cluster's start-up task panicked");
    let password = server.cluster.password().to_owned();
    let ca = server.ca.display().to_string();
    let other_ca = server.other_ca.display().to_string();

    // `sslmode=require`: encrypted, as the server sees it.
    let db = pgready::start(&setup(
        TLS_CONFIG,
        &server.url("postgres", "sslmode=require"),
    ))
    .await
    .expect("start with sslmode=require");
    assert!(encrypted(&db).await, "sslmode=require ran in plaintext");
    db.close().await;

    // `sslmode=verify-full` with the CA that signed the server's certificate: by IP address
    // and by name.
    for url in [
        server.url("postgres", &format!("sslmode=verify-full&sslrootcert={ca}")),
        server
            .url("postgres", &format!("sslmode=verify-full&sslrootcert={ca}"))
            .replace("@127.0.0.1:", "@localhost:"),
    ] {
        let db = pgready::start(&setup(TLS_CONFIG, &url))
            .await
            .unwrap_or_else(|e| panic!("start with verify-full: {e}"));
        assert!(encrypted(&db).await);
        let report = db.health().await;
        assert_eq!(report.status(), Status::Pass);
        db.close().await;
    }

    // A plain DSN is refused before any connection is tried: the server saw none.
    for params in ["", "sslmode=disable", "sslmode=prefer"] {
        let before = server.connections_received();
        let refused = pgready::start(&setup(TLS_CONFIG, &server.url("postgres", params)))
            .await
            .expect_err("a DSN that does not require TLS");
        let message = refused.to_string();
        assert!(
            matches!(refused, pgready::Error::Dsn { .. }),
            "{params}: {message}"
        );
        assert!(
            message.contains("`require_tls = true` but the DSN")
                && message.contains("add `sslmode=require` (or `verify-ca`/`verify-full`)"),
            "{message}"
        );
        assert!(!message.contains(&password), "{message}");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            server.connections_received(),
            before,
            "{params}: a connection was tried"
        );
    }
    // The log check above would see one: a connection that is made is logged.
    let before = server.connections_received();
    connect_time(&server.url("postgres", "sslmode=disable"), 1).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.connections_received(), before + 1);

    // The wrong CA: refused, and the message says what to fix.
    let wrong = server.url(
        "postgres",
        &format!("sslmode=verify-full&sslrootcert={other_ca}"),
    );
    // Not retried: `connect_retry` would only delay the same answer.
    let patient = TLS_CONFIG.replace("connect_retry = \"0s\"", "connect_retry = \"30s\"");
    let started = Instant::now();
    let refused = pgready::start(&setup(&patient, &wrong))
        .await
        .expect_err("a certificate the CA did not sign");
    assert!(started.elapsed() < Duration::from_secs(5), "retried");
    let message = refused.to_string();
    assert!(!message.contains(&password), "{message}");
    assert!(
        message.contains(
            "invalid peer certificate: UnknownIssuer (the server's certificate is \
             not signed by the CA the client trusts: set `sslrootcert` in the DSN to the PEM \
             file of the CA that signed it"
        ),
        "{message}"
    );
    assert!(!message.contains("connect_retry"), "{message}");
    // A CA file that is not there: said before any connection.
    let missing = server.url(
        "postgres",
        "sslmode=verify-full&sslrootcert=/nonexistent/ca.crt",
    );
    let refused = pgready::start(&setup(&patient, &missing))
        .await
        .expect_err("a missing sslrootcert");
    let message = refused.to_string();
    assert!(matches!(refused, pgready::Error::Dsn { .. }), "{message}");
    assert!(
        message.contains("`sslrootcert=/nonexistent/ca.crt` cannot be read"),
        "{message}"
    );
    // A server without TLS (the shared test cluster).
    let plain_server = format!(
        "{}?sslmode=require",
        tokio::task::spawn_blocking(|| pgready_tests::url("postgres"))
            .await
            .unwrap()
    );
    let message = pgready::start(&setup(&patient, &plain_server))
        .await
        .expect_err("a server without TLS")
        .to_string();
    assert!(
        message.contains("the server does not accept TLS: turn on `ssl` on the server"),
        "{message}"
    );

    // What TLS costs per connection (SCRAM login included in both).
    let plain = connect_time(&server.url("postgres", "sslmode=disable"), 10).await;
    let tls = connect_time(&server.url("postgres", "sslmode=require"), 10).await;
    let verified = connect_time(
        &server.url("postgres", &format!("sslmode=verify-full&sslrootcert={ca}")),
        10,
    )
    .await;
    eprintln!(
        "figures: new connection (SCRAM login, loopback) plaintext {:.1} ms, sslmode=require \
         {:.1} ms, verify-full {:.1} ms",
        plain.as_secs_f64() * 1000.0,
        tls.as_secs_f64() * 1000.0,
        verified.as_secs_f64() * 1000.0
    );
    tokio::task::spawn_blocking(move || drop(server)).await.ok();
}
