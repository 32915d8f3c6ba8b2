//! The command line, as clap parses it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Production-ready PostgreSQL for sqlx services: migrations, schema and the production runbook
/// from the command line.
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
    /// Dump the database with `pg_dump` into `[backup] dir`, with a manifest beside the dump;
    /// `backup list|prune|verify` manage the dumps.
    Backup(BackupArgs),
    /// Restore a backup with `pg_restore` into a database, after checking its checksum.
    Restore(RestoreArgs),
    /// Recommended `postgresql.conf` values (PGTune's formulas) for the machine and workload;
    /// with `--live`, only what the database's `pg_settings` has differently.
    Tune(TuneArgs),
    /// Pool sizes from the expected load (Little's law plus headroom), and whether every
    /// instance's pools fit the server's `max_connections`.
    PoolSize(PoolSizeArgs),
    /// The production checklist against the live database: each check with its status, the
    /// evidence and the fix. Exits 1 when a check fails.
    Doctor(DoctorArgs),
    /// Prometheus alerting rules over pgready's metrics (each with its runbook: the matching
    /// `doctor` check), and a Grafana dashboard.
    Alerts(AlertsArgs),
    /// The development database as a whole: `db reset` drops, recreates and migrates it.
    #[command(subcommand)]
    Db(Db),
}

#[derive(Debug, Subcommand)]
pub enum Db {
    /// Drop the DSN's database, create it again and apply the migrations; with `--data-only`,
    /// empty every table but the migrations table instead. For development databases: refused
    /// under the `production` profile and on `[database] protected` names or hosts. A dry run
    /// unless `--yes`.
    Reset(ResetArgs),
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    /// Keep the schema: `TRUNCATE` every table but the migrations table, restarting identities
    /// and sequences they own (`RESTART IDENTITY CASCADE`).
    #[arg(long)]
    pub data_only: bool,
    /// Do it; without it, only say what would be done.
    #[arg(long)]
    pub yes: bool,
    #[command(flatten)]
    pub output: FormatArgs,
}

#[derive(Debug, Args)]
pub struct AlertsArgs {
    /// Write `pgready-alerts.yml` and `pgready-dashboard.json` into this directory instead of
    /// printing the rules.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print the Grafana dashboard instead of the rules.
    #[arg(long, conflicts_with = "out")]
    pub dashboard: bool,
    #[command(flatten)]
    pub output: FormatArgs,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// A session active or idle in a transaction longer than this is reported (pghero's
    /// `long_running_query_sec`).
    #[arg(long, value_name = "DURATION", default_value = "1m", value_parser = parse_duration)]
    pub long_running: std::time::Duration,
    /// The server's RAM: also compare the settings with `pgready tune`'s advice.
    #[arg(long, value_name = "AMOUNT")]
    pub memory: Option<String>,
    /// Service instances, for the connection budget.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub instances: u32,
    #[command(flatten)]
    pub output: FormatArgs,
}

#[derive(Debug, Args)]
pub struct PoolSizeArgs {
    /// Requests per second over all instances that use the write pool [default: size from
    /// `[pool] max_connections` instead].
    #[arg(long, value_name = "N")]
    pub rps: Option<f64>,
    /// How long a request holds its connection, e.g. `20ms`.
    #[arg(long, value_name = "DURATION", default_value = "20ms", value_parser = parse_duration)]
    pub hold: std::time::Duration,
    /// Requests per second over all instances that use the read pool [default: size from
    /// `[read_pool] max_connections` instead].
    #[arg(long, value_name = "N")]
    pub read_rps: Option<f64>,
    /// How long a read holds its connection [default: `--hold`].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub read_hold: Option<std::time::Duration>,
    /// Service instances (processes), each with its own pools.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub instances: u32,
    /// Spare capacity on top of the average (0.5 = 50% more connections than Little's law).
    #[arg(long, value_name = "FRACTION", default_value_t = 0.5)]
    pub headroom: f64,
    /// The read pool connects to a replica, so only the write pool counts against this
    /// server.
    #[arg(long)]
    pub replica: bool,
    /// The server's `max_connections` [default: `[database] server_max_connections`, or the
    /// server's with `--live`].
    #[arg(long, value_name = "N")]
    pub server_max_connections: Option<u32>,
    /// Slots only superusers (and `pg_use_reserved_connections`) may use [default:
    /// `[database] reserved_connections`, or the server's with `--live`].
    #[arg(long, value_name = "N")]
    pub reserved: Option<u32>,
    /// Read `max_connections` and the reserved slots from the database (DSN from
    /// `[database] url_env`).
    #[arg(long)]
    pub live: bool,
    #[command(flatten)]
    pub output: FormatArgs,
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("{e}: write it as `20ms` or `1s`"))
}

#[derive(Debug, Args)]
pub struct TuneArgs {
    /// The server's RAM, e.g. `16GB`, `512MB`.
    #[arg(long, value_name = "AMOUNT")]
    pub memory: String,
    /// The server's CPUs (parallel workers; none below 4).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub cpus: Option<u32>,
    /// The connections to allow [default: PGTune's for the workload].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub connections: Option<u32>,
    /// The data directory's storage.
    #[arg(long, value_enum, default_value_t = crate::tune::Storage::Ssd)]
    pub storage: crate::tune::Storage,
    /// What the database mostly does.
    #[arg(long, value_enum, default_value_t = crate::tune::Workload::Web)]
    pub workload: crate::tune::Workload,
    /// The server's operating system.
    #[arg(long, value_enum, default_value_t = crate::tune::Os::Linux)]
    pub os: crate::tune::Os,
    /// The PostgreSQL major version [default: the server's with `--live`, else 18].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(10..))]
    pub pg_version: Option<u32>,
    /// Compare with the database's `pg_settings` (DSN from `[database] url_env`): show only
    /// what differs, and exit 1 when anything does.
    #[arg(long)]
    pub live: bool,
    /// How far a number may be from the advice and still count as equal (0.1 = 10%).
    #[arg(long, value_name = "FRACTION", default_value_t = 0.1)]
    pub tolerance: f64,
    /// Print `ALTER SYSTEM SET …;` statements instead of `postgresql.conf` lines.
    #[arg(long)]
    pub alter_system: bool,
    #[command(flatten)]
    pub output: FormatArgs,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BackupArgs {
    #[command(subcommand)]
    pub command: Option<Backup>,
    #[command(flatten)]
    pub create: BackupCreateArgs,
}

#[derive(Debug, Subcommand)]
pub enum Backup {
    /// List the backups in `[backup] dir`, newest first, with their last verification.
    List(FormatArgs),
    /// Delete old backups: keep the newest `--keep` (`[backup] keep`) and those younger than
    /// `--keep-days` (`[backup] keep_days`), and always the newest verified one. A dry run
    /// unless `--yes`.
    Prune(PruneArgs),
    /// Restore a backup (the newest by default) into a scratch database, check its checksum,
    /// row counts and migrations, drop the scratch database and record the result beside the
    /// backup.
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub struct BackupCreateArgs {
    /// Dump only this table (`name` or `schema.name`, as SQL resolves it with the search path
    /// `[session] schema`); repeatable.
    #[arg(long, value_name = "TABLE")]
    pub table: Vec<String>,
    #[command(flatten)]
    pub output: FormatArgs,
}

#[derive(Debug, Args)]
pub struct FormatArgs {
    /// Output format: lines for people, or one JSON document on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Keep the newest N backups [default: `[backup] keep`].
    #[arg(long, value_name = "N")]
    pub keep: Option<u32>,
    /// Also keep every backup completed within D days [default: `[backup] keep_days`].
    #[arg(long, value_name = "D", value_parser = clap::value_parser!(u32).range(1..))]
    pub keep_days: Option<u32>,
    /// Delete; without it, only say what would be deleted.
    #[arg(long)]
    pub yes: bool,
    #[command(flatten)]
    pub output: FormatArgs,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The backup: its name (as `backup list` shows it) or the path of its dump or manifest
    /// [default: the newest].
    pub backup: Option<String>,
    #[command(flatten)]
    pub output: FormatArgs,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup: its name (as `backup list` shows it) or the path of its dump or manifest
    /// [default: the newest].
    pub backup: Option<String>,
    /// The database to restore into [default: the DSN's database].
    #[arg(long, short = 'd', value_name = "NAME")]
    pub database: Option<String>,
    /// Create the database first (with `--clean`: drop it first if it exists).
    #[arg(long, short = 'C')]
    pub create: bool,
    /// Drop the backup's objects before recreating them (`pg_restore --clean --if-exists`).
    #[arg(long, short = 'c')]
    pub clean: bool,
    /// Restore into (or drop) a database that is not empty.
    #[arg(long)]
    pub force: bool,
    /// Do not restore ownership (`pg_restore --no-owner`): objects belong to the DSN's role.
    #[arg(long)]
    pub no_owner: bool,
    #[command(flatten)]
    pub output: FormatArgs,
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
    /// Lines for people (`migrate lint`: `file:line: level[rule]: message`).
    Text,
    /// One JSON document on stdout (`migrate lint`: an array of
    /// `{"file","line","rule","level","message"}` objects).
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
