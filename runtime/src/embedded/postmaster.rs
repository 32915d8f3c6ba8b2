//! The running server as seen from outside: `postmaster.pid`, process liveness, the TCP port.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

/// What `postmaster.pid` in a data directory says (PostgreSQL 10 and later).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PidFile {
    pub(crate) pid: u32,
    pub(crate) port: Option<u16>,
    /// `starting`, `stopping`, `ready` or `standby`.
    pub(crate) status: Option<String>,
}

impl PidFile {
    pub(crate) fn read(data_dir: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(data_dir.join("postmaster.pid")).ok()?;
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        Some(Self {
            pid: lines.first()?.parse().ok()?,
            port: lines.get(3).and_then(|port| port.parse().ok()),
            status: lines.get(7).map(|status| (*status).to_owned()),
        })
    }

    /// The postmaster process exists and says it accepts connections: `ready`, or `standby`
    /// for a hot standby (a replica) that reached a consistent state.
    pub(crate) fn is_ready(&self) -> bool {
        matches!(self.status.as_deref(), Some("ready" | "standby")) && process_alive(self.pid)
    }
}

/// The process exists and is not a zombie.
pub(crate) fn process_alive(pid: u32) -> bool {
    let Some(pid) = signalable(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    let exists = unsafe { libc::kill(pid, 0) } == 0
        || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    exists && proc_stat(pid as u32).is_none_or(|stat| stat.state != 'Z')
}

/// The process's start time in clock ticks since boot (Linux), to tell a reused pid apart.
pub(crate) fn start_time(pid: u32) -> Option<u64> {
    proc_stat(pid).map(|stat| stat.start_time)
}

/// Sends `signal` to `pid`; errors are ignored (the process may be gone).
pub(crate) fn signal(pid: u32, signal: libc::c_int) {
    if let Some(pid) = signalable(pid) {
        // SAFETY: plain syscall on a positive pid.
        unsafe { libc::kill(pid, signal) };
    }
}

/// Sends `signal` to `pid` and to each of its child processes (a postmaster's backends and
/// auxiliary processes), the parent first: a postmaster stopped first cannot fork a child that
/// the scan would miss.
pub(crate) fn signal_tree(pid: u32, signal: libc::c_int) {
    self::signal(pid, signal);
    for child in children(pid) {
        self::signal(child, signal);
    }
}

/// The processes whose parent is `pid`.
fn children(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&child| proc_stat(child).is_some_and(|stat| stat.parent == pid))
        .collect()
}

/// Whether `pid` is stopped (`SIGSTOP`), as `/proc` says.
pub(crate) fn is_stopped(pid: u32) -> bool {
    proc_stat(pid).is_some_and(|stat| stat.state == 'T')
}

/// A pid that `kill` reads as one process: 0 and negative values address process groups.
fn signalable(pid: u32) -> Option<libc::pid_t> {
    libc::pid_t::try_from(pid).ok().filter(|&pid| pid > 0)
}

struct ProcStat {
    state: char,
    parent: u32,
    start_time: u64,
}

fn proc_stat(pid: u32) -> Option<ProcStat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: fields resume after the
    // last `)`. Field 3 is the state, field 4 the parent, field 22 the start time.
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let parent = fields.next()?.parse().ok()?;
    // field 4 was the parent; field 22 is 17 further on
    let start_time = fields.nth(17)?.parse().ok()?;
    Some(ProcStat {
        state,
        parent,
        start_time,
    })
}

/// Something accepts TCP connections on `127.0.0.1:port`.
pub(crate) fn port_answers(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    // The server forks a backend that sees an empty startup packet and exits without logging.
    TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn liveness_of_self_dead_child_and_invalid_pids() {
        assert!(process_alive(std::process::id()));
        assert!(start_time(std::process::id()).is_some());
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!process_alive(pid));
        assert!(!process_alive(0), "pid 0 is a process group, not a process");
        assert!(!process_alive(u32::MAX));
    }

    #[test]
    fn children_are_found_and_stopped_with_their_parent() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        assert!(children(std::process::id()).contains(&pid));
        assert_eq!(proc_stat(pid).map(|s| s.parent), Some(std::process::id()));
        signal(pid, libc::SIGSTOP);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !is_stopped(pid) {
            assert!(std::time::Instant::now() < deadline, "not stopped");
            std::thread::sleep(Duration::from_millis(5));
        }
        signal(pid, libc::SIGCONT);
        while is_stopped(pid) {
            assert!(std::time::Instant::now() < deadline, "not resumed");
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn zombie_counts_as_dead() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        // Not reaped yet: a zombie once it has exited.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while proc_stat(pid).is_some_and(|s| s.state != 'Z') {
            assert!(std::time::Instant::now() < deadline);
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(!process_alive(pid));
        child.wait().unwrap();
    }

    #[test]
    fn pid_file_lines() {
        let dir = std::env::temp_dir().join(format!("pgready-pidfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("postmaster.pid"),
            "4242\n/data\n1700000000\n54321\n/data\n127.0.0.1\n  1234  5678\nready   \n",
        )
        .unwrap();
        let file = PidFile::read(&dir).unwrap();
        assert_eq!(
            file,
            PidFile {
                pid: 4242,
                port: Some(54321),
                status: Some("ready".into())
            }
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
