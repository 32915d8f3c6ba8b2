//! Tokens only: a `#[test]` that gives the body its own migrated database.

use pgready_core::isolation::Isolation;
use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemFn;

use super::validate::Valid;
use crate::project::{compile_checks, inner_fn, setup};

pub(crate) fn expand(valid: &Valid, item: &ItemFn) -> TokenStream {
    let ItemFn {
        attrs, vis, sig, ..
    } = item;
    let ident = &sig.ident;
    let output = &sig.output;
    let checks = compile_checks(&valid.project);
    let setup = setup(&valid.project);
    let body = inner_fn(item, "__pgready_test");
    let isolation = match valid.isolation {
        Isolation::Transaction => quote!(Transaction),
        Isolation::Database => quote!(Database),
    };
    quote! {
        #[::core::prelude::v1::test]
        #(#attrs)*
        #vis fn #ident() #output {
            #checks
            #body
            ::pgready::__private::run_test(
                #setup,
                ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#ident)),
                ::pgready::__private::Isolation::#isolation,
                __pgready_test,
            )
        }
    }
}

/// On error: the error, and the user's function as written (not a test), so that one mistake
/// gives one diagnostic and IDEs still see the code.
pub(crate) fn fallback(item: &ItemFn, error: syn::Error) -> TokenStream {
    let error = error.to_compile_error();
    quote! {
        #error
        #[allow(dead_code)]
        #item
    }
}
