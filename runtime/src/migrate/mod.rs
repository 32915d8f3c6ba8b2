//! The migrator: sqlx's table, checksums and advisory lock, pgready's policies.
//!
//! Start-up calls it through `[migrations] on_startup`; `pgready migrate` calls the same
//! [`Migrator`] for `run`, `revert` and `status`.

mod apply;
mod lock;
mod plan;

use pgready_core::config::{self, OnStartup};
use pgready_core::migrations::{self, Migration};
use sqlx::postgres::PgConnection;

pub use apply::MigrationState;
pub use plan::{State, VersionStatus};

use crate::Error;
use crate::connect::{self, Target};
use crate::error::lines;

/// A migration file embedded in the binary by `#[migrated_pool]`: what
/// [`Migrator::from_embedded`] and [`Setup`](crate::Setup) read.
#[derive(Clone, Copy, Debug)]
pub struct EmbeddedFile {
    /// File name within the migrations directory.
    pub name: &'static str,
    /// The file's text.
    pub sql: &'static str,
}

/// A dedicated migration connection to `url`, as start-up makes one: retried for
/// `[database] connect_retry`, refused through a transaction pooler, `session.schema` created
/// if absent, `[migrations]` limits set. Errors never carry the DSN's password and name
/// `[database] url_env` as the DSN's source ([`connection_from`] names another).
pub async fn connection(cfg: &config::Config, url: &str) -> Result<PgConnection, Error> {
    connection_from(cfg, &cfg.database.url_env, url).await
}

/// [`connection`] to `url` taken from the environment variable `env` ([`migration_url`] picks
/// both as start-up does).
pub async fn connection_from(
    cfg: &config::Config,
    env: &str,
    url: &str,
) -> Result<PgConnection, Error> {
    let target = Target::parse(env, url, &cfg.database, &cfg.session.application_name)?;
    connect::migration_connection(&target, cfg).await
}

/// The DSN migrations run over, as start-up picks it, and the variable it came from:
/// `[database] migrations_url_env`'s variable when set (a direct DSN, required behind a
/// transaction pooler), else `url_env`'s; `None` when neither is set.
pub fn migration_url(
    cfg: &config::Config,
    lookup: impl Fn(&str) -> Option<String>,
) -> Option<(String, String)> {
    cfg.database
        .migrations_url_env
        .iter()
        .chain(std::iter::once(&cfg.database.url_env))
        .find_map(|env| lookup(env).map(|url| (env.clone(), url)))
}

/// Applies, verifies, reverts and reports migrations against one database.
#[derive(Clone, Debug)]
pub struct Migrator {
    list: Vec<Migration>,
    cfg: config::Migrations,
}

impl Migrator {
    /// A migrator for `list` (as returned by `pgready_core::migrations::discover` or
    /// [`from_files`](pgready_core::migrations::from_files)) with `[migrations]` policies.
    pub fn new(list: Vec<Migration>, cfg: &config::Migrations) -> Migrator {
        Migrator {
            list,
            cfg: cfg.clone(),
        }
    }

    /// A migrator for the files `#[migrated_pool]` embedded, read as at compile time (with
    /// `[migrations] ignored_chars` left out of the checksums).
    pub fn from_embedded(
        files: &[EmbeddedFile],
        cfg: &config::Migrations,
    ) -> Result<Migrator, Error> {
        let list = migrations::from_files(
            files.iter().map(|f| (f.name, f.sql)),
            &migrations::Resolve {
                ignored_chars: cfg.ignored_chars.clone(),
            },
        )
        .map_err(|errors| Error::Migrate {
            file: errors.first().map(|e| e.file.clone()).unwrap_or_default(),
            message: lines(&errors),
        })?;
        Ok(Migrator::new(list, cfg))
    }

    /// The migrations this migrator knows, in order.
    pub fn migrations(&self) -> &[Migration] {
        &self.list
    }

    /// Every version, local or applied, with its state. Reads only; takes no lock.
    pub async fn status(&self, conn: &mut PgConnection) -> Result<Vec<VersionStatus>, Error> {
        let rows = plan::applied_rows(conn, &self.cfg.table).await?;
        Ok(plan::status(&self.list, &rows))
    }

    /// Applies every pending migration under the advisory lock (waiting at most
    /// `[migrations] lock_wait` for another process's); refuses (before applying
    /// anything) on a failed, missing or edited applied migration, or an out-of-order one unless
    /// `out_of_order = "apply"`.
    ///
    /// When every migration is applied already (the usual start-up), that takes one round
    /// trip and no lock: the rows are read once and compared in memory. Anything else (a
    /// pending migration, no table yet, a row that fails a check) takes the lock and reads
    /// again under it, so the outcome is the one a locked run gives.
    pub async fn run(&self, conn: &mut PgConnection) -> Result<MigrationState, Error> {
        if let Some(state) = self.up_to_date(conn).await? {
            return Ok(state);
        }
        lock::locked(conn, self.cfg.lock_wait, async |conn| {
            apply::run(conn, &self.list, &self.cfg, true).await
        })
        .await
    }

    /// Checks that every migration is applied cleanly; applies nothing. One round trip and no
    /// lock when they are; otherwise it waits for the lock (a migration another process is
    /// applying may be about to finish) and checks again under it.
    pub async fn verify(&self, conn: &mut PgConnection) -> Result<MigrationState, Error> {
        if let Some(state) = self.up_to_date(conn).await? {
            return Ok(state);
        }
        lock::locked(conn, self.cfg.lock_wait, async |conn| {
            apply::run(conn, &self.list, &self.cfg, false).await
        })
        .await
    }

    /// The state when every migration is applied cleanly and nothing needs creating, read in
    /// one round trip without the lock; `None` when the locked path must decide.
    async fn up_to_date(&self, conn: &mut PgConnection) -> Result<Option<MigrationState>, Error> {
        let Some(rows) = plan::applied_rows_at_once(conn, &self.cfg).await? else {
            return Ok(None);
        };
        Ok(match plan::pending(&self.list, &rows, &self.cfg) {
            Ok(pending) if pending.is_empty() => Some(MigrationState {
                applied: rows.len(),
                pending: 0,
                latest: rows.last().map(|r| r.version),
            }),
            _ => None,
        })
    }

    /// Reverts the newest applied migration with its `.down.sql`; returns its version.
    pub async fn revert(&self, conn: &mut PgConnection) -> Result<i64, Error> {
        lock::locked(conn, self.cfg.lock_wait, async |conn| {
            apply::revert(conn, &self.list, &self.cfg).await
        })
        .await
    }

    /// The state of a database known to hold every migration (a copy of a verified template).
    pub(crate) fn assumed_applied(&self) -> MigrationState {
        let forward = self
            .list
            .iter()
            .filter(|m| m.kind != migrations::Kind::Down);
        MigrationState {
            applied: forward.clone().count(),
            pending: 0,
            latest: forward.map(|m| m.version).max(),
        }
    }

    /// `[migrations] on_startup`.
    pub(crate) async fn on_startup(
        &self,
        conn: &mut PgConnection,
    ) -> Result<MigrationState, Error> {
        match self.cfg.on_startup {
            OnStartup::Apply => self.run(conn).await,
            OnStartup::Verify => self.verify(conn).await,
            OnStartup::Off => Ok(MigrationState::default()),
        }
    }
}
