//! `pgready::metrics::handler`: Prometheus text that a real Prometheus parser accepts
//! (`promtool check metrics`), with pool gauges, the acquire-latency histogram, migrations and
//! health status.

mod health_http;

use std::io::Write;
use std::process::{Command, Stdio};

use axum::Router;
use axum::routing::get;
use pgready_tests::{fresh_database, setup};

/// Runs `promtool check metrics` on `text`. Without promtool the check is skipped with a loud
/// message, except in CI (`CI` set), where it must run.
fn promtool_check(text: &str) {
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!(
                "\n!!!!!!!! SKIPPED: `promtool check metrics` did not run ({e}); install Debian's \
                 `prometheus` package to validate the metrics text (CI does) !!!!!!!!\n"
            );
            return;
        }
        Err(e) => panic!("promtool is required in CI (.ci/run installs it): {e}"),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && report.trim().is_empty(),
        "promtool check metrics: {report}\n--- text ---\n{text}"
    );
}

/// The value of the sample `name{labels}` (labels written exactly as rendered).
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no `{series}` in:\n{text}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn metrics_pass_promtool_and_count_what_happened() {
    let url = fresh_database("metrics").await;
    // `cache = "0"`: every render probes, so the health figures follow the pool at once.
    let config = "[pool]\nmax_connections = 2\nmin_connections = 0\nacquire_timeout = \"500ms\"\n\
                  [health]\ncache = \"0\"\n";
    let db = pgready::start(&setup(config, &url)).await.unwrap();
    let addr = health_http::serve(
        Router::new()
            .route("/metrics", get(pgready::metrics::handler))
            .with_state(db.clone()),
    )
    .await;

    let r = health_http::get(addr, "/metrics").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
    promtool_check(&r.body);
    let acquired = sample(
        &r.body,
        "pgready_pool_acquire_duration_seconds_count{pool=\"write\"}",
    );

    // Every path to a connection is timed: `acquire`, `begin`, `execute` (sqlx's `fetch_many`)
    // and `fetch_one` (`fetch_optional`).
    drop(db.write().acquire().await.unwrap());
    db.write().begin().await.unwrap().commit().await.unwrap();
    sqlx::query("SELECT 1").execute(db.write()).await.unwrap();
    let _: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(db.write())
        .await
        .unwrap();
    // Both connections held: the next acquire times out.
    let held = [
        db.write().acquire().await.unwrap(),
        db.write().acquire().await.unwrap(),
    ];
    assert!(db.write().acquire().await.is_err());

    let text = pgready::metrics::render(&db).await;
    promtool_check(&text);
    drop(held);
    assert_eq!(
        sample(
            &text,
            "pgready_pool_acquire_duration_seconds_count{pool=\"write\"}"
        ),
        acquired + 7.0,
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "pgready_pool_acquire_duration_seconds_bucket{pool=\"write\",le=\"+Inf\"}"
        ),
        acquired + 7.0
    );
    assert!(
        sample(
            &text,
            "pgready_pool_acquire_duration_seconds_sum{pool=\"write\"}"
        ) >= 0.1
    );
    assert_eq!(
        sample(&text, "pgready_pool_acquire_timeouts_total{pool=\"write\"}"),
        1.0
    );
    assert_eq!(
        sample(&text, "pgready_pool_max_connections{pool=\"write\"}"),
        2.0
    );
    assert_eq!(
        sample(&text, "pgready_pool_in_use_connections{pool=\"write\"}"),
        2.0
    );
    assert_eq!(
        sample(&text, "pgready_pool_connections{pool=\"write\"}"),
        2.0
    );
    assert_eq!(
        sample(&text, "pgready_pool_idle_connections{pool=\"write\"}"),
        0.0
    );
    assert_eq!(sample(&text, "pgready_migrations_applied"), 2.0);
    assert_eq!(sample(&text, "pgready_migrations_pending"), 0.0);
    assert_eq!(sample(&text, "pgready_health_status{status=\"pass\"}"), 0.0);
    assert_eq!(
        sample(&text, "pgready_health_status{status=\"warn\"}"),
        1.0,
        "the pool is saturated"
    );
    assert_eq!(
        sample(
            &text,
            "pgready_health_check_status{check=\"postgres:pool\",component=\"write\",status=\"warn\"}"
        ),
        1.0
    );
    assert!(sample(&text, "pgready_health_probes_total") >= 1.0);
    assert!(
        sample(
            &text,
            "pgready_postgres_response_time_seconds{pool=\"write\"}"
        ) > 0.0
    );
    assert!(!text.contains("pgready_replica_lag_seconds"), "no replica");
    // `transaction_with`'s counters are there from the start, at zero
    // (`tests/transaction_retry.rs` makes them count).
    for sqlstate in ["40001", "40P01", "08006"] {
        for family in ["retries", "give_ups"] {
            let series = format!("pgready_transaction_{family}_total{{sqlstate=\"{sqlstate}\"}}");
            assert_eq!(sample(&text, &series), 0.0);
        }
    }
    // So are dropped transactions' (`tests/transaction_drop.rs`).
    assert_eq!(
        sample(&text, "pgready_transaction_drops_total{pool=\"write\"}"),
        0.0
    );
    db.close().await;
}

#[tokio::test]
async fn a_read_replica_gets_its_own_series() {
    let url = fresh_database("metrics_replica").await;
    let db = pgready::start(&setup("", &url).var("DATABASE_READ_URL", Some(&url)))
        .await
        .unwrap();
    let _: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(db.read())
        .await
        .unwrap();
    let text = pgready::metrics::render(&db).await;
    promtool_check(&text);
    assert_eq!(
        sample(&text, "pgready_pool_max_connections{pool=\"read\"}"),
        40.0
    );
    assert_eq!(
        sample(
            &text,
            "pgready_pool_acquire_duration_seconds_count{pool=\"read\"}"
        ),
        1.0
    );
    assert_eq!(
        sample(&text, "pgready_replica_lag_seconds{pool=\"read\"}"),
        0.0
    );
    assert_eq!(sample(&text, "pgready_health_status{status=\"pass\"}"), 1.0);
    db.close().await;
}

#[tokio::test]
async fn backup_freshness_comes_from_the_backup_directory() {
    let url = fresh_database("metrics_backups").await;
    let dir = std::env::temp_dir().join(format!("pgready-metrics-backups-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = format!("[backup]\ndir = \"{}\"\n", dir.display());
    let db = pgready::start(&setup(&config, &url)).await.unwrap();
    let text = pgready::metrics::render(&db).await;
    assert!(
        !text.contains("pgready_backup"),
        "no directory, no figures:\n{text}"
    );

    std::fs::create_dir_all(&dir).unwrap();
    let text = pgready::metrics::render(&db).await;
    promtool_check(&text);
    assert_eq!(sample(&text, "pgready_backups"), 0.0);
    assert_eq!(
        sample(&text, "pgready_backup_last_success_timestamp_seconds"),
        0.0
    );

    let manifest = serde_json::json!({
        "manifest_version": 1, "dump": "app-1.dump", "database": "app", "scope": "database",
        "started_at": "2025-01-31T01:59:58.000Z", "completed_at": "2025-01-31T02:00:00.500Z",
        "duration_ms": 2500, "sha256": "00", "size": 1, "compression": "gzip",
        "server_version": "15", "server_version_num": 150000, "pg_dump_version": "15",
        "migrations_table": "_sqlx_migrations", "migration_version": null, "tables": []
    });
    std::fs::write(dir.join("app-1.json"), manifest.to_string()).unwrap();
    let verified = serde_json::json!({"verifications": [
        {"verified_at": "2025-01-31T03:00:00.000Z", "ok": true, "duration_ms": 1,
         "problems": [], "tables_checked": 0, "rows_checked": 0},
        {"verified_at": "2025-02-01T03:00:00.000Z", "ok": false, "duration_ms": 1,
         "problems": ["x"], "tables_checked": 0, "rows_checked": 0}
    ]});
    std::fs::write(dir.join("app-1.verify.json"), verified.to_string()).unwrap();
    let text = pgready::metrics::render(&db).await;
    promtool_check(&text);
    assert_eq!(sample(&text, "pgready_backups"), 1.0);
    assert_eq!(
        sample(&text, "pgready_backup_last_success_timestamp_seconds"),
        1_738_288_800.5
    );
    assert_eq!(
        sample(&text, "pgready_backup_last_verified_timestamp_seconds"),
        1_738_292_400.0,
        "the failed verification after it does not count"
    );
    db.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Queries inside a `Transaction` (`&mut *tx`, as sqlx's own transaction is used) count like
/// any other: a failing one moves `pgready_query_errors_total` under its class; the
/// transaction's `BEGIN` and `ROLLBACK` are not queries of the user's.
#[tokio::test]
async fn queries_inside_a_transaction_are_counted() {
    let url = fresh_database("metrics_tx").await;
    let db = pgready::start(&setup("", &url)).await.unwrap();
    let before = pgready::metrics::render(&db).await;
    let queries_before = sample(&before, "pgready_queries_total{pool=\"write\"}");

    let mut tx = db.write().begin().await.unwrap();
    let one: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(one, 1);
    // 22012 division_by_zero, inside the transaction.
    assert!(
        sqlx::query_scalar::<_, i32>("SELECT 1 / 0")
            .fetch_one(&mut *tx)
            .await
            .is_err()
    );
    tx.rollback().await.unwrap();
    // A savepoint and a transaction begun on a pooled connection: the same `&mut *tx`.
    let mut conn = db.write().acquire().await.unwrap();
    let mut tx = conn.begin().await.unwrap();
    let mut savepoint = tx.begin().await.unwrap();
    // 42P01 undefined_table, inside the savepoint.
    assert!(
        sqlx::query("SELECT * FROM nowhere")
            .execute(&mut *savepoint)
            .await
            .is_err()
    );
    savepoint.rollback().await.unwrap();
    tx.commit().await.unwrap();
    drop(conn);

    let text = pgready::metrics::render(&db).await;
    let errors = |class: &str| {
        sample(
            &text,
            &format!("pgready_query_errors_total{{pool=\"write\",class=\"{class}\"}}"),
        )
    };
    assert_eq!(errors("22"), 1.0, "{text}");
    assert_eq!(errors("42"), 1.0, "{text}");
    assert_eq!(
        sample(&text, "pgready_queries_total{pool=\"write\"}"),
        queries_before + 3.0,
        "the three queries, not BEGIN, SAVEPOINT, ROLLBACK or COMMIT: {text}"
    );
    db.close().await;
}

/// Real failures through the pool move `pgready_query_errors_total` under their SQLSTATE
/// class, and every query counts in `pgready_queries_total`.
#[tokio::test]
async fn query_errors_are_counted_by_sqlstate_class() {
    let url = fresh_database("metrics_errors").await;
    let db = pgready::start(&setup("", &url)).await.unwrap();
    let before = pgready::metrics::render(&db).await;
    let queries_before = sample(&before, "pgready_queries_total{pool=\"write\"}");
    assert!(!before.contains("pgready_query_errors_total{"), "{before}");

    sqlx::raw_sql("CREATE TABLE u (x INT UNIQUE)")
        .execute(db.write())
        .await
        .unwrap();
    sqlx::query("INSERT INTO u VALUES (1)")
        .execute(db.write())
        .await
        .unwrap();
    for _ in 0..2 {
        // 23505 unique_violation
        let e = sqlx::query("INSERT INTO u VALUES (1)")
            .execute(db.write())
            .await;
        assert!(e.is_err());
    }
    // 42601 syntax_error, 42P01 undefined_table
    assert!(sqlx::query("SELEC 1").execute(db.write()).await.is_err());
    assert!(
        sqlx::query("SELECT * FROM nowhere")
            .fetch_optional(db.write())
            .await
            .is_err()
    );
    // 22012 division_by_zero, on a connection taken from the pool
    let mut conn = db.write().acquire().await.unwrap();
    assert!(
        sqlx::query_scalar::<_, i32>("SELECT 1 / 0")
            .fetch_one(&mut *conn)
            .await
            .is_err()
    );
    drop(conn);

    let text = pgready::metrics::render(&db).await;
    promtool_check(&text);
    let errors = |class: &str| {
        sample(
            &text,
            &format!("pgready_query_errors_total{{pool=\"write\",class=\"{class}\"}}"),
        )
    };
    assert_eq!(errors("23"), 2.0);
    assert_eq!(errors("42"), 2.0);
    assert_eq!(errors("22"), 1.0);
    assert!(!text.contains("class=\"other\""), "{text}");
    assert!(
        sample(&text, "pgready_queries_total{pool=\"write\"}") >= queries_before + 7.0,
        "{text}"
    );
    db.close().await;
}
