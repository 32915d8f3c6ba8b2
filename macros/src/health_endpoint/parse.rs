//! Attribute arguments: `kind`, `timeout`, `cache`, `detail`, each a string literal, spans
//! kept.

use proc_macro2::TokenStream;
use syn::LitStr;
use syn::meta::ParseNestedMeta;

const KEYS: &[&str] = &["kind", "timeout", "cache", "detail"];
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
    pub(crate) fn parse(args: TokenStream) -> syn::Result<Args> {
        let mut parsed = Args::default();
        let parser = syn::meta::parser(|meta| parsed.parse_one(meta));
        syn::parse::Parser::parse2(parser, args)?;
        Ok(parsed)
    }

    fn parse_one(&mut self, meta: ParseNestedMeta<'_>) -> syn::Result<()> {
        let name = meta
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        let slot = match name.as_str() {
            "kind" => &mut self.kind,
            "timeout" => &mut self.timeout,
            "cache" => &mut self.cache,
            "detail" => &mut self.detail,
            _ => return Err(unknown(&meta, &name)),
        };
        if slot.is_some() {
            return Err(meta.error(format!("`{name}` is given more than once")));
        }
        *slot = Some(meta.value()?.parse()?);
        Ok(())
    }
}

fn unknown(meta: &ParseNestedMeta<'_>, name: &str) -> syn::Error {
    if let Some((_, key)) = RENAMED.iter().find(|(old, _)| *old == name) {
        return meta.error(format!("unknown argument `{name}`, did you mean `{key}`?"));
    }
    meta.error(format!(
        "unknown argument `{name}`, expected one of: {}",
        KEYS.iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}
