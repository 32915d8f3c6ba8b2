//! `pgready backup verify [BACKUP]`: the restore test. The dump's checksum is checked, the dump
//! is restored into a scratch database on the DSN's server, each table's rows are counted and
//! compared with the exact counts the manifest recorded, the restored migrations table is
//! compared with the project's migrations (`[migrations] dir`, what the service's binary
//! embeds), and the scratch database is dropped. The result is appended to
//! `<name>.verify.json` beside the backup, where `backup list`, `backup prune` (which always
//! keeps the newest verified backup) and `doctor` read it.
//!
//! The restore runs with `--no-owner --no-privileges`, as the DSN's role: it proves the data,
//! not the roles of the server it came from. A backup of chosen tables (`--table`) is restored
//! without its post-data section (constraints, indexes), which may reference tables it does
//! not hold. A failure to reach the server (or to create the
//! scratch database) is an error of the run, not of the backup, and is not recorded.

use std::time::{Instant, SystemTime};

use pgready::migrate::{Migrator, State};
use pgready::sqlx::{self, Connection as _, PgConnection};
use pgready_core::migrations::Migration;
use serde::Serialize;

use super::manifest::{self, Scope, Verification};
use super::restore::{self, Options};
use super::store::{Entry, Store};
use crate::args::{Format, VerifyArgs};
use crate::failure::Failure;
use crate::output;
use crate::postgres::catalog::{self, Table, quote};
use crate::postgres::{Server, server};
use crate::project::Project;

/// What the checks found.
#[derive(Debug, Default)]
struct Checked {
    problems: Vec<String>,
    notes: Vec<String>,
    tables: usize,
    rows: i64,
}

#[derive(Serialize)]
struct Report<'a> {
    backup: &'a str,
    verification: &'a Verification,
    notes: &'a [String],
}

pub fn run(project: &Project, args: &VerifyArgs) -> Result<(), Failure> {
    let format = args.output.format;
    let dir = super::dir(project);
    let mut entry = Store::read(&dir)?.pick(&dir, args.backup.as_deref())?;
    let clock = Instant::now();
    let checked = match manifest::check(&entry.dump_path, &entry.manifest, format) {
        Err(problem) => Checked {
            problems: vec![problem],
            ..Checked::default()
        },
        Ok(()) => {
            let migrations = match entry.manifest.scope {
                Scope::Database => Some(project.migrations()?),
                Scope::Tables => None,
            };
            let server = Server::of(project)?;
            super::block_on(check(project, &server, &entry, migrations, format))?
        }
    };
    let verification = Verification {
        verified_at: output::timestamp(SystemTime::now()),
        ok: checked.problems.is_empty(),
        duration_ms: output::millis(clock.elapsed()),
        problems: checked.problems,
        tables_checked: checked.tables,
        rows_checked: checked.rows,
    };
    entry.record(verification.clone())?;
    match format {
        Format::Json => output::json(&Report {
            backup: &entry.name,
            verification: &verification,
            notes: &checked.notes,
        })?,
        Format::Text => {
            for note in &checked.notes {
                println!("note: {note}");
            }
            if verification.ok {
                println!(
                    "verified {}: checksum, {} table(s) with {} row(s){} match ({}); recorded \
                     in {}",
                    entry.name,
                    verification.tables_checked,
                    verification.rows_checked,
                    match entry.manifest.scope {
                        Scope::Database => " and the migrations",
                        Scope::Tables => "",
                    },
                    output::duration(clock.elapsed()),
                    entry.verifications_path().display()
                );
            }
        }
    }
    if verification.ok {
        Ok(())
    } else {
        for problem in &verification.problems {
            eprintln!("error: {problem}");
        }
        eprintln!(
            "error: backup {} failed verification; recorded in {}",
            entry.name,
            entry.verifications_path().display()
        );
        Err(Failure::Reported)
    }
}

/// Restores into a scratch database, compares, and drops the scratch database on every path.
async fn check(
    project: &Project,
    server: &Server,
    entry: &Entry,
    migrations: Option<Vec<Migration>>,
    format: Format,
) -> Result<Checked, Failure> {
    let mut admin = server.connect_admin().await?;
    let version = server::version(&mut admin).await?;
    let tools = restore::tools_for(&version, entry)?;
    let scratch = scratch_name();
    catalog::create_database(&mut admin, &scratch).await?;
    let result = async {
        let options = Options {
            clean: false,
            no_owner: true,
            no_privileges: true,
            without_post_data: entry.manifest.scope == Scope::Tables,
        };
        if let Err(e) = restore::pg_restore(server, &tools, entry, &scratch, options, format).await
        {
            let message = match e {
                Failure::Error(m) | Failure::Usage(m) => m,
                Failure::Reported => "pg_restore failed".to_owned(),
            };
            return Ok(Checked {
                problems: vec![format!("the dump does not restore: {message}")],
                ..Checked::default()
            });
        }
        let mut conn = server.connect(&scratch).await?;
        let compared = compare(project, &mut conn, entry, migrations).await;
        let _ = conn.close().await;
        compared
    }
    .await;
    // PostgreSQL 13+ ends any session still on the scratch database
    let dropped = catalog::drop_database(&mut admin, &scratch, version.num >= 130_000).await;
    let _ = admin.close().await;
    let checked = result?;
    dropped?;
    Ok(checked)
}

/// Row counts per table, then the migrations table.
async fn compare(
    project: &Project,
    conn: &mut PgConnection,
    entry: &Entry,
    migrations: Option<Vec<Migration>>,
) -> Result<Checked, Failure> {
    let cfg = &project.config;
    let mut checked = Checked::default();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "SET statement_timeout = 0; SET search_path = {}",
        quote(&cfg.session.schema)
    )))
    .execute(&mut *conn)
    .await
    .map_err(|e| Failure::Error(format!("cannot prepare the scratch connection: {e}")))?;
    for t in &entry.manifest.tables {
        let table = Table {
            schema: t.schema.clone(),
            name: t.name.clone(),
            estimate: None,
        };
        checked.tables += 1;
        match catalog::count(conn, &table).await {
            Ok(n) if n == t.rows => checked.rows += n,
            Ok(n) => checked.problems.push(format!(
                "{}: {n} row(s) restored, the manifest records {}",
                table.quoted(),
                t.rows
            )),
            Err(e) => checked.problems.push(format!(
                "{}: cannot count the restored rows: {e}",
                table.quoted()
            )),
        }
    }
    let Some(migrations) = migrations else {
        checked.notes.push(
            "a backup of chosen tables (`--table`): restored without its constraints and \
             indexes (they may reference tables it does not hold), and the migrations table is \
             not compared"
                .to_owned(),
        );
        return Ok(checked);
    };
    let table = &entry.manifest.migrations_table;
    let restored_version = catalog::migration_version(conn, table).await?;
    if restored_version != entry.manifest.migration_version {
        checked.problems.push(format!(
            "the restored `{table}` is at version {}, the manifest records {}",
            show(restored_version),
            show(entry.manifest.migration_version)
        ));
    }
    let migrator = Migrator::new(migrations, &cfg.migrations);
    let statuses = migrator
        .status(conn)
        .await
        .map_err(|e| Failure::Error(format!("cannot read the restored migrations: {e}")))?;
    let pending: Vec<String> = statuses
        .iter()
        .filter(|s| s.state == State::Pending)
        .map(|s| s.version.to_string())
        .collect();
    for s in statuses
        .iter()
        .filter(|s| !matches!(s.state, State::Applied | State::Pending))
    {
        checked.problems.push(format!(
            "migration {} ({}) is `{}` in the restored `{table}` against the project's \
             migrations: the service would refuse to start on this restore",
            s.version,
            s.file.as_deref().unwrap_or(&s.description),
            s.state.as_str()
        ));
    }
    if !pending.is_empty() {
        checked.notes.push(format!(
            "{} migration(s) newer than the backup ({}): the service applies them when it \
             starts on this restore",
            pending.len(),
            pending.join(", ")
        ));
    }
    Ok(checked)
}

fn show(version: Option<i64>) -> String {
    version.map_or_else(|| "none".to_owned(), |v| v.to_string())
}

/// `pgready_verify_<pid>_<ms since the epoch>`: unique on the server, and recognisable should a
/// killed run leave it behind.
fn scratch_name() -> String {
    let ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    format!("pgready_verify_{}_{ms}", std::process::id())
}
