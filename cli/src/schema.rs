//! `pgready schema show | diff`: the schema the migrations build, replayed without a database
//! (`pgready_core::schema`), and its drift from a live database.

use std::path::Path;

use pgready::sqlx::{Connection as _, PgConnection};
use pgready_core::schema::{self, Replay};

use crate::args::{Format, Schema, SchemaDiffArgs, SchemaShowArgs};
use crate::failure::Failure;
use crate::project::Project;
use crate::schema_live;

/// Runs one `pgready schema` subcommand.
pub fn run(config: Option<&Path>, cmd: Schema) -> Result<(), Failure> {
    let project = Project::load(config, None)?;
    match cmd {
        Schema::Show(args) => show(&project, &args),
        Schema::Diff(args) => diff(&project, &args),
    }
}

fn replay(project: &Project) -> Result<Replay, Failure> {
    let migrations = project.migrations()?;
    Ok(schema::replay(&migrations, &project.config.session.schema))
}

fn show(project: &Project, args: &SchemaShowArgs) -> Result<(), Failure> {
    let replay = replay(project)?;
    match args.format {
        Format::Text => print!("{}", schema::to_text(&replay)),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&replay)
                .map_err(|e| Failure::Error(format!("cannot write JSON: {e}")))?
        ),
    }
    Ok(())
}

fn diff(project: &Project, args: &SchemaDiffArgs) -> Result<(), Failure> {
    let replay = replay(project)?;
    let url = project.database_url()?;
    let cfg = &project.config;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Error(format!("cannot start the async runtime: {e}")))?;
    let live = runtime.block_on(async {
        // sqlx's errors name neither the DSN nor its password
        let mut conn = PgConnection::connect(&url)
            .await
            .map_err(|e| Failure::Error(format!("cannot connect to the database: {e}")))?;
        let live = schema_live::read(&mut conn, &cfg.session.schema, &cfg.migrations.table).await;
        let _ = conn.close().await;
        live.map_err(|e| Failure::Error(format!("cannot read the database's catalog: {e}")))
    })?;
    let drift = schema::diff(&replay.catalog, &live);
    let (explained, real): (Vec<_>, Vec<_>) = drift
        .iter()
        .partition(|d| d.explained_by.is_some() && !args.strict);
    for d in &real {
        println!("drift: {d}");
    }
    for d in &explained {
        println!("note: {d}");
    }
    if real.is_empty() {
        println!(
            "no drift: the database matches the migrations{}",
            if explained.is_empty() {
                String::new()
            } else {
                format!(
                    " ({} difference(s) an opaque statement may explain; `--strict` counts them)",
                    explained.len()
                )
            }
        );
        Ok(())
    } else {
        eprintln!(
            "error: {} difference(s) between the migrations and the database",
            real.len()
        );
        Err(Failure::Reported)
    }
}
