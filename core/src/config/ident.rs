//! Names that end up in SQL or in the environment: they are checked here, at compile time,
//! rather than quoted and hoped for at run time.

use crate::message::quote;

/// PostgreSQL truncates identifiers and `application_name` to 63 bytes (`NAMEDATALEN - 1`).
pub(crate) const PG_NAME_MAX: usize = 63;

/// A plain (unquoted, already lowercase) PostgreSQL identifier: a lowercase letter or `_`, then
/// lowercase letters, digits, `_` or `$`, at most 63 bytes.
pub(crate) fn is_plain_identifier(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= PG_NAME_MAX
        && (bytes[0].is_ascii_lowercase() || bytes[0] == b'_')
        && bytes
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'$')
}

const IDENTIFIER_RULE: &str = "a plain PostgreSQL identifier: a lowercase letter or `_`, then \
                               lowercase letters, digits, `_` or `$`, at most 63 bytes";

/// `session.schema`
pub(crate) fn check_schema(name: &str) -> Result<(), String> {
    if is_plain_identifier(name) {
        Ok(())
    } else {
        Err(format!("{} is not {IDENTIFIER_RULE}", quote(name)))
    }
}

/// `migrations.table`: `table` or `schema.table`, each part a plain identifier.
pub(crate) fn check_table(name: &str) -> Result<(), String> {
    let parts: Vec<&str> = name.split('.').collect();
    if parts.len() <= 2 && parts.iter().all(|p| is_plain_identifier(p)) {
        Ok(())
    } else {
        Err(format!(
            "{} is not a table name: write `table` or `schema.table`, each part {IDENTIFIER_RULE}",
            quote(name)
        ))
    }
}

/// `database.url_env` / `read_url_env`: a portable environment variable name.
pub(crate) fn check_env_var(name: &str) -> Result<(), String> {
    let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{} is not an environment variable name: use letters, digits and `_`, not starting \
             with a digit, such as `\"DATABASE_URL\"`",
            quote(name)
        ))
    }
}

/// `session.application_name`: printable ASCII, at most 63 bytes (PostgreSQL silently replaces
/// other characters with `?` and truncates longer names).
pub(crate) fn check_application_name(name: &str) -> Result<(), String> {
    if let Some(c) = name.chars().find(|c| !(' '..='~').contains(c)) {
        return Err(format!(
            "{} contains {}: `application_name` must be printable ASCII",
            quote(name),
            describe_char(c)
        ));
    }
    if name.len() > PG_NAME_MAX {
        return Err(format!(
            "{} is {} bytes long, more than the {PG_NAME_MAX} PostgreSQL keeps",
            quote(name),
            name.len()
        ));
    }
    Ok(())
}

/// `session.time_zone`: any name PostgreSQL might know (`UTC`, `Europe/Paris`, `+02:00`), but
/// nothing that could break out of the `SET TIME ZONE '…'` literal.
pub(crate) fn check_time_zone(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("must not be empty: use a time zone name such as `\"UTC\"`".to_owned());
    }
    if let Some(c) = name
        .chars()
        .find(|&c| c.is_control() || c == '\'' || c == '"' || c == '\\')
    {
        return Err(format!(
            "{} contains {}: use a time zone name such as `\"UTC\"` or `\"Europe/Paris\"`",
            quote(name),
            describe_char(c)
        ));
    }
    Ok(())
}

/// Profile names are chosen with `PGREADY_PROFILE`: letters, digits, `_` and `-`, starting with a
/// letter or `_`.
pub(crate) fn check_profile_name(name: &str) -> Result<(), String> {
    let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.len() <= PG_NAME_MAX
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{} is not a profile name: use letters, digits, `_` and `-`, starting with a letter \
             or `_`, such as `production`",
            quote(name)
        ))
    }
}

fn describe_char(c: char) -> String {
    match c {
        '\'' => "a single quote".to_owned(),
        '"' => "a double quote".to_owned(),
        '\\' => "a backslash".to_owned(),
        c if c.is_control() => format!("the control character `{}`", c.escape_default()),
        c => format!("the non-ASCII character `{c}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_identifiers() {
        for ok in ["public", "_app", "app_2", "a$b", &"a".repeat(63)] {
            assert!(is_plain_identifier(ok), "{ok}");
        }
        for bad in [
            "",
            "Public",
            "2app",
            "my-app",
            "a b",
            "\"x\"",
            "é",
            &"a".repeat(64),
        ] {
            assert!(!is_plain_identifier(bad), "{bad}");
        }
    }

    #[test]
    fn tables_may_be_schema_qualified() {
        assert!(check_table("_sqlx_migrations").is_ok());
        assert!(check_table("ops.migrations").is_ok());
        assert!(check_table("a.b.c").is_err());
        assert!(check_table("ops.").is_err());
        assert!(check_table("Ops.migrations").is_err());
    }

    #[test]
    fn env_var_names() {
        assert!(check_env_var("DATABASE_URL").is_ok());
        assert!(check_env_var("_x1").is_ok());
        assert!(check_env_var("1X").is_err());
        assert!(check_env_var("MY-URL").is_err());
        assert!(check_env_var("").is_err());
    }

    #[test]
    fn application_names() {
        assert!(check_application_name("my-service v1.2 (eu)").is_ok());
        assert!(check_application_name("").is_ok());
        assert!(
            check_application_name(&"a".repeat(64))
                .unwrap_err()
                .contains("64 bytes")
        );
        assert!(
            check_application_name("café")
                .unwrap_err()
                .contains("non-ASCII")
        );
        assert!(
            check_application_name("a\tb")
                .unwrap_err()
                .contains("control")
        );
    }

    #[test]
    fn time_zones() {
        for ok in [
            "UTC",
            "Europe/Paris",
            "America/Argentina/Buenos_Aires",
            "+02:00",
            "EST5EDT",
        ] {
            assert!(check_time_zone(ok).is_ok(), "{ok}");
        }
        assert!(check_time_zone("").is_err());
        assert!(
            check_time_zone("UTC'; DROP TABLE x; --")
                .unwrap_err()
                .contains("single quote")
        );
        assert!(check_time_zone("a\nb").is_err());
    }

    #[test]
    fn profile_names() {
        assert!(check_profile_name("production").is_ok());
        assert!(check_profile_name("staging-eu_2").is_ok());
        assert!(check_profile_name("2nd").is_err());
        assert!(check_profile_name("a.b").is_err());
        assert!(check_profile_name("").is_err());
    }
}
