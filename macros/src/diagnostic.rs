//! Compile-time diagnostics shared by the macros: errors that keep the user's item, and
//! warnings on stable Rust.

use proc_macro2::{Span, TokenStream};
use quote::quote_spanned;

/// A warning the compiler shows as a real `warning:` line on stable Rust.
///
/// Stable Rust has no warning API for proc macros, so the expansion uses a `#[deprecated]`
/// item and uses it once: rustc reports the deprecation with our note, at our span.
pub(crate) fn warning(span: Span, index: usize, message: &str) -> TokenStream {
    let name = quote::format_ident!("__pgready_warning_{}", index, span = span);
    quote_spanned! {span=>
        #[allow(non_camel_case_types, dead_code)]
        {
            #[deprecated(note = #message)]
            struct #name;
            let _ = #name;
        }
    }
}

/// Joins several errors into one, whose `compile_error!`s are reported together.
pub(crate) fn combine(errors: impl IntoIterator<Item = syn::Error>) -> Option<syn::Error> {
    errors.into_iter().reduce(|mut all, e| {
        all.combine(e);
        all
    })
}

/// Both results, or every error of the two: independent checks (the signature, the project)
/// are reported in one build.
pub(crate) fn both<A, B>(a: syn::Result<A>, b: syn::Result<B>) -> syn::Result<(A, B)> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => Err(e),
        (Err(mut a), Err(b)) => {
            a.combine(b);
            Err(a)
        }
    }
}

/// The shape every attribute shares: parse the item as a function (else return the error with
/// the tokens as they were), expand it with `f`, and print the expansion when
/// `PGREADY_MACROS_DEBUG` is set (axum's `AXUM_MACROS_DEBUG`), followed by the time the macro
/// took: stable Rust has no per-macro timing (`-Z time-passes`, `-Z self-profile` are nightly),
/// and the bench's `compile` scenario reads this line.
pub(crate) fn expand_fn(
    name: &str,
    item: TokenStream,
    f: impl FnOnce(syn::ItemFn) -> TokenStream,
) -> TokenStream {
    let started = std::time::Instant::now();
    let expanded = match syn::parse2::<syn::ItemFn>(item.clone()) {
        Ok(function) => f(function),
        Err(e) => {
            let error = e.to_compile_error();
            quote::quote!(#error #item)
        }
    };
    if std::env::var_os("PGREADY_MACROS_DEBUG").is_some() {
        let took = started.elapsed();
        eprintln!("{expanded}");
        eprintln!(
            "// #[pgready::{name}] expanded in {:.3} ms",
            took.as_secs_f64() * 1e3
        );
    }
    expanded
}
