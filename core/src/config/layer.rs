//! One layer of settings as written in the file: the base sections, or one profile's overrides.
//!
//! Reading a layer checks what a single value can tell: that the section and key exist, that the
//! value has the right type, that a duration or an enum word parses. Rules that need the merged
//! configuration (and defaults) run later, in each section's `validate`.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::diagnostic::{Diagnostic, LineIndex};
use super::schema::{self, Kind, Section};
use crate::duration;
use crate::lint::{self, LintLevel};
use crate::message::quote;
use crate::suggest::closest;
use crate::word::UnknownWord;

/// Where a setting was written.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Origin {
    /// full dotted path, e.g. `profiles.production.pool.max_connections`
    pub(crate) key: String,
    pub(crate) line: usize,
    pub(crate) column: usize,
    /// the profile whose table holds the key, `None` for the base sections
    pub(crate) profile: Option<String>,
}

/// A value that passed its type check.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Raw {
    Str(String),
    /// `false` for an optional string
    Off,
    Bool(bool),
    Count(u32),
    Duration(Duration),
    Ratio(f64),
    Word(&'static str),
    Version(i64),
    Chars(BTreeSet<char>),
    Strings(Vec<String>),
}

/// A value and where it was written.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Setting {
    pub(crate) value: Raw,
    pub(crate) origin: Origin,
}

/// The settings of one layer, keyed by section and key name.
#[derive(Clone, Debug, Default)]
pub(crate) struct Layer {
    pub(crate) settings: BTreeMap<(Section, &'static str), Setting>,
    /// `[migrations.lints]`: rule name → level
    pub(crate) lints: BTreeMap<String, (LintLevel, Origin)>,
    /// keys written with a value that did not pass its type check: rules that involve them are
    /// skipped, so one mistake gives one diagnostic
    pub(crate) invalid: BTreeSet<(Section, &'static str)>,
}

/// Reads layers from the parsed document, collecting diagnostics.
pub(crate) struct Reader<'a> {
    pub(crate) index: &'a LineIndex<'a>,
    pub(crate) diagnostics: &'a mut Vec<Diagnostic>,
}

impl Reader<'_> {
    pub(crate) fn origin(&self, key: String, span: Range<usize>, profile: Option<&str>) -> Origin {
        let (line, column) = self.index.position(span.start);
        Origin {
            key,
            line,
            column,
            profile: profile.map(str::to_owned),
        }
    }

    fn error(&mut self, origin: &Origin, message: String) {
        self.diagnostics.push(Diagnostic::error(
            &origin.key,
            origin.line,
            origin.column,
            message,
        ));
    }

    /// Reads the sections of `table`: the whole document (`profile == None`, whose `profiles`
    /// entry is left to [`super::profile::read`]) or one `[profiles.<name>]` table.
    pub(crate) fn read(&mut self, table: &DeTable<'_>, profile: Option<&str>) -> Layer {
        let prefix = profile.map_or_else(String::new, |p| format!("profiles.{p}."));
        let mut layer = Layer::default();
        for (name, value) in table.iter() {
            let name_str: &str = name.get_ref();
            if profile.is_none() && name_str == "profiles" {
                continue;
            }
            let origin = self.origin(format!("{prefix}{name_str}"), name.span(), profile);
            let Some(section) = Section::from_name(name_str) else {
                self.error(
                    &origin,
                    schema::unknown_section(name_str, profile, value.get_ref().is_table()),
                );
                continue;
            };
            let DeValue::Table(entries) = value.get_ref() else {
                self.error(
                    &origin,
                    format!(
                        "expected a table `[{prefix}{name_str}]`, found {}",
                        value.get_ref().type_str()
                    ),
                );
                continue;
            };
            self.read_section(&mut layer, section, entries, &prefix, profile);
        }
        layer
    }

    fn read_section(
        &mut self,
        layer: &mut Layer,
        section: Section,
        entries: &DeTable<'_>,
        prefix: &str,
        profile: Option<&str>,
    ) {
        for (name, value) in entries.iter() {
            let name_str: &str = name.get_ref();
            let path = format!("{prefix}{}.{name_str}", section.name());
            let origin = self.origin(path, name.span(), profile);
            let Some(key) = section.key(name_str) else {
                self.error(&origin, schema::unknown_key(section, name_str));
                continue;
            };
            if key.build_time
                && let Some(profile) = profile
            {
                let here = section.name();
                self.error(
                    &origin,
                    format!(
                        "`{here}.{name_str}` cannot differ between profiles: it decides at \
                         compile time which migrations are embedded and how they are checked, \
                         for every profile at once; set it in `[{here}]` and remove it from \
                         `[profiles.{profile}.{here}]`"
                    ),
                );
                continue;
            }
            if key.kind == Kind::Lints {
                self.read_lints(layer, value, &origin, profile);
                continue;
            }
            match self.read_value(key.name, key.kind, value.get_ref()) {
                Ok(raw) => {
                    layer
                        .settings
                        .insert((section, key.name), Setting { value: raw, origin });
                }
                Err(message) => {
                    self.error(&origin, message);
                    layer.invalid.insert((section, key.name));
                }
            }
        }
    }

    fn read_value(&self, name: &str, kind: Kind, value: &DeValue<'_>) -> Result<Raw, String> {
        let mismatch = || {
            format!(
                "expected {}, found {}",
                schema::expected(kind),
                value.type_str()
            )
        };
        match (kind, value) {
            (Kind::Str, DeValue::String(s)) => Ok(Raw::Str(s.to_string())),
            (Kind::OptStr, DeValue::String(s)) if s.is_empty() => {
                Err("must not be empty: write `false` to turn it off".to_owned())
            }
            (Kind::OptStr, DeValue::String(s)) => Ok(Raw::Str(s.to_string())),
            (Kind::OptStr, DeValue::Boolean(false)) => Ok(Raw::Off),
            (Kind::Bool, DeValue::Boolean(b)) => Ok(Raw::Bool(*b)),
            (Kind::Count, DeValue::Integer(i)) => {
                let text = i.as_str();
                match i64::from_str_radix(text, i.radix()) {
                    Ok(n) if n < 0 => Err(format!("must not be negative, found `{n}`")),
                    Ok(n) => u32::try_from(n)
                        .map(Raw::Count)
                        .map_err(|_| format!("`{n}` is too large, at most `{}`", u32::MAX)),
                    Err(_) if text.starts_with('-') => {
                        Err(format!("must not be negative, found `{text}`"))
                    }
                    Err(_) => Err(format!("`{text}` is too large, at most `{}`", u32::MAX)),
                }
            }
            (Kind::Duration, DeValue::String(s)) => duration::parse(s).map(Raw::Duration),
            (Kind::Ratio, DeValue::Float(f)) => match f.as_str().parse::<f64>() {
                Ok(v) => Ok(Raw::Ratio(v)),
                Err(_) => Err(mismatch()),
            },
            // `pool_saturation_warn = 1` is an integer in TOML; any integer is exact in f64
            // over the range that passes validation
            (Kind::Ratio, DeValue::Integer(i)) => {
                match i64::from_str_radix(i.as_str(), i.radix()) {
                    Ok(v) => Ok(Raw::Ratio(v as f64)),
                    Err(_) => Err(mismatch()),
                }
            }
            (Kind::Version, DeValue::Integer(i)) => i64::from_str_radix(i.as_str(), i.radix())
                .map(Raw::Version)
                .map_err(|_| format!("`{}` does not fit a migration version (i64)", i.as_str())),
            (Kind::Chars, DeValue::Array(items)) => {
                let mut chars = BTreeSet::new();
                for item in items.iter() {
                    let DeValue::String(text) = item.get_ref() else {
                        return Err(format!(
                            "expected {}, found an array holding {}",
                            schema::expected(kind),
                            item.get_ref().type_str()
                        ));
                    };
                    let mut it = text.chars();
                    match (it.next(), it.next()) {
                        (Some(c), None) => {
                            chars.insert(c);
                        }
                        _ => {
                            return Err(format!(
                                "each entry is one character, found {}",
                                quote(text)
                            ));
                        }
                    }
                }
                Ok(Raw::Chars(chars))
            }
            (Kind::Strings, DeValue::Array(items)) => items
                .iter()
                .map(|item| match item.get_ref() {
                    DeValue::String(text) => Ok(text.to_string()),
                    other => Err(format!(
                        "expected {}, found an array holding {}",
                        schema::expected(kind),
                        other.type_str()
                    )),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Raw::Strings),
            (Kind::Word(words), DeValue::String(s)) => {
                match words.iter().find(|w| **w == s.as_ref()) {
                    Some(&word) => Ok(Raw::Word(word)),
                    None => Err(UnknownWord::new(s, words).message_for(name)),
                }
            }
            _ => Err(mismatch()),
        }
    }

    fn read_lints(
        &mut self,
        layer: &mut Layer,
        value: &Spanned<DeValue<'_>>,
        origin: &Origin,
        profile: Option<&str>,
    ) {
        let DeValue::Table(rules) = value.get_ref() else {
            self.error(
                origin,
                format!(
                    "expected {}, found {}",
                    schema::expected(Kind::Lints),
                    value.get_ref().type_str()
                ),
            );
            return;
        };
        for (rule, level) in rules.iter() {
            let rule_str: &str = rule.get_ref();
            let rule_origin =
                self.origin(format!("{}.{rule_str}", origin.key), rule.span(), profile);
            if !is_kebab_case(rule_str) {
                self.error(
                    &rule_origin,
                    format!(
                        "lint rule names are kebab-case (lowercase words joined by `-`, such as \
                         `require-concurrent-index-creation`), found {}",
                        quote(rule_str)
                    ),
                );
                continue;
            }
            if lint::rule(rule_str).is_none() {
                let names = lint::RULES.iter().map(|r| r.name);
                let hint = match closest(rule_str, names) {
                    Some(name) => format!(": did you mean `{name}`?"),
                    None => ": `pgready migrate lint` documents the rules".to_owned(),
                };
                self.error(
                    &rule_origin,
                    format!("unknown lint rule {}{hint}", quote(rule_str)),
                );
                continue;
            }
            let parsed = match level.get_ref() {
                DeValue::String(word) => word
                    .parse::<LintLevel>()
                    .map_err(|e| e.message_for(rule_str)),
                other => Err(format!(
                    "expected {}, found {}",
                    schema::expected(Kind::Word(LintLevel::VALID)),
                    other.type_str()
                )),
            };
            match parsed {
                Ok(level) => {
                    layer
                        .lints
                        .insert(rule_str.to_owned(), (level, rule_origin));
                }
                Err(message) => self.error(&rule_origin, message),
            }
        }
    }
}

/// `non-concurrent-index`: lowercase ASCII words of letters and digits joined by single `-`.
pub(crate) fn is_kebab_case(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.split('-').all(|w| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kebab_case() {
        assert!(is_kebab_case("non-concurrent-index"));
        assert!(is_kebab_case("drop-column2"));
        assert!(!is_kebab_case("Non-concurrent"));
        assert!(!is_kebab_case("non_concurrent"));
        assert!(!is_kebab_case("trailing-"));
        assert!(!is_kebab_case("double--dash"));
        assert!(!is_kebab_case("-leading"));
        assert!(!is_kebab_case(""));
    }
}
