//! `pgready alerts`: Prometheus alerting rules over pgready's own metric names (see
//! `pgready::metrics`), each with a runbook that names the `pgready doctor` check to run, and a
//! Grafana dashboard of the pool, health and backup figures.
//!
//! The thresholds are the runbook's: a pool exhausted (every connection in use and acquires
//! waiting) for a minute, acquire p99 or the database's response time over 1 s for 5 minutes,
//! replica lag over `[health] max_replica_lag` (60 s) for a minute, health failing for a minute,
//! the last backup older than 24 h, the last passed restore test older than 30 days, more than
//! 1 % of a pool's queries failing over 5 minutes (`pgready_query_errors_total` over
//! `pgready_queries_total`).

use std::path::Path;

use serde::Serialize;
use serde_json::{Value, json};

use crate::args::{AlertsArgs, Format};
use crate::failure::Failure;
use crate::output;
use crate::project::Project;

/// The rules file's name under `--out`.
pub const RULES_FILE: &str = "pgready-alerts.yml";
/// The dashboard's file name under `--out`.
pub const DASHBOARD_FILE: &str = "pgready-dashboard.json";

/// One alerting rule.
#[derive(Debug, Serialize)]
pub struct Rule {
    pub alert: &'static str,
    pub expr: String,
    #[serde(rename = "for")]
    pub for_: &'static str,
    pub severity: &'static str,
    pub summary: String,
    /// The `doctor` check that explains it.
    pub doctor_check: &'static str,
    pub runbook: String,
}

/// The rules, with the replica-lag threshold from `[health] max_replica_lag` (seconds).
pub fn rules(max_replica_lag: u64) -> Vec<Rule> {
    let rule = |alert, expr: String, for_, severity, summary: String, check, what: &str| Rule {
        alert,
        expr,
        for_,
        severity,
        summary,
        doctor_check: check,
        runbook: format!(
            "run `pgready doctor` against this database and read the `{check}` check: {what}"
        ),
    };
    vec![
        rule(
            "PgreadyPoolExhausted",
            "max by (job, instance, pool) (pgready_pool_waiting_acquires) > 0 \
             and on (job, instance, pool) \
             (max by (job, instance, pool) (pgready_pool_in_use_connections) \
             >= max by (job, instance, pool) (pgready_pool_max_connections))"
                .to_owned(),
            "1m",
            "critical",
            "every connection of the {{ $labels.pool }} pool on {{ $labels.instance }} is in use and requests wait for one".to_owned(),
            "connection_budget",
            "a long transaction or slow query holding connections shows under `long_running`; \
             if the load grew, size the pool with `pgready pool-size` within the budget",
        ),
        rule(
            "PgreadyAcquireSlow",
            "histogram_quantile(0.99, sum by (job, instance, pool, le) \
             (rate(pgready_pool_acquire_duration_seconds_bucket[5m]))) > 1"
                .to_owned(),
            "5m",
            "warning",
            "p99 wait for a {{ $labels.pool }} connection on {{ $labels.instance }} is over 1s".to_owned(),
            "long_running",
            "connections are held too long (sessions under `long_running`) or the pool is too \
             small for the load (`connection_budget`, `pgready pool-size`)",
        ),
        rule(
            "PgreadyDatabaseSlow",
            "max by (job, instance, pool) (pgready_postgres_response_time_seconds) > 1".to_owned(),
            "5m",
            "warning",
            "PostgreSQL takes over 1s to answer `SELECT 1` from {{ $labels.instance }}".to_owned(),
            "long_running",
            "the server is overloaded: look at `long_running`, `cache_hit_rate` and `settings`",
        ),
        rule(
            "PgreadyReplicaLag",
            format!("max by (job, instance, pool) (pgready_replica_lag_seconds) > {max_replica_lag}"),
            "1m",
            "warning",
            format!("the read replica of {{{{ $labels.instance }}}} is more than {max_replica_lag}s behind"),
            "replication",
            "reads fall back to the primary with `[database] read_fallback = \"primary\"`; find \
             why the replica cannot keep up",
        ),
        rule(
            "PgreadyHealthFailing",
            "max by (job, instance) (pgready_health_status{status=\"fail\"}) == 1".to_owned(),
            "1m",
            "critical",
            "the readiness probe of {{ $labels.instance }} fails".to_owned(),
            "migrations",
            "the health body's `checks` name the failing one (connectivity, migrations); \
             `pgready doctor` shows the database's side",
        ),
        rule(
            "PgreadyQueryErrors",
            "sum by (job, instance, pool) (rate(pgready_query_errors_total[5m])) \
             / sum by (job, instance, pool) (rate(pgready_queries_total[5m])) > 0.01"
                .to_owned(),
            "5m",
            "warning",
            "more than 1% of the queries of {{ $labels.instance }}'s {{ $labels.pool }} pool fail"
                .to_owned(),
            "migrations",
            "`pgready_query_errors_total`'s `class` label names the SQLSTATE class: `42` \
             (undefined table or column: code ahead of the schema, see `migrations`; or \
             permissions, see `role`), `23` (constraint violations: the application's input), \
             `57` (`statement_timeout` cancels: `long_running`), `53` (out of connections or \
             memory: `connection_budget`), `08` (connections lost), `40` (serialization and \
             deadlocks: `long_running`)",
        ),
        rule(
            "PgreadyBackupStale",
            "time() - max by (job) (pgready_backup_last_success_timestamp_seconds) > 86400"
                .to_owned(),
            "5m",
            "critical",
            "the last successful backup seen by {{ $labels.job }} is older than 24h".to_owned(),
            "backups",
            "run `pgready backup` and check the scheduled job that runs it",
        ),
        rule(
            "PgreadyRestoreTestStale",
            "time() - max by (job) (pgready_backup_last_verified_timestamp_seconds) > 2592000"
                .to_owned(),
            "5m",
            "warning",
            "no backup of {{ $labels.job }} has passed a restore test in 30 days".to_owned(),
            "backups",
            "run `pgready backup verify`; a failure there lists what the restore lacked",
        ),
    ]
}

/// The Prometheus rules file (YAML; JSON is valid YAML too).
pub fn rules_file(rules: &[Rule]) -> Value {
    json!({
        "groups": [{
            "name": "pgready",
            "rules": rules.iter().map(|r| json!({
                "alert": r.alert,
                "expr": r.expr,
                "for": r.for_,
                "labels": {"severity": r.severity},
                "annotations": {
                    "summary": r.summary,
                    "runbook": r.runbook,
                    "doctor_check": r.doctor_check,
                },
            })).collect::<Vec<_>>(),
        }],
    })
}

/// A Grafana dashboard of the pool, health, query-error and backup figures.
pub fn dashboard() -> Value {
    let panel = |id: u32, title: &str, unit: &str, x: u32, y: u32, targets: &[(&str, &str)]| {
        json!({
            "id": id,
            "type": "timeseries",
            "title": title,
            "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "targets": targets.iter().enumerate().map(|(i, (expr, legend))| json!({
                "refId": ((b'A' + i as u8) as char).to_string(),
                "expr": expr,
                "legendFormat": legend,
            })).collect::<Vec<_>>(),
        })
    };
    json!({
        "title": "pgready",
        "uid": "pgready",
        "schemaVersion": 39,
        "tags": ["pgready", "postgresql"],
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [
            {"name": "datasource", "type": "datasource", "query": "prometheus"},
            {"name": "instance", "type": "query", "datasource": {"type": "prometheus", "uid": "${datasource}"},
             "query": "label_values(pgready_pool_max_connections, instance)", "includeAll": true, "multi": true},
        ]},
        "panels": [
            panel(1, "Pool connections", "short", 0, 0, &[
                ("sum by (pool) (pgready_pool_in_use_connections{instance=~\"$instance\"})", "{{pool}} in use"),
                ("sum by (pool) (pgready_pool_idle_connections{instance=~\"$instance\"})", "{{pool}} idle"),
                ("sum by (pool) (pgready_pool_max_connections{instance=~\"$instance\"})", "{{pool}} max"),
            ]),
            panel(2, "Waiting acquires and timeouts", "short", 12, 0, &[
                ("sum by (pool) (pgready_pool_waiting_acquires{instance=~\"$instance\"})", "{{pool}} waiting"),
                ("sum by (pool) (rate(pgready_pool_acquire_timeouts_total{instance=~\"$instance\"}[5m]))", "{{pool}} timeouts/s"),
            ]),
            panel(3, "Acquire latency", "s", 0, 8, &[
                ("histogram_quantile(0.99, sum by (pool, le) (rate(pgready_pool_acquire_duration_seconds_bucket{instance=~\"$instance\"}[5m])))", "{{pool}} p99"),
                ("histogram_quantile(0.5, sum by (pool, le) (rate(pgready_pool_acquire_duration_seconds_bucket{instance=~\"$instance\"}[5m])))", "{{pool}} p50"),
            ]),
            panel(4, "Database response time (health probe)", "s", 12, 8, &[
                ("max by (pool) (pgready_postgres_response_time_seconds{instance=~\"$instance\"})", "{{pool}}"),
            ]),
            panel(5, "Health", "short", 0, 16, &[
                ("sum by (status) (pgready_health_status{instance=~\"$instance\"})", "{{status}}"),
                ("sum(pgready_migrations_pending{instance=~\"$instance\"})", "pending migrations"),
            ]),
            panel(6, "Replica lag", "s", 12, 16, &[
                ("max by (instance) (pgready_replica_lag_seconds{instance=~\"$instance\"})", "{{instance}}"),
            ]),
            panel(7, "Backup and restore-test age", "s", 0, 24, &[
                ("time() - max(pgready_backup_last_success_timestamp_seconds)", "since the last backup"),
                ("time() - max(pgready_backup_last_verified_timestamp_seconds)", "since the last passed restore test"),
            ]),
            panel(8, "Transaction retries", "short", 12, 24, &[
                ("sum by (sqlstate) (rate(pgready_transaction_retries_total{instance=~\"$instance\"}[5m]))", "retries {{sqlstate}}"),
                ("sum by (sqlstate) (rate(pgready_transaction_give_ups_total{instance=~\"$instance\"}[5m]))", "give-ups {{sqlstate}}"),
            ]),
            panel(9, "Query errors by SQLSTATE class", "percentunit", 0, 32, &[
                ("sum by (class) (rate(pgready_query_errors_total{instance=~\"$instance\"}[5m])) / scalar(sum(rate(pgready_queries_total{instance=~\"$instance\"}[5m])))", "class {{class}}"),
            ]),
        ],
    })
}

pub fn run(config: Option<&Path>, args: &AlertsArgs) -> Result<(), Failure> {
    let project = Project::load(config, None)?;
    let lag = project.config.health.max_replica_lag.as_secs().max(1);
    let rules = rules(lag);
    let file = rules_file(&rules);
    let pretty = |v: &Value| {
        serde_json::to_string_pretty(v)
            .map_err(|e| Failure::Error(format!("cannot write JSON: {e}")))
    };
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::Error(format!("cannot create `{}`: {e}", dir.display())))?;
        let header = "# Prometheus alerting rules written by `pgready alerts` (JSON is YAML).\n";
        for (name, text) in [
            (RULES_FILE, format!("{header}{}\n", pretty(&file)?)),
            (DASHBOARD_FILE, format!("{}\n", pretty(&dashboard())?)),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, text)
                .map_err(|e| Failure::Error(format!("cannot write `{}`: {e}", path.display())))?;
            if args.output.format == Format::Text {
                println!("wrote {}", path.display());
            }
        }
        if args.output.format == Format::Json {
            output::json(&json!({
                "rules": dir.join(RULES_FILE).display().to_string(),
                "dashboard": dir.join(DASHBOARD_FILE).display().to_string(),
                "alerts": rules.iter().map(|r| r.alert).collect::<Vec<_>>(),
            }))?;
        }
        return Ok(());
    }
    let value = if args.dashboard { dashboard() } else { file };
    println!("{}", pretty(&value)?);
    Ok(())
}
