//! `query!`, `query_as!` and `query_scalar!`: the SQL checked against the schema the
//! migrations build (`pgready_core::query::analyze`), expanded into sqlx's runtime query API with
//! typed binds and typed decoding, as sqlx's own macros expand.

pub(crate) mod types;

use std::sync::Arc;

use pgready_core::project::Project as Checked;
use pgready_core::query::{Analysis, OutputColumn, analyze};
use pgready_core::schema::Catalog;
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::parse::ParseStream;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, LitStr, Token, Type};

/// What the macro returns.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// an anonymous record with one field per column
    Record,
    /// the caller's type, built field by field from the columns
    As,
    /// the first column's value
    Scalar,
}

struct Input {
    out: Option<Type>,
    sql: LitStr,
    args: Vec<Expr>,
}

fn parse(input: ParseStream<'_>, kind: Kind) -> syn::Result<Input> {
    let out = if kind == Kind::As {
        let ty: Type = input.parse()?;
        input.parse::<Token![,]>()?;
        Some(ty)
    } else {
        None
    };
    let sql: LitStr = input.parse()?;
    let mut args = Vec::new();
    if !input.is_empty() {
        input.parse::<Token![,]>()?;
        let rest = Punctuated::<Expr, Token![,]>::parse_terminated(input)?;
        args.extend(rest);
    }
    Ok(Input { out, sql, args })
}

pub(crate) fn expand(tokens: TokenStream, kind: Kind) -> TokenStream {
    let parser = |input: ParseStream<'_>| parse(input, kind);
    let input = match syn::parse::Parser::parse2(parser, tokens) {
        Ok(input) => input,
        Err(e) => return e.to_compile_error(),
    };
    match expand_input(&input, kind) {
        Ok(tokens) => tokens,
        Err(e) => e.to_compile_error(),
    }
}

/// The project of the crate being compiled: `pgready.toml` next to its `Cargo.toml`, with the
/// migrations always read.
pub(crate) fn project(span: Span) -> syn::Result<Arc<Checked>> {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR")
        .map_err(|_| syn::Error::new(span, "`CARGO_MANIFEST_DIR` is not set: build with cargo"))?;
    let path = std::path::PathBuf::from(manifest_dir).join("pgready.toml");
    if !path.is_file() {
        return Err(syn::Error::new(
            span,
            format!(
                "checked queries read the schema from the migrations that `pgready.toml` names, \
                 next to Cargo.toml ({}); create it (an empty file means `migrations/`)",
                path.display()
            ),
        ));
    }
    let crate_name = std::env::var("CARGO_PKG_NAME").unwrap_or_default();
    let checked = crate::project::cached(&path, "pgready.toml", &crate_name, true);
    if checked.schema.is_none() {
        let why = checked
            .errors()
            .next()
            .map(|p| p.message.clone())
            .unwrap_or_else(|| "the migrations could not be read".to_owned());
        return Err(syn::Error::new(
            span,
            format!("checked queries need the schema the migrations build: {why}"),
        ));
    }
    Ok(checked)
}

/// Where the migrations are, for `include_bytes!`: editing one re-expands the queries.
pub(crate) fn tracked(checked: &Checked) -> TokenStream {
    let paths = checked.migrations.iter().map(|m| {
        checked
            .migrations_dir
            .join(&m.file_name)
            .display()
            .to_string()
    });
    let config = checked.config_path.display().to_string();
    quote! {
        const _: &[u8] = ::core::include_bytes!(#config);
        #(const _: &[u8] = ::core::include_bytes!(#paths);)*
    }
}

/// `line L, column C` of byte `offset` in `text`.
pub(crate) fn position(text: &str, offset: usize) -> String {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("line {line}, column {column}")
}

/// A column's name as the Rust field, with sqlx's overrides: `"name!"` non-null, `"name?"`
/// nullable, `"name: Type"` its type (and `"name!: Type"`, `"name?: Type"`).
struct Field {
    ident: syn::Ident,
    /// `Some(true)`: forced non-null; `Some(false)`: forced nullable
    nullable_override: Option<bool>,
    type_override: Option<Type>,
}

fn field(column: &OutputColumn, span: Span) -> syn::Result<Field> {
    let (name, type_override) = match column.name.split_once(':') {
        Some((name, ty)) => {
            let ty: Type = syn::parse_str(ty.trim()).map_err(|e| {
                syn::Error::new(
                    span,
                    format!(
                        "column `{}`: the type after `:` does not parse: {e}",
                        column.name
                    ),
                )
            })?;
            (name.trim(), Some(ty))
        }
        None => (column.name.as_str(), None),
    };
    let (name, nullable_override) = if let Some(n) = name.strip_suffix('!') {
        (n, Some(true))
    } else if let Some(n) = name.strip_suffix('?') {
        (n, Some(false))
    } else {
        (name, None)
    };
    let ident = syn::parse_str::<syn::Ident>(name)
        .or_else(|_| syn::parse_str::<syn::Ident>(&format!("r#{name}")))
        .map_err(|_| {
            syn::Error::new(
                span,
                format!(
                    "column `{name}` is not a Rust field name: name it with `AS` (`AS \"my_name\"`)"
                ),
            )
        })?;
    Ok(Field {
        ident,
        nullable_override,
        type_override,
    })
}

/// The Rust type of one result column: the override, or the mapped type (in `Option` when the
/// column can be NULL).
fn column_type(
    column: &OutputColumn,
    f: &Field,
    catalog: &Catalog,
    span: Span,
    kind: Kind,
) -> syn::Result<Option<TokenStream>> {
    let nullable = match f.nullable_override {
        Some(forced_non_null) => !forced_non_null,
        None => column.nullable.is_some(),
    };
    let base = match &f.type_override {
        Some(ty) => quote!(#ty),
        None => match types::map(&column.type_name, catalog) {
            Ok(mapped) => mapped.output,
            // `query_as!` may leave an enum to the struct's field type
            Err(types::Unmapped::UserType(_)) if kind == Kind::As => return Ok(None),
            Err(why) => {
                return Err(syn::Error::new(
                    span,
                    format!(
                        "column `{}` of the query: {}",
                        column.name,
                        types::explain(&column.type_name, &why)
                    ),
                ));
            }
        },
    };
    Ok(Some(if nullable {
        quote!(::core::option::Option<#base>)
    } else {
        base
    }))
}

fn expand_input(input: &Input, kind: Kind) -> syn::Result<TokenStream> {
    let span = input.sql.span();
    let sql = input.sql.value();
    let checked = project(span)?;
    let replay = checked.schema.as_ref().expect("checked by project()");
    let catalog = &replay.catalog;
    let analysis: Analysis = analyze(&sql, replay).map_err(|e| {
        syn::Error::new(
            span,
            format!(
                "{} (at {} of the query)",
                e.message,
                position(&sql, e.offset)
            ),
        )
    })?;
    if analysis.params.len() != input.args.len() {
        return Err(syn::Error::new(
            span,
            format!(
                "the query has {} parameter(s) and {} argument(s) were given",
                analysis.params.len(),
                input.args.len()
            ),
        ));
    }
    let arg_names: Vec<syn::Ident> = (0..input.args.len())
        .map(|i| format_ident!("arg{i}"))
        .collect();
    let arg_exprs = &input.args;
    let mut checks = Vec::new();
    for ((param, expr), name) in analysis.params.iter().zip(&input.args).zip(&arg_names) {
        // `expr as _` opts out of the check, as in sqlx
        if matches!(expr, Expr::Cast(c) if matches!(*c.ty, Type::Infer(_))) {
            continue;
        }
        let param_ty = match types::map(param, catalog) {
            Ok(mapped) => mapped.input,
            // an enum parameter is the user's type: sqlx checks it by name at run time
            Err(types::Unmapped::UserType(_)) => continue,
            Err(why) => {
                return Err(syn::Error::new(
                    expr.span(),
                    format!(
                        "parameter ${}: {} (or pass it `as _` to bind it unchecked)",
                        checks.len() + 1,
                        types::explain(param, &why)
                    ),
                ));
            }
        };
        checks.push(quote_spanned! {expr.span()=>
            #[allow(clippy::missing_panics_doc, clippy::unreachable)]
            if false {
                use ::pgready::sqlx::ty_match::{MatchBorrowExt as _, WrapSameExt as _};
                let expr = ::pgready::sqlx::ty_match::dupe_value(#name);
                let ty_check = ::pgready::sqlx::ty_match::WrapSame::<#param_ty, _>::new(&expr).wrap_same();
                let (mut _ty_check, match_borrow) = ::pgready::sqlx::ty_match::MatchBorrow::new(ty_check, &expr);
                _ty_check = match_borrow.match_borrow();
                ::std::unreachable!();
            }
        });
    }
    let arg_exprs = arg_exprs.iter().map(|e| match e {
        Expr::Cast(c) if matches!(*c.ty, Type::Infer(_)) => (*c.expr).clone(),
        e => e.clone(),
    });
    let tracked = tracked(&checked);
    let query = quote! {
        ::pgready::sqlx::query::<::pgready::sqlx::Postgres>(#sql)
            #(.bind(#arg_names))*
    };
    let mut record = TokenStream::new();
    let decode = match kind {
        Kind::Scalar => {
            let [column] = analysis.columns.as_slice() else {
                return Err(syn::Error::new(
                    span,
                    format!(
                        "`query_scalar!` needs a query with one column; this one has {}",
                        analysis.columns.len()
                    ),
                ));
            };
            let f = field(column, span)?;
            let ty = column_type(column, &f, catalog, span, kind)?
                .expect("only query_as! leaves a type open");
            quote! {
                .try_map(|row: ::pgready::sqlx::postgres::PgRow| {
                    use ::pgready::sqlx::Row as _;
                    row.try_get_unchecked::<#ty, _>(0usize)
                })
            }
        }
        // a statement without result columns is a plain query, as in sqlx: `.execute()` works
        Kind::Record if analysis.columns.is_empty() => TokenStream::new(),
        Kind::Record | Kind::As => {
            let mut fields = Vec::new();
            let mut lets = Vec::new();
            let mut struct_fields = Vec::new();
            for (i, column) in analysis.columns.iter().enumerate() {
                let f = field(column, span)?;
                let ident = &f.ident;
                let var = format_ident!("__pgready_{i}");
                match column_type(column, &f, catalog, span, kind)? {
                    Some(ty) => {
                        lets.push(quote! { let #var: #ty = row.try_get_unchecked::<#ty, _>(#i)?; });
                        struct_fields.push(quote! { pub #ident: #ty });
                    }
                    None => lets.push(quote! { let #var = row.try_get_unchecked(#i)?; }),
                }
                fields.push(quote! { #ident: #var });
            }
            let out = match &input.out {
                Some(ty) => quote!(#ty),
                None => {
                    record = quote! {
                        #[derive(Debug)]
                        #[allow(non_snake_case, dead_code)]
                        struct Record { #(#struct_fields),* }
                    };
                    quote!(Record)
                }
            };
            quote! {
                .try_map(|row: ::pgready::sqlx::postgres::PgRow| {
                    use ::pgready::sqlx::Row as _;
                    #(#lets)*
                    ::core::result::Result::Ok(#out { #(#fields),* })
                })
            }
        }
    };
    Ok(quote! {{
        #tracked
        #(let #arg_names = &(#arg_exprs);)*
        #(#checks)*
        #record
        #query #decode
    }})
}
