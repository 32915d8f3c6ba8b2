//! `#[derive(pgready::Row)]`: a struct checked field by field against a table or view of the
//! schema the migrations build, and an `sqlx::FromRow` implementation.

use pgready_core::query::without_typmod;
use pgready_core::schema::{ChangeKind, Replay};
use pgready_core::suggest::closest;
use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, LitStr, Type};

use crate::diagnostic::combine;
use crate::query::{project, tracked, types};
use pgready_core::schema::rust_types::RustTypes;

/// `#[pgready(table = "…")]` on the struct, `#[pgready(rename = "…")]` on a field.
fn attr_value(attrs: &[syn::Attribute], key: &str) -> syn::Result<Option<LitStr>> {
    let mut found = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("pgready")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident(key) {
                found = Some(meta.value()?.parse::<LitStr>()?);
                Ok(())
            } else {
                let name = meta
                    .path
                    .get_ident()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                Err(meta.error(format!(
                    "unknown key `{name}` in `#[pgready(…)]`: here it takes `{key} = \"…\"`"
                )))
            }
        })?;
    }
    Ok(found)
}

/// `Option<T>` → `Some(T)`.
fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        syn::GenericArgument::Type(inner) if args.args.len() == 1 => Some(inner),
        _ => None,
    }
}

/// A type written as one sqlx knows (`i64`, `String`, `Vec<u8>`, `chrono::NaiveDate`, …), in
/// the form the accepted lists use (last path segments, no spaces); `None` for the caller's own
/// types (newtypes, enums), which sqlx checks by name at run time.
fn known_form(ty: &Type) -> Option<String> {
    const KNOWN: &[&str] = &[
        "bool",
        "i8",
        "i16",
        "i32",
        "i64",
        "u8",
        "u16",
        "u32",
        "u64",
        "f32",
        "f64",
        "String",
        "str",
        "Vec",
        "Uuid",
        "JsonValue",
        "Value",
        "Json",
        "Decimal",
        "BigDecimal",
        "NaiveDate",
        "NaiveTime",
        "NaiveDateTime",
        "DateTime",
        "Date",
        "Time",
        "PrimitiveDateTime",
        "OffsetDateTime",
        "PgInterval",
        "PgMoney",
        "IpNetwork",
        "IpNet",
        "IpAddr",
        "MacAddress",
        "BitVec",
        "PgTimeTz",
        "PgRange",
        "PgLTree",
        "PgLQuery",
        "PgHstore",
        "Oid",
        "Box",
        "Arc",
        "Cow",
    ];
    let text: String = quote!(#ty).to_string().split_whitespace().collect();
    // `::std::string::String` → `String`, `chrono::DateTime<chrono::Utc>` → `DateTime<Utc>`
    let mut out = String::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        out.push_str(word.rsplit("::").next().unwrap_or(word));
        word.clear();
    };
    for c in text.chars() {
        if c.is_alphanumeric() || c == '_' || c == ':' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    let head = out
        .split(['<', '[', '&'])
        .find(|s| !s.is_empty())?
        .to_owned();
    KNOWN.contains(&head.as_str()).then_some(out)
}

pub(crate) fn expand(input: TokenStream) -> TokenStream {
    match derive(input) {
        Ok(tokens) => tokens,
        Err(e) => e.to_compile_error(),
    }
}

fn derive(input: TokenStream) -> syn::Result<TokenStream> {
    let item: DeriveInput = syn::parse2(input)?;
    let name = &item.ident;
    let Data::Struct(data) = &item.data else {
        return Err(syn::Error::new(
            name.span(),
            "`#[derive(pgready::Row)]` is for structs with named fields",
        ));
    };
    let Fields::Named(fields) = &data.fields else {
        return Err(syn::Error::new(
            name.span(),
            "`#[derive(pgready::Row)]` needs named fields: each names a column",
        ));
    };
    if !item.generics.params.is_empty() {
        return Err(syn::Error::new(
            item.generics.span(),
            "`#[derive(pgready::Row)]` does not take generic parameters",
        ));
    }
    let table = attr_value(&item.attrs, "table")?.ok_or_else(|| {
        syn::Error::new(
            name.span(),
            "name the table or view the row comes from: `#[pgready(table = \"orders\")]`",
        )
    })?;
    let checked = project(table.span())?;
    let replay = checked.schema.as_ref().expect("checked by project()");
    let columns = relation_columns(replay, &table)?;

    let mut errors = Vec::new();
    let mut inits = Vec::new();
    for f in &fields.named {
        let ident = f.ident.as_ref().expect("named fields");
        let rename = match attr_value(&f.attrs, "rename") {
            Ok(r) => r,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let column_name = rename.as_ref().map_or_else(
            || ident.to_string().trim_start_matches("r#").to_owned(),
            LitStr::value,
        );
        let at = rename.as_ref().map_or(ident.span(), LitStr::span);
        match check_field(replay, &columns, &column_name, &f.ty, at) {
            Ok(()) => inits.push(quote! { #ident: row.try_get(#column_name)? }),
            Err(e) => errors.push(e),
        }
    }
    if let Some(e) = combine(errors) {
        return Err(e);
    }
    let tracked = tracked(&checked);
    Ok(quote! {
        const _: () = {
            #tracked
            impl<'r> ::pgready::sqlx::FromRow<'r, ::pgready::sqlx::postgres::PgRow> for #name {
                fn from_row(
                    row: &'r ::pgready::sqlx::postgres::PgRow,
                ) -> ::core::result::Result<Self, ::pgready::sqlx::Error> {
                    use ::pgready::sqlx::Row as _;
                    ::core::result::Result::Ok(Self { #(#inits),* })
                }
            }
        };
    })
}

/// One column of the row's relation.
struct RowColumn {
    name: String,
    type_name: Option<String>,
    /// `None`: never NULL; else why it can be
    nullable: Option<String>,
    /// why the column is unknown (an opaque statement touched it)
    unknown: Option<String>,
}

struct Relation {
    shown: String,
    key: (String, String),
    columns: Vec<RowColumn>,
    /// the relation may have columns the model does not know
    incomplete: Option<String>,
}

fn relation_columns(replay: &Replay, table: &LitStr) -> syn::Result<Relation> {
    let catalog = &replay.catalog;
    let written = table.value();
    let (schema, rel) = match written.split_once('.') {
        Some((s, r)) => (s.to_owned(), r.to_owned()),
        None => (catalog.base_schema.clone(), written.clone()),
    };
    let key = (schema.clone(), rel.clone());
    let s = catalog.schemas.get(&schema);
    if let Some(t) = s.and_then(|s| s.tables.get(&rel)) {
        let columns = t
            .columns
            .iter()
            .map(|c| RowColumn {
                name: c.name.clone(),
                type_name: c.type_name.clone(),
                nullable: (!c.not_null).then(|| {
                    match replay
                        .last_change(&key, Some(&c.name), |k| *k == ChangeKind::MadeNullable)
                    {
                        Some(change) => format!(
                            "column `{written}.{}` is nullable (since `{}`)",
                            c.name, change.origin
                        ),
                        None => format!("column `{written}.{}` is nullable", c.name),
                    }
                }),
                unknown: c.uncertain.as_ref().map(|o| {
                    format!("`{o}` (a statement pgready cannot replay) may have changed it")
                }),
            })
            .collect();
        return Ok(Relation {
            shown: written,
            key,
            columns,
            incomplete: t
                .uncertain
                .as_ref()
                .map(|o| format!("`{o}` (a statement pgready cannot replay) may have added it")),
        });
    }
    if let Some(v) = s.and_then(|s| s.views.get(&rel)) {
        let columns = match (&v.uncertain, &v.columns) {
            (None, Some(columns)) => columns,
            (Some(origin), _) => {
                return Err(syn::Error::new(
                    table.span(),
                    format!(
                        "view `{written}` is unknown because of `{origin}` (a statement pgready cannot replay)"
                    ),
                ));
            }
            (None, None) => {
                return Err(syn::Error::new(
                    table.span(),
                    format!(
                        "the columns of view `{written}` are beyond what pgready derives from \
                         its query: use `#[derive(sqlx::FromRow)]`"
                    ),
                ));
            }
        };
        return Ok(Relation {
            shown: written.clone(),
            key,
            columns: columns
                .iter()
                .map(|c| RowColumn {
                    name: c.name.clone(),
                    type_name: Some(c.type_name.clone()),
                    nullable: Some(format!(
                        "`{written}.{}` is a view's column (PostgreSQL records no NOT NULL for views)",
                        c.name
                    )),
                    unknown: None,
                })
                .collect(),
            incomplete: None,
        });
    }
    let history = replay.fate(&key, None).map(|fate| format!(" (it {fate})"));
    let names = s
        .into_iter()
        .flat_map(|s| s.tables.keys().chain(s.views.keys()))
        .map(String::as_str);
    let suggestion = closest(&rel, names)
        .map(|c| format!("; did you mean `{c}`?"))
        .unwrap_or_default();
    Err(syn::Error::new(
        table.span(),
        format!(
            "no table or view `{written}` in the schema the migrations build{}{suggestion}",
            history.unwrap_or_default()
        ),
    ))
}

fn check_field(
    replay: &Replay,
    relation: &Relation,
    column_name: &str,
    ty: &Type,
    at: Span,
) -> syn::Result<()> {
    let shown = &relation.shown;
    let Some(column) = relation.columns.iter().find(|c| c.name == column_name) else {
        if let Some(why) = &relation.incomplete {
            return Err(syn::Error::new(
                at,
                format!("column `{shown}.{column_name}` is unknown: {why}"),
            ));
        }
        let history = replay
            .fate(&relation.key, Some(column_name))
            .map(|fate| format!(": it {fate}"));
        let suggestion = closest(
            column_name,
            relation.columns.iter().map(|c| c.name.as_str()),
        )
        .map(|c| format!("; did you mean `{c}` (`#[pgready(rename = \"{c}\")]`)?"))
        .unwrap_or_default();
        return Err(syn::Error::new(
            at,
            format!(
                "`{shown}` has no column `{column_name}`{}{suggestion}",
                history.unwrap_or_default()
            ),
        ));
    };
    if let Some(why) = &column.unknown {
        return Err(syn::Error::new(
            at,
            format!("column `{shown}.{column_name}` is unknown: {why}"),
        ));
    }
    let inner = option_inner(ty);
    if let (Some(why), None) = (&column.nullable, inner) {
        return Err(syn::Error::new(
            ty.span(),
            format!(
                "{why}: make the field `Option<{}>`",
                quote!(#ty).to_string().replace(' ', "")
            ),
        ));
    }
    let value_ty = inner.unwrap_or(ty);
    let Some(sql) = column.type_name.as_deref().map(without_typmod) else {
        return Ok(());
    };
    let Some(written) = known_form(value_ty) else {
        return Ok(());
    };
    match types::rust_types(&sql, &replay.catalog) {
        RustTypes::Decodes(accepted) => {
            if RustTypes::Decodes(accepted.clone()).accepts(&written) {
                return Ok(());
            }
            let names: Vec<String> = accepted
                .iter()
                .map(|t| format!("`{}`", t.path.replace("sqlx::types::", "")))
                .collect();
            Err(syn::Error::new(
                value_ty.span(),
                format!(
                    "column `{shown}.{column_name}` is `{sql}`, which sqlx decodes as {}; not `{written}`",
                    names.join(" or ")
                ),
            ))
        }
        RustTypes::Enum { type_name, .. } | RustTypes::Composite { type_name, .. } => {
            Err(syn::Error::new(
                value_ty.span(),
                format!(
                    "column `{shown}.{column_name}` is of your type `{type_name}`: use your \
                     `#[derive(sqlx::Type)] #[sqlx(type_name = \"{type_name}\")]` type, not `{written}`"
                ),
            ))
        }
        RustTypes::Unsupported { hint, .. } => Err(syn::Error::new(
            value_ty.span(),
            format!("column `{shown}.{column_name}`: {hint}"),
        )),
    }
}
