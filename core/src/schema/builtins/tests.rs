//! Unit tests of the table, the coercion rules and the resolver. The expected answers are
//! PostgreSQL 15's; `tests/tests/builtins.rs` checks thousands more against the server.

use super::*;
use crate::schema::replay_sql;

fn b(o: Oid) -> SqlType {
    SqlType::Builtin(o)
}

fn typed(o: Oid) -> Arg {
    Arg::Typed(b(o))
}

fn mood() -> SqlType {
    SqlType::Enum("mood".to_owned())
}

#[test]
fn the_table_is_sorted_for_its_lookups() {
    assert!(TYPES.windows(2).all(|w| w[0].oid < w[1].oid));
    assert!(
        CASTS
            .windows(2)
            .all(|w| (w[0].source, w[0].target) < (w[1].source, w[1].target))
    );
    assert!(FUNCTIONS.windows(2).all(|w| w[0].name <= w[1].name));
    assert!(OPERATORS.windows(2).all(|w| w[0].name <= w[1].name));
    // every type a row names is in the table
    let known = |o: Oid| o == NONE || TYPES.iter().any(|t| t.oid == o);
    assert!(
        FUNCTIONS
            .iter()
            .all(|f| f.args.iter().all(|&a| known(a)) && known(f.returns))
    );
    assert!(
        OPERATORS
            .iter()
            .all(|o| known(o.left) && known(o.right) && known(o.returns))
    );
}

#[test]
fn the_table_has_what_queries_call() {
    for name in [
        "lower",
        "upper",
        "length",
        "substring",
        "btrim",
        "concat",
        "now",
        "date_trunc",
        "date_part",
        "extract",
        "to_char",
        "gen_random_uuid",
        "jsonb_build_object",
        "count",
        "sum",
        "avg",
        "min",
        "max",
        "array_agg",
        "string_agg",
        "bool_and",
        "bool_or",
        "json_agg",
        "jsonb_agg",
        "json_object_agg",
        "jsonb_object_agg",
        "nextval",
        "pg_advisory_lock",
        "row_number",
        "unnest",
        "generate_series",
        "to_tsvector",
        "pg_typeof",
    ] {
        assert!(functions(name).next().is_some(), "{name}");
    }
    for name in ["coalesce", "nullif", "greatest", "least"] {
        assert!(functions(name).next().is_none(), "{name} is syntax");
    }
    let jsonb_each = functions("jsonb_each").next().unwrap();
    assert!(jsonb_each.returns_set() && jsonb_each.strict());
    assert_eq!(jsonb_each.out, [("key", oid::TEXT), ("value", oid::JSONB)]);
    let count = functions("count").next().unwrap();
    assert_eq!(count.kind(), FunctionKind::Aggregate);
    assert!(!count.strict());
    let concat = functions("concat").next().unwrap();
    assert_eq!(concat.variadic, oid::ANY);
    let plus = operators("+")
        .find(|o| o.left == oid::INT4 && o.right == oid::INT4)
        .unwrap();
    assert_eq!(
        (plus.function, plus.strict, plus.returns),
        ("int4pl", true, oid::INT4)
    );
    assert_eq!(SERVER_MAJOR, 15);
}

#[test]
fn type_names_parse_in_every_spelling() {
    for (name, expected) in [
        ("integer", b(oid::INT4)),
        ("int4", b(oid::INT4)),
        ("character varying(255)", b(oid::VARCHAR)),
        ("character(1)", b(oid::BPCHAR)),
        ("bpchar", b(oid::BPCHAR)),
        ("\"char\"", b(oid::CHAR)),
        ("bit(3)", b(oid::BIT)),
        ("\"bit\"", b(oid::BIT)),
        ("bit varying(5)", b(oid::VARBIT)),
        ("numeric(10,2)", b(oid::NUMERIC)),
        ("timestamp(3) with time zone", b(oid::TIMESTAMPTZ)),
        ("timestamp without time zone", b(oid::TIMESTAMP)),
        ("time(6) with time zone", b(oid::TIMETZ)),
        ("interval year to month", b(oid::INTERVAL)),
        ("interval(3)", b(oid::INTERVAL)),
        ("double precision", b(oid::FLOAT8)),
        ("integer[]", b(oid::INT4_ARRAY)),
        ("character varying(20)[]", b(oid::VARCHAR_ARRAY)),
        ("jsonb", b(oid::JSONB)),
    ] {
        assert_eq!(SqlType::builtin(name), Some(expected.clone()), "{name}");
    }
    assert_eq!(
        SqlType::builtin("char"),
        None,
        "`char` is `character(1)` only in SQL"
    );
    assert_eq!(SqlType::builtin("mood"), None);
    assert_eq!(SqlType::builtin("unknown"), None);
    assert_eq!(b(oid::INT4_ARRAY).to_string(), "integer[]");
    assert_eq!(b(oid::BPCHAR).to_string(), "character");
    assert_eq!(mood().array().unwrap().to_string(), "mood[]");
    assert_eq!(b(oid::INT4_ARRAY).array(), None, "no arrays of arrays");
}

#[test]
fn catalog_types_become_enums_composites_and_base_types() {
    let replay = replay_sql(
        "public",
        &[(
            "1_init.sql",
            "CREATE TYPE mood AS ENUM ('sad', 'ok');
             CREATE DOMAIN email AS varchar(320);
             CREATE TABLE t (id int);",
        )],
    );
    let c = &replay.catalog;
    assert_eq!(SqlType::from_catalog("mood", c), mood());
    assert_eq!(SqlType::from_catalog("mood[]", c), mood().array().unwrap());
    assert_eq!(SqlType::from_catalog("email", c), b(oid::VARCHAR));
    assert_eq!(
        SqlType::from_catalog("t", c),
        SqlType::Composite("t".to_owned())
    );
    assert_eq!(SqlType::from_catalog("bigint", c), b(oid::INT8));
    assert_eq!(
        SqlType::from_catalog("citext", c),
        SqlType::Other("citext".to_owned())
    );
}

#[test]
fn coercions_follow_pg_cast() {
    use CastContext::*;
    assert!(can_coerce(&b(oid::INT2), &b(oid::INT8), Implicit));
    assert!(can_coerce(&b(oid::INT4), &b(oid::FLOAT8), Implicit));
    assert!(!can_coerce(&b(oid::INT8), &b(oid::INT4), Implicit));
    assert!(can_coerce(&b(oid::INT8), &b(oid::INT4), Assignment));
    assert!(can_coerce(&b(oid::VARCHAR), &b(oid::TEXT), Implicit));
    // arrays element by element
    assert!(can_coerce(
        &b(oid::INT4_ARRAY),
        &b(oid::INT8_ARRAY),
        Implicit
    ));
    // I/O conversion: to a string type by assignment, from one only explicitly
    assert!(!can_coerce(&b(oid::INT4), &b(oid::TEXT), Implicit));
    assert!(can_coerce(&b(oid::INT4), &b(oid::TEXT), Assignment));
    assert!(!can_coerce(&b(oid::TEXT), &b(oid::INT4), Assignment));
    assert!(can_coerce(&b(oid::TEXT), &b(oid::INT4), Explicit));
    assert!(can_coerce(&mood(), &b(oid::TEXT), Assignment));
    assert!(!can_coerce(&mood(), &b(oid::TEXT), Implicit));
    // unknowns become anything
    assert!(can_coerce(&SqlType::Unknown, &mood(), Implicit));
    assert!(can_coerce(&SqlType::Unknown, &b(oid::INT4), Implicit));
}

#[test]
fn common_types_follow_categories_and_preferred_types() {
    let common = |types: &[SqlType]| select_common_type(types);
    assert_eq!(common(&[b(oid::INT4), b(oid::INT8)]), Ok(b(oid::INT8)));
    assert_eq!(common(&[b(oid::INT8), b(oid::INT4)]), Ok(b(oid::INT8)));
    assert_eq!(
        common(&[b(oid::INT4), b(oid::FLOAT8), b(oid::NUMERIC)]),
        Ok(b(oid::FLOAT8))
    );
    // text and varchar coerce both ways: the first wins
    assert_eq!(
        common(&[b(oid::VARCHAR), b(oid::TEXT)]),
        Ok(b(oid::VARCHAR))
    );
    assert_eq!(common(&[b(oid::TEXT), b(oid::VARCHAR)]), Ok(b(oid::TEXT)));
    assert_eq!(
        common(&[b(oid::DATE), b(oid::TIMESTAMPTZ)]),
        Ok(b(oid::TIMESTAMPTZ))
    );
    assert_eq!(
        common(&[SqlType::Unknown, SqlType::Unknown]),
        Ok(b(oid::TEXT))
    );
    assert_eq!(common(&[SqlType::Unknown, mood()]), Ok(mood()));
    assert_eq!(
        common(&[b(oid::INT4), b(oid::TEXT)]),
        Err(NoCommonType {
            first: b(oid::INT4),
            second: b(oid::TEXT)
        })
    );
}

fn returns(name: &str, args: &[Arg]) -> SqlType {
    match resolve_function(name, args) {
        Ok(call) => call.returns,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn aggregates_return_what_postgres_says() {
    assert_eq!(returns("count", &[]), b(oid::INT8));
    assert_eq!(returns("sum", &[typed(oid::INT2)]), b(oid::INT8));
    assert_eq!(returns("sum", &[typed(oid::INT4)]), b(oid::INT8));
    assert_eq!(returns("sum", &[typed(oid::INT8)]), b(oid::NUMERIC));
    assert_eq!(returns("sum", &[typed(oid::FLOAT4)]), b(oid::FLOAT4));
    assert_eq!(returns("avg", &[typed(oid::INT4)]), b(oid::NUMERIC));
    assert_eq!(returns("avg", &[typed(oid::INT8)]), b(oid::NUMERIC));
    assert_eq!(returns("avg", &[typed(oid::FLOAT4)]), b(oid::FLOAT8));
    assert_eq!(returns("max", &[Arg::Typed(mood())]), mood());
    assert_eq!(returns("max", &[typed(oid::VARCHAR)]), b(oid::TEXT));
    assert_eq!(
        returns("array_agg", &[typed(oid::INT4)]),
        b(oid::INT4_ARRAY)
    );
    assert_eq!(
        returns("array_agg", &[Arg::Typed(mood())]),
        mood().array().unwrap()
    );
    assert_eq!(
        returns("string_agg", &[typed(oid::TEXT), Arg::Literal]),
        b(oid::TEXT)
    );
    assert_eq!(
        returns("json_agg", &[Arg::Typed(SqlType::Composite("t".into()))]),
        b(oid::JSON)
    );
}

#[test]
fn unknowns_take_the_type_postgres_gives_them() {
    let lower = resolve_function("lower", &[Arg::Param]).unwrap();
    assert_eq!(
        (lower.args, lower.returns),
        (vec![b(oid::TEXT)], b(oid::TEXT))
    );
    // `abs($1)`: the preferred numeric type
    let abs = resolve_function("abs", &[Arg::Param]).unwrap();
    assert_eq!(abs.args, [b(oid::FLOAT8)]);
    // the operand's type where one is unknown
    let minus = resolve_operator("-", Some(&typed(oid::TIMESTAMPTZ)), &Arg::Param).unwrap();
    assert_eq!(minus.right, b(oid::TIMESTAMPTZ));
    assert_eq!(minus.returns, b(oid::INTERVAL));
    let plus = resolve_operator("+", Some(&Arg::Param), &typed(oid::INT4)).unwrap();
    assert_eq!(
        (plus.left, plus.returns),
        (Some(b(oid::INT4)), b(oid::INT4))
    );
    // polymorphic: the element type of the other argument
    let append = resolve_function("array_append", &[Arg::Param, typed(oid::INT4)]).unwrap();
    assert_eq!(append.args, [b(oid::INT4_ARRAY), b(oid::INT4)]);
    // an enum compared with a literal
    let eq = resolve_operator("=", Some(&Arg::Typed(mood())), &Arg::Literal).unwrap();
    assert_eq!((eq.right, eq.returns), (mood(), b(oid::BOOL)));
    // `"any"` keeps an open parameter open: PostgreSQL asks for a cast
    let concat = resolve_function("concat", &[Arg::Param]).unwrap();
    assert_eq!(concat.args, [SqlType::Unknown]);
    assert!(!concat.strict());
}

#[test]
fn literals_and_mixed_types_resolve_like_postgres() {
    let r = |name, l: Arg, r: Arg| resolve_operator(name, Some(&l), &r).unwrap().returns;
    assert_eq!(
        r("+", typed(oid::INT4), typed(oid::NUMERIC)),
        b(oid::NUMERIC)
    );
    assert_eq!(r("||", Arg::Literal, typed(oid::INT4)), b(oid::TEXT));
    assert_eq!(r("->>", typed(oid::JSONB), Arg::Literal), b(oid::TEXT));
    assert_eq!(r("->", typed(oid::JSONB), typed(oid::INT4)), b(oid::JSONB));
    assert_eq!(r("-", typed(oid::DATE), typed(oid::DATE)), b(oid::INT4));
    assert_eq!(
        r("+", typed(oid::DATE), typed(oid::INTERVAL)),
        b(oid::TIMESTAMP)
    );
    assert_eq!(r("/", typed(oid::INT4), typed(oid::INT4)), b(oid::INT4));
    assert_eq!(r("~~", typed(oid::VARCHAR), Arg::Literal), b(oid::BOOL));
    assert_eq!(
        r("||", typed(oid::INT4_ARRAY), typed(oid::INT8)),
        b(oid::INT8_ARRAY)
    );
    assert_eq!(
        returns("date_trunc", &[Arg::Literal, typed(oid::TIMESTAMPTZ)]),
        b(oid::TIMESTAMPTZ)
    );
    assert_eq!(returns("now", &[]), b(oid::TIMESTAMPTZ));
    let negate = resolve_operator("-", None, &typed(oid::INT8)).unwrap();
    assert_eq!((negate.left, negate.returns), (None, b(oid::INT8)));
}

#[test]
fn type_named_calls_are_coercions_unless_a_function_matches() {
    let text = resolve_function("text", &[typed(oid::INT4)]).unwrap();
    assert_eq!((text.function, text.returns.clone()), (None, b(oid::TEXT)));
    assert!(text.strict());
    let int8 = resolve_function("int8", &[Arg::Literal]).unwrap();
    assert_eq!((int8.function, int8.returns), (None, b(oid::INT8)));
    let date = resolve_function("date", &[typed(oid::TIMESTAMPTZ)]).unwrap();
    assert_eq!(date.function.map(|f| f.name), Some("date"));
    assert_eq!(date.returns, b(oid::DATE));
}

#[test]
fn refusals_say_why() {
    let both = resolve_operator("+", Some(&Arg::Param), &Arg::Param).unwrap_err();
    assert!(matches!(both, ResolveError::Ambiguous { .. }), "{both:?}");
    assert!(
        both.to_string()
            .starts_with("operator unknown + unknown is not unique"),
        "{both}"
    );
    let sum = resolve_function("sum", &[Arg::Param]).unwrap_err();
    assert!(matches!(sum, ResolveError::Ambiguous { ref candidates, .. } if candidates.len() > 3));
    let length = resolve_function("array_length", &[Arg::Param, typed(oid::INT4)]).unwrap_err();
    assert_eq!(
        length,
        ResolveError::Polymorphic {
            call: "function array_length(unknown, integer)".to_owned(),
            reason: "could not determine polymorphic type because input has type unknown"
                .to_owned()
        }
    );
    let lower = resolve_function("lower", &[typed(oid::INT4)]).unwrap_err();
    assert_eq!(
        lower,
        ResolveError::NotFound {
            call: "function lower(integer)".to_owned(),
            known_name: true
        }
    );
    assert_eq!(lower.to_string(), "function lower(integer) does not exist");
    let nope = resolve_function("no_such_function", &[]).unwrap_err();
    assert!(matches!(
        nope,
        ResolveError::NotFound {
            known_name: false,
            ..
        }
    ));
    let enum_first = resolve_function("enum_first", &[Arg::Literal]).unwrap_err();
    assert!(
        matches!(enum_first, ResolveError::NotFound { .. }),
        "{enum_first:?}"
    );
}

#[test]
fn variadic_and_default_arguments() {
    let build = resolve_function(
        "jsonb_build_object",
        &[
            Arg::Literal,
            typed(oid::INT4),
            Arg::Literal,
            typed(oid::TEXT),
        ],
    )
    .unwrap();
    assert_eq!(build.returns, b(oid::JSONB));
    let path = resolve_function(
        "jsonb_extract_path_text",
        &[typed(oid::JSONB), Arg::Literal, Arg::Param],
    )
    .unwrap();
    assert_eq!(
        path.args,
        [b(oid::JSONB), b(oid::TEXT), b(oid::TEXT)],
        "the variadic text[] spreads into text arguments"
    );
    // `jsonb_path_query(target, path [, vars [, silent]])`
    let query = resolve_function("jsonb_path_query", &[typed(oid::JSONB), Arg::Literal]).unwrap();
    assert_eq!(query.args, [b(oid::JSONB), b(oid::JSONPATH)]);
    assert!(query.returns_set());
}
