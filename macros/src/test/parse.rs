//! Attribute arguments: `config = "path"`, as for `#[migrated_pool]`, spans kept.

use proc_macro2::TokenStream;
use syn::LitStr;

use crate::project::CONFIG_RENAMED;

/// The parsed arguments of `#[pgready::test(...)]`.
pub(crate) struct Args {
    /// `config = "…"`, when given.
    pub(crate) config: Option<LitStr>,
}

impl Args {
    pub(crate) fn parse(tokens: TokenStream) -> syn::Result<Args> {
        let mut config = None;
        crate::args::parse(tokens, &mut [("config", &mut config)], CONFIG_RENAMED)?;
        Ok(Args { config })
    }
}
