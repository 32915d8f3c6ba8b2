//! No password in `pgready.toml`: the file is committed and compiled into the binary, so any
//! string anywhere in it that is a DSN with a password is refused, without repeating it.

use std::ops::Range;

use toml::de::{DeTable, DeValue};

use super::diagnostic::{Diagnostic, LineIndex};
use crate::dsn;

/// The message for a DSN with a password found in the file.
pub(crate) const SECRET_IN_FILE: &str = "contains a connection string with a password, and this \
     file is compiled into the binary: remove it and put the DSN in the environment variable \
     named by `database.url_env`";

/// Reports every string in `document` (at any depth, known key or not) that carries a password.
pub(crate) fn scan(
    document: &DeTable<'_>,
    index: &LineIndex<'_>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    scan_table(document, "", index, diagnostics);
}

fn scan_table(table: &DeTable<'_>, prefix: &str, index: &LineIndex<'_>, out: &mut Vec<Diagnostic>) {
    for (key, value) in table.iter() {
        let path = format!("{prefix}{}", key.get_ref());
        // the url_env keys get their own, more specific error ("names an environment variable")
        if is_url_env_key(&path) {
            continue;
        }
        scan_value(value.get_ref(), &path, key.span(), index, out);
    }
}

fn scan_value(
    value: &DeValue<'_>,
    path: &str,
    span: Range<usize>,
    index: &LineIndex<'_>,
    out: &mut Vec<Diagnostic>,
) {
    match value {
        DeValue::String(s) if dsn::has_password(s) => {
            let (line, column) = index.position(span.start);
            out.push(Diagnostic::error(path, line, column, SECRET_IN_FILE));
        }
        DeValue::Table(t) => scan_table(t, &format!("{path}."), index, out),
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                scan_value(
                    item.get_ref(),
                    &format!("{path}[{i}]"),
                    item.span(),
                    index,
                    out,
                );
            }
        }
        _ => {}
    }
}

/// `database.url_env`, `database.read_url_env`, or the same under a profile.
fn is_url_env_key(path: &str) -> bool {
    let tail = match path.strip_prefix("profiles.") {
        Some(rest) => rest.split_once('.').map_or("", |(_, tail)| tail),
        None => path,
    };
    tail == "database.url_env" || tail == "database.read_url_env"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_source(source: &str) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        let document = DeTable::parse(source).map_err(|e| e.to_string());
        assert!(document.is_ok(), "{document:?}");
        if let Ok(document) = document {
            scan(document.get_ref(), &LineIndex::new(source), &mut out);
        }
        out
    }

    #[test]
    fn finds_passwords_anywhere_without_repeating_them() {
        let source = "[session]\napplication_name = \"postgres://u:hunter2@h/db\"\n\
                      [custom]\nlist = [\"ok\", \"host=h password=hunter2\"]\n";
        let found = scan_source(source);
        let keys: Vec<&str> = found.iter().map(|d| d.key.as_str()).collect();
        assert_eq!(keys, ["custom.list[1]", "session.application_name"]);
        assert_eq!(found[1].line, 2);
        assert_eq!(found[0].line, 4);
        for d in &found {
            assert!(!d.to_string().contains("hunter2"), "{d}");
        }
    }

    #[test]
    fn ignores_dsn_without_password_and_url_env_keys() {
        let source = "[custom]\nx = \"postgres://u@h/db\"\n[database]\nurl_env = \"postgres://u:p@h\"\n\
                      [profiles.p.database]\nread_url_env = \"postgres://u:p@h\"\n";
        assert!(scan_source(source).is_empty());
    }
}
