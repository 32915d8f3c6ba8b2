//! `pgready db reset`: a development database back to its migrations: dropped, created again
//! and migrated, or with `--data-only` every table but the migrations table emptied
//! (`TRUNCATE … RESTART IDENTITY CASCADE`). Refused under the `production` profile and on a
//! database `[database] protected` names; a dry run unless `--yes`.

use pgready::sqlx::{self, Connection as _, Executor as _, PgConnection};
use pgready_core::dsn;
use serde::Serialize;

use crate::args::{Format, ResetArgs};
use crate::failure::Failure;
use crate::output;
use crate::postgres::catalog::quote;
use crate::postgres::{Server, server};
use crate::progress::Progress;
use crate::project::Project;

/// The profile under which nothing is ever reset.
const PRODUCTION: &str = "production";

#[derive(Serialize)]
struct Outcome<'a> {
    database: &'a str,
    server: &'a str,
    profile: &'a str,
    /// `recreate` or `data_only`
    mode: &'static str,
    dry_run: bool,
    /// `--data-only`: the tables emptied (or that would be)
    tables: Vec<String>,
    /// migrations applied after recreating (0 in a dry run or with `--data-only`)
    applied: usize,
    latest_version: Option<i64>,
}

pub fn run(project: &Project, args: &ResetArgs) -> Result<(), Failure> {
    let server = Server::of(project)?;
    let database = server.database();
    refuse_protected(project, &server, &database)?;
    let address = server.address();
    let mut outcome = Outcome {
        database: &database,
        server: &address,
        profile: &project.profile,
        mode: if args.data_only {
            "data_only"
        } else {
            "recreate"
        },
        dry_run: !args.yes,
        tables: Vec::new(),
        applied: 0,
        latest_version: None,
    };
    let format = args.output.format;
    if args.data_only {
        // listing and truncating: a spinner-like bar of two steps (a dry run only lists)
        let progress = Progress::bar(
            if args.yes { 2 } else { 1 },
            &format!("listing the tables of `{database}`"),
            format,
        );
        outcome.tables = crate::backup::block_on(empty_tables(
            project, &server, &database, args.yes, &progress,
        ))?;
    } else {
        let migrations = project.migrations()?;
        if args.yes {
            // drop, create, migrate
            let progress = Progress::bar(3, &format!("dropping `{database}`"), format);
            crate::backup::block_on(recreate(&server, &database, &progress))?;
            progress.set_message(&format!(
                "applying {} migration file(s) to `{database}`",
                migrations.len()
            ));
            let (applied, state) = crate::migrate::database::apply(project)?;
            progress.inc(1);
            drop(progress);
            outcome.applied = applied;
            outcome.latest_version = state.latest;
        } else {
            outcome.latest_version = migrations.iter().map(|m| m.version).max();
        }
    }
    match format {
        Format::Json => output::json(&outcome)?,
        Format::Text => print_text(&outcome),
    }
    Ok(())
}

fn print_text(o: &Outcome<'_>) {
    let at = format!("`{}` on {}", o.database, o.server);
    match (o.mode, o.dry_run) {
        ("data_only", true) => {
            for t in &o.tables {
                println!("would empty {t}");
            }
            println!(
                "dry run: would empty {} table(s) of {at} and restart their identities, keeping \
                 the migrations table; run again with --yes to do it",
                o.tables.len()
            );
        }
        ("data_only", false) => println!(
            "emptied {} table(s) of {at} and restarted their identities; the migrations table \
             is kept",
            o.tables.len()
        ),
        (_, true) => println!(
            "dry run: would drop {at}, create it again and apply the migrations (up to version \
             {}); run again with --yes to do it",
            o.latest_version
                .map_or_else(|| "none".to_owned(), |v| v.to_string())
        ),
        (_, false) => println!(
            "dropped and created {at}, applied {} migration(s), latest version {}",
            o.applied,
            o.latest_version
                .map_or_else(|| "none".to_owned(), |v| v.to_string())
        ),
    }
}

/// Refuses the `production` profile, and a database or host `[database] protected` names (of
/// the DSN and of the migrations DSN, which `reset` migrates over).
fn refuse_protected(project: &Project, server: &Server, database: &str) -> Result<(), Failure> {
    if project.profile == PRODUCTION {
        return Err(Failure::Error(format!(
            "`db reset` is refused under the `{PRODUCTION}` profile: it deletes every row; run \
             it with `PGREADY_PROFILE` unset (or `development`) against a development database"
        )));
    }
    let cfg = &project.config.database;
    let mut targets = vec![(database.to_owned(), server.host())];
    if let Ok((env, url)) = project.migrations_url()
        && env != cfg.url_env
    {
        let options: sqlx::postgres::PgConnectOptions = url.parse().map_err(|e: sqlx::Error| {
            Failure::Error(format!(
                "`{env}` is not a valid DSN: {}",
                dsn::redact_in(&e.to_string(), &url)
            ))
        })?;
        let name = options
            .get_database()
            .unwrap_or_else(|| options.get_username())
            .to_owned();
        let host = match options.get_socket() {
            Some(dir) => dir.display().to_string(),
            None => options.get_host().to_owned(),
        };
        targets.push((name, host));
    }
    for (name, host) in &targets {
        if let Some(pattern) = cfg.protects(name, host) {
            return Err(Failure::Error(format!(
                "database `{name}` on `{host}` is protected by `[database] protected` entry \
                 `{pattern}`: `db reset` is for development databases; point `{}` at one",
                cfg.url_env
            )));
        }
    }
    Ok(())
}

/// Drops `database` (closing its sessions) and creates it again, owned by the DSN's role.
async fn recreate(server: &Server, database: &str, progress: &Progress) -> Result<(), Failure> {
    let mut admin = server.connect_admin().await?;
    let result = async {
        let version = server::version(&mut admin).await?;
        // `WITH (FORCE)` (13+) ends the other sessions, such as a service left running
        let force = if version.num >= 130_000 {
            " WITH (FORCE)"
        } else {
            ""
        };
        let name = quote(database);
        admin
            .execute(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name}{force}"
            )))
            .await
            .map_err(|e| {
                Failure::Error(format!(
                    "cannot drop database `{database}`: {}; the DSN's role must own it (and, \
                     before PostgreSQL 13, no other session may be connected)",
                    server.scrub(&e.to_string())
                ))
            })?;
        progress.inc(1);
        progress.set_message(&format!("creating `{database}`"));
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .map_err(|e| {
                Failure::Error(format!(
                    "dropped database `{database}` but cannot create it again: {}; the DSN's \
                     role needs `CREATEDB`",
                    server.scrub(&e.to_string())
                ))
            })?;
        progress.inc(1);
        Ok(())
    }
    .await;
    let _ = admin.close().await;
    result
}

/// `--data-only`: every table but the migrations table, emptied with its identities restarted
/// in one `TRUNCATE` when `apply`; the tables' names either way.
async fn empty_tables(
    project: &Project,
    server: &Server,
    database: &str,
    apply: bool,
    progress: &Progress,
) -> Result<Vec<String>, Failure> {
    let mut conn = server.connect(database).await?;
    let result = truncate(project, &mut conn, apply, progress).await;
    let _ = conn.close().await;
    result
}

async fn truncate(
    project: &Project,
    conn: &mut PgConnection,
    apply: bool,
    progress: &Progress,
) -> Result<Vec<String>, Failure> {
    let table = &project.config.migrations.table;
    // an unqualified migrations table lives in `[session] schema`, as the service creates it
    let migrations = if table.contains('.') {
        table.split('.').map(quote).collect::<Vec<_>>().join(".")
    } else {
        format!("{}.{}", quote(&project.config.session.schema), quote(table))
    };
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition \
         AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
         AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%' \
         AND c.oid IS DISTINCT FROM to_regclass($1) \
         AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass \
             AND d.objid = c.oid AND d.deptype = 'e') \
         ORDER BY 1",
    )
    .bind(&migrations)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| Failure::Error(format!("cannot list the tables: {e}")))?;
    progress.inc(1);
    if apply && !tables.is_empty() {
        progress.set_message(&format!("emptying {} table(s)", tables.len()));
        conn.execute(sqlx::AssertSqlSafe(format!(
            "TRUNCATE {} RESTART IDENTITY CASCADE",
            tables.join(", ")
        )))
        .await
        .map_err(|e| Failure::Error(format!("cannot empty the tables: {e}")))?;
    }
    if apply {
        progress.inc(1);
    }
    Ok(tables)
}
