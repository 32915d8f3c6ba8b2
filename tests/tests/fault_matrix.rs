//! The fault matrix: network and server faults injected for real (a PostgreSQL of this binary's
//! own, restarted; the fault proxy of `pgready_tests::faults` in front of it) while a load
//! generator writes and reads through the real pool, with the real migrator at start-up and the
//! real health endpoint probed. Each scenario prints a row; the test prints the table at the
//! end and asserts that no acknowledged write is lost, that every failure came within a bound
//! (no hang), that the pool recovers without a restart within a bound, and that the role's
//! password appears in no log line, error, health body or metrics text.
//!
//! `cargo test -p pgready-tests --test fault_matrix -- --nocapture` prints the table.

mod health_http;

use std::collections::{BTreeSet, HashSet};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use pgready::embedded::Cluster;
use pgready_tests::faults::FaultProxy;
use pgready_tests::{Captured, setup};
use sqlx::{ConnectOptions, Connection, Executor};

/// The application role's password: distinctive, so a scan for it cannot match by accident.
const PASSWORD: &str = "s3cr3t-fault-Qv7rT2";
const ROLE: &str = "fault_app";
const DATABASE: &str = "faults";

/// Tasks of the load generator.
const WORKERS: usize = 8;
/// `[pool] max_connections`: fewer than the workers, so they queue for connections.
const MAX_CONNECTIONS: u64 = 4;
/// The service's own deadline per request (an HTTP server's request timeout): what ends a
/// request the database layer would leave waiting.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// The load window of the baseline and of the slow-network rows, compared with each other.
const BASELINE: Duration = Duration::from_millis(1500);
const ACQUIRE_TIMEOUT: Duration = Duration::from_millis(1500);
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(1);
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);
/// Slack for a loaded 2-core machine on every time bound.
const SLACK: Duration = Duration::from_millis(1500);
/// The pool serves again this soon after the fault ends.
const RECOVERY_BOUND: Duration = Duration::from_secs(5);
/// After connections went dead mid-statement: the request deadline, then the pool's 5 s of
/// trying to clean each abandoned connection (`CLEANUP_TIMEOUT` in `runtime/src/pool`), then
/// slack.
const STRANDED_RECOVERY_BOUND: Duration = Duration::from_secs(10);
/// `[shutdown] grace`: `Db::close` returns within it.
const GRACE: Duration = Duration::from_secs(1);

const CONFIG: &str = r#"
[database]
connect_retry = "5s"
[pool]
max_connections = 4
min_connections = 0
acquire_timeout = "1500ms"
[session]
statement_timeout = "1s"
lock_timeout = "500ms"
[shutdown]
grace = "1s"
"#;

/// Full detail, so the error text of a failed check is in the body the scan reads.
#[pgready::health_endpoint(cache = "0", timeout = "2s", detail = "full")]
async fn health() {}

/// The matrix's server: this binary's own, as the restart scenario stops and starts it.
struct Server {
    cluster: Arc<Mutex<Cluster>>,
}

impl Server {
    async fn start() -> Server {
        let cluster = tokio::task::spawn_blocking(|| {
            Cluster::start_temporary().expect("start the fault matrix's PostgreSQL")
        })
        .await
        .unwrap();
        let server = Server {
            cluster: Arc::new(Mutex::new(cluster)),
        };
        let mut admin = server.admin("postgres").await;
        admin
            .execute(sqlx::AssertSqlSafe(format!(
                "CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}'"
            )))
            .await
            .unwrap();
        admin
            .execute(sqlx::AssertSqlSafe(format!(
                "CREATE DATABASE {DATABASE} OWNER {ROLE}"
            )))
            .await
            .unwrap();
        // The server restarts in the matrix, the machine does not: acknowledged writes survive
        // a restart without fsync, and a CI machine's busy disk would otherwise put fsync
        // stalls of seconds into every timing (and requests at their deadline).
        admin.execute("ALTER SYSTEM SET fsync = off").await.unwrap();
        admin.execute("SELECT pg_reload_conf()").await.unwrap();
        admin.close().await.unwrap();
        server
    }

    fn port(&self) -> u16 {
        self.cluster.lock().unwrap().port()
    }

    /// A superuser connection straight to the server, past the proxy; its statements are not
    /// logged (one sets the password, and the logs are scanned for it).
    async fn admin(&self, database: &str) -> sqlx::PgConnection {
        let url = self.cluster.lock().unwrap().url(database);
        let options: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
        sqlx::PgConnection::connect_with(&options.disable_statement_logging())
            .await
            .unwrap()
    }

    /// `pg_ctl stop -m fast` or `pg_ctl start`, on a blocking thread so the load keeps running.
    async fn set_running(&self, running: bool) {
        let cluster = Arc::clone(&self.cluster);
        tokio::task::spawn_blocking(move || {
            let mut cluster = cluster.lock().unwrap();
            if running {
                cluster.start().expect("start PostgreSQL again");
            } else {
                cluster.stop().expect("stop PostgreSQL");
            }
        })
        .await
        .unwrap();
    }

    /// The `fm-<id>` names in `items`.
    async fn stored(&self) -> HashSet<String> {
        let mut conn = self.admin(DATABASE).await;
        let names: Vec<String> =
            sqlx::query_scalar("SELECT name FROM items WHERE name LIKE 'fm-%'")
                .fetch_all(&mut conn)
                .await
                .unwrap();
        conn.close().await.ok();
        names.into_iter().collect()
    }
}

/// The DSN of the application role through `proxy`.
fn dsn(proxy: &FaultProxy) -> String {
    format!(
        "postgres://{ROLE}:{PASSWORD}@127.0.0.1:{}/{DATABASE}",
        proxy.port()
    )
}

/// Every text the scenarios saw, scanned for the password at the end.
#[derive(Default)]
struct Seen {
    texts: Vec<(String, String)>,
}

impl Seen {
    fn add(&mut self, what: impl Into<String>, text: impl Into<String>) {
        self.texts.push((what.into(), text.into()));
    }
}

/// What the load generator counted.
#[derive(Default)]
struct Tally {
    requests: u64,
    /// Names of the writes the pool acknowledged (`Ok` from the INSERT).
    acked: Vec<String>,
    /// When each successful write returned.
    ok_at: Vec<Instant>,
    errors: u64,
    /// Requests ended by the service's own deadline, not by the database layer.
    deadline: u64,
    slowest_error: Duration,
    /// Distinct error texts (`Display` and `Debug`).
    texts: BTreeSet<String>,
    /// The largest pool size seen (`Pool::stats`, sampled every 10 ms).
    pool_size: u32,
}

struct Load {
    stop: Arc<AtomicBool>,
    tally: Arc<Mutex<Tally>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

static NEXT_ID: AtomicI64 = AtomicI64::new(0);

impl Load {
    /// [`WORKERS`] tasks, each writing a uniquely named row and, every fourth request, reading
    /// one back; a failed request waits 20 ms before the next, as a client would.
    fn start(db: &pgready::Db) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let tally = Arc::new(Mutex::new(Tally::default()));
        let tasks = (0..WORKERS)
            .map(|_| {
                let (db, stop, tally) = (db.clone(), Arc::clone(&stop), Arc::clone(&tally));
                tokio::spawn(async move {
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        n += 1;
                        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
                        let name = format!("fm-{id}");
                        let write = !n.is_multiple_of(4);
                        let started = Instant::now();
                        let result = tokio::time::timeout(REQUEST_TIMEOUT, async {
                            if write {
                                sqlx::query("INSERT INTO items (name) VALUES ($1)")
                                    .bind(&name)
                                    .execute(db.write())
                                    .await
                                    .map(drop)
                            } else {
                                sqlx::query("SELECT count(*) FROM items WHERE name = $1")
                                    .bind(format!("fm-{}", id - 1))
                                    .fetch_one(db.read())
                                    .await
                                    .map(drop)
                            }
                        })
                        .await;
                        let took = started.elapsed();
                        let failed = {
                            let mut t = tally.lock().unwrap();
                            t.requests += 1;
                            match result {
                                Ok(Ok(())) => {
                                    if write {
                                        t.acked.push(name);
                                        t.ok_at.push(Instant::now());
                                    }
                                    false
                                }
                                Ok(Err(e)) => {
                                    t.errors += 1;
                                    t.slowest_error = t.slowest_error.max(took);
                                    if t.texts.len() < 200 {
                                        t.texts.insert(format!("{e}"));
                                        t.texts.insert(format!("{e:?}"));
                                    }
                                    true
                                }
                                Err(_) => {
                                    t.errors += 1;
                                    t.deadline += 1;
                                    t.slowest_error = t.slowest_error.max(took);
                                    true
                                }
                            }
                        };
                        if failed {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                })
            })
            .collect::<Vec<_>>();
        let mut tasks = tasks;
        tasks.push(tokio::spawn({
            let (db, stop, tally) = (db.clone(), Arc::clone(&stop), Arc::clone(&tally));
            async move {
                while !stop.load(Ordering::Relaxed) {
                    let size = db.write().stats().size;
                    {
                        let mut t = tally.lock().unwrap();
                        t.pool_size = t.pool_size.max(size);
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }));
        Load { stop, tally, tasks }
    }

    /// Stops the workers, waits for them, and returns the tally.
    async fn finish(self) -> Tally {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            tokio::time::timeout(REQUEST_TIMEOUT + SLACK, task)
                .await
                .expect("a worker ends within its request deadline")
                .unwrap();
        }
        Arc::try_unwrap(self.tally)
            .ok()
            .expect("the workers are gone")
            .into_inner()
            .unwrap()
    }
}

/// One row of the matrix.
struct Row {
    fault: String,
    requests: u64,
    acked: u64,
    lost: u64,
    errors: u64,
    deadline: u64,
    slowest_error: Option<Duration>,
    recovery: Option<Duration>,
    /// The most client sockets open at the proxy at once.
    sockets: Option<u64>,
    /// `recovery` must not exceed it.
    recovery_bound: Duration,
    note: String,
}

impl Row {
    fn print(&self) {
        println!("{}", self.line());
    }

    fn line(&self) -> String {
        let ms =
            |d: Option<Duration>| d.map_or("-".to_owned(), |d| format!("{} ms", d.as_millis()));
        format!(
            "| {} | {} | {} | {} | {} ({} at the request deadline) | {} | {} | {} | {} |",
            self.fault,
            self.requests,
            self.acked,
            self.lost,
            self.errors,
            self.deadline,
            ms(self.slowest_error),
            ms(self.recovery),
            self.sockets.map_or("-".to_owned(), |n| n.to_string()),
            self.note
        )
    }
}

/// The scenario's running service: the pool started through `proxy`, and its health endpoint.
struct Service {
    db: pgready::Db,
    http: SocketAddr,
}

impl Service {
    async fn start(proxy: &FaultProxy, seen: &mut Seen) -> Service {
        let db = match pgready::start(&setup(CONFIG, &dsn(proxy))).await {
            Ok(db) => db,
            Err(e) => {
                seen.add("start-up error", format!("{e} {e:?}"));
                panic!("start through the proxy: {e}");
            }
        };
        let app = Router::new()
            .route("/health", get(health))
            .with_state(db.clone());
        let http = health_http::serve(app).await;
        Service { db, http }
    }

    /// `GET /health`: its status and how long it took; the body goes to `seen`.
    async fn health(&self, seen: &mut Seen) -> (u16, Duration) {
        let started = Instant::now();
        let r = health_http::get(self.http, "/health").await;
        let took = started.elapsed();
        seen.add(format!("health body ({})", r.status), r.body);
        (r.status, took)
    }

    async fn close(self, seen: &mut Seen) {
        seen.add("metrics", pgready::metrics::render(&self.db).await);
        tokio::time::timeout(Duration::from_secs(10), self.db.close())
            .await
            .expect("the pool closes within 10 s");
    }
}

/// Compares the acknowledged writes with the table, and makes the row.
async fn row(
    server: &Server,
    proxy: &FaultProxy,
    fault: &str,
    tally: Tally,
    healed_at: Option<Instant>,
    seen: &mut Seen,
    note: String,
) -> Row {
    row_since(
        server,
        proxy,
        fault,
        tally,
        healed_at.map(|at| (at, at)),
        seen,
        note,
    )
    .await
}

/// [`row`], the recovery counted from `since.0` to the first acknowledged write not before
/// `since.1`.
async fn row_since(
    server: &Server,
    proxy: &FaultProxy,
    fault: &str,
    tally: Tally,
    since: Option<(Instant, Instant)>,
    seen: &mut Seen,
    note: String,
) -> Row {
    assert!(
        u64::from(tally.pool_size) <= MAX_CONNECTIONS,
        "{fault}: the pool held {} connections, past `max_connections`",
        tally.pool_size
    );
    let stored = server.stored().await;
    let lost = tally.acked.iter().filter(|n| !stored.contains(*n)).count() as u64;
    let recovery = since.map(|(from, not_before)| {
        tally
            .ok_at
            .iter()
            .filter(|&&at| at >= not_before)
            .min()
            .map_or(Duration::MAX, |&at| at - from)
    });
    for text in &tally.texts {
        seen.add(format!("{fault}: error"), text.clone());
    }
    let row = Row {
        fault: fault.to_owned(),
        requests: tally.requests,
        acked: tally.acked.len() as u64,
        lost,
        errors: tally.errors,
        deadline: tally.deadline,
        slowest_error: (tally.errors > 0).then_some(tally.slowest_error),
        recovery,
        sockets: Some(proxy.peak()),
        recovery_bound: RECOVERY_BOUND,
        note,
    };
    row.print();
    row
}

/// Waits `d` while the load runs.
async fn run_for(d: Duration) {
    tokio::time::sleep(d).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_matrix() {
    let logs = Captured::default();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_writer(logs.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .finish(),
    )
    .expect("the only subscriber of this binary");

    let started = Instant::now();
    let server = Server::start().await;
    let mut seen = Seen::default();
    let mut rows = Vec::new();
    println!("\nPostgreSQL ready in {:?}", started.elapsed());

    rows.push(down_at_start_up(&server, &mut seen, false).await);
    rows.push(down_at_start_up(&server, &mut seen, true).await);
    rows.push(up_during_start_up(&server, &mut seen).await);
    let baseline = no_fault(&server, &mut seen).await;
    let baseline_rate = baseline.requests;
    rows.push(baseline);
    rows.push(restart(&server, &mut seen).await);
    rows.push(black_hole(&server, &mut seen).await);
    rows.push(cut_one_way(&server, &mut seen).await);
    rows.push(stranded(&server, &mut seen).await);
    rows.push(close_in_black_hole(&server, &mut seen).await);
    rows.push(resets(&server, &mut seen).await);
    rows.push(refused(&server, &mut seen).await);
    for (up, down) in [(25, 25), (100, 100)] {
        rows.push(slow_network(&server, &mut seen, up, down, baseline_rate).await);
    }

    let mut table = String::from(
        "| fault | requests | acknowledged | lost | errors | slowest error | recovery | sockets | notes |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for row in &rows {
        writeln!(table, "{}", row.line()).unwrap();
    }
    for (fault, test) in [
        (
            "failing migration",
            "migrate.rs `a_failing_migration_rolls_back_and_names_its_file_and_line`",
        ),
        (
            "SIGKILL during a migration",
            "migrate.rs `a_process_killed_mid_migration_leaves_no_partial_schema_and_no_lock`",
        ),
        (
            "8 instances at once",
            "migrate.rs `eight_processes_at_once_apply_each_migration_exactly_once`, \
             beyond_one_machine.rs `eight_instances_behind_pgbouncer_start_together_migrate_once_and_serve`",
        ),
    ] {
        writeln!(table, "| {fault} | | | | | | | | {test} |").unwrap();
    }
    println!("\nfault matrix ({:?} in all):\n{table}", started.elapsed());

    seen.add("logs", logs.text());
    for (what, text) in &seen.texts {
        assert!(
            !text.contains(PASSWORD) && !text.contains("s3cr3t"),
            "{what} leaks the password: {text}"
        );
    }
    println!("password scan: {} texts, none carries it", seen.texts.len());
    for row in &rows {
        assert_eq!(row.lost, 0, "acknowledged writes lost: {}", row.line());
        if let Some(sockets) = row.sockets {
            // The health probe keeps one connection of its own beside the pool's.
            assert!(
                sockets <= MAX_CONNECTIONS + 1,
                "more sockets than `max_connections` + the probe's: {}",
                row.line()
            );
        }
        if let Some(recovery) = row.recovery {
            assert!(
                recovery <= row.recovery_bound,
                "slow recovery: {}",
                row.line()
            );
        }
    }
}

/// Nothing answers: start-up retries for `connect_retry`, then a typed error that says so.
/// `black_hole`: the connection is accepted and never answered, instead of refused.
async fn down_at_start_up(server: &Server, seen: &mut Seen, black_hole: bool) -> Row {
    let proxy = FaultProxy::start(server.port()).await;
    if black_hole {
        proxy.black_hole(true);
    } else {
        proxy.refuse(true);
    }
    let config = "[database]\nconnect_retry = \"1s\"\n";
    let started = Instant::now();
    let err = tokio::time::timeout(
        Duration::from_secs(10),
        pgready::start(&setup(config, &dsn(&proxy))),
    )
    .await
    .expect("start-up gives up, it does not hang")
    .expect_err("nothing answers");
    let took = started.elapsed();
    seen.add("start-up error Display", err.to_string());
    seen.add("start-up error Debug", format!("{err:?}"));
    let pgready::Error::Connect {
        attempts, target, ..
    } = &err
    else {
        panic!("a connection error, not {err:?}");
    };
    assert!(black_hole || *attempts > 1, "retried: {err}");
    assert!(target.contains("***"), "the DSN is shown redacted: {err}");
    assert!(
        err.to_string().contains("connect_retry"),
        "names the setting: {err}"
    );
    assert!(
        took >= Duration::from_millis(950) && took <= Duration::from_secs(1) + SLACK,
        "gave up at `connect_retry` (1 s), not after {took:?}: {err}"
    );
    let fault = if black_hole {
        "database black-holed at start-up (connect_retry 1 s)"
    } else {
        "database down at start-up (refused; connect_retry 1 s)"
    };
    let row = Row {
        fault: fault.to_owned(),
        requests: 1,
        acked: 0,
        lost: 0,
        errors: 1,
        deadline: 0,
        slowest_error: Some(took),
        recovery: None,
        sockets: None,
        recovery_bound: RECOVERY_BOUND,
        note: format!("`Error::Connect` after {attempts} attempt(s)"),
    };
    row.print();
    row
}

/// The database comes up 1 s into start-up: start-up waits, migrates and serves.
async fn up_during_start_up(server: &Server, seen: &mut Seen) -> Row {
    let proxy = FaultProxy::start(server.port()).await;
    proxy.refuse(true);
    let (service, recovery) = {
        let start = Service::start(&proxy, seen);
        tokio::pin!(start);
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = &mut start => panic!("started while refused"),
        }
        proxy.refuse(false);
        let healed = Instant::now();
        let service = start.await;
        (service, healed.elapsed())
    };
    let (status, _) = service.health(seen).await;
    assert_eq!(status, 200);
    service.close(seen).await;
    let row = Row {
        fault: "database up 1 s into start-up".to_owned(),
        requests: 1,
        acked: 1,
        lost: 0,
        errors: 0,
        deadline: 0,
        slowest_error: None,
        recovery: Some(recovery),
        sockets: Some(proxy.peak()),
        recovery_bound: RECOVERY_BOUND,
        note: "start-up retried, then migrated and served".to_owned(),
    };
    row.print();
    row
}

async fn no_fault(server: &Server, seen: &mut Seen) -> Row {
    let proxy = FaultProxy::start(server.port()).await;
    let service = Service::start(&proxy, seen).await;
    let load = Load::start(&service.db);
    run_for(BASELINE).await;
    let tally = load.finish().await;
    assert_eq!(tally.errors, 0, "no fault, no error: {:?}", tally.texts);
    assert!(proxy.peak() <= MAX_CONNECTIONS, "{} sockets", proxy.peak());
    service.close(seen).await;
    row(
        server,
        &proxy,
        "none (baseline, 1.5 s)",
        tally,
        None,
        seen,
        String::new(),
    )
    .await
}

/// `pg_ctl stop -m fast` 1 s into sustained writes, started again 1 s later.
async fn restart(server: &Server, seen: &mut Seen) -> Row {
    let proxy = FaultProxy::start(server.port()).await;
    let service = Service::start(&proxy, seen).await;
    let load = Load::start(&service.db);
    run_for(Duration::from_millis(800)).await;
    server.set_running(false).await;
    let (status, took) = service.health(seen).await;
    assert_eq!(status, 503, "the database is down");
    assert!(
        took <= HEALTH_TIMEOUT + SLACK,
        "health answered in {took:?}"
    );
    run_for(Duration::from_secs(1)).await;
    server.set_running(true).await;
    let healed = Instant::now();
    run_for(Duration::from_millis(1000)).await;
    let tally = load.finish().await;
    let (status, _) = service.health(seen).await;
    assert_eq!(
        status, 200,
        "healthy again without a restart of the service"
    );
    service.close(seen).await;
    assert!(tally.errors > 0, "the restart was felt");
    assert_eq!(
        tally.deadline, 0,
        "every failed request got an error from the pool, none hung to the deadline"
    );
    assert!(
        tally.slowest_error <= ACQUIRE_TIMEOUT + STATEMENT_TIMEOUT + SLACK,
        "errors came fast: {:?}",
        tally.slowest_error
    );
    let note = format!("health 503 in {} ms while down", took.as_millis());
    row(
        server,
        &proxy,
        "PostgreSQL restart (fast stop, 1 s down) under writes",
        tally,
        Some(healed),
        seen,
        note,
    )
    .await
}

/// Every byte held both ways for 3 s, open and new connections alike.
async fn black_hole(server: &Server, seen: &mut Seen) -> Row {
    let proxy = FaultProxy::start(server.port()).await;
    let service = Service::start(&proxy, seen).await;
    let load = Load::start(&service.db);
    run_for(Duration::from_millis(500)).await;
    proxy.reset_peak();
    proxy.black_hole(true);
    let holed = Instant::now();

    // Acquires give up at `acquire_timeout` (or hand out a connection idle within the
    // validation bypass), never later.
    let mut slowest_acquire = Duration::ZERO;
    let mut acquire_errors = BTreeSet::new();
    for _ in 0..3 {
        let started = Instant::now();
        match service.db.write().acquire().await {
            Ok(conn) => drop(conn),
            Err(e) => {
                acquire_errors.insert(format!("{e}"));
                acquire_errors.insert(format!("{e:?}"));
            }
        }
        slowest_acquire = slowest_acquire.max(started.elapsed());
    }
    let (status, health_took) = service.health(seen).await;
    let remaining = Duration::from_millis(2500).saturating_sub(holed.elapsed());
    run_for(remaining).await;
    let sockets = proxy.peak();
    proxy.heal();
    let healed = Instant::now();
    run_for(Duration::from_millis(1000)).await;
    let tally = load.finish().await;
    for text in acquire_errors {
        seen.add("black hole: acquire error", text);
    }
    service.close(seen).await;

    assert!(
        slowest_acquire <= ACQUIRE_TIMEOUT + SLACK,
        "acquire waited {slowest_acquire:?}, past acquire_timeout"
    );
    assert_eq!(status, 503, "a black-holed database is not ready");
    assert!(
        health_took <= HEALTH_TIMEOUT + SLACK,
        "health answered in {health_took:?}"
    );
    // The health probe opens one connection of its own beside the pool's.
    assert!(
        sockets <= MAX_CONNECTIONS + 1,
        "{sockets} sockets open at the proxy, pool max {MAX_CONNECTIONS} + the health probe's"
    );
    assert!(
        tally.slowest_error <= REQUEST_TIMEOUT + SLACK,
        "every request ended: {:?}",
        tally.slowest_error
    );
    let note = format!(
        "health 503 in {} ms; slowest acquire {} ms; at most {sockets} sockets (max {MAX_CONNECTIONS} + probe)",
        health_took.as_millis(),
        slowest_acquire.as_millis()
    );
    row(
        server,
        &proxy,
        "black hole, both ways, 2.5 s",
        tally,
        Some(healed),
        seen,
        note,
    )
    .await
}

/// Every connection open now goes dead for good (a lost NAT entry, a host replaced behind its
/// address) while new ones work: statements in flight wait for the request deadline, and the
/// pool gets its places back once it gives up cleaning the abandoned connections.
async fn stranded(server: &Server, seen: &mut Seen) -> Row {
    let proxy = FaultProxy::start(server.port()).await;
    let service = Service::start(&proxy, seen).await;
    let load = Load::start(&service.db);
    run_for(Duration::from_millis(500)).await;
    proxy.strand();
    let stranded = Instant::now();
    // Writes stop until the callers gave up (the request deadline) and the pool stopped trying
    // to clean what they abandoned (5 s); the end of that stall is the first write after it.
    let mut health = None;
    let stall_end = loop {
        run_for(Duration::from_millis(100)).await;
        if health.is_none() && stranded.elapsed() > REQUEST_TIMEOUT {
            health = Some(service.health(seen).await);
        }
        let stall = {
            let tally = load.tally.lock().unwrap();
            let mut oks: Vec<Instant> = tally
                .ok_at
                .iter()
                .copied()
                .filter(|&at| at > stranded)
                .collect();
            oks.sort();
            let mut previous = stranded;
            oks.into_iter().find(|&at| {
                let gap = at - std::mem::replace(&mut previous, at);
                gap >= Duration::from_secs(1)
            })
        };
        if let Some(end) = stall
            && end.elapsed() > Duration::from_millis(300)
        {
            break Some(end);
        }
        let writing = load.tally.lock().unwrap().ok_at.last().copied();
        if stall.is_none()
            && stranded.elapsed() > REQUEST_TIMEOUT + SLACK
            && writing.is_some_and(|at| at.elapsed() < Duration::from_millis(300))
        {
            // No stall at all: writes went on.
            break Some(stranded);
        }
        if stranded.elapsed() > STRANDED_RECOVERY_BOUND + Duration::from_secs(1) {
            break None;
        }
    };
    let tally = load.finish().await;
    service.close(seen).await;
    let (status, took) = health.expect("probed");
    let stall_end = stall_end.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
    let note = format!(
        "health {status} in {} ms during the stall",
        took.as_millis()
    );
    let mut row = row_since(
        server,
        &proxy,
        "every open connection dead for good (stranded)",
        tally,
        Some((stranded, stall_end)),
        seen,
        note,
    )
    .await;
    row.recovery_bound = STRANDED_RECOVERY_BOUND;
    row
}

/// Server → client held for 1.5 s: the server did the work, the client never hears of it.
async fn cut_one_way(server: &Server, seen: &mut Seen) -> Row {
    let proxy = FaultProxy::start(server.port()).await;
    let service = Service::start(&proxy, seen).await;
    let load = Load::start(&service.db);
    run_for(Duration::from_millis(500)).await;
    proxy.cut(false, true);
    run_for(Duration::from_millis(1500)).await;
    proxy.heal();
    let healed = Instant::now();
    run_for(Duration::from_millis(1000)).await;
    let tally = load.finish().await;
    service.close(seen).await;
    assert!(
        tally.slowest_error <= REQUEST_TIMEOUT + SLACK,
        "every request ended: {:?}",
        tally.slowest_error
    );
    row(
        server,
        &proxy,
        "server → client cut, 1.5 s",
        tally,
        Some(healed),
        seen,
        String::new(),
    )
    .await
}

/// The service stops while the database is black-holed, one statement in flight: `Db::close`
/// still returns within `[shutdown] grace`.
async fn close_in_black_hole(server: &Server, seen: &mut Seen) -> Row {
    let proxy = FaultProxy::start(server.port()).await;
    let service = Service::start(&proxy, seen).await;
    let warm: Vec<_> =
        futures_util::future::join_all((0..MAX_CONNECTIONS).map(|_| service.db.write().acquire()))
            .await;
    drop(warm);
    let busy = tokio::spawn({
        let db = service.db.clone();
        async move {
            let started = Instant::now();
            let result = sqlx::query("SELECT pg_sleep(0.3)")
                .execute(db.write())
                .await;
            (result.map(drop), started.elapsed())
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    proxy.black_hole(true);
    seen.add("metrics", pgready::metrics::render(&service.db).await);
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(30), service.db.close())
        .await
        .expect("`Db::close` returns");
    let took = started.elapsed();
    // Still waiting after the close: nothing but the caller's deadline would end it.
    let hung = !busy.is_finished();
    busy.abort();
    let (errors, deadline, slowest_error) = match busy.await {
        Ok((Ok(()), _)) => (0, 0, None),
        Ok((Err(e), after)) => {
            seen.add("close in a black hole: error", format!("{e} {e:?}"));
            (1, 0, Some(after))
        }
        Err(_) => (1, u64::from(hung), None),
    };
    proxy.heal();
    assert!(took <= GRACE + SLACK, "`Db::close` took {took:?}");
    let row = Row {
        fault: "pool closed during a black hole, a statement in flight".to_owned(),
        requests: 1,
        acked: 0,
        lost: 0,
        errors,
        deadline,
        slowest_error,
        recovery: None,
        sockets: Some(proxy.peak()),
        recovery_bound: RECOVERY_BOUND,
        note: format!(
            "`Db::close` returned in {} ms (grace {} s){}",
            took.as_millis(),
            GRACE.as_secs(),
            if hung {
                "; the statement in flight was still waiting"
            } else {
                ""
            }
        ),
    };
    row.print();
    row
}

/// Every connection reset (RST both ways) twice, 500 ms apart, under load.
async fn resets(server: &Server, seen: &mut Seen) -> Row {
    let proxy = FaultProxy::start(server.port()).await;
    let service = Service::start(&proxy, seen).await;
    let load = Load::start(&service.db);
    run_for(Duration::from_millis(500)).await;
    proxy.reset_all();
    run_for(Duration::from_millis(500)).await;
    proxy.reset_all();
    let healed = Instant::now();
    run_for(Duration::from_millis(1000)).await;
    let tally = load.finish().await;
    service.close(seen).await;
    assert!(proxy.resets() > 0, "connections were reset");
    assert_eq!(tally.deadline, 0, "a reset is an error at once, not a hang");
    let note = format!("{} connections reset", proxy.resets());
    row(
        server,
        &proxy,
        "every connection reset (RST), twice",
        tally,
        Some(healed),
        seen,
        note,
    )
    .await
}

/// Every connection reset and new ones refused for 1 s, under load.
async fn refused(server: &Server, seen: &mut Seen) -> Row {
    let proxy = FaultProxy::start(server.port()).await;
    let service = Service::start(&proxy, seen).await;
    let load = Load::start(&service.db);
    run_for(Duration::from_millis(500)).await;
    proxy.refuse(true);
    proxy.reset_all();
    run_for(Duration::from_secs(1)).await;
    let (status, took) = service.health(seen).await;
    proxy.refuse(false);
    let healed = Instant::now();
    run_for(Duration::from_millis(1000)).await;
    let tally = load.finish().await;
    service.close(seen).await;
    assert_eq!(status, 503, "no connection, not ready");
    assert_eq!(
        tally.deadline, 0,
        "a refused connection is an error at once, not a hang"
    );
    let note = format!("health 503 in {} ms", took.as_millis());
    row(
        server,
        &proxy,
        "connections reset, new ones refused, 1 s",
        tally,
        Some(healed),
        seen,
        note,
    )
    .await
}

/// Latency on every chunk, from the start of the scenario: slower, nothing breaks.
async fn slow_network(server: &Server, seen: &mut Seen, up: u64, down: u64, baseline: u64) -> Row {
    let proxy = FaultProxy::start(server.port()).await;
    let service = Service::start(&proxy, seen).await;
    // The pool's connections opened first: the rows measure a slow link, not connecting over
    // it (SCRAM takes a handful of round trips, past `acquire_timeout` at 200 ms each).
    let warm: Vec<_> =
        futures_util::future::join_all((0..MAX_CONNECTIONS).map(|_| service.db.write().acquire()))
            .await;
    drop(warm);
    proxy.set_latency(Duration::from_millis(up), Duration::from_millis(down));
    // The first probe opens the probe's connection (a dozen round trips with SCRAM); the
    // probes after it reuse that connection, as a load balancer's probes every few seconds do.
    let (cold, cold_took) = service.health(seen).await;
    let load = Load::start(&service.db);
    run_for(BASELINE).await;
    let tally = load.finish().await;
    let (status, took) = service.health(seen).await;
    service.close(seen).await;
    assert_eq!(
        tally.errors, 0,
        "a slow network is no error: {:?}",
        tally.texts
    );
    // At 100 ms each way a probe on a new connection (SCRAM, then its statements prepared)
    // needs ~2 s, as long as its timeout: it may fail, and the next one on a new connection
    // again (README, *Reliability*). At 25 ms each way it must pass.
    if up + down < 100 {
        assert_eq!(
            status, 200,
            "first probe {cold} in {cold_took:?}, then {took:?}"
        );
    }
    assert!(
        tally.requests < baseline,
        "{} requests with latency, {baseline} without",
        tally.requests
    );
    let note = format!(
        "{:.0}% of the baseline's requests; health: first probe {cold} in {} ms, next {status} in {} ms",
        100.0 * tally.requests as f64 / baseline as f64,
        cold_took.as_millis(),
        took.as_millis()
    );
    row(
        server,
        &proxy,
        &format!("latency {up} ms + {down} ms per round trip, 1.5 s"),
        tally,
        None,
        seen,
        note,
    )
    .await
}

/// The proxy itself, against an echo server: each fault does what the matrix relies on.
#[tokio::test]
async fn the_fault_proxy_delays_holds_resets_and_refuses() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let echo = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let echo_port = echo.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = echo.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = conn.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    let proxy = FaultProxy::start(echo_port).await;
    let connect = || tokio::net::TcpStream::connect(("127.0.0.1", proxy.port()));
    async fn round_trip(conn: &mut tokio::net::TcpStream, within: Duration) -> Option<Duration> {
        let started = Instant::now();
        conn.write_all(b"ping").await.ok()?;
        let mut buf = [0u8; 4];
        tokio::time::timeout(within, conn.read_exact(&mut buf))
            .await
            .ok()?
            .ok()?;
        assert_eq!(&buf, b"ping");
        Some(started.elapsed())
    }

    let mut conn = connect().await.unwrap();
    let plain = round_trip(&mut conn, Duration::from_secs(1)).await.unwrap();
    proxy.set_latency(Duration::from_millis(60), Duration::from_millis(40));
    let slow = round_trip(&mut conn, Duration::from_secs(1)).await.unwrap();
    assert!(
        slow >= Duration::from_millis(100),
        "{slow:?} (plain {plain:?})"
    );

    proxy.heal();
    proxy.black_hole(true);
    assert_eq!(
        round_trip(&mut conn, Duration::from_millis(300)).await,
        None
    );
    let mut fresh = connect().await.expect("a black hole still accepts");
    assert_eq!(
        round_trip(&mut fresh, Duration::from_millis(300)).await,
        None
    );
    proxy.heal();
    for conn in [&mut conn, &mut fresh] {
        let mut held = [0u8; 4];
        tokio::time::timeout(Duration::from_secs(1), conn.read_exact(&mut held))
            .await
            .expect("held bytes are delivered once the route is back")
            .unwrap();
    }

    proxy.cut(false, true);
    assert_eq!(
        round_trip(&mut conn, Duration::from_millis(300)).await,
        None
    );
    proxy.heal();
    let mut held = [0u8; 4];
    conn.read_exact(&mut held).await.unwrap();

    assert_eq!(proxy.open(), 2);
    assert_eq!(proxy.peak(), 2);
    // A client that replaces a connection (closes it, then opens another at once) never had
    // three open.
    drop(fresh);
    let _replacement = connect().await.expect("connect");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!((proxy.open(), proxy.peak()), (2, 2));
    proxy.reset_all();
    let mut buf = [0u8; 1];
    let err = conn.read(&mut buf).await.expect_err("reset");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err}");
    assert_eq!(proxy.resets(), 2);

    proxy.refuse(true);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let err = connect().await.expect_err("refused");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
    proxy.refuse(false);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut again = connect().await.expect("listening again on the same port");
    assert!(
        round_trip(&mut again, Duration::from_secs(1))
            .await
            .is_some()
    );

    proxy.strand();
    proxy.heal();
    assert_eq!(
        round_trip(&mut again, Duration::from_millis(300)).await,
        None
    );
    let mut new = connect().await.unwrap();
    assert!(round_trip(&mut new, Duration::from_secs(1)).await.is_some());
}
