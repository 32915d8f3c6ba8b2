//! The result types of the functions and operators the analyzer types, and which of them never
//! return NULL for non-null arguments.
//!
//! Types are `format_type` names without modifiers. A call this module does not know is `None`,
//! and the analyzer refuses it with a request for a cast rather than guessing.

/// The integer and floating types in the order PostgreSQL's arithmetic widens them.
const NUMERIC_ORDER: &[&str] = &[
    "smallint",
    "integer",
    "bigint",
    "numeric",
    "real",
    "double precision",
];

fn numeric_rank(t: &str) -> Option<usize> {
    NUMERIC_ORDER.iter().position(|n| *n == t)
}

fn is_text(t: &str) -> bool {
    matches!(
        t,
        "text" | "character varying" | "character" | "citext" | "name"
    )
}

/// `aggregate(args)`'s result type, for the aggregates services use.
pub(super) fn aggregate(name: &str, args: &[String]) -> Option<String> {
    let first = args.first().map(String::as_str);
    let result = match (name, first) {
        ("count", _) => "bigint".to_owned(),
        ("sum", Some("smallint" | "integer")) => "bigint".to_owned(),
        ("sum", Some("bigint" | "numeric")) => "numeric".to_owned(),
        ("sum", Some(t @ ("real" | "double precision" | "interval" | "money"))) => t.to_owned(),
        ("avg", Some("smallint" | "integer" | "bigint" | "numeric")) => "numeric".to_owned(),
        ("avg", Some("real" | "double precision")) => "double precision".to_owned(),
        ("avg", Some("interval")) => "interval".to_owned(),
        ("min" | "max", Some(t)) if !t.ends_with("[]") || name == "max" || name == "min" => {
            t.to_owned()
        }
        ("array_agg", Some(t)) if !t.ends_with("[]") => format!("{t}[]"),
        ("string_agg", Some(t)) if is_text(t) => "text".to_owned(),
        ("string_agg", Some("bytea")) => "bytea".to_owned(),
        ("bool_and" | "bool_or" | "every", Some("boolean")) => "boolean".to_owned(),
        ("json_agg" | "json_object_agg", Some(_)) => "json".to_owned(),
        ("jsonb_agg" | "jsonb_object_agg", Some(_)) => "jsonb".to_owned(),
        _ => return None,
    };
    Some(result)
}

/// Whether `name` is an aggregate this module types.
pub(super) fn is_aggregate(name: &str) -> bool {
    matches!(
        name,
        "count"
            | "sum"
            | "avg"
            | "min"
            | "max"
            | "array_agg"
            | "string_agg"
            | "bool_and"
            | "bool_or"
            | "every"
            | "json_agg"
            | "jsonb_agg"
            | "json_object_agg"
            | "jsonb_object_agg"
    )
}

/// A window function without arguments: its type; all of them are never NULL.
pub(super) fn window(name: &str) -> Option<&'static str> {
    match name {
        "row_number" | "rank" | "dense_rank" | "ntile" => Some("bigint"),
        "percent_rank" | "cume_dist" => Some("double precision"),
        _ => None,
    }
}

/// A scalar function's result type, and whether it is total (never NULL when no argument is).
pub(super) fn scalar(name: &str, args: &[String]) -> Option<(String, bool)> {
    let arg = |i: usize| args.get(i).map(String::as_str);
    let (result, total) = match (name, args.len()) {
        ("now" | "transaction_timestamp" | "statement_timestamp" | "clock_timestamp", 0) => {
            ("timestamp with time zone".to_owned(), true)
        }
        ("gen_random_uuid", 0) => ("uuid".to_owned(), true),
        ("random", 0) => ("double precision".to_owned(), true),
        ("lower" | "upper" | "btrim" | "ltrim" | "rtrim" | "md5" | "initcap", 1)
            if arg(0).is_some_and(is_text) =>
        {
            ("text".to_owned(), true)
        }
        ("length" | "char_length" | "character_length" | "octet_length", 1)
            if arg(0).is_some_and(|t| is_text(t) || t == "bytea") =>
        {
            ("integer".to_owned(), true)
        }
        ("abs", 1) if arg(0).and_then(numeric_rank).is_some() => (args[0].clone(), true),
        ("round" | "trunc" | "ceil" | "floor", 1)
            if matches!(arg(0), Some("numeric" | "double precision")) =>
        {
            (args[0].clone(), true)
        }
        ("concat", _) => ("text".to_owned(), true),
        ("date_trunc", 2)
            if arg(0).is_some_and(is_text)
                && matches!(
                    arg(1),
                    Some("timestamp with time zone" | "timestamp without time zone" | "interval")
                ) =>
        {
            (args[1].clone(), true)
        }
        ("jsonb_build_object" | "jsonb_build_array", _) => ("jsonb".to_owned(), true),
        ("json_build_object" | "json_build_array", _) => ("json".to_owned(), true),
        ("to_jsonb", 1) => ("jsonb".to_owned(), true),
        ("to_json", 1) => ("json".to_owned(), true),
        ("array_length", 2) if arg(0).is_some_and(|t| t.ends_with("[]")) => {
            // NULL for an empty array
            ("integer".to_owned(), false)
        }
        ("cardinality", 1) if arg(0).is_some_and(|t| t.ends_with("[]")) => {
            ("integer".to_owned(), true)
        }
        _ => return None,
    };
    Some((result, total))
}

/// What a binary operator returns.
pub(super) enum Binary {
    /// its result type, and whether it is never NULL when its operands are not
    Typed(String, bool),
    /// the operator compares: its operands must agree, the result is `boolean`
    Comparison,
}

/// The result of `left op right`, both typed.
pub(super) fn binary(op: &str, left: &str, right: &str) -> Option<Binary> {
    use Binary::{Comparison, Typed};
    match op {
        "=" | "<>" | "!=" | "<" | ">" | "<=" | ">=" => return Some(Comparison),
        _ => {}
    }
    let same_rank = numeric_rank(left).zip(numeric_rank(right));
    let typed = |t: &str| Some(Typed(t.to_owned(), true));
    match (op, left, right) {
        ("+" | "-" | "*" | "/" | "%", _, _) if same_rank.is_some() => {
            let (l, r) = same_rank?;
            // the integers have operators for every pair (the wider wins); an integer with a
            // numeric casts to numeric; a float with anything else resolves to the preferred
            // float, double precision (PostgreSQL's rule: most exact matches, then preferred
            // types); `%` is for integers and numeric only
            let float = |rank: usize| rank >= 4;
            let result = if l == r {
                NUMERIC_ORDER[l]
            } else if !float(l) && !float(r) {
                NUMERIC_ORDER[l.max(r)]
            } else {
                "double precision"
            };
            if op == "%" && float(l.max(r)) {
                return None;
            }
            typed(result)
        }
        ("||", l, r) if is_text(l) && is_text(r) => typed("text"),
        ("||", l, r) if l.ends_with("[]") && (r == l || format!("{r}[]") == l) => typed(l),
        ("||", l, r) if r.ends_with("[]") && format!("{l}[]") == r => typed(r),
        ("-", "date", "date") => typed("integer"),
        ("+" | "-", "date", "integer") => typed("date"),
        ("+", "integer", "date") => typed("date"),
        (
            "+" | "-",
            t @ ("timestamp with time zone" | "timestamp without time zone"),
            "interval",
        ) => typed(t),
        ("+", "interval", t @ ("timestamp with time zone" | "timestamp without time zone")) => {
            typed(t)
        }
        ("+" | "-", "date", "interval") => typed("timestamp without time zone"),
        ("-", l, r)
            if l == r
                && matches!(
                    l,
                    "timestamp with time zone" | "timestamp without time zone"
                ) =>
        {
            typed("interval")
        }
        ("+" | "-", "interval", "interval") => typed("interval"),
        ("*" | "/", "interval", "double precision" | "integer" | "bigint" | "numeric") => {
            typed("interval")
        }
        // JSON: `->` and `#>` give JSON, `->>` and `#>>` text; NULL when the key is absent
        ("->" | "#>", j @ ("json" | "jsonb"), _) => Some(Typed(j.to_owned(), false)),
        ("->>" | "#>>", "json" | "jsonb", _) => Some(Typed("text".to_owned(), false)),
        ("@>" | "<@", l, r) if l == r => typed("boolean"),
        ("?" | "?|" | "?&", "jsonb", _) => typed("boolean"),
        ("&&", l, r) if l == r && l.ends_with("[]") => typed("boolean"),
        _ => None,
    }
}

/// What a typed operand gives a `$n` on the other side of `op` (the type PostgreSQL infers).
pub(super) fn param_beside(op: &str, other: &str) -> Option<String> {
    // `character varying` has no operators of its own: it compares as text
    let other = match other {
        "character varying" => "text",
        other => other,
    };
    match op {
        "=" | "<>" | "!=" | "<" | ">" | "<=" | ">=" | "||" | "+" | "-" | "*" | "/" | "%" | "@>"
        | "<@" | "&&" => Some(other.to_owned()),
        "->" | "->>" => None,
        _ => None,
    }
}

/// PostgreSQL's internal name of a type, which it names a cast column after (`$1::int` is
/// `int4`, `$1::int[]` is `int4` too: the last part of the type's name as the grammar wrote it).
pub(super) fn internal_name(type_name: &str) -> String {
    let base = type_name.trim_end_matches("[]");
    let name = match base {
        "smallint" => "int2",
        "integer" => "int4",
        "bigint" => "int8",
        "real" => "float4",
        "double precision" => "float8",
        "boolean" => "bool",
        "character varying" => "varchar",
        "character" => "bpchar",
        "timestamp with time zone" => "timestamptz",
        "timestamp without time zone" => "timestamp",
        "time with time zone" => "timetz",
        "time without time zone" => "time",
        "bit varying" => "varbit",
        other => other.rsplit('.').next().unwrap_or(other),
    };
    name.trim_matches('"').to_owned()
}
