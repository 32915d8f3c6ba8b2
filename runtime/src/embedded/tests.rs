//! Clusters started for real from the machine's PostgreSQL binaries.
//!
//! Tests that need another process re-run this test binary with one `#[ignore]`d child test
//! selected and `PGREADY_EMBEDDED_TEST_CHILD` set.

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use sqlx::{Connection, PgConnection};

use super::ctl::{Ctl, StopMode};
use super::postmaster;
use super::{Cluster, EmbeddedError};

const CHILD_ENV: &str = "PGREADY_EMBEDDED_TEST_CHILD";

/// A fresh parent directory for one test's clusters, so stale-cluster cleanup by other tests
/// cannot interfere. On drop (also when the test fails) every server under it is stopped and
/// the directory removed.
struct TestDir(PathBuf);

impl TestDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "pgready-embedded-test-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        Self(dir)
    }
}

impl std::ops::Deref for TestDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TestDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let clusters = std::fs::read_dir(&self.0).into_iter().flatten().flatten();
        if let Ok(ctl) = Ctl::discover() {
            for cluster in clusters {
                let root = cluster.path();
                let stopped = ctl.stop(
                    &root,
                    &root.join("data"),
                    StopMode::Immediate,
                    Duration::from_secs(10),
                );
                if let Err(error) = stopped {
                    eprintln!("{error}");
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// This test binary, running only the child test `name`.
fn child(name: &str) -> Command {
    let module = module_path!();
    let module = module.split_once("::").map_or(module, |(_, rest)| rest);
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.args([
        &format!("{module}::{name}"),
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    command
}

/// The `key=value` pairs a child printed on its `pgready-child` line.
fn child_report(output: &std::process::Output) -> Vec<(String, String)> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|line| line.split_once("pgready-child ").map(|(_, report)| report))
        .unwrap_or_else(|| panic!("child printed no report: {stdout}"));
    line.split_whitespace()
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn field<T: std::str::FromStr>(report: &[(String, String)], key: &str) -> T {
    let value = &report.iter().find(|(k, _)| k == key).unwrap().1;
    value.parse().ok().unwrap()
}

fn wait_until_dead(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while postmaster::process_alive(pid) {
        assert!(Instant::now() < deadline, "process {pid} still alive");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The real uid of a process.
fn uid_of(pid: u32) -> u32 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn euid() -> u32 {
    // SAFETY: no memory involved.
    unsafe { libc::geteuid() }
}

async fn current_user(url: &str) -> String {
    let mut conn = PgConnection::connect(url).await.unwrap();
    let (user,): (String,) = sqlx::query_as("SELECT current_user::text")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    user
}

#[tokio::test]
async fn temporary_cluster_serves_sql_as_an_unprivileged_user_and_vanishes_on_drop() {
    let cluster = Cluster::start_temporary().unwrap();
    assert!(cluster.is_running());

    let mut conn = PgConnection::connect(&cluster.url("postgres"))
        .await
        .unwrap();
    let (user, version): (String, String) = sqlx::query_as("SELECT current_user::text, version()")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(user, "pgready");
    assert!(version.starts_with("PostgreSQL "), "{version}");
    let (listen, max_connections, fsync, socket_dir, encoding): (
        String,
        String,
        String,
        String,
        String,
    ) = sqlx::query_as(
        "SELECT current_setting('listen_addresses'), current_setting('max_connections'), \
             current_setting('fsync'), current_setting('unix_socket_directories'), \
             current_setting('server_encoding')",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(listen, "127.0.0.1");
    assert_eq!(max_connections, "300");
    assert_eq!(fsync, "on");
    assert_eq!(Path::new(&socket_dir), cluster.data_dir());
    assert_eq!(encoding, "UTF8");
    assert!(
        cluster
            .data_dir()
            .join(format!(".s.PGSQL.{}", cluster.port()))
            .exists()
    );
    conn.close().await.unwrap();

    // TCP logins need the password.
    let wrong = cluster
        .url("postgres")
        .replace(cluster.password(), "not-the-password");
    assert!(PgConnection::connect(&wrong).await.is_err());
    assert!(!format!("{cluster:?}").contains(cluster.password()));

    let pid = cluster.postmaster_pid().unwrap();
    if euid() == 0 {
        assert_ne!(uid_of(pid), 0, "the server must not run as root");
    } else {
        assert_eq!(uid_of(pid), euid());
    }

    let root = cluster.data_dir().parent().unwrap().to_path_buf();
    assert!(root.starts_with(std::env::temp_dir()));
    drop(cluster);
    assert!(!postmaster::process_alive(pid), "drop must stop the server");
    assert!(!root.exists(), "drop must remove {}", root.display());
}

#[tokio::test]
async fn stop_then_start_keeps_port_and_data() {
    let parent = TestDir::new("restart");
    let mut cluster = Cluster::init_in(&parent).unwrap();
    assert!(!cluster.is_running(), "init must not start the server");
    assert_eq!(cluster.postmaster_pid(), None);

    cluster.start().unwrap();
    let port = cluster.port();
    let mut conn = PgConnection::connect(&cluster.url("postgres"))
        .await
        .unwrap();
    sqlx::raw_sql("CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();

    cluster.stop().unwrap();
    assert!(!cluster.is_running());
    assert_eq!(cluster.postmaster_pid(), None);
    assert!(!postmaster::port_answers(port));
    cluster.stop().unwrap(); // stopping a stopped cluster is fine

    cluster.start().unwrap();
    assert_eq!(cluster.port(), port);
    let mut conn = PgConnection::connect(&cluster.url("postgres"))
        .await
        .unwrap();
    let (v,): (i32,) = sqlx::query_as("SELECT v FROM kept")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(v, 42);
    conn.close().await.unwrap();
    drop(cluster);
}

#[tokio::test]
async fn start_moves_to_another_port_when_its_port_was_taken() {
    let parent = TestDir::new("port-taken");
    let mut cluster = Cluster::init_in(&parent).unwrap();
    cluster.start().unwrap();
    let old = cluster.port();
    cluster.stop().unwrap();

    let squatter = TcpListener::bind((Ipv4Addr::LOCALHOST, old)).unwrap();
    cluster.start().unwrap();
    let new = cluster.port();
    assert_ne!(new, old);
    assert_eq!(current_user(&cluster.url("postgres")).await, "pgready");
    drop(squatter);

    // The new port is the cluster's port from now on.
    cluster.stop().unwrap();
    cluster.start().unwrap();
    assert_eq!(cluster.port(), new);
    drop(cluster);
}

#[test]
fn dropping_a_frozen_server_still_stops_it() {
    let parent = TestDir::new("frozen");
    let mut cluster = Cluster::init_in(&parent).unwrap();
    cluster.start().unwrap();
    let pid = cluster.postmaster_pid().unwrap();
    postmaster::signal(pid, libc::SIGSTOP);
    let root = cluster.data_dir().parent().unwrap().to_path_buf();
    drop(cluster);
    assert!(!postmaster::process_alive(pid));
    assert!(!root.exists());
}

#[test]
fn failed_start_reports_the_server_log() {
    let parent = TestDir::new("bad-config");
    let mut cluster = Cluster::init_in(&parent).unwrap();
    let auto_conf = cluster.data_dir().join("postgresql.auto.conf");
    let mut text = std::fs::read_to_string(&auto_conf).unwrap();
    text.push_str("shared_buffers = 'banana'\n");
    std::fs::write(&auto_conf, text).unwrap();

    let err = cluster.start().unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, EmbeddedError::Start { .. }), "{message}");
    assert!(message.contains("banana"), "log tail missing: {message}");
    assert!(message.contains("server.log"), "{message}");
    assert!(!message.contains(cluster.password()));
    assert!(!cluster.is_running());
    drop(cluster);
}

#[tokio::test]
async fn shared_cluster_serves_eight_processes_from_one_server_and_survives_a_crash() {
    let parent = TestDir::new("shared");
    let dir = parent.join("cluster");
    let children: Vec<_> = (0..8)
        .map(|_| {
            child("child_uses_shared_cluster")
                .env(CHILD_ENV, &dir)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let reports: Vec<(u16, u32)> = children
        .into_iter()
        .map(|c| {
            let report = child_report(&c.wait_with_output().unwrap());
            (field(&report, "port"), field(&report, "pid"))
        })
        .collect();
    let (port, pid) = reports[0];
    assert!(reports.iter().all(|r| *r == (port, pid)), "{reports:?}");

    let cluster = Cluster::shared(&dir).unwrap();
    assert_eq!(
        (cluster.port(), cluster.postmaster_pid()),
        (port, Some(pid))
    );
    let log = std::fs::read_to_string(cluster.log_file()).unwrap();
    assert_eq!(
        log.matches("database system is ready to accept connections")
            .count(),
        1,
        "exactly one server start expected:\n{log}"
    );
    assert_eq!(current_user(&cluster.url("postgres")).await, "pgready");
    drop(cluster);
    assert!(
        postmaster::process_alive(pid),
        "a shared cluster is not stopped on drop"
    );

    // A crash leaves a stale postmaster.pid behind; the next caller starts the server again.
    postmaster::signal(pid, libc::SIGKILL);
    wait_until_dead(pid);
    let mut cluster = Cluster::shared(&dir).unwrap();
    let restarted = cluster.postmaster_pid().unwrap();
    assert_ne!(restarted, pid);
    assert_eq!(current_user(&cluster.url("postgres")).await, "pgready");

    cluster.stop().unwrap();
    assert!(!postmaster::process_alive(restarted));
}

#[test]
#[ignore = "child process of shared_cluster_serves_eight_processes_…"]
fn child_uses_shared_cluster() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let cluster = Cluster::shared(Path::new(&dir)).unwrap();
    println!(
        "pgready-child port={} pid={}",
        cluster.port(),
        cluster.postmaster_pid().unwrap()
    );
}

#[test]
fn shared_refuses_a_directory_holding_other_files() {
    let parent = TestDir::new("foreign");
    std::fs::create_dir_all(&parent).unwrap();
    std::fs::write(parent.join("notes.txt"), "mine").unwrap();
    let err = Cluster::shared(&parent).unwrap_err();
    assert!(matches!(err, EmbeddedError::NotACluster { .. }), "{err}");
    assert!(parent.join("notes.txt").exists());
    assert!(!parent.join("data").exists());
    assert!(
        !parent.join("pgready.lock").exists(),
        "the directory must be left as it was"
    );
}

#[test]
fn shared_recreates_a_cluster_whose_creation_was_interrupted() {
    let parent = TestDir::new("half-created");
    let dir = parent.join("cluster");
    // What a process killed during initdb leaves: the marked lock file and a partial PGDATA.
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(dir.join("pgready.lock"), "pgready shared cluster\n").unwrap();
    std::fs::write(dir.join("data").join("PG_VERSION"), "15\n").unwrap();

    let mut cluster = Cluster::shared(&dir).unwrap();
    assert!(cluster.is_running());
    assert!(cluster.data_dir().join("postgresql.conf").exists());
    cluster.stop().unwrap();
}

#[test]
fn cluster_of_a_dead_owner_is_stopped_and_removed_by_the_next_init() {
    let parent = TestDir::new("stale");
    let mine = Cluster::init_in(&parent).unwrap();

    let output = child("child_leaves_cluster_behind")
        .env(CHILD_ENV, parent.as_os_str())
        .output()
        .unwrap();
    let report = child_report(&output);
    let orphan: PathBuf = field(&report, "root");
    let orphan_pid: u32 = field(&report, "pid");
    let orphan_bouncer: u32 = field(&report, "bouncer");
    assert!(postmaster::process_alive(orphan_bouncer));
    assert!(orphan.exists());
    assert!(
        postmaster::process_alive(orphan_pid),
        "the orphan should still run"
    );

    let fresh = Cluster::init_in(&parent).unwrap();
    assert!(!orphan.exists(), "stale cluster not removed");
    assert!(
        !postmaster::process_alive(orphan_pid),
        "stale server not stopped"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while postmaster::process_alive(orphan_bouncer) {
        assert!(Instant::now() < deadline, "stale PgBouncer not stopped");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        mine.data_dir().exists(),
        "a live owner's cluster must be kept"
    );
    drop((mine, fresh));
    assert_eq!(std::fs::read_dir(&parent).unwrap().count(), 0);
}

#[test]
#[ignore = "child process of cluster_of_a_dead_owner_is_stopped_and_removed_…"]
fn child_leaves_cluster_behind() {
    let Some(parent) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let mut cluster = Cluster::init_in(Path::new(&parent)).unwrap();
    cluster.start().unwrap();
    let bouncer = super::Bouncer::start(&cluster, super::PoolMode::Transaction, 1).unwrap();
    println!(
        "pgready-child root={} pid={} bouncer={}",
        cluster.data_dir().parent().unwrap().display(),
        cluster.postmaster_pid().unwrap(),
        bouncer.pid().unwrap()
    );
    // Exits without running destructors, as a crash or `process::exit` would.
    std::process::exit(0);
}

async fn scalar_i64(url: &str, sql: &'static str) -> Result<i64, sqlx::Error> {
    let mut conn = PgConnection::connect(url).await?;
    let value: i64 = sqlx::query_scalar(sql).fetch_one(&mut conn).await?;
    conn.close().await?;
    Ok(value)
}

#[tokio::test]
async fn replica_streams_from_its_primary_freezes_and_is_promoted() {
    let parent = TestDir::new("replica");
    let primary = {
        let mut primary = Cluster::init_in(&parent).unwrap();
        primary.start().unwrap();
        primary
    };
    let mut replica = Cluster::replica_of(&primary).unwrap();
    assert_ne!(replica.port(), primary.port());
    assert!(replica.is_running());
    let mut conn = PgConnection::connect(&primary.url("postgres"))
        .await
        .unwrap();
    sqlx::raw_sql("CREATE TABLE t (n int); INSERT INTO t VALUES (1), (2)")
        .execute(&mut conn)
        .await
        .unwrap();
    let streaming: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(streaming, 1);
    conn.close().await.unwrap();
    let replica_url = replica.url("postgres");
    let deadline = Instant::now() + Duration::from_secs(10);
    while scalar_i64(&replica_url, "SELECT count(*) FROM t")
        .await
        .ok()
        != Some(2)
    {
        assert!(Instant::now() < deadline, "the replica never saw the rows");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        scalar_i64(&replica_url, "SELECT pg_is_in_recovery()::int::bigint")
            .await
            .unwrap(),
        1
    );

    // Frozen: a connection attempt hangs instead of being refused.
    replica.pause();
    assert!(replica.is_paused());
    let hung = tokio::time::timeout(
        Duration::from_millis(300),
        scalar_i64(&replica_url, "SELECT 1::bigint"),
    )
    .await;
    assert!(hung.is_err(), "a paused server answered: {hung:?}");
    replica.resume();
    assert!(!replica.is_paused());
    assert_eq!(
        scalar_i64(&replica_url, "SELECT 1::bigint").await.unwrap(),
        1
    );

    let replica = tokio::task::spawn_blocking(move || {
        replica.promote().unwrap();
        replica
    })
    .await
    .unwrap();
    assert_eq!(
        scalar_i64(&replica_url, "SELECT pg_is_in_recovery()::int::bigint")
            .await
            .unwrap(),
        0
    );
    let root = replica.data_dir().parent().unwrap().to_path_buf();
    drop(replica);
    assert!(!root.exists());
}

#[tokio::test]
async fn bouncer_pools_transactions_in_front_of_a_cluster() {
    let parent = TestDir::new("bouncer");
    let mut cluster = Cluster::init_in(&parent).unwrap();
    cluster.start().unwrap();
    let mut bouncer = super::Bouncer::start(&cluster, super::PoolMode::Transaction, 2).unwrap();
    let pid = bouncer.pid().unwrap();
    if euid() == 0 {
        assert_ne!(uid_of(pid), 0, "PgBouncer runs as root");
    }
    let url = bouncer.url("postgres");
    assert_eq!(scalar_i64(&url, "SELECT 41::bigint + 1").await.unwrap(), 42);
    // The admin console answers for PgBouncer itself.
    let mut admin = PgConnection::connect(&bouncer.admin_url()).await.unwrap();
    let rows = sqlx::raw_sql("SHOW CONFIG")
        .fetch_all(&mut admin)
        .await
        .unwrap();
    let mode = rows.iter().find_map(|row| {
        use sqlx::Row as _;
        (row.get::<String, _>(0) == "pool_mode").then(|| row.get::<String, _>(1))
    });
    assert_eq!(mode.as_deref(), Some("transaction"));
    drop(admin);

    bouncer.stop().unwrap();
    assert!(!postmaster::process_alive(pid));
    assert!(scalar_i64(&url, "SELECT 1::bigint").await.is_err());
    bouncer.restart().unwrap();
    assert_eq!(
        scalar_i64(&bouncer.url("postgres"), "SELECT 1::bigint")
            .await
            .unwrap(),
        1
    );
    let root = bouncer.log_file().parent().unwrap().to_path_buf();
    let pid = bouncer.pid().unwrap();
    drop(bouncer);
    assert!(!postmaster::process_alive(pid));
    assert!(!root.exists());
}
