//! The one PostgreSQL every scenario runs on: a temporary embedded cluster with production
//! durability (fsync, synchronous_commit and full_page_writes on), and fresh databases in it.

use pgready::embedded::Cluster;
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};

pub struct Server {
    cluster: Cluster,
}

impl Server {
    /// Blocking: initdb and start. Call outside the async runtime.
    pub fn start() -> Result<Server, Box<dyn std::error::Error>> {
        Ok(Server {
            cluster: Cluster::start_temporary()?,
        })
    }

    pub fn url(&self, database: &str) -> String {
        self.cluster.url(database)
    }

    pub async fn admin(&self) -> Result<PgConnection, sqlx::Error> {
        PgConnection::connect(&self.url("postgres")).await
    }

    /// Drops `name` if it exists and creates it empty; returns its DSN.
    pub async fn fresh_database(&self, name: &str) -> Result<String, sqlx::Error> {
        let mut admin = self.admin().await?;
        admin
            .execute(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
            )))
            .await?;
        admin
            .execute(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .await?;
        admin.close().await?;
        Ok(self.url(name))
    }

    pub async fn version(&self) -> Result<String, sqlx::Error> {
        let mut admin = self.admin().await?;
        let v: String = sqlx::query_scalar("SELECT version()")
            .fetch_one(&mut admin)
            .await?;
        admin.close().await?;
        Ok(v)
    }
}

/// The pgready config every scenario's `Db` starts with: `[pool]` as given, migrations off
/// (the scenarios that need them migrate explicitly).
pub fn setup(config: &str, url: &str) -> pgready::Setup {
    pgready::Setup::new(
        Box::leak(config.to_owned().into_boxed_str()),
        "pgready-bench",
        &[],
    )
    .var("DATABASE_URL", Some(url))
    .var("DATABASE_READ_URL", None)
    .var("PGREADY_PROFILE", None)
}
