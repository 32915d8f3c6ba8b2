//! The figures both outputs read from a [`Db`]: the Prometheus text ([`render`](super::render))
//! and, with the `metrics` feature, the facade.

use crate::health::{MIGRATIONS, Report, Status};
use crate::{Db, Pool};

/// The pools a `Db` has, by name: `write`, and `read` when a replica is configured.
pub(super) fn pools(db: &Db) -> Vec<(&'static str, &Pool)> {
    let mut pools = vec![("write", db.write())];
    if let Some(replica) = db.replica() {
        pools.push(("read", replica));
    }
    pools
}

/// Applied and pending migrations: from the probe's live read of the migrations table when it
/// succeeded, else what start-up found.
pub(super) fn migration_counts(db: &Db, report: Option<&Report>) -> (u64, u64) {
    let live = report
        .into_iter()
        .flat_map(|report| report.check(MIGRATIONS))
        .find(|c| c.status() != Status::Fail)
        .and_then(|c| {
            let applied = c.field_value("applied")?.as_u64()?;
            let pending = c.field_value("pending")?.as_u64()?;
            Some((applied, pending))
        });
    live.unwrap_or_else(|| {
        let state = db.migrations();
        (state.applied as u64, state.pending as u64)
    })
}
