//! The built-in checks: `postgres:connectivity`, `postgres:pool`, `migrations:status`,
//! `postgres:replication` (readiness), `process:uptime` (liveness), and `process:shutdown`,
//! readiness's only check once a shutdown began.

use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgConnection};

use super::check::Check;
use crate::error::describe;
use crate::migrate::{State, VersionStatus};
use crate::replica::replica_lag;
use crate::{Db, PoolStats};
use pgready_core::config::ReadFallback;

pub(crate) const CONNECTIVITY: &str = "postgres:connectivity";
pub(crate) const POOL: &str = "postgres:pool";
pub(crate) const MIGRATIONS: &str = "migrations:status";
pub(crate) const REPLICATION: &str = "postgres:replication";
pub(crate) const UPTIME: &str = "process:uptime";
pub(crate) const SHUTDOWN: &str = "process:shutdown";

/// What the primary's task reports.
pub(crate) const PRIMARY: &[(&str, Option<&str>)] =
    &[(CONNECTIVITY, Some("write")), (MIGRATIONS, None)];
/// What the replica's task reports.
pub(crate) const REPLICA: &[(&str, Option<&str>)] =
    &[(CONNECTIVITY, Some("read")), (REPLICATION, Some("read"))];

/// `postgres:pool`, one entry per pool: utilization (in use / max) and connection counts;
/// above `[health] pool_saturation_warn` it warns. Reads counters only.
pub(crate) fn pools(db: &Db) -> Vec<(String, Check)> {
    let warn_at = db.config().health.pool_saturation_warn;
    let mut out = vec![(
        POOL.to_owned(),
        pool("write", db.write().stats(), db.write().is_closed(), warn_at),
    )];
    if let Some(replica) = db.replica() {
        out.push((
            POOL.to_owned(),
            pool("read", replica.stats(), replica.is_closed(), warn_at),
        ));
    }
    out
}

fn pool(name: &'static str, stats: PoolStats, closed: bool, warn_at: f64) -> Check {
    let utilization = if stats.max == 0 {
        0.0
    } else {
        f64::from(stats.in_use) / f64::from(stats.max)
    };
    let check = if closed {
        Check::fail("the pool is closed")
    } else if utilization > warn_at {
        Check::warn(format!(
            "{} of {} connections in use, above `[health] pool_saturation_warn = {warn_at}`",
            stats.in_use, stats.max
        ))
    } else {
        Check::pass()
    };
    check
        .with_component_id(name)
        .with_component_type("datastore")
        .with_observed(round(utilization * 100.0, 1), "percent")
        .field(
            "connections",
            json!({
                "size": stats.size,
                "idle": stats.idle,
                "inUse": stats.in_use,
                "max": stats.max,
            }),
        )
}

/// `postgres:connectivity` (write) and `migrations:status`, on the probe's own connection to
/// the primary: `SELECT 1`, then the migrations table.
pub(crate) async fn primary(db: &Db, timeout: Duration) -> Vec<(String, Check)> {
    let options = db.write().connect_options();
    let target = target(&options);
    let failed = |output: String| {
        vec![
            (CONNECTIVITY.to_owned(), down("write", &output, &target)),
            (MIGRATIONS.to_owned(), not_checked()),
        ]
    };
    let mut slot = db.health_registry().connections.write.lock().await;
    let mut conn = match open(&mut slot, &options, db, timeout).await {
        Ok(conn) => conn,
        Err(output) => return failed(output),
    };
    let started = Instant::now();
    // The simple protocol: one round trip, and nothing a transaction pooler could split.
    if let Err(e) = sqlx::raw_sql("SELECT 1").execute(&mut conn).await {
        return failed(format!("`SELECT 1` failed: {}", scrub(&describe(&e))));
    }
    let connectivity = up("write", started.elapsed(), &target);
    let read = if db.config().database.pgbouncer {
        // Behind a transaction pooler a prepared statement needs a transaction to keep its
        // server connection from parse to execution.
        in_transaction(&mut conn, async |conn| migrations(db, conn).await).await
    } else {
        migrations(db, &mut conn).await
    };
    let migrations = match read {
        Ok(check) => {
            *slot = Some(conn);
            check
        }
        Err(e) => Check::fail(format!("cannot read the migrations table: {}", scrub(&e)))
            .with_component_type("datastore"),
    };
    vec![
        (CONNECTIVITY.to_owned(), connectivity),
        (MIGRATIONS.to_owned(), migrations),
    ]
}

/// Runs `f` in a read-only transaction on `conn`.
async fn in_transaction<T>(
    conn: &mut PgConnection,
    f: impl AsyncFnOnce(&mut PgConnection) -> Result<T, crate::Error>,
) -> Result<T, crate::Error> {
    sqlx::raw_sql("BEGIN READ ONLY").execute(&mut *conn).await?;
    let result = f(&mut *conn).await;
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    sqlx::raw_sql(end).execute(&mut *conn).await?;
    result
}

/// `postgres:connectivity` (read) and `postgres:replication`, on the probe's own connection to
/// the replica. The lag is `now() - pg_last_xact_replay_timestamp()`, or 0 when the replica
/// has replayed everything it received (an idle primary writes nothing to replay, and its
/// replicas are not behind); 0 on a server that is not in recovery.
///
/// With `[database] read_fallback = "primary"` a replica that is down or lagging only warns:
/// reads are served by the primary meanwhile (`readsFrom` says where they go).
pub(crate) async fn replica(db: &Db, timeout: Duration) -> Vec<(String, Check)> {
    let Some(routing) = db.replica_routing() else {
        return Vec::new();
    };
    let options = routing.pool().connect_options();
    let target = target(&options);
    let falls_back = routing.fallback() == ReadFallback::Primary;
    let reads_from = if routing.serving() {
        "replica"
    } else {
        "primary"
    };
    let failed = |output: String| {
        let (connectivity, replication) = if falls_back {
            let output = format!("{output}; reads go to the primary meanwhile");
            let connectivity = Check::warn(output)
                .with_component_id("read")
                .with_component_type("datastore")
                .secret_field("target", target.as_str());
            let replication = Check::warn("not checked: the replica did not answer")
                .with_component_type("datastore")
                .with_component_id("read");
            (connectivity, replication)
        } else {
            let replication = not_checked().with_component_id("read");
            (down("read", &output, &target), replication)
        };
        vec![
            (CONNECTIVITY.to_owned(), connectivity),
            (
                REPLICATION.to_owned(),
                replication.field("readsFrom", reads_from),
            ),
        ]
    };
    let mut slot = db.health_registry().connections.read.lock().await;
    let mut conn = match open(&mut slot, &options, db, timeout).await {
        Ok(conn) => conn,
        Err(output) => return failed(output),
    };
    let started = Instant::now();
    let lag = replica_lag(&mut conn).await;
    let (in_recovery, lag) = match lag {
        Ok(row) => row,
        Err(e) => {
            return failed(format!(
                "the replication query failed: {}",
                scrub(&describe(&e))
            ));
        }
    };
    *slot = Some(conn);
    let max = db.config().health.max_replica_lag;
    let mut replication = replication(in_recovery, lag, max);
    if falls_back && replication.status() == super::Status::Warn && !routing.serving() {
        let output = format!(
            "{}; reads go to the primary until it catches up",
            replication.output().unwrap_or_default()
        );
        replication = replication.with_output(output);
    }
    vec![
        (
            CONNECTIVITY.to_owned(),
            up("read", started.elapsed(), &target),
        ),
        (
            REPLICATION.to_owned(),
            replication.field("readsFrom", reads_from),
        ),
    ]
}

/// The probe's connection to one database: the one kept from the last probe, or a new one;
/// on failure, the `postgres:connectivity` output that says why.
async fn open(
    slot: &mut Option<PgConnection>,
    options: &PgConnectOptions,
    db: &Db,
    timeout: Duration,
) -> Result<PgConnection, String> {
    match slot.take() {
        Some(conn) => Ok(conn),
        None => connect(options, db, timeout)
            .await
            .map_err(|e| format!("cannot connect: {}", scrub(&describe(&e)))),
    }
}

pub(crate) fn replication(in_recovery: bool, lag: Option<f64>, max: Duration) -> Check {
    let check = match lag {
        None => Check::warn("the replica has not replayed any transaction yet"),
        Some(lag) if lag > max.as_secs_f64() => Check::warn(format!(
            "replica lag {lag:.1}s is above `[health] max_replica_lag = {max:?}`"
        )),
        Some(_) => Check::pass(),
    };
    let check = match lag {
        Some(lag) => check.with_observed(round(lag.max(0.0), 3), "s"),
        None => check,
    };
    check
        .with_component_id("read")
        .with_component_type("datastore")
        .field("inRecovery", in_recovery)
}

/// `migrations:status`: the migrations table read now and compared with the migrations built
/// into this binary. Failed (dirty) versions fail; pending versions and edited ones warn;
/// versions newer than this build (a later release already migrated) are counted as `ahead`
/// and pass, as they do during a rolling deploy.
async fn migrations(db: &Db, conn: &mut PgConnection) -> Result<Check, crate::Error> {
    let statuses = db.migrator().status(conn).await?;
    let latest = statuses
        .iter()
        .filter(|s| {
            matches!(
                s.state,
                State::Applied | State::ChecksumMismatch | State::MissingLocally
            )
        })
        .map(|s| s.version)
        .max();
    Ok(migration_check(&statuses, latest))
}

pub(crate) fn migration_check(statuses: &[VersionStatus], latest: Option<i64>) -> Check {
    let count = |state: State| statuses.iter().filter(|s| s.state == state).count();
    let applied =
        count(State::Applied) + count(State::ChecksumMismatch) + count(State::MissingLocally);
    let pending = count(State::Pending);
    let edited = count(State::ChecksumMismatch);
    let failed = count(State::Failed);
    let ahead = count(State::MissingLocally);
    let first = |state: State| {
        statuses
            .iter()
            .find(|s| s.state == state)
            .map_or(0, |s| s.version)
    };
    let check = if failed > 0 {
        Check::fail(format!(
            "version {} is marked failed in the migrations table: repair the schema, then \
             delete that row",
            first(State::Failed)
        ))
    } else if edited > 0 {
        Check::warn(format!(
            "version {} was edited after it was applied",
            first(State::ChecksumMismatch)
        ))
    } else if pending > 0 {
        Check::warn(format!(
            "{pending} migration(s) of this build are not applied, the first is version {}",
            first(State::Pending)
        ))
    } else {
        Check::pass()
    };
    check
        .with_component_type("datastore")
        .with_observed(pending as f64, "migrations")
        .field("applied", applied)
        .field("pending", pending)
        .field("latest", latest)
        .field("checksumMismatch", edited)
        .field("failed", failed)
        .field("ahead", ahead)
}

/// `process:uptime`: how long this `Db` has existed. Liveness touches nothing else.
pub(crate) fn uptime(db: &Db) -> (String, Check) {
    let up = db.health_registry().started.elapsed();
    (
        UPTIME.to_owned(),
        Check::pass()
            .with_component_type("system")
            .with_observed(round(up.as_secs_f64(), 3), "s"),
    )
}

/// `process:shutdown`, failed, once a shutdown began: `phase` is `draining` (readiness 503,
/// the server still serves) or `stopping` (the server was told to stop); the observed value
/// is the time since the signal. `None` while serving.
pub(crate) fn shutting_down(db: &Db) -> Option<(String, Check)> {
    let phase = db.shutdown_phase();
    let (name, since) = (phase.name()?, phase.since()?);
    let check = Check::fail(format!(
        "shutting down ({name}): this instance takes no new work"
    ))
    .with_component_type("system")
    .with_observed(round(since.elapsed().as_secs_f64(), 3), "s")
    .field("phase", name);
    Some((SHUTDOWN.to_owned(), check))
}

/// A probe connection: the pool's options (same user, TLS and `application_name`), with the
/// session's `search_path` (where the migrations table lives) and a server-side
/// `statement_timeout` equal to the probe's, so a query the probe gave up on does not keep
/// running. Behind PgBouncer, startup parameters may be refused: none is added, and the
/// settings are the role's.
async fn connect(
    options: &PgConnectOptions,
    db: &Db,
    timeout: Duration,
) -> Result<PgConnection, sqlx::Error> {
    let mut options = options.clone();
    if !db.config().database.pgbouncer {
        let ms = timeout.as_millis().max(1).to_string();
        options = options.options([
            ("statement_timeout", ms.as_str()),
            ("search_path", db.config().session.schema.as_str()),
        ]);
    }
    options.connect().await
}

fn up(id: &'static str, elapsed: Duration, target: &str) -> Check {
    Check::pass()
        .with_component_id(id)
        .with_component_type("datastore")
        .with_observed(round(elapsed.as_secs_f64() * 1000.0, 3), "ms")
        .secret_field("target", target)
}

fn down(id: &'static str, output: &str, target: &str) -> Check {
    Check::fail(output)
        .with_component_id(id)
        .with_component_type("datastore")
        .secret_field("target", target)
}

fn not_checked() -> Check {
    Check::fail("not checked: the database did not answer").with_component_type("datastore")
}

/// `host:port/database`: shown only with `detail = "full"`; never the user or password.
fn target(options: &PgConnectOptions) -> String {
    format!(
        "{}:{}/{}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or("")
    )
}

/// Database errors do not quote the DSN, but a DSN in them would lose its password.
fn scrub(e: &dyn std::fmt::Display) -> String {
    pgready_core::dsn::redact_in(&e.to_string(), "")
}

fn round(value: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (value * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::Status;

    fn status(version: i64, state: State) -> VersionStatus {
        VersionStatus {
            version,
            description: String::new(),
            file: None,
            state,
        }
    }

    #[test]
    fn pool_warns_above_the_saturation_threshold_only() {
        let stats = |in_use| PoolStats {
            size: 10,
            idle: 10 - in_use,
            in_use,
            max: 10,
            waiting: 0,
        };
        assert_eq!(pool("write", stats(9), false, 0.9).status(), Status::Pass);
        let full = pool("write", stats(10), false, 0.9);
        assert_eq!(full.status(), Status::Warn);
        assert_eq!(full.observed_value(), Some(100.0));
        assert_eq!(pool("write", stats(0), true, 0.9).status(), Status::Fail);
    }

    #[test]
    fn migration_states_map_to_documented_statuses() {
        let all_applied = [status(1, State::Applied), status(2, State::Applied)];
        assert_eq!(
            migration_check(&all_applied, Some(2)).status(),
            Status::Pass
        );
        let pending = [status(1, State::Applied), status(2, State::Pending)];
        let check = migration_check(&pending, Some(1));
        assert_eq!(check.status(), Status::Warn);
        assert_eq!(check.field_value("pending"), Some(&json!(1)));
        assert_eq!(check.field_value("applied"), Some(&json!(1)));
        assert_eq!(check.field_value("latest"), Some(&json!(1)));
        let edited = [status(1, State::ChecksumMismatch)];
        assert_eq!(migration_check(&edited, Some(1)).status(), Status::Warn);
        let failed = [status(1, State::Applied), status(2, State::Failed)];
        assert_eq!(migration_check(&failed, Some(1)).status(), Status::Fail);
        let ahead = [status(1, State::Applied), status(2, State::MissingLocally)];
        let check = migration_check(&ahead, Some(2));
        assert_eq!(check.status(), Status::Pass);
        assert_eq!(check.field_value("ahead"), Some(&json!(1)));
    }

    #[test]
    fn replication_warns_above_max_lag_or_before_any_replay() {
        let max = Duration::from_secs(60);
        assert_eq!(replication(true, Some(1.0), max).status(), Status::Pass);
        assert_eq!(replication(false, Some(0.0), max).status(), Status::Pass);
        let behind = replication(true, Some(61.0), max);
        assert_eq!(behind.status(), Status::Warn);
        assert_eq!(behind.observed_value(), Some(61.0));
        assert_eq!(replication(true, None, max).status(), Status::Warn);
    }
}
