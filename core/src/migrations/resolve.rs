//! How migrations are resolved beyond their files: the options sqlx reads from `sqlx.toml`.

use std::collections::BTreeSet;

/// Options for reading migrations, as sqlx's `ResolveConfig`: [`Resolve::default`] reads them
/// as plain `sqlx migrate run` and `sqlx::migrate!` do without a `sqlx.toml`.
///
/// ```
/// use pgready_core::migrations::{Resolve, from_files};
///
/// let crlf = [("1_init.sql", "CREATE TABLE t ();\r\n")];
/// let lf = [("1_init.sql", "CREATE TABLE t ();\n")];
/// let ignore_cr = Resolve { ignored_chars: ['\r'].into() };
/// assert_eq!(
///     from_files(crlf, &ignore_cr).unwrap()[0].checksum,
///     from_files(lf, &Resolve::default()).unwrap()[0].checksum,
/// );
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resolve {
    /// Characters left out of every checksum (`sqlx.toml`: `[migrate] ignored-chars`); the
    /// SQL that runs keeps them.
    pub ignored_chars: BTreeSet<char>,
}
