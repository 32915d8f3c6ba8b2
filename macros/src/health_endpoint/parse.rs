//! Attribute arguments: `kind`, `timeout`, `cache`, `detail`, each a string literal, spans
//! kept.

use proc_macro2::TokenStream;
use syn::LitStr;

/// Names users reach for, and the key they mean.
const RENAMED: &[(&str, &str)] = &[
    ("probe", "kind"),
    ("type", "kind"),
    ("mode", "kind"),
    ("deadline", "timeout"),
    ("timeout_ms", "timeout"),
    ("ttl", "cache"),
    ("cache_ttl", "cache"),
    ("max_age", "cache"),
    ("details", "detail"),
    ("verbosity", "detail"),
    ("level", "detail"),
];

/// The parsed arguments of `#[health_endpoint(...)]`.
#[derive(Default)]
pub(crate) struct Args {
    /// `kind = "readiness" | "liveness"`
    pub(crate) kind: Option<LitStr>,
    /// `timeout = "2s"`
    pub(crate) timeout: Option<LitStr>,
    /// `cache = "1s"`
    pub(crate) cache: Option<LitStr>,
    /// `detail = "none" | "status" | "full"`
    pub(crate) detail: Option<LitStr>,
}

impl Args {
    pub(crate) fn parse(tokens: TokenStream) -> syn::Result<Args> {
        let mut args = Args::default();
        crate::args::parse(
            tokens,
            &mut [
                ("kind", &mut args.kind),
                ("timeout", &mut args.timeout),
                ("cache", &mut args.cache),
                ("detail", &mut args.detail),
            ],
            RENAMED,
        )?;
        Ok(args)
    }
}
