//! The admin side of a test process: one thread per server, with its own tokio runtime and a
//! few connections to the server's maintenance database, shared by every test of the process
//! (`cargo test` runs a crate's tests on threads, each with its own runtime; `cargo nextest`
//! runs one test per process). It builds the template, copies it for each test, marks a failed
//! test's database as kept, and drops passed tests' databases.
//!
//! A test hands its database over and returns; the drop runs here. When no other test of the
//! process holds a copy (tests running one after the other, or the last of a batch), the next
//! copy waits for the drops handed over before it. That order is deliberate: with `fsync` on,
//! `DROP DATABASE` forces a checkpoint, and a checkpoint writes and fsyncs every copy that
//! exists at that moment (a copy made with `CREATE DATABASE … TEMPLATE` sits in shared
//! buffers, ~400 files); a copy dropped before any checkpoint never reaches the disk. A drop
//! with a fresh copy beside it took ~60 ms on the development machine, against ~15 ms alone.
//! While other tests hold copies, those get written by the drop's checkpoint anyway, so copies
//! and drops then run side by side, each on its own connection.
//!
//! A drop first waits, polling every few milliseconds, for the test's sessions to end:
//! `DROP DATABASE` itself re-checks only every 100 ms, and the sessions are still closing when
//! the test hands its database over.

use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Condvar, Mutex, Once};
use std::time::{Duration, Instant};

use pgready_core::dsn;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Executor, Postgres};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::{names, template};
use crate::session::identifier as quote;
use crate::{Error, Setup};

/// Connections per process: copies and drops of tests running side by side.
const CONNECTIONS: u32 = 4;
/// How long a drop waits for the test's sessions to end before forcing them out.
const SESSIONS_GRACE: Duration = Duration::from_secs(2);
/// How often a drop asks whether the test's sessions have ended.
const SESSIONS_POLL: Duration = Duration::from_millis(2);
/// How long an exiting process waits for its queued drops to be sent.
const EXIT_WAIT: Duration = Duration::from_secs(3);
/// Advisory lock namespace (with `hashtext(name)`) claiming a database for dropping.
const CLAIM: i32 = 0x7067_7464;

/// What the admin thread needs to copy the template for one test.
pub(super) struct TemplateCopy {
    /// The test's setup, to build the template from when it is missing.
    pub setup: Setup,
    /// `[database] url_env`: where the template build's start-up reads its DSN.
    pub url_env: String,
    pub template: String,
    /// The new database.
    pub name: String,
    pub test_hash: String,
}

enum Request {
    Copy(Box<TemplateCopy>, std_mpsc::Sender<Result<(), Error>>),
    /// The template and the database transaction-mode tests share (`copy.name` unused).
    Shared(Box<TemplateCopy>, std_mpsc::Sender<Result<(), Error>>),
    Keep {
        name: String,
        comment: String,
        reply: std_mpsc::Sender<Result<(), Error>>,
    },
    Drop(String),
}

/// A handle on the admin thread of one server.
#[derive(Clone)]
pub(super) struct Admin {
    server: String,
    requests: mpsc::UnboundedSender<Request>,
    unsent: Arc<Unsent>,
}

/// Passed tests' databases whose `DROP DATABASE` has not been sent to the server yet.
#[derive(Default)]
struct Unsent {
    count: Mutex<usize>,
    changed: Condvar,
}

impl Unsent {
    fn add(&self) {
        if let Ok(mut count) = self.count.lock() {
            *count += 1;
        }
    }

    fn remove(&self) {
        if let Ok(mut count) = self.count.lock() {
            *count = count.saturating_sub(1);
        }
        self.changed.notify_all();
    }

    /// Waits until none is left, until `deadline` at the latest.
    fn wait(&self, deadline: Instant) {
        let Ok(mut count) = self.count.lock() else {
            return;
        };
        while *count > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            match self.changed.wait_timeout(count, left) {
                Ok((next, _)) => count = next,
                Err(_) => return,
            }
        }
    }
}

/// The admin threads of this process, one per server URL.
static ADMINS: Mutex<Vec<Admin>> = Mutex::new(Vec::new());
static AT_EXIT: Once = Once::new();

impl Admin {
    /// The admin thread for `server` (the maintenance database's DSN), started on first use.
    pub(super) fn of(server: &str) -> Result<Admin, Error> {
        let mut admins = ADMINS
            .lock()
            .map_err(|_| Error::Config("pgready::test: the admin registry is poisoned".into()))?;
        admins.retain(|a| !a.requests.is_closed());
        if let Some(admin) = admins.iter().find(|a| a.server == server) {
            return Ok(admin.clone());
        }
        AT_EXIT.call_once(|| {
            // SAFETY: registers a plain `extern "C" fn` that neither unwinds nor exits.
            unsafe {
                libc::atexit(send_drops_before_exit);
            }
        });
        let (requests, receiver) = mpsc::unbounded_channel();
        let unsent = Arc::new(Unsent::default());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Config(format!("pgready::test: cannot build a runtime: {e}")))?;
        let url = server.to_owned();
        let sent = Arc::clone(&unsent);
        std::thread::Builder::new()
            .name("pgready-test-admin".into())
            .spawn(move || runtime.block_on(serve(url, receiver, sent)))
            .map_err(|e| Error::Config(format!("pgready::test: cannot start a thread: {e}")))?;
        let admin = Admin {
            server: server.to_owned(),
            requests,
            unsent,
        };
        admins.push(admin.clone());
        Ok(admin)
    }

    /// Creates `copy.name` from the template (building the template first if needed), after
    /// the drops handed over before; blocks.
    pub(super) fn copy(&self, copy: TemplateCopy) -> Result<(), Error> {
        self.call(|reply| Request::Copy(Box::new(copy), reply))
    }

    /// Builds the template unless it exists, and the database transaction-mode tests share
    /// unless it exists; blocks.
    pub(super) fn ensure_shared(&self, copy: TemplateCopy) -> Result<(), Error> {
        self.call(|reply| Request::Shared(Box::new(copy), reply))
    }

    /// Marks `name` as kept with `comment`; blocks until the comment is committed.
    pub(super) fn keep(&self, name: &str, comment: String) -> Result<(), Error> {
        self.call(|reply| Request::Keep {
            name: name.to_owned(),
            comment,
            reply,
        })
    }

    /// Hands `name` over for dropping once its sessions have ended; returns at once.
    pub(super) fn drop_later(&self, name: String) {
        self.unsent.add();
        if self.requests.send(Request::Drop(name)).is_err() {
            // The admin thread is gone; a later test process drops the database.
            self.unsent.remove();
        }
    }

    fn call(
        &self,
        request: impl FnOnce(std_mpsc::Sender<Result<(), Error>>) -> Request,
    ) -> Result<(), Error> {
        let stopped = || Error::Config("pgready::test: the admin thread stopped".into());
        let (reply, answer) = std_mpsc::channel();
        self.requests.send(request(reply)).map_err(|_| stopped())?;
        answer.recv().map_err(|_| stopped())?
    }
}

/// Run by `exit`: the last passed test's database is usually still being handed over when a
/// process exits (under `cargo nextest`, which runs one test per process, always). Sending its
/// `DROP DATABASE` takes milliseconds; the server finishes it after the process is gone.
extern "C" fn send_drops_before_exit() {
    let _ = std::panic::catch_unwind(|| {
        let Ok(admins) = ADMINS.try_lock().map(|admins| admins.clone()) else {
            return;
        };
        let deadline = Instant::now() + EXIT_WAIT;
        for admin in &admins {
            admin.unsent.wait(deadline);
        }
    });
}

/// The admin thread's loop: prepares and orders requests here, runs copies, comments and drops
/// as tasks on the pool's connections.
async fn serve(
    server: String,
    mut requests: mpsc::UnboundedReceiver<Request>,
    unsent: Arc<Unsent>,
) {
    let pool = match admin_pool(&server) {
        Ok(pool) => pool,
        Err(e) => {
            let message = dsn::redact_in(&e.to_string(), &server);
            while let Some(request) = requests.recv().await {
                let error = Error::Dsn {
                    env: "the test server's URL".into(),
                    message: message.clone(),
                };
                match request {
                    Request::Copy(_, reply)
                    | Request::Shared(_, reply)
                    | Request::Keep { reply, .. } => {
                        let _ = reply.send(Err(error));
                    }
                    Request::Drop(_) => unsent.remove(),
                }
            }
            return;
        }
    };
    let (report_failed, failed_copies) = mpsc::unbounded_channel();
    let mut state = State {
        server,
        pool,
        unsent,
        prepared: Vec::new(),
        scanned: false,
        kept: Vec::new(),
        in_use: 0,
        drops: JoinSet::new(),
        others: JoinSet::new(),
        report_failed,
        failed_copies,
    };
    loop {
        tokio::select! {
            request = requests.recv() => match request {
                Some(request) => state.handle(request).await,
                None => break,
            },
            Some(()) = state.failed_copies.recv() => state.in_use -= 1,
            Some(_) = state.drops.join_next(), if !state.drops.is_empty() => {}
            Some(_) = state.others.join_next(), if !state.others.is_empty() => {}
        }
    }
}

fn admin_pool(server: &str) -> Result<PgPool, sqlx::Error> {
    let options: PgConnectOptions = server.parse()?;
    Ok(PgPoolOptions::new()
        .max_connections(CONNECTIONS)
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(|connection, _| {
            Box::pin(async move {
                // A drop sent just before the process exits must still finish: never cancel a
                // statement because its client has gone (PostgreSQL 14+ can be set up to).
                connection
                    .execute(
                        "SELECT set_config(name, '0', false) FROM pg_settings \
                         WHERE name = 'client_connection_check_interval'",
                    )
                    .await?;
                Ok(())
            })
        })
        .connect_lazy_with(options))
}

struct State {
    server: String,
    pool: PgPool,
    unsent: Arc<Unsent>,
    /// Templates this process has checked (or built).
    prepared: Vec<String>,
    /// Whether the server's test databases have been scanned for leftovers yet.
    scanned: bool,
    /// Databases kept after earlier failures, with their test hash: the test's next run
    /// replaces them.
    kept: Vec<(String, String)>,
    /// Copies handed to tests and not handed back yet.
    in_use: usize,
    drops: JoinSet<()>,
    /// Copies and comments.
    others: JoinSet<()>,
    /// A copy that failed is never handed back.
    report_failed: mpsc::UnboundedSender<()>,
    failed_copies: mpsc::UnboundedReceiver<()>,
}

impl State {
    async fn handle(&mut self, request: Request) {
        match request {
            Request::Copy(copy, reply) => {
                if self.in_use == 0 {
                    // Nothing else to overlap with: drop first, so no checkpoint writes the copy.
                    while self.drops.join_next().await.is_some() {}
                }
                let cached = match self.prepare(&copy).await {
                    Ok(cached) => cached,
                    Err(e) => {
                        let _ = reply.send(Err(e));
                        return;
                    }
                };
                self.in_use += 1;
                let (pool, server, failed) = (
                    self.pool.clone(),
                    self.server.clone(),
                    self.report_failed.clone(),
                );
                self.others.spawn(async move {
                    let created = create(&pool, &server, &copy, cached).await;
                    if created.is_err() {
                        let _ = failed.send(());
                    }
                    let _ = reply.send(created);
                });
            }
            Request::Shared(copy, reply) => {
                let (pool, server) = (self.pool.clone(), self.server.clone());
                self.others.spawn(async move {
                    let ensured = async {
                        let mut admin = acquire(&pool, &server).await?;
                        template::ensure_shared(
                            &mut admin,
                            &server,
                            &copy.setup,
                            &copy.url_env,
                            &copy.template,
                        )
                        .await
                    };
                    let _ = reply.send(ensured.await);
                });
            }
            Request::Keep {
                name,
                comment,
                reply,
            } => {
                self.in_use = self.in_use.saturating_sub(1);
                let (pool, server) = (self.pool.clone(), self.server.clone());
                self.others.spawn(async move {
                    let _ = reply.send(keep(&pool, &server, &name, &comment).await);
                });
            }
            Request::Drop(name) => {
                self.in_use = self.in_use.saturating_sub(1);
                let handed_over = HandedOver(Some(Arc::clone(&self.unsent)));
                let (pool, server) = (self.pool.clone(), self.server.clone());
                self.drops
                    .spawn(async move { drop_logged(&pool, &server, &name, handed_over).await });
            }
        }
    }

    /// Checks (or builds) the template, the first time for this process, and drops what must
    /// go before the copy: leftovers of exited processes (on the first copy) and the test's
    /// databases kept after earlier failures. Returns whether the template had been checked
    /// before.
    async fn prepare(&mut self, copy: &TemplateCopy) -> Result<bool, Error> {
        let cached = self.prepared.contains(&copy.template);
        let mut admin = acquire(&self.pool, &self.server).await?;
        if !cached {
            template::ensure(
                &mut admin,
                &self.server,
                &copy.setup,
                &copy.url_env,
                &copy.template,
            )
            .await?;
            self.prepared.push(copy.template.clone());
        }
        let mut before_copy = Vec::new();
        if !self.scanned {
            for listed in names::list(&mut admin).await? {
                if listed.kept {
                    self.kept.push((listed.name, listed.test_hash));
                } else if listed.orphaned() {
                    before_copy.push(listed.name);
                }
            }
            self.scanned = true;
        }
        let (replaced, kept) = std::mem::take(&mut self.kept)
            .into_iter()
            .partition(|(_, hash)| *hash == copy.test_hash);
        self.kept = kept;
        before_copy.extend(replaced.into_iter().map(|(name, _)| name));
        drop(admin);
        for name in before_copy {
            drop_logged(&self.pool, &self.server, &name, HandedOver(None)).await;
        }
        Ok(cached)
    }
}

async fn create(
    pool: &PgPool,
    server: &str,
    copy: &TemplateCopy,
    cached: bool,
) -> Result<(), Error> {
    let mut admin = acquire(pool, server).await?;
    let statement = format!(
        "CREATE DATABASE {} TEMPLATE {}",
        quote(&copy.name),
        quote(&copy.template)
    );
    match admin.execute(AssertSqlSafe(statement.clone())).await {
        Ok(_) => Ok(()),
        // Another process replaced the template (a migration was edited meanwhile).
        Err(_) if cached => {
            template::ensure(
                &mut admin,
                server,
                &copy.setup,
                &copy.url_env,
                &copy.template,
            )
            .await?;
            admin.execute(AssertSqlSafe(statement)).await?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

async fn keep(pool: &PgPool, server: &str, name: &str, comment: &str) -> Result<(), Error> {
    acquire(pool, server)
        .await?
        .execute(AssertSqlSafe(format!(
            "COMMENT ON DATABASE {} IS {}",
            quote(name),
            crate::session::literal(comment)
        )))
        .await?;
    Ok(())
}

async fn drop_logged(pool: &PgPool, server: &str, name: &str, handed_over: HandedOver) {
    if let Err(e) = drop_unused(pool, server, name, handed_over).await {
        // Its owner (this process) is gone by the time a later test process looks, so that
        // one drops it.
        let e = dsn::redact_in(&e.to_string(), server);
        tracing::warn!(database = %name, "pgready::test: cannot drop a test database: {e}");
    }
}

/// Drops `name` once no session uses it (or, after a grace period, forcing them out), unless
/// another process is dropping it already.
async fn drop_unused(
    pool: &PgPool,
    server: &str,
    name: &str,
    mut handed_over: HandedOver,
) -> Result<(), Error> {
    let mut admin = acquire(pool, server).await?;
    // Held by this session until it ends, even if this process exits first: a leftover whose
    // drop is still running is not dropped twice.
    let claimed: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext($2))")
        .bind(CLAIM)
        .bind(name)
        .fetch_one(&mut *admin)
        .await?;
    if !claimed {
        return Ok(());
    }
    let deadline = Instant::now() + SESSIONS_GRACE;
    while Instant::now() < deadline {
        let in_use: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = $1)")
                .bind(name)
                .fetch_one(&mut *admin)
                .await?;
        if !in_use {
            break;
        }
        tokio::time::sleep(SESSIONS_POLL).await;
    }
    let statement = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote(name));
    let dropped = {
        let mut running = std::pin::pin!(admin.execute(AssertSqlSafe(statement)));
        // sqlx writes and flushes the statement in its first poll (the connection is idle),
        // so from then on the server finishes the drop even if this process exits.
        std::future::poll_fn(|cx| {
            let poll = running.as_mut().poll(cx);
            handed_over.sent();
            poll
        })
        .await
    };
    sqlx::query("SELECT pg_advisory_unlock($1, hashtext($2))")
        .bind(CLAIM)
        .bind(name)
        .execute(&mut *admin)
        .await?;
    dropped?;
    Ok(())
}

async fn acquire(pool: &PgPool, server: &str) -> Result<PoolConnection<Postgres>, Error> {
    pool.acquire().await.map_err(|e| Error::Connect {
        target: dsn::redact(server),
        attempts: 1,
        elapsed: Duration::ZERO,
        message: dsn::redact_in(&crate::error::describe(&e), server),
    })
}

/// Counts a handed-over database as sent once its `DROP DATABASE` is on its way to the server,
/// or once there will be none (it failed, or another process is dropping it).
struct HandedOver(Option<Arc<Unsent>>);

impl HandedOver {
    fn sent(&mut self) {
        if let Some(unsent) = self.0.take() {
            unsent.remove();
        }
    }
}

impl Drop for HandedOver {
    fn drop(&mut self) {
        self.sent();
    }
}
