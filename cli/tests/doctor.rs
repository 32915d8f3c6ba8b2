//! `pgready doctor` against the test cluster: each check that can be broken on purpose here is
//! broken, seen to fail (or warn) with its fix, fixed, and seen to pass.

mod support;

use std::time::{Duration, Instant};

use pgready::embedded::Cluster;
use pgready::sqlx::{self, Connection as _, Executor as _, PgConnection};
use serde_json::Value;
use support::{Project, cluster_password};

/// `doctor --format json` on the shared cluster: (exit code, report).
fn doctor(project: &Project, extra: &[&str]) -> (i32, Value) {
    doctor_on(project, extra, cluster_password())
}

/// `doctor --format json` against a server whose password is `secret`, never printed.
fn doctor_on(project: &Project, extra: &[&str], secret: &str) -> (i32, Value) {
    let mut args = vec!["doctor", "--format", "json", "--long-running", "1s"];
    args.extend(extra);
    let out = project.pgready(&args);
    assert!(!out.stdout.contains(secret) && !out.stderr.contains(secret));
    let value: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", out.stdout, out.stderr));
    (out.code, value)
}

fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no check {name} in {report}"))
}

fn status<'a>(report: &'a Value, name: &str) -> &'a str {
    check(report, name)["status"].as_str().unwrap_or("")
}

/// Asserts `name`'s status, showing the whole check when it differs.
fn is(report: &Value, name: &str, want: &str) {
    assert_eq!(status(report, name), want, "{}", check(report, name));
}

fn says(report: &Value, name: &str, field: &str, text: &str) {
    let value = check(report, name)[field].as_str().unwrap_or("");
    assert!(
        value.contains(text),
        "{name}.{field}: {value:?} lacks {text:?}"
    );
}

#[tokio::test]
async fn each_check_fails_on_purpose_and_passes_after_its_fix() {
    let project = Project::with_database("doctor", "").await;
    project.write(
        "1_items.sql",
        "CREATE TABLE items (id BIGSERIAL PRIMARY KEY, x INT);\n",
    );
    let mut conn = PgConnection::connect(project.url()).await.expect("connect");
    let database: String = sqlx::query_scalar("SELECT current_database()::text")
        .fetch_one(&mut conn)
        .await
        .expect("name");
    // reserves no WAL, so a slot left by a failed run costs the shared cluster nothing
    let slot = format!("pgready_doctor_{}", std::process::id());
    conn.execute(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE d (x INT); INSERT INTO d VALUES (1), (1); \
         CREATE INDEX d_x ON d (x); CREATE INDEX d_x_again ON d (x); \
         ALTER TABLE d SET (autovacuum_enabled = false); \
         CREATE SEQUENCE s MAXVALUE 100; SELECT setval('s', 95); \
         CREATE TABLE big AS SELECT generate_series(1, 60000) AS v; CREATE INDEX big_v ON big (v); \
         SELECT pg_create_physical_replication_slot('{slot}', false);"
    )))
    .await
    .expect("break things");
    // a failed CREATE UNIQUE INDEX CONCURRENTLY leaves an invalid index behind
    let failed = conn
        .execute("CREATE UNIQUE INDEX CONCURRENTLY d_unique ON d (x)")
        .await;
    assert!(failed.is_err(), "duplicate values");
    let mut idle = PgConnection::connect(project.url()).await.expect("connect");
    idle.execute("BEGIN; SELECT 1").await.expect("begin");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;

    let (code, broken) = doctor(&project, &["--instances", "10"]);
    assert_eq!(code, 1, "{broken}");
    assert_eq!(status(&broken, "connection_budget"), "fail");
    says(&broken, "connection_budget", "evidence", "10 × 62 = 620");
    assert_eq!(status(&broken, "migrations"), "warn");
    says(&broken, "migrations", "fix", "pgready migrate run");
    assert_eq!(status(&broken, "backups"), "fail");
    says(
        &broken,
        "backups",
        "evidence",
        &format!("no backup of `{database}`"),
    );
    assert_eq!(status(&broken, "invalid_indexes"), "fail");
    says(
        &broken,
        "invalid_indexes",
        "fix",
        "DROP INDEX CONCURRENTLY public.d_unique",
    );
    assert_eq!(status(&broken, "sequences"), "fail");
    says(&broken, "sequences", "evidence", "public.s at 95 of 100");
    assert_eq!(status(&broken, "duplicate_indexes"), "warn");
    says(
        &broken,
        "duplicate_indexes",
        "evidence",
        "\"public\".\"d_x_again\" is covered by \"public\".\"d_x\"",
    );
    assert_eq!(status(&broken, "autovacuum"), "warn");
    says(
        &broken,
        "autovacuum",
        "fix",
        "ALTER TABLE public.d RESET (autovacuum_enabled);",
    );
    assert_eq!(status(&broken, "unused_indexes"), "warn");
    says(&broken, "unused_indexes", "evidence", "public.big_v");
    assert_eq!(status(&broken, "replication"), "warn");
    says(&broken, "replication", "evidence", &slot);
    assert_eq!(status(&broken, "long_running"), "warn");
    says(&broken, "long_running", "evidence", "idle in transaction");
    says(&broken, "long_running", "fix", "pg_terminate_backend");
    assert_eq!(status(&broken, "slow_query_log"), "warn");
    assert_eq!(status(&broken, "pg_stat_statements"), "warn");
    says(
        &broken,
        "pg_stat_statements",
        "fix",
        "shared_preload_libraries",
    );
    assert_eq!(status(&broken, "settings"), "skip");
    assert_eq!(status(&broken, "tls"), "pass", "loopback");

    // the fixes
    idle.execute("COMMIT").await.expect("commit");
    idle.close().await.ok();
    conn.execute(sqlx::AssertSqlSafe(format!(
        "DROP INDEX d_unique; DROP INDEX d_x_again; DROP INDEX big_v; \
         ALTER TABLE d RESET (autovacuum_enabled); ALTER SEQUENCE s MAXVALUE 1000; \
         SELECT pg_drop_replication_slot('{slot}'); \
         ALTER DATABASE \"{database}\" SET log_min_duration_statement = '1s';"
    )))
    .await
    .expect("fix things");
    conn.close().await.ok();
    assert_eq!(project.pgready(&["migrate", "run"]).code, 0);
    assert_eq!(project.pgready(&["backup"]).code, 0);
    assert_eq!(project.pgready(&["backup", "verify"]).code, 0);

    let (_, fixed) = doctor(&project, &["--memory", "16GB"]);
    for name in [
        "connection_budget",
        "migrations",
        "backups",
        "invalid_indexes",
        "sequences",
        "duplicate_indexes",
        "autovacuum",
        "unused_indexes",
        "long_running",
        "slow_query_log",
        "wraparound",
        "tls",
    ] {
        assert_eq!(
            status(&fixed, name),
            "pass",
            "{name}: {}",
            check(&fixed, name)
        );
    }
    // other tests' slots may come and go on the shared cluster; ours is gone
    assert!(
        !check(&fixed, "replication")["evidence"]
            .to_string()
            .contains(&slot)
    );
    assert_eq!(
        status(&fixed, "settings"),
        "warn",
        "the test cluster is not tuned for 16GB"
    );
    says(&fixed, "settings", "evidence", "shared_buffers");

    let text = project.pgready(&["doctor"]);
    assert!(text.stdout.contains("pass  migrations"), "{}", text.stdout);
    assert!(text.stdout.contains("fix: "), "{}", text.stdout);
}

/// `role`: the superuser the tests connect as warns; a role made for the service with
/// `CREATEDB` and a schema it should not own warns; after `NOCREATEDB` and handing the schema
/// back, it passes. `wal_archiving`: the test cluster does not archive, which is reported, and
/// fails once `[backup] rpo` is stated (its passing side, which needs a server that archives,
/// is `wal_archiving_fails_while_archiving_fails_and_passes_once_it_archives`).
#[tokio::test]
async fn the_role_and_wal_archiving_are_checked() {
    let project = Project::with_database("doctor_role", "").await;
    let (_, report) = doctor(&project, &[]);
    assert_eq!(
        status(&report, "role"),
        "warn",
        "the tests connect as a superuser"
    );
    says(&report, "role", "evidence", "SUPERUSER");
    says(&report, "role", "fix", "NOSUPERUSER");
    assert_eq!(status(&report, "wal_archiving"), "warn");
    says(&report, "wal_archiving", "evidence", "archive_mode = off");
    says(&report, "wal_archiving", "fix", "archive_mode = on");

    let role = format!("pgready_doctor_app_{}", std::process::id());
    let schema = format!("other_{}", std::process::id());
    let mut admin = PgConnection::connect(project.url()).await.expect("connect");
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS {schema}; DROP ROLE IF EXISTS {role}; \
             CREATE ROLE {role} LOGIN PASSWORD 'app-secret' CREATEDB; \
             CREATE SCHEMA {schema} AUTHORIZATION {role};"
        )))
        .await
        .expect("make the role");
    let at = project.url().split_once('@').expect("a DSN with a user").1;
    let url = format!("postgres://{role}:app-secret@{at}");
    let as_app = |project: &Project| {
        let out = project.pgready_with_env(
            &["doctor", "--format", "json"],
            &[(support::URL_ENV, url.as_str())],
        );
        assert!(!out.stdout.contains("app-secret") && !out.stderr.contains("app-secret"));
        serde_json::from_str::<Value>(&out.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", out.stdout, out.stderr))
    };
    let report = as_app(&project);
    assert_eq!(status(&report, "role"), "warn", "{report}");
    says(&report, "role", "evidence", "has CREATEDB");
    says(&report, "role", "evidence", &schema);
    says(&report, "role", "fix", "NOCREATEDB");

    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "ALTER ROLE {role} NOCREATEDB; ALTER SCHEMA {schema} OWNER TO CURRENT_USER;"
        )))
        .await
        .expect("fix the role");
    let report = as_app(&project);
    is(&report, "role", "pass");

    std::fs::write(
        project.dir.join("pgready.toml"),
        format!(
            "[database]\nurl_env = \"{}\"\n[backup]\nrpo = \"15m\"\n",
            support::URL_ENV
        ),
    )
    .expect("write pgready.toml");
    let (code, report) = doctor(&project, &[]);
    assert_eq!(code, 1);
    assert_eq!(status(&report, "wal_archiving"), "fail");
    says(
        &report,
        "wal_archiving",
        "evidence",
        "cannot meet `[backup] rpo` = 15m",
    );

    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA {schema}; DROP ROLE {role};"
        )))
        .await
        .expect("drop the role");
    admin.close().await.ok();
}

/// A throw-away cluster of the test's own (the project's embedded-cluster code, as an
/// unprivileged user when root), with `settings` appended to its `postgresql.conf`.
async fn own_cluster(settings: &str) -> Cluster {
    let settings = settings.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut cluster = Cluster::init().unwrap_or_else(|e| panic!("create a cluster: {e}"));
        let conf = cluster.data_dir().join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).expect("read postgresql.conf");
        text.push_str("\n# doctor test\n");
        text.push_str(&settings);
        std::fs::write(&conf, text).expect("write postgresql.conf");
        cluster
            .start()
            .unwrap_or_else(|e| panic!("start the cluster: {e}"));
        cluster
    })
    .await
    .expect("the cluster task panicked")
}

/// Stops and starts `cluster` again (settings that need a restart).
async fn restart(cluster: Cluster) -> Cluster {
    tokio::task::spawn_blocking(move || {
        let mut cluster = cluster;
        cluster.stop().expect("stop the cluster");
        cluster.start().expect("start the cluster");
        cluster
    })
    .await
    .expect("the cluster task panicked")
}

/// Stops and removes `cluster` off the runtime's thread.
async fn remove(cluster: Cluster) {
    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .ok();
}

/// Runs `sql` statements one by one (each its own round trip, so the statistics a statement
/// forces out are flushed before the next one runs).
/// Runs `statements` on a connection of its own to `url`.
async fn run_on(url: &str, statements: &[&str]) {
    let mut conn = PgConnection::connect(url).await.expect("connect");
    run_each(&mut conn, statements).await;
    conn.close().await.ok();
}

async fn run_each(conn: &mut PgConnection, statements: &[&str]) {
    for sql in statements {
        conn.execute(sqlx::AssertSqlSafe(sql.to_string()))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

/// `cache_hit_rate`: a table several times the size of a small `shared_buffers` read cold
/// after `pg_stat_reset()` warns, with the `shared_buffers` to set; after that
/// `ALTER SYSTEM`, a restart, a warm-up and `pg_stat_reset()`, as the fix says, it passes.
#[tokio::test]
async fn cache_hit_rate_fails_with_small_shared_buffers_and_passes_after_raising_them() {
    // no autovacuum: its reads would land in the counters at times of its own choosing
    let cluster = own_cluster("shared_buffers = '1MB'\nautovacuum = off\n").await;
    let project = Project::with_url("doctor_cache", "", cluster.url("postgres"));
    let mut conn = PgConnection::connect(project.url()).await.expect("connect");
    run_each(
        &mut conn,
        &[
            "CREATE TABLE big AS SELECT g AS id, repeat('x', 100) AS pad \
             FROM generate_series(1, 60000) g",
            "SELECT pg_stat_force_next_flush()",
            "SELECT pg_stat_reset()",
            "SELECT count(*) FROM big",
            "SELECT count(*) FROM big",
            "SELECT pg_stat_force_next_flush()",
            "SELECT 1",
        ],
    )
    .await;
    let (_, cold) = doctor_on(&project, &[], cluster.password());
    assert_eq!(status(&cold, "cache_hit_rate"), "warn", "{cold}");
    says(
        &cold,
        "cache_hit_rate",
        "evidence",
        "shared_buffers = 1.00 MiB",
    );
    says(&cold, "cache_hit_rate", "evidence", "public.big");
    let fix = check(&cold, "cache_hit_rate")["fix"]
        .as_str()
        .expect("a fix")
        .to_owned();
    let statement = fix
        .split('`')
        .find(|part| part.starts_with("ALTER SYSTEM SET shared_buffers"))
        .unwrap_or_else(|| panic!("no ALTER SYSTEM in {fix:?}"))
        .to_owned();
    assert_eq!(statement, "ALTER SYSTEM SET shared_buffers = '128MB';");
    conn.execute(sqlx::AssertSqlSafe(statement))
        .await
        .expect("raise shared_buffers");
    conn.close().await.ok();

    let cluster = restart(cluster).await;
    run_on(
        project.url(),
        &[
            "SELECT count(*) FROM big",
            "SELECT pg_stat_force_next_flush()",
            "SELECT pg_stat_reset()",
            "SELECT count(*) FROM big",
            "SELECT count(*) FROM big",
            "SELECT pg_stat_force_next_flush()",
            "SELECT 1",
        ],
    )
    .await;
    let (_, warm) = doctor_on(&project, &[], cluster.password());
    is(&warm, "cache_hit_rate", "pass");
    remove(cluster).await;
}

/// The `pg_stat_archiver` columns the test waits on.
async fn archiver(conn: &mut PgConnection) -> (i64, i64) {
    sqlx::query_as("SELECT archived_count, failed_count FROM pg_stat_archiver")
        .fetch_one(conn)
        .await
        .expect("read pg_stat_archiver")
}

/// `wal_archiving` against `[backup] rpo`: an archiver whose command fails fails the check;
/// with a command that copies into a directory, a WAL switch archived, it passes.
#[tokio::test]
async fn wal_archiving_fails_while_archiving_fails_and_passes_once_it_archives() {
    let cluster =
        own_cluster("archive_mode = on\narchive_command = 'false'\narchive_timeout = '60s'\n")
            .await;
    let archive = std::env::temp_dir().join(format!("pgready-doctor-wal-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&archive);
    std::fs::create_dir_all(&archive).expect("create the archive directory");
    {
        use std::os::unix::fs::MetadataExt as _;
        let owner = std::fs::metadata(cluster.data_dir()).expect("stat PGDATA");
        std::os::unix::fs::chown(&archive, Some(owner.uid()), Some(owner.gid()))
            .expect("give the archive to the server's user");
    }
    let project = Project::with_url(
        "doctor_wal",
        "[backup]\nrpo = \"15m\"\n",
        cluster.url("postgres"),
    );
    let mut conn = PgConnection::connect(project.url()).await.expect("connect");
    run_each(
        &mut conn,
        &["CREATE TABLE t (x INT)", "SELECT pg_switch_wal()"],
    )
    .await;
    let started = Instant::now();
    while archiver(&mut conn).await.1 == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no archive attempt"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (code, failing) = doctor_on(&project, &[], cluster.password());
    assert_eq!(code, 1);
    assert_eq!(status(&failing, "wal_archiving"), "fail", "{failing}");
    says(
        &failing,
        "wal_archiving",
        "evidence",
        "no WAL segment has been archived yet",
    );
    says(
        &failing,
        "wal_archiving",
        "evidence",
        "the last attempt failed",
    );
    says(&failing, "wal_archiving", "fix", "archive_command");

    let copy = format!(
        "test ! -f {dir}/%f && cp %p {dir}/%f",
        dir = archive.display()
    );
    conn.execute(sqlx::AssertSqlSafe(format!(
        "ALTER SYSTEM SET archive_command = '{copy}'"
    )))
    .await
    .expect("set archive_command");
    run_each(&mut conn, &["SELECT pg_reload_conf()"]).await;
    let started = Instant::now();
    while archiver(&mut conn).await.0 == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "nothing archived with {copy}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    conn.close().await.ok();
    assert!(
        std::fs::read_dir(&archive)
            .expect("read the archive")
            .count()
            > 0,
        "a segment in the archive directory"
    );
    let (_, archiving) = doctor_on(&project, &[], cluster.password());
    is(&archiving, "wal_archiving", "pass");
    says(
        &archiving,
        "wal_archiving",
        "evidence",
        "within `[backup] rpo` = 15m",
    );
    remove(cluster).await;
    let _ = std::fs::remove_dir_all(&archive);
}

/// `wraparound`, for real: a forgotten logical replication slot holds the catalogs' xmin back,
/// the cluster is stopped and PostgreSQL's own `pg_resetwal -x` moves the next transaction ID
/// 2,140,000,000 ahead (with the zero-filled `pg_xact` segment that ID needs), so every table
/// is within pghero's 10,000,000 transactions of the wraparound shutdown. The check fails and
/// names what to do; dropping the slot and `VACUUM (FREEZE)`, as its fix says, make it pass.
/// (Without the slot, the anti-wraparound autovacuum the server starts at once would race the
/// check.)
#[tokio::test]
async fn wraparound_fails_near_the_shutdown_and_passes_after_vacuum_freeze() {
    use std::os::unix::fs::MetadataExt as _;
    use std::os::unix::process::CommandExt as _;

    let cluster = own_cluster("wal_level = logical\n").await;
    let project = Project::with_url("doctor_wrap", "", cluster.url("postgres"));
    let mut conn = PgConnection::connect(project.url()).await.expect("connect");
    let (_, fresh) = doctor_on(&project, &[], cluster.password());
    assert_eq!(status(&fresh, "wraparound"), "pass", "{fresh}");
    conn.execute("SELECT pg_create_logical_replication_slot('forgotten', 'pgoutput')")
        .await
        .expect("create a logical slot");
    let current: i64 = sqlx::query_scalar("SELECT pg_current_xact_id()::text::bigint")
        .fetch_one(&mut conn)
        .await
        .expect("the current transaction ID");
    conn.close().await.ok();

    // 2^31 - 2,140,000,000: 7.5M transactions before the wraparound limit, past pghero's
    // 10M danger line and short of the server's stop limit (3M before wraparound)
    let next = u32::try_from(current).expect("a young cluster") + 2_140_000_000;
    let cluster = tokio::task::spawn_blocking(move || {
        let mut cluster = cluster;
        cluster.stop().expect("stop the cluster");
        let data_dir = cluster.data_dir().to_path_buf();
        let owner = std::fs::metadata(&data_dir).expect("stat PGDATA");
        // pg_xact: 1,048,576 transactions per 256kB segment, named in hex; the segment of the
        // new next transaction ID must exist (pg_resetwal's documentation for `-x`)
        let segment = data_dir
            .join("pg_xact")
            .join(format!("{:04X}", next / 1_048_576));
        std::fs::write(&segment, vec![0u8; 256 * 1024]).expect("create the pg_xact segment");
        std::os::unix::fs::chown(&segment, Some(owner.uid()), Some(owner.gid()))
            .expect("give the segment to the server's user");
        let binaries = pgready::embedded::Binaries::discover().expect("the server binaries");
        // run as the data directory's owner, as the server runs (pg_resetwal refuses root)
        let out = std::process::Command::new(binaries.dir().join("pg_resetwal"))
            .arg("-x")
            .arg(next.to_string())
            .arg("-D")
            .arg(&data_dir)
            .uid(owner.uid())
            .gid(owner.gid())
            .current_dir(&data_dir)
            .output()
            .expect("run pg_resetwal");
        assert!(
            out.status.success(),
            "pg_resetwal: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        cluster.start().expect("start the cluster again");
        cluster
    })
    .await
    .expect("the pg_resetwal task panicked");

    let (code, near) = doctor_on(&project, &[], cluster.password());
    assert_eq!(code, 1, "{near}");
    assert_eq!(status(&near, "wraparound"), "fail", "{near}");
    says(
        &near,
        "wraparound",
        "evidence",
        "transactions from the wraparound shutdown",
    );
    says(
        &near,
        "wraparound",
        "evidence",
        "the oldest xmin holders: replication slot forgotten",
    );
    says(&near, "wraparound", "fix", "pg_replication_slots");
    says(&near, "wraparound", "fix", "VACUUM (FREEZE)");
    // the slot is inactive (how far past max_wal_size its WAL is after the reset is the
    // server's business: warn or fail)
    assert_ne!(status(&near, "replication"), "pass");
    says(&near, "replication", "evidence", "forgotten");

    run_on(
        project.url(),
        &[
            "SELECT pg_drop_replication_slot('forgotten')",
            "VACUUM (FREEZE)",
        ],
    )
    .await;
    let (_, frozen) = doctor_on(&project, &[], cluster.password());
    is(&frozen, "wraparound", "pass");
    assert_eq!(status(&frozen, "replication"), "pass");
    remove(cluster).await;
}

/// `replication` on a real streaming replica (the test binary's topology), against
/// `[health] max_replica_lag` = 1s: replay paused under a write on the primary fails once the
/// lag passes 1s; resumed and caught up, it passes.
#[tokio::test]
async fn replica_lag_past_max_replica_lag_fails_and_passes_when_caught_up() {
    let topology = pgready_tests::topology::topology().await;
    let database = topology.fresh_database("doctor").await;
    let secret = topology.replica.get().password().to_owned();
    let project = Project::with_url(
        "doctor_replica",
        "[health]\nmax_replica_lag = \"1s\"\n",
        topology.replica.url(&database),
    );
    let (_, streaming) = doctor_on(&project, &[], &secret);
    is(&streaming, "replication", "pass");
    says(&streaming, "replication", "evidence", "replica, 0s behind");

    topology.pause_replay().await;
    let mut primary = PgConnection::connect(&topology.primary.url(&database))
        .await
        .expect("connect to the primary");
    primary
        .execute("CREATE TABLE written (x INT); INSERT INTO written VALUES (1)")
        .await
        .expect("write on the primary");
    primary.close().await.ok();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (code, lagging) = doctor_on(&project, &[], &secret);
    assert_eq!(code, 1);
    assert_eq!(status(&lagging, "replication"), "fail", "{lagging}");
    says(
        &lagging,
        "replication",
        "evidence",
        "more than `[health] max_replica_lag` = 1s",
    );

    topology.resume_replay().await;
    topology.caught_up(Duration::from_secs(30)).await;
    let (_, caught_up) = doctor_on(&project, &[], &secret);
    is(&caught_up, "replication", "pass");
}

/// `tls` with real connections to a server with a self-signed CA, reached at a non-loopback
/// address of this machine: plaintext fails; `sslmode=verify-full` with the CA passes. On
/// loopback, plaintext passes (the connection stays on the machine).
#[tokio::test]
async fn tls_fails_in_plaintext_off_loopback_and_passes_over_tls() {
    let address = pgready_tests::tls::non_loopback_ipv4()
        .expect("this test needs a non-loopback IPv4 address on the machine (no network?)");
    let server =
        tokio::task::spawn_blocking(move || pgready_tests::tls::TlsCluster::start_also_on(address))
            .await
            .expect("the TLS cluster task panicked");
    let secret = server.cluster.password().to_owned();
    let off_loopback = |params: &str| {
        server
            .url("postgres", params)
            .replacen("@127.0.0.1:", &format!("@{address}:"), 1)
    };
    let plain = Project::with_url("doctor_tls", "", off_loopback("sslmode=disable"));
    let (code, report) = doctor_on(&plain, &[], &secret);
    assert_eq!(code, 1);
    assert_eq!(status(&report, "tls"), "fail", "{report}");
    says(&report, "tls", "evidence", "not encrypted");
    says(&report, "tls", "fix", "sslmode=verify-full");

    let verified = Project::with_url(
        "doctor_tls",
        "[database]\nurl_env = \"PGREADY_CLI_TEST_URL\"\nrequire_tls = true\n",
        off_loopback(&format!(
            "sslmode=verify-full&sslrootcert={}",
            server.ca.display()
        )),
    );
    let (_, report) = doctor_on(&verified, &[], &secret);
    is(&report, "tls", "pass");
    says(
        &report,
        "tls",
        "evidence",
        "the connection is encrypted (TLSv1.3)",
    );

    let local = Project::with_url("doctor_tls", "", server.url("postgres", "sslmode=disable"));
    let (_, report) = doctor_on(&local, &[], &secret);
    assert_eq!(status(&report, "tls"), "pass", "{report}");
    says(&report, "tls", "evidence", "stays on this machine");
    tokio::task::spawn_blocking(move || drop(server)).await.ok();
}

/// `replication` on slots: an inactive physical slot that has reserved WAL warns while its WAL
/// is within `max_wal_size` (`wal_status` `reserved`); once segment switches leave it keeping
/// more (`extended`), it fails, as pg_wal would grow until the disk is full; dropped, it passes.
#[tokio::test]
async fn an_inactive_slot_keeping_wal_past_max_wal_size_fails_and_passes_when_dropped() {
    let cluster =
        own_cluster("max_wal_size = '32MB'\nmin_wal_size = '32MB'\nwal_init_zero = off\n").await;
    let project = Project::with_url("doctor_slot", "", cluster.url("postgres"));
    let mut conn = PgConnection::connect(project.url()).await.expect("connect");
    run_each(
        &mut conn,
        &[
            "SELECT pg_create_physical_replication_slot('behind', true)",
            "CREATE TABLE w (x INT)",
        ],
    )
    .await;
    let (_, reserved) = doctor_on(&project, &[], cluster.password());
    assert_eq!(status(&reserved, "replication"), "warn", "{reserved}");
    says(&reserved, "replication", "evidence", "behind (physical");
    says(&reserved, "replication", "evidence", "wal_status reserved");

    // max_wal_size is 2 segments: 5 switches leave the slot's segment behind it
    for _ in 0..5 {
        run_each(
            &mut conn,
            &["INSERT INTO w VALUES (1)", "SELECT pg_switch_wal()"],
        )
        .await;
    }
    let (code, extended) = doctor_on(&project, &[], cluster.password());
    assert_eq!(code, 1);
    assert_eq!(status(&extended, "replication"), "fail", "{extended}");
    says(&extended, "replication", "evidence", "wal_status extended");
    says(&extended, "replication", "fix", "pg_drop_replication_slot");

    run_each(&mut conn, &["SELECT pg_drop_replication_slot('behind')"]).await;
    conn.close().await.ok();
    let (_, dropped) = doctor_on(&project, &[], cluster.password());
    is(&dropped, "replication", "pass");
    remove(cluster).await;
}

/// The statements between backticks in `fix` that start with one of `starts`, in order.
fn statements_in(fix: &str, starts: &[&str]) -> Vec<String> {
    fix.split('`')
        .filter(|part| starts.iter().any(|s| part.starts_with(s)))
        .map(str::to_owned)
        .collect()
}

/// `pg_stat_statements`: a server preloading another library (`auto_explain`) but not
/// `pg_stat_statements` warns; the fix it prints (an `ALTER SYSTEM` that keeps `auto_explain`,
/// a restart, `CREATE EXTENSION`), applied as printed, makes it pass.
#[tokio::test]
async fn pg_stat_statements_warns_until_preloaded_and_created_as_the_fix_says() {
    let cluster = own_cluster("shared_preload_libraries = 'auto_explain'\n").await;
    let project = Project::with_url("doctor_pgss", "", cluster.url("postgres"));
    let (_, missing) = doctor_on(&project, &[], cluster.password());
    assert_eq!(status(&missing, "pg_stat_statements"), "warn", "{missing}");
    says(
        &missing,
        "pg_stat_statements",
        "evidence",
        "not in shared_preload_libraries, extension not created",
    );
    let fix = check(&missing, "pg_stat_statements")["fix"]
        .as_str()
        .expect("a fix")
        .to_owned();
    let alter = statements_in(&fix, &["ALTER SYSTEM"]);
    assert_eq!(
        alter,
        ["ALTER SYSTEM SET shared_preload_libraries = 'auto_explain', 'pg_stat_statements';"],
        "{fix}"
    );
    assert!(fix.contains("restart"), "{fix}");
    let create = statements_in(&fix, &["CREATE EXTENSION"]);
    assert_eq!(create.len(), 1, "{fix}");

    run_on(project.url(), &[&alter[0]]).await;
    let cluster = restart(cluster).await;
    let (_, preloaded) = doctor_on(&project, &[], cluster.password());
    assert_eq!(
        status(&preloaded, "pg_stat_statements"),
        "warn",
        "{preloaded}"
    );
    says(
        &preloaded,
        "pg_stat_statements",
        "evidence",
        "extension not created",
    );
    says(
        &preloaded,
        "pg_stat_statements",
        "fix",
        "CREATE EXTENSION IF NOT EXISTS pg_stat_statements;",
    );

    let mut conn = PgConnection::connect(project.url()).await.expect("connect");
    run_each(&mut conn, &[&create[0]]).await;
    let preload: String = sqlx::query_scalar("SHOW shared_preload_libraries")
        .fetch_one(&mut conn)
        .await
        .expect("show");
    assert_eq!(
        preload, "auto_explain, pg_stat_statements",
        "kept auto_explain"
    );
    let counted: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_stat_statements")
        .fetch_one(&mut conn)
        .await
        .expect("the view answers");
    assert!(counted > 0);
    conn.close().await.ok();
    let (_, fixed) = doctor_on(&project, &[], cluster.password());
    is(&fixed, "pg_stat_statements", "pass");
    remove(cluster).await;
}

/// `settings`: an untuned server warns against `pgready tune`'s advice for `--memory 2GB`;
/// after the statements `pgready tune --memory 2GB --live --alter-system` prints are run and
/// the server restarted (it marks `shared_buffers` as needing one), the check passes and
/// `tune --live` finds nothing left to change.
#[tokio::test]
async fn settings_warn_until_tunes_advice_is_applied() {
    let cluster = own_cluster("").await;
    let project = Project::with_url("doctor_settings", "", cluster.url("postgres"));
    let (_, untuned) = doctor_on(&project, &["--memory", "2GB"], cluster.password());
    assert_eq!(status(&untuned, "settings"), "warn", "{untuned}");
    says(
        &untuned,
        "settings",
        "evidence",
        "shared_buffers 128MB (advice 512MB)",
    );
    says(&untuned, "settings", "fix", "--live --alter-system");

    let tune = project.pgready(&["tune", "--memory", "2GB", "--live", "--alter-system"]);
    assert_eq!(
        tune.code, 1,
        "settings differ: {}{}",
        tune.stdout, tune.stderr
    );
    assert!(!tune.stdout.contains(cluster.password()));
    let statements: Vec<&str> = tune
        .stdout
        .lines()
        .filter(|l| l.starts_with("ALTER SYSTEM SET "))
        .map(|l| l.split_once(';').map_or(l, |(s, _)| s))
        .collect();
    assert!(
        statements
            .iter()
            .any(|s| s.contains("shared_buffers = '512MB'")),
        "{}",
        tune.stdout
    );
    assert!(tune.stdout.contains("needs a restart"), "{}", tune.stdout);
    let mut conn = PgConnection::connect(project.url()).await.expect("connect");
    run_each(&mut conn, &statements).await;
    conn.close().await.ok();
    let cluster = restart(cluster).await;

    let (_, tuned) = doctor_on(&project, &["--memory", "2GB"], cluster.password());
    is(&tuned, "settings", "pass");
    let again = project.pgready(&["tune", "--memory", "2GB", "--live", "--alter-system"]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    assert!(
        again.stdout.contains("match the advice"),
        "{}",
        again.stdout
    );
    remove(cluster).await;
}
