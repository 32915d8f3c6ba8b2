//! How messages show what the user wrote: a value quoted with any password redacted, and a
//! list of valid choices.

/// A user's value for a message: Rust-quoted in backticks (so control characters show) and
/// with any password redacted.
pub(crate) fn quote(value: &str) -> String {
    format!("`{:?}`", crate::dsn::redact(value))
}

/// `` `a`, `b` or `c` ``, each item between `wrap.0` and `wrap.1` inside the backticks.
pub(crate) fn one_of<'a>(items: impl IntoIterator<Item = &'a str>, wrap: (&str, &str)) -> String {
    let items: Vec<String> = items
        .into_iter()
        .map(|i| format!("`{}{i}{}`", wrap.0, wrap.1))
        .collect();
    match items.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        Some((last, _)) => last.clone(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_of_joins_with_or() {
        assert_eq!(one_of(["a", "b", "c"], ("", "")), "`a`, `b` or `c`");
        assert_eq!(one_of(["a"], ("[", "]")), "`[a]`");
        assert_eq!(one_of([], ("", "")), "");
    }

    #[test]
    fn quote_redacts_and_escapes() {
        assert_eq!(quote("a\tb"), "`\"a\\tb\"`");
        assert!(!quote("postgres://u:hunter2@h/db").contains("hunter2"));
    }
}
