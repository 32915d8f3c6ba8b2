//! `pgready tune`: PGTune's advice, and its difference from the test cluster's `pg_settings`.

mod support;

use serde_json::Value;
use support::{Project, cluster_password};

#[test]
fn advice_as_conf_lines_alter_system_and_json() {
    let project = Project::new("tune", "");
    let out = project.pgready(&[
        "tune",
        "--memory",
        "16GB",
        "--cpus",
        "4",
        "--pg-version",
        "15",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .starts_with("# PGTune (le0pard/pgtune) at commit 01bb644: PostgreSQL 15"),
        "{}",
        out.stdout
    );
    for line in [
        "shared_buffers = 4GB",
        "effective_cache_size = 12GB",
        "work_mem = 20560kB",
        "max_parallel_workers_per_gather = 2",
        "wal_compression = lz4",
    ] {
        let found = out
            .stdout
            .lines()
            .find(|l| l.starts_with(&format!("{line} ")));
        let Some(found) = found else {
            panic!("{line:?} in:\n{}", out.stdout)
        };
        assert!(found.contains(" # "), "a reason on {found:?}");
    }
    let sql = project.pgready(&["tune", "--memory", "16GB", "--alter-system"]);
    assert_eq!(sql.code, 0);
    assert!(
        sql.stdout
            .contains("ALTER SYSTEM SET shared_buffers = '4GB';"),
        "{}",
        sql.stdout
    );
    assert!(sql.stdout.starts_with("-- PGTune"), "{}", sql.stdout);

    let json = project.pgready(&[
        "tune",
        "--memory",
        "64GB",
        "--workload",
        "dw",
        "--storage",
        "hdd",
        "--format",
        "json",
    ]);
    assert_eq!(json.code, 0);
    let value: Value = serde_json::from_str(&json.stdout).expect("JSON");
    let settings = value["settings"].as_array().expect("settings");
    let find = |name: &str| settings.iter().find(|s| s["name"] == name).cloned();
    assert_eq!(
        find("maintenance_work_mem").map(|s| s["value"].clone()),
        Some(Value::from(8_388_608))
    );
    assert_eq!(
        find("random_page_cost").map(|s| s["value"].clone()),
        Some(Value::from(4.0))
    );
    assert!(find("jit").is_none(), "left to PostgreSQL for a warehouse");
    assert_eq!(
        value["alter_system"].as_array().map(Vec::len),
        Some(settings.len())
    );

    let bad = project.pgready(&["tune", "--memory", "16"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("write it as `16GB`"), "{}", bad.stderr);
    let bad = project.pgready(&["tune", "--memory", "16GB", "--workload", "webapp"]);
    assert_eq!(bad.code, 2);
}

#[tokio::test]
async fn live_shows_only_what_the_database_has_differently() {
    let project = Project::with_database("tune-live", "").await;
    let out = project.pgready(&["tune", "--memory", "64GB", "--cpus", "8", "--live"]);
    assert_eq!(out.code, 1, "differences exit 1: {}", out.stderr);
    assert!(!out.stdout.contains(cluster_password()) && !out.stderr.contains(cluster_password()));
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("shared_buffers = 16GB"))
        .unwrap_or_else(|| panic!("{}", out.stdout));
    assert!(line.contains("needs a restart"), "{line}");
    assert!(line.contains("# now "), "{line}");
    // PostgreSQL's defaults that equal the advice are not listed
    assert!(
        !out.stdout.contains("checkpoint_completion_target"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("default_statistics_target"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("setting(s) differ from the advice"),
        "{}",
        out.stderr
    );

    let json = project.pgready(&["tune", "--memory", "64GB", "--live", "--format", "json"]);
    assert_eq!(json.code, 1);
    let value: Value = serde_json::from_str(&json.stdout).expect("JSON");
    let live = value["live"].as_array().expect("live");
    let sb = live
        .iter()
        .find(|d| d["name"] == "shared_buffers")
        .expect("shared_buffers differs");
    assert_eq!(sb["restart"], true);
    assert_eq!(sb["recommended"], "16GB");
    assert!(
        value["machine"]["version"]
            .as_u64()
            .is_some_and(|v| v >= 10),
        "from the server"
    );
    assert_eq!(
        value["alter_system"].as_array().map(Vec::len),
        Some(live.len())
    );
}
