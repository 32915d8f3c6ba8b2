//! A problem found in `pgready.toml`, located by TOML key and line.

use std::fmt;

/// How serious a [`Diagnostic`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// the file is refused: a compile error in the macro, a start-up error at run time
    Error,
    /// the file is accepted but something is probably not what the user meant
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One problem in the configuration, pointing at the TOML key that causes it.
///
/// `Display` gives `line 12, column 1: `pool.max_connections`: <message>`; the position is left
/// out when the problem does not come from the file (`line == 0`, e.g. a default value or an
/// unknown profile name), the key when it is a TOML syntax error.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Diagnostic {
    /// error or warning
    pub severity: Severity,
    /// dotted path of the offending key as written in the file, e.g.
    /// `profiles.production.pool.max_connections`; empty for TOML syntax errors
    pub key: String,
    /// 1-based line of the key in the file, 0 if the problem is not from the file
    pub line: usize,
    /// 1-based column (in characters) of the key, 0 if the problem is not from the file
    pub column: usize,
    /// lowercase, no trailing period, TOML syntax in backticks
    pub message: String,
}

impl Diagnostic {
    /// An error at `key` (`line`/`column` 1-based, or 0 when not from the file).
    pub fn error(
        key: impl Into<String>,
        line: usize,
        column: usize,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Error,
            key: key.into(),
            line,
            column,
            message: message.into(),
        }
    }

    /// A warning at `key` (`line`/`column` 1-based, or 0 when not from the file).
    pub fn warning(
        key: impl Into<String>,
        line: usize,
        column: usize,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(key, line, column, message)
        }
    }

    /// Whether this is a [`Severity::Error`].
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "line {}, column {}: ", self.line, self.column)?;
        }
        if !self.key.is_empty() {
            write!(f, "`{}`: ", self.key)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diagnostic {}

/// Turns byte offsets into 1-based line and column (columns count characters, as editors do).
pub(crate) struct LineIndex<'a> {
    source: &'a str,
    /// byte offset at which each line starts
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub(crate) fn new(source: &'a str) -> Self {
        let starts = std::iter::once(0)
            .chain(source.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex { source, starts }
    }

    /// `(line, column)` of byte `offset`, both 1-based.
    pub(crate) fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.source.len());
        let line = self.starts.partition_point(|&start| start <= offset);
        let start = self
            .starts
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or(0);
        let column = self
            .source
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        (line.max(1), column + 1)
    }
}

/// Sorts diagnostics by position (file positions first, then the rest) and drops repeats, which
/// happen when the base file and a profile share the offending key.
pub(crate) fn tidy(diagnostics: &mut Vec<Diagnostic>) {
    diagnostics.sort_by(|a, b| {
        (
            a.line == 0,
            a.line,
            a.column,
            &a.key,
            &a.message,
            a.severity,
        )
            .cmp(&(
                b.line == 0,
                b.line,
                b.column,
                &b.key,
                &b.message,
                b.severity,
            ))
    });
    diagnostics.dedup();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_line_and_key() {
        let d = Diagnostic::error("pool.max_connections", 12, 1, "must be at least 1");
        assert_eq!(
            d.to_string(),
            "line 12, column 1: `pool.max_connections`: must be at least 1"
        );
        let d = Diagnostic::error("profiles.staging", 0, 0, "unknown profile");
        assert_eq!(d.to_string(), "`profiles.staging`: unknown profile");
        let d = Diagnostic::error("", 3, 7, "expected `=`");
        assert_eq!(d.to_string(), "line 3, column 7: expected `=`");
    }

    #[test]
    fn line_index_counts_lines_and_characters() {
        let index = LineIndex::new("ab\nçd = 1\n\nx");
        assert_eq!(index.position(0), (1, 1));
        assert_eq!(index.position(1), (1, 2));
        assert_eq!(index.position(3), (2, 1));
        // `d` comes after a two-byte character: column counts characters
        assert_eq!(index.position(5), (2, 2));
        assert_eq!(index.position(12), (4, 1));
        assert_eq!(index.position(999), (4, 2));
    }

    #[test]
    fn tidy_sorts_and_dedups() {
        let mut all = vec![
            Diagnostic::error("b", 0, 0, "x"),
            Diagnostic::error("a", 5, 1, "x"),
            Diagnostic::error("a", 2, 1, "x"),
            Diagnostic::error("a", 5, 1, "x"),
        ];
        tidy(&mut all);
        let lines: Vec<usize> = all.iter().map(|d| d.line).collect();
        assert_eq!(lines, [2, 5, 0]);
    }
}
