//! Identifiers as PostgreSQL folds them, and the names it generates for constraints and
//! indexes (`ChooseConstraintName`, `ChooseRelationName`, `makeObjectName`).

use squawk_syntax::{SyntaxKind, SyntaxNode};

/// The longest identifier PostgreSQL keeps (`NAMEDATALEN - 1`).
const MAX_NAME: usize = 63;

/// One identifier token as PostgreSQL reads it: `"Q"` keeps its case, `Q` folds to `q`.
pub(crate) fn ident(text: &str) -> String {
    match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\"\"", "\""),
        None => text.to_lowercase(),
    }
}

/// The dotted parts of a name node (`s.t` → `["s", "t"]`).
pub(crate) fn parts(node: &SyntaxNode) -> Vec<String> {
    node.descendants_with_tokens()
        .filter_map(|e| e.into_token())
        .filter(|t| !t.kind().is_trivia() && t.kind() != SyntaxKind::DOT)
        .map(|t| ident(t.text()))
        .collect()
}

/// A string literal's value (`'it''s'` → `it's`, `E'…'` kept as written inside the quotes).
pub(crate) fn string_value(text: &str) -> String {
    let text = text
        .strip_prefix(['E', 'e'])
        .filter(|t| t.starts_with('\''))
        .unwrap_or(text);
    match text.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')) {
        Some(inner) => inner.replace("''", "'"),
        None => text.to_owned(),
    }
}

/// Cuts `text` to at most `max` bytes on a character boundary.
fn clip(text: &str, max: usize) -> &str {
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `makeObjectName(name1, name2, label)`: `name1_name2_label`, the longer of the two names
/// shortened first so the whole fits in 63 bytes.
pub(crate) fn object_name(name1: &str, name2: Option<&str>, label: &str) -> String {
    let overhead = label.len() + 1 + name2.map_or(0, |_| 1);
    let avail = MAX_NAME.saturating_sub(overhead);
    let mut n1 = name1.len();
    let mut n2 = name2.map_or(0, str::len);
    while n1 + n2 > avail {
        if n1 > n2 {
            n1 -= 1;
        } else {
            n2 -= 1;
        }
    }
    let mut name = clip(name1, n1).to_owned();
    if let Some(name2) = name2 {
        name.push('_');
        name.push_str(clip(name2, n2));
    }
    name.push('_');
    name.push_str(label);
    name
}

/// `ChooseConstraintName` / `ChooseRelationName`: the first of `name1_name2_label`,
/// `name1_name2_label1`, `…2`, … that `taken` does not hold.
pub(crate) fn choose(
    name1: &str,
    name2: Option<&str>,
    label: &str,
    taken: impl Fn(&str) -> bool,
) -> String {
    let mut candidate = object_name(name1, name2, label);
    let mut pass = 0;
    while taken(&candidate) {
        pass += 1;
        candidate = object_name(name1, name2, &format!("{label}{pass}"));
    }
    candidate
}
