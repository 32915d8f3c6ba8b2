//! `pgready pool-size`: Little's law, and the budget against the test cluster's
//! `max_connections`.

mod support;

use pgready::sqlx::{self, Connection as _, PgConnection};
use serde_json::Value;
use support::Project;

#[test]
fn sizes_from_the_load_and_checks_the_configured_server() {
    let project = Project::new(
        "pool-size",
        "[database]\nurl_env = \"X\"\nserver_max_connections = 100\n",
    );
    let out = project.pgready(&[
        "pool-size",
        "--rps",
        "1000",
        "--hold",
        "20ms",
        "--instances",
        "3",
    ]);
    assert_eq!(out.code, 1, "does not fit: {}", out.stderr);
    assert!(
        out.stderr
            .contains("the pools need 156 connections and the server offers 97"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.contains("write pool: 1000 req/s ÷ 3 instance(s) = 333.33 req/s per instance; × 20ms held = 6.67 connection(s) busy on average (Little's law, L = λW); × 1.5 headroom = 10 → max_connections = 10"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("read pool: `[read_pool] max_connections` = 40"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("per instance: 10 write + 40 read + 1 migration + 1 health = 52"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("all instances: 3 × 52 = 156"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("server: max_connections 100 - 3 reserved = 97; 156 > 97: 59 too many"),
        "{}",
        out.stdout
    );

    // with the reads on a replica, and sized too, it fits
    let out = project.pgready(&[
        "pool-size",
        "--rps",
        "1000",
        "--hold",
        "20ms",
        "--instances",
        "3",
        "--replica",
        "--format",
        "json",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let value: Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(value["budget"]["total"], 36);
    assert_eq!(value["budget"]["fits"], true);
    assert_eq!(value["pools"][0]["max_connections"], 10);
    assert_eq!(value["pools"][0]["source"], "little's law");

    let bad = project.pgready(&["pool-size", "--rps", "0"]);
    assert_eq!(bad.code, 2);
    let bad = project.pgready(&["pool-size", "--hold", "fast"]);
    assert_eq!(bad.code, 2);
}

#[tokio::test]
async fn live_reads_max_connections_and_reserved_slots() {
    let project = Project::with_database("pool-size-live", "").await;
    let mut conn = PgConnection::connect(project.url()).await.expect("connect");
    let (max, reserved): (i64, i64) = sqlx::query_as(
        "SELECT current_setting('max_connections')::bigint, \
         current_setting('superuser_reserved_connections')::bigint \
         + coalesce(current_setting('reserved_connections', true)::bigint, 0)",
    )
    .fetch_one(&mut conn)
    .await
    .expect("settings");
    conn.close().await.ok();
    let out = project.pgready(&["pool-size", "--live", "--read-rps", "500", "--rps", "100"]);
    let available = max - reserved;
    assert!(
        out.stdout.contains(&format!(
            "server: max_connections {max} - {reserved} reserved = {available}"
        )),
        "{}",
        out.stdout
    );
    // 100 req/s × 20 ms = 2 busy → 3; 500 × 20 ms = 10 → 15; + 2 = 20 per instance
    assert!(
        out.stdout
            .contains("per instance: 3 write + 15 read + 1 migration + 1 health = 20"),
        "{}",
        out.stdout
    );
    assert_eq!(
        out.code,
        if available >= 20 { 0 } else { 1 },
        "{}",
        out.stderr
    );
}
