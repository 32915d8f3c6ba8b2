//! Whether a query may leave a transaction block open on its connection.
//!
//! Only `BEGIN` and `START TRANSACTION` open a transaction block, so SQL without either word is
//! safe to release without asking the server. The scan is conservative: the words inside a
//! string, a comment or a PL/pgSQL body (`DO $$ BEGIN … END $$`) count too, which costs that
//! connection one round trip on release and is never wrong.

use std::marker::PhantomData;

use sqlx::Execute;
use sqlx::SqlStr;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArguments, PgStatement, Postgres};

/// Whether `sql` contains `begin` or `start` as a word, in any case.
pub(crate) fn may_open_transaction(sql: &str) -> bool {
    let bytes = sql.as_bytes();
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80;
    let mut i = 0;
    while i < bytes.len() {
        if !is_word(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is_word(bytes[i]) {
            i += 1;
        }
        let word = &bytes[start..i];
        if word.eq_ignore_ascii_case(b"begin") || word.eq_ignore_ascii_case(b"start") {
            return true;
        }
    }
    false
}

/// A query with its SQL read ahead of execution, so it can be scanned; executes exactly as
/// the query it wraps.
pub(crate) struct Scanned<'q> {
    sql: SqlStr,
    statement: Option<PgStatement>,
    arguments: Option<Result<Option<PgArguments>, BoxDynError>>,
    persistent: bool,
    opens_transaction: bool,
    _query: PhantomData<&'q ()>,
}

impl<'q> Scanned<'q> {
    pub(crate) fn new(mut query: impl Execute<'q, Postgres>) -> Scanned<'q> {
        let arguments = Some(query.take_arguments());
        let statement = query.statement().cloned();
        let persistent = query.persistent();
        let sql = query.sql();
        Scanned {
            opens_transaction: may_open_transaction(sql.as_str()),
            sql,
            statement,
            arguments,
            persistent,
            _query: PhantomData,
        }
    }

    /// Runs it as an unnamed statement, whatever the query asked for: behind a transaction
    /// pooler a named one would stay on a server connection other clients get next.
    pub(crate) fn unnamed(mut self) -> Scanned<'q> {
        self.persistent = false;
        self
    }

    /// Whether it runs as a prepared statement (sqlx's extended protocol: any `query(…)`, with
    /// or without binds) rather than as simple-protocol SQL (`raw_sql`, a plain `&str`).
    pub(crate) fn is_prepared(&self) -> bool {
        matches!(self.arguments, Some(Ok(Some(_)))) || self.statement.is_some()
    }

    /// Whether running this query to the end may leave a transaction block open.
    pub(crate) fn may_open_transaction(&self) -> bool {
        self.opens_transaction
    }
}

impl<'q> Execute<'q, Postgres> for Scanned<'q> {
    fn sql(self) -> SqlStr {
        self.sql
    }

    fn statement(&self) -> Option<&PgStatement> {
        self.statement.as_ref()
    }

    fn take_arguments(&mut self) -> Result<Option<PgArguments>, BoxDynError> {
        self.arguments.take().unwrap_or(Ok(None))
    }

    fn persistent(&self) -> bool {
        self.persistent
    }
}

#[cfg(test)]
mod tests {
    use super::may_open_transaction;

    #[test]
    fn finds_the_words_that_open_a_transaction_block() {
        for sql in [
            "BEGIN",
            "begin;",
            "START TRANSACTION ISOLATION LEVEL SERIALIZABLE",
            "UPDATE t SET v = 1; BeGiN; UPDATE t SET v = 2",
            "  begin\n",
            "DO $$ BEGIN PERFORM 1; END $$",
            "select 'begin'",
        ] {
            assert!(may_open_transaction(sql), "{sql}");
        }
    }

    #[test]
    fn ignores_words_that_only_contain_them() {
        for sql in [
            "SELECT 1",
            "SELECT v FROM kv WHERE id = $1",
            "SELECT started, start_date, restart, begins, $begin FROM t",
            "INSERT INTO beginnings (x) VALUES (1)",
            "COMMIT",
            "",
        ] {
            assert!(!may_open_transaction(sql), "{sql}");
        }
    }
}
