//! The `[migrate]` table of sqlx 0.9's `sqlx.toml`: the settings that change which rows sqlx
//! writes (table, directory, checksums, schemas), so pgready can write the same ones.

use std::collections::BTreeSet;
use std::ops::Range;

use serde::Deserialize;
use toml::{Spanned, Value};

use super::Resolve;

/// What a project's `sqlx.toml` says about migrations.
///
/// Only `[migrate]` is read, and in it only the keys below; other tables (`[common]`,
/// `[macros]`, `[drivers]`) and keys (`[migrate.defaults]`) are sqlx's business and ignored.
///
/// ```
/// use pgready_core::migrations::SqlxToml;
///
/// let toml = SqlxToml::parse(r#"
/// [common]
/// database-url-var = "APP_DATABASE_URL"
///
/// [migrate]
/// table-name = "ops._sqlx_migrations"
/// create-schemas = ["ops"]
/// ignored-chars = ["\r"]
/// "#).unwrap();
/// assert_eq!(toml.table_name.as_deref(), Some("ops._sqlx_migrations"));
/// assert_eq!(toml.create_schemas, ["ops"]);
/// assert!(toml.resolve().ignored_chars.contains(&'\r'));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SqlxToml {
    /// `table-name`: the migrations table, possibly schema-qualified (sqlx's default is
    /// `_sqlx_migrations`).
    pub table_name: Option<String>,
    /// `migrations-dir`: relative to the crate (sqlx's default is `migrations`).
    pub migrations_dir: Option<String>,
    /// `ignored-chars`: characters left out of every checksum.
    pub ignored_chars: BTreeSet<char>,
    /// `create-schemas`: schemas sqlx creates (if absent) before the migrations table; sorted
    /// and without repeats, as sqlx keeps them.
    pub create_schemas: Vec<String>,
}

/// The shape of the document: is `migrate` a table at all?
#[derive(Deserialize)]
struct Shape {
    migrate: Option<Spanned<Value>>,
}

/// The keys of `[migrate]` pgready reads, each with where it was written; values are checked
/// by hand, so an error names its key and line.
#[derive(Default, Deserialize)]
struct Keys {
    #[serde(default)]
    migrate: MigrateKeys,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct MigrateKeys {
    table_name: Option<Spanned<Value>>,
    migrations_dir: Option<Spanned<Value>>,
    ignored_chars: Option<Spanned<Value>>,
    create_schemas: Option<Spanned<Value>>,
}

impl SqlxToml {
    /// Parses the text of a `sqlx.toml`. An error names the key and its line: invalid TOML,
    /// `migrate` that is not a table, or a value of the wrong type.
    pub fn parse(text: &str) -> Result<SqlxToml, String> {
        let syntax = |e: toml::de::Error| {
            let line = e.span().map_or(0, |span| line_of(text, span));
            let message = e.message().trim_end().trim_end_matches('.');
            format!("sqlx.toml:{line}: invalid TOML: {message}")
        };
        let shape: Shape = toml::from_str(text).map_err(syntax)?;
        if let Some(migrate) = &shape.migrate
            && !migrate.get_ref().is_table()
        {
            return Err(format!(
                "sqlx.toml:{}: `migrate` must be a table (`[migrate]`)",
                line_of(text, migrate.span())
            ));
        }
        let keys: Keys = toml::from_str(text).map_err(syntax)?;
        let m = keys.migrate;
        let one_char = |v: Value| {
            let s = string(v)?;
            let mut chars = s.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Some(c),
                _ => None,
            }
        };
        let create_schemas: Option<BTreeSet<String>> = read(
            text,
            "create-schemas",
            m.create_schemas,
            |v| array(v, string),
            "an array of schema names",
        )?;
        Ok(SqlxToml {
            table_name: read(text, "table-name", m.table_name, string, "a string")?,
            migrations_dir: read(text, "migrations-dir", m.migrations_dir, string, "a string")?,
            ignored_chars: read(
                text,
                "ignored-chars",
                m.ignored_chars,
                |v| array(v, one_char),
                "an array of one-character strings, e.g. `[\"\\r\"]`",
            )?
            .unwrap_or_default(),
            create_schemas: create_schemas.unwrap_or_default().into_iter().collect(),
        })
    }

    /// The resolve options these settings ask for.
    pub fn resolve(&self) -> Resolve {
        Resolve {
            ignored_chars: self.ignored_chars.clone(),
        }
    }
}

/// The value of `migrate.<key>` converted by `convert`, or an error naming the key, its line
/// and what was `expected`.
fn read<T>(
    text: &str,
    key: &str,
    value: Option<Spanned<Value>>,
    convert: impl Fn(Value) -> Option<T>,
    expected: &str,
) -> Result<Option<T>, String> {
    let Some(value) = value else {
        return Ok(None);
    };
    let line = line_of(text, value.span());
    match convert(value.into_inner()) {
        Some(converted) => Ok(Some(converted)),
        None => Err(format!(
            "sqlx.toml:{line}: `migrate.{key}`: expected {expected}"
        )),
    }
}

fn string(value: Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s),
        _ => None,
    }
}

fn array<T, C: FromIterator<T>>(value: Value, item: impl Fn(Value) -> Option<T>) -> Option<C> {
    match value {
        Value::Array(items) => items.into_iter().map(item).collect(),
        _ => None,
    }
}

/// The 1-based line of a byte span's start.
fn line_of(text: &str, span: Range<usize>) -> usize {
    let start = span.start.min(text.len());
    text.as_bytes()[..start]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_or_unrelated_file_is_the_defaults() {
        assert_eq!(SqlxToml::parse("").unwrap(), SqlxToml::default());
        let other = "[common]\ndatabase-url-var = \"X\"\n[macros.preferred-crates]\ndate-time = \"chrono\"\n";
        assert_eq!(SqlxToml::parse(other).unwrap(), SqlxToml::default());
        assert_eq!(SqlxToml::parse("[migrate]\n").unwrap(), SqlxToml::default());
    }

    #[test]
    fn reads_sqlx_reference_migrate_table() {
        // `[migrate]` of sqlx-core 0.9's `config/reference.toml`
        let text = r#"
[migrate]
table-name = "foo._sqlx_migrations"
migrations-dir = "foo/migrations"
# ignored-chars = ["\r"]
ignored-chars = [" ", "\t", "\r", "\n", "\uFEFF"]

[migrate.defaults]
migration-type = "reversible"
migration-versioning = "sequential"
"#;
        let toml = SqlxToml::parse(text).unwrap();
        assert_eq!(
            toml,
            SqlxToml {
                table_name: Some("foo._sqlx_migrations".into()),
                migrations_dir: Some("foo/migrations".into()),
                ignored_chars: [' ', '\t', '\r', '\n', '\u{FEFF}'].into(),
                create_schemas: Vec::new(),
            }
        );
        assert_eq!(toml.resolve().ignored_chars, toml.ignored_chars);
    }

    #[test]
    fn create_schemas_are_sorted_without_repeats_as_sqlx_keeps_them() {
        let toml =
            SqlxToml::parse("[migrate]\ncreate-schemas = [\"ops\", \"audit\", \"ops\"]\n").unwrap();
        assert_eq!(toml.create_schemas, ["audit", "ops"]);
    }

    #[test]
    fn dotted_keys_and_inline_tables_are_tables_too() {
        let toml = SqlxToml::parse("migrate.ignored-chars = [\"\\r\"]\n").unwrap();
        assert_eq!(toml.ignored_chars, BTreeSet::from(['\r']));
        let toml = SqlxToml::parse("migrate = { table-name = \"t\" }\n").unwrap();
        assert_eq!(toml.table_name.as_deref(), Some("t"));
    }

    #[test]
    fn malformed_values_name_their_key_and_line() {
        for (text, expected) in [
            (
                "[migrate]\nignored-chars = \"\\r\"\n",
                "sqlx.toml:2: `migrate.ignored-chars`: expected an array of one-character strings",
            ),
            (
                "[migrate]\n\nignored-chars = [\"\\r\\n\"]\n",
                "sqlx.toml:3: `migrate.ignored-chars`: expected an array of one-character strings",
            ),
            (
                "[migrate]\nignored-chars = [\"\"]\n",
                "sqlx.toml:2: `migrate.ignored-chars`: expected an array",
            ),
            (
                "[migrate]\ntable-name = 5\n",
                "sqlx.toml:2: `migrate.table-name`: expected a string",
            ),
            (
                "[migrate]\nmigrations-dir = [\"a\"]\n",
                "sqlx.toml:2: `migrate.migrations-dir`: expected a string",
            ),
            (
                "[migrate]\ncreate-schemas = \"ops\"\n",
                "sqlx.toml:2: `migrate.create-schemas`: expected an array of schema names",
            ),
            (
                "[migrate]\ncreate-schemas = [\"ops\", 1]\n",
                "sqlx.toml:2: `migrate.create-schemas`: expected an array of schema names",
            ),
            ("migrate = 1\n", "sqlx.toml:1: `migrate` must be a table"),
            ("[migrate\n", "sqlx.toml:1: invalid TOML: "),
        ] {
            let e = SqlxToml::parse(text).unwrap_err();
            assert!(e.starts_with(expected), "{text:?}: {e}");
        }
    }

    #[test]
    fn unknown_keys_in_migrate_are_left_to_sqlx() {
        let toml = SqlxToml::parse("[migrate]\nfuture-key = 1\ntable-name = \"t\"\n").unwrap();
        assert_eq!(toml.table_name.as_deref(), Some("t"));
    }
}
