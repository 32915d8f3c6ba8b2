//! The command line, as clap parses it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Production-ready PostgreSQL for sqlx services: migrations from the command line.
#[derive(Debug, Parser)]
#[command(name = "pgready", version, about)]
pub struct Cli {
    /// The configuration file [default: ./pgready.toml; when that file is missing, every
    /// setting takes its default]. Paths in it are relative to its directory.
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Adopt pgready in an existing sqlx crate: write pgready.toml, the release ledger of the
    /// existing migrations and build.rs, and say what was found.
    Init(InitArgs),
    /// Create, apply, revert, inspect, lint and lock migrations.
    #[command(subcommand)]
    Migrate(Migrate),
    /// The schema the migrations build, replayed without a database, and its drift from one.
    #[command(subcommand)]
    Schema(Schema),
}

#[derive(Debug, Subcommand)]
pub enum Schema {
    /// Print the schema the migrations build: tables, columns, constraints, indexes, enums,
    /// domains, views, and the statements the replay could not see into.
    Show(SchemaShowArgs),
    /// Compare the migrations' schema with the database (DSN from `[database] url_env`); exit
    /// 1 on drift.
    Diff(SchemaDiffArgs),
}

#[derive(Debug, Args)]
pub struct SchemaShowArgs {
    /// Output format: indented text, or the whole replay (catalog and per-statement outcomes)
    /// as JSON.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct SchemaDiffArgs {
    /// Also count as drift the differences an opaque statement (a `DO` block, …) may explain.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The crate's folder [default: the working directory].
    pub path: Option<PathBuf>,
    /// Rewrite pgready.toml, the ledger and build.rs even when they exist.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum Migrate {
    /// Create a new migration file named `<UTC timestamp>_<description>.sql`.
    Add(AddArgs),
    /// Apply every pending migration (DSN from `[database] url_env`).
    Run,
    /// Revert the newest applied migration with its `.down.sql`.
    Revert,
    /// Show every version with its state: applied, pending, checksum mismatch, missing locally,
    /// failed.
    Status(StatusArgs),
    /// Check every migration for unsafe SQL with the `[migrations.lints]` levels.
    Lint(LintArgs),
    /// Record new migrations in the release ledger (`[migrations] ledger`).
    Lock(LockArgs),
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// What the migration does, e.g. `create_items` or "add price to items".
    pub description: String,
    /// Create a `.up.sql` and `.down.sql` pair, so `pgready migrate revert` can undo it.
    #[arg(long, short)]
    pub reversible: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Exit with status 1 unless every version is applied cleanly (for CI).
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// The migrations directory [default: `[migrations] dir` of the configuration].
    pub dir: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// `file:line: level[rule]: message`, one finding per line.
    Text,
    /// A JSON array of `{"file","line","rule","level","message"}` objects.
    Json,
}

#[derive(Debug, Args)]
pub struct LockArgs {
    /// Accept the current contents of a released migration that was edited on purpose
    /// (repeatable).
    #[arg(long, value_name = "VERSION")]
    pub accept: Vec<i64>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    #[test]
    fn the_command_line_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
