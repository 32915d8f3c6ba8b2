//! The release ledger (`migrations.lock`): the migrations already released, with their
//! checksums. A released migration that was edited or deleted is an error at compile time.
//!
//! The format is one line per file, sorted by version, so a diff shows exactly what a release
//! added or an accepted change rewrote:
//!
//! ```text
//! # pgready release ledger: …
//! 20250101000000_create_items.sql sha384:3f9a…
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{Migration, MigrationError};

const HEADER: &str = "\
# pgready release ledger: migrations already released, with their SHA-384 checksums.
# A released migration is never edited or deleted: add a new migration instead.
# `pgready migrate lock` records new migrations; `--accept <version>` accepts an intended edit.
";

/// The parsed ledger: file name → checksum, ordered by version.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ledger {
    entries: BTreeMap<(i64, String), Vec<u8>>,
}

impl Ledger {
    /// Parses a ledger file's text; `name` is how errors refer to the file.
    pub fn parse(name: &str, text: &str) -> Result<Ledger, Vec<MigrationError>> {
        let mut ledger = Ledger::default();
        let mut errors = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut error =
                |message: String| errors.push(MigrationError::new(name, index + 1, message));
            // the checksum is the last word: a file name may hold spaces (sqlx reads
            // `1_add notes.sql`), never at its ends (it starts with its version, ends in `.sql`)
            let Some((file, sum)) = line
                .rsplit_once(char::is_whitespace)
                .map(|(file, sum)| (file.trim_end(), sum))
            else {
                error(
                    "expected `<file> sha384:<hex>`: regenerate with `pgready migrate lock`"
                        .to_owned(),
                );
                continue;
            };
            let version = match super::parse_file_name(file) {
                Some(Ok(name)) => name.version,
                _ => {
                    error(format!("`{file}` is not a migration file name"));
                    continue;
                }
            };
            let Some(checksum) = sum
                .strip_prefix("sha384:")
                .and_then(from_hex)
                .filter(|c| c.len() == 48)
            else {
                error(format!("`{sum}` is not `sha384:` and 96 hex digits"));
                continue;
            };
            if ledger
                .entries
                .insert((version, file.to_owned()), checksum)
                .is_some()
            {
                error(format!("`{file}` is listed twice"));
            }
        }
        if errors.is_empty() {
            Ok(ledger)
        } else {
            Err(errors)
        }
    }

    /// The ledger's text, as `pgready migrate lock` writes it.
    pub fn to_text(&self) -> String {
        let mut text = HEADER.to_owned();
        for ((_, file), checksum) in &self.entries {
            let _ = writeln!(text, "{file} sha384:{}", to_hex(checksum));
        }
        text
    }

    /// How many files are recorded.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no file is recorded.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether the file is recorded: it was released (its checksum is [`check`](Self::check)ed).
    pub fn contains(&self, file_name: &str) -> bool {
        self.entries.keys().any(|(_, file)| file == file_name)
    }

    /// Every released migration that was edited or deleted since it was recorded.
    pub fn check(&self, name: &str, migrations: &[Migration]) -> Vec<MigrationError> {
        let mut errors = Vec::new();
        for ((version, file), checksum) in &self.entries {
            match migrations.iter().find(|m| &m.file_name == file) {
                None => errors.push(MigrationError::new(
                    file,
                    0,
                    format!(
                        "released migration (version {version}, recorded in `{name}`) was deleted \
                         or renamed: restore it, and add a new migration instead"
                    ),
                )),
                Some(m) if &m.checksum != checksum => errors.push(MigrationError::new(
                    file,
                    0,
                    format!(
                        "released migration was edited (its checksum differs from `{name}`): \
                         restore it and add a new migration instead, or accept the edit with \
                         `pgready migrate lock --accept {version}`"
                    ),
                )),
                Some(_) => {}
            }
        }
        errors
    }

    /// Records every migration not yet in the ledger; returns their file names.
    pub fn record_new(&mut self, migrations: &[Migration]) -> Vec<String> {
        let mut added = Vec::new();
        for m in migrations {
            if let std::collections::btree_map::Entry::Vacant(slot) =
                self.entries.entry((m.version, m.file_name.clone()))
            {
                slot.insert(m.checksum.clone());
                added.push(m.file_name.clone());
            }
        }
        added
    }

    /// Accepts the current contents of every file of `version` (an intended edit of a released
    /// migration); returns the files whose checksum changed.
    pub fn accept(
        &mut self,
        version: i64,
        migrations: &[Migration],
    ) -> Result<Vec<String>, String> {
        let files: Vec<&Migration> = migrations.iter().filter(|m| m.version == version).collect();
        if files.is_empty() {
            return Err(format!("no migration file has version {version}"));
        }
        let mut changed = Vec::new();
        for m in files {
            let previous = self
                .entries
                .insert((m.version, m.file_name.clone()), m.checksum.clone());
            if previous.as_ref() != Some(&m.checksum) {
                changed.push(m.file_name.clone());
            }
        }
        Ok(changed)
    }
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrations::{Resolve, from_files};

    fn migrations(files: &[(&str, &str)]) -> Vec<Migration> {
        from_files(files.iter().copied(), &Resolve::default()).unwrap()
    }

    #[test]
    fn round_trips_and_stays_sorted_by_version() {
        let ms = migrations(&[("10_b.sql", "B"), ("2_a.sql", "A")]);
        let mut ledger = Ledger::default();
        assert_eq!(ledger.record_new(&ms), ["2_a.sql", "10_b.sql"]);
        let text = ledger.to_text();
        let body: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert!(body[0].starts_with("2_a.sql sha384:") && body[1].starts_with("10_b.sql sha384:"));
        assert_eq!(Ledger::parse("migrations.lock", &text).unwrap(), ledger);
        assert!(
            ledger.record_new(&ms).is_empty(),
            "nothing new the second time"
        );
    }

    #[test]
    fn edited_and_deleted_released_migrations_are_errors() {
        let mut ledger = Ledger::default();
        ledger.record_new(&migrations(&[
            ("1_a.sql", "A"),
            ("2_b.sql", "B"),
            ("3_c.sql", "C"),
        ]));
        let now = migrations(&[("1_a.sql", "A"), ("2_b.sql", "B edited"), ("4_d.sql", "D")]);
        let errors = ledger.check("migrations.lock", &now);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(errors[0].file, "2_b.sql");
        assert!(
            errors[0].message.contains("was edited") && errors[0].message.contains("--accept 2")
        );
        assert_eq!(errors[1].file, "3_c.sql");
        assert!(errors[1].message.contains("was deleted"));
    }

    #[test]
    fn accepting_an_edit_rewrites_only_that_version() {
        let mut ledger = Ledger::default();
        ledger.record_new(&migrations(&[("1_a.sql", "A"), ("2_b.sql", "B")]));
        let now = migrations(&[("1_a.sql", "A"), ("2_b.sql", "B edited")]);
        assert_eq!(ledger.accept(2, &now).unwrap(), ["2_b.sql"]);
        assert!(ledger.check("migrations.lock", &now).is_empty());
        assert!(ledger.accept(9, &now).is_err());
    }

    #[test]
    fn file_names_with_spaces_and_dots_round_trip() {
        let ms = migrations(&[
            ("1_add customer notes.sql", "A"),
            ("2_order_totals.sql.up.sql", "B"),
        ]);
        let mut ledger = Ledger::default();
        ledger.record_new(&ms);
        let parsed = Ledger::parse("migrations.lock", &ledger.to_text()).unwrap();
        assert_eq!(parsed, ledger);
        assert!(parsed.check("migrations.lock", &ms).is_empty());
    }

    #[test]
    fn malformed_lines_are_reported_with_their_line() {
        let text = "# header\n1_a.sql sha384:zz\nnot-a-migration sha384:00\n1_a.sql\n";
        let errors = Ledger::parse("migrations.lock", text).unwrap_err();
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [2, 3, 4]);
    }
}
