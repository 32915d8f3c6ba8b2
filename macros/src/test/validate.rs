//! Checks the test function's signature and the project it runs against, through
//! `pgready-core` as `#[migrated_pool]` does; problems with both are reported together.

use syn::ItemFn;

use super::parse::Args;
use crate::diagnostic::both;
use crate::project::{self, Project};
use crate::signature;

/// Everything expansion needs, all checked.
pub(crate) struct Valid {
    /// The config and migrations the test's template database is built from.
    pub(crate) project: Project,
}

pub(crate) fn validate(args: Args, item: &ItemFn) -> syn::Result<Valid> {
    let ((), project) = both(
        signature::db_fn(item, "test"),
        project::check(args.config.as_ref()),
    )?;
    Ok(Valid { project })
}
