//! `#[pgready::test(isolation = "…")]`: how a test's database is kept apart from the others',
//! a word the macro parses at compile time and the runtime acts on.
//!
//! ```
//! use pgready_core::isolation::Isolation;
//!
//! assert_eq!("database".parse::<Isolation>(), Ok(Isolation::Database));
//! assert_eq!(Isolation::VALID, ["transaction", "database"]);
//! ```

use crate::word::words;

words! {
    /// `isolation = "…"`: what a `#[pgready::test]` runs in.
    pub enum Isolation {
        /// One connection inside a transaction that is rolled back when the test ends, on a
        /// database shared by every such test (the default; Django's `TestCase`, Rails'
        /// transactional tests). `begin()` inside opens a savepoint.
        Transaction = "transaction",
        /// A database of its own, copied from the migrated template: real commits, several
        /// connections, `LISTEN`/`NOTIFY`, statements that cannot run in a transaction block.
        Database = "database",
    }
}

#[cfg(test)]
mod tests {
    use super::Isolation;

    #[test]
    fn words_round_trip_and_a_typo_names_the_valid_ones() {
        for word in Isolation::VALID {
            assert_eq!(word.parse::<Isolation>().map(Isolation::as_str), Ok(*word));
        }
        let message = "databse"
            .parse::<Isolation>()
            .unwrap_err()
            .message_for("isolation");
        assert!(message.contains("did you mean `\"database\"`"), "{message}");
    }
}
