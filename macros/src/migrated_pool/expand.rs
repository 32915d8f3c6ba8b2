//! Tokens only: the `main` that runs pgready's start-up, then the user's body.

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
    let body = inner_fn(item, "__pgready_main");
    quote! {
        #(#attrs)*
        #vis fn #ident() #output {
            #checks
            #body
            ::pgready::__private::run(#setup, __pgready_main)
        }
    }
}

/// On error: the error, and the user's function kept (its body as an inner fn) so that one
/// mistake gives one diagnostic and IDEs still see the code.
pub(crate) fn fallback(item: &ItemFn, error: syn::Error) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = item;
    let ident = &sig.ident;
    let output = &sig.output;
    let mut inner = sig.clone();
    inner.ident = syn::Ident::new("__pgready_main", sig.ident.span());
    let error = error.to_compile_error();
    quote! {
        #error
        #(#attrs)*
        #vis fn #ident() #output {
            #[allow(dead_code, unused)]
            #inner #block
            ::core::unreachable!("pgready: this program did not compile")
        }
    }
}
