//! `pgready alerts`: the rules pass `promtool check rules`, and `promtool test rules` proves
//! each alert fires on a bad series and stays quiet on a good one (and while pending).

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use support::Project;

/// Runs promtool; without it the test is skipped loudly, except in CI (`CI` set), where
/// `.ci/run` installs it.
fn promtool(args: &[&str], dir: &Path) -> Option<(bool, String)> {
    match Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
    {
        Ok(out) => Some((
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )),
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "promtool must run in CI: {e}"
            );
            eprintln!(
                "\n!!!!!!!! SKIPPED: promtool did not run ({e}); install Debian's `prometheus`\n"
            );
            None
        }
    }
}

/// The rules file `pgready alerts --out` wrote, without its comment line.
fn rules(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("pgready-alerts.yml")).expect("rules");
    let json: String = text.lines().filter(|l| !l.starts_with('#')).collect();
    serde_json::from_str(&json).expect("JSON rules")
}

/// The alert `name` as it fires with `labels`: its labels, and its annotations with
/// `{{ $labels.x }}` filled in.
fn fired(rules: &Value, name: &str, labels: &[(&str, &str)]) -> Value {
    let rule = rules["groups"][0]["rules"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["alert"] == name))
        .unwrap_or_else(|| panic!("no rule {name}"));
    let mut exp_labels = json!({"severity": rule["labels"]["severity"]});
    for (k, v) in labels {
        exp_labels[*k] = json!(v);
    }
    let mut annotations = rule["annotations"].clone();
    if let Some(map) = annotations.as_object_mut() {
        for value in map.values_mut() {
            let mut text = value.as_str().unwrap_or("").to_owned();
            for (k, v) in labels {
                text = text.replace(&format!("{{{{ $labels.{k} }}}}"), v);
            }
            *value = json!(text);
        }
    }
    json!({"exp_labels": exp_labels, "exp_annotations": annotations})
}

fn series(name: &str, labels: &str, values: &str) -> Value {
    json!({"series": format!("{name}{{{labels}}}"), "values": values})
}

#[test]
fn rules_pass_promtool_and_each_alert_fires_and_stays_quiet_as_intended() {
    let project = Project::new("alerts", "");
    let dir = project.dir.join("deploy");
    let out = project.pgready(&["alerts", "--out", "deploy"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("pgready-alerts.yml"), "{}", out.stdout);
    let rules = rules(&dir);
    let names: Vec<&str> = rules["groups"][0]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .filter_map(|r| r["alert"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "PgreadyPoolExhausted",
            "PgreadyAcquireSlow",
            "PgreadyDatabaseSlow",
            "PgreadyReplicaLag",
            "PgreadyHealthFailing",
            "PgreadyQueryErrors",
            "PgreadyBackupStale",
            "PgreadyRestoreTestStale",
        ]
    );
    for r in rules["groups"][0]["rules"].as_array().expect("rules") {
        let runbook = r["annotations"]["runbook"].as_str().unwrap_or("");
        assert!(runbook.starts_with("run `pgready doctor`"), "{runbook}");
    }
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("pgready-dashboard.json")).expect("dashboard"),
    )
    .expect("dashboard JSON");
    assert_eq!(dashboard["panels"].as_array().map(Vec::len), Some(9));

    let Some((ok, said)) = promtool(&["check", "rules", "pgready-alerts.yml"], &dir) else {
        return;
    };
    assert!(ok, "{said}");
    assert!(said.contains("8 rules found"), "{said}");

    let app =
        |instance: &str, pool: &str| format!("job=\"app\",instance=\"{instance}\",pool=\"{pool}\"");
    let mut input = Vec::new();
    // the pool: `bad` is full with acquires waiting; `busy` is full and nobody waits; `blip`
    // waited for one minute only
    for (instance, waiting) in [("bad", "3x10"), ("busy", "0x10"), ("blip", "3 0x9")] {
        let l = app(instance, "write");
        input.push(series("pgready_pool_waiting_acquires", &l, waiting));
        input.push(series("pgready_pool_in_use_connections", &l, "20x10"));
        input.push(series("pgready_pool_max_connections", &l, "20x10"));
    }
    // acquire latency: every acquire of `slow` takes 1–5 s; `fast`'s all under 0.5 s
    for (instance, slow) in [("slow", true), ("fast", false)] {
        let l = app(instance, "write");
        for (le, grows) in [("0.5", !slow), ("1", !slow), ("5", true), ("+Inf", true)] {
            let values = if grows { "0+10x20" } else { "0x20" };
            input.push(series(
                "pgready_pool_acquire_duration_seconds_bucket",
                &format!("{l},le=\"{le}\""),
                values,
            ));
        }
    }
    input.push(series(
        "pgready_postgres_response_time_seconds",
        &app("slow", "write"),
        "2x10",
    ));
    input.push(series(
        "pgready_postgres_response_time_seconds",
        &app("fast", "write"),
        "0.01x10",
    ));
    input.push(series(
        "pgready_replica_lag_seconds",
        &app("bad", "read"),
        "120x10",
    ));
    input.push(series(
        "pgready_replica_lag_seconds",
        &app("good", "read"),
        "5x10",
    ));
    input.push(series(
        "pgready_health_status",
        "job=\"app\",instance=\"bad\",status=\"fail\"",
        "1x10",
    ));
    input.push(series(
        "pgready_health_status",
        "job=\"app\",instance=\"good\",status=\"fail\"",
        "0x10",
    ));
    // queries: `bad` fails 5 of 100 a minute (class 42), `ok` 1 of 1000
    for (instance, queries, errors) in
        [("bad", "0+100x20", "0+5x20"), ("ok", "0+1000x20", "0+1x20")]
    {
        let l = app(instance, "write");
        input.push(series("pgready_queries_total", &l, queries));
        input.push(series(
            "pgready_query_errors_total",
            &format!("{l},class=\"42\""),
            errors,
        ));
    }

    let fast_tests = json!({
        "interval": "1m",
        "input_series": input,
        "alert_rule_test": [
            {"eval_time": "30s", "alertname": "PgreadyPoolExhausted", "exp_alerts": []},
            {"eval_time": "5m", "alertname": "PgreadyPoolExhausted",
             "exp_alerts": [fired(&rules, "PgreadyPoolExhausted", &[("instance", "bad"), ("job", "app"), ("pool", "write")])]},
            {"eval_time": "10m", "alertname": "PgreadyAcquireSlow",
             "exp_alerts": [fired(&rules, "PgreadyAcquireSlow", &[("instance", "slow"), ("job", "app"), ("pool", "write")])]},
            {"eval_time": "3m", "alertname": "PgreadyDatabaseSlow", "exp_alerts": []},
            {"eval_time": "8m", "alertname": "PgreadyDatabaseSlow",
             "exp_alerts": [fired(&rules, "PgreadyDatabaseSlow", &[("instance", "slow"), ("job", "app"), ("pool", "write")])]},
            {"eval_time": "5m", "alertname": "PgreadyReplicaLag",
             "exp_alerts": [fired(&rules, "PgreadyReplicaLag", &[("instance", "bad"), ("job", "app"), ("pool", "read")])]},
            {"eval_time": "5m", "alertname": "PgreadyHealthFailing",
             "exp_alerts": [fired(&rules, "PgreadyHealthFailing", &[("instance", "bad"), ("job", "app")])]},
            {"eval_time": "5m", "alertname": "PgreadyBackupStale", "exp_alerts": []},
            {"eval_time": "4m", "alertname": "PgreadyQueryErrors", "exp_alerts": []},
            {"eval_time": "12m", "alertname": "PgreadyQueryErrors",
             "exp_alerts": [fired(&rules, "PgreadyQueryErrors", &[("instance", "bad"), ("job", "app"), ("pool", "write")])]},
        ],
    });
    // backups, a sample an hour (evaluated hourly, so 30 days take 720 evaluations, not
    // 43,200): `stale`'s last backup and restore test are at time 0, `fresh`'s hours before
    // each evaluation
    let backup_tests = json!({
        "interval": "1h",
        "input_series": [
            series("pgready_backup_last_success_timestamp_seconds", "job=\"stale\"", "0x30"),
            series("pgready_backup_last_success_timestamp_seconds", "job=\"fresh\"", "79200x30"),
            series("pgready_backup_last_verified_timestamp_seconds", "job=\"stale\"", "0x730"),
            series("pgready_backup_last_verified_timestamp_seconds", "job=\"fresh\"", "2584800x730"),
        ],
        "alert_rule_test": [
            {"eval_time": "23h", "alertname": "PgreadyBackupStale", "exp_alerts": []},
            {"eval_time": "26h", "alertname": "PgreadyBackupStale",
             "exp_alerts": [fired(&rules, "PgreadyBackupStale", &[("job", "stale")])]},
            {"eval_time": "29d", "alertname": "PgreadyRestoreTestStale", "exp_alerts": []},
            {"eval_time": "722h", "alertname": "PgreadyRestoreTestStale",
             "exp_alerts": [fired(&rules, "PgreadyRestoreTestStale", &[("job", "stale")])]},
        ],
    });
    for (file, interval, tests) in [
        ("pgready-alerts.test.yml", "1m", fast_tests),
        ("pgready-backup-alerts.test.yml", "1h", backup_tests),
    ] {
        let test_file = json!({
            "rule_files": ["pgready-alerts.yml"],
            "evaluation_interval": interval,
            "tests": [tests],
        });
        std::fs::write(dir.join(file), test_file.to_string()).expect("write");
        let (ok, said) = promtool(&["test", "rules", file], &dir).expect("ran once");
        assert!(ok, "{file}: {said}");
        assert!(said.contains("SUCCESS"), "{said}");
    }
}

#[test]
fn the_replica_lag_threshold_follows_the_health_config() {
    let project = Project::new("alerts-lag", "[health]\nmax_replica_lag = \"2m\"\n");
    let out = project.pgready(&["alerts"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let value: Value = serde_json::from_str(&out.stdout).expect("JSON");
    let lag = value["groups"][0]["rules"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["alert"] == "PgreadyReplicaLag"))
        .expect("rule");
    assert!(
        lag["expr"].as_str().unwrap_or("").ends_with("> 120"),
        "{lag}"
    );
    let dash = project.pgready(&["alerts", "--dashboard"]);
    let value: Value = serde_json::from_str(&dash.stdout).expect("JSON");
    assert_eq!(value["uid"], "pgready");
}
