//! Checks the function's signature, and reads and validates the config and migrations through
//! `pgready-core`: the same functions the runtime calls at start-up.

use std::path::{Path, PathBuf};

use pgready_core::config::{self, Severity};
use pgready_core::{lint, migrations};
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
    /// Absolute path of the release ledger, when there is one (tracked for rebuilds).
    pub(crate) ledger_path: Option<String>,
    /// Messages to show as compiler warnings.
    pub(crate) warnings: Vec<String>,
}

pub(crate) fn validate(args: Args, item: &ItemFn) -> syn::Result<Valid> {
    signature(item, "migrated_pool")?;
    load(&args)
}

/// Reads and checks `pgready.toml`, the migrations and the ledger: everything but the signature
/// (shared with `#[pgready::test]`).
pub(crate) fn load(args: &Args) -> syn::Result<Valid> {
    let span = args.config_span();
    let relative = args
        .config
        .as_ref()
        .map_or_else(|| DEFAULT_CONFIG.to_owned(), |lit| lit.value());
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR")
        .map_err(|_| syn::Error::new(span, "`CARGO_MANIFEST_DIR` is not set: build with cargo"))?;
    let crate_dir = PathBuf::from(manifest_dir);
    let path = crate_dir.join(&relative);
    let source = std::fs::read_to_string(&path).map_err(|e| {
        syn::Error::new(
            span,
            format!(
                "cannot read `{relative}` next to Cargo.toml ({}): {e}; create it (an empty file \
                 gives the defaults) or point `config = \"…\"` at it",
                path.display()
            ),
        )
    })?;
    let crate_name = std::env::var("CARGO_PKG_NAME").unwrap_or_default();
    let parsed = config::parse(&source, &crate_name).map_err(|diagnostics| {
        let errors = diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| syn::Error::new(span, format!("{relative}:{}", located(d))));
        combine(errors).unwrap_or_else(|| syn::Error::new(span, format!("invalid `{relative}`")))
    })?;
    let mut warnings: Vec<String> = parsed
        .warnings
        .iter()
        .map(|d| format!("{relative}:{}", located(d)))
        .collect();
    let base = parsed
        .file
        .profile(config::DEFAULT_PROFILE)
        .map_err(|d| syn::Error::new(span, format!("{relative}:{}", located(&d))))?;

    if base.migrations.on_startup == config::OnStartup::Off {
        let config_path = path.display().to_string();
        return Ok(Valid {
            span,
            config_path,
            migrations: Vec::new(),
            ledger_path: None,
            warnings,
        });
    }
    let found = migration_files(&crate_dir, &base.migrations.dir, &mut warnings);
    let ledger_path = base
        .migrations
        .ledger
        .as_ref()
        .map(|l| crate_dir.join(l))
        .filter(|p| p.is_file());
    // Every problem with the migrations is reported in one build.
    let mut errors = Vec::new();
    let migrations = match found {
        Ok(migrations) => migrations,
        Err(problems) => {
            errors.extend(
                problems
                    .iter()
                    .map(|e| format!("migration {}/{e}", base.migrations.dir)),
            );
            Vec::new()
        }
    };
    if let (Some(ledger), Some(name), true) =
        (&ledger_path, &base.migrations.ledger, errors.is_empty())
    {
        errors.extend(ledger_problems(
            ledger,
            name,
            &migrations,
            &base.migrations.dir,
        ));
    }
    for m in &migrations {
        let in_transaction = !m.no_transaction;
        let findings =
            lint::lint_file(&m.file_name, &m.sql, in_transaction, &base.migrations.lints);
        for finding in findings {
            let message = format!(
                "migration {}/{}:{}: {}[{}]: {}",
                base.migrations.dir,
                finding.file,
                finding.line,
                finding.level.as_str(),
                finding.rule,
                finding.message
            );
            match finding.level {
                config::LintLevel::Deny => errors.push(message),
                _ => warnings.push(message),
            }
        }
    }
    if let Some(e) = combine(
        errors
            .into_iter()
            .map(|message| syn::Error::new(span, message)),
    ) {
        return Err(e);
    }
    let dir = crate_dir.join(&base.migrations.dir);
    let files = migrations
        .into_iter()
        .map(|m| {
            let absolute = dir.join(&m.file_name).display().to_string();
            (m.file_name, absolute)
        })
        .collect();
    Ok(Valid {
        span,
        config_path: path.display().to_string(),
        migrations: files,
        ledger_path: ledger_path.map(|p| p.display().to_string()),
        warnings,
    })
}

/// Released migrations that were edited or deleted, or a ledger that does not parse.
fn ledger_problems(
    path: &Path,
    name: &str,
    migrations: &[migrations::Migration],
    dir: &str,
) -> Vec<String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => return vec![format!("cannot read the release ledger `{name}`: {e}")],
    };
    match migrations::Ledger::parse(name, &text) {
        Ok(ledger) => ledger
            .check(name, migrations)
            .iter()
            .map(|e| format!("migration {dir}/{e}"))
            .collect(),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

/// `line:column: `key`: message`, after the file name, as rustc prints positions.
fn located(d: &config::Diagnostic) -> String {
    let position = if d.line == 0 {
        " ".to_owned()
    } else {
        format!("{}:{}: ", d.line, d.column)
    };
    let key = if d.key.is_empty() {
        String::new()
    } else {
        format!("`{}`: ", d.key)
    };
    format!("{position}{key}{}", d.message)
}

fn migration_files(
    crate_dir: &Path,
    dir: &str,
    warnings: &mut Vec<String>,
) -> Result<Vec<migrations::Migration>, Vec<migrations::MigrationError>> {
    let path = crate_dir.join(dir);
    if !path.is_dir() {
        warnings.push(format!(
            "migrations directory `{dir}` not found: no migrations are embedded; create it or \
             set `[migrations] on_startup = \"off\"`"
        ));
        return Ok(Vec::new());
    }
    migrations::discover(&path, &migrations::Resolve::default())
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
