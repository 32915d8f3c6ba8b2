//! Checks the options (durations through `pgready-core`'s `[health]` rules, the same that
//! validate `pgready.toml`) and the function's signature.

use std::time::Duration;

use pgready_core::config;
use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, LitStr, ReturnType, Type};

use super::parse::Args;
use crate::diagnostic::combine;

/// `kind = "…"`
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Readiness,
    Liveness,
}

/// `detail = "…"`
#[derive(Clone, Copy)]
pub(crate) enum Detail {
    None,
    Status,
    Full,
}

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
        args.kind.as_ref().map_or(Ok(Kind::Readiness), kind),
    );
    let timeout = keep(&mut errors, duration("timeout", args.timeout.as_ref()));
    let cache = keep(&mut errors, duration("cache", args.cache.as_ref()));
    let detail = keep(
        &mut errors,
        args.detail.as_ref().map_or(Ok(Detail::Status), detail),
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

fn kind(lit: &LitStr) -> syn::Result<Kind> {
    match lit.value().as_str() {
        "readiness" => Ok(Kind::Readiness),
        "liveness" => Ok(Kind::Liveness),
        other => Err(syn::Error::new(
            lit.span(),
            format!(
                "unknown `kind` `{other:?}`, expected `\"readiness\"` (checks the database) or \
                 `\"liveness\"` (never touches it)"
            ),
        )),
    }
}

fn detail(lit: &LitStr) -> syn::Result<Detail> {
    match lit.value().as_str() {
        "none" => Ok(Detail::None),
        "status" => Ok(Detail::Status),
        "full" => Ok(Detail::Full),
        other => Err(syn::Error::new(
            lit.span(),
            format!(
                "unknown `detail` `{other:?}`, expected `\"none\"`, `\"status\"` or `\"full\"`"
            ),
        )),
    }
}

/// `timeout` and `cache` are `[health]` keys: core parses and checks them as it does in
/// `pgready.toml`, so the attribute and the file accept the same values with the same messages.
fn duration(key: &str, lit: Option<&LitStr>) -> syn::Result<Option<Duration>> {
    let Some(lit) = lit else { return Ok(None) };
    let source = format!("[health]\n{key} = {}\n", toml_string(&lit.value()));
    let parsed = config::parse(&source, "health").map_err(|diagnostics| {
        let errors = diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| syn::Error::new(lit.span(), format!("`{key}`: {}", d.message)));
        combine(errors).unwrap_or_else(|| syn::Error::new(lit.span(), format!("invalid `{key}`")))
    })?;
    let health = &parsed.file.base().health;
    Ok(Some(if key == "timeout" {
        health.timeout
    } else {
        health.cache
    }))
}

/// A TOML basic string holding `value` exactly.
fn toml_string(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

const BUILT_IN: &str = "async fn health() {}";
const CUSTOM: &str = "async fn health(db: &pgready::Db) -> pgready::health::Checks";

/// `async fn name() {}` or `async fn name(db: &pgready::Db) -> pgready::health::Checks`.
fn signature(item: &ItemFn) -> syn::Result<Form> {
    let sig = &item.sig;
    let mut errors = Vec::new();
    if sig.asyncness.is_none() {
        errors.push(syn::Error::new(
            sig.fn_token.span,
            format!("`#[pgready::health_endpoint]` needs an `async fn`: write `{BUILT_IN}` or `{CUSTOM}`"),
        ));
    }
    if let Some(unsafety) = &sig.unsafety {
        errors.push(syn::Error::new(
            unsafety.span,
            "a health endpoint cannot be `unsafe`",
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.push(syn::Error::new(
            sig.generics.span(),
            "a health endpoint cannot be generic: axum gives it the state (`Db`, or any state `S` \
             where `Db: FromRef<S>`)",
        ));
    }
    let form = match sig.inputs.len() {
        0 => {
            if let ReturnType::Type(_, ty) = &sig.output {
                errors.push(syn::Error::new(
                    ty.span(),
                    format!(
                        "a health endpoint without parameters returns nothing: write `{BUILT_IN}`, \
                         or `{CUSTOM}` to add checks"
                    ),
                ));
            }
            if let Some(first) = item.block.stmts.first() {
                errors.push(syn::Error::new(
                    first.span(),
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
            errors.push(syn::Error::new(
                crate::diagnostic::extra_inputs_span(sig),
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
    let sig = &item.sig;
    let param_span = match sig.inputs.first() {
        Some(FnArg::Typed(typed)) if is_db_ref(&typed.ty) => typed.ty.span(),
        Some(FnArg::Typed(typed)) => {
            errors.push(syn::Error::new(
                typed.ty.span(),
                "the parameter must be `&pgready::Db`: write `db: &pgready::Db`",
            ));
            return None;
        }
        Some(FnArg::Receiver(receiver)) => {
            errors.push(syn::Error::new(
                receiver.span(),
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
            errors.push(syn::Error::new(
                ty.span(),
                "a health endpoint that takes the `Db` returns `pgready::health::Checks`",
            ));
            None
        }
    }
}

/// `&Db`, `&pgready::Db` or `&::pgready::Db`.
fn is_db_ref(ty: &Type) -> bool {
    matches!(ty, Type::Reference(r) if r.mutability.is_none() && crate::migrated_pool::validate::is_db(&r.elem))
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
