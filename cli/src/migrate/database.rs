//! `pgready migrate run | revert | status`: the runtime's [`Migrator`], on a connection made as
//! the service makes its migration connection (same DSN variable, schema, limits and lock).

use std::collections::BTreeSet;

use pgready::migrate::{self, Migrator, State, VersionStatus};
use pgready::sqlx::Connection as _;
use pgready::sqlx::postgres::PgConnection;
use pgready_core::migrations::{Kind, Migration};

use crate::args::StatusArgs;
use crate::failure::Failure;
use crate::project::Project;

pub fn run(project: &Project) -> Result<(), Failure> {
    let list = project.migrations()?;
    with_migrator(project, list, async |migrator, conn| {
        let before = migrator.status(conn).await?;
        let result = migrator.run(conn).await;
        // Print what was applied even when a later migration failed: those stay applied.
        let after = migrator.status(conn).await.unwrap_or_default();
        for m in newly_applied(&before, &after) {
            println!("applied {}", m.file.as_deref().unwrap_or(&m.description));
        }
        let state = result?;
        let newly = newly_applied(&before, &after).len();
        let latest = state
            .latest
            .map_or_else(|| "none".to_owned(), |v| v.to_string());
        if newly == 0 {
            println!(
                "nothing to apply: {} migration(s) applied, latest version {latest}",
                state.applied
            );
        } else {
            println!(
                "applied {newly} migration(s): {} applied in total, latest version {latest}",
                state.applied
            );
        }
        Ok(())
    })
}

/// Applies every pending migration as `migrate run` does, quietly: how many were applied and
/// the state after (for `db reset`).
pub fn apply(project: &Project) -> Result<(usize, migrate::MigrationState), Failure> {
    let list = project.migrations()?;
    with_migrator(project, list, async |migrator, conn| {
        let before = migrator.status(conn).await?;
        let state = migrator.run(conn).await?;
        let after = migrator.status(conn).await.unwrap_or_default();
        Ok((newly_applied(&before, &after).len(), state))
    })
}

pub fn revert(project: &Project) -> Result<(), Failure> {
    let list = project.migrations()?;
    with_migrator(project, list, async |migrator, conn| {
        let version = migrator.revert(conn).await?;
        let file = migrator
            .migrations()
            .iter()
            .find(|m| m.version == version && m.kind == Kind::Down)
            .map_or_else(|| format!("version {version}"), |m| m.file_name.clone());
        println!("reverted {version} with {file}");
        Ok(())
    })
}

pub fn status(project: &Project, args: &StatusArgs) -> Result<(), Failure> {
    let list = project.migrations()?;
    let statuses = with_migrator(project, list, async |migrator, conn| {
        Ok(migrator.status(conn).await?)
    })?;
    for s in &statuses {
        println!(
            "{}  {}  {}",
            s.version,
            s.state.as_str(),
            s.file.as_deref().unwrap_or(&s.description)
        );
    }
    let unclean: Vec<&VersionStatus> = statuses
        .iter()
        .filter(|s| s.state != State::Applied)
        .collect();
    if args.check && !unclean.is_empty() {
        let versions: Vec<String> = unclean
            .iter()
            .map(|s| format!("{} ({})", s.version, s.state.as_str()))
            .collect();
        return Err(Failure::Error(format!(
            "{} version(s) not applied cleanly: {}",
            unclean.len(),
            versions.join(", ")
        )));
    }
    Ok(())
}

/// The versions pending in `before` that are applied in `after`.
fn newly_applied<'a>(
    before: &[VersionStatus],
    after: &'a [VersionStatus],
) -> Vec<&'a VersionStatus> {
    let pending: BTreeSet<i64> = before
        .iter()
        .filter(|s| s.state == State::Pending)
        .map(|s| s.version)
        .collect();
    after
        .iter()
        .filter(|s| s.state == State::Applied && pending.contains(&s.version))
        .collect()
}

/// Connects with the project's DSN and runs `f` with a [`Migrator`] for `list`; the connection
/// is closed on every path.
fn with_migrator<T>(
    project: &Project,
    list: Vec<Migration>,
    f: impl AsyncFnOnce(&Migrator, &mut PgConnection) -> Result<T, Failure>,
) -> Result<T, Failure> {
    let (env, url) = project.migrations_url()?;
    let cfg = &project.config;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Error(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        let mut conn = migrate::connection_from(cfg, &env, &url).await?;
        let migrator = Migrator::new(list, &cfg.migrations);
        let result = f(&migrator, &mut conn).await;
        let _ = conn.close().await;
        result
    })
}
