//! Beyond one machine, on loopback: a primary, its streaming replica (`pg_basebackup -R`) and
//! a PgBouncer in transaction pooling in front of the primary, all started by pgready's own
//! embedded-cluster code (as an unprivileged OS user when run as root).
//!
//! One topology per test binary, started by the first test that asks for it and stopped when
//! the process exits. Tests that use it take turns: [`topology`] hands out exclusive access,
//! and first puts back whatever the previous test broke (a stopped or frozen server, paused
//! replay, a promoted replica), so each test starts from a healthy primary, replica and
//! PgBouncer.

use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use pgready::embedded::{Bouncer, Cluster, PoolMode};
use sqlx::{Connection, Executor, PgConnection};

/// PgBouncer's `default_pool_size`: fewer server connections than the tests' pools have
/// clients, so clients really share server connections.
pub const BOUNCER_POOL_SIZE: u32 = 8;

/// One server process of the topology, shared with the blocking tasks that start and stop it.
pub struct Node<T>(Arc<Mutex<T>>);

impl<T: Send + 'static> Node<T> {
    fn new(inner: T) -> Node<T> {
        Node(Arc::new(Mutex::new(inner)))
    }

    /// The node, for a quick look (its port, a DSN).
    pub fn get(&self) -> MutexGuard<'_, T> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` (which blocks: `pg_ctl`, signals, waits) on a blocking thread, so the test's
    /// runtime, and the service's background tasks on it, keep running meanwhile.
    pub async fn with<R: Send + 'static>(&self, f: impl FnOnce(&mut T) -> R + Send + 'static) -> R {
        let node = Arc::clone(&self.0);
        tokio::task::spawn_blocking(move || {
            f(&mut node.lock().unwrap_or_else(PoisonError::into_inner))
        })
        .await
        .expect("a blocking topology task panicked")
    }
}

impl Node<Cluster> {
    /// `pg_ctl stop -m fast`.
    pub async fn stop(&self) {
        self.with(|c| c.stop().expect("stop the server")).await;
    }

    /// `pg_ctl start` (again, on the same port).
    pub async fn start(&self) {
        self.with(|c| c.start().expect("start the server")).await;
    }

    /// `SIGSTOP` to the whole server: it hangs.
    pub async fn pause(&self) {
        self.with(|c| c.pause()).await;
    }

    /// `SIGCONT`.
    pub async fn resume(&self) {
        self.with(|c| c.resume()).await;
    }

    /// `pg_ctl promote`: the replica becomes a primary.
    pub async fn promote(&self) {
        self.with(|c| c.promote().expect("promote the replica"))
            .await;
    }

    /// The server's DSN for `database`.
    pub fn url(&self, database: &str) -> String {
        self.get().url(database)
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.get().port()
    }
}

impl Node<Bouncer> {
    /// Stops PgBouncer (`SIGTERM`).
    pub async fn stop(&self) {
        self.with(|b| b.stop().expect("stop PgBouncer")).await;
    }

    /// Starts PgBouncer again.
    pub async fn restart(&self) {
        self.with(|b| b.restart().expect("restart PgBouncer")).await;
    }

    /// `SIGSTOP`.
    pub async fn pause(&self) {
        self.with(|b| b.pause()).await;
    }

    /// `SIGCONT`.
    pub async fn resume(&self) {
        self.with(|b| b.resume()).await;
    }

    /// The DSN of `database` through PgBouncer.
    pub fn url(&self, database: &str) -> String {
        self.get().url(database)
    }
}

/// The primary, its replica and PgBouncer in front of the primary.
pub struct Topology {
    /// The primary.
    pub primary: Node<Cluster>,
    /// A streaming replica of the primary, with a slot of its own.
    pub replica: Node<Cluster>,
    /// PgBouncer in transaction pooling in front of the primary,
    /// [`BOUNCER_POOL_SIZE`] server connections per database.
    pub bouncer: Node<Bouncer>,
    /// Set by [`Topology::promote_replica`]: the replica must be made again.
    promoted: bool,
}

/// Where the replica stands, seen from both ends.
#[derive(Clone, Debug)]
pub struct Lag {
    /// `pg_stat_replication.state` on the primary (`streaming` when connected).
    pub state: Option<String>,
    /// WAL sent but not replayed yet, in bytes (`pg_wal_lsn_diff(sent_lsn, replay_lsn)`).
    pub bytes: Option<i64>,
    /// `now() - pg_last_xact_replay_timestamp()` on the replica: how old the newest replayed
    /// transaction is (grows while nothing is written, too).
    pub replay_age: Option<Duration>,
    /// `pg_is_wal_replay_paused()` on the replica.
    pub replay_paused: bool,
}

/// Exclusive use of the test binary's topology; the next test gets it once this is dropped.
pub struct TopologyGuard(tokio::sync::OwnedMutexGuard<Option<Topology>>);

impl std::ops::Deref for TopologyGuard {
    type Target = Topology;

    fn deref(&self) -> &Topology {
        self.0
            .as_ref()
            .expect("the topology is started before it is handed out")
    }
}

impl std::ops::DerefMut for TopologyGuard {
    fn deref_mut(&mut self) -> &mut Topology {
        self.0
            .as_mut()
            .expect("the topology is started before it is handed out")
    }
}

static TOPOLOGY: LazyLock<Arc<tokio::sync::Mutex<Option<Topology>>>> =
    LazyLock::new(|| Arc::new(tokio::sync::Mutex::new(None)));

/// The test binary's topology, started on first use and healed before it is handed out;
/// other tests wait until the guard is dropped.
pub async fn topology() -> TopologyGuard {
    let mut slot = Arc::clone(&TOPOLOGY).lock_owned().await;
    let healthy = match slot.take() {
        None => {
            let started = Instant::now();
            let topology = tokio::task::spawn_blocking(Topology::start)
                .await
                .expect("the topology start-up task panicked");
            eprintln!(
                "topology: primary, replica and PgBouncer started in {:?}",
                started.elapsed()
            );
            // SAFETY: `stop_at_exit` is an `extern "C"` function that never unwinds.
            unsafe { libc::atexit(stop_at_exit) };
            topology
        }
        Some(topology) => topology.heal().await,
    };
    *slot = Some(healthy);
    TopologyGuard(slot)
}

/// Stops the servers and removes their directories when the test binary exits.
extern "C" fn stop_at_exit() {
    let _ = std::panic::catch_unwind(|| {
        if let Ok(mut slot) = TOPOLOGY.try_lock() {
            drop(slot.take());
        }
    });
}

impl Topology {
    fn start() -> Topology {
        let mut primary = Cluster::init().unwrap_or_else(|e| panic!("create the primary: {e}"));
        primary
            .start()
            .unwrap_or_else(|e| panic!("start the primary: {e}"));
        let replica =
            Cluster::replica_of(&primary).unwrap_or_else(|e| panic!("make the replica: {e}"));
        let bouncer = Bouncer::start(&primary, PoolMode::Transaction, BOUNCER_POOL_SIZE)
            .unwrap_or_else(|e| panic!("start PgBouncer: {e}"));
        Topology {
            primary: Node::new(primary),
            replica: Node::new(replica),
            bouncer: Node::new(bouncer),
            promoted: false,
        }
    }

    /// Puts back what a test left broken: every process running and answering, the replica a
    /// replica again, replaying and caught up.
    async fn heal(self) -> Topology {
        let mut topology = self;
        topology
            .primary
            .with(|c| {
                c.resume();
                c.start().expect("restart the primary");
            })
            .await;
        if topology.promoted {
            // The old replica is a primary of its own now: make a new one.
            let primary = Arc::clone(&topology.primary.0);
            let replica = tokio::task::spawn_blocking(move || {
                Cluster::replica_of(&primary.lock().unwrap_or_else(PoisonError::into_inner))
                    .expect("make a new replica")
            })
            .await
            .expect("the replica task panicked");
            let old = std::mem::replace(&mut topology.replica, Node::new(replica));
            tokio::task::spawn_blocking(move || drop(old)).await.ok();
            topology.promoted = false;
        }
        topology
            .replica
            .with(|c| {
                c.resume();
                c.start().expect("restart the replica");
            })
            .await;
        topology
            .bouncer
            .with(|b| {
                b.resume();
                b.restart().expect("restart PgBouncer");
            })
            .await;
        let mut replica = PgConnection::connect(&topology.replica.url("postgres"))
            .await
            .expect("connect to the replica");
        replica
            .execute("SELECT pg_wal_replay_resume()")
            .await
            .expect("resume replay");
        replica.close().await.ok();
        topology.caught_up(Duration::from_secs(30)).await;
        topology
    }

    /// Promotes the replica (a failover); the next [`topology`] makes a new one.
    pub async fn promote_replica(&mut self) {
        self.promoted = true;
        self.replica.promote().await;
    }

    /// Creates an empty database named after `label` on the primary and waits until the
    /// replica has it too; returns its name (for [`Node::url`]).
    pub async fn fresh_database(&self, label: &str) -> String {
        use std::sync::atomic::{AtomicU32, Ordering};
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!("topo_{label}_{}", COUNTER.fetch_add(1, Ordering::Relaxed));
        let mut admin = PgConnection::connect(&self.primary.url("postgres"))
            .await
            .expect("connect to the primary");
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .await
            .expect("create a database");
        admin.close().await.ok();
        self.caught_up(Duration::from_secs(30)).await;
        name
    }

    /// The replica's lag, from the primary's `pg_stat_replication` and the replica's replay
    /// position. Fields the two servers do not answer (one is down) are `None`.
    pub async fn lag(&self) -> Lag {
        let mut lag = Lag {
            state: None,
            bytes: None,
            replay_age: None,
            replay_paused: false,
        };
        if let Ok(mut primary) = PgConnection::connect(&self.primary.url("postgres")).await {
            let row: Option<(String, Option<i64>)> = sqlx::query_as(
                "SELECT state, pg_wal_lsn_diff(sent_lsn, replay_lsn)::bigint \
                 FROM pg_stat_replication LIMIT 1",
            )
            .persistent(false)
            .fetch_optional(&mut primary)
            .await
            .ok()
            .flatten();
            if let Some((state, bytes)) = row {
                lag.state = Some(state);
                lag.bytes = bytes;
            }
            primary.close().await.ok();
        }
        if let Ok(mut replica) = PgConnection::connect(&self.replica.url("postgres")).await {
            let row: Option<(Option<f64>, bool)> = sqlx::query_as(
                "SELECT extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8, \
                 pg_is_in_recovery() AND pg_is_wal_replay_paused()",
            )
            .persistent(false)
            .fetch_one(&mut replica)
            .await
            .ok();
            if let Some((age, paused)) = row {
                lag.replay_age = age.map(|s| Duration::from_secs_f64(s.max(0.0)));
                lag.replay_paused = paused;
            }
            replica.close().await.ok();
        }
        lag
    }

    /// Waits until the replica has replayed everything the primary has written so far.
    pub async fn caught_up(&self, bound: Duration) {
        let started = Instant::now();
        let mut primary = PgConnection::connect(&self.primary.url("postgres"))
            .await
            .expect("connect to the primary");
        let target: String = sqlx::query_scalar("SELECT pg_current_wal_lsn()::text")
            .persistent(false)
            .fetch_one(&mut primary)
            .await
            .expect("read the primary's WAL position");
        primary.close().await.ok();
        let mut replica = PgConnection::connect(&self.replica.url("postgres"))
            .await
            .expect("connect to the replica");
        loop {
            let behind: bool = sqlx::query_scalar("SELECT pg_last_wal_replay_lsn() < $1::pg_lsn")
                .bind(&target)
                .persistent(false)
                .fetch_one(&mut replica)
                .await
                .expect("read the replica's replay position");
            if !behind {
                break;
            }
            assert!(
                started.elapsed() < bound,
                "the replica did not replay up to {target} within {bound:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        replica.close().await.ok();
    }

    /// Stops the replica's replay (`pg_wal_replay_pause()`): it keeps receiving WAL and
    /// answering reads, and falls behind. [`Topology::resume_replay`] (or the next
    /// [`topology`]) resumes it.
    pub async fn pause_replay(&self) {
        self.replica_sql("SELECT pg_wal_replay_pause()").await;
    }

    /// `pg_wal_replay_resume()`.
    pub async fn resume_replay(&self) {
        self.replica_sql("SELECT pg_wal_replay_resume()").await;
    }

    async fn replica_sql(&self, sql: &'static str) {
        let mut replica = PgConnection::connect(&self.replica.url("postgres"))
            .await
            .expect("connect to the replica");
        replica.execute(sql).await.expect(sql);
        replica.close().await.ok();
    }
}
