//! pgready's attribute macros. Each entry point parses, validates (through `pgready-core`) and
//! expands, in the module of the same name (`parse.rs`, `validate.rs`, `expand.rs`). What they
//! share has its own module: `args` (the `key = "…"` arguments), `signature` (`async fn
//! name(db: pgready::Db)`), `project` (the checked config and migrations and the tokens that
//! embed them) and `diagnostic` (errors and warnings). Use them through the `pgready` crate.

mod args;
mod diagnostic;
mod health_endpoint;
mod migrated_pool;
mod project;
mod query;
mod row;
mod signature;
mod test;

use proc_macro::TokenStream;

/// Turns `async fn main(db: pgready::Db)` into a `main` that validates `pgready.toml` and every
/// migration at compile time, then at start-up connects, applies session settings and
/// migrations, and runs the body with a ready [`Db`](../pgready/struct.Db.html).
///
/// ```ignore
/// #[pgready::migrated_pool(config = "pgready.toml")]
/// async fn main(db: pgready::Db) {
///     // ...
/// }
/// ```
#[proc_macro_attribute]
pub fn migrated_pool(args: TokenStream, item: TokenStream) -> TokenStream {
    migrated_pool::expand(args.into(), item.into()).into()
}

/// Turns `async fn health() {}` (built-in checks) or
/// `async fn health(db: &pgready::Db) -> pgready::health::Checks` (built-ins plus custom checks)
/// into an axum handler answering `application/health+json`, usable with state `Db` or any
/// state `S` where `Db: FromRef<S>`.
///
/// Options: `kind = "readiness" | "liveness"`, `timeout = "2s"`, `cache = "1s"`,
/// `detail = "none" | "status" | "full"`; `timeout` and `cache` default to `[health]` in
/// `pgready.toml`.
///
/// ```ignore
/// #[pgready::health_endpoint(kind = "readiness", timeout = "1s")]
/// async fn health() {}
/// ```
#[proc_macro_attribute]
pub fn health_endpoint(args: TokenStream, item: TokenStream) -> TokenStream {
    health_endpoint::expand(args.into(), item.into()).into()
}

/// Runs `async fn name(db: pgready::Db)` as a `#[test]` on the migrated schema, isolated from
/// every other test. `config = "…"` as for `#[migrated_pool]`; `isolation = "…"`:
///
/// - `"transaction"` (the default): one connection inside a transaction rolled back when the
///   test ends, on a database copied once from the migrated template and shared by every such
///   test; `begin()` inside opens a savepoint. A second connection held at the same time,
///   real commits, `LISTEN`/`NOTIFY` and statements that cannot run in a transaction block are
///   errors that say to use `"database"`.
/// - `"database"`: a database of its own, cloned from the template (built once and reused across
///   tests, processes and runs). A failing test's database is kept and its name printed.
///
/// ```ignore
/// #[pgready::test]
/// async fn creates_an_item(db: pgready::Db) {
///     pgready::sqlx::query("INSERT INTO items (name) VALUES ('a')").execute(db.write()).await.unwrap();
/// }
///
/// #[pgready::test(isolation = "database")]
/// async fn builds_an_index_concurrently(db: pgready::Db) {
///     pgready::sqlx::query("CREATE INDEX CONCURRENTLY ON items (name)").execute(db.write()).await.unwrap();
/// }
/// ```
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    test::expand(args.into(), item.into()).into()
}

/// A query checked at compile time against the schema the migrations build, with no database:
/// `pgready::query!("SELECT id, name FROM items WHERE id = $1", id).fetch_one(db.read())`
/// returns an anonymous record with one typed field per column, as sqlx's `query!` does. The
/// schema comes from the migrations `pgready.toml` (next to `Cargo.toml`) names; a column that
/// can be NULL is an `Option`. sqlx's overrides work: `AS "name!"`, `AS "name?"`,
/// `AS "name: Type"`; `arg as _` binds an argument unchecked.
#[proc_macro]
pub fn query(input: TokenStream) -> TokenStream {
    query::expand(input.into(), query::Kind::Record).into()
}

/// [`query!`] into your own type: `pgready::query_as!(Item, "SELECT id, name FROM items")`
/// builds `Item { id, name }` from the columns of the same names.
#[proc_macro]
pub fn query_as(input: TokenStream) -> TokenStream {
    query::expand(input.into(), query::Kind::As).into()
}

/// [`query!`] for one column: `pgready::query_scalar!("SELECT count(*) FROM items")` returns
/// its value (`i64` here).
#[proc_macro]
pub fn query_scalar(input: TokenStream) -> TokenStream {
    query::expand(input.into(), query::Kind::Scalar).into()
}

/// A row type checked against a table or view of the schema the migrations build, and its
/// `sqlx::FromRow` implementation: every field names a column (`#[pgready(rename = "…")]` when
/// the names differ), a nullable column needs `Option<T>`, and a field of a type sqlx knows must
/// be one sqlx decodes the column's type as.
///
/// ```ignore
/// #[derive(pgready::Row)]
/// #[pgready(table = "items")]
/// struct Item { id: i64, name: String, done: bool }
/// ```
#[proc_macro_derive(Row, attributes(pgready))]
pub fn derive_row(input: TokenStream) -> TokenStream {
    row::expand(input.into()).into()
}
