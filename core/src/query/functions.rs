//! Which functions and operators never return NULL for non-null arguments, for nullability;
//! their types come from the generated table (`schema::builtins`).

/// Operators that return a value whenever their operands are not NULL: comparisons,
/// arithmetic, concatenation, pattern matching, containment. JSON's `->`, `->>`, `#>`, `#>>`
/// are not (a missing key is NULL).
pub(super) fn total_operator(name: &str) -> bool {
    matches!(
        name,
        "=" | "<>"
            | "<"
            | ">"
            | "<="
            | ">="
            | "+"
            | "-"
            | "*"
            | "/"
            | "%"
            | "^"
            | "||"
            | "~~"
            | "!~~"
            | "~~*"
            | "!~~*"
            | "~"
            | "~*"
            | "!~"
            | "!~*"
            | "@>"
            | "<@"
            | "&&"
            | "?"
            | "?|"
            | "?&"
    )
}

/// The comparison operators.
pub(super) fn comparison(name: &str) -> bool {
    matches!(name, "=" | "<>" | "<" | ">" | "<=" | ">=")
}

/// Functions that return a value whenever their arguments are not NULL (strict ones), or
/// always (`now()`, `concat`, which skip NULL arguments). A function not listed is nullable.
pub(super) fn total_function(name: &str) -> bool {
    matches!(
        name,
        "now"
            | "transaction_timestamp"
            | "statement_timestamp"
            | "clock_timestamp"
            | "gen_random_uuid"
            | "random"
            | "lower"
            | "upper"
            | "initcap"
            | "btrim"
            | "ltrim"
            | "rtrim"
            | "md5"
            | "length"
            | "char_length"
            | "character_length"
            | "octet_length"
            | "abs"
            | "round"
            | "trunc"
            | "ceil"
            | "ceiling"
            | "floor"
            | "concat"
            | "concat_ws"
            | "left"
            | "right"
            | "replace"
            | "repeat"
            | "lpad"
            | "rpad"
            | "reverse"
            | "split_part"
            | "strpos"
            | "to_char"
            | "date_trunc"
            | "date_part"
            | "age"
            | "jsonb_build_object"
            | "jsonb_build_array"
            | "json_build_object"
            | "json_build_array"
            | "to_jsonb"
            | "to_json"
            | "cardinality"
    )
}

/// Window functions that always return a value.
pub(super) fn never_null_window(name: &str) -> bool {
    matches!(
        name,
        "row_number" | "rank" | "dense_rank" | "ntile" | "percent_rank" | "cume_dist"
    )
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
