//! The server settings pgready owns, kept in `pgready.conf` inside the data directory and
//! included from `postgresql.conf`, so a restart keeps the same port.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::{Ipv4Addr, TcpListener};
use std::path::Path;

use super::EmbeddedError;
use super::user::ServerUser;

pub(crate) const CONF_FILE: &str = "pgready.conf";

/// Tests open many pools at once: `cargo nextest` runs a process per test, one per core by
/// default, each with its admin connections and its test's pool.
const MAX_CONNECTIONS: u32 = 300;

/// How much a cluster's data must survive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Durability {
    /// As in production: `fsync`, `synchronous_commit` and `full_page_writes` on (the
    /// quickstart's development database, replicas, anything a user starts).
    Production,
    /// The shared test cluster only ([`Cluster::shared_for_tests`](super::Cluster::shared_for_tests)):
    /// no fsync, no waiting for the WAL flush at commit, no full-page images, as test suites run
    /// PostgreSQL. A crash of the machine (not of the server) may corrupt it: it holds nothing
    /// but test databases, rebuilt from the migrations.
    ThrowAway,
}

/// The lines [`Durability::ThrowAway`] adds to `pgready.conf`; their presence is how an
/// existing cluster's durability is read back.
const THROW_AWAY: &str = "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n";

/// `sizeof(sockaddr_un.sun_path)` on Linux: longer socket paths cannot be bound.
const MAX_SOCKET_PATH: usize = 107;

/// Appends the include of `pgready.conf` to `postgresql.conf`, once, right after initdb.
pub(crate) fn include_from_postgresql_conf(data_dir: &Path) -> Result<(), EmbeddedError> {
    let path = data_dir.join("postgresql.conf");
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .map_err(|e| EmbeddedError::io("open", &path, e))?;
    writeln!(
        file,
        "\n# Settings managed by pgready.\ninclude = '{CONF_FILE}'"
    )
    .map_err(|e| EmbeddedError::io("write", &path, e))
}

/// Writes `pgready.conf` for `port` (atomically: a crash leaves the old or the new file).
pub(crate) fn write(
    data_dir: &Path,
    port: u16,
    user: &ServerUser,
    durability: Durability,
) -> Result<(), EmbeddedError> {
    let mut text = String::from("# Written by pgready; rewritten when the port changes.\n");
    // Loopback only; nothing else on the machine or the network can reach the cluster by TCP.
    text.push_str("listen_addresses = '127.0.0.1'\n");
    let _ = writeln!(text, "port = {port}");
    let _ = writeln!(text, "max_connections = {MAX_CONNECTIONS}");
    let socket = data_dir.join(format!(".s.PGSQL.{}", u16::MAX));
    let socket_dir = if socket.as_os_str().len() <= MAX_SOCKET_PATH {
        data_dir.to_string_lossy().replace('\'', "''")
    } else {
        tracing::warn!(
            data_dir = %data_dir.display(),
            "data directory path too long for a Unix socket; the cluster listens on TCP only"
        );
        String::new()
    };
    let _ = writeln!(text, "unix_socket_directories = '{socket_dir}'");
    match durability {
        // fsync, synchronous_commit and full_page_writes stay on.
        Durability::Production => {}
        Durability::ThrowAway => {
            text.push_str(
                "# The shared test cluster: throw-away data, as test suites run PostgreSQL.\n",
            );
            text.push_str(THROW_AWAY);
        }
    }

    let path = data_dir.join(CONF_FILE);
    let temporary = data_dir.join(format!("{CONF_FILE}.tmp"));
    std::fs::write(&temporary, text).map_err(|e| EmbeddedError::io("write", &temporary, e))?;
    user.chown(&temporary)?;
    std::fs::rename(&temporary, &path).map_err(|e| EmbeddedError::io("replace", &path, e))
}

/// The port written in `pgready.conf`.
pub(crate) fn read_port(data_dir: &Path) -> Option<u16> {
    let text = std::fs::read_to_string(data_dir.join(CONF_FILE)).ok()?;
    text.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        (key.trim() == "port").then(|| value.trim().parse().ok())?
    })
}

/// The durability `pgready.conf` was written with (production when it is missing).
pub(crate) fn read_durability(data_dir: &Path) -> Durability {
    match std::fs::read_to_string(data_dir.join(CONF_FILE)) {
        Ok(text) if text.contains(THROW_AWAY) => Durability::ThrowAway,
        _ => Durability::Production,
    }
}

/// A loopback port nobody listens on right now.
pub(crate) fn free_port() -> Result<u16, EmbeddedError> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|e| EmbeddedError::io("pick a free port on", "127.0.0.1", e))
}

/// Nobody listens on `127.0.0.1:port` (nor on every address with that port).
pub(crate) fn port_is_free(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_round_trips_and_socket_dir_is_quoted() {
        let dir =
            std::env::temp_dir().join(format!("pgready-settings-it's-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let user = ServerUser::for_this_process().unwrap();
        write(&dir, 54321, &user, Durability::Production).unwrap();
        assert_eq!(read_port(&dir), Some(54321));
        assert_eq!(read_durability(&dir), Durability::Production);
        assert!(
            !std::fs::read_to_string(dir.join(CONF_FILE))
                .unwrap()
                .contains("fsync")
        );
        write(&dir, 54322, &user, Durability::ThrowAway).unwrap();
        assert_eq!(read_durability(&dir), Durability::ThrowAway);
        write(&dir, 54321, &user, Durability::Production).unwrap();
        let text = std::fs::read_to_string(dir.join(CONF_FILE)).unwrap();
        assert!(text.contains("pgready-settings-it''s-"), "{text}");
        assert!(text.contains("listen_addresses = '127.0.0.1'"), "{text}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn taken_port_is_not_free() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(!port_is_free(port));
        drop(listener);
        assert!(port_is_free(port));
        assert_ne!(free_port().unwrap(), 0);
    }
}
