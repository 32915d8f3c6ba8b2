//! PostgreSQL's built-in functions, operators, casts and types, as pgready's query checker
//! knows them (`pgready_core::schema::builtins`), against the server itself:
//!
//! - the table in `core/src/schema/builtins/generated.rs` is what this server's `pg_catalog`
//!   gives, byte for byte (`PGREADY_REGENERATE=1` rewrites it instead of failing);
//! - the resolver picks what PostgreSQL picks: for a corpus of calls, hand-written and
//!   generated from the table, the result type (and the types inferred for `$n`) equal what
//!   the server describes, and where the server refuses a call the resolver refuses it for the
//!   same reason.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::PathBuf;

use pgready_core::schema::builtins::{
    self, Arg, CastContext, FunctionKind, ResolveError, SqlType, can_coerce, oid, resolve_function,
    resolve_operator, select_common_type,
};
use sqlx::{Connection, Executor, PgConnection, Row};

/// The generated file, relative to this crate.
fn generated_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../core/src/schema/builtins/generated.rs")
}

async fn connect(label: &str) -> PgConnection {
    let url = pgready_tests::fresh_database(label).await;
    PgConnection::connect(&url).await.expect("connect")
}

#[tokio::test]
async fn the_table_is_what_the_catalog_says() {
    let mut conn = connect("builtins_table").await;
    let generated = generate(&mut conn).await;
    let path = generated_path();
    if std::env::var_os("PGREADY_REGENERATE").is_some_and(|v| v == "1") {
        std::fs::write(&path, &generated).expect("write the generated table");
        eprintln!("wrote {}", path.display());
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let major: i32 =
        sqlx::query_scalar("SELECT current_setting('server_version_num')::int / 10000")
            .fetch_one(&mut conn)
            .await
            .expect("server_version_num");
    assert_eq!(
        i64::from(major),
        i64::from(builtins::SERVER_MAJOR),
        "the table was generated from PostgreSQL {}, the test server is PostgreSQL {major}: point \
         PGREADY_PG_BIN at a PostgreSQL {} installation, or regenerate the table for {major} with \
         `PGREADY_REGENERATE=1 cargo test -p pgready-tests --test builtins \
         the_table_is_what_the_catalog_says` and check the resolver test still passes",
        builtins::SERVER_MAJOR,
        builtins::SERVER_MAJOR,
    );
    if committed != generated {
        let first = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(committed.lines().count().min(generated.lines().count()));
        panic!(
            "{} differs from the pg_catalog of the test server ({}) from line {}:\n  committed: {}\n  server:    {}\n\
             regenerate it with `PGREADY_REGENERATE=1 cargo test -p pgready-tests --test builtins \
             the_table_is_what_the_catalog_says`, review the diff and commit it",
            path.display(),
            server_version(&mut conn).await,
            first + 1,
            committed.lines().nth(first).unwrap_or("<end of file>"),
            generated.lines().nth(first).unwrap_or("<end of file>"),
        );
    }
}

async fn server_version(conn: &mut PgConnection) -> String {
    sqlx::query_scalar("SELECT version()")
        .fetch_one(conn)
        .await
        .expect("version()")
}

// ---------------------------------------------------------------------------------------------
// The generator

/// The user-facing types: what a service's columns, parameters and results are made of. Every
/// `sqlx` decodes from PostgreSQL (but `oid`, a catalog type), plus the types a query writes as
/// a literal argument: `jsonpath`, `tsvector`/`tsquery`/`regconfig` for full-text search,
/// `regclass` for `nextval('seq')`, `regtype` for `pg_typeof`. Their arrays count too.
const USER_FACING: &[&str] = &[
    "bool",
    "char",
    "int2",
    "int4",
    "int8",
    "float4",
    "float8",
    "numeric",
    "money",
    "text",
    "varchar",
    "bpchar",
    "name",
    "bytea",
    "uuid",
    "json",
    "jsonb",
    "jsonpath",
    "date",
    "time",
    "timetz",
    "timestamp",
    "timestamptz",
    "interval",
    "inet",
    "cidr",
    "macaddr",
    "macaddr8",
    "bit",
    "varbit",
    "tsvector",
    "tsquery",
    "regconfig",
    "regclass",
    "regtype",
    "int4range",
    "int8range",
    "numrange",
    "tsrange",
    "tstzrange",
    "daterange",
    "point",
    "line",
    "lseg",
    "box",
    "path",
    "polygon",
    "circle",
];

/// The pseudo-types a user-facing function may take or return: the polymorphic ones,
/// `"any"` (`concat`, `jsonb_build_object`, `count`), `record` (row values, `OUT` arguments)
/// and `void` (`pg_advisory_lock`, `pg_notify`).
const PSEUDO: &[&str] = &[
    "any",
    "anyelement",
    "anyarray",
    "anynonarray",
    "anyenum",
    "anyrange",
    "anycompatible",
    "anycompatiblearray",
    "anycompatiblenonarray",
    "anycompatiblerange",
    "record",
    "_record",
    "void",
];

/// The OIDs of the user-facing types, their arrays and the pseudo-types, as a SQL set.
const USABLE: &str = "(SELECT t.oid FROM pg_type t WHERE t.typnamespace = 'pg_catalog'::regnamespace \
     AND (t.typname = ANY($1) OR t.typname = ANY($2)) \
     UNION SELECT t.typarray FROM pg_type t WHERE t.typnamespace = 'pg_catalog'::regnamespace \
     AND t.typname = ANY($1))";

/// Functions that exist to implement another catalog object: a type's I/O, an index operator
/// class's support, an aggregate's state. Queries call the object, never these.
const SUPPORT: &str = "(SELECT p.oid FROM pg_proc p WHERE \
     EXISTS (SELECT FROM pg_amproc a WHERE a.amproc = p.oid) \
     OR EXISTS (SELECT FROM pg_aggregate a WHERE p.oid IN (a.aggtransfn, a.aggfinalfn, \
        a.aggcombinefn, a.aggserialfn, a.aggdeserialfn, a.aggmtransfn, a.aggminvtransfn, \
        a.aggmfinalfn)) \
     OR EXISTS (SELECT FROM pg_type t WHERE p.oid IN (t.typinput, t.typoutput, t.typreceive, \
        t.typsend, t.typmodin, t.typmodout, t.typanalyze, t.typsubscript)))";

struct TypeRow {
    oid: u32,
    name: String,
    typname: String,
    category: u8,
    preferred: bool,
    kind: &'static str,
    element: u32,
    array: u32,
}

struct FunctionRow {
    name: String,
    args: Vec<u32>,
    returns: u32,
    strict: bool,
    set: bool,
    kind: String,
    ordered: bool,
    variadic: u32,
    defaults: i16,
    out: Vec<(String, u32)>,
}

struct OperatorRow {
    name: String,
    left: u32,
    right: u32,
    returns: u32,
    function: String,
    strict: bool,
}

fn oid_list(v: &[i64]) -> Vec<u32> {
    v.iter()
        .map(|&o| u32::try_from(o).expect("an OID"))
        .collect()
}

async fn generate(conn: &mut PgConnection) -> String {
    let version: i32 = sqlx::query_scalar("SELECT current_setting('server_version_num')::int")
        .fetch_one(&mut *conn)
        .await
        .expect("server_version_num");
    let major = version / 10000;
    let user_facing: Vec<String> = USER_FACING.iter().map(|s| (*s).to_owned()).collect();
    let pseudo: Vec<String> = PSEUDO.iter().map(|s| (*s).to_owned()).collect();

    // A name is selected when one of its functions takes and returns only usable types and is
    // no support function; then every function of that name is kept, so the resolver sees the
    // candidates PostgreSQL sees.
    let functions_sql = format!(
        "WITH selected AS (SELECT DISTINCT p.proname FROM pg_proc p \
           WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.prokind IN ('f', 'a', 'w') \
           AND p.prorettype IN {USABLE} \
           AND NOT EXISTS (SELECT FROM unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) a \
                           WHERE a NOT IN {USABLE}) \
           AND p.oid NOT IN {SUPPORT}) \
         SELECT p.proname::text, ARRAY(SELECT a::int8 FROM unnest(p.proargtypes::oid[]) a), \
           p.prorettype::int8, p.proisstrict, p.proretset, p.prokind::text, \
           coalesce(g.aggkind::text, 'n') <> 'n', p.provariadic::int8, p.pronargdefaults, \
           ARRAY(SELECT coalesce(x.n, '') FROM unnest(p.proallargtypes, p.proargmodes, p.proargnames) \
                 WITH ORDINALITY AS x(t, m, n, i) WHERE x.m IN ('o', 'b', 't') ORDER BY x.i), \
           ARRAY(SELECT x.t::int8 FROM unnest(p.proallargtypes, p.proargmodes) \
                 WITH ORDINALITY AS x(t, m, i) WHERE x.m IN ('o', 'b', 't') ORDER BY x.i) \
         FROM pg_proc p LEFT JOIN pg_aggregate g ON g.aggfnoid = p.oid \
         WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.prokind IN ('f', 'a', 'w') \
           AND p.proname IN (SELECT proname FROM selected) \
         ORDER BY p.proname, p.pronargs, p.proargtypes::oid[]::int8[]"
    );
    let functions: Vec<FunctionRow> = sqlx::query(sqlx::AssertSqlSafe(functions_sql))
        .bind(&user_facing)
        .bind(&pseudo)
        .fetch_all(&mut *conn)
        .await
        .expect("read pg_proc")
        .iter()
        .map(|r| FunctionRow {
            name: r.get(0),
            args: oid_list(&r.get::<Vec<i64>, _>(1)),
            returns: u32::try_from(r.get::<i64, _>(2)).expect("an OID"),
            strict: r.get(3),
            set: r.get(4),
            kind: r.get(5),
            ordered: r.get(6),
            variadic: u32::try_from(r.get::<i64, _>(7)).expect("an OID"),
            defaults: r.get(8),
            out: r
                .get::<Vec<String>, _>(9)
                .into_iter()
                .zip(oid_list(&r.get::<Vec<i64>, _>(10)))
                .collect(),
        })
        .collect();

    // Operators: every one whose name has an operator over usable types.
    let operators_sql = format!(
        "WITH selected AS (SELECT DISTINCT o.oprname FROM pg_operator o \
           WHERE o.oprnamespace = 'pg_catalog'::regnamespace \
           AND (o.oprleft = 0 OR o.oprleft IN {USABLE}) AND o.oprright IN {USABLE} \
           AND o.oprresult IN {USABLE}) \
         SELECT o.oprname::text, o.oprleft::int8, o.oprright::int8, o.oprresult::int8, \
           p.proname::text, p.proisstrict \
         FROM pg_operator o JOIN pg_proc p ON p.oid = o.oprcode \
         WHERE o.oprnamespace = 'pg_catalog'::regnamespace \
           AND o.oprname IN (SELECT oprname FROM selected) \
         ORDER BY o.oprname, o.oprleft, o.oprright"
    );
    let operators: Vec<OperatorRow> = sqlx::query(sqlx::AssertSqlSafe(operators_sql))
        .bind(&user_facing)
        .bind(&pseudo)
        .fetch_all(&mut *conn)
        .await
        .expect("read pg_operator")
        .iter()
        .map(|r| OperatorRow {
            name: r.get(0),
            left: u32::try_from(r.get::<i64, _>(1)).expect("an OID"),
            right: u32::try_from(r.get::<i64, _>(2)).expect("an OID"),
            returns: u32::try_from(r.get::<i64, _>(3)).expect("an OID"),
            function: r.get(4),
            strict: r.get(5),
        })
        .collect();

    // Types: the usable ones and every one a kept function or operator names, with their
    // elements, subtypes and arrays.
    let mut wanted: BTreeSet<i64> = BTreeSet::new();
    for f in &functions {
        wanted.extend(f.args.iter().map(|&o| i64::from(o)));
        wanted.insert(i64::from(f.returns));
        wanted.extend(f.out.iter().map(|(_, o)| i64::from(*o)));
    }
    for o in &operators {
        wanted.extend([o.left, o.right, o.returns].map(i64::from));
    }
    wanted.remove(&0);
    let wanted: Vec<i64> = wanted.into_iter().collect();
    let types_sql = format!(
        "WITH base AS (SELECT oid FROM pg_type WHERE oid = ANY($3) UNION {USABLE} \
           UNION SELECT oid FROM pg_type WHERE typnamespace = 'pg_catalog'::regnamespace \
           AND typname IN ('unknown', 'anymultirange', 'anycompatiblemultirange')), \
         closed AS (SELECT oid FROM base \
           UNION SELECT t.typelem FROM pg_type t JOIN base b ON b.oid = t.oid WHERE t.typelem <> 0 \
           UNION SELECT r.rngsubtype FROM pg_range r JOIN base b ON b.oid = r.rngtypid), \
         full_set AS (SELECT oid FROM closed \
           UNION SELECT t.typarray FROM pg_type t JOIN closed c ON c.oid = t.oid \
           WHERE t.typarray <> 0 AND t.typtype <> 'p') \
         SELECT t.oid::int8, format_type(t.oid, NULL), t.typname::text, t.typcategory::text, \
           t.typispreferred, t.typtype::text, \
           t.typsubscript = 'array_subscript_handler'::regproc, \
           CASE WHEN t.typsubscript = 'array_subscript_handler'::regproc THEN t.typelem::int8 \
                ELSE coalesce(r.rngsubtype::int8, 0) END, \
           CASE WHEN t.typarray IN (SELECT oid FROM full_set) THEN t.typarray::int8 ELSE 0 END \
         FROM pg_type t LEFT JOIN pg_range r ON r.rngtypid = t.oid \
         WHERE t.oid IN (SELECT oid FROM full_set) ORDER BY t.oid"
    );
    let types: Vec<TypeRow> = sqlx::query(sqlx::AssertSqlSafe(types_sql))
        .bind(&user_facing)
        .bind(&pseudo)
        .bind(&wanted)
        .fetch_all(&mut *conn)
        .await
        .expect("read pg_type")
        .iter()
        .map(|r| {
            let typtype: String = r.get(5);
            let true_array: bool = r.get(6);
            TypeRow {
                oid: u32::try_from(r.get::<i64, _>(0)).expect("an OID"),
                name: r.get(1),
                typname: r.get(2),
                category: r.get::<String, _>(3).as_bytes()[0],
                preferred: r.get(4),
                kind: match (typtype.as_str(), true_array) {
                    (_, true) => "Array",
                    ("r", _) => "Range",
                    ("m", _) => "Multirange",
                    ("p", _) => "Pseudo",
                    _ => "Base",
                },
                element: u32::try_from(r.get::<i64, _>(7)).expect("an OID"),
                array: u32::try_from(r.get::<i64, _>(8)).expect("an OID"),
            }
        })
        .collect();
    let type_oids: Vec<i64> = types.iter().map(|t| i64::from(t.oid)).collect();
    let casts: Vec<(u32, u32, String, String)> = sqlx::query(
        "SELECT castsource::int8, casttarget::int8, castcontext::text, castmethod::text \
         FROM pg_cast WHERE castsource = ANY($1) AND casttarget = ANY($1) ORDER BY 1, 2",
    )
    .bind(&type_oids)
    .fetch_all(&mut *conn)
    .await
    .expect("read pg_cast")
    .iter()
    .map(|r| {
        (
            u32::try_from(r.get::<i64, _>(0)).expect("an OID"),
            u32::try_from(r.get::<i64, _>(1)).expect("an OID"),
            r.get(2),
            r.get(3),
        )
    })
    .collect();

    render_table(major, &types, &casts, &functions, &operators)
}

/// The constant that names a type in the generated file: `INT4`, `INT4_ARRAY`.
fn const_name(typname: &str) -> String {
    match typname.strip_prefix('_') {
        Some(element) => format!("{}_ARRAY", element.to_uppercase()),
        None => typname.to_uppercase(),
    }
}

fn render_table(
    major: i32,
    types: &[TypeRow],
    casts: &[(u32, u32, String, String)],
    functions: &[FunctionRow],
    operators: &[OperatorRow],
) -> String {
    let names: BTreeMap<u32, String> = types
        .iter()
        .map(|t| (t.oid, const_name(&t.typname)))
        .chain([(0, "NONE".to_owned())])
        .collect();
    let n = |oid: u32| -> &str {
        names
            .get(&oid)
            .unwrap_or_else(|| panic!("type {oid} is referenced but not in the table"))
    };
    let list =
        |oids: &[u32]| -> String { oids.iter().map(|&o| n(o)).collect::<Vec<_>>().join(", ") };
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(
        w,
        "//! PostgreSQL {major}'s built-in types, casts, functions and operators, read from its \
         `pg_catalog`:\n\
         //! generated by `tests/tests/builtins.rs`, do not edit.\n\
         //!\n\
         //! Regenerate with `PGREADY_REGENERATE=1 cargo test -p pgready-tests --test builtins`;\n\
         //! without the variable that test fails when this file differs from the server's catalog.\n\
         //! What is selected, and why, is in `builtins/mod.rs`.\n\
         \n\
         use super::table::TypeKind::*;\n\
         use super::table::*;\n\
         use oid::*;\n\
         \n\
         /// The PostgreSQL major version the table was generated from.\n\
         pub const SERVER_MAJOR: u32 = {major};\n\
         \n\
         /// The OIDs of the types in the table, named after `typname` (`_int4` is `INT4_ARRAY`).\n\
         #[allow(missing_docs)]\n\
         pub mod oid {{\n    use super::Oid;\n"
    );
    for t in types {
        let _ = writeln!(
            w,
            "    pub const {}: Oid = {};",
            const_name(&t.typname),
            t.oid
        );
    }
    let _ = writeln!(
        w,
        "}}\n\n/// `pg_type`, by OID.\npub static TYPES: &[TypeRow] = &["
    );
    for t in types {
        let _ = writeln!(
            w,
            "    t({}, {:?}, {:?}, b'{}', {}, {}, {}, {}),",
            n(t.oid),
            t.name,
            t.typname,
            char::from(t.category),
            t.preferred,
            t.kind,
            if t.element == 0 { "0" } else { n(t.element) },
            if t.array == 0 { "0" } else { n(t.array) },
        );
    }
    let _ = writeln!(
        w,
        "];\n\n/// `pg_cast` between the types above, by source and target.\npub static CASTS: &[Cast] = &["
    );
    for (source, target, context, method) in casts {
        let _ = writeln!(
            w,
            "    c({}, {}, b'{context}', b'{method}'),",
            n(*source),
            n(*target)
        );
    }
    let _ = writeln!(
        w,
        "];\n\n/// `pg_proc`, by name and arguments.\npub static FUNCTIONS: &[Function] = &["
    );
    for f in functions {
        let mut flags = Vec::new();
        if f.strict {
            flags.push("S".to_owned());
        }
        if f.set {
            flags.push("SET".to_owned());
        }
        match f.kind.as_str() {
            "a" => flags.push("AGG".to_owned()),
            "w" => flags.push("WIN".to_owned()),
            _ => {}
        }
        if f.ordered {
            flags.push("ORD".to_owned());
        }
        if f.defaults > 0 {
            flags.push(format!("defaults({})", f.defaults));
        }
        let flags = if flags.is_empty() {
            "0".to_owned()
        } else {
            flags.join(" | ")
        };
        let _ = write!(
            w,
            "    f({:?}, &[{}], {}, {flags})",
            f.name,
            list(&f.args),
            n(f.returns)
        );
        if f.variadic != 0 {
            let _ = write!(w, ".variadic({})", n(f.variadic));
        }
        if !f.out.is_empty() {
            let cols: Vec<String> = f
                .out
                .iter()
                .map(|(name, oid)| format!("({name:?}, {})", n(*oid)))
                .collect();
            let _ = write!(w, ".out(&[{}])", cols.join(", "));
        }
        let _ = writeln!(w, ",");
    }
    let _ = writeln!(
        w,
        "];\n\n/// `pg_operator`, by name and operand types.\npub static OPERATORS: &[Operator] = &["
    );
    for o in operators {
        let _ = writeln!(
            w,
            "    o({:?}, {}, {}, {}, {:?}, {}),",
            o.name,
            n(o.left),
            n(o.right),
            n(o.returns),
            o.function,
            o.strict
        );
    }
    let _ = writeln!(w, "];");
    out
}

// ---------------------------------------------------------------------------------------------
// The resolver against PostgreSQL

/// The user types the corpus uses: an enum for `anyenum`, a table's row type for `record`.
const USER_TYPES: &str = "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy'); \
                          CREATE TABLE pair (a int, b text);";

fn mood() -> SqlType {
    SqlType::Enum("mood".to_owned())
}

fn pair() -> SqlType {
    SqlType::Composite("pair".to_owned())
}

fn b(oid: u32) -> SqlType {
    SqlType::Builtin(oid)
}

fn typed(oid: u32) -> Arg {
    Arg::Typed(b(oid))
}

/// A call to resolve and to describe on the server.
#[derive(Clone, Debug)]
enum Call {
    Function {
        name: String,
        args: Vec<Arg>,
        over: bool,
        /// how many trailing arguments an ordered-set aggregate takes in `WITHIN GROUP`
        within_group: usize,
    },
    Operator {
        name: String,
        left: Option<Arg>,
        right: Arg,
    },
    /// `COALESCE(…)`: the common type of a list (as `CASE`, `UNION`, `ARRAY[…]` take it)
    Coalesce(Vec<Arg>),
}

fn func(name: &str, args: Vec<Arg>) -> Call {
    let over = builtins::functions(name)
        .any(|f| f.kind() == FunctionKind::Window && f.args.len() == args.len());
    Call::Function {
        name: name.to_owned(),
        args,
        over,
        within_group: 0,
    }
}

/// `name(direct…) WITHIN GROUP (ORDER BY aggregated)`.
fn ordered(name: &str, direct: Vec<Arg>, aggregated: Arg) -> Call {
    let mut args = direct;
    args.push(aggregated);
    Call::Function {
        name: name.to_owned(),
        args,
        over: false,
        within_group: 1,
    }
}

fn op(name: &str, left: Option<Arg>, right: Arg) -> Call {
    Call::Operator {
        name: name.to_owned(),
        left,
        right,
    }
}

/// How a call turned out: its result type and the types of its `$n`, or why it failed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Typed {
        returns: SqlType,
        params: Vec<SqlType>,
    },
    /// no function or operator matches
    NotFound,
    /// several match
    Ambiguous,
    /// the types do not fit together: a polymorphic candidate cannot be resolved, a list has
    /// no common type (`datatype_mismatch`)
    Mismatch,
    /// a value cannot be coerced to the common type (`cannot_coerce`)
    CannotCoerce,
    /// a `$n` has no type
    Untyped,
    /// PostgreSQL refused it for another reason
    Other(String),
}

fn sql_type_name(t: &SqlType) -> String {
    match t {
        SqlType::Builtin(o) => {
            let row = t
                .row()
                .unwrap_or_else(|| panic!("type {o} is not in the table"));
            format!("pg_catalog.\"{}\"", row.typname)
        }
        SqlType::Enum(n) | SqlType::Composite(n) | SqlType::Other(n) => n.clone(),
        SqlType::Array(e) => format!("{}[]", sql_type_name(e)),
        SqlType::Unknown => "unknown".to_owned(),
    }
}

fn render(call: &Call) -> String {
    let mut params = 0;
    let mut arg = |a: &Arg| match a {
        Arg::Typed(t) => format!("(NULL::{})", sql_type_name(t)),
        Arg::Literal => "NULL".to_owned(),
        Arg::Param => {
            params += 1;
            format!("${params}")
        }
    };
    match call {
        Call::Function {
            name,
            args,
            over,
            within_group,
        } => {
            let rendered: Vec<String> = args.iter().map(&mut arg).collect();
            let (direct, aggregated) = rendered.split_at(rendered.len() - within_group);
            let list = if args.is_empty() && name == "count" {
                "*".to_owned()
            } else {
                direct.join(", ")
            };
            let over = if *over { " OVER ()" } else { "" };
            let within = if aggregated.is_empty() {
                String::new()
            } else {
                format!(" WITHIN GROUP (ORDER BY {})", aggregated.join(", "))
            };
            format!("SELECT pg_catalog.\"{name}\"({list}){within}{over}")
        }
        Call::Operator { name, left, right } => {
            let left = left.as_ref().map(&mut arg).unwrap_or_default();
            let right = arg(right);
            format!("SELECT {left} OPERATOR(pg_catalog.{name}) {right}")
        }
        Call::Coalesce(args) => {
            let list = args.iter().map(&mut arg).collect::<Vec<_>>().join(", ");
            format!("SELECT COALESCE({list})")
        }
    }
}

/// What pgready's resolver says.
fn resolved(call: &Call) -> Outcome {
    let (args, result) = match call {
        Call::Function { name, args, .. } => {
            let result = resolve_function(name, args).map(|c| (c.args, c.returns));
            (args.clone(), result)
        }
        Call::Operator { name, left, right } => {
            let result = resolve_operator(name, left.as_ref(), right).map(|c| {
                (
                    c.left.into_iter().chain([c.right]).collect::<Vec<_>>(),
                    c.returns,
                )
            });
            (
                left.iter().cloned().chain([right.clone()]).collect(),
                result,
            )
        }
        Call::Coalesce(args) => {
            let types: Vec<SqlType> = args.iter().map(Arg::sql_type).collect();
            let Ok(common) = select_common_type(&types) else {
                return Outcome::Mismatch;
            };
            if !types
                .iter()
                .all(|t| can_coerce(t, &common, CastContext::Implicit))
            {
                return Outcome::CannotCoerce;
            }
            (args.clone(), Ok((vec![common.clone(); args.len()], common)))
        }
    };
    match result {
        Ok((coerced, returns)) => {
            let params: Vec<SqlType> = args
                .iter()
                .zip(coerced)
                .filter(|(a, _)| **a == Arg::Param)
                .map(|(_, t)| t)
                .collect();
            if params.contains(&SqlType::Unknown) {
                Outcome::Untyped
            } else {
                Outcome::Typed { returns, params }
            }
        }
        Err(ResolveError::NotFound { .. }) => Outcome::NotFound,
        Err(ResolveError::Ambiguous { .. }) => Outcome::Ambiguous,
        Err(ResolveError::Polymorphic { .. }) => Outcome::Mismatch,
    }
}

/// What PostgreSQL says: the statement prepared and described, never run.
async fn described(
    conn: &mut PgConnection,
    sql: &str,
    user_types: &BTreeMap<u32, SqlType>,
) -> Outcome {
    use sqlx::{Column, SqlSafeStr, Statement, TypeInfo};
    let to_type = |info: &sqlx::postgres::PgTypeInfo| -> SqlType {
        let oid = info.oid().map(|o| o.0).unwrap_or(0);
        if builtins::TYPES.iter().any(|t| t.oid == oid) {
            return SqlType::Builtin(oid);
        }
        user_types
            .get(&oid)
            .cloned()
            .unwrap_or_else(|| SqlType::Other(info.name().to_owned()))
    };
    match (&mut *conn)
        .prepare(sqlx::AssertSqlSafe(sql.to_owned()).into_sql_str())
        .await
    {
        Ok(statement) => {
            let returns = to_type(statement.columns()[0].type_info());
            let params = match statement.parameters() {
                Some(sqlx::Either::Left(types)) => types.iter().map(to_type).collect(),
                _ => Vec::new(),
            };
            Outcome::Typed { returns, params }
        }
        Err(sqlx::Error::Database(e)) => match e.code().as_deref() {
            Some("42883") => Outcome::NotFound,
            Some("42725") => Outcome::Ambiguous,
            Some("42804") => Outcome::Mismatch,
            Some("42846") => Outcome::CannotCoerce,
            Some("42P18") => Outcome::Untyped,
            _ => Outcome::Other(format!("{}: {}", e.code().unwrap_or_default(), e.message())),
        },
        Err(e) => panic!("prepare {sql}: {e}"),
    }
}

/// The calls the brief and everyday service SQL write.
fn hand_written() -> Vec<Call> {
    use oid::*;
    let (p, l) = (Arg::Param, Arg::Literal);
    vec![
        func("lower", vec![typed(TEXT)]),
        func("lower", vec![p.clone()]),
        func("upper", vec![typed(VARCHAR)]),
        func("length", vec![p.clone()]),
        func("length", vec![typed(BPCHAR)]),
        func("substring", vec![typed(TEXT), typed(INT4), typed(INT4)]),
        func("substr", vec![typed(VARCHAR), p.clone()]),
        func("btrim", vec![typed(TEXT)]),
        func("concat", vec![l.clone(), typed(INT4)]),
        func("concat", vec![p.clone(), typed(INT4)]),
        func("concat_ws", vec![l.clone(), typed(TEXT), typed(DATE)]),
        func("format", vec![l.clone(), typed(INT4), typed(TEXT)]),
        func("left", vec![typed(TEXT), p.clone()]),
        func("md5", vec![p.clone()]),
        func("encode", vec![typed(BYTEA), l.clone()]),
        func("now", vec![]),
        func("gen_random_uuid", vec![]),
        func("date_trunc", vec![l.clone(), typed(TIMESTAMPTZ)]),
        func("date_trunc", vec![l.clone(), typed(TIMESTAMP)]),
        func("date_trunc", vec![l.clone(), p.clone()]),
        func("date_part", vec![l.clone(), typed(TIMESTAMPTZ)]),
        func("date_part", vec![l.clone(), typed(DATE)]),
        func("extract", vec![l.clone(), typed(TIMESTAMPTZ)]),
        func("extract", vec![l.clone(), typed(INTERVAL)]),
        func("to_char", vec![typed(TIMESTAMPTZ), p.clone()]),
        func("to_char", vec![typed(NUMERIC), l.clone()]),
        func("age", vec![typed(TIMESTAMPTZ)]),
        func("date", vec![typed(TIMESTAMPTZ)]),
        func("text", vec![typed(INT4)]),
        func("int8", vec![l.clone()]),
        func("int8", vec![typed(NUMERIC)]),
        func("numeric", vec![typed(INT4)]),
        func("varchar", vec![typed(TEXT)]),
        func("abs", vec![p.clone()]),
        func("abs", vec![typed(INT2)]),
        func("round", vec![typed(NUMERIC), typed(INT4)]),
        func("round", vec![p.clone()]),
        func("round", vec![typed(FLOAT8)]),
        func("round", vec![typed(INT4)]),
        func("ceil", vec![typed(INT8)]),
        func("count", vec![]),
        func("count", vec![typed(TEXT)]),
        func("sum", vec![typed(INT2)]),
        func("sum", vec![typed(INT4)]),
        func("sum", vec![typed(INT8)]),
        func("sum", vec![typed(NUMERIC)]),
        func("sum", vec![typed(FLOAT4)]),
        func("sum", vec![typed(INTERVAL)]),
        func("sum", vec![p.clone()]),
        func("avg", vec![typed(INT4)]),
        func("avg", vec![typed(INT8)]),
        func("avg", vec![typed(FLOAT8)]),
        func("avg", vec![typed(INTERVAL)]),
        func("min", vec![typed(DATE)]),
        func("max", vec![typed(TEXT)]),
        func("max", vec![typed(VARCHAR)]),
        func("max", vec![Arg::Typed(mood())]),
        func("min", vec![typed(UUID)]),
        func("array_agg", vec![typed(INT4)]),
        func("array_agg", vec![typed(TEXT_ARRAY)]),
        func("array_agg", vec![Arg::Typed(mood())]),
        func("string_agg", vec![typed(TEXT), l.clone()]),
        func("string_agg", vec![typed(VARCHAR), p.clone()]),
        func("bool_and", vec![typed(BOOL)]),
        func("bool_or", vec![p.clone()]),
        func("json_agg", vec![Arg::Typed(pair())]),
        func("jsonb_agg", vec![typed(INT4)]),
        func("json_object_agg", vec![typed(TEXT), typed(INT4)]),
        func("jsonb_object_agg", vec![typed(TEXT), p.clone()]),
        func(
            "jsonb_build_object",
            vec![l.clone(), typed(INT4), l.clone(), typed(TEXT)],
        ),
        func("jsonb_build_object", vec![l.clone(), p.clone()]),
        func("json_build_array", vec![typed(INT4), typed(TEXT)]),
        func("to_jsonb", vec![typed(INT4)]),
        func("to_json", vec![p.clone()]),
        func("row_to_json", vec![Arg::Typed(pair())]),
        func("jsonb_array_elements", vec![typed(JSONB)]),
        func("jsonb_each", vec![typed(JSONB)]),
        func("jsonb_each_text", vec![p.clone()]),
        func("jsonb_set", vec![typed(JSONB), l.clone(), p.clone()]),
        func("jsonb_path_query", vec![typed(JSONB), l.clone()]),
        func("array_length", vec![typed(INT4_ARRAY), typed(INT4)]),
        func("array_length", vec![p.clone(), typed(INT4)]),
        func("array_append", vec![p.clone(), typed(INT4)]),
        func("array_append", vec![l.clone(), typed(INT4)]),
        func("array_cat", vec![typed(INT4_ARRAY), typed(NUMERIC_ARRAY)]),
        func("array_position", vec![typed(TEXT_ARRAY), p.clone()]),
        func(
            "array_remove",
            vec![Arg::Typed(mood().array().expect("mood[]")), l.clone()],
        ),
        func("cardinality", vec![typed(UUID_ARRAY)]),
        func("unnest", vec![typed(INT8_ARRAY)]),
        func("unnest", vec![p.clone()]),
        func("generate_series", vec![typed(INT4), typed(INT4)]),
        func(
            "generate_series",
            vec![typed(TIMESTAMPTZ), typed(TIMESTAMPTZ), typed(INTERVAL)],
        ),
        func("generate_series", vec![typed(INT4), p.clone()]),
        func("nextval", vec![l.clone()]),
        func("currval", vec![p.clone()]),
        func("pg_advisory_lock", vec![typed(INT8)]),
        func("pg_advisory_xact_lock", vec![typed(INT4)]),
        func("pg_try_advisory_lock", vec![p.clone()]),
        func("pg_notify", vec![l.clone(), p.clone()]),
        func("to_tsvector", vec![l.clone(), typed(TEXT)]),
        func("to_tsvector", vec![typed(TEXT)]),
        func("plainto_tsquery", vec![l.clone(), p.clone()]),
        func("ts_rank", vec![typed(TSVECTOR), typed(TSQUERY)]),
        ordered("percentile_cont", vec![typed(FLOAT8)], typed(FLOAT8)),
        ordered("percentile_cont", vec![typed(NUMERIC)], typed(INTERVAL)),
        ordered("percentile_cont", vec![typed(FLOAT8_ARRAY)], typed(INT4)),
        ordered("percentile_disc", vec![p.clone()], typed(DATE)),
        ordered("mode", vec![], typed(TEXT)),
        ordered("rank", vec![typed(INT4)], typed(INT8)),
        func("row_number", vec![]),
        func("rank", vec![]),
        func("lag", vec![typed(INT4)]),
        func("lead", vec![typed(TEXT), typed(INT4), l.clone()]),
        func("first_value", vec![typed(TIMESTAMPTZ)]),
        func("num_nulls", vec![typed(INT4), typed(TEXT)]),
        func("enum_first", vec![Arg::Typed(mood())]),
        func("enum_range", vec![Arg::Typed(mood())]),
        func("host", vec![typed(INET)]),
        func("make_interval", vec![]),
        func("make_date", vec![p.clone(), p.clone(), p.clone()]),
        func("pg_typeof", vec![typed(INT4)]),
        func("current_setting", vec![l.clone()]),
        func("set_config", vec![l.clone(), p.clone(), typed(BOOL)]),
        op("+", Some(typed(INT4)), typed(NUMERIC)),
        op("+", Some(p.clone()), typed(INT4)),
        op("+", Some(p.clone()), p.clone()),
        op("+", Some(typed(DATE)), typed(INT4)),
        op("+", Some(typed(DATE)), typed(INTERVAL)),
        op("+", Some(typed(TIMESTAMPTZ)), l.clone()),
        op("-", Some(typed(TIMESTAMPTZ)), typed(INTERVAL)),
        op("-", Some(typed(TIMESTAMPTZ)), p.clone()),
        op("-", Some(typed(DATE)), typed(DATE)),
        op("-", Some(typed(JSONB)), l.clone()),
        op("-", None, typed(INT4)),
        op("-", None, p.clone()),
        op("*", Some(typed(INTERVAL)), typed(FLOAT8)),
        op("*", Some(typed(INT8)), typed(INT2)),
        op("/", Some(typed(INT4)), typed(INT4)),
        op("/", Some(typed(INT4)), typed(NUMERIC)),
        op("%", Some(typed(INT8)), l.clone()),
        op("||", Some(l.clone()), typed(INT4)),
        op("||", Some(typed(TEXT)), typed(TEXT)),
        op("||", Some(typed(VARCHAR)), p.clone()),
        op("||", Some(typed(INT4_ARRAY)), typed(INT4)),
        op("||", Some(typed(INT4_ARRAY)), typed(INT8)),
        op("||", Some(typed(JSONB)), typed(JSONB)),
        op("||", Some(l.clone()), l.clone()),
        op("->>", Some(typed(JSONB)), l.clone()),
        op("->", Some(typed(JSONB)), typed(INT4)),
        op("->", Some(typed(JSON)), p.clone()),
        op("->", Some(p.clone()), l.clone()),
        op("#>>", Some(typed(JSONB)), l.clone()),
        op("@>", Some(typed(JSONB)), l.clone()),
        op("@>", Some(typed(INT4_ARRAY)), p.clone()),
        op("&&", Some(typed(TEXT_ARRAY)), l.clone()),
        op("?", Some(typed(JSONB)), p.clone()),
        op("?|", Some(typed(JSONB)), l.clone()),
        op("=", Some(typed(INT4)), typed(INT8)),
        op("=", Some(typed(UUID)), p.clone()),
        op("=", Some(typed(TEXT)), typed(VARCHAR)),
        op("=", Some(typed(VARCHAR)), typed(BPCHAR)),
        op("=", Some(Arg::Typed(mood())), l.clone()),
        op("=", Some(Arg::Typed(mood())), p.clone()),
        op("=", Some(Arg::Typed(pair())), p.clone()),
        op("=", Some(p.clone()), p.clone()),
        op("<", Some(Arg::Typed(mood())), Arg::Typed(mood())),
        op("<", Some(typed(DATE)), typed(TIMESTAMPTZ)),
        op("<=", Some(typed(TIMESTAMP)), l.clone()),
        op("<>", Some(typed(NUMERIC)), typed(FLOAT8)),
        op("~~", Some(typed(TEXT)), l.clone()),
        op("~~", Some(typed(VARCHAR)), p.clone()),
        op("~~*", Some(typed(BPCHAR)), p.clone()),
        op("~", Some(typed(TEXT)), l.clone()),
        op("~", None, typed(INT4)),
        op("@@", Some(typed(TSVECTOR)), typed(TSQUERY)),
        op("@@", Some(typed(TSVECTOR)), l.clone()),
        op("<<", Some(typed(INET)), typed(CIDR)),
        op(">>=", Some(typed(INET)), l.clone()),
        op("|/", None, typed(FLOAT8)),
        op("@", None, typed(NUMERIC)),
        op("^@", Some(typed(TEXT)), p.clone()),
    ]
}

/// A type for each polymorphic pseudo-type, consistently: `element` for `anyelement` and the
/// element of `anyarray`, `compatible` for the `anycompatible` family.
fn substitute(declared: &[u32], element: &SqlType, compatible: &SqlType) -> Option<Vec<SqlType>> {
    use oid::*;
    declared
        .iter()
        .map(|&d| {
            Some(match d {
                ANYELEMENT | ANYNONARRAY | ANYENUM => element.clone(),
                ANYARRAY => element.clone().array()?,
                ANYRANGE => element.clone().range_of()?,
                ANYCOMPATIBLE | ANYCOMPATIBLENONARRAY => compatible.clone(),
                ANYCOMPATIBLEARRAY => b(NUMERIC_ARRAY),
                ANYCOMPATIBLERANGE => compatible.clone().range_of()?,
                ANY => b(INT4),
                RECORD => pair(),
                RECORD_ARRAY => pair().array()?,
                ANYMULTIRANGE | ANYCOMPATIBLEMULTIRANGE => return None,
                other => b(other),
            })
        })
        .collect()
}

trait RangeOf {
    fn range_of(self) -> Option<SqlType>;
}

impl RangeOf for SqlType {
    fn range_of(self) -> Option<SqlType> {
        match self {
            SqlType::Builtin(o) if o == oid::INT4 => Some(b(oid::INT4RANGE)),
            _ => None,
        }
    }
}

/// Calls generated from the table: each function and operator with its own argument types,
/// with one argument a `$n`, with all of them `$n`, and with one argument of a type that
/// implicitly casts to the declared one (so the heuristics decide).
fn from_table() -> Vec<Call> {
    let mut calls = Vec::new();
    let uses_enum = |args: &[u32]| args.contains(&oid::ANYENUM);
    let neighbours = |declared: &SqlType| -> Vec<SqlType> {
        let SqlType::Builtin(d) = declared else {
            return Vec::new();
        };
        builtins::CASTS
            .iter()
            .filter(|c| c.target == *d && c.context == builtins::CastContext::Implicit)
            .filter(|c| {
                let name = SqlType::Builtin(c.source)
                    .row()
                    .map(|r| r.typname)
                    .unwrap_or("");
                USER_FACING.contains(&name.trim_start_matches('_'))
            })
            .take(2)
            .map(|c| b(c.source))
            .collect()
    };
    let mut variants = |make: &dyn Fn(Vec<Arg>) -> Call, types: &[SqlType]| {
        let exact: Vec<Arg> = types.iter().cloned().map(Arg::Typed).collect();
        calls.push(make(exact.clone()));
        if types.is_empty() {
            return;
        }
        calls.push(make(vec![Arg::Param; types.len()]));
        if types.len() == 1 {
            calls.push(make(vec![Arg::Literal]));
        }
        for i in 0..types.len() {
            if types.len() > 1 {
                let mut one = exact.clone();
                one[i] = Arg::Param;
                calls.push(make(one));
            }
            for n in neighbours(&types[i]) {
                let mut one = exact.clone();
                one[i] = Arg::Typed(n);
                calls.push(make(one));
            }
        }
    };
    for f in builtins::FUNCTIONS {
        if f.ordered_set() {
            continue;
        }
        let element = if uses_enum(f.args) {
            mood()
        } else {
            b(oid::INT4)
        };
        let Some(mut types) = substitute(f.args, &element, &b(oid::INT4)) else {
            continue;
        };
        if f.variadic != 0 {
            // spread the variadic array into two arguments of its element type
            let Some(last) = types.pop() else { continue };
            let spread = last.element().unwrap_or(last);
            types.extend([spread.clone(), spread]);
        }
        let name = f.name;
        variants(&|args| func(name, args), &types);
    }
    for o in builtins::OPERATORS {
        let declared: Vec<u32> = [o.left, o.right].into_iter().filter(|&t| t != 0).collect();
        let element = if uses_enum(&declared) {
            mood()
        } else {
            b(oid::INT4)
        };
        let Some(types) = substitute(&declared, &element, &b(oid::INT4)) else {
            continue;
        };
        let name = o.name;
        let prefix = o.left == 0;
        variants(
            &|mut args: Vec<Arg>| {
                let right = args.pop().unwrap_or(Arg::Param);
                op(name, if prefix { None } else { args.pop() }, right)
            },
            &types,
        );
    }
    let mut seen = BTreeSet::new();
    calls.retain(|c| seen.insert(render(c)));
    calls
}

/// `COALESCE` of every pair of a set of types, an untyped literal and a `$n` among them.
fn common_types() -> Vec<Call> {
    use oid::*;
    let mut args: Vec<Arg> = [
        INT2,
        INT4,
        INT8,
        NUMERIC,
        FLOAT4,
        FLOAT8,
        MONEY,
        TEXT,
        VARCHAR,
        BPCHAR,
        NAME,
        CHAR,
        BOOL,
        BYTEA,
        DATE,
        TIME,
        TIMETZ,
        TIMESTAMP,
        TIMESTAMPTZ,
        INTERVAL,
        JSON,
        JSONB,
        UUID,
        INET,
        CIDR,
        INT4_ARRAY,
        INT8_ARRAY,
        TEXT_ARRAY,
        INT4RANGE,
    ]
    .into_iter()
    .map(typed)
    .collect();
    args.extend([Arg::Typed(mood()), Arg::Literal, Arg::Param]);
    let mut calls = Vec::new();
    for a in &args {
        for b in &args {
            calls.push(Call::Coalesce(vec![a.clone(), b.clone()]));
        }
    }
    calls
}

#[tokio::test]
async fn the_resolver_agrees_with_postgres() {
    let mut conn = connect("builtins_resolve").await;
    conn.execute(USER_TYPES)
        .await
        .expect("create the user types");
    let mut user_types = BTreeMap::new();
    for (name, t) in [
        ("mood", mood()),
        ("_mood", mood().array().expect("mood[]")),
        ("pair", pair()),
        ("_pair", pair().array().expect("pair[]")),
    ] {
        let oid: i64 = sqlx::query_scalar("SELECT oid::int8 FROM pg_type WHERE typname = $1")
            .bind(name)
            .fetch_one(&mut conn)
            .await
            .expect("a user type");
        user_types.insert(u32::try_from(oid).expect("an OID"), t);
    }

    let started = std::time::Instant::now();
    let mut report = String::new();
    let mut disagreements = Vec::new();
    for (corpus, calls) in [
        ("hand-written", hand_written()),
        ("from the table", from_table()),
        ("common types (COALESCE)", common_types()),
    ] {
        // outcome kind → (calls, agreeing)
        let mut tally: BTreeMap<&'static str, (usize, usize)> = BTreeMap::new();
        for call in &calls {
            let sql = render(call);
            let theirs = described(&mut conn, &sql, &user_types).await;
            let ours = resolved(call);
            let kind = match &theirs {
                Outcome::Typed { .. } => "typed",
                Outcome::NotFound => "no match",
                Outcome::Ambiguous => "ambiguous",
                Outcome::Mismatch => "type mismatch",
                Outcome::CannotCoerce => "cannot coerce",
                Outcome::Untyped => "untyped $n",
                Outcome::Other(_) => "other error",
            };
            let entry = tally.entry(kind).or_default();
            entry.0 += 1;
            if ours == theirs {
                entry.1 += 1;
            } else {
                disagreements.push(format!(
                    "{sql}\n    postgres: {theirs:?}\n    pgready:  {ours:?}"
                ));
            }
        }
        let total: usize = tally.values().map(|t| t.0).sum();
        let agree: usize = tally.values().map(|t| t.1).sum();
        let _ = writeln!(report, "{corpus}: {agree}/{total} agree");
        for (kind, (n, a)) in &tally {
            let _ = writeln!(report, "    {kind}: {a}/{n}");
        }
    }
    eprintln!("{report}({:.1?})", started.elapsed());
    assert!(
        disagreements.is_empty(),
        "{} calls resolve differently from PostgreSQL:\n{}\n{report}",
        disagreements.len(),
        disagreements
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
