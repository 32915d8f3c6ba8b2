//! `pgready migrate …`: one file per subcommand.

mod add;
mod database;
mod lint;
mod lock;

use std::path::Path;

use pgready_core::migrations::{self, Migration, MigrationError};

use crate::args::Migrate;
use crate::failure::{Failure, report};
use crate::project::Project;

/// Runs one `pgready migrate` subcommand.
pub fn run(config: Option<&Path>, cmd: Migrate) -> Result<(), Failure> {
    let project = Project::load(config)?;
    match cmd {
        Migrate::Add(args) => add::run(&project, &args),
        Migrate::Run => database::run(&project),
        Migrate::Revert => database::revert(&project),
        Migrate::Status(args) => database::status(&project, &args),
        Migrate::Lint(args) => lint::run(&project, &args),
        Migrate::Lock(args) => lock::run(&project, &args),
    }
}

/// Every migration in `dir`, or every problem with the directory's files, printed.
///
/// The same discovery the macro runs at compile time, reading what sqlx reads: what sqlx refuses
/// (a version that is not an integer, a duplicate version, a file that is not UTF-8) stops every
/// subcommand that reads the directory.
fn discover(dir: &Path) -> Result<Vec<Migration>, Failure> {
    migrations::discover(dir, &migrations::Resolve::default()).map_err(|errors| {
        let shown: Vec<String> = errors.iter().map(|e| located(dir, e)).collect();
        report(&shown)
    })
}

/// `dir/file:line: message`, so the path is usable from the working directory.
fn located(dir: &Path, error: &MigrationError) -> String {
    // An error about the directory itself already names it.
    let path = if error.file == dir.display().to_string() {
        dir.to_path_buf()
    } else {
        dir.join(&error.file)
    };
    match error.line {
        0 => format!("{}: {}", path.display(), error.message),
        line => format!("{}:{line}: {}", path.display(), error.message),
    }
}
