//! Graceful shutdown, on real processes and an embedded PostgreSQL each: SIGTERM while a load
//! generator runs against the quickstart (nothing accepted fails, readiness is 503 during the
//! drain, exit 0 within the bound); a request that outlives `[shutdown] grace` does not hold
//! up the exit (`slow_requests`); a second signal during the drain stops at once.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A service binary of this crate, started on a free port with no DSN (embedded PostgreSQL).
struct Service {
    child: Child,
    addr: String,
    data_dir: String,
    /// Its stdout (the log) after the address line, each line with when it was read.
    log: Arc<Mutex<Vec<(Instant, String)>>>,
}

impl Service {
    fn start(bin: &str, addr_env: &str, profile: Option<&str>) -> Service {
        let mut command = Command::new(bin);
        command
            .env_remove("DATABASE_URL")
            .env_remove("PGREADY_PROFILE")
            .env(addr_env, "127.0.0.1:0")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(profile) = profile {
            command.env("PGREADY_PROFILE", profile);
        }
        let mut child = command.spawn().expect("start the service");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut data_dir = None;
        let addr = loop {
            let line = lines.next().expect("the service exited early").unwrap();
            if let Some(rest) = line.split("data_dir=").nth(1) {
                data_dir = rest.split_whitespace().next().map(str::to_owned);
            }
            if let Some((_, addr)) = line.split_once(" listening on http://") {
                break addr.to_owned();
            }
        };
        // Keep reading, so the service never blocks on a full pipe.
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().unwrap().push((Instant::now(), line));
            }
        });
        Service {
            child,
            addr,
            data_dir: data_dir.expect("the log names the embedded data dir"),
            log,
        }
    }

    /// Sends `signal` (`TERM`, `INT`); returns when it was sent.
    fn signal(&self, signal: &str) -> Instant {
        let sent = Command::new("kill")
            .args([format!("-{signal}"), self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        Instant::now()
    }

    /// Waits for the exit, at most `bound` after `since`; returns the exit code and when.
    async fn exit(&mut self, since: Instant, bound: Duration) -> (Option<i32>, Duration) {
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status.code(), since.elapsed());
            }
            assert!(
                since.elapsed() < bound,
                "still running {bound:?} after the signal; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn log(&self) -> String {
        let log = self.log.lock().unwrap();
        log.iter().map(|(_, line)| format!("{line}\n")).collect()
    }

    /// When the log line that says pgready's shutdown is done (pools closed, before the
    /// embedded cluster's stop and removal, which a busy disk can slow down) was read.
    fn shut_down_at(&self) -> Instant {
        let found = self
            .log
            .lock()
            .unwrap()
            .iter()
            .find(|(_, line)| line.contains("shut down: requests ended, pools closed"))
            .map(|(at, _)| *at);
        found.unwrap_or_else(|| panic!("no `shut down` line in the log:\n{}", self.log()))
    }

    /// The embedded cluster's data dir was removed: the cluster was stopped.
    fn assert_cluster_gone(&self) {
        assert!(
            !std::path::Path::new(&self.data_dir).exists(),
            "{} removed on exit; log:\n{}",
            self.data_dir,
            self.log()
        );
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        // A failed test leaves no process behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What one request got.
#[derive(Clone, Debug)]
enum Outcome {
    /// An HTTP answer: status and body.
    Answer(u16, String),
    /// The connection was refused: the server no longer accepts.
    Refused,
    /// Connected, but no complete answer (reset, closed early, timed out).
    Failed(String),
}

impl Outcome {
    fn is_success(&self) -> bool {
        matches!(self, Outcome::Answer(status, _) if (200..300).contains(status))
    }
}

/// One HTTP/1.1 request on a fresh connection.
async fn request(addr: &str, method: &str, path: &str, body: &str) -> Outcome {
    let mut stream = match TcpStream::connect(addr).await {
        Ok(stream) => stream,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return Outcome::Refused,
        Err(e) => return Outcome::Failed(format!("connect: {e}")),
    };
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    if let Err(e) = stream.write_all(head.as_bytes()).await {
        return Outcome::Failed(format!("write: {e}"));
    }
    let mut response = Vec::new();
    match tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut response)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Outcome::Failed(format!("read: {e}")),
        Err(_) => return Outcome::Failed("no answer within 30 s".to_owned()),
    }
    let response = String::from_utf8_lossy(&response);
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok());
    match (status, response.split_once("\r\n\r\n")) {
        (Some(status), Some((_, body))) => Outcome::Answer(status, body.to_owned()),
        _ => Outcome::Failed(format!("incomplete answer: {response:?}")),
    }
}

/// How soon after the signal readiness must say 503: the signal's task has to run first.
const SIGNAL_HANDLED: Duration = Duration::from_millis(250);

/// Polls readiness from the signal sent at `since` until it answers 503 `draining`; returns
/// how long after the signal that answer came.
async fn readiness_503(addr: &str, since: Instant) -> Duration {
    loop {
        let sent = since.elapsed();
        let ready = request(addr, "GET", "/health", "").await;
        match &ready {
            Outcome::Answer(503, body) if body.contains("\"draining\"") => return since.elapsed(),
            Outcome::Answer(200, _) if sent < SIGNAL_HANDLED => {}
            _ => panic!("readiness asked {sent:?} after the signal: {ready:?}"),
        }
    }
}

/// `examples/pgready.toml`'s `[shutdown]`.
const QUICKSTART_DRAIN: Duration = Duration::from_secs(1);
const QUICKSTART_GRACE: Duration = Duration::from_secs(10);
/// The exit also waits for the embedded cluster's stop and the removal of its files, which
/// took up to 7 s on a disk busy with other builds.
const CLUSTER_BOUND: Duration = Duration::from_secs(30);
/// Requests started this close to the end of the drain may meet the closed listener.
const MARGIN: Duration = Duration::from_millis(150);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_drains_then_exits_0() {
    let mut service = tokio::task::spawn_blocking(|| {
        Service::start(env!("CARGO_BIN_EXE_quickstart"), "QUICKSTART_ADDR", None)
    })
    .await
    .unwrap();
    let addr: Arc<str> = service.addr.clone().into();
    let signalled: Arc<Mutex<Option<Instant>>> = Arc::default();
    // The load stops this long after the signal, or after 20 s whatever happens.
    let until = QUICKSTART_DRAIN + Duration::from_millis(700);
    let started = Instant::now();
    let over = {
        let signalled = signalled.clone();
        move || {
            let signalled = *signalled.lock().unwrap();
            started.elapsed() > Duration::from_secs(20)
                || signalled.is_some_and(|at| at.elapsed() > until)
        }
    };

    // The load: 6 clients, each creating an item, then reading it and the list 4 times, over
    // and over (writes wait for a WAL flush, which a busy disk makes slow).
    let mut clients = Vec::new();
    for client in 0..6 {
        let (addr, over) = (addr.clone(), over.clone());
        clients.push(tokio::spawn(async move {
            let mut log: Vec<(Instant, Outcome)> = Vec::new();
            let mut id = None;
            let mut n = 0;
            while !over() {
                n += 1;
                let at = Instant::now();
                let outcome = match (n % 5, id) {
                    (1, _) => {
                        let body = format!(r#"{{"name":"client {client} item {n}"}}"#);
                        let created = request(&addr, "POST", "/items", &body).await;
                        if let Outcome::Answer(201, body) = &created {
                            id = serde_json::from_str::<serde_json::Value>(body)
                                .ok()
                                .and_then(|item| item["id"].as_i64());
                        }
                        created
                    }
                    (0 | 2, Some(id)) => request(&addr, "GET", &format!("/items/{id}"), "").await,
                    _ => request(&addr, "GET", "/items", "").await,
                };
                log.push((at, outcome));
            }
            log
        }));
    }
    // Readiness and liveness, every 20 ms: when each probe began and ended.
    let probes = {
        let (addr, over) = (addr.clone(), over.clone());
        tokio::spawn(async move {
            let mut log: Vec<(Instant, Instant, Outcome, Outcome)> = Vec::new();
            while !over() {
                let at = Instant::now();
                let ready = request(&addr, "GET", "/health", "").await;
                let done = Instant::now();
                let live = request(&addr, "GET", "/health/live", "").await;
                log.push((at, done, ready, live));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            log
        })
    };

    tokio::time::sleep(Duration::from_millis(700)).await;
    let sending = Instant::now();
    let t0 = service.signal("TERM");
    *signalled.lock().unwrap() = Some(t0);
    let first_503 = readiness_503(&addr, t0).await;
    let (code, exited) = service.exit(t0, CLUSTER_BOUND).await;
    let mut requests = Vec::new();
    for client in clients {
        requests.extend(client.await.unwrap());
    }
    let probes = probes.await.unwrap();
    let log = service.log();

    // Nothing accepted before the signal, nor during the drain, failed.
    let offset = |at: Instant| at.checked_duration_since(t0);
    let before: Vec<_> = requests.iter().filter(|(at, _)| *at < t0).collect();
    let draining: Vec<_> = requests
        .iter()
        .filter(|(at, _)| offset(*at).is_some_and(|d| d < QUICKSTART_DRAIN - MARGIN))
        .collect();
    assert!(
        before.len() >= 10,
        "the load ran: {} requests",
        before.len()
    );
    assert!(
        !draining.is_empty(),
        "requests were served during the drain"
    );
    for (at, outcome) in before.iter().chain(&draining) {
        assert!(
            outcome.is_success(),
            "a request started {:?} the signal failed: {outcome:?}\nlog:\n{log}",
            offset(*at).map_or("before".to_owned(), |d| format!("{d:?} after"))
        );
    }
    // After the drain the server stopped accepting: refused, never an error answer.
    let after: Vec<_> = requests
        .iter()
        .filter(|(at, _)| offset(*at).is_some_and(|d| d > QUICKSTART_DRAIN))
        .collect();
    let refused = after
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Refused))
        .count();
    assert!(
        refused > 0,
        "nothing was refused after the drain: {after:?}"
    );
    for (at, outcome) in &requests {
        if let Outcome::Answer(status, body) = outcome {
            assert!(
                (200..300).contains(status),
                "{:?} after the signal: {status} {body}",
                offset(*at)
            );
        }
    }

    // Readiness: 200 before, 503 `draining` from the signal on; liveness stays 200.
    let mut probed = 0;
    for (at, done, ready, live) in &probes {
        if *done < sending {
            assert!(ready.is_success(), "readiness before the signal: {ready:?}");
            continue;
        }
        let Some(d) = offset(*at).filter(|d| *d < QUICKSTART_DRAIN - MARGIN) else {
            continue;
        };
        assert!(live.is_success(), "liveness during the drain: {live:?}");
        let Outcome::Answer(status, body) = ready else {
            panic!("readiness {d:?} after the signal: {ready:?}")
        };
        if *status == 200 && d < SIGNAL_HANDLED {
            continue;
        }
        assert_eq!(*status, 503, "readiness {d:?} after the signal: {body}");
        let report: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(report["status"], "fail", "{body}");
        let check = &report["checks"]["process:shutdown"][0];
        assert_eq!(check["phase"], "draining", "{body}");
        assert_eq!(check["status"], "fail", "{body}");
        probed += 1;
    }
    assert!(probed > 0, "readiness was probed during the drain");

    assert_eq!(code, Some(0), "exit status after SIGTERM; log:\n{log}");
    let shut_down = service.shut_down_at().duration_since(t0);
    assert!(
        shut_down >= QUICKSTART_DRAIN && shut_down < QUICKSTART_DRAIN + QUICKSTART_GRACE,
        "shut down {shut_down:?} after SIGTERM; log:\n{log}"
    );
    service.assert_cluster_gone();
    eprintln!(
        "quickstart under load: {} requests ({} before SIGTERM, {} during the drain, {refused} \
         refused after it); readiness 503 {first_503:?} after SIGTERM; pgready shut down \
         {shut_down:?} after SIGTERM (drain {QUICKSTART_DRAIN:?}, grace {QUICKSTART_GRACE:?}); \
         exit 0 {exited:?} after SIGTERM, the embedded cluster stopped and removed",
        requests.len(),
        before.len(),
        draining.len(),
    );
}

/// `examples/slow_requests.toml`'s `[shutdown]`.
const SLOW_DRAIN: Duration = Duration::from_millis(300);
const SLOW_GRACE: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_past_the_grace_does_not_hold_up_the_exit() {
    let mut service = tokio::task::spawn_blocking(|| {
        Service::start(
            env!("CARGO_BIN_EXE_slow_requests"),
            "SLOW_REQUESTS_ADDR",
            None,
        )
    })
    .await
    .unwrap();
    let addr = service.addr.clone();
    // Holds a pooled connection in `pg_sleep` for 30 s.
    let slow = tokio::spawn(async move {
        let outcome = request(&addr, "GET", "/sleep/30000", "").await;
        (outcome, Instant::now())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!slow.is_finished());
    let t0 = service.signal("TERM");
    let ready_after = readiness_503(&service.addr, t0).await;
    let (code, exited) = service.exit(t0, CLUSTER_BOUND).await;
    let log = service.log();
    assert_eq!(code, Some(0), "log:\n{log}");
    let shut_down = service.shut_down_at().duration_since(t0);
    assert!(
        shut_down >= SLOW_DRAIN + SLOW_GRACE,
        "it waited the drain and the grace: {shut_down:?}; log:\n{log}"
    );
    assert!(
        shut_down < SLOW_DRAIN + SLOW_GRACE + Duration::from_secs(2),
        "the held connection did not hold up the shutdown: {shut_down:?}; log:\n{log}"
    );
    assert!(log.contains("grace` ran out"), "{log}");
    let (outcome, ended) = tokio::time::timeout(Duration::from_secs(2), slow)
        .await
        .expect("the slow request's connection was closed at the exit")
        .unwrap();
    let Outcome::Failed(cut) = outcome else {
        panic!("cut, not answered: {outcome:?}")
    };
    service.assert_cluster_gone();
    eprintln!(
        "slow request past the grace: readiness 503 {ready_after:?} after SIGTERM; the request \
         cut ({cut}) {:?} after SIGTERM; pgready shut down {shut_down:?} after SIGTERM (drain \
         {SLOW_DRAIN:?} + grace {SLOW_GRACE:?}); exit 0 {exited:?} after SIGTERM, the embedded \
         cluster stopped and removed",
        ended.duration_since(t0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_during_the_drain_stops_at_once() {
    // `[profiles.long_drain.shutdown] drain = "30s"`.
    let mut service = tokio::task::spawn_blocking(|| {
        Service::start(
            env!("CARGO_BIN_EXE_slow_requests"),
            "SLOW_REQUESTS_ADDR",
            Some("long_drain"),
        )
    })
    .await
    .unwrap();
    let t0 = service.signal("TERM");
    readiness_503(&service.addr, t0).await;
    // Still serving during the drain.
    let slept = request(&service.addr, "GET", "/sleep/1", "").await;
    assert!(slept.is_success(), "{slept:?}");
    let t1 = service.signal("INT");
    let (code, exited) = service.exit(t1, CLUSTER_BOUND).await;
    let log = service.log();
    assert_eq!(code, Some(130), "128 + SIGINT; log:\n{log}");
    assert!(log.contains("a second signal (SIGINT)"), "{log}");
    let shut_down = service.shut_down_at().duration_since(t1);
    assert!(
        shut_down < Duration::from_secs(2),
        "stopped {shut_down:?} after the second signal; log:\n{log}"
    );
    service.assert_cluster_gone();
    eprintln!(
        "second signal: pgready shut down {shut_down:?} after SIGINT, exit 130 {exited:?} after \
         SIGINT, {:?} after SIGTERM (drain 30 s)",
        t0.elapsed()
    );
}
