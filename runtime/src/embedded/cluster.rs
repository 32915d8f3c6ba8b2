//! A PostgreSQL cluster on loopback: created, started, stopped and removed by pgready.
//!
//! Layout of a cluster directory (`root`):
//!
//! ```text
//! root/
//!   owner          temporary clusters: `<pid> <start time>` of the owning process
//!   pgready.lock   shared clusters: held (flock) while one process creates or starts it
//!   password       the superuser's password (mode 0600)
//!   data/          PGDATA: pgready.conf, server.log and the Unix socket live here too
//! ```

use std::fmt;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::os::unix::fs::{
    DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _,
};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::EmbeddedError;
use super::cleanup;
use super::ctl::{self, Ctl, SUPERUSER, StopMode};
use super::postmaster::{self, PidFile};
use super::random;
use super::settings::{self, Durability};

const DATA_DIR: &str = "data";
const PASSWORD_FILE: &str = "password";
const LOCK_FILE: &str = "pgready.lock";
/// Written into the lock file when a shared cluster is first created there: it tells a
/// pgready directory (possibly half-created) from someone else's.
const LOCK_MARKER: &str = "pgready shared cluster\n";
const LOG_FILE: &str = "server.log";

/// Longest wait for the server to accept connections, all port retries included.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest wait for a fast shutdown (it ends with a checkpoint).
const STOP_TIMEOUT: Duration = Duration::from_secs(60);
/// Start attempts: each moves to another port if ours was taken meanwhile.
const START_ATTEMPTS: u32 = 10;
/// A server log above this size is moved to `server.log.old` at the next start.
const MAX_LOG_BYTES: u64 = 16 << 20;

/// A PostgreSQL cluster on `127.0.0.1`, run from the machine's server binaries.
///
/// The server listens on loopback only, keeps its Unix socket in its data directory, runs as
/// an unprivileged OS user when this process is root (`postgres`, else `nobody`), accepts
/// password (SCRAM) logins over TCP for the superuser `pgready` and allows 300 connections.
/// Durability settings stay as in production, except in the shared test cluster
/// ([`Cluster::shared_for_tests`]).
///
/// Every method blocks (it runs `initdb` and `pg_ctl`): call it from
/// `tokio::task::spawn_blocking` in async code.
///
/// ```no_run
/// use pgready::embedded::Cluster;
///
/// let cluster = Cluster::start_temporary()?;
/// let url = cluster.url("postgres"); // postgres://pgready:…@127.0.0.1:<port>/postgres
/// # let _ = url;
/// // stopped and removed when `cluster` is dropped
/// # Ok::<(), pgready::embedded::EmbeddedError>(())
/// ```
pub struct Cluster {
    root: PathBuf,
    data_dir: PathBuf,
    port: u16,
    password: String,
    ctl: Ctl,
    /// Stopped and removed on drop.
    temporary: bool,
    /// Written into `pgready.conf` (also when the port moves).
    durability: Durability,
}

impl Cluster {
    /// Creates (initdb) a new cluster in a fresh directory under
    /// `<temp dir>/pgready-embedded-<uid>/`, not started yet. It is stopped and removed on
    /// drop; clusters there whose owner process died are stopped and removed first.
    pub fn init() -> Result<Self, EmbeddedError> {
        Self::init_in(&default_parent()?)
    }

    /// [`Cluster::init`] under `parent` instead of the temp dir (e.g. to keep a test's clusters
    /// apart). Stale clusters are looked for under `parent` only.
    pub fn init_in(parent: &Path) -> Result<Self, EmbeddedError> {
        let started = Instant::now();
        let ctl = Ctl::discover()?;
        let parent = absolute(parent)?;
        DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&parent)
            .map_err(|e| EmbeddedError::io("create directory", &parent, e))?;
        ctl.user.check_reachable(&parent)?;
        cleanup::remove_stale(&parent, &ctl);

        let root = parent.join(cleanup::new_cluster_name()?);
        DirBuilder::new()
            .mode(0o700)
            .create(&root)
            .map_err(|e| EmbeddedError::io("create directory", &root, e))?;
        let mut cluster = Self {
            data_dir: root.join(DATA_DIR),
            root,
            port: 0,
            password: String::new(),
            ctl,
            temporary: true,
            durability: Durability::Production,
        };
        // From here on an error drops `cluster`, which removes the directory.
        cleanup::record_owner(&cluster.root)?;
        cluster.ctl.user.chown(&cluster.root)?;
        // No fsync at the end of initdb: the cluster does not outlive this process anyway.
        cluster.create(false)?;
        tracing::debug!(
            data_dir = %cluster.data_dir.display(),
            elapsed = ?started.elapsed(),
            "embedded PostgreSQL cluster created"
        );
        Ok(cluster)
    }

    /// [`Cluster::init`] then [`Cluster::start`]: the throw-away development database of the
    /// quickstart.
    pub fn start_temporary() -> Result<Self, EmbeddedError> {
        let mut cluster = Self::init()?;
        cluster.start()?;
        Ok(cluster)
    }

    /// A streaming replica of `primary` in a fresh directory next to it, started: a
    /// `pg_basebackup -R` copy (run as the server's OS user) with its own port, which connects
    /// to the primary with a replication slot of its own (`pgready_replica_<hex>`) and serves
    /// reads as a hot standby. Stopped and removed on drop, like [`Cluster::init`]'s clusters;
    /// its slot stays on the primary (drop it with `pg_drop_replication_slot` when the primary
    /// outlives the replica).
    ///
    /// ```no_run
    /// use pgready::embedded::Cluster;
    ///
    /// let primary = Cluster::start_temporary()?;
    /// let mut replica = Cluster::replica_of(&primary)?;
    /// // reads on replica.url("postgres"); later, a failover:
    /// replica.promote()?;
    /// # Ok::<(), pgready::embedded::EmbeddedError>(())
    /// ```
    pub fn replica_of(primary: &Cluster) -> Result<Self, EmbeddedError> {
        let started = Instant::now();
        let ctl = primary.ctl.clone();
        let parent = primary
            .root
            .parent()
            .map_or_else(default_parent, |p| Ok(p.to_path_buf()))?;
        let root = parent.join(cleanup::new_cluster_name()?);
        DirBuilder::new()
            .mode(0o700)
            .create(&root)
            .map_err(|e| EmbeddedError::io("create directory", &root, e))?;
        let mut cluster = Self {
            data_dir: root.join(DATA_DIR),
            root,
            port: 0,
            password: primary.password.clone(),
            ctl,
            temporary: true,
            durability: Durability::Production,
        };
        // From here on an error drops `cluster`, which removes the directory.
        cleanup::record_owner(&cluster.root)?;
        cluster.ctl.user.chown(&cluster.root)?;
        let password_file = cluster.root.join(PASSWORD_FILE);
        write_private(&password_file, &cluster.password)?;
        cluster.ctl.user.chown(&password_file)?;
        let slot = format!("pgready_replica_{}", random::hex(6)?);
        cluster.ctl.basebackup(
            &cluster.root,
            primary.port,
            &primary.password,
            &cluster.data_dir,
            &slot,
        )?;
        // The copy holds the primary's log and its `pgready.conf` (the primary's port).
        for log in [LOG_FILE.to_owned(), format!("{LOG_FILE}.old")] {
            let _ = fs::remove_file(cluster.data_dir.join(log));
        }
        cluster.move_port()?;
        cluster.start()?;
        tracing::debug!(
            data_dir = %cluster.data_dir.display(),
            primary_port = primary.port,
            elapsed = ?started.elapsed(),
            "embedded PostgreSQL replica created"
        );
        Ok(cluster)
    }

    /// Ends recovery on this replica (`pg_ctl promote`, waiting until it accepts writes): it
    /// becomes a primary of its own, as in a failover.
    pub fn promote(&mut self) -> Result<(), EmbeddedError> {
        let started = Instant::now();
        self.ctl
            .promote(&self.root, &self.data_dir, START_TIMEOUT)?;
        tracing::debug!(
            data_dir = %self.data_dir.display(),
            elapsed = ?started.elapsed(),
            "embedded PostgreSQL promoted"
        );
        Ok(())
    }

    /// Freezes the running server with `SIGSTOP`, the postmaster and every backend: open
    /// connections stop answering and new ones hang, as with a hung machine. Nothing happens
    /// when the server does not run. [`Cluster::resume`] (or [`Cluster::stop`]) ends it.
    pub fn pause(&self) {
        if let Some(pid) = self.postmaster_pid() {
            postmaster::signal_tree(pid, libc::SIGSTOP);
        }
    }

    /// Lets a server frozen by [`Cluster::pause`] run again (`SIGCONT`).
    pub fn resume(&self) {
        if let Some(pid) = self.postmaster_pid() {
            postmaster::signal_tree(pid, libc::SIGCONT);
        }
    }

    /// Whether the postmaster is frozen by [`Cluster::pause`].
    pub fn is_paused(&self) -> bool {
        self.postmaster_pid().is_some_and(postmaster::is_stopped)
    }

    /// Starts the cluster living in `dir`, or reuses it when it already runs; creates it
    /// (initdb) when `dir` is absent or empty, and restarts it after a crash.
    ///
    /// Safe when many processes call it at once (nextest runs one process per test): an
    /// exclusive lock on `dir/pgready.lock` serialises creating and starting, so all get the
    /// same server. Not stopped on drop: it serves every later caller until
    /// [`Cluster::stop`] is called. `dir` must be empty or hold a cluster made by this function;
    /// PGDATA is `dir/data` and the superuser password is kept in `dir/password` (mode 0600),
    /// so later callers in other processes can build the same [`Cluster::url`].
    ///
    /// Durability stays as in production (a directory made by [`Cluster::shared_for_tests`]
    /// keeps its test settings).
    pub fn shared(dir: &Path) -> Result<Self, EmbeddedError> {
        Self::shared_with(dir, None)
    }

    /// [`Cluster::shared`] run as test suites run PostgreSQL: `fsync`, `synchronous_commit`
    /// and `full_page_writes` off, so commits, `CREATE DATABASE` and `DROP DATABASE` wait for
    /// no disk flush. For the shared cluster of `#[pgready::test]`
    /// ([`pgready::testing::shared_cluster`](crate::testing::shared_cluster)) and nothing else:
    /// a crash of the machine may corrupt its data, which is only test databases rebuilt from
    /// the migrations. A cluster that `dir` already holds with production durability is
    /// switched over (its settings rewritten and reloaded; all three take a reload, no restart).
    pub fn shared_for_tests(dir: &Path) -> Result<Self, EmbeddedError> {
        Self::shared_with(dir, Some(Durability::ThrowAway))
    }

    /// `durability`: what to run with, `None` for what the directory holds (production when
    /// it is created here).
    fn shared_with(dir: &Path, durability: Option<Durability>) -> Result<Self, EmbeddedError> {
        let ctl = Ctl::discover()?;
        let root = absolute(dir)?;
        fs::create_dir_all(&root).map_err(|e| EmbeddedError::io("create directory", &root, e))?;
        ctl.user.check_reachable(&root)?;

        let lock_path = root.join(LOCK_FILE);
        let (mut lock, created_lock) = open_lock(&lock_path)?;
        lock.lock()
            .map_err(|e| EmbeddedError::io("lock", &lock_path, e))?;
        // Under the lock nobody else creates anything here, so what we see is settled.
        let marked = fs::read_to_string(&lock_path).is_ok_and(|text| text.starts_with(LOCK_MARKER));
        if !marked {
            let foreign = fs::read_dir(&root)
                .map_err(|e| EmbeddedError::io("read directory", &root, e))?
                .filter_map(Result::ok)
                .any(|entry| entry.file_name() != LOCK_FILE);
            if foreign {
                if created_lock {
                    let _ = fs::remove_file(&lock_path);
                }
                return Err(EmbeddedError::NotACluster { dir: root });
            }
            lock.write_all(LOCK_MARKER.as_bytes())
                .map_err(|e| EmbeddedError::io("write", &lock_path, e))?;
        }

        ctl.user.chown(&root)?;
        let mut cluster = Self {
            data_dir: root.join(DATA_DIR),
            root,
            port: 0,
            password: String::new(),
            ctl,
            temporary: false,
            durability: durability.unwrap_or(Durability::Production),
        };
        if cluster.is_created() {
            cluster.load()?;
            if let Some(wanted) = durability
                && cluster.durability != wanted
            {
                cluster.durability = wanted;
                settings::write(&cluster.data_dir, cluster.port, &cluster.ctl.user, wanted)?;
                // A running server rereads its configuration files on SIGHUP.
                if let Some(pid) = cluster.postmaster_pid() {
                    postmaster::signal(pid, libc::SIGHUP);
                }
            }
        } else {
            cluster.remove_partial()?;
            cluster.create(true)?;
        }
        cluster.start_locked()?;
        drop(lock);
        Ok(cluster)
    }

    /// Starts the server and waits until it accepts connections; does nothing when it already
    /// runs. Keeps its port, unless another process took that port meanwhile.
    pub fn start(&mut self) -> Result<(), EmbeddedError> {
        let _lock = self.lock_shared()?;
        self.start_locked()
    }

    /// [`Cluster::start`], the shared cluster's lock (if any) already held.
    fn start_locked(&mut self) -> Result<(), EmbeddedError> {
        if let Some(port) = self.running_port() {
            self.port = port;
            return Ok(());
        }
        let started = Instant::now();
        let deadline = started + START_TIMEOUT;
        let log_file = self.log_file();
        if fs::metadata(&log_file).is_ok_and(|meta| meta.len() > MAX_LOG_BYTES) {
            let _ = fs::rename(&log_file, self.data_dir.join(format!("{LOG_FILE}.old")));
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            if !settings::port_is_free(self.port) {
                self.move_port()?;
            }
            let log_start = fs::metadata(&log_file).map_or(0, |m| m.len());
            let timeout = deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_secs(1));
            let (success, printed) =
                self.ctl
                    .start(&self.root, &self.data_dir, &log_file, timeout)?;
            if success && let Some(port) = self.running_port() {
                self.port = port;
                tracing::info!(
                    port,
                    data_dir = %self.data_dir.display(),
                    elapsed = ?started.elapsed(),
                    "embedded PostgreSQL started on 127.0.0.1"
                );
                return Ok(());
            }

            let fresh_log = read_from(&log_file, log_start);
            let retry = attempt < START_ATTEMPTS && Instant::now() < deadline;
            if retry && port_taken(&fresh_log) {
                tracing::debug!(port = self.port, "port taken meanwhile; trying another");
                self.move_port()?;
                continue;
            }
            if retry && self.crashed_server_still_exiting(&fresh_log) {
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }

            // Leave nothing half-started behind.
            let _ = self.ctl.stop(
                &self.root,
                &self.data_dir,
                StopMode::Immediate,
                Duration::from_secs(10),
            );
            let reason = if success {
                format!(
                    "pg_ctl reported success but nothing accepts connections on 127.0.0.1:{}; \
                     check what else runs on this machine",
                    self.port
                )
            } else {
                format!(
                    "pg_ctl said `{}`; fix what the server log names, then start again",
                    printed.trim()
                )
            };
            let log = if fresh_log.trim().is_empty() {
                read_from(&log_file, log_start.saturating_sub(4096))
            } else {
                fresh_log
            };
            return Err(EmbeddedError::Start {
                data_dir: self.data_dir.clone(),
                reason,
                log_file,
                log_tail: ctl::tail(&log, 20),
            });
        }
    }

    /// Stops the server (fast shutdown: clients are disconnected, then a checkpoint) and waits
    /// until it has exited; does nothing when it is not running.
    pub fn stop(&mut self) -> Result<(), EmbeddedError> {
        let _lock = self.lock_shared()?;
        let started = Instant::now();
        self.ctl
            .stop(&self.root, &self.data_dir, StopMode::Fast, STOP_TIMEOUT)?;
        tracing::debug!(
            data_dir = %self.data_dir.display(),
            elapsed = ?started.elapsed(),
            "embedded PostgreSQL stopped"
        );
        Ok(())
    }

    /// The server runs, says it is ready, and its port accepts connections.
    pub fn is_running(&self) -> bool {
        self.running_port().is_some()
    }

    /// The loopback TCP port the server listens on (or will, once started).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The data directory (PGDATA); the server log and the Unix socket are in it too.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The server log file, appended to by every start.
    pub fn log_file(&self) -> PathBuf {
        self.data_dir.join(LOG_FILE)
    }

    /// The process id of the running postmaster (e.g. to freeze the server with `SIGSTOP` in
    /// a hung-database test), or `None` when it does not run.
    pub fn postmaster_pid(&self) -> Option<u32> {
        PidFile::read(&self.data_dir)
            .map(|file| file.pid)
            .filter(|&pid| postmaster::process_alive(pid))
    }

    /// The superuser's name: `pgready`.
    pub fn superuser(&self) -> &str {
        SUPERUSER
    }

    /// The superuser's password (random, 32 hex digits).
    pub fn password(&self) -> &str {
        &self.password
    }

    /// `postgres://<superuser>:<password>@127.0.0.1:<port>/<database>`, the database name
    /// percent-encoded.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}:{}@127.0.0.1:{}/{}",
            self.password,
            self.port,
            percent_encode(database)
        )
    }

    /// For a shared cluster, waits for and holds its lock, so that no other process creates,
    /// starts or stops it meanwhile.
    fn lock_shared(&self) -> Result<Option<File>, EmbeddedError> {
        if self.temporary {
            return Ok(None);
        }
        let path = self.root.join(LOCK_FILE);
        let (lock, _) = open_lock(&path)?;
        lock.lock()
            .map_err(|e| EmbeddedError::io("lock", &path, e))?;
        Ok(Some(lock))
    }

    /// initdb with a fresh password, then pgready's settings with a free port.
    fn create(&mut self, sync: bool) -> Result<(), EmbeddedError> {
        let password = random::hex(16)?;
        let password_file = self.root.join(PASSWORD_FILE);
        write_private(&password_file, &password)?;
        self.ctl.user.chown(&password_file)?;
        self.ctl
            .initdb(&self.root, &self.data_dir, &password_file, sync)?;
        settings::include_from_postgresql_conf(&self.data_dir)?;
        let port = settings::free_port()?;
        // Written last: its presence marks a completely created cluster.
        settings::write(&self.data_dir, port, &self.ctl.user, self.durability)?;
        self.port = port;
        self.password = password;
        Ok(())
    }

    fn is_created(&self) -> bool {
        self.data_dir.join("PG_VERSION").is_file()
            && self.data_dir.join(settings::CONF_FILE).is_file()
    }

    /// Reads the password and port of an existing cluster.
    fn load(&mut self) -> Result<(), EmbeddedError> {
        let password_file = self.root.join(PASSWORD_FILE);
        let password = fs::read_to_string(&password_file).map_err(|e| EmbeddedError::Damaged {
            dir: self.root.clone(),
            reason: format!("cannot read `{}`: {e}", password_file.display()),
        })?;
        self.password = password.trim().to_owned();
        self.durability = settings::read_durability(&self.data_dir);
        self.port = match self.running_port() {
            Some(port) => port,
            None => settings::read_port(&self.data_dir).ok_or_else(|| EmbeddedError::Damaged {
                dir: self.root.clone(),
                reason: format!(
                    "no port in `{}`",
                    self.data_dir.join(settings::CONF_FILE).display()
                ),
            })?,
        };
        Ok(())
    }

    /// Removes what an interrupted creation left (initdb refuses a non-empty data directory).
    fn remove_partial(&self) -> Result<(), EmbeddedError> {
        match fs::remove_dir_all(&self.data_dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(EmbeddedError::io("remove directory", &self.data_dir, e))
            }
            _ => Ok(()),
        }
    }

    fn running_port(&self) -> Option<u16> {
        let file = PidFile::read(&self.data_dir)?;
        let port = file.port.unwrap_or(self.port);
        (file.is_ready() && postmaster::port_answers(port)).then_some(port)
    }

    /// A crashed server's processes are on their way out: its backends still hold the shared
    /// memory, or the killed postmaster is a zombie not yet reaped, which PostgreSQL takes for
    /// a live server.
    fn crashed_server_still_exiting(&self, fresh_log: &str) -> bool {
        fresh_log.contains("pre-existing shared memory block")
            || (fresh_log.contains("lock file \"postmaster.pid\" already exists")
                && PidFile::read(&self.data_dir)
                    .is_some_and(|file| !postmaster::process_alive(file.pid)))
    }

    fn move_port(&mut self) -> Result<(), EmbeddedError> {
        let port = settings::free_port()?;
        settings::write(&self.data_dir, port, &self.ctl.user, self.durability)?;
        self.port = port;
        Ok(())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if !self.temporary {
            return;
        }
        // Immediate, not fast: the data is removed next, so the shutdown checkpoint of a fast
        // stop would only write and fsync what is thrown away, which took seconds on a busy
        // disk at the end of a service's graceful shutdown.
        let started = Instant::now();
        let stopped = self.ctl.stop(
            &self.root,
            &self.data_dir,
            StopMode::Immediate,
            Duration::from_secs(10),
        );
        match stopped {
            Ok(()) => tracing::debug!(
                data_dir = %self.data_dir.display(),
                elapsed = ?started.elapsed(),
                "embedded PostgreSQL stopped"
            ),
            Err(error) => {
                tracing::error!(%error, "could not stop an embedded cluster; killing it");
                if let Some(pid) = self.postmaster_pid() {
                    postmaster::signal(pid, libc::SIGKILL);
                }
            }
        }
        if let Err(error) = fs::remove_dir_all(&self.root) {
            tracing::error!(dir = %self.root.display(), %error, "could not remove an embedded cluster");
        }
    }
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster")
            .field("data_dir", &self.data_dir)
            .field("port", &self.port)
            .field("superuser", &SUPERUSER)
            .field("password", &"<redacted>")
            .field("server_user", &self.ctl.user.name())
            .field("binaries", &self.ctl.binaries.dir())
            .field("temporary", &self.temporary)
            .finish()
    }
}

/// `<temp>/pgready-embedded-<uid>`, one per user so that users never clean up each other.
fn default_parent() -> Result<PathBuf, EmbeddedError> {
    // SAFETY: geteuid cannot fail and touches no memory of ours.
    let euid = unsafe { libc::geteuid() };
    let parent = std::env::temp_dir().join(format!("pgready-embedded-{euid}"));
    match DirBuilder::new().mode(0o755).create(&parent) {
        // The umask may have narrowed the mode; the server's OS user must enter the directory.
        Ok(()) => fs::set_permissions(&parent, fs::Permissions::from_mode(0o755))
            .map_err(|e| EmbeddedError::io("set the permissions of", &parent, e))?,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(EmbeddedError::io("create directory", &parent, e)),
    }
    let meta = parent
        .symlink_metadata()
        .map_err(|e| EmbeddedError::io("inspect", &parent, e))?;
    if !meta.is_dir() || meta.uid() != euid {
        return Err(EmbeddedError::io(
            "use",
            &parent,
            std::io::Error::other("it is not a directory owned by this user; remove it"),
        ));
    }
    Ok(parent)
}

/// Opens (or creates) the lock file; true when this call created it.
fn open_lock(path: &Path) -> Result<(File, bool), EmbeddedError> {
    let open = |create_new: bool| {
        OpenOptions::new()
            .read(true)
            .append(true)
            .create_new(create_new)
            .open(path)
    };
    match open(true) {
        Ok(file) => Ok((file, true)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => open(false)
            .map(|file| (file, false))
            .map_err(|e| EmbeddedError::io("open", path, e)),
        Err(e) => Err(EmbeddedError::io("create", path, e)),
    }
}

fn absolute(path: &Path) -> Result<PathBuf, EmbeddedError> {
    std::path::absolute(path).map_err(|e| EmbeddedError::io("resolve", path, e))
}

/// Writes `secret` to a new file only the owner can read.
fn write_private(path: &Path, secret: &str) -> Result<(), EmbeddedError> {
    let _ = fs::remove_file(path);
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut file| file.write_all(format!("{secret}\n").as_bytes()))
        .map_err(|e| EmbeddedError::io("write", path, e))
}

/// The log written since byte `offset`.
fn read_from(path: &Path, offset: u64) -> String {
    let mut bytes = Vec::new();
    if let Ok(mut file) = File::open(path) {
        let _ = file
            .seek(SeekFrom::Start(offset))
            .and_then(|_| file.read_to_end(&mut bytes));
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn port_taken(log: &str) -> bool {
    log.contains("Address already in use") || log.contains("could not create any TCP/IP sockets")
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_percent_encoded() {
        assert_eq!(percent_encode("app_test-1.x~"), "app_test-1.x~");
        assert_eq!(percent_encode("my db/ä?"), "my%20db%2F%C3%A4%3F");
    }

    #[test]
    fn port_conflicts_are_recognised_in_the_log() {
        let log = "LOG:  could not bind IPv4 address \"127.0.0.1\": Address already in use\n\
                   FATAL:  could not create any TCP/IP sockets\n";
        assert!(port_taken(log));
        assert!(!port_taken(
            "FATAL:  invalid value for parameter \"shared_buffers\""
        ));
    }
}
