//! `#[migrated_pool]`: parse → validate → expand.

pub(crate) mod expand;
pub(crate) mod parse;
pub(crate) mod validate;

use proc_macro2::TokenStream;

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let item: syn::ItemFn = match syn::parse2(item.clone()) {
        Ok(item) => item,
        // Not a function at all: the error, plus the tokens as they were.
        Err(e) => {
            let error = e.to_compile_error();
            return quote::quote!(#error #item);
        }
    };
    let checked = parse::Args::parse(args).and_then(|args| validate::validate(args, &item));
    let expanded = match checked {
        Ok(valid) => expand::expand(&valid, &item),
        Err(e) => expand::fallback(&item, e),
    };
    if std::env::var_os("PGREADY_MACROS_DEBUG").is_some() {
        eprintln!("{expanded}");
    }
    expanded
}
