//! `#[pgready::health_endpoint]` end to end: real PostgreSQL, real HTTP. Healthy, saturated,
//! behind on migrations, stopped, hung, and under a probe storm counted at a proxy.

mod health_http;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use health_http::{entries, serve};
use pgready::health::{Check, Checks};
use pgready_tests::{cluster, fresh_database, setup};

/// The built-in checks, `[health]` defaults.
#[pgready::health_endpoint]
async fn health() {}

#[pgready::health_endpoint(kind = "liveness")]
async fn live() {}

/// A new probe on every request (concurrent ones still share one).
#[pgready::health_endpoint(cache = "0", detail = "full")]
async fn uncached() {}

#[pgready::health_endpoint(cache = "0", detail = "none")]
async fn terse() {}

fn routes() -> Router<pgready::Db> {
    Router::new()
        .route("/health", get(health))
        .route("/health/live", get(live))
        .route("/uncached", get(uncached))
        .route("/terse", get(terse))
}

fn app(db: &pgready::Db) -> Router {
    routes().with_state(db.clone())
}

async fn start(config: &str, url: &str) -> pgready::Db {
    pgready::start(&setup(config, url))
        .await
        .expect("start pgready")
}

const DEMO_LATEST: i64 = 20250101000100;

/// The tests that measure time take turns, so 2,000 storm requests on a 2-core machine do not
/// stretch another test's deadline.
static TIMING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn a_healthy_database_passes_with_every_built_in_check() {
    let url = fresh_database("health_ok").await;
    let db = start("", &url).await;
    let addr = serve(app(&db)).await;

    let r = health_http::get(addr, "/health").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.content_type, "application/health+json");
    let body = r.json();
    assert_eq!(body["status"], "pass", "{body}");

    let connectivity = entries(&body, "postgres:connectivity");
    assert_eq!(connectivity.len(), 1, "one entry per database: {body}");
    assert_eq!(connectivity[0]["componentId"], "write");
    assert_eq!(connectivity[0]["status"], "pass");
    assert_eq!(connectivity[0]["observedUnit"], "ms");
    let response_ms = connectivity[0]["observedValue"].as_f64().unwrap();
    assert!(response_ms > 0.0 && response_ms < 2000.0, "{response_ms}");
    assert!(connectivity[0]["time"].as_str().unwrap().ends_with('Z'));

    let pool = entries(&body, "postgres:pool");
    assert_eq!(pool.len(), 1, "{body}");
    assert_eq!(pool[0]["status"], "pass");
    assert_eq!(pool[0]["connections"]["max"], 20, "`[pool]` defaults");
    assert_eq!(pool[0]["observedUnit"], "percent");

    let migrations = &entries(&body, "migrations:status")[0];
    assert_eq!(migrations["status"], "pass", "{body}");
    assert_eq!(migrations["applied"], 2);
    assert_eq!(migrations["pending"], 0);
    assert_eq!(migrations["latest"], DEMO_LATEST);

    assert!(
        body["checks"].get("postgres:replication").is_none(),
        "no replica, no replication check: {body}"
    );

    let r = health_http::get(addr, "/health/live").await;
    assert_eq!(r.status, 200);
    let body = r.json();
    assert_eq!(body["status"], "pass");
    assert_eq!(
        body["checks"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["process:uptime"],
        "liveness reports the process only: {body}"
    );

    let r = health_http::get(addr, "/terse").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), serde_json::json!({ "status": "pass" }));

    // Through `Db::health` as well, without HTTP.
    let report = db.health().await;
    assert_eq!(report.status(), pgready::health::Status::Pass);
    assert_eq!(report.check("migrations:status").count(), 1);
    db.close().await;
}

#[tokio::test]
async fn a_read_replica_adds_replication_lag_and_a_second_pool() {
    let url = fresh_database("health_replica").await;
    // The "replica" is the primary itself: not in recovery, so its lag is 0.
    let db = pgready::start(&setup("", &url).var("DATABASE_READ_URL", Some(&url)))
        .await
        .expect("start with a read DSN");
    assert!(db.has_replica());
    let addr = serve(app(&db)).await;
    let body = health_http::get(addr, "/health").await.json();
    assert_eq!(body["status"], "pass", "{body}");
    let replication = &entries(&body, "postgres:replication")[0];
    assert_eq!(replication["status"], "pass");
    assert_eq!(replication["observedValue"], 0.0);
    assert_eq!(replication["observedUnit"], "s");
    assert_eq!(replication["inRecovery"], false);
    let ids = |key| {
        entries(&body, key)
            .iter()
            .map(|e| e["componentId"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids("postgres:pool"), ["write", "read"]);
    assert_eq!(ids("postgres:connectivity"), ["write", "read"]);
    db.close().await;
}

#[tokio::test]
async fn pool_saturation_above_the_threshold_warns() {
    let url = fresh_database("health_pool").await;
    let config = "[pool]\nmax_connections = 4\nmin_connections = 0\n\
                  [health]\npool_saturation_warn = 0.5\n";
    let db = start(config, &url).await;
    let addr = serve(app(&db)).await;

    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(db.write().acquire().await.unwrap());
    }
    let body = health_http::get(addr, "/uncached").await.json();
    assert_eq!(body["status"], "pass", "2 of 4 is not above 0.5: {body}");

    held.push(db.write().acquire().await.unwrap());
    let r = health_http::get(addr, "/uncached").await;
    assert_eq!(r.status, 200, "warn is still ready: {}", r.body);
    let body = r.json();
    assert_eq!(body["status"], "warn", "{body}");
    let pool = &entries(&body, "postgres:pool")[0];
    assert_eq!(pool["status"], "warn");
    assert_eq!(pool["observedValue"], 75.0);
    assert_eq!(pool["connections"]["inUse"], 3);
    assert_eq!(
        entries(&body, "postgres:connectivity")[0]["status"],
        "pass",
        "the probe has its own connection: a saturated pool is no outage"
    );

    // Every connection taken: still warn, not a false 503.
    held.push(db.write().acquire().await.unwrap());
    let r = health_http::get(addr, "/uncached").await;
    assert_eq!((r.status, &r.json()["status"]), (200, &"warn".into()));

    // Released connections go back to the pool in the background: pass again shortly.
    drop(held);
    let started = Instant::now();
    loop {
        let body = health_http::get(addr, "/uncached").await.json();
        if body["status"] == "pass" {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(3), "{body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    db.close().await;
}

#[tokio::test]
async fn pending_migrations_warn_and_a_failed_one_fails() {
    let url = fresh_database("health_migrations").await;
    let db = start("", &url).await;
    let addr = serve(app(&db)).await;
    let body = health_http::get(addr, "/uncached").await.json();
    assert_eq!(body["status"], "pass", "{body}");

    // Someone reverted the newest migration behind this instance's back.
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = $1")
        .bind(DEMO_LATEST)
        .execute(db.write())
        .await
        .unwrap();
    let r = health_http::get(addr, "/uncached").await;
    assert_eq!(r.status, 200, "pending migrations warn: {}", r.body);
    let body = r.json();
    assert_eq!(body["status"], "warn", "{body}");
    let migrations = &entries(&body, "migrations:status")[0];
    assert_eq!(migrations["status"], "warn");
    assert_eq!(migrations["pending"], 1);
    assert_eq!(migrations["applied"], 1);
    assert_eq!(migrations["latest"], 20250101000000_i64);
    assert_eq!(migrations["observedValue"], 1.0);
    assert!(
        migrations["output"]
            .as_str()
            .unwrap()
            .contains("version 20250101000100"),
        "detail = full says which: {migrations}"
    );

    sqlx::query("UPDATE _sqlx_migrations SET success = false")
        .execute(db.write())
        .await
        .unwrap();
    let r = health_http::get(addr, "/uncached").await;
    assert_eq!(r.status, 503, "a failed migration fails: {}", r.body);
    assert_eq!(entries(&r.json(), "migrations:status")[0]["failed"], 1);
    db.close().await;
}

/// Custom checks: one passes, one errs, one panics, one hangs; and a health function that
/// itself panics.
#[pgready::health_endpoint(timeout = "300ms", cache = "0", detail = "full")]
async fn custom(db: &pgready::Db) -> Checks {
    let db = db.clone();
    Checks::new()
        .add("items:count", async move {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM items")
                .fetch_one(db.read())
                .await?;
            Ok::<_, sqlx::Error>(Check::pass().with_observed(n as f64, "items"))
        })
        .add("queue:connectivity", async {
            Err::<(), _>("queue unreachable")
        })
        .add("cache:connectivity", async {
            if std::hint::black_box(true) {
                panic!("custom check blew up");
            }
            Check::pass()
        })
        .add("slow:connectivity", async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Check::pass()
        })
}

#[pgready::health_endpoint(timeout = "300ms", cache = "0")]
async fn custom_panics(_db: &pgready::Db) -> Checks {
    if std::hint::black_box(true) {
        panic!("the health function blew up");
    }
    Checks::new()
}

#[pgready::health_endpoint(cache = "0")]
async fn custom_passes(_db: &pgready::Db) -> Checks {
    Checks::new().add("feature:flags", async { Check::pass() })
}

#[tokio::test]
async fn a_custom_check_that_errs_panics_or_hangs_is_a_failed_check() {
    let _turn = TIMING.lock().await;
    let url = fresh_database("health_custom").await;
    let db = start("", &url).await;
    let addr = serve(
        Router::new()
            .route("/custom", get(custom))
            .route("/panics", get(custom_panics))
            .route("/passes", get(custom_passes))
            .with_state(db.clone()),
    )
    .await;

    // Warm: the probe's connection (by this request) and a pooled one, so the timed request
    // below does not pay for authentication within its 300ms.
    let body = health_http::get(addr, "/passes").await.json();
    assert_eq!(body["status"], "pass", "{body}");
    let _: i64 = sqlx::query_scalar("SELECT count(*) FROM items")
        .fetch_one(db.read())
        .await
        .unwrap();
    assert_eq!(entries(&body, "feature:flags")[0]["status"], "pass");
    assert_eq!(entries(&body, "postgres:connectivity")[0]["status"], "pass");
    // With `RUST_BACKTRACE=1` the first panic in a process loads the binary's debug info to
    // print its backtrace: hundreds of milliseconds on this runtime's only thread (CI once saw
    // the request below take 752 ms). Paid here, not inside the timed request, one of whose
    // checks panics on purpose.
    let _ = std::panic::catch_unwind(|| {
        if std::hint::black_box(true) {
            panic!("warming the backtrace printer up");
        }
    });

    let started = Instant::now();
    let r = health_http::get(addr, "/custom").await;
    let took = started.elapsed();
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(
        took < Duration::from_millis(400),
        "the hung check is cut at the 300ms timeout, took {took:?}"
    );
    let body = r.json();
    assert_eq!(body["status"], "fail");
    let check = |key| entries(&body, key)[0].clone();
    assert_eq!(check("items:count")["status"], "pass", "{body}");
    assert_eq!(check("items:count")["observedValue"], 0.0);
    assert_eq!(check("queue:connectivity")["status"], "fail");
    assert_eq!(check("queue:connectivity")["output"], "queue unreachable");
    assert_eq!(check("cache:connectivity")["status"], "fail");
    assert!(
        check("cache:connectivity")["output"]
            .as_str()
            .unwrap()
            .contains("custom check blew up")
    );
    assert_eq!(check("slow:connectivity")["status"], "fail");
    assert!(
        check("slow:connectivity")["output"]
            .as_str()
            .unwrap()
            .contains("timeout"),
        "{body}"
    );
    assert_eq!(check("postgres:connectivity")["status"], "pass");

    let r = health_http::get(addr, "/panics").await;
    assert_eq!(r.status, 503, "{}", r.body);
    let body = r.json();
    assert_eq!(entries(&body, "custom:checks")[0]["status"], "fail");
    assert_eq!(
        entries(&body, "postgres:connectivity")[0]["status"],
        "pass",
        "the built-in checks still ran"
    );
    assert!(
        entries(&body, "custom:checks")[0].get("output").is_none(),
        "detail = status shows no error text"
    );
    db.close().await;
}

#[pgready::health_endpoint(detail = "status", cache = "0")]
async fn leaky(_db: &pgready::Db) -> Checks {
    let url = pgready_tests::url("postgres");
    Checks::new().add("upstream:connectivity", async move {
        Err::<(), _>(format!("cannot reach {url}: connection refused"))
    })
}

#[pgready::health_endpoint(detail = "none", cache = "0")]
async fn leaky_terse(_db: &pgready::Db) -> Checks {
    let url = pgready_tests::url("postgres");
    Checks::new().add("upstream:connectivity", async move {
        Err::<(), _>(format!("cannot reach {url}: connection refused"))
    })
}

/// Words that must not appear in a body with `detail` none or status: the DSN's password,
/// user, host, port and database, and raw error text.
fn secrets(url: &str) -> Vec<String> {
    let cluster = cluster();
    let database = url.rsplit('/').next().unwrap().to_owned();
    vec![
        cluster.password().to_owned(),
        format!("{}:", cluster.superuser()),
        "127.0.0.1".to_owned(),
        cluster.port().to_string(),
        database,
        "refused".to_owned(),
        "postgres://".to_owned(),
    ]
}

fn assert_no_secret(body: &str, secrets: &[String]) {
    for secret in secrets {
        assert!(!body.contains(secret.as_str()), "`{secret}` leaked: {body}");
    }
}

#[tokio::test]
async fn no_secret_in_any_body_unless_detail_is_full() {
    let url = fresh_database("health_secrets").await;
    assert!(
        url.contains(&format!(":{}@", cluster().password())),
        "the DSN carries a password"
    );
    let db = start("", &url).await;
    let addr = serve(
        routes()
            .route("/leaky", get(leaky))
            .route("/leaky-terse", get(leaky_terse))
            .with_state(db.clone()),
    )
    .await;
    let secrets = secrets(&url);
    for path in [
        "/health",
        "/health/live",
        "/terse",
        "/leaky",
        "/leaky-terse",
    ] {
        let r = health_http::get(addr, path).await;
        assert_no_secret(&r.body, &secrets);
    }
    let r = health_http::get(addr, "/leaky").await;
    assert_eq!(r.status, 503);
    assert_eq!(
        entries(&r.json(), "upstream:connectivity")[0]["status"],
        "fail"
    );

    // `detail = "full"` names the target, never the password.
    let r = health_http::get(addr, "/uncached").await;
    let target = entries(&r.json(), "postgres:connectivity")[0]["target"].clone();
    assert_eq!(
        target,
        format!(
            "127.0.0.1:{}/{}",
            cluster().port(),
            url.rsplit('/').next().unwrap()
        )
    );
    assert!(!r.body.contains(cluster().password()), "{}", r.body);
    db.close().await;
}

/// Freezes every process of a cluster (the postmaster, then its children) with SIGSTOP and
/// thaws them with SIGCONT when dropped, even when an assertion fails in between.
struct Frozen {
    pids: Vec<u32>,
}

impl Frozen {
    fn server(postmaster: u32) -> Frozen {
        let mut pids = vec![postmaster];
        signal("-STOP", &pids);
        // Frozen, the postmaster forks nothing more: its children are all there now.
        let children = children_of(postmaster);
        signal("-STOP", &children);
        pids.extend(children);
        Frozen { pids }
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        signal("-CONT", &self.pids);
    }
}

fn signal(which: &str, pids: &[u32]) {
    if pids.is_empty() {
        return;
    }
    let status = std::process::Command::new("kill")
        .arg(which)
        .args(pids.iter().map(u32::to_string))
        .status()
        .expect("run kill");
    assert!(status.success(), "kill {which} {pids:?}");
}

/// Processes whose parent is `parent`, from `/proc/<pid>/stat`.
fn children_of(parent: u32) -> Vec<u32> {
    let mut children = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("read /proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid …`; comm may contain spaces and parentheses.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let ppid = rest.split_whitespace().nth(1).and_then(|s| s.parse().ok());
        if ppid == Some(parent) {
            children.push(pid);
        }
    }
    children
}

async fn wait_for_status(addr: SocketAddr, path: &str, status: u16, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let r = health_http::get(addr, path).await;
        if r.status == status {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "still {} after {within:?}: {}",
            r.status,
            r.body
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A stopped database answers 503 and recovers within one cache period of coming back; a hung
/// one (every server process frozen) answers 503 within the timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_and_hung_databases_answer_503_in_time() {
    let _turn = TIMING.lock().await;
    let mut server = tokio::task::spawn_blocking(pgready::embedded::Cluster::start_temporary)
        .await
        .unwrap()
        .expect("start a temporary cluster");
    let url = server.url("postgres");
    let timeout = Duration::from_millis(500);
    let cache = Duration::from_millis(300);
    let config = "[pool]\nmin_connections = 0\n[health]\ntimeout = \"500ms\"\ncache = \"300ms\"\n";
    let db = start(config, &url).await;
    let addr = serve(app(&db)).await;
    let secrets = [
        server.password().to_owned(),
        "127.0.0.1".to_owned(),
        server.port().to_string(),
        "refused".to_owned(),
    ];

    let r = health_http::get(addr, "/health").await;
    assert_eq!(r.status, 200, "{}", r.body);

    // Stopped.
    server = tokio::task::spawn_blocking(move || {
        server.stop().expect("stop the cluster");
        server
    })
    .await
    .unwrap();
    tokio::time::sleep(cache).await;
    let started = Instant::now();
    let r = health_http::get(addr, "/health").await;
    assert!(started.elapsed() < timeout + Duration::from_millis(100));
    assert_eq!(r.status, 503, "{}", r.body);
    let body = r.json();
    assert_eq!(body["status"], "fail");
    assert_eq!(entries(&body, "postgres:connectivity")[0]["status"], "fail");
    assert_no_secret(&r.body, &secrets);
    let r = health_http::get(addr, "/health/live").await;
    assert_eq!(r.status, 200, "liveness never touches the database");

    // Back.
    let port = server.port();
    server = tokio::task::spawn_blocking(move || {
        server.start().expect("restart the cluster");
        server
    })
    .await
    .unwrap();
    assert_eq!(server.port(), port, "the DSN still points at the server");
    let back = wait_for_status(addr, "/health", 200, Duration::from_secs(5)).await;
    eprintln!("pass again {back:?} after the database returned (cache {cache:?})");
    assert!(
        back <= cache + Duration::from_millis(300),
        "back to pass within one cache period (+ one probe), took {back:?}"
    );

    // Hung: connections accepted by the kernel, nothing answers.
    let postmaster = server.postmaster_pid().expect("the server runs");
    {
        let _frozen = Frozen::server(postmaster);
        tokio::time::sleep(cache).await;
        let started = Instant::now();
        let r = health_http::get(addr, "/health").await;
        let took = started.elapsed();
        eprintln!(
            "hung database: {} after {took:?} (timeout {timeout:?})",
            r.status
        );
        assert_eq!(r.status, 503, "{}", r.body);
        assert!(
            took <= timeout + Duration::from_millis(100),
            "503 within timeout + 100ms, took {took:?}"
        );
        let body = r.json();
        assert_eq!(entries(&body, "postgres:connectivity")[0]["status"], "fail");
        assert_eq!(entries(&body, "migrations:status")[0]["status"], "fail");
        assert_no_secret(&r.body, &secrets);
    }
    // Thawed: the probe's hung connection was dropped, a new one answers.
    wait_for_status(addr, "/health", 200, Duration::from_secs(5)).await;
    db.close().await;
    drop(server);
}

/// A TCP proxy in front of PostgreSQL that counts the statements clients send (simple
/// `Query` and extended `Execute` messages): the database's view of the load.
struct CountingProxy {
    port: u16,
    statements: Arc<AtomicU64>,
}

impl CountingProxy {
    async fn start(upstream: u16) -> CountingProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let statements = Arc::new(AtomicU64::new(0));
        let counter = statements.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let counter = counter.clone();
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                    else {
                        return;
                    };
                    let (mut client_read, mut client_write) = client.into_split();
                    let (mut server_read, mut server_write) = server.into_split();
                    let upstream = async {
                        use tokio::io::{AsyncReadExt, AsyncWriteExt};
                        let mut parser = Frontend::default();
                        let mut buf = vec![0; 16 * 1024];
                        loop {
                            let n = match client_read.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            counter.fetch_add(parser.feed(&buf[..n]), Ordering::Relaxed);
                            if server_write.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        let _ = server_write.shutdown().await;
                    };
                    let downstream = tokio::io::copy(&mut server_read, &mut client_write);
                    let _ = tokio::join!(upstream, downstream);
                });
            }
        });
        CountingProxy { port, statements }
    }

    fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }
}

/// Splits the client's byte stream into protocol messages: untyped start-up messages (an
/// SSL or GSS request may come first), then `type, length, payload`.
#[derive(Default)]
struct Frontend {
    started: bool,
    pending: Vec<u8>,
}

impl Frontend {
    /// Returns how many statements the bytes complete.
    fn feed(&mut self, bytes: &[u8]) -> u64 {
        const SSL_REQUEST: u32 = 80877103;
        const GSS_REQUEST: u32 = 80877104;
        self.pending.extend_from_slice(bytes);
        let mut statements = 0;
        loop {
            let header = if self.started { 5 } else { 8 };
            if self.pending.len() < header {
                return statements;
            }
            let at = usize::from(self.started);
            let length = u32::from_be_bytes(self.pending[at..at + 4].try_into().unwrap()) as usize;
            let total = at + length;
            if self.pending.len() < total {
                return statements;
            }
            if self.started {
                if matches!(self.pending[0], b'Q' | b'E') {
                    statements += 1;
                }
            } else {
                let code = u32::from_be_bytes(self.pending[4..8].try_into().unwrap());
                self.started = code != SSL_REQUEST && code != GSS_REQUEST;
            }
            self.pending.drain(..total);
        }
    }
}

#[pgready::health_endpoint(cache = "1s")]
async fn storm_health() {}

/// 2,000 requests over 3 seconds with `cache = "1s"` cost at most 4 probes, counted at a proxy
/// in front of the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_storm_costs_one_probe_per_cache_period() {
    let _turn = TIMING.lock().await;
    let direct = fresh_database("health_storm").await;
    let database = direct.rsplit('/').next().unwrap().to_owned();
    let proxy = CountingProxy::start(cluster().port()).await;
    let url = format!(
        "postgres://{}:{}@127.0.0.1:{}/{database}",
        cluster().superuser(),
        cluster().password(),
        proxy.port
    );
    let db = start("[pool]\nmin_connections = 0\n", &url).await;
    let addr = serve(
        Router::new()
            .route("/health", get(storm_health))
            .with_state(db.clone()),
    )
    .await;

    // What one probe costs, once its connection is open.
    assert_eq!(health_http::get(addr, "/health").await.status, 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let before = proxy.statements();
    assert_eq!(health_http::get(addr, "/health").await.status, 200);
    let per_probe = proxy.statements() - before;
    assert!(per_probe >= 1, "a probe reaches the database");
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let requests = 2000u32;
    let over = Duration::from_secs(3);
    let before = proxy.statements();
    let started = tokio::time::Instant::now();
    let tasks: Vec<_> = (0..requests)
        .map(|i| {
            let at = started + over * i / requests;
            tokio::spawn(async move {
                tokio::time::sleep_until(at).await;
                health_http::get(addr, "/health").await.status
            })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        if task.await.unwrap() == 200 {
            ok += 1;
        }
    }
    let took = started.elapsed();
    let statements = proxy.statements() - before;
    let probes = statements.div_ceil(per_probe);
    eprintln!(
        "probe storm: {requests} requests over {took:?} with cache = 1s: {ok} answered 200; \
         {statements} statements reached PostgreSQL at {per_probe} per probe = {probes} probes"
    );
    assert_eq!(ok, requests, "every request answered 200");
    assert!(
        probes <= 4,
        "{probes} probes ({statements} statements) for {requests} requests"
    );
    db.close().await;
}

/// Once a shutdown began, readiness answers 503 `draining` at once, from no probe (cached
/// `pass` reports included), while liveness stays 200; `shutdown_signal()` resolves after
/// `[shutdown] drain`. `examples/tests/shutdown.rs` runs the same through SIGTERM.
#[tokio::test]
async fn readiness_fails_at_once_when_a_shutdown_begins() {
    let url = fresh_database("health_shutdown").await;
    let db = start("[shutdown]\ndrain = \"1500ms\"\n", &url).await;
    let addr = serve(app(&db)).await;
    // A `pass` cached for a second, as a load balancer's probes would have left it.
    assert_eq!(health_http::get(addr, "/health").await.status, 200);
    let probes = metric(&db, "pgready_health_probes_total").await;
    let signal = db.shutdown_signal();
    assert!(!db.is_shutting_down());

    db.begin_shutdown();
    let began = Instant::now();
    assert!(db.is_shutting_down());
    for path in ["/health", "/uncached"] {
        let r = health_http::get(addr, path).await;
        assert_eq!(r.status, 503, "{path}: {}", r.body);
        let body = r.json();
        assert_eq!(body["status"], "fail", "{body}");
        let check = &entries(&body, "process:shutdown")[0];
        assert_eq!(check["status"], "fail", "{body}");
        assert_eq!(check["phase"], "draining", "{body}");
        assert_eq!(check["observedUnit"], "s", "{body}");
        assert_eq!(
            body["checks"].as_object().map(|c| c.len()),
            Some(1),
            "no probe: {body}"
        );
    }
    let r = health_http::get(addr, "/terse").await;
    assert_eq!((r.status, r.body.as_str()), (503, r#"{"status":"fail"}"#));
    assert_eq!(db.health().await.status(), pgready::health::Status::Fail);
    // No probe ran, and the metrics keep the last real one, past its cache period too: a
    // deploy is not an outage.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let text = pgready::metrics::render(&db).await;
    assert!(
        text.contains("pgready_health_status{status=\"pass\"} 1"),
        "{text}"
    );
    assert_eq!(metric(&db, "pgready_health_probes_total").await, probes);
    // Liveness (a probe of the process only) still passes.
    assert_eq!(health_http::get(addr, "/health/live").await.status, 200);

    signal.await;
    let drained = began.elapsed();
    assert!(
        drained >= Duration::from_millis(1500) && drained < Duration::from_secs(5),
        "{drained:?}"
    );
    // Queries still work until the pools close.
    let one: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(db.write())
        .await
        .unwrap();
    assert_eq!(one, 1);
    db.close().await;
}

/// A sample of `pgready::metrics::render`.
async fn metric(db: &pgready::Db, series: &str) -> f64 {
    let text = pgready::metrics::render(db).await;
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no `{series}` in:\n{text}"))
        .parse()
        .unwrap()
}
