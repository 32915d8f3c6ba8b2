//! The Rust types `sqlx` 0.9 decodes a PostgreSQL type into, as its Postgres type table
//! (<https://docs.rs/sqlx/latest/sqlx/postgres/types/index.html>) and its `Type`/`Decode`
//! impls say: what checked queries generate for a column, and what a `#[derive(pgready::Row)]`
//! field may be.
//!
//! For each type the list is in the order `sqlx`'s own `query!` prefers (its
//! `type_checking.rs`): `time` before `chrono` and `bigdecimal` before `rust_decimal` when
//! both are enabled, `ipnetwork` before `ipnet`; then the other types that decode it too
//! (`&str`, `Box<str>`, `DateTime<Local>`, `Json<T>`, `IpAddr`, …). Many need a `sqlx` cargo
//! feature ([`Feature`]); [`RustTypes::choose`] picks the first one the enabled features
//! allow. Arrays are `Vec<T>` of an element type that has an array form. A nullable column is
//! `Option<T>` of these: the caller adds it.
//!
//! Paths start at the `sqlx` crate root (`sqlx::types::Uuid`) or are in the prelude (`i32`,
//! `String`, `Vec<u8>`); generated code replaces `sqlx::` with the path of its re-export.
//!
//! ```
//! use pgready_core::schema::rust_types::{Feature, RustTypes, rust_types};
//!
//! let RustTypes::Decodes(types) = rust_types("timestamp with time zone") else { panic!() };
//! let chosen = RustTypes::Decodes(types.clone());
//! assert_eq!(
//!     chosen.choose(&[Feature::Chrono]).map(|t| t.path.as_str()),
//!     Ok("sqlx::types::chrono::DateTime<sqlx::types::chrono::Utc>")
//! );
//! assert_eq!(chosen.choose(&[]).unwrap_err(), vec![Feature::Time, Feature::Chrono]);
//! assert!(RustTypes::Decodes(types).accepts("chrono::DateTime<chrono::Local>"));
//! ```

use std::fmt;

use super::builtins::{SqlType, oid};

/// A `sqlx` cargo feature that a Rust type needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Feature {
    /// `time`: `time::OffsetDateTime`, `Date`, `Time`, `PrimitiveDateTime`
    Time,
    /// `chrono`: `chrono::DateTime`, `NaiveDate`, `NaiveTime`, `NaiveDateTime`
    Chrono,
    /// `bigdecimal`: `bigdecimal::BigDecimal` for `numeric`
    BigDecimal,
    /// `rust_decimal`: `rust_decimal::Decimal` for `numeric`
    RustDecimal,
    /// `uuid`
    Uuid,
    /// `json`: `serde_json::Value`, `Json<T>`
    Json,
    /// `ipnetwork`: `IpNetwork` (and `IpAddr`) for `inet`/`cidr`
    IpNetwork,
    /// `ipnet`: `IpNet` (and `IpAddr`) for `inet`/`cidr`
    IpNet,
    /// `mac_address`: `MacAddress` for `macaddr`
    MacAddress,
    /// `bit-vec`: `BitVec` for `bit`/`varbit`
    BitVec,
}

impl Feature {
    /// The feature's name in `sqlx`'s `Cargo.toml`.
    pub fn name(self) -> &'static str {
        match self {
            Feature::Time => "time",
            Feature::Chrono => "chrono",
            Feature::BigDecimal => "bigdecimal",
            Feature::RustDecimal => "rust_decimal",
            Feature::Uuid => "uuid",
            Feature::Json => "json",
            Feature::IpNetwork => "ipnetwork",
            Feature::IpNet => "ipnet",
            Feature::MacAddress => "mac_address",
            Feature::BitVec => "bit-vec",
        }
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One Rust type `sqlx` decodes a PostgreSQL type into.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RustType {
    /// the type as code writes it: `i32`, `String`, `sqlx::types::Uuid`,
    /// `Vec<sqlx::types::chrono::NaiveDate>`; `_` stands for any type (`Json<_>`) or length
    pub path: String,
    /// the `sqlx` feature it needs
    pub feature: Option<Feature>,
}

/// What `sqlx` decodes a PostgreSQL type into.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RustTypes {
    /// these Rust types, the preferred first (see the module doc)
    Decodes(Vec<RustType>),
    /// a user enum: a Rust enum with `#[derive(sqlx::Type)]` and
    /// `#[sqlx(type_name = "…")]` (in a `Vec` for an array of it)
    Enum {
        /// the enum's name as PostgreSQL prints it
        type_name: String,
        /// an array of the enum
        array: bool,
    },
    /// a composite type: a struct with `#[derive(sqlx::Type)]` and `#[sqlx(type_name = "…")]`
    /// (in a `Vec` for an array of it)
    Composite {
        /// the type's name
        type_name: String,
        /// an array of the composite
        array: bool,
    },
    /// `sqlx` decodes no Rust type from it
    Unsupported {
        /// the type's name
        type_name: String,
        /// why, and what to write instead
        hint: String,
    },
}

impl RustTypes {
    /// The type generated code uses: the first whose feature is among `enabled` (or needs
    /// none). With none, the features that would give one, in preference order.
    pub fn choose(&self, enabled: &[Feature]) -> Result<&RustType, Vec<Feature>> {
        let RustTypes::Decodes(types) = self else {
            return Err(Vec::new());
        };
        let preferred = types
            .iter()
            .filter(|t| !has_placeholder(&t.path))
            .find(|t| t.feature.is_none_or(|f| enabled.contains(&f)));
        match preferred {
            Some(t) => Ok(t),
            None => {
                let mut features: Vec<Feature> = Vec::new();
                for f in types.iter().filter_map(|t| t.feature) {
                    if !features.contains(&f) {
                        features.push(f);
                    }
                }
                Err(features)
            }
        }
    }

    /// Whether the Rust type `written` (as the user wrote it, any path prefix, no `Option`)
    /// is one of the decodable types. `Box`, `Arc` and `Rc` of an accepted type are accepted.
    pub fn accepts(&self, written: &str) -> bool {
        let RustTypes::Decodes(types) = self else {
            return false;
        };
        let written = normalize(written);
        let written = unwrap_pointer(&written);
        types
            .iter()
            .any(|t| matches_pattern(&normalize(&t.path), written))
    }
}

/// A pattern such as `Json<_>` or `[u8; _]` rather than one type.
fn has_placeholder(path: &str) -> bool {
    let bytes = path.as_bytes();
    bytes.iter().enumerate().any(|(i, &c)| {
        let word = |j: Option<usize>| {
            j.and_then(|j| bytes.get(j))
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        };
        c == b'_' && !word(i.checked_sub(1)) && !word(Some(i + 1))
    })
}

/// The type without whitespace, lifetimes and path prefixes: `DateTime<Utc>`, `&str`.
fn normalize(path: &str) -> String {
    // drop lifetimes (`&'a str`, `Cow<'static, str>`), then whitespace
    let mut out = String::new();
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            while chars
                .peek()
                .is_some_and(|c| c.is_alphanumeric() || *c == '_')
            {
                chars.next();
            }
            while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
                chars.next();
            }
            continue;
        }
        if !c.is_whitespace() {
            out.push(c);
        }
    }
    // keep the last segment of every path: `a::b::C<d::E>` is `C<E>`
    let mut result = String::new();
    let mut segment = String::new();
    let mut it = out.chars().peekable();
    while let Some(c) = it.next() {
        if c == ':' && it.peek() == Some(&':') {
            it.next();
            segment.clear();
            continue;
        }
        if c.is_alphanumeric() || c == '_' {
            segment.push(c);
        } else {
            result.push_str(&segment);
            segment.clear();
            result.push(c);
        }
    }
    result.push_str(&segment);
    result
}

fn unwrap_pointer(written: &str) -> &str {
    for pointer in ["Box<", "Arc<", "Rc<"] {
        if let Some(inner) = written
            .strip_prefix(pointer)
            .and_then(|r| r.strip_suffix('>'))
        {
            // `Box<str>`, `Arc<[u8]>` are listed as they are
            if inner != "str" && inner != "[u8]" {
                return unwrap_pointer(inner);
            }
        }
    }
    written
}

/// `pattern` with `_` standing for any balanced type or length.
fn matches_pattern(pattern: &str, written: &str) -> bool {
    fn go(p: &[u8], w: &[u8]) -> bool {
        match (p.first(), w.first()) {
            (None, None) => true,
            (Some(b'_'), _) if p.get(1).is_none_or(|c| !c.is_ascii_alphanumeric()) => {
                // consume one balanced item from `w`
                let mut depth = 0i32;
                for i in 0..=w.len() {
                    if depth == 0 && i > 0 && go(&p[1..], &w[i..]) {
                        return true;
                    }
                    match w.get(i) {
                        Some(b'<' | b'[' | b'(') => depth += 1,
                        Some(b'>' | b']' | b')') => {
                            depth -= 1;
                            if depth < 0 {
                                return false;
                            }
                        }
                        Some(b',' | b';') if depth == 0 => return false,
                        None => return false,
                        _ => {}
                    }
                }
                false
            }
            (Some(a), Some(b)) if a == b => go(&p[1..], &w[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), written.as_bytes())
}

fn ty(path: &str, feature: Option<Feature>) -> RustType {
    RustType {
        path: path.to_owned(),
        feature,
    }
}

const WITH_CHRONO: Option<Feature> = Some(Feature::Chrono);
const WITH_TIME: Option<Feature> = Some(Feature::Time);

/// The Rust types of a scalar (not array) built-in type, and whether each has an array form
/// (`PgHasArrayType`).
fn scalar(o: u32) -> Option<Vec<(RustType, bool)>> {
    use oid::*;
    let plain = |paths: &[&str]| paths.iter().map(|p| (ty(p, None), true)).collect();
    let text = || {
        vec![
            (ty("String", None), true),
            (ty("&str", None), true),
            (ty("Box<str>", None), true),
            (ty("std::sync::Arc<str>", None), false),
            (ty("std::rc::Rc<str>", None), false),
            (ty("std::borrow::Cow<str>", None), true),
            (ty("sqlx::types::Text<_>", None), false),
        ]
    };
    let json = Some(Feature::Json);
    let ip = |net| {
        vec![
            (
                ty(
                    "sqlx::types::ipnetwork::IpNetwork",
                    Some(Feature::IpNetwork),
                ),
                true,
            ),
            (ty("sqlx::types::ipnet::IpNet", Some(Feature::IpNet)), true),
            (ty("std::net::IpAddr", Some(Feature::IpNetwork)), net),
            (ty("std::net::IpAddr", Some(Feature::IpNet)), net),
        ]
    };
    let pair = |time: &str, chrono: &str| {
        vec![
            (ty(&format!("sqlx::types::time::{time}"), WITH_TIME), true),
            (
                ty(&format!("sqlx::types::chrono::{chrono}"), WITH_CHRONO),
                true,
            ),
        ]
    };
    let numeric = || {
        vec![
            (
                ty("sqlx::types::BigDecimal", Some(Feature::BigDecimal)),
                true,
            ),
            (ty("sqlx::types::Decimal", Some(Feature::RustDecimal)), true),
        ]
    };
    let range = |inner: Vec<(RustType, bool)>| -> Vec<(RustType, bool)> {
        inner
            .into_iter()
            .map(|(t, _)| {
                (
                    ty(
                        &format!("sqlx::postgres::types::PgRange<{}>", t.path),
                        t.feature,
                    ),
                    true,
                )
            })
            .collect()
    };
    Some(match o {
        BOOL => plain(&["bool"]),
        CHAR => plain(&["i8"]),
        INT2 => plain(&["i16"]),
        INT4 => plain(&["i32"]),
        INT8 => plain(&["i64"]),
        FLOAT4 => plain(&["f32"]),
        FLOAT8 => plain(&["f64"]),
        TEXT | VARCHAR | BPCHAR | NAME | UNKNOWN => text(),
        BYTEA => vec![
            (ty("Vec<u8>", None), true),
            (ty("&[u8]", None), true),
            (ty("Box<[u8]>", None), true),
            (ty("[u8; _]", None), true),
            (ty("std::sync::Arc<[u8]>", None), false),
            (ty("std::rc::Rc<[u8]>", None), false),
        ],
        VOID => vec![(ty("()", None), false)],
        OID => plain(&["sqlx::postgres::types::Oid"]),
        INTERVAL => plain(&["sqlx::postgres::types::PgInterval"]),
        MONEY => plain(&["sqlx::postgres::types::PgMoney"]),
        POINT => plain(&["sqlx::postgres::types::PgPoint"]),
        LINE => plain(&["sqlx::postgres::types::PgLine"]),
        LSEG => plain(&["sqlx::postgres::types::PgLSeg"]),
        BOX => plain(&["sqlx::postgres::types::PgBox"]),
        PATH => plain(&["sqlx::postgres::types::PgPath"]),
        POLYGON => plain(&["sqlx::postgres::types::PgPolygon"]),
        CIRCLE => plain(&["sqlx::postgres::types::PgCircle"]),
        UUID => vec![(ty("sqlx::types::Uuid", Some(Feature::Uuid)), true)],
        JSON | JSONB => vec![
            (ty("sqlx::types::JsonValue", json), true),
            (ty("sqlx::types::Json<_>", json), true),
            // the same types under serde_json's names
            (ty("serde_json::Value", json), true),
            (ty("Box<sqlx::types::JsonRawValue>", json), false),
            (ty("&sqlx::types::JsonRawValue", json), false),
            (ty("Box<serde_json::value::RawValue>", json), false),
            (ty("&serde_json::value::RawValue", json), false),
        ],
        INET | CIDR => ip(true),
        MACADDR => vec![(
            ty(
                "sqlx::types::mac_address::MacAddress",
                Some(Feature::MacAddress),
            ),
            true,
        )],
        BIT | VARBIT => vec![(ty("sqlx::types::BitVec", Some(Feature::BitVec)), true)],
        NUMERIC => numeric(),
        TIMESTAMPTZ => {
            let mut v = vec![
                (ty("sqlx::types::time::OffsetDateTime", WITH_TIME), true),
                (
                    ty(
                        "sqlx::types::chrono::DateTime<sqlx::types::chrono::Utc>",
                        WITH_CHRONO,
                    ),
                    true,
                ),
            ];
            v.push((
                ty(
                    "sqlx::types::chrono::DateTime<sqlx::types::chrono::Local>",
                    WITH_CHRONO,
                ),
                true,
            ));
            v.push((
                ty(
                    "sqlx::types::chrono::DateTime<sqlx::types::chrono::FixedOffset>",
                    WITH_CHRONO,
                ),
                true,
            ));
            v
        }
        TIMESTAMP => pair("PrimitiveDateTime", "NaiveDateTime"),
        DATE => pair("Date", "NaiveDate"),
        TIME => pair("Time", "NaiveTime"),
        TIMETZ => vec![
            (
                ty(
                    "sqlx::postgres::types::PgTimeTz<sqlx::types::time::Time, sqlx::types::time::UtcOffset>",
                    WITH_TIME,
                ),
                true,
            ),
            (
                ty(
                    "sqlx::postgres::types::PgTimeTz<sqlx::types::chrono::NaiveTime, sqlx::types::chrono::FixedOffset>",
                    WITH_CHRONO,
                ),
                true,
            ),
        ],
        INT4RANGE => range(plain(&["i32"])),
        INT8RANGE => range(plain(&["i64"])),
        NUMRANGE => range(numeric()),
        DATERANGE => range(pair("Date", "NaiveDate")),
        TSRANGE => range(pair("PrimitiveDateTime", "NaiveDateTime")),
        TSTZRANGE => range(vec![
            (ty("sqlx::types::time::OffsetDateTime", WITH_TIME), true),
            (
                ty(
                    "sqlx::types::chrono::DateTime<sqlx::types::chrono::Utc>",
                    WITH_CHRONO,
                ),
                true,
            ),
        ]),
        _ => return None,
    })
}

/// Extension types `sqlx` knows by name.
fn extension(name: &str) -> Option<Vec<(RustType, bool)>> {
    let local = name.rsplit('.').next().unwrap_or(name).trim_matches('"');
    Some(match local {
        "citext" => vec![
            (ty("String", None), false),
            (ty("&str", None), false),
            (ty("sqlx::postgres::types::PgCiText", None), true),
        ],
        "hstore" => vec![(ty("sqlx::postgres::types::PgHstore", None), true)],
        "ltree" => vec![(ty("sqlx::postgres::types::PgLTree", None), true)],
        "lquery" => vec![(ty("sqlx::postgres::types::PgLQuery", None), true)],
        "cube" => vec![(ty("sqlx::postgres::types::PgCube", None), true)],
        _ => return None,
    })
}

/// The Rust types `sqlx` decodes the PostgreSQL type `type_name` (as `format_type` prints
/// it: `integer`, `character varying(255)`, `timestamp with time zone`, `numeric(10,2)`,
/// `integer[]`) into. A type `sqlx` does not know, or a name that is no built-in type, is
/// [`RustTypes::Unsupported`]: for the migrations' enums, domains and composites, resolve the
/// name first ([`SqlType::from_catalog`]) and call [`for_sql_type`].
pub fn rust_types(type_name: &str) -> RustTypes {
    let t = SqlType::builtin(type_name).unwrap_or_else(|| {
        let name = type_name.trim();
        match name.strip_suffix("[]") {
            Some(element) => SqlType::Array(Box::new(SqlType::Other(element.trim().to_owned()))),
            None => SqlType::Other(name.to_owned()),
        }
    });
    for_sql_type(&t)
}

/// The Rust types `sqlx` decodes `t` into (a domain is its base type: pass that).
pub fn for_sql_type(t: &SqlType) -> RustTypes {
    let unsupported = |hint: &str| RustTypes::Unsupported {
        type_name: t.to_string(),
        hint: hint.to_owned(),
    };
    let element = t.element();
    let scalars = match element.as_ref().unwrap_or(t) {
        // `derive(sqlx::Type)` also gives `PgHasArrayType`, so `Vec<E>` decodes an array
        SqlType::Enum(name) => {
            return RustTypes::Enum {
                type_name: name.clone(),
                array: element.is_some(),
            };
        }
        SqlType::Composite(name) => {
            return RustTypes::Composite {
                type_name: name.clone(),
                array: element.is_some(),
            };
        }
        SqlType::Builtin(o) if *o == oid::RECORD => {
            return unsupported(
                "an anonymous record decodes only as a tuple of its fields' types; select the fields as columns instead",
            );
        }
        SqlType::Builtin(o) => scalar(*o),
        SqlType::Other(name) => extension(name),
        _ => None,
    };
    let Some(scalars) = scalars else {
        return unsupported(&format!(
            "sqlx has no Rust type for `{t}`: cast it in the query (`::text`) or override the column's type"
        ));
    };
    match element {
        None => RustTypes::Decodes(scalars.into_iter().map(|(t, _)| t).collect()),
        Some(_) => {
            let arrays: Vec<RustType> = scalars
                .into_iter()
                .filter(|(_, has_array)| *has_array)
                .map(|(t, _)| ty(&format!("Vec<{}>", t.path), t.feature))
                .collect();
            if arrays.is_empty() {
                unsupported(&format!(
                    "sqlx decodes no array of `{}`",
                    t.element().map(|e| e.to_string()).unwrap_or_default()
                ))
            } else {
                RustTypes::Decodes(arrays)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(type_name: &str) -> Vec<(String, Option<Feature>)> {
        match rust_types(type_name) {
            RustTypes::Decodes(types) => types.into_iter().map(|t| (t.path, t.feature)).collect(),
            other => panic!("{type_name}: {other:?}"),
        }
    }

    fn chosen(type_name: &str, enabled: &[Feature]) -> Result<String, Vec<Feature>> {
        rust_types(type_name)
            .choose(enabled)
            .map(|t| t.path.clone())
    }

    #[test]
    fn plain_types_need_no_feature() {
        for (pg, rust) in [
            ("boolean", "bool"),
            ("\"char\"", "i8"),
            ("smallint", "i16"),
            ("integer", "i32"),
            ("bigint", "i64"),
            ("real", "f32"),
            ("double precision", "f64"),
            ("text", "String"),
            ("character varying(255)", "String"),
            ("character(3)", "String"),
            ("name", "String"),
            ("bytea", "Vec<u8>"),
            ("interval", "sqlx::postgres::types::PgInterval"),
            ("money", "sqlx::postgres::types::PgMoney"),
            ("point", "sqlx::postgres::types::PgPoint"),
            ("int4range", "sqlx::postgres::types::PgRange<i32>"),
            ("oid", "sqlx::postgres::types::Oid"),
            ("void", "()"),
            ("integer[]", "Vec<i32>"),
            ("text[]", "Vec<String>"),
            ("character varying(20)[]", "Vec<String>"),
            ("bytea[]", "Vec<Vec<u8>>"),
        ] {
            assert_eq!(chosen(pg, &[]), Ok(rust.to_owned()), "{pg}");
        }
    }

    #[test]
    fn feature_types_follow_sqlx_preferences() {
        use Feature::*;
        let tz = "timestamp with time zone";
        assert_eq!(
            chosen(tz, &[Time]).unwrap(),
            "sqlx::types::time::OffsetDateTime"
        );
        assert_eq!(
            chosen(tz, &[Chrono]).unwrap(),
            "sqlx::types::chrono::DateTime<sqlx::types::chrono::Utc>"
        );
        // sqlx prefers `time` when both are enabled
        assert_eq!(
            chosen(tz, &[Chrono, Time]).unwrap(),
            "sqlx::types::time::OffsetDateTime"
        );
        assert_eq!(chosen(tz, &[]), Err(vec![Time, Chrono]));
        assert_eq!(
            chosen("date", &[Chrono]).unwrap(),
            "sqlx::types::chrono::NaiveDate"
        );
        assert_eq!(
            chosen("timestamp(3) without time zone", &[Chrono]).unwrap(),
            "sqlx::types::chrono::NaiveDateTime"
        );
        assert_eq!(
            chosen("numeric(10,2)", &[RustDecimal, BigDecimal]).unwrap(),
            "sqlx::types::BigDecimal"
        );
        assert_eq!(
            chosen("numeric", &[RustDecimal]).unwrap(),
            "sqlx::types::Decimal"
        );
        assert_eq!(chosen("uuid", &[]), Err(vec![Uuid]));
        assert_eq!(chosen("uuid[]", &[Uuid]).unwrap(), "Vec<sqlx::types::Uuid>");
        assert_eq!(chosen("jsonb", &[Json]).unwrap(), "sqlx::types::JsonValue");
        assert_eq!(
            chosen("inet", &[IpNet]).unwrap(),
            "sqlx::types::ipnet::IpNet"
        );
        assert_eq!(
            chosen("cidr", &[IpNet, IpNetwork]).unwrap(),
            "sqlx::types::ipnetwork::IpNetwork"
        );
        assert_eq!(chosen("bit(3)", &[BitVec]).unwrap(), "sqlx::types::BitVec");
        assert_eq!(
            chosen("macaddr", &[MacAddress]).unwrap(),
            "sqlx::types::mac_address::MacAddress"
        );
        assert_eq!(
            chosen("tstzrange", &[Chrono]).unwrap(),
            "sqlx::postgres::types::PgRange<sqlx::types::chrono::DateTime<sqlx::types::chrono::Utc>>"
        );
        assert!(paths("numrange").iter().all(|(_, f)| f.is_some()));
    }

    #[test]
    fn other_decodable_types_are_accepted() {
        let text = rust_types("character varying(40)");
        for written in [
            "String",
            "std::string::String",
            "&'a str",
            "Box<str>",
            "std::sync::Arc<str>",
            "Cow<'a, str>",
            "sqlx::types::Text<Email>",
            "Box<String>",
        ] {
            assert!(text.accepts(written), "{written}");
        }
        assert!(!text.accepts("i32"));
        assert!(!text.accepts("Vec<String>"));
        let tz = rust_types("timestamp with time zone");
        assert!(tz.accepts("chrono::DateTime<chrono::Utc>"));
        assert!(tz.accepts("DateTime<FixedOffset>"));
        assert!(tz.accepts("time::OffsetDateTime"));
        assert!(!tz.accepts("chrono::NaiveDateTime"));
        let json = rust_types("json");
        assert!(json.accepts("sqlx::types::Json<Vec<Order>>"));
        assert!(
            json.accepts("serde_json::Value"),
            "JsonValue is serde_json::Value"
        );
        let bytes = rust_types("bytea");
        assert!(bytes.accepts("[u8; 16]"));
        assert!(bytes.accepts("&[u8]"));
        assert!(rust_types("inet").accepts("std::net::IpAddr"));
        assert!(rust_types("bigint[]").accepts("Vec<i64>"));
        assert!(!rust_types("bigint[]").accepts("Vec<i32>"));
        assert!(
            !rust_types("integer").accepts("i64"),
            "sqlx decodes int4 only into i32"
        );
    }

    #[test]
    fn user_and_unknown_types_are_answered_honestly() {
        assert_eq!(
            for_sql_type(&SqlType::Enum("mood".into())),
            RustTypes::Enum {
                type_name: "mood".into(),
                array: false
            }
        );
        assert_eq!(
            for_sql_type(&SqlType::Enum("mood".into()).array().unwrap()),
            RustTypes::Enum {
                type_name: "mood".into(),
                array: true
            }
        );
        assert_eq!(
            for_sql_type(&SqlType::Composite("address".into())),
            RustTypes::Composite {
                type_name: "address".into(),
                array: false
            }
        );
        assert_eq!(chosen("citext", &[]).unwrap(), "String");
        assert_eq!(
            chosen("citext[]", &[]).unwrap(),
            "Vec<sqlx::postgres::types::PgCiText>"
        );
        for pg in [
            "tsvector", "jsonpath", "xml", "macaddr8", "regclass", "record", "widget",
        ] {
            let RustTypes::Unsupported { type_name, hint } = rust_types(pg) else {
                panic!("{pg} is not decodable");
            };
            assert_eq!(type_name, pg);
            assert!(!hint.is_empty());
        }
        assert_eq!(rust_types("tsvector").choose(&[]), Err(vec![]));
    }
}
