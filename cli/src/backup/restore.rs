//! `pgready restore [BACKUP] [--database NAME] [--create] [--clean] [--force]`: `pg_restore` of
//! a backup whose dump still matches its manifest's checksum.
//!
//! `--create` and `--clean` mean what they mean to `pg_restore`, for the database named with
//! `--database` (not the one recorded in the dump, which `pg_restore --create` would use):
//! `--create` makes the database (from `template0`, so it is empty), `--clean` drops the
//! backup's objects before recreating them, and both together drop and recreate the database.
//! A database that holds anything (a relation, a schema besides `public`, a function or a
//! type) is only restored into, or dropped, with `--force`. The restore runs in one
//! transaction and stops at the first error (`--single-transaction --exit-on-error`): it
//! restores everything or nothing.

use std::path::Path;
use std::time::Instant;

use pgready::embedded::ClientTools;
use pgready::sqlx::Connection as _;
use pgready::sqlx::PgConnection;
use serde::Serialize;

use super::manifest;
use super::store::{Entry, Store};
use crate::args::{Format, RestoreArgs};
use crate::failure::Failure;
use crate::output;
use crate::postgres::server::{self, dbname_conninfo};
use crate::postgres::{Server, catalog, tool};
use crate::progress::Progress;
use crate::project::Project;

#[derive(Serialize)]
struct Restored<'a> {
    backup: &'a str,
    database: &'a str,
    created: bool,
    tables: usize,
    rows: i64,
    duration_ms: u64,
}

pub fn run(config: Option<&Path>, args: &RestoreArgs) -> Result<(), Failure> {
    let project = Project::load(config, None)?;
    let format = args.output.format;
    let dir = super::dir(&project);
    let entry = Store::read(&dir)?.pick(&dir, args.backup.as_deref())?;
    let server = Server::of(&project)?;
    let target = args.database.clone().unwrap_or_else(|| server.database());
    let clock = Instant::now();
    manifest::check(&entry.dump_path, &entry.manifest, format).map_err(Failure::Error)?;
    let created = super::block_on(async {
        let mut admin = server.connect_admin().await?;
        let result = restore(&server, &mut admin, &entry, &target, args).await;
        let _ = admin.close().await;
        result
    })?;
    let restored = Restored {
        backup: &entry.name,
        database: &target,
        created,
        tables: entry.manifest.tables.len(),
        rows: entry.manifest.tables.iter().map(|t| t.rows).sum(),
        duration_ms: output::millis(clock.elapsed()),
    };
    match format {
        Format::Json => output::json(&restored),
        Format::Text => {
            println!(
                "restored {} into {}`{target}` ({} table(s), {} row(s), {})",
                entry.name,
                if created { "new database " } else { "" },
                restored.tables,
                restored.rows,
                output::duration(clock.elapsed())
            );
            Ok(())
        }
    }
}

/// Prepares `target` as the flags ask and restores into it; returns whether it was created.
async fn restore(
    server: &Server,
    admin: &mut PgConnection,
    entry: &Entry,
    target: &str,
    args: &RestoreArgs,
) -> Result<bool, Failure> {
    let version = server::version(admin).await?;
    let tools = tools_for(&version, entry)?;
    let exists = catalog::database_exists(admin, target).await?;
    let refuse = |what: String| {
        Failure::Error(format!(
            "database `{target}` is not empty ({what}): restoring would mix the backup with \
             what is there or overwrite it; add `--force` to go ahead, or restore into a new \
             database with `--database NEW_NAME --create`"
        ))
    };
    if exists {
        let contents = {
            let mut conn = server.connect(target).await?;
            let contents = catalog::contents(&mut conn).await;
            let _ = conn.close().await;
            contents?
        };
        if args.create {
            if !args.clean {
                return Err(Failure::Error(format!(
                    "database `{target}` exists and `--create` makes a new one: add `--clean` \
                     to drop and recreate it, or leave out `--create` to restore into it"
                )));
            }
            if !contents.is_empty() && !args.force {
                return Err(refuse(contents.to_string()));
            }
            catalog::drop_database(admin, target, false).await?;
        } else if !contents.is_empty() && !args.force {
            return Err(refuse(contents.to_string()));
        }
    } else if !args.create {
        return Err(Failure::Error(format!(
            "database `{target}` does not exist: add `--create` to create it"
        )));
    }
    let created = args.create;
    if created {
        catalog::create_database(admin, target).await?;
    }
    let options = Options {
        clean: args.clean && !args.create,
        no_owner: args.no_owner,
        no_privileges: false,
        without_post_data: false,
    };
    let restored = pg_restore(server, &tools, entry, target, options, args.output.format).await;
    if restored.is_err() && created {
        // nothing was restored (one transaction): leave no half-made database behind
        let _ = catalog::drop_database(admin, target, false).await;
    }
    restored.map(|()| created)
}

/// How `pg_restore` is run.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// `--clean --if-exists`
    pub clean: bool,
    /// `--no-owner`
    pub no_owner: bool,
    /// `--no-privileges`
    pub no_privileges: bool,
    /// `--section=pre-data --section=data`: tables and rows, without the constraints and
    /// indexes that may reference what the dump does not hold
    pub without_post_data: bool,
}

/// `pg_restore` of `entry`'s dump into `database`, in one transaction, stopping at the first
/// error, with a bar over the tables whose data it restores.
pub async fn pg_restore(
    server: &Server,
    tools: &ClientTools,
    entry: &Entry,
    database: &str,
    options: Options,
    format: Format,
) -> Result<(), Failure> {
    let mut args = vec![
        format!("--dbname={}", dbname_conninfo(database)),
        "--single-transaction".to_owned(),
        "--exit-on-error".to_owned(),
        "--no-password".to_owned(),
        "--verbose".to_owned(),
    ];
    if options.clean {
        args.extend(["--clean".to_owned(), "--if-exists".to_owned()]);
    }
    if options.no_owner {
        args.push("--no-owner".to_owned());
    }
    if options.no_privileges {
        args.push("--no-privileges".to_owned());
    }
    if options.without_post_data {
        args.extend(["--section=pre-data".to_owned(), "--section=data".to_owned()]);
    }
    args.push(entry.dump_path.display().to_string());
    let steps = u64::try_from(entry.manifest.tables.len()).unwrap_or(u64::MAX);
    let progress = Progress::bar(steps, &format!("restore into {database}"), format);
    tool::run(
        server,
        &tools.pg_restore(),
        &args,
        "processing data for table",
        &progress,
    )
    .await
}

/// The client tools for the server, which must also read the dump: a `pg_restore` older than
/// the `pg_dump` that wrote an archive cannot read it.
pub fn tools_for(version: &server::Version, entry: &Entry) -> Result<ClientTools, Failure> {
    let tools = server::client_tools(version)?;
    let dumped_by = entry
        .manifest
        .pg_dump_version
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|m| m.parse::<u32>().ok())
        .unwrap_or(0);
    if tools.major() < dumped_by {
        return Err(Failure::Error(format!(
            "{} was written by pg_dump {}, and the pg_restore found for this server is version \
             {} (`{}`), too old to read it: install PostgreSQL {dumped_by}'s client tools (e.g. \
             `apt-get install postgresql-client-{dumped_by}`) and set PGREADY_PG_BIN to their \
             directory",
            entry.name,
            entry.manifest.pg_dump_version,
            tools.version(),
            tools.dir().display()
        )));
    }
    Ok(tools)
}
