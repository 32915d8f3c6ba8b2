//! `pgready`: the command-line companion of the pgready crate.
//!
//! `pgready init` adopts pgready in an existing sqlx crate; `pgready migrate
//! add|run|revert|status|lint|lock` works on the same `pgready.toml` and the same
//! migrations directory as the service, through the same `pgready-core` and runtime functions the
//! service runs at compile time and at start-up. `pgready backup|restore` run the production
//! runbook's backups, and `pgready db reset` resets a development database with PostgreSQL's own `pg_dump` and `pg_restore`.
//!
//! Exit codes: 0 ok, 1 a problem was found or the operation failed (the message is on stderr),
//! 2 a usage error.

mod alerts;
mod args;
mod backup;
mod db;
mod doctor;
mod failure;
mod init;
mod migrate;
mod output;
mod pool_size;
mod postgres;
mod progress;
mod project;
mod schema;
mod schema_live;
mod tune;

use std::process::ExitCode;

use clap::Parser as _;

use args::{Cli, Command};
use failure::Failure;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Init(args) => init::run(&args),
        Command::Migrate(cmd) => migrate::run(cli.config.as_deref(), cmd),
        Command::Schema(cmd) => schema::run(cli.config.as_deref(), cmd),
        Command::Backup(args) => backup::run(cli.config.as_deref(), args),
        Command::Restore(args) => backup::restore::run(cli.config.as_deref(), &args),
        Command::Tune(args) => tune::run(cli.config.as_deref(), &args),
        Command::PoolSize(args) => pool_size::run(cli.config.as_deref(), &args),
        Command::Doctor(args) => doctor::run(cli.config.as_deref(), &args),
        Command::Alerts(args) => alerts::run(cli.config.as_deref(), &args),
        Command::Db(cmd) => db::run(cli.config.as_deref(), &cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Reported) => ExitCode::FAILURE,
        Err(Failure::Error(message)) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
        Err(Failure::Usage(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}
