//! The README's first command, as a test: the quickstart starts with no DSN (on the embedded
//! PostgreSQL), answers HTTP requests backed by the database, reports its health and metrics,
//! and stops gracefully, cluster included, on Ctrl-C (`tests/shutdown.rs` has the details).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One HTTP/1.1 request on a fresh connection; returns (status, body).
fn http(addr: &str, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let (status, _, body) = http_with_headers(addr, method, path, body);
    (status, body)
}

/// One HTTP/1.1 request on a fresh connection; returns (status, head, body).
fn http_with_headers(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).expect("connect to the quickstart");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("read the response");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (status, head.to_ascii_lowercase(), body.to_owned())
}

#[test]
fn quickstart_serves_items_from_an_embedded_postgres() {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_quickstart"))
        .env_remove("DATABASE_URL")
        .env_remove("PGREADY_PROFILE")
        .env("QUICKSTART_ADDR", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the quickstart");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut data_dir = None;
    let addr = loop {
        let line = lines.next().expect("quickstart exited early").unwrap();
        if let Some(rest) = line.split("data_dir=").nth(1) {
            data_dir = rest.split_whitespace().next().map(str::to_owned);
        }
        if let Some(addr) = line.strip_prefix("quickstart listening on http://") {
            break addr.to_owned();
        }
    };
    eprintln!("quickstart ready in {:?}", started.elapsed());

    let (status, body) = http(&addr, "POST", "/items", Some(r#"{"name":"milk"}"#));
    assert_eq!(status, 201, "{body}");
    assert!(body.contains(r#""name":"milk""#), "{body}");
    let (status, body) = http(&addr, "POST", "/items", Some(r#"{"name":""}"#));
    assert_eq!(
        status, 422,
        "the CHECK constraint from migrations/ is in force: {body}"
    );
    let (status, body) = http(&addr, "GET", "/items", None);
    assert_eq!(status, 200);
    assert!(body.starts_with('[') && body.contains("milk"), "{body}");
    let (status, _) = http(&addr, "GET", "/items/999999", None);
    assert_eq!(status, 404);

    // The body the README shows.
    let (status, head, body) = http_with_headers(&addr, "GET", "/health", None);
    assert_eq!(status, 200, "{body}");
    assert!(
        head.contains("content-type: application/health+json"),
        "{head}"
    );
    let report: serde_json::Value = serde_json::from_str(&body).expect("JSON body");
    assert_eq!(report["status"], "pass", "{body}");
    for key in [
        "postgres:connectivity",
        "postgres:pool",
        "migrations:status",
    ] {
        assert_eq!(report["checks"][key][0]["status"], "pass", "{key}: {body}");
    }
    assert_eq!(report["checks"]["migrations:status"][0]["pending"], 0);
    assert!(!body.contains("127.0.0.1"), "no host in the body: {body}");
    eprintln!("GET /health → {body}");

    let (status, body) = http(&addr, "GET", "/health/live", None);
    assert_eq!(status, 200, "{body}");
    let report: serde_json::Value = serde_json::from_str(&body).expect("JSON body");
    assert!(report["checks"]["process:uptime"].is_array(), "{body}");

    let (status, head, body) = http_with_headers(&addr, "GET", "/metrics", None);
    assert_eq!(status, 200);
    assert!(
        head.contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    for series in [
        "pgready_pool_connections{pool=\"write\"}",
        "pgready_pool_acquire_duration_seconds_count{pool=\"write\"}",
        "pgready_migrations_applied 2",
        "pgready_health_status{status=\"pass\"} 1",
    ] {
        assert!(body.contains(series), "`{series}` in:\n{body}");
    }

    // Ctrl-C stops the service, after the drain, and the embedded cluster with it.
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let interrupted = Instant::now();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "a graceful stop after SIGINT");
    eprintln!("stopped {:?} after SIGINT", interrupted.elapsed());
    let data_dir = data_dir.expect("the log names the embedded data dir");
    assert!(
        !std::path::Path::new(&data_dir).exists(),
        "{data_dir} removed on exit"
    );
}
