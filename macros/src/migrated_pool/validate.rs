//! Checks the function's signature, and reads and validates the config and migrations through
//! `pgready-core`: the same functions the runtime calls at start-up.

use std::path::PathBuf;

use pgready_core::project;
use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, Type};

use super::parse::Args;
use crate::diagnostic::combine;

const DEFAULT_CONFIG: &str = "pgready.toml";

/// Everything expansion needs, all checked.
pub(crate) struct Valid {
    /// Where errors and warnings about the config point.
    pub(crate) span: Span,
    /// Absolute path of `pgready.toml`, for `include_str!` (rebuilds when it changes).
    pub(crate) config_path: String,
    /// `(file name, absolute path)` of each migration, in order.
    pub(crate) migrations: Vec<(String, String)>,
    /// Absolute paths of the release ledger and `sqlx.toml`, when they exist: editing them
    /// re-runs the checks.
    pub(crate) tracked: Vec<String>,
    /// Messages to show as compiler warnings.
    pub(crate) warnings: Vec<String>,
}

pub(crate) fn validate(args: Args, item: &ItemFn) -> syn::Result<Valid> {
    signature(item, "migrated_pool")?;
    load(&args)
}

/// Reads and checks `pgready.toml`, `sqlx.toml`, the migrations and the ledger with
/// `pgready_core::project::check` (what the CLI and start-up run too): everything but the
/// signature (shared with `#[pgready::test]`).
pub(crate) fn load(args: &Args) -> syn::Result<Valid> {
    let span = args.config_span();
    let relative = args
        .config
        .as_ref()
        .map_or_else(|| DEFAULT_CONFIG.to_owned(), |lit| lit.value());
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR")
        .map_err(|_| syn::Error::new(span, "`CARGO_MANIFEST_DIR` is not set: build with cargo"))?;
    let path = PathBuf::from(manifest_dir).join(&relative);
    if let Err(e) = std::fs::read(&path) {
        return Err(syn::Error::new(
            span,
            format!(
                "cannot read `{relative}` next to Cargo.toml ({}): {e}; create it (an empty \
                 file gives the defaults) or point `config = \"…\"` at it",
                path.display()
            ),
        ));
    }
    let crate_name = std::env::var("CARGO_PKG_NAME").unwrap_or_default();
    let checked = project::check(&project::Input {
        config: &path,
        config_name: &relative,
        crate_name: &crate_name,
        missing_config_is_default: false,
        always_read_migrations: false,
        dir_override: None,
    });
    // Every problem is reported in one build.
    if let Some(e) = combine(
        checked
            .errors()
            .map(|problem| syn::Error::new(span, &problem.message)),
    ) {
        return Err(e);
    }
    let warnings = checked.warnings().map(|p| p.message.clone()).collect();
    let migrations = if checked.uses_migrations {
        checked
            .migrations
            .iter()
            .map(|m| {
                let absolute = checked.migrations_dir.join(&m.file_name);
                (m.file_name.clone(), absolute.display().to_string())
            })
            .collect()
    } else {
        Vec::new()
    };
    let tracked = [&checked.ledger_path, &checked.sqlx_toml_path]
        .into_iter()
        .flatten()
        .map(|p| p.display().to_string())
        .collect();
    Ok(Valid {
        span,
        config_path: path.display().to_string(),
        migrations,
        tracked,
        warnings,
    })
}

/// `async fn <name>(db: pgready::Db) -> T`, nothing else; `attribute` names the macro in
/// messages (`migrated_pool`, `test`).
pub(crate) fn signature(item: &ItemFn, attribute: &str) -> syn::Result<()> {
    let sig = &item.sig;
    let name = &sig.ident;
    let mut errors = Vec::new();
    if sig.asyncness.is_none() {
        errors.push(syn::Error::new(
            sig.fn_token.span,
            format!(
                "`#[pgready::{attribute}]` needs an `async fn`: write `async fn {name}(db: pgready::Db)`"
            ),
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.push(syn::Error::new(
            sig.generics.span(),
            format!("`{name}` cannot be generic"),
        ));
    }
    match sig.inputs.len() {
        0 => errors.push(syn::Error::new(
            sig.paren_token.span.join(),
            format!("missing parameter: write `async fn {name}(db: pgready::Db)`"),
        )),
        1 => {}
        _ => {
            errors.push(syn::Error::new(
                crate::diagnostic::extra_inputs_span(sig),
                format!(
                    "`{name}` takes exactly one parameter, `db: pgready::Db`: remove the others"
                ),
            ));
        }
    }
    if let Some(first) = sig.inputs.first() {
        match first {
            FnArg::Typed(typed) if is_db(&typed.ty) => {}
            FnArg::Typed(typed) => errors.push(syn::Error::new(
                typed.ty.span(),
                "the parameter must be `pgready::Db`: write `db: pgready::Db`",
            )),
            FnArg::Receiver(receiver) => errors.push(syn::Error::new(
                receiver.span(),
                format!("`{name}` cannot take `self`: write `async fn {name}(db: pgready::Db)`"),
            )),
        }
    }
    combine(errors).map_or(Ok(()), Err)
}

/// `Db`, `pgready::Db` or `::pgready::Db`.
pub(crate) fn is_db(ty: &Type) -> bool {
    let Type::Path(path) = ty else { return false };
    if path.qself.is_some() {
        return false;
    }
    let segments: Vec<String> = path
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    let no_args = path.path.segments.iter().all(|s| s.arguments.is_none());
    no_args
        && matches!(
            segments.iter().map(String::as_str).collect::<Vec<_>>()[..],
            ["Db"] | ["pgready", "Db"]
        )
}
