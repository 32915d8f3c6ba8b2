//! The checks, in the order `doctor` prints them. Each reads the catalog or the statistics
//! views and never changes anything.

use std::time::{Duration, SystemTime};

use pgready::migrate::{Migrator, State};
use pgready::sqlx::{self, PgConnection};

use super::{Check, Status};
use crate::backup::store::Store;
use crate::failure::Failure;
use crate::pool_size::{self, PoolSize};
use crate::postgres::{Server, server::Version};
use crate::project::Project;

/// Schemas that hold no user objects.
const USER_SCHEMA: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema') \
     AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'";

/// pghero `transaction_id_danger`: warn with fewer transactions than this before shutdown.
const XID_DANGER: i64 = 10_000_000;
/// pghero `sequence_danger`
const SEQUENCE_DANGER: f64 = 0.9;
/// pghero `unused_indexes(max_scans: 50)`
const UNUSED_MAX_SCANS: i64 = 50;
/// Unused indexes smaller than this are left alone (a new index has no scans yet).
const UNUSED_MIN_BYTES: i64 = 1024 * 1024;
/// pghero `cache_hit_rate_threshold`
const CACHE_HIT_RATE: f64 = 0.99;
/// The thresholds (the replica lag's is `[health] max_replica_lag`, 60s by default).
const MAX_BACKUP_AGE: Duration = Duration::from_secs(24 * 3600);
const MAX_VERIFY_AGE: Duration = Duration::from_secs(30 * 24 * 3600);

/// What the checks work with.
pub struct Ctx<'a> {
    pub project: &'a Project,
    pub server: &'a Server,
    pub conn: &'a mut PgConnection,
    pub version: &'a Version,
    pub long_running: Duration,
    pub instances: u32,
    pub memory_kb: Option<u64>,
}

/// Every check, in order. A query that fails is that check's failure, not the run's.
pub async fn all(ctx: &mut Ctx<'_>) -> Result<Vec<Check>, Failure> {
    let mut out = Vec::new();
    out.push(or_fail("tls", tls(ctx).await));
    out.push(or_fail("connection_budget", budget(ctx).await));
    out.push(or_fail("migrations", migrations(ctx).await));
    out.push(or_fail("backups", backups(ctx)));
    out.push(or_fail("wal_archiving", super::archiving::check(ctx).await));
    out.push(or_fail("role", super::role::check(ctx).await));
    out.push(or_fail("pg_stat_statements", pg_stat_statements(ctx).await));
    out.push(or_fail("slow_query_log", slow_query_log(ctx).await));
    out.push(or_fail("autovacuum", autovacuum(ctx).await));
    out.push(or_fail("wraparound", wraparound(ctx).await));
    out.push(or_fail("sequences", sequences(ctx).await));
    out.push(or_fail("invalid_indexes", invalid_indexes(ctx).await));
    out.push(or_fail("duplicate_indexes", duplicate_indexes(ctx).await));
    out.push(or_fail("unused_indexes", unused_indexes(ctx).await));
    out.push(or_fail("replication", replication(ctx).await));
    out.push(or_fail("long_running", long_running(ctx).await));
    out.push(or_fail("cache_hit_rate", cache_hit_rate(ctx).await));
    out.push(or_fail("settings", settings(ctx).await));
    Ok(out)
}

fn or_fail(name: &'static str, result: Result<Check, String>) -> Check {
    result.unwrap_or_else(|e| {
        Check::problem(
            name,
            Status::Fail,
            format!("the check could not run: {e}"),
            "give the DSN's role read access to the statistics views (`GRANT pg_monitor TO …`)",
        )
    })
}

fn e(err: sqlx::Error) -> String {
    err.to_string()
}

fn quote(name: &str) -> String {
    crate::postgres::catalog::quote(name)
}

async fn tls(ctx: &mut Ctx<'_>) -> Result<Check, String> {
    let (ssl, version, local): (bool, Option<String>, bool) = sqlx::query_as(
        "SELECT s.ssl, s.version, coalesce(inet_client_addr() <<= '127.0.0.0/8'::inet \
         OR inet_client_addr() = '::1'::inet, true) \
         FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()",
    )
    .fetch_one(&mut *ctx.conn)
    .await
    .map_err(e)?;
    Ok(if ssl {
        Check::pass(
            "tls",
            format!(
                "the connection is encrypted ({})",
                version.unwrap_or_default()
            ),
        )
    } else if local {
        Check::pass(
            "tls",
            "no TLS, but the connection stays on this machine (loopback or socket)",
        )
    } else {
        Check::problem(
            "tls",
            Status::Fail,
            "the connection to the database is not encrypted",
            "add `sslmode=verify-full` (or `require`) to the DSN and set `[database] \
             require_tls = true`",
        )
    })
}

async fn budget(ctx: &mut Ctx<'_>) -> Result<Check, String> {
    let (max, reserved): (i64, i64) = sqlx::query_as(
        "SELECT current_setting('max_connections')::bigint, \
         current_setting('superuser_reserved_connections')::bigint \
         + coalesce(current_setting('reserved_connections', true)::bigint, 0)",
    )
    .fetch_one(&mut *ctx.conn)
    .await
    .map_err(e)?;
    let cfg = &ctx.project.config;
    let pool = |pool: &'static str, max: u32| PoolSize {
        pool,
        max_connections: max,
        source: "pgready.toml",
        explanation: String::new(),
    };
    let write = pool("write", cfg.pool.max_connections);
    let read = pool("read", cfg.read_pool.max_connections);
    let b = pool_size::budget(
        &[&write, &read],
        ctx.instances,
        u32::try_from(max).ok(),
        u32::try_from(reserved).ok(),
    );
    let evidence = b.explanation.join("; ");
    Ok(if b.fits == Some(false) {
        Check::problem(
            "connection_budget",
            Status::Fail,
            evidence,
            "lower `[pool] max_connections` / `[read_pool] max_connections` (`pgready pool-size` \
             sizes them from the load), raise max_connections, or put PgBouncer in front",
        )
    } else {
        Check::pass("connection_budget", evidence)
    })
}

async fn migrations(ctx: &mut Ctx<'_>) -> Result<Check, String> {
    let list = ctx.project.migrations().map_err(|f| match f {
        Failure::Error(m) | Failure::Usage(m) => m,
        Failure::Reported => "the project's migrations cannot be read (see above)".to_owned(),
    })?;
    let cfg = &ctx.project.config;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "SET search_path = {}",
        quote(&cfg.session.schema)
    )))
    .execute(&mut *ctx.conn)
    .await
    .map_err(e)?;
    let statuses = Migrator::new(list, &cfg.migrations)
        .status(&mut *ctx.conn)
        .await
        .map_err(|err| err.to_string())?;
    let bad: Vec<String> = statuses
        .iter()
        .filter(|s| !matches!(s.state, State::Applied | State::Pending))
        .map(|s| format!("{} {}", s.version, s.state.as_str()))
        .collect();
    let pending: Vec<String> = statuses
        .iter()
        .filter(|s| s.state == State::Pending)
        .map(|s| s.version.to_string())
        .collect();
    let applied = statuses
        .iter()
        .filter(|s| s.state == State::Applied)
        .count();
    Ok(if !bad.is_empty() {
        Check::problem(
            "migrations",
            Status::Fail,
            format!("not as the project's migrations say: {}", bad.join(", ")),
            "never edit or delete an applied migration: restore the file, and add a new \
             migration for the change (`pgready migrate status` shows each version)",
        )
    } else if !pending.is_empty() {
        Check::problem(
            "migrations",
            Status::Warn,
            format!(
                "{applied} applied, {} pending: {}",
                pending.len(),
                pending.join(", ")
            ),
            "`pgready migrate run`, or start the service with `[migrations] on_startup = \"apply\"`",
        )
    } else {
        Check::pass(
            "migrations",
            format!("all {applied} migration(s) applied and matching the project's files"),
        )
    })
}

fn backups(ctx: &mut Ctx<'_>) -> Result<Check, String> {
    let dir = crate::backup::dir(ctx.project);
    let store = Store::read(&dir).map_err(|f| match f {
        Failure::Error(m) | Failure::Usage(m) => m,
        Failure::Reported => "cannot read the backups".to_owned(),
    })?;
    let database = ctx.server.database();
    let ours: Vec<_> = store
        .entries
        .iter()
        .filter(|b| b.manifest.database == database && b.dump_path.is_file())
        .collect();
    let now = SystemTime::now();
    let age = |t: SystemTime| now.duration_since(t).unwrap_or_default();
    let Some(newest) = ours.first() else {
        return Ok(Check::problem(
            "backups",
            Status::Fail,
            format!("no backup of `{database}` in {}", dir.display()),
            "`pgready backup` nightly (cron or a scheduled job), then `pgready backup verify`",
        ));
    };
    let last_verified = ours
        .iter()
        .filter_map(|b| b.verifications.iter().rev().find(|v| v.ok))
        .filter_map(|v| crate::output::parse_timestamp(&v.verified_at))
        .max();
    let mut problems = Vec::new();
    let newest_age = age(newest.completed);
    if newest_age > MAX_BACKUP_AGE {
        problems.push(format!(
            "the newest backup is {} old (more than 24h)",
            humantime::format_duration(Duration::from_secs(newest_age.as_secs()))
        ));
    }
    match last_verified {
        None => problems.push("no backup has passed `pgready backup verify`".to_owned()),
        Some(t) if age(t) > MAX_VERIFY_AGE => problems.push(format!(
            "the last passed restore test was {} ago (more than 30 days)",
            humantime::format_duration(Duration::from_secs(age(t).as_secs()))
        )),
        Some(_) => {}
    }
    let evidence = format!(
        "{} backup(s) in {}, newest {} ({})",
        ours.len(),
        dir.display(),
        newest.name,
        newest.manifest.completed_at
    );
    Ok(if problems.is_empty() {
        Check::pass("backups", format!("{evidence}; verified within 30 days"))
    } else {
        Check::problem(
            "backups",
            Status::Fail,
            format!("{evidence}: {}", problems.join("; ")),
            "`pgready backup` nightly and `pgready backup verify` at least monthly",
        )
    })
}

async fn pg_stat_statements(ctx: &mut Ctx<'_>) -> Result<Check, String> {
    let (installed, preload): (bool, String) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'), \
         current_setting('shared_preload_libraries')",
    )
    .fetch_one(&mut *ctx.conn)
    .await
    .map_err(e)?;
    let libraries: Vec<&str> = preload
        .split(',')
        .map(|l| l.trim().trim_matches('"'))
        .filter(|l| !l.is_empty())
        .collect();
    let preloaded = libraries.contains(&"pg_stat_statements");
    Ok(match (installed, preloaded) {
        (true, true) => Check::pass("pg_stat_statements", "installed and preloaded"),
        _ => Check::problem(
            "pg_stat_statements",
            Status::Warn,
            format!(
                "{}{}: no per-query statistics to find slow queries with",
                if preloaded {
                    ""
                } else {
                    "not in shared_preload_libraries"
                },
                if installed {
                    ""
                } else if preloaded {
                    "extension not created"
                } else {
                    ", extension not created"
                }
            ),
            format!(
                "{}`CREATE EXTENSION IF NOT EXISTS pg_stat_statements;` in this database",
                if preloaded {
                    String::new()
                } else {
                    format!(
                        "`ALTER SYSTEM SET shared_preload_libraries = {};` and a restart, then ",
                        preload_with_statements(&libraries)
                    )
                }
            ),
        ),
    })
}

/// The `shared_preload_libraries` value with `pg_stat_statements` added to the libraries
/// already preloaded (setting it alone would unload them at the restart), one literal per
/// library: a single `'a, b'` would be taken as one library named `a, b`.
fn preload_with_statements(libraries: &[&str]) -> String {
    libraries
        .iter()
        .copied()
        .chain(["pg_stat_statements"])
        .map(|l| format!("'{}'", l.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn slow_query_log(ctx: &mut Ctx<'_>) -> Result<Check, String> {
    let setting: String =
        sqlx::query_scalar("SELECT current_setting('log_min_duration_statement')")
            .fetch_one(&mut *ctx.conn)
            .await
            .map_err(e)?;
    Ok(if setting == "-1" {
        Check::problem(
            "slow_query_log",
            Status::Warn,
            "log_min_duration_statement = -1: slow statements are not logged",
            "`ALTER SYSTEM SET log_min_duration_statement = '1s'; SELECT pg_reload_conf();` \
             (or `ALTER DATABASE … SET` for one database)",
        )
    } else {
        Check::pass(
            "slow_query_log",
            format!("log_min_duration_statement = {setting}"),
        )
    })
}

async fn autovacuum(ctx: &mut Ctx<'_>) -> Result<Check, String> {
    let on: String = sqlx::query_scalar("SELECT current_setting('autovacuum')")
        .fetch_one(&mut *ctx.conn)
        .await
        .map_err(e)?;
    if on != "on" {
        return Ok(Check::problem(
            "autovacuum",
            Status::Fail,
            "autovacuum is off: dead rows pile up and transaction IDs are never frozen",
            "`ALTER SYSTEM SET autovacuum = on; SELECT pg_reload_conf();`",
        ));
    }
    let disabled: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'm', 'p') AND {USER_SCHEMA} \
         AND c.reloptions @> ARRAY['autovacuum_enabled=false'] ORDER BY 1"
    )))
    .fetch_all(&mut *ctx.conn)
    .await
    .map_err(e)?;
    // past autovacuum's own trigger (50 rows + 20% of the table) and not vacuumed for a day
    let overdue: Vec<String> = sqlx::query_scalar(
        "SELECT format('%I.%I (%s dead rows)', schemaname, relname, n_dead_tup) \
         FROM pg_stat_user_tables WHERE n_dead_tup > 50 + 0.2 * n_live_tup \
         AND coalesce(greatest(last_vacuum, last_autovacuum), '-infinity') < now() - interval '1 day' \
         ORDER BY n_dead_tup DESC LIMIT 10",
    )
    .fetch_all(&mut *ctx.conn)
    .await
    .map_err(e)?;
    Ok(if !disabled.is_empty() {
        Check::problem(
            "autovacuum",
            Status::Warn,
            format!("autovacuum is off for {}", disabled.join(", ")),
            disabled
                .iter()
                .map(|t| format!("`ALTER TABLE {t} RESET (autovacuum_enabled);`"))
                .collect::<Vec<_>>()
                .join(" "),
        )
    } else if !overdue.is_empty() {
        Check::problem(
            "autovacuum",
            Status::Warn,
            format!(
                "not vacuumed for over a day despite dead rows: {}",
                overdue.join(", ")
            ),
            "`VACUUM (ANALYZE) <table>;` and check `pg_stat_progress_vacuum` and the server log \
             for a blocked autovacuum (a long transaction or an inactive slot holds it back)",
        )
    } else {
        Check::pass("autovacuum", "on, for every table, and keeping up")
    })
}

async fn wraparound(ctx: &mut Ctx<'_>) -> Result<Check, String> {
    // pghero's `transaction_id_danger`, with the number of tables in danger
    let worst: Option<(String, i64, i64)> = sqlx::query_as(
        "SELECT c.oid::regclass::text, \
         2146483648 - greatest(age(c.relfrozenxid), age(t.relfrozenxid))::bigint AS left, \
         count(*) FILTER (WHERE 2146483648 - greatest(age(c.relfrozenxid), age(t.relfrozenxid)) \
           < $1) OVER () \
         FROM pg_class c LEFT JOIN pg_class t ON c.reltoastrelid = t.oid \
         WHERE c.relkind = 'r' ORDER BY 2 LIMIT 1",
    )
    .bind(XID_DANGER)
    .fetch_optional(&mut *ctx.conn)
    .await
    .map_err(e)?;
    let Some((table, left, in_danger)) = worst else {
        return Ok(Check::pass("wraparound", "no tables"));
    };
    if left >= XID_DANGER {
        return Ok(Check::pass(
            "wraparound",
            format!("{left} transactions left before wraparound at the oldest table ({table})"),
        ));
    }
    // what keeps vacuum from freezing past it: the oldest xmin holders
    let holders: Vec<String> = sqlx::query_scalar(
        "SELECT format('%s (%s transactions old)', what, age) FROM ( \
           SELECT format('replication slot %s', slot_name) AS what, \
             greatest(age(xmin), age(catalog_xmin)) AS age FROM pg_replication_slots \
             WHERE xmin IS NOT NULL OR catalog_xmin IS NOT NULL \
           UNION ALL SELECT format('prepared transaction %L', gid), age(transaction) \
             FROM pg_prepared_xacts \
           UNION ALL SELECT format('session pid %s (%s)', pid, coalesce(state, backend_type)), \
             age(backend_xmin) FROM pg_stat_activity \
             WHERE backend_xmin IS NOT NULL AND pid <> pg_backend_pid()) h \
         ORDER BY age DESC LIMIT 3",
    )
    .fetch_all(&mut *ctx.conn)
    .await
    .map_err(e)?;
    let held = if holders.is_empty() {
        String::new()
    } else {
        format!("; the oldest xmin holders: {}", holders.join(", "))
    };
    Ok({
        Check::problem(
            "wraparound",
            Status::Fail,
            format!(
                "{in_danger} table(s) fewer than 10,000,000 transactions from the wraparound \
                 shutdown; the oldest, {table}, is {left} transactions from it{held}"
            ),
            format!(
                "first find what holds vacuum back: a long transaction (`pg_stat_activity`), an \
                 orphaned prepared transaction (`pg_prepared_xacts`: `ROLLBACK PREPARED`) or a \
                 replication slot's xmin (`pg_replication_slots`: \
                 `pg_drop_replication_slot`); then `VACUUM (FREEZE, VERBOSE) {table};` and each \
                 table in danger (`VACUUM (FREEZE);` as a superuser does the whole database, \
                 `vacuumdb --all --freeze` every database)"
            ),
        )
    })
}

async fn sequences(ctx: &mut Ctx<'_>) -> Result<Check, String> {
    // the owning column's type bounds a sequence too (a bigint sequence behind an int column)
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT format('%I.%I', s.schemaname, s.sequencename), s.last_value, \
         least(s.max_value, coalesce((SELECT CASE a.atttypid WHEN 'int2'::regtype THEN 32767 \
             WHEN 'int4'::regtype THEN 2147483647 END \
           FROM pg_depend d JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid \
           WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass \
           AND d.objid = format('%I.%I', s.schemaname, s.sequencename)::regclass \
           AND d.deptype IN ('a', 'i') LIMIT 1), s.max_value)) \
         FROM pg_sequences s WHERE s.last_value IS NOT NULL AND s.increment_by > 0",
    )
    .fetch_all(&mut *ctx.conn)
    .await
    .map_err(e)?;
    let danger: Vec<String> = rows
        .iter()
        .filter(|(_, last, max)| *max > 0 && (*last as f64) / (*max as f64) > SEQUENCE_DANGER)
        .map(|(name, last, max)| format!("{name} at {last} of {max}"))
        .collect();
    Ok(if danger.is_empty() {
        Check::pass(
            "sequences",
            format!(
                "{} sequence(s) in use, none past 90% of its range",
                rows.len()
            ),
        )
    } else {
        Check::problem(
            "sequences",
            Status::Fail,
            format!("past 90% of their range: {}", danger.join(", ")),
            "`ALTER SEQUENCE … AS bigint MAXVALUE 9223372036854775807;` and widen the column \
             (`ALTER TABLE … ALTER COLUMN … TYPE bigint`) before it runs out",
        )
    })
}

async fn invalid_indexes(ctx: &mut Ctx<'_>) -> Result<Check, String> {
    let names: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_index i \
         JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE NOT i.indisvalid AND {USER_SCHEMA} ORDER BY 1"
    )))
    .fetch_all(&mut *ctx.conn)
    .await
    .map_err(e)?;
    Ok(if names.is_empty() {
        Check::pass("invalid_indexes", "none")
    } else {
        Check::problem(
            "invalid_indexes",
            Status::Fail,
            format!(
                "left by a failed CREATE INDEX CONCURRENTLY: {}; they slow writes and serve no \
                 query",
                names.join(", ")
            ),
            names
                .iter()
                .map(|n| format!("`DROP INDEX CONCURRENTLY {n};` (then create it again)"))
                .collect::<Vec<_>>()
                .join(" "),
        )
    })
}

/// An index's shape, for pghero's duplicate rule.
type IndexRow = (String, String, String, String, bool, bool, Vec<String>);

async fn duplicate_indexes(ctx: &mut Ctx<'_>) -> Result<Check, String> {
    let rows: Vec<IndexRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT n.nspname::text, t.relname::text, ic.relname::text, am.amname::text, \
         i.indisunique OR i.indisprimary, \
         i.indisvalid AND i.indexprs IS NULL AND i.indpred IS NULL, \
         ARRAY(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord) \
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
               WHERE k.ord <= i.indnkeyatts ORDER BY k.ord) \
         FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid \
         JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_namespace n ON n.oid = t.relnamespace \
         JOIN pg_am am ON am.oid = ic.relam WHERE {USER_SCHEMA} ORDER BY 1, 2, 3"
    )))
    .fetch_all(&mut *ctx.conn)
    .await
    .map_err(e)?;
    let found = duplicates(&rows);
    Ok(if found.is_empty() {
        Check::pass("duplicate_indexes", "none")
    } else {
        Check::problem(
            "duplicate_indexes",
            Status::Warn,
            found
                .iter()
                .map(|(dup, by)| format!("{dup} is covered by {by}"))
                .collect::<Vec<_>>()
                .join("; "),
            found
                .iter()
                .map(|(dup, _)| format!("`DROP INDEX CONCURRENTLY {dup};`"))
                .collect::<Vec<_>>()
                .join(" "),
        )
    })
}

/// pghero's rule: a plain (not unique, not partial, not on expressions, valid) index whose key
/// columns start another plain index's on the same table with the same method; of two equal
/// ones, the later name is the duplicate.
fn duplicates(rows: &[IndexRow]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (schema, table, name, method, unique, plain, cols) in rows {
        if *unique || !*plain {
            continue;
        }
        let covering = rows.iter().find(|(s, t, n, m, _, p, c)| {
            s == schema
                && t == table
                && n != name
                && m == method
                && *p
                && c.len() >= cols.len()
                && c[..cols.len()] == cols[..]
        });
        if let Some((_, _, by, _, _, _, c)) = covering
            && (c != cols || name > by)
        {
            out.push((
                format!("{}.{}", quote(schema), quote(name)),
                format!("{}.{}", quote(schema), quote(by)),
            ));
        }
    }
    out
}

async fn unused_indexes(ctx: &mut Ctx<'_>) -> Result<Check, String> {
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT format('%I.%I', ui.schemaname, ui.indexrelname), ui.idx_scan, \
         pg_relation_size(ui.indexrelid) FROM pg_stat_user_indexes ui \
         JOIN pg_index i ON i.indexrelid = ui.indexrelid \
         WHERE NOT i.indisunique AND ui.idx_scan <= $1 AND pg_relation_size(ui.indexrelid) >= $2 \
         ORDER BY 3 DESC",
    )
    .bind(UNUSED_MAX_SCANS)
    .bind(UNUSED_MIN_BYTES)
    .fetch_all(&mut *ctx.conn)
    .await
    .map_err(e)?;
    Ok(if rows.is_empty() {
        Check::pass(
            "unused_indexes",
            "every index of 1MB or more has been scanned more than 50 times since the \
             statistics were reset",
        )
    } else {
        Check::problem(
            "unused_indexes",
            Status::Warn,
            rows.iter()
                .map(|(n, scans, size)| {
                    format!(
                        "{n} ({}, {scans} scans)",
                        crate::output::bytes(*size as u64)
                    )
                })
                .collect::<Vec<_>>()
                .join(", "),
            "if no query needs it (check on every replica too): `DROP INDEX CONCURRENTLY …;`",
        )
    })
}

async fn replication(ctx: &mut Ctx<'_>) -> Result<Check, String> {
    let (standby, lag): (bool, Option<f64>) = sqlx::query_as(
        "SELECT pg_is_in_recovery(), CASE WHEN pg_is_in_recovery() THEN \
         CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 \
         ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 END END",
    )
    .fetch_one(&mut *ctx.conn)
    .await
    .map_err(e)?;
    // `wal_status` (13+): PostgreSQL's own verdict on the WAL a slot keeps; past `reserved`, the
    // slot keeps more than `max_wal_size` (`extended`) or is losing or has lost its WAL
    let wal_status = if ctx.version.num >= 130_000 {
        "wal_status"
    } else {
        "NULL::text"
    };
    let inactive: Vec<(String, Option<String>)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT format('%s (%s, %s retained%s)', slot_name, slot_type, \
             coalesce(pg_size_pretty(pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() \
               THEN pg_last_wal_receive_lsn() ELSE pg_current_wal_lsn() END, restart_lsn)), \
               'no WAL'), coalesce(', wal_status ' || {wal_status}, '')), {wal_status} \
             FROM pg_replication_slots WHERE NOT active ORDER BY slot_name"
    )))
    .fetch_all(&mut *ctx.conn)
    .await
    .map_err(e)?;
    let past_max_wal_size = inactive
        .iter()
        .any(|(_, status)| matches!(status.as_deref(), Some("extended" | "unreserved" | "lost")));
    let inactive: Vec<String> = inactive.into_iter().map(|(slot, _)| slot).collect();
    let lag = lag.map(|s| Duration::from_secs_f64(s.max(0.0)));
    // the same limit the service's health check and read routing use
    let max_lag = ctx.project.config.health.max_replica_lag;
    Ok(if let Some(lag) = lag.filter(|l| *l > max_lag) {
        Check::problem(
            "replication",
            Status::Fail,
            format!(
                "this replica is {} behind its primary (more than `[health] max_replica_lag` \
                 = {})",
                humantime::format_duration(Duration::from_secs(lag.as_secs())),
                humantime::format_duration(max_lag)
            ),
            "check the replica's disk and network and long queries on it \
             (`max_standby_streaming_delay`); reads fall back to the primary with \
             `[database] read_fallback = \"primary\"`",
        )
    } else if !inactive.is_empty() {
        Check::problem(
            "replication",
            // a slot that keeps pg_wal past max_wal_size grows it until the disk is full
            if past_max_wal_size {
                Status::Fail
            } else {
                Status::Warn
            },
            format!(
                "inactive replication slot(s), which keep WAL and old rows: {}",
                inactive.join(", ")
            ),
            "reconnect their consumer, or `SELECT pg_drop_replication_slot('<name>');`; a slot \
             whose `wal_status` is past `reserved` keeps more WAL than `max_wal_size` (set \
             `max_slot_wal_keep_size` to bound it)",
        )
    } else {
        Check::pass(
            "replication",
            if standby {
                format!(
                    "replica, {} behind",
                    humantime::format_duration(Duration::from_secs(
                        lag.unwrap_or_default().as_secs()
                    ))
                )
            } else {
                "primary, no inactive slots".to_owned()
            },
        )
    })
}

async fn long_running(ctx: &mut Ctx<'_>) -> Result<Check, String> {
    let secs = ctx.long_running.as_secs_f64();
    let rows: Vec<(i32, String, f64, String)> = sqlx::query_as(
        "SELECT pid, state, extract(epoch FROM now() - CASE WHEN state = 'active' \
           THEN query_start ELSE state_change END)::float8, coalesce(application_name, '') \
         FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() \
         AND backend_type = 'client backend' \
         AND ((state = 'active' AND now() - query_start > make_interval(secs => $1)) \
           OR (state LIKE 'idle in transaction%' AND now() - state_change > make_interval(secs => $1))) \
         ORDER BY 3 DESC",
    )
    .bind(secs)
    .fetch_all(&mut *ctx.conn)
    .await
    .map_err(e)?;
    Ok(if rows.is_empty() {
        Check::pass(
            "long_running",
            format!(
                "no session active or idle in a transaction for more than {}",
                humantime::format_duration(ctx.long_running)
            ),
        )
    } else {
        Check::problem(
            "long_running",
            Status::Warn,
            rows.iter()
                .map(|(pid, state, s, app)| format!("pid {pid} {state} for {:.0}s ({app})", s))
                .collect::<Vec<_>>()
                .join(", "),
            format!(
                "`SELECT pg_terminate_backend(<pid>);` for each; an idle transaction holds locks \
                 and stops vacuum, so set `[session] idle_in_transaction_timeout` (the service's \
                 sessions) and `ALTER ROLE … SET idle_in_transaction_session_timeout` for the \
                 others{}",
                if rows.iter().any(|(_, s, _, _)| s == "active") {
                    "; a slow query: `[session] statement_timeout`"
                } else {
                    ""
                }
            ),
        )
    })
}

async fn cache_hit_rate(ctx: &mut Ctx<'_>) -> Result<Check, String> {
    let (hit, read, shared_buffers): (i64, i64, i64) = sqlx::query_as(
        "SELECT coalesce(sum(heap_blks_hit), 0)::bigint, coalesce(sum(heap_blks_read), 0)::bigint, \
         pg_size_bytes(current_setting('shared_buffers')) FROM pg_statio_user_tables",
    )
    .fetch_one(&mut *ctx.conn)
    .await
    .map_err(e)?;
    let total = hit + read;
    if total == 0 {
        return Ok(Check::pass("cache_hit_rate", "no table reads yet"));
    }
    let rate = hit as f64 / total as f64;
    if rate >= CACHE_HIT_RATE {
        return Ok(Check::pass(
            "cache_hit_rate",
            format!("{:.2}% of table reads hit shared_buffers", rate * 100.0),
        ));
    }
    // the tables read most from disk, and what they take
    let top: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT format('%I.%I', schemaname, relname), heap_blks_read, \
         pg_table_size(relid) FROM pg_statio_user_tables WHERE heap_blks_read > 0 \
         ORDER BY heap_blks_read DESC LIMIT 5",
    )
    .fetch_all(&mut *ctx.conn)
    .await
    .map_err(e)?;
    let size = |b: i64| crate::output::bytes(b.max(0) as u64);
    let read_bytes: i64 = top.iter().map(|(_, _, bytes)| *bytes).sum();
    let advice = cache_advice(shared_buffers, read_bytes);
    Ok(Check::problem(
        "cache_hit_rate",
        Status::Warn,
        format!(
            "{:.2}% of table reads hit shared_buffers (below 99%); shared_buffers = {}; read \
             most from disk: {}",
            rate * 100.0,
            size(shared_buffers),
            top.iter()
                .map(|(t, blocks, bytes)| format!("{t} ({}, {blocks} blocks read)", size(*bytes)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        format!(
            "`ALTER SYSTEM SET shared_buffers = '{}MB';` and restart the server: a table larger \
             than a quarter of shared_buffers is scanned through a small ring and never stays \
             cached, and these take {} (keep shared_buffers within 25% of the RAM: `pgready tune \
             --memory … --live`; else add RAM, or find the queries reading most from disk in \
             pg_stat_statements); once the cache is warm, `SELECT pg_stat_reset();` and check \
             again",
            advice >> 20,
            size(read_bytes)
        ),
    ))
}

/// The `shared_buffers` to advise, in bytes: room for the tables read from disk four times
/// over plus a quarter (a table larger than a quarter of shared_buffers is scanned through a
/// ring of 256kB, PostgreSQL's `GetAccessStrategy(BAS_BULKREAD)`), at least twice the current
/// value and PostgreSQL's default of 128MB, rounded up to a power of two.
fn cache_advice(shared_buffers: i64, read_bytes: i64) -> u64 {
    let need = (read_bytes.max(0) as u64)
        .saturating_mul(5)
        .max((shared_buffers.max(0) as u64).saturating_mul(2))
        .max(128 << 20);
    need.checked_next_power_of_two().unwrap_or(need)
}

async fn settings(ctx: &mut Ctx<'_>) -> Result<Check, String> {
    let Some(memory_kb) = ctx.memory_kb else {
        return Ok(Check {
            name: "settings",
            status: Status::Skip,
            evidence: "give `--memory` (the server's RAM) to compare with `pgready tune`"
                .to_owned(),
            fix: None,
        });
    };
    let (_, current) = crate::tune::read_settings(ctx.server)
        .await
        .map_err(|f| match f {
            Failure::Error(m) | Failure::Usage(m) => m,
            Failure::Reported => "cannot read pg_settings".to_owned(),
        })?;
    let machine = crate::tune::Machine {
        memory_kb,
        cpus: None,
        connections: None,
        storage: crate::tune::Storage::Ssd,
        workload: crate::tune::Workload::Web,
        os: crate::tune::Os::Linux,
        version: ctx.version.major(),
    };
    // "far" from the advice: more than half off, or a different word
    let diffs = crate::tune::compare(&crate::tune::advise(&machine), &current, 0.5);
    let diffs: Vec<_> = diffs
        .into_iter()
        .filter(|d| d.name != "max_connections")
        .collect();
    Ok(if diffs.is_empty() {
        Check::pass("settings", "within 50% of `pgready tune`'s advice")
    } else {
        Check::problem(
            "settings",
            Status::Warn,
            diffs
                .iter()
                .map(|d| format!("{} {} (advice {})", d.name, d.current, d.recommended))
                .collect::<Vec<_>>()
                .join(", "),
            "`pgready tune --memory … --live --alter-system` prints the statements; run them, \
             then restart the server if it marks any as needing a restart, else \
             `SELECT pg_reload_conf();`",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pg_stat_statements_is_added_to_the_libraries_already_preloaded() {
        assert_eq!(preload_with_statements(&[]), "'pg_stat_statements'");
        assert_eq!(
            preload_with_statements(&["auto_explain", "it's"]),
            "'auto_explain', 'it''s', 'pg_stat_statements'"
        );
    }

    fn index(name: &str, cols: &[&str], unique: bool, plain: bool) -> IndexRow {
        (
            "public".to_owned(),
            "t".to_owned(),
            name.to_owned(),
            "btree".to_owned(),
            unique,
            plain,
            cols.iter().map(|c| (*c).to_owned()).collect(),
        )
    }

    #[test]
    fn cache_advice_fits_the_tables_read() {
        const MB: u64 = 1 << 20;
        assert_eq!(cache_advice(MB as i64, 8 * MB as i64), 128 * MB);
        // a 64MB table stays cached from 256MB: advise 5 × 64MB, rounded up
        assert_eq!(cache_advice(MB as i64, 64 * MB as i64), 512 * MB);
        assert_eq!(cache_advice(512 * MB as i64, 0), 1024 * MB);
    }

    #[test]
    fn duplicates_as_pghero_finds_them() {
        let rows = [
            index("t_pkey", &["id"], true, true),
            index("t_a", &["a"], false, true),
            index("t_a_b", &["a", "b"], false, true),
            index("t_b", &["b"], false, true),
            index("t_b_again", &["b"], false, true),
            index("t_c_partial", &["c"], false, false),
            index("t_c_d", &["c", "d"], false, true),
        ];
        assert_eq!(
            duplicates(&rows),
            [
                (
                    "\"public\".\"t_a\"".to_owned(),
                    "\"public\".\"t_a_b\"".to_owned()
                ),
                (
                    "\"public\".\"t_b_again\"".to_owned(),
                    "\"public\".\"t_b\"".to_owned()
                ),
            ]
        );
    }
}
