//! The signature `#[migrated_pool]` and `#[pgready::test]` take, `async fn name(db:
//! pgready::Db)`, and the checks `#[health_endpoint]` shares with them.
//!
//! Errors blame whole nodes with `syn::Error::new_spanned` (the whole `pgready::sqlx::PgPool`,
//! the whole `port: u16`): `Error::new(node.span(), …)` would underline only the first token on
//! stable Rust, where `Span::join` is `None`.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::{FnArg, ItemFn, Signature, Type};

use crate::diagnostic::combine;

/// `async fn <name>(db: pgready::Db) -> T`, nothing else; `attribute` names the macro in
/// messages (`migrated_pool`, `test`). Every problem with the signature is in the error.
pub(crate) fn db_fn(item: &ItemFn, attribute: &str) -> syn::Result<()> {
    let sig = &item.sig;
    let name = &sig.ident;
    let mut errors = Vec::new();
    errors.extend(not_async(
        sig,
        format!("`#[pgready::{attribute}]` needs an `async fn`: write `async fn {name}(db: pgready::Db)`"),
    ));
    errors.extend(generic(sig, format!("`{name}` cannot be generic")));
    match sig.inputs.len() {
        // `DelimSpan::join` is the span of the whole `()` group, which stable Rust has (unlike
        // `Span::join`)
        0 => errors.push(syn::Error::new(
            sig.paren_token.span.join(),
            format!("missing parameter: write `async fn {name}(db: pgready::Db)`"),
        )),
        1 => {}
        _ => errors.push(extra_inputs(
            sig,
            format!("`{name}` takes exactly one parameter, `db: pgready::Db`: remove the others"),
        )),
    }
    match sig.inputs.first() {
        Some(FnArg::Typed(typed)) if is_db(&typed.ty) => {}
        Some(FnArg::Typed(typed)) => errors.push(syn::Error::new_spanned(
            &typed.ty,
            "the parameter must be `pgready::Db`: write `db: pgready::Db`",
        )),
        Some(FnArg::Receiver(receiver)) => errors.push(syn::Error::new_spanned(
            receiver,
            format!("`{name}` cannot take `self`: write `async fn {name}(db: pgready::Db)`"),
        )),
        None => {}
    }
    combine(errors).map_or(Ok(()), Err)
}

/// The error for a function that is not `async`, at its `fn`.
pub(crate) fn not_async(sig: &Signature, message: String) -> Option<syn::Error> {
    sig.asyncness
        .is_none()
        .then(|| syn::Error::new(sig.fn_token.span, message))
}

/// The error for a generic function, over its generic parameters and `where` clause.
pub(crate) fn generic(sig: &Signature, message: String) -> Option<syn::Error> {
    let generics = &sig.generics;
    if generics.params.is_empty() && generics.where_clause.is_none() {
        return None;
    }
    let where_clause = &generics.where_clause;
    Some(syn::Error::new_spanned(
        quote!(#generics #where_clause),
        message,
    ))
}

/// The error for too many parameters, over every parameter after the first.
pub(crate) fn extra_inputs(sig: &Signature, message: String) -> syn::Error {
    let mut extra = TokenStream::new();
    for input in sig.inputs.iter().skip(1) {
        input.to_tokens(&mut extra);
    }
    syn::Error::new_spanned(extra, message)
}

/// `Db`, `pgready::Db` or `::pgready::Db`.
pub(crate) fn is_db(ty: &Type) -> bool {
    let Type::Path(path) = ty else { return false };
    let segments: Vec<String> = path
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    path.qself.is_none()
        && path.path.segments.iter().all(|s| s.arguments.is_none())
        && matches!(
            segments.iter().map(String::as_str).collect::<Vec<_>>()[..],
            ["Db"] | ["pgready", "Db"]
        )
}
