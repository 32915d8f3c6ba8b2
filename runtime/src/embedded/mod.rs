//! Embedded PostgreSQL: a throw-away or shared cluster on loopback, built from the machine's
//! PostgreSQL server binaries. Nothing is ever downloaded.
//!
//! - [`Cluster::start_temporary`]: the quickstart's development database, stopped and removed
//!   on drop;
//! - [`Cluster::shared`]: one cluster in a known directory, shared by every test process of a
//!   run (created or restarted by whichever process comes first);
//! - [`Cluster::replica_of`]: a streaming replica of a cluster (`pg_basebackup -R`), which
//!   [`Cluster::promote`] turns into a primary; [`Cluster::pause`] freezes a server;
//! - [`Bouncer`]: PgBouncer in front of a cluster, from the machine's `pgbouncer` binary;
//! - [`Binaries`]: where the server binaries were found (`PGREADY_PG_BIN`,
//!   `pg_config --bindir`, `PATH`, the newest `/usr/lib/postgresql/<version>/bin`);
//! - [`ClientTools`]: `pg_dump` and `pg_restore` for a server's major version, from the same
//!   places (the operations CLI's backups).
//!
//! PostgreSQL refuses to run as root, so a root process runs the server as the `postgres` OS
//! user (else `nobody`). Clusters left behind by a process that died before dropping its
//! [`Cluster`] are stopped and removed by the next [`Cluster::init`].
//!
//! ```no_run
//! use pgready::embedded::Cluster;
//! use pgready::sqlx::{Connection as _, PgConnection};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let cluster = tokio::task::spawn_blocking(Cluster::start_temporary).await??;
//! let mut conn = PgConnection::connect(&cluster.url("postgres")).await?;
//! let (user,): (String,) = pgready::sqlx::query_as("SELECT current_user::text")
//!     .fetch_one(&mut conn)
//!     .await?;
//! assert_eq!(user, "pgready");
//! # Ok(())
//! # }
//! ```

mod binaries;
mod bouncer;
mod cleanup;
mod cluster;
mod ctl;
mod error;
mod postmaster;
mod random;
mod settings;
mod user;

#[cfg(test)]
mod tests;

pub use binaries::{Binaries, ClientTools, PG_BIN_ENV, SearchEnv};
pub use bouncer::{Bouncer, PGBOUNCER_ENV, PoolMode};
pub use cluster::Cluster;
pub use error::EmbeddedError;
