//! Migration file names, read exactly as sqlx 0.9's resolver reads them.
//!
//! sqlx splits a name on its first `_`. A name without `_`, or whose rest does not end in
//! `.sql`, is not a migration and is skipped. Otherwise the part before the `_` must parse as an
//! `i64` (Rust's `str::parse`, so `0`, `+5`, `-3` and `007` are versions) or the whole directory
//! is refused. The suffix gives the kind (`.up.sql`, `.down.sql`, else simple) and the rest,
//! with every trailing copy of the suffix removed, is the description.
//!
//! pgready's stricter naming style (a positive version, a description of words joined by `_`,
//! reversible files in pairs) is not enforced here: it is the `migration-file-name` lint, so a
//! history sqlx accepted is read as sqlx reads it.

use std::num::IntErrorKind;

/// Which part a file plays; ordered as sqlx orders migrations of one version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// `<version>_<description>.sql`: applied, never reverted.
    Simple,
    /// `<version>_<description>.up.sql`: the forward half of a reversible migration.
    Up,
    /// `<version>_<description>.down.sql`: the reverting half; never applied.
    Down,
}

impl Kind {
    /// The file name suffix sqlx reads the kind from (and trims off the description).
    pub fn suffix(self) -> &'static str {
        match self {
            Kind::Simple => ".sql",
            Kind::Up => ".up.sql",
            Kind::Down => ".down.sql",
        }
    }

    /// Whether the migrator applies files of this kind (simple and up, as sqlx does).
    pub fn is_applied(self) -> bool {
        self != Kind::Down
    }

    fn of(rest: &str) -> Kind {
        if rest.ends_with(Kind::Up.suffix()) {
            Kind::Up
        } else if rest.ends_with(Kind::Down.suffix()) {
            Kind::Down
        } else {
            Kind::Simple
        }
    }
}

/// A parsed migration file name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileName {
    /// The integer before the first `_`.
    pub version: i64,
    /// The text after the first `_` without the suffix, as written (`_` not yet replaced).
    pub description: String,
    /// Simple, up or down.
    pub kind: Kind,
}

impl FileName {
    /// The description sqlx records in `_sqlx_migrations`: [`FileName::description`] with every
    /// `_` replaced by a space.
    pub fn recorded_description(&self) -> String {
        self.description.replace('_', " ")
    }
}

/// Why sqlx skips a directory entry (see [`parse_file_name`] and
/// [`read_directory`](super::read_directory)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SkipReason {
    /// A directory or another entry that is not a regular file (after following symlinks).
    NotAFile,
    /// No `_` in the name (`20240101.sql`, `schema.sql`).
    NoUnderscore,
    /// The name after the first `_` does not end in `.sql`, lowercase (`1_init.SQL`,
    /// `1_init.sql.bak`).
    NotSql,
}

/// Parses a file name as sqlx does.
///
/// `None`: sqlx skips the file (no `_`, or not ending in `.sql` after the first `_`).
/// `Some(Err)`: sqlx refuses the directory because the version does not parse as an `i64`.
///
/// ```
/// use pgready_core::migrations::{Kind, parse_file_name};
///
/// let name = parse_file_name("20240309082057_order_totals.sql.up.sql").unwrap().unwrap();
/// assert_eq!(name.version, 20240309082057);
/// assert_eq!(name.kind, Kind::Up);
/// assert_eq!(name.recorded_description(), "order totals.sql");
/// assert!(parse_file_name("README.md").is_none());
/// assert!(parse_file_name("create_items.sql").unwrap().is_err());
/// ```
pub fn parse_file_name(file_name: &str) -> Option<Result<FileName, String>> {
    let (version, rest) = split(file_name).ok()?;
    Some(parse_version(version).map(|version| {
        let kind = Kind::of(rest);
        FileName {
            version,
            description: rest.trim_end_matches(kind.suffix()).to_owned(),
            kind,
        }
    }))
}

/// Why sqlx skips `file_name` by its name alone, or `None` when it reads it.
pub fn skip_reason(file_name: &str) -> Option<SkipReason> {
    split(file_name).err()
}

/// Whether a name sqlx skips still looks like a migration someone meant to run: it starts with
/// a digit or ends in `.sql` (any case). Those are worth a finding; `README.md` is not.
pub fn looks_like_migration(file_name: &str) -> bool {
    let ends_in_sql = file_name
        .len()
        .checked_sub(4)
        .and_then(|start| file_name.get(start..))
        .is_some_and(|end| end.eq_ignore_ascii_case(".sql"));
    ends_in_sql || file_name.starts_with(|c: char| c.is_ascii_digit())
}

/// `(version text, rest)` of a name sqlx reads.
fn split(file_name: &str) -> Result<(&str, &str), SkipReason> {
    let (version, rest) = file_name.split_once('_').ok_or(SkipReason::NoUnderscore)?;
    if rest.ends_with(".sql") {
        Ok((version, rest))
    } else {
        Err(SkipReason::NotSql)
    }
}

fn parse_version(version: &str) -> Result<i64, String> {
    version.parse::<i64>().map_err(|e| {
        let why = match e.kind() {
            IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => {
                "does not fit in a BIGINT (`i64`)"
            }
            IntErrorKind::Empty => "is empty",
            _ => "is not an integer",
        };
        format!(
            "misnamed migration file: the version `{version}` (the text before the first `_`) \
             {why}, and sqlx refuses a directory with such a file: rename it to \
             `<version>_<description>.sql`, or move it out of the migrations directory"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(name: &str) -> (i64, String, Kind) {
        let name = parse_file_name(name)
            .expect("read as a migration")
            .expect("a valid version");
        (name.version, name.recorded_description(), name.kind)
    }

    fn err(name: &str) -> String {
        parse_file_name(name)
            .expect("read as a migration")
            .expect_err("an invalid version")
    }

    #[test]
    fn reads_simple_and_reversible_names() {
        assert_eq!(
            ok("20240101120000_create_items.sql"),
            (20240101120000, "create items".into(), Kind::Simple)
        );
        assert_eq!(ok("2_add_index.up.sql").2, Kind::Up);
        assert_eq!(ok("2_add_index.down.sql").2, Kind::Down);
    }

    #[test]
    fn versions_are_whatever_i64_parses() {
        assert_eq!(ok("0_init.sql").0, 0);
        assert_eq!(ok("+5_plus.sql").0, 5);
        assert_eq!(ok("-3_minus.sql").0, -3);
        assert_eq!(ok("007_bond.sql").0, 7);
        assert_eq!(ok("100000000000001_fifteen.sql").0, 100_000_000_000_001);
        assert_eq!(
            ok("202418010930000001_month_18.sql").0,
            202_418_010_930_000_001
        );
        assert_eq!(ok("9223372036854775807_max.sql").0, i64::MAX);
    }

    #[test]
    fn descriptions_are_what_sqlx_records() {
        // the suffix is trimmed as often as it repeats, and `.` and spaces stay
        assert_eq!(
            ok("20240309082057_order_totals.sql.up.sql"),
            (20240309082057, "order totals.sql".into(), Kind::Up)
        );
        assert_eq!(ok("1_a.sql.sql").1, "a");
        assert_eq!(ok("1_a.up.sql.up.sql"), (1, "a".into(), Kind::Up));
        assert_eq!(
            ok("1_a.down.sql.up.sql"),
            (1, "a.down.sql".into(), Kind::Up)
        );
        assert_eq!(ok("1_add customer notes.sql").1, "add customer notes");
        assert_eq!(ok("1_.sql"), (1, String::new(), Kind::Simple));
        assert_eq!(ok("1_.up.sql"), (1, String::new(), Kind::Up));
        assert_eq!(ok("1__double.sql").1, " double");
        // only the first `_` separates: the version of `1_2_x.sql` is 1
        assert_eq!(ok("1_2_x.sql"), (1, "2 x".into(), Kind::Simple));
    }

    #[test]
    fn names_sqlx_skips() {
        for (name, reason) in [
            ("README.md", SkipReason::NoUnderscore),
            (".gitkeep", SkipReason::NoUnderscore),
            ("1.sql", SkipReason::NoUnderscore),
            ("20240101.sql", SkipReason::NoUnderscore),
            ("1-create.sql", SkipReason::NoUnderscore),
            ("notes_2024.txt", SkipReason::NotSql),
            ("1_x.SQL", SkipReason::NotSql),
            ("1_x.sql.bak", SkipReason::NotSql),
            ("1_x.sql ", SkipReason::NotSql),
        ] {
            assert!(parse_file_name(name).is_none(), "{name}");
            assert_eq!(skip_reason(name), Some(reason), "{name}");
        }
        assert_eq!(skip_reason("1_x.sql"), None);
        assert_eq!(skip_reason("create_items.sql"), None, "read, then refused");
    }

    #[test]
    fn versions_that_do_not_parse_refuse_the_directory() {
        assert!(
            err("create_items.sql")
                .contains("`create` (the text before the first `_`) is not an integer")
        );
        assert!(err("_x.sql").contains("is empty"));
        assert!(err("1.5_x.sql").contains("is not an integer"));
        assert!(err(" 1_x.sql").contains("is not an integer"));
        assert!(err(".1_x.sql").contains("is not an integer"));
        assert!(err("9223372036854775808_big.sql").contains("does not fit in a BIGINT"));
        assert!(err("-9223372036854775809_small.sql").contains("does not fit in a BIGINT"));
        assert!(err("x_y.down.sql").starts_with("misnamed migration file"));
    }

    #[test]
    fn skipped_names_that_look_like_migrations() {
        for name in [
            "20240101.sql",
            "1_x.SQL",
            "schema.Sql",
            "2024-notes.txt",
            "1_x.sql.bak",
        ] {
            assert!(looks_like_migration(name), "{name}");
        }
        for name in ["README.md", ".gitkeep", "notes.txt", "sqlx.toml", "é"] {
            assert!(!looks_like_migration(name), "{name}");
        }
    }
}
