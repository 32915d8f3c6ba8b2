//! PostgreSQL types to the Rust types generated code decodes and binds them as:
//! `pgready_core::schema::rust_types`, sqlx's own table (its preference when two crates are on:
//! `time` before `chrono`, `bigdecimal` before `rust_decimal`, `ipnetwork` before `ipnet`),
//! with the `pgready` features this build of the macros was given.

use pgready_core::schema::Catalog;
use pgready_core::schema::builtins::SqlType;
use pgready_core::schema::rust_types::{Feature, RustTypes, for_sql_type};
use proc_macro2::TokenStream;

/// The Rust types of one SQL type: `output` decodes it; `input` is what a parameter of it is
/// checked against (`&str` for text, `&[T]` for arrays), as in sqlx.
pub(crate) struct Mapped {
    pub(crate) output: TokenStream,
    pub(crate) input: TokenStream,
}

/// Why a SQL type has no Rust type here.
pub(crate) enum Unmapped {
    /// one of these `pgready` features turns one on
    Features(Vec<Feature>),
    /// an enum or composite: the user's `#[derive(sqlx::Type)]` type, named with an override
    UserType(String),
    /// nothing in sqlx decodes it: why, and what to write instead
    Unsupported(String),
}

/// The `pgready` features this build has, each turning on sqlx's feature of the same name.
pub(crate) fn enabled() -> Vec<Feature> {
    [
        (cfg!(feature = "time"), Feature::Time),
        (cfg!(feature = "chrono"), Feature::Chrono),
        (cfg!(feature = "bigdecimal"), Feature::BigDecimal),
        (cfg!(feature = "rust_decimal"), Feature::RustDecimal),
        (cfg!(feature = "uuid"), Feature::Uuid),
        (cfg!(feature = "json"), Feature::Json),
        (cfg!(feature = "ipnetwork"), Feature::IpNetwork),
        (cfg!(feature = "ipnet"), Feature::IpNet),
        (cfg!(feature = "mac_address"), Feature::MacAddress),
        (cfg!(feature = "bit-vec"), Feature::BitVec),
    ]
    .into_iter()
    .filter_map(|(on, f)| on.then_some(f))
    .collect()
}

/// What sqlx decodes `sql` (a `format_type` name without modifier) into, in `catalog`
/// (domains are their base type).
pub(crate) fn rust_types(sql: &str, catalog: &Catalog) -> RustTypes {
    for_sql_type(&SqlType::from_catalog(sql, catalog))
}

/// The generated code's types for `sql`.
pub(crate) fn map(sql: &str, catalog: &Catalog) -> Result<Mapped, Unmapped> {
    let types = rust_types(sql, catalog);
    match &types {
        RustTypes::Enum { type_name, .. } | RustTypes::Composite { type_name, .. } => {
            return Err(Unmapped::UserType(type_name.clone()));
        }
        RustTypes::Unsupported { hint, .. } => return Err(Unmapped::Unsupported(hint.clone())),
        RustTypes::Decodes(_) => {}
    }
    let chosen = types.choose(&enabled()).map_err(Unmapped::Features)?;
    let output = chosen.path.replace("sqlx::", "::pgready::sqlx::");
    // what sqlx's own macros check a parameter against: the borrowed form
    let input = if output == "String" {
        "&str".to_owned()
    } else if let Some(inner) = output
        .strip_prefix("Vec<")
        .and_then(|s| s.strip_suffix('>'))
    {
        format!("&[{inner}]")
    } else {
        output.clone()
    };
    let parse = |text: &str| -> TokenStream {
        text.parse().unwrap_or_else(|_| {
            panic!("pgready's type table holds a path that does not parse: {text}")
        })
    };
    Ok(Mapped {
        output: parse(&output),
        input: parse(&input),
    })
}

/// Why a type has no Rust type, as the end of a message.
pub(crate) fn explain(sql: &str, why: &Unmapped) -> String {
    match why {
        Unmapped::Features(features) => format!(
            "`{sql}` needs the {} feature of `pgready` (it turns on sqlx's own)",
            features
                .iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(" or ")
        ),
        Unmapped::UserType(name) => format!(
            "`{name}` is your own type: name your `#[derive(sqlx::Type)]` type for it with an \
             override (`AS \"column: MyType\"`)"
        ),
        Unmapped::Unsupported(hint) => hint.clone(),
    }
}
