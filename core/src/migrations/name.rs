//! Migration file names: `<version>_<description>.sql`, `.up.sql`, `.down.sql`.

/// Which part a file plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// `<version>_<description>.sql`: applied, never reverted.
    Simple,
    /// `<version>_<description>.up.sql`: the forward half of a reversible migration.
    Up,
    /// `<version>_<description>.down.sql`: the reverting half.
    Down,
}

/// A parsed migration file name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileName {
    /// The integer before the first `_`.
    pub version: i64,
    /// The text between the first `_` and the extension, as written.
    pub description: String,
    /// Simple, up or down.
    pub kind: Kind,
}

/// Parses a file name from a migrations directory.
///
/// `None`: the file does not look like a migration at all (`README.md`, `.gitkeep`) and is left
/// alone. `Some(Err)`: it looks like one (ends in `.sql`, or starts with a digit) but is misnamed;
/// that is an error, never a silently skipped file.
pub fn parse_file_name(file_name: &str) -> Option<Result<FileName, String>> {
    let looks_like_migration =
        file_name.ends_with(".sql") || file_name.chars().next().is_some_and(|c| c.is_ascii_digit());
    if !looks_like_migration || file_name.starts_with('.') {
        return None;
    }
    Some(parse(file_name))
}

fn parse(file_name: &str) -> Result<FileName, String> {
    const EXPECTED: &str = "expected `<version>_<description>.sql`, `.up.sql` or `.down.sql`";
    let (stem, kind) = if let Some(stem) = file_name.strip_suffix(".up.sql") {
        (stem, Kind::Up)
    } else if let Some(stem) = file_name.strip_suffix(".down.sql") {
        (stem, Kind::Down)
    } else if let Some(stem) = file_name.strip_suffix(".sql") {
        (stem, Kind::Simple)
    } else {
        return Err(format!("misnamed migration file: {EXPECTED}"));
    };
    let Some((version, description)) = stem.split_once('_') else {
        return Err(format!(
            "misnamed migration file: no `_` between version and description, {EXPECTED}"
        ));
    };
    if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "misnamed migration file: version `{version}` is not an integer, {EXPECTED}"
        ));
    }
    let version: i64 = version.parse().map_err(|_| {
        format!("misnamed migration file: version `{version}` does not fit in a BIGINT")
    })?;
    if version <= 0 {
        return Err("misnamed migration file: the version must be greater than 0".to_owned());
    }
    if description.is_empty() {
        return Err(format!(
            "misnamed migration file: empty description, {EXPECTED}"
        ));
    }
    if description.contains('.') || description.contains(char::is_whitespace) {
        return Err(format!(
            "misnamed migration file: description `{description}` may not contain `.` or spaces, \
             use `_` between words"
        ));
    }
    Ok(FileName {
        version,
        description: description.to_owned(),
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(name: &str) -> FileName {
        parse_file_name(name)
            .expect("looks like a migration")
            .expect("valid")
    }

    fn err(name: &str) -> String {
        parse_file_name(name)
            .expect("looks like a migration")
            .expect_err("invalid")
    }

    #[test]
    fn accepts_simple_and_reversible_names() {
        assert_eq!(
            ok("20240101120000_create_items.sql"),
            FileName {
                version: 20240101120000,
                description: "create_items".into(),
                kind: Kind::Simple
            }
        );
        assert_eq!(ok("2_add_index.up.sql").kind, Kind::Up);
        assert_eq!(ok("2_add_index.down.sql").kind, Kind::Down);
    }

    #[test]
    fn ignores_files_that_are_not_migrations() {
        assert!(parse_file_name("README.md").is_none());
        assert!(parse_file_name(".gitkeep").is_none());
        assert!(parse_file_name("notes.txt").is_none());
    }

    #[test]
    fn rejects_misnamed_migrations() {
        assert!(err("create_items.sql").contains("version `create` is not an integer"));
        assert!(err("1create.sql").contains("no `_`"));
        assert!(err("1_.sql").contains("empty description"));
        assert!(err("0_zero.sql").contains("greater than 0"));
        assert!(err("1_create_items.SQL").contains("misnamed"));
        assert!(err("1_create items.sql").contains("spaces"));
        assert!(err("1_create.items.sql").contains("may not contain `.`"));
        assert!(err("99999999999999999999_big.sql").contains("BIGINT"));
    }
}
