//! Migration files: naming, discovery, checksums and the advisory lock id.
//!
//! Every directory that sqlx 0.9's resolver accepts is read exactly as sqlx reads it: the same
//! files, versions, descriptions, kinds, checksums and no-transaction flags, so the
//! `_sqlx_migrations` rows pgready writes are the rows sqlx writes. pgready's stricter naming
//! style is a lint (`migration-file-name`, in the `lint` module, which reads names with this
//! one), not a refusal.
//!
//! The macro discovers migrations at compile time with [`discover`] and embeds each file's bytes;
//! at start-up the runtime rebuilds the same list from the embedded files with [`from_files`].
//! Both go through the same parsing and checks, so a migration the compiler accepted is the one
//! that runs. A file marked to run outside a transaction ([`NO_TRANSACTION_MARKER`],
//! [`SQLX_NO_TRANSACTION_MARKER`]) runs one statement at a time, as [`statements`] splits it.

mod checksum;
mod discover;
mod ledger;
mod name;
mod resolve;
mod sqlx_toml;
mod statements;

pub use checksum::{checksum, checksum_ignoring, lock_id};
pub use discover::{Directory, MigrationError, Skipped, discover, from_files, read_directory};
pub use ledger::Ledger;
pub use name::{FileName, Kind, SkipReason, looks_like_migration, parse_file_name, skip_reason};
pub use resolve::Resolve;
pub use sqlx_toml::SqlxToml;
pub use statements::{Statement, StatementError, statements};

/// The first-line marker that runs a migration outside a transaction, statement by statement:
/// the whole first line, surrounding whitespace aside.
pub const NO_TRANSACTION_MARKER: &str = "-- pgready:no-transaction";
/// sqlx's marker for the same thing, read as sqlx reads it: the file's text starts with it,
/// byte for byte (no leading whitespace or byte-order mark; anything may follow it).
pub const SQLX_NO_TRANSACTION_MARKER: &str = "-- no-transaction";

/// One migration file, parsed, ready to embed or to apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Migration {
    /// The version from the file name (`20240101120000` in `20240101120000_create_items.sql`).
    pub version: i64,
    /// The description as sqlx records it: the file name's description with `_` as spaces.
    pub description: String,
    /// Simple (`.sql`), or one half of a reversible pair (`.up.sql` / `.down.sql`).
    pub kind: Kind,
    /// The file name, as it appears in the migrations directory.
    pub file_name: String,
    /// The file's text, byte for byte.
    pub sql: String,
    /// The checksum sqlx stores in `_sqlx_migrations`: SHA-384 of the file's bytes, without
    /// the characters [`Resolve::ignored_chars`] names.
    pub checksum: Vec<u8>,
    /// Whether the file runs outside a transaction: it starts with sqlx's `-- no-transaction`,
    /// or its first line is `-- pgready:no-transaction`.
    pub no_transaction: bool,
}

impl Migration {
    /// Builds a migration from a file name and its text; an error for a name sqlx would skip or
    /// refuse.
    pub fn new(
        file_name: &str,
        sql: String,
        resolve: &Resolve,
    ) -> Result<Migration, MigrationError> {
        let name = match parse_file_name(file_name) {
            Some(Ok(name)) => name,
            Some(Err(message)) => return Err(MigrationError::new(file_name, 0, message)),
            None => {
                return Err(MigrationError::new(
                    file_name,
                    0,
                    "not a migration file name (sqlx skips it): expected \
                     `<version>_<description>.sql`"
                        .to_owned(),
                ));
            }
        };
        let no_transaction = sql.starts_with(SQLX_NO_TRANSACTION_MARKER)
            || sql.lines().next().unwrap_or("").trim() == NO_TRANSACTION_MARKER;
        Ok(Migration {
            version: name.version,
            description: name.recorded_description(),
            kind: name.kind,
            file_name: file_name.to_owned(),
            checksum: checksum_ignoring(&sql, &resolve.ignored_chars),
            sql,
            no_transaction,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn migration(name: &str, sql: &str) -> Migration {
        Migration::new(name, sql.to_owned(), &Resolve::default()).unwrap()
    }

    #[test]
    fn pgready_marker_is_the_whole_first_line() {
        assert!(
            migration(
                "1_idx.sql",
                &format!("{NO_TRANSACTION_MARKER}\nCREATE INDEX;")
            )
            .no_transaction
        );
        assert!(
            migration(
                "1_idx.sql",
                &format!("  {NO_TRANSACTION_MARKER} \r\nSELECT 1;")
            )
            .no_transaction
        );
        assert!(
            !migration("1_idx.sql", &format!("SELECT 1;\n{NO_TRANSACTION_MARKER}")).no_transaction
        );
        assert!(
            !migration("1_idx.sql", &format!("{NO_TRANSACTION_MARKER} please\n")).no_transaction
        );
    }

    #[test]
    fn sqlx_marker_is_a_prefix_of_the_raw_text() {
        // `sql.starts_with("-- no-transaction")`, exactly as sqlx decides
        assert!(migration("1_idx.sql", "-- no-transaction\nSELECT 1;").no_transaction);
        assert!(migration("1_idx.sql", "-- no-transaction").no_transaction);
        assert!(
            migration("1_idx.sql", "-- no-transaction: index built concurrently\n").no_transaction
        );
        assert!(migration("1_idx.sql", "-- no-transactions\n").no_transaction);
        assert!(!migration("1_idx.sql", " -- no-transaction\n").no_transaction);
        assert!(!migration("1_idx.sql", "\u{FEFF}-- no-transaction\n").no_transaction);
        assert!(!migration("1_idx.sql", "--no-transaction\n").no_transaction);
        assert!(!migration("1_idx.sql", "-- No-Transaction\n").no_transaction);
        assert!(!migration("1_idx.sql", "SELECT 1;\n-- no-transaction\n").no_transaction);
    }

    #[test]
    fn description_is_recorded_as_sqlx_records_it() {
        let m = migration("20240101_create_items_table.sql", "");
        assert_eq!(m.version, 20240101);
        assert_eq!(m.description, "create items table");
        let m = migration("20240309082057_order_totals.sql.up.sql", "");
        assert_eq!(
            (m.description.as_str(), m.kind),
            ("order totals.sql", Kind::Up)
        );
    }

    #[test]
    fn checksums_leave_out_ignored_characters() {
        let crlf = "SELECT 1;\r\n".to_owned();
        let plain = Migration::new("1_a.sql", crlf.clone(), &Resolve::default()).unwrap();
        assert_eq!(plain.checksum, checksum(crlf.as_bytes()));
        let resolve = Resolve {
            ignored_chars: ['\r'].into(),
        };
        let ignoring = Migration::new("1_a.sql", crlf.clone(), &resolve).unwrap();
        assert_eq!(ignoring.checksum, checksum(b"SELECT 1;\n"));
        assert_eq!(
            ignoring.sql, crlf,
            "the SQL that runs keeps every character"
        );
    }

    #[test]
    fn names_sqlx_skips_or_refuses_are_errors_here() {
        let skipped = Migration::new("README.md", String::new(), &Resolve::default()).unwrap_err();
        assert!(skipped.message.contains("sqlx skips it"), "{skipped}");
        let refused = Migration::new("x_y.sql", String::new(), &Resolve::default()).unwrap_err();
        assert!(refused.message.contains("`x`"), "{refused}");
    }
}
