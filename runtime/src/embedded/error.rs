//! What can go wrong while finding, creating, starting or stopping an embedded cluster.

use std::io;
use std::path::PathBuf;

/// Why an embedded PostgreSQL cluster could not be found, created, started or stopped.
///
/// Every message names the thing to fix. None of them contains the superuser password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmbeddedError {
    /// No directory holding `initdb`, `pg_ctl` and `postgres` was found.
    #[error(
        "no PostgreSQL server binaries (`initdb`, `pg_ctl`, `postgres`) found; looked at: {}; \
         install the PostgreSQL server binaries (e.g. `apt-get install postgresql`) or set \
         PGREADY_PG_BIN to the directory that holds them",
        .searched.join("; ")
    )]
    BinariesNotFound {
        /// Each place looked at, with why it did not fit.
        searched: Vec<String>,
    },

    /// `PGREADY_PG_BIN` is set but does not hold the server binaries.
    #[error(
        "PGREADY_PG_BIN=`{}` lacks {}: install the PostgreSQL server binaries (e.g. `apt-get \
         install postgresql`) or set PGREADY_PG_BIN to the directory that holds `initdb`, \
         `pg_ctl` and `postgres` (the one `pg_config --bindir` prints)",
        .dir.display(),
        .missing.join(", ")
    )]
    InvalidPgBin {
        /// The value of `PGREADY_PG_BIN`.
        dir: PathBuf,
        /// The binaries it lacks.
        missing: Vec<&'static str>,
    },

    /// No `pg_dump`/`pg_restore` of a major version that can work with the server was found.
    #[error(
        "no `pg_dump` and `pg_restore` for PostgreSQL {server_major} found; looked at: {}; \
         install PostgreSQL {server_major}'s client tools (e.g. `apt-get install \
         postgresql-client-{server_major}`; a newer major version works too) or set \
         PGREADY_PG_BIN to the directory that holds them",
        .searched.join("; ")
    )]
    ClientToolsNotFound {
        /// The server's major version.
        server_major: u32,
        /// Each place looked at, with what it holds.
        searched: Vec<String>,
    },

    /// Running as root, and no unprivileged OS user exists to run the server as.
    #[error(
        "running as root and neither the `postgres` nor the `nobody` OS user exists, while \
         PostgreSQL refuses to run as root: create one (`useradd --system postgres`) or run as \
         a non-root user"
    )]
    NoUnprivilegedUser,

    /// The OS user that runs the server cannot enter a directory on the way to the cluster.
    #[error(
        "OS user `{user}`, which runs PostgreSQL, cannot enter `{}`: make it searchable for \
         that user (e.g. `chmod o+x {}`) or keep the cluster under the temp dir",
        .dir.display(),
        .dir.display()
    )]
    Unreachable {
        /// The directory it cannot enter.
        dir: PathBuf,
        /// The OS user that runs the server.
        user: String,
    },

    /// [`Cluster::shared`](super::Cluster::shared) was given a directory holding other files.
    #[error(
        "`{}` is not empty and holds no pgready cluster: pass `Cluster::shared` a directory of \
         its own",
        .dir.display()
    )]
    NotACluster {
        /// The directory given.
        dir: PathBuf,
    },

    /// A cluster directory lacks a file pgready wrote when it created the cluster.
    #[error("the cluster in `{}` is damaged ({reason}): remove that directory to recreate it", .dir.display())]
    Damaged {
        /// The cluster directory.
        dir: PathBuf,
        /// What is missing or unreadable.
        reason: String,
    },

    /// A file-system operation failed.
    #[error("could not {action} `{}`: {source}; check its permissions and the free disk space", .path.display())]
    Io {
        /// What was being done, e.g. `create directory`.
        action: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },

    /// A PostgreSQL binary could not be run at all.
    #[error(
        "could not run `{}`: {source}; check that the PostgreSQL installation is complete or \
         point PGREADY_PG_BIN at a working one",
        .program.display()
    )]
    Spawn {
        /// The binary.
        program: PathBuf,
        /// The OS error.
        source: io::Error,
    },

    /// `initdb` failed.
    #[error(
        "initdb failed for `{}`; check that OS user `{user}` can write there and that the disk \
         has space; initdb said:\n{output}",
        .data_dir.display()
    )]
    Initdb {
        /// The data directory.
        data_dir: PathBuf,
        /// The OS user initdb ran as.
        user: String,
        /// What initdb printed (its last lines).
        output: String,
    },

    /// The server did not start or did not become ready.
    #[error(
        "PostgreSQL in `{}` did not start: {reason}; the server log `{}` ends with:\n{log_tail}",
        .data_dir.display(),
        .log_file.display()
    )]
    Start {
        /// The data directory.
        data_dir: PathBuf,
        /// What failed and what to do about it.
        reason: String,
        /// The server log file.
        log_file: PathBuf,
        /// Its last lines.
        log_tail: String,
    },

    /// The server did not stop.
    #[error(
        "PostgreSQL in `{}` did not stop: {output}; stop it by hand with `pg_ctl stop -m \
         immediate -D {}`",
        .data_dir.display(),
        .data_dir.display()
    )]
    Stop {
        /// The data directory.
        data_dir: PathBuf,
        /// What `pg_ctl stop` printed.
        output: String,
    },

    /// A streaming replica could not be made.
    #[error("could not make a streaming replica in `{}`: {output}", .data_dir.display())]
    Replica {
        /// The replica's data directory.
        data_dir: PathBuf,
        /// What failed, with what the tool printed.
        output: String,
    },

    /// `pg_ctl promote` failed.
    #[error(
        "could not promote the replica in `{}`: {output}; its server log says why",
        .data_dir.display()
    )]
    Promote {
        /// The replica's data directory.
        data_dir: PathBuf,
        /// What `pg_ctl promote` printed.
        output: String,
    },

    /// No `pgbouncer` binary was found.
    #[error(
        "no `pgbouncer` binary found; looked at: {}; install PgBouncer (e.g. `apt-get install \
         pgbouncer`) or set PGREADY_PGBOUNCER to the binary's path",
        .searched.join("; ")
    )]
    PgBouncerNotFound {
        /// Each place looked at.
        searched: Vec<String>,
    },

    /// PgBouncer did not start or did not accept connections in time.
    #[error(
        "PgBouncer did not start: {reason}; its log `{}` ends with:\n{log_tail}",
        .log_file.display()
    )]
    PgBouncerStart {
        /// What failed.
        reason: String,
        /// PgBouncer's log file.
        log_file: PathBuf,
        /// Its last lines.
        log_tail: String,
    },
}

impl EmbeddedError {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
