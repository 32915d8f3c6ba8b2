//! Stale temporary clusters: each records its owner process, and a cluster whose owner is
//! gone (killed, aborted, `process::exit` before drop) is stopped and removed by the next
//! [`Cluster::init`](super::Cluster::init) under the same parent directory.

use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::EmbeddedError;
use super::ctl::{Ctl, StopMode};
use super::postmaster;
use super::random;

/// The file in a temporary cluster's directory naming its owner: `<pid> <start time>`.
const OWNER_FILE: &str = "owner";

/// In a PgBouncer's directory (`embedded::Bouncer`): the pid pgready recorded for it, and its
/// configuration, which its command line names.
pub(crate) const BOUNCER_PID_FILE: &str = "pgbouncer.pid";
pub(crate) const BOUNCER_CONFIG_FILE: &str = "pgbouncer.ini";

/// Prefix of directories being removed, claimed by one process with an atomic rename.
const TRASH_PREFIX: &str = ".trash-";

/// How long an orphaned server may take to stop before it is left alone.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// The name of a new temporary cluster's directory: `<owner pid>-<random>`.
pub(crate) fn new_cluster_name() -> Result<String, EmbeddedError> {
    Ok(format!("{}-{}", std::process::id(), random::hex(8)?))
}

/// Records this process as the owner of the cluster in `root`.
pub(crate) fn record_owner(root: &Path) -> Result<(), EmbeddedError> {
    let pid = std::process::id();
    let start = postmaster::start_time(pid).map_or_else(String::new, |t| t.to_string());
    let path = root.join(OWNER_FILE);
    std::fs::write(&path, format!("{pid} {start}\n"))
        .map_err(|e| EmbeddedError::io("write", &path, e))
}

/// Stops and removes every cluster under `parent` whose owner process no longer exists.
/// Failures are logged, never returned: cleaning up after others must not stop this process.
pub(crate) fn remove_stale(parent: &Path, ctl: &Ctl) {
    let Ok(entries) = parent.read_dir() else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if name.starts_with(TRASH_PREFIX) {
            // A remover died half-way; nobody else owns this any more.
            remove(&path);
        } else if let Some(owner) = owner_of(&path, &name)
            && !owner.alive()
        {
            remove_cluster(&path, owner.pid, ctl);
        }
    }
}

struct Owner {
    pid: u32,
    start_time: Option<u64>,
}

impl Owner {
    /// The owner still runs (a reused pid has another start time).
    fn alive(&self) -> bool {
        postmaster::process_alive(self.pid)
            && match (self.start_time, postmaster::start_time(self.pid)) {
                (Some(recorded), Some(now)) => recorded == now,
                _ => true,
            }
    }
}

/// The owner of a cluster directory named `<pid>-<hex>`; other entries are not ours.
fn owner_of(root: &Path, name: &str) -> Option<Owner> {
    let (pid, suffix) = name.split_once('-')?;
    let pid: u32 = pid.parse().ok()?;
    if suffix.is_empty() || !suffix.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    // The owner file is written right after the directory is created; until then the name
    // alone says who the owner is.
    let recorded = std::fs::read_to_string(root.join(OWNER_FILE)).unwrap_or_default();
    let mut fields = recorded.split_whitespace();
    let pid = fields.next().and_then(|p| p.parse().ok()).unwrap_or(pid);
    let start_time = fields.next().and_then(|t| t.parse().ok());
    Some(Owner { pid, start_time })
}

fn remove_cluster(root: &Path, owner: u32, ctl: &Ctl) {
    // A bouncer's directory holds no cluster, only maybe its PgBouncer.
    stop_stale_bouncer(root);
    let data_dir = root.join("data");
    if let Err(error) = ctl.stop(root, &data_dir, StopMode::Immediate, STOP_TIMEOUT) {
        // Removing the files of a running server would leave it running on deleted files.
        tracing::warn!(cluster = %root.display(), %error, "could not stop a stale embedded cluster");
        return;
    }
    let Some(trash) = trash_path(root) else {
        return;
    };
    // Only one of several processes cleaning at once wins the rename.
    if std::fs::rename(root, &trash).is_ok() {
        tracing::info!(cluster = %root.display(), owner, "removed stale embedded cluster");
        remove(&trash);
    }
}

fn trash_path(root: &Path) -> Option<PathBuf> {
    let suffix = random::hex(8).ok()?;
    Some(root.parent()?.join(format!("{TRASH_PREFIX}{suffix}")))
}

fn remove(path: &Path) {
    match std::fs::remove_dir_all(path) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "could not remove a stale embedded cluster");
        }
    }
}

/// Stops a PgBouncer left behind in the stale directory `root` by a process that died: the
/// pid it recorded, if that process is still a `pgbouncer` reading `root`'s configuration.
fn stop_stale_bouncer(root: &Path) {
    let Some(pid) = std::fs::read_to_string(root.join(BOUNCER_PID_FILE))
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok())
    else {
        return;
    };
    let config = root.join(BOUNCER_CONFIG_FILE);
    let ours = std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
        cmdline
            .split(|&b| b == 0)
            .any(|arg| Path::new(std::ffi::OsStr::from_bytes(arg)) == config)
    });
    if ours {
        postmaster::signal(pid, libc::SIGCONT);
        postmaster::signal(pid, libc::SIGKILL);
        tracing::info!(pid, dir = %root.display(), "stopped a stale PgBouncer");
    }
}
