//! `pgready db …`: the development database as a whole.

mod reset;

use std::path::Path;

use crate::args::Db;
use crate::failure::Failure;
use crate::project::Project;

/// Runs one `pgready db` subcommand.
pub fn run(config: Option<&Path>, cmd: &Db) -> Result<(), Failure> {
    let project = Project::load(config, None)?;
    match cmd {
        Db::Reset(args) => reset::run(&project, args),
    }
}
