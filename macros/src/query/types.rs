//! PostgreSQL types to the Rust types sqlx decodes and encodes them as: sqlx's own Postgres
//! table (`sqlx-postgres`'s `type_checking.rs`), with the crates chosen as sqlx's macros choose
//! them (`chrono` before `time`, `rust_decimal` before `bigdecimal`, `ipnetwork` before
//! `ipnet`). A type behind a feature answers which `pgready` feature turns it on.

use pgready_core::schema::Catalog;
use proc_macro2::TokenStream;
use quote::quote;

/// The Rust types of one SQL type: `output` decodes it; `input` is what a parameter of it is
/// checked against (`&str` for text, `&[T]` for arrays), as in sqlx.
pub(crate) struct Mapped {
    pub(crate) output: TokenStream,
    pub(crate) input: TokenStream,
    /// the Rust types a `#[derive(pgready::Row)]` field may have, for messages and checks
    pub(crate) accepted: Vec<String>,
}

/// Why a SQL type has no Rust type here.
pub(crate) enum Unmapped {
    /// a `pgready` feature turns it on
    Feature(&'static str),
    /// an enum: the user's `#[derive(sqlx::Type)]` type, named with an override
    Enum(String),
    /// nothing in sqlx decodes it
    Unknown,
}

fn one(output: TokenStream, input: TokenStream, accepted: &[&str]) -> Mapped {
    Mapped {
        output,
        input,
        accepted: accepted.iter().map(|s| (*s).to_owned()).collect(),
    }
}

fn same(tokens: TokenStream, accepted: &[&str]) -> Mapped {
    one(tokens.clone(), tokens, accepted)
}

/// The element type's mapping, for a scalar type (no `[]`).
fn scalar(sql: &str) -> Result<Mapped, Unmapped> {
    let s = quote!(::pgready::sqlx);
    let pg = quote!(::pgready::sqlx::postgres::types);
    Ok(match sql {
        "boolean" => same(quote!(bool), &["bool"]),
        "\"char\"" => same(quote!(i8), &["i8"]),
        "smallint" => same(quote!(i16), &["i16"]),
        "integer" => same(quote!(i32), &["i32"]),
        "bigint" => same(quote!(i64), &["i64"]),
        "real" => same(quote!(f32), &["f32"]),
        "double precision" => same(quote!(f64), &["f64"]),
        "text" | "character varying" | "character" | "name" | "citext" => one(
            quote!(::std::string::String),
            quote!(&str),
            &["String", "&str", "Box<str>", "Arc<str>", "Cow<str>"],
        ),
        "bytea" => one(
            quote!(::std::vec::Vec<u8>),
            quote!(&[u8]),
            &["Vec<u8>", "&[u8]"],
        ),
        "oid" => same(quote!(#pg::Oid), &["Oid"]),
        "interval" => same(quote!(#pg::PgInterval), &["PgInterval"]),
        "money" => same(quote!(#pg::PgMoney), &["PgMoney"]),
        "ltree" => same(quote!(#pg::PgLTree), &["PgLTree"]),
        "lquery" => same(quote!(#pg::PgLQuery), &["PgLQuery"]),
        "hstore" => same(quote!(#pg::PgHstore), &["PgHstore"]),
        "cube" => same(quote!(#pg::PgCube), &["PgCube"]),
        "point" => same(quote!(#pg::PgPoint), &["PgPoint"]),
        "int4range" => same(quote!(#pg::PgRange<i32>), &["PgRange<i32>"]),
        "int8range" => same(quote!(#pg::PgRange<i64>), &["PgRange<i64>"]),
        "uuid" if cfg!(feature = "uuid") => same(quote!(#s::types::Uuid), &["Uuid"]),
        "uuid" => return Err(Unmapped::Feature("uuid")),
        "json" | "jsonb" if cfg!(feature = "json") => same(
            quote!(#s::types::JsonValue),
            &["JsonValue", "Value", "Json<T>"],
        ),
        "json" | "jsonb" => return Err(Unmapped::Feature("json")),
        "numeric" if cfg!(feature = "rust_decimal") => {
            same(quote!(#s::types::Decimal), &["Decimal"])
        }
        "numeric" if cfg!(feature = "bigdecimal") => {
            same(quote!(#s::types::BigDecimal), &["BigDecimal"])
        }
        "numeric" => return Err(Unmapped::Feature("rust_decimal` or `bigdecimal")),
        "inet" | "cidr" if cfg!(feature = "ipnetwork") => {
            same(quote!(#s::types::ipnetwork::IpNetwork), &["IpNetwork"])
        }
        "inet" | "cidr" => return Err(Unmapped::Feature("ipnetwork")),
        "date"
        | "time without time zone"
        | "timestamp without time zone"
        | "timestamp with time zone" => return time(sql),
        _ => return Err(Unmapped::Unknown),
    })
}

fn time(sql: &str) -> Result<Mapped, Unmapped> {
    if cfg!(feature = "chrono") {
        let c = quote!(::pgready::sqlx::types::chrono);
        return Ok(match sql {
            "date" => same(quote!(#c::NaiveDate), &["NaiveDate"]),
            "time without time zone" => same(quote!(#c::NaiveTime), &["NaiveTime"]),
            "timestamp without time zone" => same(quote!(#c::NaiveDateTime), &["NaiveDateTime"]),
            _ => same(quote!(#c::DateTime<#c::Utc>), &["DateTime<Utc>"]),
        });
    }
    if cfg!(feature = "time") {
        let t = quote!(::pgready::sqlx::types::time);
        return Ok(match sql {
            "date" => same(quote!(#t::Date), &["Date"]),
            "time without time zone" => same(quote!(#t::Time), &["Time"]),
            "timestamp without time zone" => {
                same(quote!(#t::PrimitiveDateTime), &["PrimitiveDateTime"])
            }
            _ => same(quote!(#t::OffsetDateTime), &["OffsetDateTime"]),
        });
    }
    Err(Unmapped::Feature("chrono` or `time"))
}

/// The Rust types of `sql` (a `format_type` name without modifier), in `catalog` (domains are
/// their base type; enums need the user's type).
pub(crate) fn map(sql: &str, catalog: &Catalog) -> Result<Mapped, Unmapped> {
    if let Some(element) = sql.strip_suffix("[]") {
        let inner = map(element, catalog)?;
        let out = &inner.output;
        return Ok(Mapped {
            output: quote!(::std::vec::Vec<#out>),
            input: quote!(&[#out]),
            accepted: inner.accepted.iter().map(|a| format!("Vec<{a}>")).collect(),
        });
    }
    match scalar(sql) {
        Err(Unmapped::Unknown) => {}
        other => return other,
    }
    let (schema, name) = match sql.split_once('.') {
        Some((s, n)) => (
            s.trim_matches('"').to_owned(),
            n.trim_matches('"').to_owned(),
        ),
        None => (
            catalog.base_schema.clone(),
            sql.trim_matches('"').to_owned(),
        ),
    };
    if let Some(s) = catalog.schemas.get(&schema) {
        if s.enums.contains_key(&name) {
            return Err(Unmapped::Enum(sql.to_owned()));
        }
        if let Some(base) = s.domains.get(&name).and_then(|d| d.base.as_deref()) {
            return map(&pgready_core::query::without_typmod(base), catalog);
        }
    }
    Err(Unmapped::Unknown)
}

/// Why a type has no Rust type, as the end of a message.
pub(crate) fn explain(sql: &str, why: &Unmapped) -> String {
    match why {
        Unmapped::Feature(feature) => {
            format!("`{sql}` needs the `{feature}` feature of `pgready` (it turns on sqlx's own)")
        }
        Unmapped::Enum(name) => format!(
            "`{name}` is an enum: name your `#[derive(sqlx::Type)]` type for it with an override \
             (`AS \"column: MyEnum\"`)"
        ),
        Unmapped::Unknown => format!(
            "sqlx has no Rust type for `{sql}`: cast it in the query (`::text`) or name a type \
             with an override (`AS \"column: MyType\"`)"
        ),
    }
}
