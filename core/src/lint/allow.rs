//! `-- pgready:allow(rule-name) reason` comments and the other `-- pgready:` directives.
//!
//! Comments come from squawk's lexer, so a `-- pgready:allow(…)` inside a string or a
//! dollar-quoted body is text, not a directive.

use squawk_syntax::{SyntaxKind, SyntaxToken};

use super::Raw;
use super::rules::{self, ALLOW_WITHOUT_REASON, INVALID_DIRECTIVE, RULES, UNKNOWN_RULE};
use crate::migrations::NO_TRANSACTION_MARKER;
use crate::sql::Source;
use crate::suggest::closest;

const PREFIX: &str = "pgready:";
const ALLOW: &str = "allow";
/// The directive of [`NO_TRANSACTION_MARKER`], which migration discovery reads; here only to
/// tell a misplaced marker apart from an unknown directive.
const NO_TRANSACTION: &str = "no-transaction";

/// One rule allowed by one comment.
#[derive(Debug)]
pub(super) struct Allow {
    /// the rule's name (always a known rule)
    pub rule: &'static str,
    /// 1-based line of the comment
    pub line: usize,
}

/// Reads every `-- pgready:` comment of the file: the rules it allows, and the findings about
/// the comments themselves (no reason, unknown rule, malformed or misplaced directive).
pub(super) fn scan(source: &Source, text: &str) -> (Vec<Allow>, Vec<Raw>) {
    let mut allows = Vec::new();
    let mut findings = Vec::new();
    for token in source
        .parse
        .syntax_node()
        .descendants_with_tokens()
        .filter_map(|element| element.into_token())
        .filter(|token| token.kind() == SyntaxKind::COMMENT)
    {
        let Some(body) = token.text().strip_prefix("--") else {
            continue;
        };
        let Some(directive) = body.trim_start().strip_prefix(PREFIX) else {
            continue;
        };
        let offset = usize::from(token.text_range().start());
        let line = source.line(offset);
        if let Some(rest) = directive.strip_prefix(ALLOW) {
            read_allow(rest, offset, line, &mut allows, &mut findings);
        } else if directive.trim_end() == NO_TRANSACTION {
            if !is_first_line_marker(&token, text) {
                findings.push(Raw::new(
                    offset,
                    &INVALID_DIRECTIVE,
                    "`-- pgready:no-transaction` only counts as the whole first line of the file, \
                     written exactly so: move it to line 1, or remove it to run the file in a \
                     transaction"
                        .to_owned(),
                ));
            }
        } else {
            let word = directive
                .split(|c: char| c.is_whitespace() || c == '(')
                .next();
            findings.push(Raw::new(
                offset,
                &INVALID_DIRECTIVE,
                format!(
                    "`pgready:{}` is not a pgready directive: write \
                     `-- pgready:allow(rule-name) reason` or `-- pgready:no-transaction`",
                    word.unwrap_or_default()
                ),
            ));
        }
    }
    (allows, findings)
}

/// Reads what follows `pgready:allow`: `(rule-a, rule-b) reason`.
fn read_allow(rest: &str, offset: usize, line: usize, allows: &mut Vec<Allow>, out: &mut Vec<Raw>) {
    let parsed = rest
        .strip_prefix('(')
        .and_then(|inner| inner.split_once(')'))
        .filter(|(names, _)| names.split(',').all(|name| !name.trim().is_empty()));
    let Some((names, reason)) = parsed else {
        out.push(Raw::new(
            offset,
            &INVALID_DIRECTIVE,
            "malformed allow comment: write `-- pgready:allow(rule-name) reason`, naming the \
             rule in parentheses right after `allow`"
                .to_owned(),
        ));
        return;
    };
    let mut known = Vec::new();
    for name in names.split(',').map(str::trim) {
        match rules::rule(name) {
            Some(rule) => {
                known.push(rule.name);
                allows.push(Allow {
                    rule: rule.name,
                    line,
                });
            }
            None => {
                let hint = match closest(name, RULES.iter().map(|r| r.name)) {
                    Some(close) => format!("did you mean `{close}`?"),
                    None => "use a rule name from the table in the lint documentation".to_owned(),
                };
                out.push(Raw::new(
                    offset,
                    &UNKNOWN_RULE,
                    format!("`-- pgready:allow({name})` names no pgready lint rule: {hint}"),
                ));
            }
        }
    }
    if reason.trim().is_empty() && !known.is_empty() {
        out.push(Raw::new(
            offset,
            &ALLOW_WITHOUT_REASON,
            format!(
                "`-- pgready:allow({})` gives no reason: say after it why this is safe, e.g. \
                 `-- pgready:allow({}) the table is empty`",
                known.join(", "),
                known[0]
            ),
        ));
    }
}

/// Whether this `-- pgready:no-transaction` comment is the file's whole first line, the only
/// form the migration discovery reads.
fn is_first_line_marker(token: &SyntaxToken, text: &str) -> bool {
    let first_line = text.lines().next().unwrap_or_default();
    usize::from(token.text_range().start()) < first_line.len()
        && first_line.trim() == NO_TRANSACTION_MARKER
}
