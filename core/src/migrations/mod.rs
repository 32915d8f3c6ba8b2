//! Migration files: naming, discovery, checksums and the advisory lock id.
//!
//! The macro discovers migrations at compile time with [`discover`] and embeds each file's bytes;
//! at start-up the runtime rebuilds the same list from the embedded files with [`from_files`].
//! Both go through the same parsing and checks, so a migration the compiler accepted is the one
//! that runs.

mod checksum;
mod discover;
mod ledger;
mod name;

pub use checksum::{checksum, lock_id};
pub use discover::{MigrationError, discover, from_files};
pub use ledger::Ledger;
pub use name::{FileName, Kind, parse_file_name};

/// The first-line marker that runs a migration outside a transaction, statement by statement.
pub const NO_TRANSACTION_MARKER: &str = "-- pgready:no-transaction";
/// sqlx's marker for the same thing, accepted so a project can switch from sqlx unchanged.
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
    /// SHA-384 of the file's bytes, the checksum sqlx stores in `_sqlx_migrations`.
    pub checksum: Vec<u8>,
    /// Whether the first line asks to run outside a transaction.
    pub no_transaction: bool,
}

impl Migration {
    /// Builds a migration from a file name and its text, checking the name.
    pub fn new(file_name: &str, sql: String) -> Result<Migration, MigrationError> {
        let name = match parse_file_name(file_name) {
            Some(Ok(name)) => name,
            Some(Err(message)) => return Err(MigrationError::new(file_name, 0, message)),
            None => {
                return Err(MigrationError::new(
                    file_name,
                    0,
                    "not a migration file name: expected `<version>_<description>.sql`".to_owned(),
                ));
            }
        };
        let first_line = sql.lines().next().unwrap_or("").trim();
        let no_transaction =
            first_line == NO_TRANSACTION_MARKER || first_line == SQLX_NO_TRANSACTION_MARKER;
        Ok(Migration {
            version: name.version,
            description: name.description.replace('_', " "),
            kind: name.kind,
            file_name: file_name.to_owned(),
            checksum: checksum(sql.as_bytes()),
            sql,
            no_transaction,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_transaction_marker_is_read_from_the_first_line_only() {
        let m = Migration::new(
            "1_idx.sql",
            format!("{NO_TRANSACTION_MARKER}\nCREATE INDEX;"),
        )
        .unwrap();
        assert!(m.no_transaction);
        let m = Migration::new("1_idx.sql", format!("SELECT 1;\n{NO_TRANSACTION_MARKER}")).unwrap();
        assert!(!m.no_transaction);
        let m = Migration::new("1_idx.sql", "-- no-transaction\nSELECT 1;".to_owned()).unwrap();
        assert!(m.no_transaction, "sqlx's marker is honoured too");
    }

    #[test]
    fn description_is_recorded_as_sqlx_records_it() {
        let m = Migration::new("20240101_create_items_table.sql", String::new()).unwrap();
        assert_eq!(m.version, 20240101);
        assert_eq!(m.description, "create items table");
    }
}
