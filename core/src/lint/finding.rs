//! A finding and the two output formats of `pgready migrate lint`.

use std::fmt;

use crate::config::LintLevel;

/// One problem in one migration file.
#[derive(Clone, Debug, PartialEq, Eq)]
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

/// The `--format json` output: a JSON array of
/// `{"file","line","rule","level","message"}` objects, one per line, ending in a newline
/// (`[]` for no findings).
///
/// ```
/// use std::collections::BTreeMap;
/// use pgready_core::lint::{lint_file, to_json};
///
/// let findings = lint_file("1_ok.sql", "SELECT 1;\n", true, &BTreeMap::new());
/// assert_eq!(to_json(&findings), "[]\n");
/// ```
pub fn to_json(findings: &[Finding]) -> String {
    if findings.is_empty() {
        return "[]\n".to_owned();
    }
    let mut out = String::from("[\n");
    for (i, finding) in findings.iter().enumerate() {
        out.push_str("  {\"file\":");
        push_json_string(&mut out, &finding.file);
        out.push_str(",\"line\":");
        out.push_str(&finding.line.to_string());
        out.push_str(",\"rule\":");
        push_json_string(&mut out, finding.rule);
        out.push_str(",\"level\":");
        push_json_string(&mut out, finding.level.as_str());
        out.push_str(",\"message\":");
        push_json_string(&mut out, &finding.message);
        out.push('}');
        if i + 1 < findings.len() {
            out.push(',');
        }
        out.push('\n');
    }
    out.push_str("]\n");
    out
}

/// Appends `value` as a JSON string literal (RFC 8259 escaping).
fn push_json_string(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}
