//! Tokens only: an axum handler that answers from the endpoint's cache or its one shared probe.

use std::time::Duration;

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::ItemFn;

use pgready_core::health::{Detail, Kind};

use super::validate::{Form, Valid};

pub(crate) fn expand(valid: &Valid, item: &ItemFn) -> TokenStream {
    let ItemFn {
        attrs, vis, sig, ..
    } = item;
    let ident = &sig.ident;
    let kind = match valid.kind {
        Kind::Readiness => quote!(::pgready::__private::health::Kind::Readiness),
        Kind::Liveness => quote!(::pgready::__private::health::Kind::Liveness),
    };
    let detail = match valid.detail {
        Detail::None => quote!(::pgready::__private::health::Detail::None),
        Detail::Status => quote!(::pgready::__private::health::Detail::Status),
        Detail::Full => quote!(::pgready::__private::health::Detail::Full),
    };
    let timeout = duration(valid.timeout);
    let cache = duration(valid.cache);
    let (custom_fn, custom) = match valid.form {
        Form::BuiltIn => (quote!(), quote!(::core::option::Option::None)),
        Form::Custom { param_span } => {
            let inner = user_fn(item);
            // Spanned at the user's parameter type: a `Db` that is not pgready's, or a future
            // that is not `Send`, is reported on the user's code.
            let boxed = quote_spanned! {param_span=>
                #[doc(hidden)]
                fn __pgready_checks(
                    db: &::pgready::__private::Db,
                ) -> ::pgready::__private::BoxFuture<'_, ::pgready::__private::health::Checks> {
                    ::std::boxed::Box::pin(__pgready_health(db))
                }
            };
            (
                quote!(#inner #boxed),
                quote! {
                    ::core::option::Option::Some(
                        __pgready_checks as ::pgready::__private::health::CustomChecks
                    )
                },
            )
        }
    };
    quote! {
        #(#attrs)*
        #vis async fn #ident(
            ::pgready::__private::axum::extract::State(__pgready_db):
                ::pgready::__private::axum::extract::State<::pgready::__private::Db>,
        ) -> ::pgready::__private::axum::response::Response {
            static __PGREADY_ENDPOINT: ::pgready::__private::health::Endpoint =
                ::pgready::__private::health::Endpoint::new(#kind, #timeout, #cache, #detail);
            #custom_fn
            ::pgready::__private::health::respond(&__pgready_db, &__PGREADY_ENDPOINT, #custom).await
        }
    }
}

/// On error: the error, and a handler of the right type that keeps the user's function (as
/// an inner fn), so one mistake gives one diagnostic, routes still type-check and IDEs still
/// see the code.
pub(crate) fn fallback(item: &ItemFn, error: syn::Error) -> TokenStream {
    let ItemFn {
        attrs, vis, sig, ..
    } = item;
    let ident = &sig.ident;
    // A `self` parameter would only add a second error.
    let inner = if sig.receiver().is_none() {
        user_fn(item)
    } else {
        quote!()
    };
    let error = error.to_compile_error();
    quote! {
        #error
        #(#attrs)*
        #vis async fn #ident(
            _: ::pgready::__private::axum::extract::State<::pgready::__private::Db>,
        ) -> ::pgready::__private::axum::response::Response {
            #[allow(dead_code, unused)]
            #inner
            ::core::unreachable!("pgready: this program did not compile")
        }
    }
}

/// The user's function, renamed `__pgready_health`, with its own spans.
fn user_fn(item: &ItemFn) -> TokenStream {
    let mut sig = item.sig.clone();
    sig.ident = syn::Ident::new("__pgready_health", sig.ident.span());
    let block = &item.block;
    quote!(#sig #block)
}

fn duration(value: Option<Duration>) -> TokenStream {
    match value {
        Some(d) => {
            let secs = d.as_secs();
            let nanos = d.subsec_nanos();
            quote!(::core::option::Option::Some(::core::time::Duration::new(#secs, #nanos)))
        }
        None => quote!(::core::option::Option::None),
    }
}
