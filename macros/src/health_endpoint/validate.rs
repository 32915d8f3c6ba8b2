//! Checks the options with `pgready-core` (the `kind` and `detail` words are core's enums, the
//! durations core's parser and `[health]` rule) and the function's signature; every problem is
//! reported in one build.

use std::str::FromStr;
use std::time::Duration;

use pgready_core::duration;
use pgready_core::health::{self, Detail, Kind};
use pgready_core::word::UnknownWord;
use proc_macro2::Span;
use syn::{FnArg, ItemFn, LitStr, ReturnType, Type};

use super::parse::Args;
use crate::diagnostic::combine;
use crate::signature;

/// Which of the two accepted signatures.
pub(crate) enum Form {
    /// `async fn health() {}`: built-in checks only.
    BuiltIn,
    /// `async fn health(db: &pgready::Db) -> pgready::health::Checks`: built-ins plus the
    /// returned checks. Keeps where the parameter's type is, for errors about it.
    Custom { param_span: Span },
}

/// Everything expansion needs, all checked.
pub(crate) struct Valid {
    pub(crate) kind: Kind,
    pub(crate) timeout: Option<Duration>,
    pub(crate) cache: Option<Duration>,
    pub(crate) detail: Detail,
    pub(crate) form: Form,
}

pub(crate) fn validate(args: Args, item: &ItemFn) -> syn::Result<Valid> {
    let mut errors = Vec::new();
    let kind = keep(
        &mut errors,
        word("kind", args.kind.as_ref(), Kind::Readiness),
    );
    let timeout = keep(&mut errors, duration("timeout", args.timeout.as_ref()));
    let cache = keep(&mut errors, duration("cache", args.cache.as_ref()));
    let detail = keep(
        &mut errors,
        word("detail", args.detail.as_ref(), Detail::Status),
    );
    let form = keep(&mut errors, signature(item));
    match (kind, timeout, cache, detail, form) {
        (Some(kind), Some(timeout), Some(cache), Some(detail), Some(form)) => Ok(Valid {
            kind,
            timeout,
            cache,
            detail,
            form,
        }),
        // Every independent mistake is reported in one build.
        _ => Err(combine(errors)
            .unwrap_or_else(|| syn::Error::new(Span::call_site(), "invalid `#[health_endpoint]`"))),
    }
}

fn keep<T>(errors: &mut Vec<syn::Error>, result: syn::Result<T>) -> Option<T> {
    result.map_err(|e| errors.push(e)).ok()
}

/// `kind = "…"` or `detail = "…"`: one of the enum's words, `default` when not given.
fn word<T: FromStr<Err = UnknownWord>>(
    key: &str,
    lit: Option<&LitStr>,
    default: T,
) -> syn::Result<T> {
    let Some(lit) = lit else { return Ok(default) };
    lit.value()
        .parse()
        .map_err(|e: UnknownWord| syn::Error::new_spanned(lit, e.message_for(key)))
}

/// `timeout` and `cache`: durations as `pgready.toml` writes them, and `timeout` under the
/// `[health] timeout` rule, so the attribute and the file accept the same values with the same
/// messages.
fn duration(key: &str, lit: Option<&LitStr>) -> syn::Result<Option<Duration>> {
    let Some(lit) = lit else { return Ok(None) };
    let value = duration::parse(&lit.value()).and_then(|value| {
        if key == "timeout" {
            health::check_timeout(value)?;
        }
        Ok(value)
    });
    value
        .map(Some)
        .map_err(|message| syn::Error::new_spanned(lit, format!("`{key}`: {message}")))
}

const BUILT_IN: &str = "async fn health() {}";
const CUSTOM: &str = "async fn health(db: &pgready::Db) -> pgready::health::Checks";

/// `async fn name() {}` or `async fn name(db: &pgready::Db) -> pgready::health::Checks`.
fn signature(item: &ItemFn) -> syn::Result<Form> {
    let sig = &item.sig;
    let mut errors = Vec::new();
    errors.extend(signature::not_async(
        sig,
        format!(
            "`#[pgready::health_endpoint]` needs an `async fn`: write `{BUILT_IN}` or `{CUSTOM}`"
        ),
    ));
    if let Some(unsafety) = &sig.unsafety {
        errors.push(syn::Error::new(
            unsafety.span,
            "a health endpoint cannot be `unsafe`",
        ));
    }
    errors.extend(signature::generic(
        sig,
        "a health endpoint cannot be generic: axum gives it the state (`Db`, or any state `S` \
         where `Db: FromRef<S>`)"
            .to_owned(),
    ));
    let form = match sig.inputs.len() {
        0 => {
            if let ReturnType::Type(_, ty) = &sig.output {
                errors.push(syn::Error::new_spanned(
                    ty,
                    format!(
                        "a health endpoint without parameters returns nothing: write `{BUILT_IN}`, \
                         or `{CUSTOM}` to add checks"
                    ),
                ));
            }
            if let Some(first) = item.block.stmts.first() {
                errors.push(syn::Error::new_spanned(
                    first,
                    format!(
                        "the body must be empty: without parameters only the built-in checks \
                         run; to add checks write `{CUSTOM}`"
                    ),
                ));
            }
            Some(Form::BuiltIn)
        }
        1 => custom(item, &mut errors),
        _ => {
            errors.push(signature::extra_inputs(
                sig,
                format!("a health endpoint takes at most one parameter: write `{CUSTOM}`"),
            ));
            None
        }
    };
    match (combine(errors), form) {
        (None, Some(form)) => Ok(form),
        (Some(e), _) => Err(e),
        (None, None) => Err(syn::Error::new(sig.ident.span(), "invalid health endpoint")),
    }
}

fn custom(item: &ItemFn, errors: &mut Vec<syn::Error>) -> Option<Form> {
    use syn::spanned::Spanned;

    let sig = &item.sig;
    let param_span = match sig.inputs.first() {
        Some(FnArg::Typed(typed)) if is_db_ref(&typed.ty) => typed.ty.span(),
        Some(FnArg::Typed(typed)) => {
            errors.push(syn::Error::new_spanned(
                &typed.ty,
                "the parameter must be `&pgready::Db`: write `db: &pgready::Db`",
            ));
            return None;
        }
        Some(FnArg::Receiver(receiver)) => {
            errors.push(syn::Error::new_spanned(
                receiver,
                format!("a health endpoint cannot take `self`: write `{CUSTOM}`"),
            ));
            return None;
        }
        None => return None,
    };
    match &sig.output {
        ReturnType::Default => {
            errors.push(syn::Error::new(
                sig.paren_token.span.close(),
                "missing return type: a health endpoint that takes the `Db` returns its checks, \
                 write `-> pgready::health::Checks`",
            ));
            None
        }
        ReturnType::Type(_, ty) if last_segment_is(ty, "Checks") => {
            Some(Form::Custom { param_span })
        }
        ReturnType::Type(_, ty) => {
            errors.push(syn::Error::new_spanned(
                ty,
                "a health endpoint that takes the `Db` returns `pgready::health::Checks`",
            ));
            None
        }
    }
}

/// `&Db`, `&pgready::Db` or `&::pgready::Db`.
fn is_db_ref(ty: &Type) -> bool {
    matches!(ty, Type::Reference(r) if r.mutability.is_none() && signature::is_db(&r.elem))
}

fn last_segment_is(ty: &Type, name: &str) -> bool {
    let Type::Path(path) = ty else { return false };
    path.qself.is_none()
        && path
            .path
            .segments
            .last()
            .is_some_and(|s| s.ident == name && s.arguments.is_none())
}
