//! The project `#[migrated_pool]` and `#[pgready::test]` check and embed: the `config = "…"`
//! argument, the check itself (`pgready_core::project::check`, the function the CLI and the
//! tests call too), and the tokens that embed `pgready.toml` and the migrations.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use pgready_core::project;
use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::LitStr;

use crate::diagnostic::{combine, warning};

/// Names people reach for instead of `config`.
pub(crate) const CONFIG_RENAMED: &[(&str, &str)] = &[
    ("path", "config"),
    ("file", "config"),
    ("config_file", "config"),
];

const DEFAULT_CONFIG: &str = "pgready.toml";

/// A checked project: what expansion embeds.
pub(crate) struct Project {
    /// Where errors and warnings about the config point: the `config = "…"` literal, or the
    /// attribute.
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

/// Reads and checks `pgready.toml` (`config`, relative to the crate, default `pgready.toml`),
/// `sqlx.toml`, the migrations and the ledger with `pgready_core::project::check`. Every
/// problem is in the error, at `config`'s literal.
pub(crate) fn check(config: Option<&LitStr>) -> syn::Result<Project> {
    let span = config.map_or_else(Span::call_site, LitStr::span);
    let relative = config.map_or_else(|| DEFAULT_CONFIG.to_owned(), LitStr::value);
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
    let checked = cached(&path, &relative, &crate_name, false);
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
    Ok(Project {
        span,
        config_path: path.display().to_string(),
        migrations,
        tracked,
        warnings,
    })
}

/// Warnings, and the files whose edits must re-run the checks.
pub(crate) fn compile_checks(project: &Project) -> TokenStream {
    let span = project.span;
    let tracked = project.tracked.iter();
    let warnings = project
        .warnings
        .iter()
        .enumerate()
        .map(|(i, message)| warning(span, i, message));
    quote! {
        #(#warnings)*
        // Editing the release ledger or sqlx.toml re-runs the checks.
        #(const _: &str = ::core::include_str!(#tracked);)*
    }
}

/// The user's body as an inner `async fn name(…)` with the user's own signature and spans, so
/// type errors in it point at the user's code, not at the expansion.
pub(crate) fn inner_fn(item: &syn::ItemFn, name: &str) -> TokenStream {
    let sig = &item.sig;
    let (inputs, output, block) = (&sig.inputs, &sig.output, &item.block);
    let name = syn::Ident::new(name, sig.ident.span());
    quote::quote_spanned! {sig.ident.span()=>
        async fn #name(#inputs) #output #block
    }
}

/// A `::pgready::__private::Setup` with the config and migrations embedded.
pub(crate) fn setup(project: &Project) -> TokenStream {
    let config_path = &project.config_path;
    let names = project.migrations.iter().map(|(name, _)| name);
    let paths = project.migrations.iter().map(|(_, path)| path);
    quote! {
        ::pgready::__private::Setup::new(
            ::core::include_str!(#config_path),
            ::core::env!("CARGO_PKG_NAME"),
            &[#(::pgready::__private::EmbeddedFile {
                name: #names,
                sql: ::core::include_str!(#paths),
            }),*],
        )
    }
}

/// What a checked project was computed from: the configuration's text, and the size and
/// modification time of every entry of the migrations folder, the ledger and `sqlx.toml`.
#[derive(PartialEq, Eq)]
struct Fingerprint {
    config: Option<Vec<u8>>,
    files: Vec<(PathBuf, Option<(u64, SystemTime)>)>,
}

impl Fingerprint {
    fn of(config: &Path, checked: &project::Project) -> Fingerprint {
        let stat = |path: &Path| {
            std::fs::metadata(path)
                .ok()
                .and_then(|m| Some((m.len(), m.modified().ok()?)))
        };
        let mut files: Vec<(PathBuf, Option<(u64, SystemTime)>)> =
            std::fs::read_dir(&checked.migrations_dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|entry| {
                    let path = entry.path();
                    let stat = stat(&path);
                    (path, stat)
                })
                .collect();
        files.sort();
        for path in [&checked.ledger_path, &checked.sqlx_toml_path] {
            let path = path
                .clone()
                .unwrap_or_else(|| checked.root.join(project::SQLX_TOML));
            let stat = stat(&path);
            files.push((path, stat));
        }
        Fingerprint {
            config: std::fs::read(config).ok(),
            files,
        }
    }
}

/// Checked projects, per compiler process: a crate's `#[migrated_pool]`, its tests and each of
/// its checked queries read, lint and replay the migrations once, not once per expansion. An
/// entry is used again only while nothing it was computed from has changed.
/// The key is the configuration's path, the crate's name (the default `application_name`) and
/// whether the migrations are read even when no profile applies them.
#[allow(clippy::type_complexity)]
static CHECKED: Mutex<Vec<((PathBuf, String, bool), Fingerprint, Arc<project::Project>)>> =
    Mutex::new(Vec::new());

/// `project::check` on `pgready.toml` at `path`, from the cache when it still holds.
/// `always_read_migrations`: read them even when no profile applies them at start-up (checked
/// queries need the schema either way).
pub(crate) fn cached(
    path: &Path,
    config_name: &str,
    crate_name: &str,
    always_read_migrations: bool,
) -> Arc<project::Project> {
    let mut cache = CHECKED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let key = (
        path.to_path_buf(),
        crate_name.to_owned(),
        always_read_migrations,
    );
    if let Some((_, fingerprint, checked)) = cache.iter().find(|(k, _, _)| *k == key)
        && *fingerprint == Fingerprint::of(path, checked)
    {
        return Arc::clone(checked);
    }
    let checked = Arc::new(project::check(&project::Input {
        config: path,
        config_name,
        crate_name,
        missing_config_is_default: false,
        always_read_migrations,
        dir_override: None,
    }));
    let fingerprint = Fingerprint::of(path, &checked);
    cache.retain(|(k, _, _)| *k != key);
    cache.push((key, fingerprint, Arc::clone(&checked)));
    checked
}
