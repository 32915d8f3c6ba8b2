//! Attribute arguments: `config = "path"`, as for `#[migrated_pool]`, and
//! `isolation = "transaction" | "database"`, spans kept.

use proc_macro2::TokenStream;
use syn::LitStr;

use crate::project::CONFIG_RENAMED;

/// The parsed arguments of `#[pgready::test(...)]`.
pub(crate) struct Args {
    /// `config = "…"`, when given.
    pub(crate) config: Option<LitStr>,
    /// `isolation = "…"`, when given.
    pub(crate) isolation: Option<LitStr>,
}

/// Names people reach for (sqlx's, Django's) and the key they mean.
const RENAMED: &[(&str, &str)] = &[
    ("mode", "isolation"),
    ("transactional", "isolation"),
    ("rollback", "isolation"),
];

impl Args {
    pub(crate) fn parse(tokens: TokenStream) -> syn::Result<Args> {
        let (mut config, mut isolation) = (None, None);
        let renamed: Vec<(&str, &'static str)> =
            CONFIG_RENAMED.iter().chain(RENAMED).copied().collect();
        crate::args::parse(
            tokens,
            &mut [("config", &mut config), ("isolation", &mut isolation)],
            &renamed,
        )?;
        Ok(Args { config, isolation })
    }
}
