//! PostgreSQL's built-in functions, operators, casts and types, and the rules its parser
//! applies to choose among them: what a checked query needs to type a call with no database.
//!
//! # The table
//!
//! `generated.rs` is read from PostgreSQL's own `pg_catalog`, never typed by hand, by the test
//! `tests/tests/builtins.rs`, which also fails when the file drifts from the catalog of the
//! server it runs against (`PGREADY_REGENERATE=1` rewrites it). [`SERVER_MAJOR`] is the
//! version it came from. What it selects:
//!
//! - **user-facing types**: the types `sqlx` decodes (integers, floats, `numeric`, `money`,
//!   the text family and `name`, `"char"`, `bytea`, `bool`, `uuid`, `json`/`jsonb`, the
//!   date/time types and `interval`, `inet`/`cidr`/`macaddr`/`macaddr8`, `bit`/`varbit`, the
//!   built-in ranges, the geometric types) and those a query passes as a literal (`jsonpath`,
//!   `tsvector`/`tsquery`/`regconfig`, `regclass` for `nextval('seq')`), their arrays, and the
//!   pseudo-types functions are declared with (`anyelement` and the other polymorphic ones,
//!   `"any"`, `record`, `void`);
//! - **functions**: a `pg_catalog` function, aggregate or window function is selected when it
//!   takes and returns only those types and is not the support function of another object (a
//!   type's I/O, an index operator class's support, an aggregate's transition or final
//!   function): queries call the object, not its parts. Then *every* function of that name is
//!   kept, whatever its types, so resolution sees the candidates PostgreSQL sees; their other
//!   types (`oid`, `xid`, …) are in the table too;
//! - **operators**: every `pg_catalog` operator whose name has one over those types (in
//!   practice all of them), with the strictness of the function it calls;
//! - **casts**: every `pg_cast` entry between two types of the table, with its context.
//!
//! `COALESCE`, `NULLIF`, `GREATEST`, `LEAST`, `CASE`, `IS DISTINCT FROM`, `IN`, `= ANY(…)`,
//! `BETWEEN`, `LIKE`, `EXTRACT`, `SUBSTRING(… FROM …)`, `TRIM(…)`, `POSITION`, `OVERLAY`,
//! `CURRENT_TIMESTAMP` and the like are syntax, not catalog functions: the grammar turns some
//! into calls (`LIKE` is the operator `~~`, `EXTRACT(f FROM x)` is `extract('f', x)`,
//! `a BETWEEN b AND c` is `a >= b AND a <= c`,
//! `CURRENT_DATE` is a `date`), and the others take the common type of their arguments
//! ([`select_common_type`]). `x = ANY(arr)` resolves `=` on `x` and the array's element type
//! (an open `$n` array counts as unknown); the array is then the array of the right operand's
//! resolved type.
//!
//! # Resolution
//!
//! [`resolve_function`] and [`resolve_operator`] follow PostgreSQL's documented steps
//! (<https://www.postgresql.org/docs/current/typeconv-func.html>,
//! <https://www.postgresql.org/docs/current/typeconv-oper.html>) as its parser implements
//! them (`func_get_detail`, `oper`, `func_select_candidate`, `parse_coerce.c`):
//!
//! 1. candidates by name and argument count; a variadic function spreads its last argument
//!    over the extra arguments, a function with defaults accepts fewer; two with the same
//!    effective arguments: the one that is not variadic wins, else both are ambiguous;
//! 2. an exact match wins (an operator's unknown operand counts as the other's type);
//! 3. a call of one argument named after a type (`text(x)`, `int8('1')`) is a coercion when
//!    the argument is a literal or converts by a binary or I/O cast;
//! 4. the candidates every argument implicitly coerces to (pg_cast context `i`, arrays element
//!    by element, unknowns to anything, polymorphic arguments consistently); one left wins;
//! 5. of several: the most exact matches, then the most preferred types where a coercion is
//!    needed, then for unknown arguments the string category if offered, else the category
//!    all agree on (and its preferred type), then, when all known arguments have one type,
//!    the one candidate that accepts the unknowns as that type; else ambiguous;
//! 6. the polymorphic types are resolved from the arguments (`anyelement`, `anyarray`,
//!    `anynonarray`, `anyenum`, `anyrange`, the `anycompatible` family with its common
//!    type), giving the result type and the type each unknown argument is coerced to,
//!    which is the type a `$n` takes.
//!
//! Not implemented: named arguments (`f(a => 1)`), an explicit `VARIADIC` array argument,
//! functions and operators the migrations create (only `pg_catalog`'s), multirange types,
//! inheritance between row types, and extension types' own casts and categories (a type the
//! table lacks matches only itself and the polymorphic pseudo-types). An argument declared
//! `"any"` (`concat`, `format`, `jsonb_build_object`, `count`) accepts anything and gives a
//! `$n` no type, as in PostgreSQL, where such a parameter needs a cast. Domains: pass their
//! base type. `test/builtins` measures the agreement with PostgreSQL.

mod coerce;
#[rustfmt::skip]
mod generated;
mod resolve;
mod table;
mod types;

#[cfg(test)]
mod tests;

pub use coerce::{NoCommonType, can_coerce, cast, select_common_type};
pub use generated::{CASTS, FUNCTIONS, OPERATORS, SERVER_MAJOR, TYPES, oid};
pub use resolve::{
    Arg, FunctionCall, OperatorCall, ResolveError, resolve_function, resolve_operator,
};
pub use table::{
    Cast, CastContext, CastMethod, Function, FunctionKind, NONE, Oid, Operator, TypeKind, TypeRow,
};
pub use types::SqlType;

/// The built-in functions named `name`, in the table's order (by argument types).
pub fn functions(name: &str) -> impl Iterator<Item = &'static Function> {
    FUNCTIONS.iter().filter(move |f| f.name == name)
}

/// The built-in operators named `name`.
pub fn operators(name: &str) -> impl Iterator<Item = &'static Operator> {
    OPERATORS.iter().filter(move |o| o.name == name)
}
