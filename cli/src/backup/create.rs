//! `pgready backup [--table T]…`: `pg_dump --format=custom` into `[backup] dir`, and the
//! manifest beside the dump.
//!
//! The row counts in the manifest are exact, not estimates: the command opens a repeatable-read
//! transaction, exports its snapshot (`pg_export_snapshot()`), runs `pg_dump --snapshot=…` on
//! it and counts every table's rows in that same transaction while `pg_dump` reads. The counts
//! are therefore those of the rows in the dump, whatever was written meanwhile, which is what
//! `backup verify` compares a restore with. The cost is one more sequential read of each table,
//! running beside the dump.

use std::path::Path;
use std::time::{Instant, SystemTime};

use pgready::sqlx::{self, Connection as _, PgConnection};
use pgready_core::config::Compression;
use serde::Serialize;

use super::manifest::{self, MANIFEST_VERSION, Manifest, Scope, TableRows};
use super::store;
use crate::args::{BackupCreateArgs, Format};
use crate::failure::Failure;
use crate::output;
use crate::postgres::catalog::{self, quote};
use crate::postgres::server::{self, dbname_conninfo};
use crate::postgres::{Server, tool};
use crate::progress::Progress;
use crate::project::Project;

/// What `backup` prints in JSON: the manifest and where the files are.
#[derive(Serialize)]
struct Created<'a> {
    name: &'a str,
    dump_path: String,
    manifest_path: String,
    manifest: &'a Manifest,
}

pub fn run(project: &Project, args: &BackupCreateArgs) -> Result<(), Failure> {
    let format = args.output.format;
    let server = Server::of(project)?;
    let dir = super::dir(project);
    let (name, manifest) = super::block_on(async {
        let database = server.database();
        let mut conn = server.connect(&database).await?;
        let result = dump(project, &server, &mut conn, args, &dir).await;
        let _ = conn.close().await;
        result
    })?;
    let dump_path = dir.join(&manifest.dump);
    let manifest_path = dir.join(format!("{name}.json"));
    match format {
        Format::Json => output::json(&Created {
            name: &name,
            dump_path: dump_path.display().to_string(),
            manifest_path: manifest_path.display().to_string(),
            manifest: &manifest,
        }),
        Format::Text => {
            let rows: i64 = manifest.tables.iter().map(|t| t.rows).sum();
            println!(
                "backed up `{}` to {} ({}, {} table(s), {rows} row(s), {}, migration version {})",
                manifest.database,
                dump_path.display(),
                output::bytes(manifest.size),
                manifest.tables.len(),
                output::duration(std::time::Duration::from_millis(manifest.duration_ms)),
                manifest
                    .migration_version
                    .map_or_else(|| "none".to_owned(), |v| v.to_string()),
            );
            println!(
                "manifest {} (SHA-256 {}, pg_dump {}, {})",
                manifest_path.display(),
                manifest::short(&manifest.sha256),
                manifest.pg_dump_version,
                manifest.compression
            );
            Ok(())
        }
    }
}

/// Dumps the connected database into `dir`; returns the backup's name and manifest.
async fn dump(
    project: &Project,
    server: &Server,
    conn: &mut PgConnection,
    args: &BackupCreateArgs,
    dir: &Path,
) -> Result<(String, Manifest), Failure> {
    let format = args.output.format;
    let cfg = &project.config;
    let database = server.database();
    // Counting a large table may outlast a role's `statement_timeout`, and the snapshot's
    // transaction sits idle while `pg_dump` works.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "SET statement_timeout = 0; SET lock_timeout = 0; \
         SET idle_in_transaction_session_timeout = 0; SET search_path = {}",
        quote(&cfg.session.schema)
    )))
    .execute(&mut *conn)
    .await
    .map_err(|e| Failure::Error(format!("cannot prepare the backup connection: {e}")))?;
    let version = server::version(conn).await?;
    let tools = server::client_tools(&version)?;
    let compression = compress_option(
        cfg.backup.compression,
        cfg.backup.compression_level,
        tools.major(),
    )?;

    sqlx::raw_sql("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *conn)
        .await
        .map_err(|e| Failure::Error(format!("cannot begin the backup's transaction: {e}")))?;
    let snapshot: String = sqlx::query_scalar("SELECT pg_export_snapshot()")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| Failure::Error(format!("cannot export a snapshot for pg_dump: {e}")))?;
    let tables = catalog::tables(conn, &args.table).await?;
    let migration_version = catalog::migration_version(conn, &cfg.migrations.table).await?;

    std::fs::create_dir_all(dir).map_err(|e| {
        Failure::Error(format!(
            "cannot create the backup directory `{}` (`[backup] dir`): {e}",
            dir.display()
        ))
    })?;
    let started = SystemTime::now();
    let clock = Instant::now();
    let name = store::new_name(dir, &database, started);
    let dump_file = format!("{name}.dump");
    let partial = dir.join(format!("{dump_file}.partial"));

    let mut dump_args = vec![
        "--format=custom".to_owned(),
        format!("--file={}", partial.display()),
        format!("--snapshot={snapshot}"),
        "--no-password".to_owned(),
        "--verbose".to_owned(),
    ];
    dump_args.extend(compression.arg.clone());
    if !args.table.is_empty() {
        dump_args.extend(tables.iter().map(|t| format!("--table={}", t.quoted())));
    }
    dump_args.push(format!("--dbname={}", dbname_conninfo(&database)));

    let steps = u64::try_from(tables.len() * 2).unwrap_or(u64::MAX);
    let progress = Progress::bar(steps, &format!("backup of {database}"), format);
    let pg_dump = tools.pg_dump();
    let dumped = tool::run(
        server,
        &pg_dump,
        &dump_args,
        "dumping contents of table",
        &progress,
    );
    let counted = async {
        let mut rows = Vec::with_capacity(tables.len());
        for table in &tables {
            let n = catalog::count(conn, table).await.map_err(|e| {
                Failure::Error(format!("cannot count the rows of {}: {e}", table.quoted()))
            })?;
            progress.inc(1);
            rows.push(TableRows {
                schema: table.schema.clone(),
                name: table.name.clone(),
                rows: n,
                rows_estimate: table.estimate,
            });
        }
        Ok::<_, Failure>(rows)
    };
    let (dumped, counted) = tokio::join!(dumped, counted);
    let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await;
    drop(progress);
    let finished = dumped.and(counted).and_then(|rows| {
        let dump_path = dir.join(&dump_file);
        std::fs::File::open(&partial)
            .and_then(|f| f.sync_all())
            .and_then(|()| std::fs::rename(&partial, &dump_path))
            .map_err(|e| Failure::Error(format!("cannot finish `{}`: {e}", dump_path.display())))?;
        Ok((rows, dump_path))
    });
    let (rows, dump_path) = match finished {
        Ok(done) => done,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    let (sha256, size) = manifest::sha256(&dump_path, format)?;
    let manifest = Manifest {
        manifest_version: MANIFEST_VERSION,
        dump: dump_file,
        database,
        scope: if args.table.is_empty() {
            Scope::Database
        } else {
            Scope::Tables
        },
        started_at: output::timestamp(started),
        completed_at: output::timestamp(SystemTime::now()),
        duration_ms: output::millis(clock.elapsed()),
        sha256,
        size,
        compression: compression.recorded,
        server_version: version.text,
        server_version_num: version.num,
        pg_dump_version: tools.version().to_owned(),
        migrations_table: cfg.migrations.table.clone(),
        migration_version,
        tables: rows,
    };
    manifest::write(&dir.join(format!("{name}.json")), &manifest)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok((name, manifest))
}

/// The `--compress` argument for `pg_dump` and the method recorded in the manifest.
#[derive(Debug, PartialEq, Eq)]
struct CompressOption {
    /// `None`: `pg_dump`'s default (gzip at its default level in the custom format)
    arg: Option<String>,
    recorded: String,
}

/// `[backup] compression` and `compression_level` as the `pg_dump` of major version `major`
/// takes them: `--compress=METHOD[:LEVEL]` from 16 on, `--compress=LEVEL` (gzip only) before.
fn compress_option(
    method: Compression,
    level: Option<u32>,
    major: u32,
) -> Result<CompressOption, Failure> {
    let spec = match level {
        Some(level) => format!("{method}:{level}"),
        None => method.to_string(),
    };
    if major < method.since_pg_dump() {
        return Err(Failure::Error(format!(
            "`[backup] compression = \"{method}\"` needs pg_dump {} or newer, and the pg_dump \
             that matches this server is version {major}, which compresses with gzip only: set \
             `compression = \"gzip\"`, or install the client tools of PostgreSQL {} or newer and \
             set PGREADY_PG_BIN to their directory",
            method.since_pg_dump(),
            method.since_pg_dump()
        )));
    }
    let arg = if major >= 16 {
        Some(format!("--compress={spec}"))
    } else {
        match (method, level) {
            (Compression::None, _) => Some("--compress=0".to_owned()),
            (_, Some(level)) => Some(format!("--compress={level}")),
            (_, None) => None,
        }
    };
    Ok(CompressOption {
        arg,
        recorded: spec,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn option(
        method: Compression,
        level: Option<u32>,
        major: u32,
    ) -> Option<(Option<String>, String)> {
        compress_option(method, level, major)
            .ok()
            .map(|o| (o.arg, o.recorded))
    }

    #[test]
    fn compression_as_each_pg_dump_takes_it() {
        let s = |t: &str| Some(t.to_owned());
        assert_eq!(
            option(Compression::Gzip, None, 15),
            Some((None, "gzip".to_owned()))
        );
        assert_eq!(
            option(Compression::Gzip, Some(9), 15),
            Some((s("--compress=9"), "gzip:9".to_owned()))
        );
        assert_eq!(
            option(Compression::None, None, 14),
            Some((s("--compress=0"), "none".to_owned()))
        );
        assert_eq!(
            option(Compression::Zstd, Some(3), 16),
            Some((s("--compress=zstd:3"), "zstd:3".to_owned()))
        );
        assert_eq!(
            option(Compression::Lz4, None, 17),
            Some((s("--compress=lz4"), "lz4".to_owned()))
        );
        assert_eq!(
            option(Compression::Gzip, None, 16),
            Some((s("--compress=gzip"), "gzip".to_owned()))
        );
    }

    #[test]
    fn zstd_and_lz4_before_16_say_what_to_do() {
        for method in [Compression::Zstd, Compression::Lz4] {
            let Err(Failure::Error(message)) = compress_option(method, None, 15) else {
                panic!("{method} accepted by pg_dump 15");
            };
            assert!(message.contains("needs pg_dump 16 or newer"), "{message}");
            assert!(message.contains("version 15"), "{message}");
            assert!(
                message.contains("set `compression = \"gzip\"`"),
                "{message}"
            );
        }
    }
}
