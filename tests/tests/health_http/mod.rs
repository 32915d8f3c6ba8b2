//! Real HTTP for the health and metrics tests: the router served by `axum::serve` on a
//! loopback port, and a plain HTTP/1.1 client on a `TcpStream`.

#![allow(dead_code)]

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Serves `app` on `127.0.0.1:0` until the test's runtime ends; returns its address.
pub async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// One response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl Response {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }
}

/// `GET path` on a fresh connection (`Connection: close`); panics when no answer comes within
/// 10 s, so a handler that hangs fails its test instead of hanging it.
pub async fn get(addr: SocketAddr, path: &str) -> Response {
    tokio::time::timeout(std::time::Duration::from_secs(10), request(addr, path))
        .await
        .unwrap_or_else(|_| panic!("GET {path}: no response within 10s"))
}

async fn request(addr: SocketAddr, path: &str) -> Response {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to the test server");
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .expect("send the request");
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .await
        .expect("read the response");
    let text = String::from_utf8(raw).expect("utf-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete response");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status code");
    let content_type = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-type")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_default();
    Response {
        status,
        content_type,
        body: body.to_owned(),
    }
}

/// The entries under `key` in a health body.
pub fn entries<'a>(body: &'a serde_json::Value, key: &str) -> &'a Vec<serde_json::Value> {
    body["checks"][key]
        .as_array()
        .unwrap_or_else(|| panic!("no `{key}` in {body}"))
}
