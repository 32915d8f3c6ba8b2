//! `pgready migrate …`: one file per subcommand.

mod add;
pub mod database;
mod lint;
mod lock;

use std::path::Path;

use crate::args::Migrate;
use crate::failure::Failure;
use crate::project::Project;

/// Runs one `pgready migrate` subcommand.
pub fn run(config: Option<&Path>, cmd: Migrate) -> Result<(), Failure> {
    let dir = match &cmd {
        Migrate::Lint(args) => args.dir.as_deref(),
        _ => None,
    };
    let project = Project::load(config, dir)?;
    match cmd {
        Migrate::Add(args) => add::run(&project, &args),
        Migrate::Run => database::run(&project),
        Migrate::Revert => database::revert(&project),
        Migrate::Status(args) => database::status(&project, &args),
        Migrate::Lint(args) => lint::run(&project, &args),
        Migrate::Lock(args) => lock::run(&project, &args),
    }
}
