//! Attribute arguments, `key = "literal"`, as every pgready attribute takes them: each key at
//! most once (the repeat is the error), and an unknown key answered with the key it was
//! renamed to, the key it is a typo of, or the list of keys (tokio's `entry.rs`).

use pgready_core::suggest::closest;
use proc_macro2::TokenStream;
use syn::LitStr;
use syn::meta::ParseNestedMeta;

/// Parses `tokens` into `slots`, one `(key, value)` per argument the attribute takes, in the
/// order messages list them. `renamed` maps names people reach for to the key they mean.
pub(crate) fn parse(
    tokens: TokenStream,
    slots: &mut [(&'static str, &mut Option<LitStr>)],
    renamed: &[(&str, &'static str)],
) -> syn::Result<()> {
    let keys: Vec<&'static str> = slots.iter().map(|(key, _)| *key).collect();
    let parser = syn::meta::parser(|meta| {
        let name = meta
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        let Some((_, slot)) = slots.iter_mut().find(|(key, _)| *key == name) else {
            return Err(unknown(&meta, &name, &keys, renamed));
        };
        if slot.is_some() {
            return Err(meta.error(format!("`{name}` is given more than once")));
        }
        **slot = Some(meta.value()?.parse()?);
        Ok(())
    });
    syn::parse::Parser::parse2(parser, tokens)
}

fn unknown(
    meta: &ParseNestedMeta<'_>,
    name: &str,
    keys: &[&'static str],
    renamed: &[(&str, &'static str)],
) -> syn::Error {
    let meant = renamed
        .iter()
        .find(|(old, _)| *old == name)
        .map(|(_, key)| *key)
        .or_else(|| closest(name, keys.iter().copied()));
    if let Some(key) = meant {
        return meta.error(format!("unknown argument `{name}`, did you mean `{key}`?"));
    }
    meta.error(format!(
        "unknown argument `{name}`, expected one of: {}",
        keys.iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}
