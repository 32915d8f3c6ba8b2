//! Attribute arguments: `config = "path"`, spans kept.

use proc_macro2::{Span, TokenStream};
use syn::LitStr;
use syn::meta::ParseNestedMeta;

const KEYS: &[&str] = &["config"];
/// Names users reach for, and the key they mean.
const RENAMED: &[(&str, &str)] = &[
    ("path", "config"),
    ("file", "config"),
    ("config_file", "config"),
];

/// The parsed arguments of `#[migrated_pool(...)]`.
pub(crate) struct Args {
    /// `config = "…"`, when given.
    pub(crate) config: Option<LitStr>,
}

impl Args {
    pub(crate) fn parse(args: TokenStream) -> syn::Result<Args> {
        let mut parsed = Args { config: None };
        let parser = syn::meta::parser(|meta| parsed.parse_one(meta));
        syn::parse::Parser::parse2(parser, args)?;
        Ok(parsed)
    }

    fn parse_one(&mut self, meta: ParseNestedMeta<'_>) -> syn::Result<()> {
        if meta.path.is_ident("config") {
            if self.config.is_some() {
                return Err(meta.error("`config` is given more than once"));
            }
            self.config = Some(meta.value()?.parse()?);
            return Ok(());
        }
        let name = meta
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        if let Some((_, key)) = RENAMED.iter().find(|(old, _)| *old == name) {
            return Err(meta.error(format!("unknown argument `{name}`, did you mean `{key}`?")));
        }
        Err(meta.error(format!(
            "unknown argument `{name}`, expected one of: {}",
            KEYS.iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }

    /// The span errors about the config file point at: the literal, or the attribute.
    pub(crate) fn config_span(&self) -> Span {
        self.config
            .as_ref()
            .map_or_else(Span::call_site, LitStr::span)
    }
}
