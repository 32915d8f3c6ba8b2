//! Checks the function's signature, and the project (config, migrations, ledger, lints)
//! through `pgready_core::project::check`, the check the CLI runs too; problems with both are
//! reported together.

use syn::ItemFn;

use super::parse::Args;
use crate::diagnostic::both;
use crate::project::{self, Project};
use crate::signature;

/// Everything expansion needs, all checked.
pub(crate) struct Valid {
    /// The config and migrations to embed.
    pub(crate) project: Project,
}

pub(crate) fn validate(args: Args, item: &ItemFn) -> syn::Result<Valid> {
    let ((), project) = both(
        signature::db_fn(item, "migrated_pool"),
        project::check(args.config.as_ref()),
    )?;
    Ok(Valid { project })
}
