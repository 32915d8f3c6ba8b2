//! Type names as PostgreSQL's `format_type(oid, typmod)` prints them: `int4` and `int` are
//! `integer`, `varchar(255)` is `character varying(255)`, `timestamptz` is
//! `timestamp with time zone`, `int[][]` is `integer[]`.

use squawk_syntax::{SyntaxKind, SyntaxNode};

use super::names::parts;

/// Extension types the replay knows: `CREATE EXTENSION` makes these names resolve.
pub(crate) const EXTENSION_TYPES: &[(&str, &[&str])] = &[
    ("citext", &["citext"]),
    ("hstore", &["hstore"]),
    ("ltree", &["ltree", "lquery", "ltxtquery"]),
    ("cube", &["cube"]),
    ("seg", &["seg"]),
    (
        "isn",
        &[
            "ean13", "isbn", "isbn13", "ismn", "ismn13", "issn", "issn13", "upc",
        ],
    ),
    ("pg_trgm", &[]),
    ("pgcrypto", &[]),
    ("uuid-ossp", &[]),
    (
        "btree_gist",
        &[
            "gbtreekey4",
            "gbtreekey8",
            "gbtreekey16",
            "gbtreekey32",
            "gbtreekey_var",
        ],
    ),
    ("btree_gin", &[]),
    ("unaccent", &[]),
    ("fuzzystrmatch", &[]),
    ("intarray", &["query_int"]),
    ("lo", &["lo"]),
];

/// A type as written in a column definition, before resolution against the catalog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Written {
    /// a built-in type, already in `format_type` form
    Builtin(String),
    /// `serial` and friends: the integer type, plus `NOT NULL` and a default
    Serial(&'static str),
    /// a name to resolve: user enum, domain, extension type (schema, name)
    Named(Option<String>, String),
    /// an array of the inner type
    Array(Box<Written>),
    /// something the replay cannot name (`%TYPE`, …)
    Unknown,
}

/// Reads a type node (`PATH_TYPE`, `ARRAY_TYPE`, `VARCHAR_TYPE`, …).
pub(crate) fn written(node: &SyntaxNode) -> Written {
    let args = || -> Vec<String> {
        node.children()
            .find(|n| n.kind() == SyntaxKind::ARG_LIST)
            .map(|list| {
                list.children()
                    .map(|arg| arg.text().to_string().trim().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    let with_args = |base: &str, args: &[String]| -> String {
        if args.is_empty() {
            base.to_owned()
        } else {
            format!("{base}({})", args.join(","))
        }
    };
    let precision = || -> Option<String> {
        node.children()
            .find(|n| n.kind() == SyntaxKind::LITERAL)
            .map(|l| l.text().to_string().trim().to_owned())
    };
    let has = |kind: SyntaxKind| node.children().any(|n| n.kind() == kind);
    match node.kind() {
        SyntaxKind::ARRAY_TYPE => match node.children().find(|n| is_type(n.kind())) {
            Some(inner) => Written::Array(Box::new(written(&inner))),
            None => Written::Unknown,
        },
        SyntaxKind::VARCHAR_TYPE => Written::Builtin(with_args("character varying", &args())),
        SyntaxKind::CHARACTER_TYPE => {
            let args = args();
            Written::Builtin(if args.is_empty() {
                "character(1)".to_owned()
            } else {
                with_args("character", &args)
            })
        }
        SyntaxKind::BIT_TYPE => {
            let args = args();
            Written::Builtin(if args.is_empty() {
                "bit(1)".to_owned()
            } else {
                with_args("bit", &args)
            })
        }
        SyntaxKind::BIT_VARYING_TYPE => Written::Builtin(with_args("bit varying", &args())),
        SyntaxKind::DOUBLE_TYPE => Written::Builtin("double precision".to_owned()),
        SyntaxKind::TIME_TYPE | SyntaxKind::TIMESTAMP_TYPE => {
            let base = if node.kind() == SyntaxKind::TIME_TYPE {
                "time"
            } else {
                "timestamp"
            };
            let zone = if has(SyntaxKind::WITH_TIMEZONE) {
                "with time zone"
            } else {
                "without time zone"
            };
            Written::Builtin(match precision() {
                Some(p) => format!("{base}({p}) {zone}"),
                None => format!("{base} {zone}"),
            })
        }
        SyntaxKind::INTERVAL_TYPE => {
            let text: Vec<String> = node
                .descendants_with_tokens()
                .filter_map(|e| e.into_token())
                .filter(|t| !t.kind().is_trivia())
                .map(|t| t.text().to_lowercase())
                .collect();
            let text = text.join(" ").replace(" ( ", "(").replace(" )", ")");
            Written::Builtin(text)
        }
        SyntaxKind::PATH_TYPE => {
            if node
                .children_with_tokens()
                .any(|e| e.kind() == SyntaxKind::SETOF_KW)
            {
                return Written::Unknown;
            }
            let Some(path) = node.children().find(|n| n.kind() == SyntaxKind::PATH_REF) else {
                return Written::Unknown;
            };
            let quoted = path
                .descendants_with_tokens()
                .filter_map(|e| e.into_token())
                .filter(|t| !t.kind().is_trivia())
                .last()
                .is_some_and(|t| t.text().starts_with('"'));
            let mut parts = parts(&path);
            let Some(name) = parts.pop() else {
                return Written::Unknown;
            };
            if quoted {
                // a quoted name is the type's real name: `"char"` is the one-byte type, and
                // the grammar's spellings (`"integer"`, `"serial"`, …) are no types at all
                if name == "char" {
                    return Written::Builtin("\"char\"".to_owned());
                }
                if GRAMMAR_ONLY.contains(&name.as_str()) {
                    return Written::Named(parts.pop(), name);
                }
            }
            let schema = parts.pop();
            if !parts.is_empty() {
                return Written::Unknown;
            }
            if schema.as_deref().is_none_or(|s| s == "pg_catalog")
                && let Some(builtin) = builtin(&name, &args())
            {
                return builtin;
            }
            if !args().is_empty() {
                // a type modifier on a user type: the replay does not know its typmod rules
                return Written::Unknown;
            }
            Written::Named(schema, name)
        }
        _ => Written::Unknown,
    }
}

/// Whether a syntax kind is one of the type nodes.
pub(crate) fn is_type(kind: SyntaxKind) -> bool {
    matches!(
        kind,
        SyntaxKind::ARRAY_TYPE
            | SyntaxKind::PATH_TYPE
            | SyntaxKind::VARCHAR_TYPE
            | SyntaxKind::CHARACTER_TYPE
            | SyntaxKind::BIT_TYPE
            | SyntaxKind::BIT_VARYING_TYPE
            | SyntaxKind::DOUBLE_TYPE
            | SyntaxKind::TIME_TYPE
            | SyntaxKind::TIMESTAMP_TYPE
            | SyntaxKind::INTERVAL_TYPE
    )
}

/// Type names only the grammar knows: quoted, they name no built-in type.
const GRAMMAR_ONLY: &[&str] = &[
    "integer",
    "int",
    "smallint",
    "bigint",
    "real",
    "boolean",
    "decimal",
    "float",
    "serial",
    "serial2",
    "serial4",
    "serial8",
    "bigserial",
    "smallserial",
];

/// A built-in type by any of its names, with its modifiers.
fn builtin(name: &str, args: &[String]) -> Option<Written> {
    let plain = |s: &str| Some(Written::Builtin(s.to_owned()));
    let no_args = args.is_empty();
    match name {
        "int" | "int4" | "integer" if no_args => plain("integer"),
        "int2" | "smallint" if no_args => plain("smallint"),
        "int8" | "bigint" if no_args => plain("bigint"),
        "serial" | "serial4" if no_args => Some(Written::Serial("integer")),
        "bigserial" | "serial8" if no_args => Some(Written::Serial("bigint")),
        "smallserial" | "serial2" if no_args => Some(Written::Serial("smallint")),
        "real" | "float4" if no_args => plain("real"),
        "float8" if no_args => plain("double precision"),
        "float" => match args {
            [] => plain("double precision"),
            [p] => match p.parse::<u32>() {
                Ok(1..=24) => plain("real"),
                Ok(25..=53) => plain("double precision"),
                _ => None,
            },
            _ => None,
        },
        "numeric" | "decimal" => match args {
            [] => plain("numeric"),
            [p] => Some(Written::Builtin(format!("numeric({p},0)"))),
            [p, s] => Some(Written::Builtin(format!("numeric({p},{s})"))),
            _ => None,
        },
        "bool" | "boolean" if no_args => plain("boolean"),
        "varchar" => match args {
            [] => plain("character varying"),
            [n] => Some(Written::Builtin(format!("character varying({n})"))),
            _ => None,
        },
        "bpchar" => match args {
            [] => plain("bpchar"),
            [n] => Some(Written::Builtin(format!("character({n})"))),
            _ => None,
        },
        "char" => match args {
            [] => plain("character(1)"),
            [n] => Some(Written::Builtin(format!("character({n})"))),
            _ => None,
        },
        "timestamptz" => match args {
            [] => plain("timestamp with time zone"),
            [p] => Some(Written::Builtin(format!("timestamp({p}) with time zone"))),
            _ => None,
        },
        "timetz" => match args {
            [] => plain("time with time zone"),
            [p] => Some(Written::Builtin(format!("time({p}) with time zone"))),
            _ => None,
        },
        "text" | "bytea" | "date" | "json" | "jsonb" | "uuid" | "inet" | "cidr" | "macaddr"
        | "macaddr8" | "money" | "oid" | "xml" | "tsvector" | "tsquery" | "point" | "line"
        | "lseg" | "box" | "path" | "polygon" | "circle" | "regclass" | "regtype" | "int4range"
        | "int8range" | "numrange" | "tsrange" | "tstzrange" | "daterange" | "int4multirange"
        | "int8multirange" | "nummultirange" | "tsmultirange" | "tstzmultirange"
        | "datemultirange" | "name" | "jsonpath" | "pg_lsn" | "txid_snapshot" | "pg_snapshot"
        | "record"
            if no_args =>
        {
            Some(Written::Builtin(name.to_owned()))
        }
        _ => None,
    }
}
