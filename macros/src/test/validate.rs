//! Checks the test function's signature and the project it runs against, through
//! `pgready-core` as `#[migrated_pool]` does; problems with both are reported together.

use pgready_core::isolation::Isolation;
use pgready_core::word::UnknownWord;
use syn::ItemFn;

use super::parse::Args;
use crate::diagnostic::both;
use crate::project::{self, Project};
use crate::signature;

/// Everything expansion needs, all checked.
pub(crate) struct Valid {
    /// The config and migrations the test's template database is built from.
    pub(crate) project: Project,
    /// `isolation = "…"`, `transaction` when not given.
    pub(crate) isolation: Isolation,
}

pub(crate) fn validate(args: Args, item: &ItemFn) -> syn::Result<Valid> {
    let isolation = isolation(args.isolation.as_ref());
    let (((), isolation), project) = both(
        both(signature::db_fn(item, "test"), isolation),
        project::check(args.config.as_ref()),
    )?;
    Ok(Valid { project, isolation })
}

/// One of core's words, the error at the literal.
fn isolation(lit: Option<&syn::LitStr>) -> syn::Result<Isolation> {
    let Some(lit) = lit else {
        return Ok(Isolation::Transaction);
    };
    lit.value()
        .parse()
        .map_err(|e: UnknownWord| syn::Error::new_spanned(lit, e.message_for("isolation")))
}
