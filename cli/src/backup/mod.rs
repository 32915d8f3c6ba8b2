//! `pgready backup | backup list | backup prune | backup verify | restore`: the runbook's
//! backups, with PostgreSQL's own `pg_dump` and `pg_restore` of the server's major version
//! (`pgready::embedded::ClientTools`), into and from `[backup] dir`.

mod create;
mod list;
pub mod manifest;
mod prune;
pub mod restore;
pub mod store;
mod verify;

use std::path::{Path, PathBuf};

use pgready_core::project;

use crate::args::{Backup, BackupArgs};
use crate::failure::Failure;
use crate::project::Project;

/// Runs `pgready backup` or one of its subcommands.
pub fn run(config: Option<&Path>, args: BackupArgs) -> Result<(), Failure> {
    let project = Project::load(config, None)?;
    match args.command {
        None => create::run(&project, &args.create),
        Some(Backup::List(a)) => list::run(&project, a.format),
        Some(Backup::Prune(a)) => prune::run(&project, &a),
        Some(Backup::Verify(a)) => verify::run(&project, &a),
    }
}

/// `[backup] dir`, relative to the configuration file.
pub fn dir(project: &Project) -> PathBuf {
    project::resolve(&project.root, &project.config.backup.dir)
}

/// Runs `f` to completion on a single-threaded runtime (child processes and the database
/// connection share it).
pub fn block_on<T>(f: impl Future<Output = Result<T, Failure>>) -> Result<T, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Error(format!("cannot start the async runtime: {e}")))?
        .block_on(f)
}
