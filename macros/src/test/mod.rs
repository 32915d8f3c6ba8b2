//! `#[pgready::test]`: parse → validate → expand, sharing `#[migrated_pool]`'s argument parser,
//! config and migration checks, and setup tokens.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::ItemFn;

use crate::migrated_pool::{expand as shared, parse::Args, validate};

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    crate::diagnostic::expand_fn("test", item, |item| expand_test(args, item))
}

fn expand_test(args: TokenStream, item: ItemFn) -> TokenStream {
    let checked = Args::parse(args).and_then(|args| {
        validate::signature(&item, "test")?;
        validate::load(&args)
    });
    match checked {
        Ok(valid) => {
            let ItemFn {
                attrs,
                vis,
                sig,
                block,
            } = &item;
            let ident = &sig.ident;
            let output = &sig.output;
            let inputs = &sig.inputs;
            let checks = shared::compile_checks(&valid);
            let setup = shared::setup(&valid);
            let body = quote_spanned! {sig.ident.span()=>
                async fn __pgready_test(#inputs) #output #block
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
                        __pgready_test,
                    )
                }
            }
        }
        Err(e) => {
            let error = e.to_compile_error();
            quote! {
                #error
                #[allow(dead_code)]
                #item
            }
        }
    }
}
