//! `schema`: knowing the schema 500 generated migrations build. pgready replays them into its
//! catalog model (`pgready_core::schema::replay`, no database); the baseline is what a tool
//! without the model does: apply them with sqlx to a fresh database and read the columns back
//! from `pg_catalog`.

use std::time::Instant;

use pgready_core::migrations::{Migration, Resolve};
use sqlx::{Connection, PgConnection};

use crate::generated;
use crate::report::{Better, Figure, Samples};
use crate::server::Server;

const MIGRATIONS: usize = 500;
const REPEATS: usize = 9;
const APPLY_REPEATS: usize = 3;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub async fn run(server: &Server) -> Result<Vec<Figure>, BoxError> {
    let files = generated::migrations(MIGRATIONS);
    let resolve = Resolve::default();
    let migrations: Vec<Migration> = files
        .iter()
        .map(|(name, sql)| Migration::new(name, sql.clone(), &resolve))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;

    let mut replay = Samples::default();
    let mut columns = 0;
    for _ in 0..REPEATS {
        let started = Instant::now();
        let result = pgready_core::schema::replay(&migrations, "public");
        replay.push(started.elapsed());
        if result.opaque().next().is_some() {
            return Err("the generated migrations replay with opaque statements".into());
        }
        columns = result.catalog.schemas["public"]
            .tables
            .values()
            .map(|t| t.columns.len())
            .sum::<usize>();
    }

    let dir = generated::write_dir("schema", &files)?;
    let migrator = sqlx::migrate::Migrator::new(dir.as_path()).await?;
    let mut apply = Samples::default();
    for rep in 0..APPLY_REPEATS {
        let url = server
            .fresh_database(&format!("bench_schema_{rep}"))
            .await?;
        let mut conn = PgConnection::connect(&url).await?;
        let started = Instant::now();
        migrator.run(&mut conn).await?;
        let live: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 \
             AND NOT a.attisdropped AND c.relname <> '_sqlx_migrations'",
        )
        .fetch_one(&mut conn)
        .await?;
        apply.push(started.elapsed());
        conn.close().await?;
        if usize::try_from(live).ok() != Some(columns) {
            return Err(format!("the model has {columns} columns, PostgreSQL {live}").into());
        }
    }
    generated::remove_dir(&dir);

    Ok(vec![Figure {
        scenario: "schema",
        metric: format!("know the schema of {MIGRATIONS} migrations ({columns} columns)"),
        pgready: replay.median_ms(),
        baseline_name: "sqlx apply + pg_catalog".to_owned(),
        baseline: apply.median_ms(),
        unit: "ms",
        better: Better::Lower,
    }])
}
