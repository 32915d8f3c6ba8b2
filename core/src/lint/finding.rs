//! A finding, as `pgready migrate lint` prints it: a `file:line: level[rule]: message` line
//! (`--format text`), or serialized (the CLI's `--format json` is an array of
//! `{"file","line","rule","level","message"}` objects, in this order).

use std::fmt;

use serde::Serialize;

use super::LintLevel;

/// One problem in one migration file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// the migration file, as the caller named it in [`lint_file`](super::lint_file)
    pub file: String,
    /// 1-based line of the offending SQL (of the comment, for problems with an allow comment)
    pub line: usize,
    /// the rule's stable kebab-case name (see [`RULES`](super::RULES))
    pub rule: &'static str,
    /// [`LintLevel::Deny`] or [`LintLevel::Warn`]; allowed findings are never returned
    pub level: LintLevel,
    /// what is wrong and what to do instead: lowercase, no trailing period
    pub message: String,
}

impl Finding {
    /// Whether the finding must fail the build (`deny`).
    pub fn is_error(&self) -> bool {
        self.level == LintLevel::Deny
    }
}

/// `file:line: level[rule]: message`, the `--format text` line.
impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}[{}]: {}",
            self.file,
            self.line,
            self.level.as_str(),
            self.rule,
            self.message
        )
    }
}

/// The `--format text` output: one `file:line: level[rule]: message` line per finding, each
/// ending in a newline (nothing at all for no findings).
///
/// ```
/// use std::collections::BTreeMap;
/// use pgready_core::lint::{lint_file, to_text};
///
/// let findings = lint_file("1_wipe.sql", "TRUNCATE items;\n", true, &BTreeMap::new());
/// assert_eq!(
///     to_text(&findings),
///     "1_wipe.sql:1: warn[truncate]: `TRUNCATE` deletes every row of the table under an \
///      `ACCESS EXCLUSIVE` lock: delete the rows you mean with `DELETE … WHERE`, or allow \
///      `truncate` with a reason if emptying the table is the point\n"
/// );
/// ```
pub fn to_text(findings: &[Finding]) -> String {
    let mut out = String::new();
    for finding in findings {
        out.push_str(&finding.to_string());
        out.push('\n');
    }
    out
}
