//! Running `initdb` and `pg_ctl` as the server's OS user.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use super::EmbeddedError;
use super::binaries::Binaries;
use super::postmaster::{self, PidFile};
use super::user::ServerUser;

/// The name of the superuser every cluster is created with.
pub(crate) const SUPERUSER: &str = "pgready";

/// How `pg_ctl stop` shuts the server down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopMode {
    /// Disconnect clients, checkpoint, exit.
    Fast,
    /// Exit at once; crash recovery on the next start. For stale clusters about to be removed.
    Immediate,
}

impl StopMode {
    fn as_arg(self) -> &'static str {
        match self {
            Self::Fast => "fast",
            Self::Immediate => "immediate",
        }
    }
}

/// The binaries and the OS user that runs them.
#[derive(Debug, Clone)]
pub(crate) struct Ctl {
    pub(crate) binaries: Binaries,
    pub(crate) user: ServerUser,
}

impl Ctl {
    pub(crate) fn discover() -> Result<Self, EmbeddedError> {
        Ok(Self {
            binaries: Binaries::discover()?,
            user: ServerUser::for_this_process()?,
        })
    }

    /// Creates the cluster in `data_dir` with the superuser password read from `password_file`.
    /// `sync = false` skips initdb's final fsync, for clusters that die with their process.
    pub(crate) fn initdb(
        &self,
        cwd: &Path,
        data_dir: &Path,
        password_file: &Path,
        sync: bool,
    ) -> Result<(), EmbeddedError> {
        let mut command = self.user.command(&self.binaries.initdb(), cwd);
        command
            .arg("--pgdata")
            .arg(data_dir)
            .args(["--username", SUPERUSER])
            .arg(format!("--pwfile={}", password_file.display()))
            .args(["--encoding=UTF8", "--locale=C"])
            .args(["--auth-local=trust", "--auth-host=scram-sha-256"]);
        if !sync {
            command.arg("--no-sync");
        }
        let output = run(command, &self.binaries.initdb())?;
        if output.status.success() {
            Ok(())
        } else {
            Err(EmbeddedError::Initdb {
                data_dir: data_dir.to_path_buf(),
                user: self.user.name().to_owned(),
                output: tail(&printed(&output), 20),
            })
        }
    }

    /// `pg_ctl start -w`: returns whether the server came up, and what pg_ctl printed.
    pub(crate) fn start(
        &self,
        cwd: &Path,
        data_dir: &Path,
        log_file: &Path,
        timeout: Duration,
    ) -> Result<(bool, String), EmbeddedError> {
        let mut command = self.user.command(&self.binaries.pg_ctl(), cwd);
        command
            .arg("start")
            .arg("--pgdata")
            .arg(data_dir)
            .arg("--log")
            .arg(log_file)
            .args(["--wait", "--silent", "--timeout"])
            .arg(timeout.as_secs().max(1).to_string());
        let output = run(command, &self.binaries.pg_ctl())?;
        Ok((output.status.success(), printed(&output)))
    }

    /// `pg_ctl stop -w`; Ok when no server runs in `data_dir` afterwards.
    pub(crate) fn stop(
        &self,
        cwd: &Path,
        data_dir: &Path,
        mode: StopMode,
        timeout: Duration,
    ) -> Result<(), EmbeddedError> {
        let Some(pid_file) = PidFile::read(data_dir) else {
            return Ok(());
        };
        if !postmaster::process_alive(pid_file.pid) {
            return Ok(());
        }
        // A test may have frozen the server with SIGSTOP (`Cluster::pause`); a stopped process
        // never handles the shutdown signal, and a stopped backend never exits.
        postmaster::signal_tree(pid_file.pid, libc::SIGCONT);
        let mut command = self.user.command(&self.binaries.pg_ctl(), cwd);
        command
            .arg("stop")
            .arg("--pgdata")
            .arg(data_dir)
            .args(["--mode", mode.as_arg(), "--wait", "--silent", "--timeout"])
            .arg(timeout.as_secs().max(1).to_string());
        let output = run(command, &self.binaries.pg_ctl())?;
        if output.status.success() || !postmaster::process_alive(pid_file.pid) {
            Ok(())
        } else {
            Err(EmbeddedError::Stop {
                data_dir: data_dir.to_path_buf(),
                output: printed(&output).trim().to_owned(),
            })
        }
    }
}

impl Ctl {
    /// `pg_basebackup -R` of the server on `127.0.0.1:port` into `data_dir`: streams the WAL it
    /// needs, creates the replication slot `slot` on the primary and writes `standby.signal`
    /// and `primary_conninfo` (with the password), so the copy starts as its streaming replica.
    pub(crate) fn basebackup(
        &self,
        cwd: &Path,
        port: u16,
        password: &str,
        data_dir: &Path,
        slot: &str,
    ) -> Result<(), EmbeddedError> {
        let program = self
            .binaries
            .pg_basebackup()
            .ok_or_else(|| EmbeddedError::Replica {
                data_dir: data_dir.to_path_buf(),
                output: format!(
                    "no `pg_basebackup` in `{}`: install PostgreSQL's client binaries of the same \
                     version (Debian: `postgresql-client-<version>`)",
                    self.binaries.dir().display()
                ),
            })?;
        let mut command = self.user.command(&program, cwd);
        command
            .args(["--host", "127.0.0.1", "--port"])
            .arg(port.to_string())
            .args(["--username", SUPERUSER, "--no-password"])
            .arg("--pgdata")
            .arg(data_dir)
            .args(["--write-recovery-conf", "--create-slot", "--slot", slot])
            .args(["--wal-method=stream", "--checkpoint=fast", "--no-sync"])
            .env("PGPASSWORD", password);
        let output = run(command, &program)?;
        if output.status.success() {
            Ok(())
        } else {
            Err(EmbeddedError::Replica {
                data_dir: data_dir.to_path_buf(),
                output: format!("pg_basebackup said:\n{}", tail(&printed(&output), 20)),
            })
        }
    }

    /// `pg_ctl promote -w`: the standby in `data_dir` ends recovery and becomes a primary.
    pub(crate) fn promote(
        &self,
        cwd: &Path,
        data_dir: &Path,
        timeout: Duration,
    ) -> Result<(), EmbeddedError> {
        let mut command = self.user.command(&self.binaries.pg_ctl(), cwd);
        command
            .arg("promote")
            .arg("--pgdata")
            .arg(data_dir)
            .args(["--wait", "--silent", "--timeout"])
            .arg(timeout.as_secs().max(1).to_string());
        let output = run(command, &self.binaries.pg_ctl())?;
        if output.status.success() {
            Ok(())
        } else {
            Err(EmbeddedError::Promote {
                data_dir: data_dir.to_path_buf(),
                output: printed(&output).trim().to_owned(),
            })
        }
    }
}

fn run(mut command: Command, program: &Path) -> Result<Output, EmbeddedError> {
    command.output().map_err(|source| EmbeddedError::Spawn {
        program: program.to_path_buf(),
        source,
    })
}

fn printed(output: &Output) -> String {
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    text
}

/// The last `lines` lines of `text`.
pub(crate) fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.trim_end().lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
