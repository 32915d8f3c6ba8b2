//! Test database names, `pgready_t_<pid>_<n>_<test hash>`: the owning process id comes first,
//! so any test process can tell a database a live test may be using from one whose process is
//! gone, and the test hash last, so the next run of a test finds the database its failure kept.

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::PgConnection;

use crate::Error;

const PREFIX: &str = "pgready_t_";
/// How a failed test's database is marked (its comment starts with this).
const KEPT: &str = "pgready: kept";

/// A fresh name for a database of the test whose hash is `test_hash`, owned by this process.
pub(super) fn new_name(test_hash: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!(
        "{PREFIX}{}_{}_{test_hash}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// The comment that marks a failed test's database as kept.
pub(super) fn kept_comment(test: &str) -> String {
    format!("{KEPT} after `{test}` failed")
}

/// A test database found on the server.
pub(super) struct Listed {
    pub name: String,
    /// Kept after its test failed: only the next run of the same test drops it.
    pub kept: bool,
    pub test_hash: String,
    owner: Option<u32>,
}

impl Listed {
    /// Its process has exited, so no test uses it any more. The process id is this machine's,
    /// as with the shared embedded cluster and a server on `localhost`.
    pub fn orphaned(&self) -> bool {
        self.owner
            .is_some_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists())
    }
}

/// Every test database on the server.
pub(super) async fn list(admin: &mut PgConnection) -> Result<Vec<Listed>, Error> {
    let rows: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT datname::text, shobj_description(oid, 'pg_database') FROM pg_database \
         WHERE starts_with(datname, $1)",
    )
    .bind(PREFIX)
    .fetch_all(&mut *admin)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(name, comment)| {
            let owner = name
                .strip_prefix(PREFIX)
                .and_then(|rest| rest.split('_').next())
                .and_then(|pid| pid.parse().ok());
            let test_hash = name.rsplit('_').next().unwrap_or_default().to_owned();
            let kept = comment.is_some_and(|c| c.starts_with(KEPT));
            Listed {
                name,
                kept,
                test_hash,
                owner,
            }
        })
        .collect())
}
