//! pgready's attribute macros. Each entry point parses, validates (through `pgready-core`) and
//! expands; the logic lives in the module of the same name. Use them through the `pgready` crate.

mod diagnostic;
mod migrated_pool;

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
