//! Splitting a migration into its statements, for files that run outside a transaction
//! (see [`NO_TRANSACTION_MARKER`](super::NO_TRANSACTION_MARKER)).

use std::fmt;

use crate::sql::Source;

/// One statement of a migration file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    /// the statement exactly as written, without the comments and whitespace around it and
    /// without its terminating `;`
    pub text: String,
    /// 1-based line where the statement starts
    pub line: usize,
}

/// Why a file could not be split into statements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatementError {
    /// 1-based line of the statement that could not be parsed
    pub line: usize,
    /// what went wrong and what to do: lowercase, no trailing period
    pub message: String,
}

impl fmt::Display for StatementError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for StatementError {}

/// Splits a migration into its statements, in order, with the line each starts on.
///
/// The split follows PostgreSQL's grammar (squawk's parser), so a `;` inside a string, a
/// dollar-quoted function body, a comment or a `BEGIN ATOMIC … END` body stays inside its
/// statement. The migrator runs a `-- pgready:no-transaction` file with it, one statement at a
/// time. A file the grammar cannot parse is refused rather than split by guesswork: running a
/// wrongly split statement outside a transaction could leave half a migration applied.
///
/// ```
/// use pgready_core::migrations::statements;
///
/// let sql = "-- pgready:no-transaction\n\
///            CREATE INDEX CONCURRENTLY IF NOT EXISTS a_x ON a (x);\n\
///            CREATE INDEX CONCURRENTLY IF NOT EXISTS a_y ON a (y);\n";
/// let split = statements(sql).map_err(|e| e.to_string())?;
/// assert_eq!(split.len(), 2);
/// assert_eq!(split[1].line, 3);
/// assert_eq!(split[1].text, "CREATE INDEX CONCURRENTLY IF NOT EXISTS a_y ON a (y)");
/// # Ok::<(), String>(())
/// ```
pub fn statements(sql: &str) -> Result<Vec<Statement>, StatementError> {
    let Some(source) = Source::parse(sql) else {
        return Err(StatementError {
            line: 1,
            message: "the SQL parser failed on this file: run it in a transaction (remove \
                      `-- pgready:no-transaction`) or split it into several migrations"
                .to_owned(),
        });
    };
    let mut out = Vec::with_capacity(source.spans.len());
    for span in &source.spans {
        let line = source.line(span.start);
        if let Some(error) = &span.error {
            return Err(StatementError {
                line,
                message: format!(
                    "cannot parse this statement ({error}), so it cannot be run on its own: \
                     fix its syntax"
                ),
            });
        }
        out.push(Statement {
            text: sql[span.start..span.end].to_owned(),
            line,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_split_on_top_level_semicolons_only() {
        let sql = "-- pgready:no-transaction\n\
                   -- a comment; with a semicolon\n\
                   CREATE OR REPLACE FUNCTION touch() RETURNS trigger AS $body$\n\
                   BEGIN\n  NEW.updated_at := now(); -- inner; comment\n  RETURN NEW;\nEND\n\
                   $body$ LANGUAGE plpgsql;\n\
                   \n\
                   INSERT INTO notes VALUES ('a;b', E'c\\';d', $$e;f$$); /* block; comment */\n\
                   ;;\n\
                   CREATE FUNCTION two() RETURNS INT LANGUAGE sql\n\
                   BEGIN ATOMIC SELECT 1; SELECT 2; END;\n\
                   CREATE INDEX CONCURRENTLY IF NOT EXISTS a ON t (a)\n\
                   -- no semicolon at the end\n";
        let split = statements(sql).map_err(|e| e.to_string());
        let expected = vec![
            Statement {
                text: "CREATE OR REPLACE FUNCTION touch() RETURNS trigger AS $body$\nBEGIN\n  \
                       NEW.updated_at := now(); -- inner; comment\n  RETURN NEW;\nEND\n$body$ \
                       LANGUAGE plpgsql"
                    .to_owned(),
                line: 3,
            },
            Statement {
                text: "INSERT INTO notes VALUES ('a;b', E'c\\';d', $$e;f$$)".to_owned(),
                line: 10,
            },
            Statement {
                text: "CREATE FUNCTION two() RETURNS INT LANGUAGE sql\nBEGIN ATOMIC SELECT 1; \
                       SELECT 2; END"
                    .to_owned(),
                line: 12,
            },
            Statement {
                text: "CREATE INDEX CONCURRENTLY IF NOT EXISTS a ON t (a)".to_owned(),
                line: 14,
            },
        ];
        assert_eq!(split, Ok(expected));
    }

    #[test]
    fn statements_of_an_empty_file_are_none() {
        assert_eq!(statements(""), Ok(vec![]));
        assert_eq!(statements("-- only a comment\n\n"), Ok(vec![]));
    }

    #[test]
    fn statements_keep_crlf_line_numbers() {
        let split = statements("SELECT 1;\r\nSELECT\r\n  2;\r\n").map_err(|e| e.to_string());
        assert_eq!(
            split,
            Ok(vec![
                Statement {
                    text: "SELECT 1".to_owned(),
                    line: 1
                },
                Statement {
                    text: "SELECT\r\n  2".to_owned(),
                    line: 2
                },
            ])
        );
    }

    #[test]
    fn statements_refuse_a_file_they_cannot_parse() {
        let error = statements("SELECT 1;\n\nCREATE TABEL t (a INT);\nSELECT 2;\n");
        let Err(error) = error else {
            panic!("split an unparsable file: {error:?}");
        };
        assert_eq!(error.line, 3);
        assert!(error.message.starts_with("cannot parse this statement ("));
        assert!(
            error
                .to_string()
                .starts_with("line 3: cannot parse this statement")
        );
    }
}
