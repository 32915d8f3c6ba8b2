//! PgBouncer in front of an embedded cluster, run from the machine's `pgbouncer` binary.
//!
//! Layout of a bouncer directory (next to the clusters, named like them, `<pid>-<hex>`):
//!
//! ```text
//! root/
//!   owner          `<pid> <start time>` of the owning process
//!   pgbouncer.ini  the configuration (mode 0600)
//!   userlist.txt   the superuser and its password (mode 0600)
//!   pgbouncer.pid  the running PgBouncer's pid, written by pgready
//!   pgbouncer.log  its log
//! ```

use std::fmt::Write as _;
use std::fs::{self, DirBuilder};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::cleanup;
use super::ctl::{SUPERUSER, tail};
use super::postmaster;
use super::settings;
use super::user::ServerUser;
use super::{Cluster, EmbeddedError};

/// The environment variable naming the `pgbouncer` binary, when it is not found by itself.
pub const PGBOUNCER_ENV: &str = "PGREADY_PGBOUNCER";

/// Where `pgbouncer` is looked for after `PATH` (Debian installs it in `/usr/sbin`, which is
/// not on every user's `PATH`).
const SYSTEM_DIRS: [&str; 4] = ["/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin"];

use super::cleanup::{BOUNCER_CONFIG_FILE as CONFIG_FILE, BOUNCER_PID_FILE as PID_FILE};
const USERS_FILE: &str = "userlist.txt";
const LOG_FILE: &str = "pgbouncer.log";

/// Longest wait for PgBouncer to accept connections, or to exit when stopped.
const WAIT: Duration = Duration::from_secs(10);

/// PgBouncer's `pool_mode`: when a server connection goes back to its pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolMode {
    /// When the client disconnects.
    Session,
    /// When the transaction (or the statement outside one) ends: the mode a pgready service
    /// with `[database] pgbouncer = true` runs behind.
    Transaction,
}

impl PoolMode {
    fn as_str(self) -> &'static str {
        match self {
            PoolMode::Session => "session",
            PoolMode::Transaction => "transaction",
        }
    }
}

/// A PgBouncer on `127.0.0.1` in front of a [`Cluster`], for tests of a service behind a
/// connection pooler.
///
/// Every database of the cluster is reachable through it under its own name; clients log in
/// as the cluster's superuser with its password (SCRAM), which PgBouncer also uses towards the
/// server. Its admin console is the database `pgbouncer` (the superuser is an admin). It runs
/// as the cluster's OS user (PgBouncer refuses to run as root), is stopped and removed on drop,
/// and one left behind by a process that died is stopped by the next [`Cluster::init`] or
/// bouncer under the same directory.
///
/// Every method blocks: call it from `tokio::task::spawn_blocking` in async code.
///
/// ```no_run
/// use pgready::embedded::{Bouncer, Cluster, PoolMode};
///
/// let cluster = Cluster::start_temporary()?;
/// let bouncer = Bouncer::start(&cluster, PoolMode::Transaction, 10)?;
/// let url = bouncer.url("postgres"); // postgres://pgready:…@127.0.0.1:<port>/postgres
/// # let _ = url;
/// # Ok::<(), pgready::embedded::EmbeddedError>(())
/// ```
pub struct Bouncer {
    root: PathBuf,
    binary: PathBuf,
    user: ServerUser,
    port: u16,
    password: String,
    child: Option<Child>,
}

impl Bouncer {
    /// Starts PgBouncer in front of `cluster` in `mode`, with at most `pool_size` server
    /// connections per database and user (`default_pool_size`), on a free port.
    pub fn start(
        cluster: &Cluster,
        mode: PoolMode,
        pool_size: u32,
    ) -> Result<Bouncer, EmbeddedError> {
        let binary = find_binary()?;
        let user = ServerUser::for_this_process()?;
        let parent = cluster
            .data_dir()
            .parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .ok_or_else(|| {
                EmbeddedError::io(
                    "find the parent directory of",
                    cluster.data_dir(),
                    std::io::Error::other("a cluster's data directory is `<dir>/<name>/data`"),
                )
            })?;
        let root = parent.join(cleanup::new_cluster_name()?);
        DirBuilder::new()
            .mode(0o700)
            .create(&root)
            .map_err(|e| EmbeddedError::io("create directory", &root, e))?;
        let mut bouncer = Bouncer {
            root,
            binary,
            user,
            port: 0,
            password: cluster.password().to_owned(),
            child: None,
        };
        // From here on an error drops `bouncer`, which removes the directory.
        cleanup::record_owner(&bouncer.root)?;
        bouncer.user.chown(&bouncer.root)?;
        bouncer.write_private(
            USERS_FILE,
            &format!("\"{SUPERUSER}\" \"{}\"\n", cluster.password()),
        )?;
        bouncer.port = settings::free_port()?;
        bouncer.write_config(cluster.port(), mode, pool_size)?;
        bouncer.run()?;
        Ok(bouncer)
    }

    /// Starts PgBouncer again after [`stop`](Self::stop), on the same port unless another
    /// process took it meanwhile; does nothing when it runs.
    pub fn restart(&mut self) -> Result<(), EmbeddedError> {
        if self.is_running() {
            return Ok(());
        }
        self.reap();
        if !settings::port_is_free(self.port) {
            self.port = settings::free_port()?;
            let config = self.read(CONFIG_FILE)?;
            let config = config
                .lines()
                .map(|line| match line.split_once('=') {
                    Some((key, _)) if key.trim() == "listen_port" => {
                        format!("listen_port = {}\n", self.port)
                    }
                    _ => format!("{line}\n"),
                })
                .collect::<String>();
            self.write_private(CONFIG_FILE, &config)?;
        }
        self.run()
    }

    /// Stops PgBouncer at once (`SIGTERM`: clients are disconnected) and waits until it has
    /// exited; does nothing when it does not run.
    pub fn stop(&mut self) -> Result<(), EmbeddedError> {
        let Some(pid) = self.pid() else {
            self.reap();
            return Ok(());
        };
        postmaster::signal(pid, libc::SIGCONT);
        postmaster::signal(pid, libc::SIGTERM);
        let deadline = Instant::now() + WAIT;
        while postmaster::process_alive(pid) && Instant::now() < deadline {
            if self.reap() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        if postmaster::process_alive(pid) {
            postmaster::signal(pid, libc::SIGKILL);
        }
        while self.child.is_some() && !self.reap() {
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = fs::remove_file(self.root.join(PID_FILE));
        Ok(())
    }

    /// Freezes PgBouncer with `SIGSTOP`: its clients' queries and new connections hang.
    pub fn pause(&self) {
        if let Some(pid) = self.pid() {
            postmaster::signal(pid, libc::SIGSTOP);
        }
    }

    /// Lets a PgBouncer frozen by [`pause`](Self::pause) run again.
    pub fn resume(&self) {
        if let Some(pid) = self.pid() {
            postmaster::signal(pid, libc::SIGCONT);
        }
    }

    /// Whether PgBouncer runs and accepts connections.
    pub fn is_running(&self) -> bool {
        self.pid().is_some() && postmaster::port_answers(self.port)
    }

    /// The running PgBouncer's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child
            .as_ref()
            .map(Child::id)
            .filter(|&pid| postmaster::process_alive(pid))
    }

    /// The loopback TCP port PgBouncer listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres://<superuser>:<password>@127.0.0.1:<port>/<database>` through PgBouncer
    /// (`database` as given: use plain names).
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}:{}@127.0.0.1:{}/{database}",
            self.password, self.port
        )
    }

    /// The admin console's DSN (database `pgbouncer`): `SHOW POOLS`, `SHOW CONFIG`, ….
    pub fn admin_url(&self) -> String {
        self.url("pgbouncer")
    }

    /// PgBouncer's log file.
    pub fn log_file(&self) -> PathBuf {
        self.root.join(LOG_FILE)
    }

    fn write_config(
        &self,
        server_port: u16,
        mode: PoolMode,
        pool_size: u32,
    ) -> Result<(), EmbeddedError> {
        let mut text = String::from("; Written by pgready.\n[databases]\n");
        // Any database name goes to the database of the same name on the cluster.
        let _ = writeln!(text, "* = host=127.0.0.1 port={server_port}");
        text.push_str("\n[pgbouncer]\nlisten_addr = 127.0.0.1\n");
        let _ = writeln!(text, "listen_port = {}", self.port);
        text.push_str("unix_socket_dir =\nauth_type = scram-sha-256\n");
        let _ = writeln!(text, "auth_file = {}", self.root.join(USERS_FILE).display());
        let _ = writeln!(text, "admin_users = {SUPERUSER}");
        let _ = writeln!(text, "pool_mode = {}", mode.as_str());
        let _ = writeln!(text, "default_pool_size = {pool_size}");
        text.push_str("max_client_conn = 500\n");
        // sqlx sends it in the startup packet; many deployments ignore it the same way.
        text.push_str("ignore_startup_parameters = extra_float_digits\n");
        // A server that went away is tried again after a second, not the default 15.
        text.push_str("server_login_retry = 1\n");
        let _ = writeln!(text, "logfile = {}", self.root.join(LOG_FILE).display());
        self.write_private(CONFIG_FILE, &text)
    }

    /// Spawns PgBouncer in the foreground as a child of this process and waits until it
    /// accepts connections.
    fn run(&mut self) -> Result<(), EmbeddedError> {
        let config = self.root.join(CONFIG_FILE);
        let log_file = self.log_file();
        let log_start = fs::metadata(&log_file).map_or(0, |m| m.len());
        let mut command = self.user.command(&self.binary, &self.root);
        // Its log goes to `pgbouncer.log`; a pipe nobody reads would block it once full.
        command
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = command.spawn().map_err(|source| EmbeddedError::Spawn {
            program: self.binary.clone(),
            source,
        })?;
        let pid = child.id();
        self.child = Some(child);
        let pid_file = self.root.join(PID_FILE);
        fs::write(&pid_file, format!("{pid}\n"))
            .map_err(|e| EmbeddedError::io("write", &pid_file, e))?;
        let deadline = Instant::now() + WAIT;
        loop {
            if postmaster::port_answers(self.port) {
                tracing::debug!(port = self.port, pid, "PgBouncer started on 127.0.0.1");
                return Ok(());
            }
            let exited = self.reap();
            if exited || Instant::now() >= deadline {
                if !exited {
                    let _ = self.stop();
                }
                let log = read_from(&log_file, log_start);
                return Err(EmbeddedError::PgBouncerStart {
                    reason: if exited {
                        "it exited at once".to_owned()
                    } else {
                        format!(
                            "nothing accepted connections on 127.0.0.1:{} within {WAIT:?}",
                            self.port
                        )
                    },
                    log_file,
                    log_tail: tail(&log, 20),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Collects the child's exit status; true when it has exited (or there is none).
    fn reap(&mut self) -> bool {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(None)) => false,
            _ => {
                self.child = None;
                true
            }
        }
    }

    fn write_private(&self, name: &str, text: &str) -> Result<(), EmbeddedError> {
        let path = self.root.join(name);
        let _ = fs::remove_file(&path);
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut file| std::io::Write::write_all(&mut file, text.as_bytes()))
            .map_err(|e| EmbeddedError::io("write", &path, e))?;
        self.user.chown(&path)
    }

    fn read(&self, name: &str) -> Result<String, EmbeddedError> {
        let path = self.root.join(name);
        fs::read_to_string(&path).map_err(|e| EmbeddedError::io("read", &path, e))
    }
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        if let Err(error) = self.stop() {
            tracing::warn!(%error, "could not stop PgBouncer");
        }
        if let Err(error) = fs::remove_dir_all(&self.root) {
            tracing::warn!(dir = %self.root.display(), %error, "could not remove PgBouncer's directory");
        }
    }
}

impl std::fmt::Debug for Bouncer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bouncer")
            .field("dir", &self.root)
            .field("port", &self.port)
            .field("pid", &self.pid())
            .field("binary", &self.binary)
            .finish_non_exhaustive()
    }
}

/// `PGREADY_PGBOUNCER`, else `pgbouncer` on `PATH`, else in the system directories.
fn find_binary() -> Result<PathBuf, EmbeddedError> {
    let explicit = std::env::var_os(PGBOUNCER_ENV).filter(|p| !p.is_empty());
    find_binary_in(
        explicit.map(PathBuf::from),
        std::env::var_os("PATH"),
        &SYSTEM_DIRS,
    )
}

/// [`find_binary`] with its inputs given: `PGREADY_PGBOUNCER`'s value, `PATH`'s, and the
/// system directories.
fn find_binary_in(
    explicit: Option<PathBuf>,
    path: Option<std::ffi::OsString>,
    system_dirs: &[&str],
) -> Result<PathBuf, EmbeddedError> {
    if let Some(path) = explicit {
        return if is_executable(&path) {
            Ok(path)
        } else {
            Err(EmbeddedError::PgBouncerNotFound {
                searched: vec![format!(
                    "{PGBOUNCER_ENV}=`{}` (not an executable file)",
                    path.display()
                )],
            })
        };
    }
    let on_path: Vec<PathBuf> = path
        .map(|path| std::env::split_paths(&path).collect())
        .unwrap_or_default();
    on_path
        .iter()
        .cloned()
        .chain(system_dirs.iter().map(PathBuf::from))
        .map(|dir| dir.join("pgbouncer"))
        .find(|path| is_executable(path))
        .ok_or_else(|| EmbeddedError::PgBouncerNotFound {
            searched: vec![
                format!("{PGBOUNCER_ENV} (not set)"),
                format!("PATH ({} directories)", on_path.len()),
                system_dirs.join(", "),
            ],
        })
}

fn is_executable(path: &Path) -> bool {
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The file from byte `offset` on.
fn read_from(path: &Path, offset: u64) -> String {
    let text = fs::read(path).unwrap_or_default();
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(text.len());
    String::from_utf8_lossy(&text[start..]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_pgbouncer_says_what_to_install() {
        let nowhere =
            std::env::temp_dir().join(format!("pgready-no-bouncer-{}", std::process::id()));
        let err = find_binary_in(
            None,
            Some(nowhere.clone().into_os_string()),
            &["/nonexistent"],
        )
        .unwrap_err();
        let message = err.to_string();
        assert!(message.starts_with("no `pgbouncer` binary found; looked at: PGREADY_PGBOUNCER (not set); PATH (1 directories); /nonexistent"), "{message}");
        assert!(
            message.ends_with(
                "install PgBouncer (e.g. `apt-get install pgbouncer`) or set PGREADY_PGBOUNCER to the binary's path"
            ),
            "{message}"
        );
        let err = find_binary_in(Some(nowhere.join("pgbouncer")), None, &[]).unwrap_err();
        assert!(
            err.to_string().contains("(not an executable file)"),
            "{err}"
        );
    }

    #[test]
    fn pgbouncer_is_found_on_path_first() {
        let dir = std::env::temp_dir().join(format!("pgready-bouncer-bin-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let binary = dir.join("pgbouncer");
        fs::write(&binary, "#!/bin/sh\n").unwrap();
        fs::set_permissions(&binary, fs::Permissions::from_mode(0o755)).unwrap();
        let found = find_binary_in(None, Some(dir.clone().into_os_string()), &["/usr/sbin"]);
        assert_eq!(found.unwrap(), binary);
        fs::remove_dir_all(dir).unwrap();
    }
}
