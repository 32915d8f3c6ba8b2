//! `#[migrated_pool]`: parse → validate → expand.

mod expand;
mod parse;
mod validate;

use proc_macro2::TokenStream;

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    crate::diagnostic::expand_fn("migrated_pool", item, |item| {
        let checked = parse::Args::parse(args).and_then(|args| validate::validate(args, &item));
        match checked {
            Ok(valid) => expand::expand(&valid, &item),
            Err(e) => expand::fallback(&item, e),
        }
    })
}
