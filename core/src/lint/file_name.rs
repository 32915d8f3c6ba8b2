//! The `migration-file-name` rule: pgready's naming style for new migrations, over names sqlx
//! accepts. Discovery reads every name sqlx reads (see [`crate::migrations`]); this rule says
//! which of them a reviewer should still look at, and which files sqlx silently skips.

use std::collections::BTreeMap;

use super::rules::MIGRATION_FILE_NAME;
use super::{Finding, LintLevel, allow};
use crate::migrations::{Kind, Migration, SkipReason, Skipped, parse_file_name};
use crate::sql::Source;

/// pgready's naming style for one migration file; `all` is every migration of the directory
/// (for the pairing of `.up.sql` and `.down.sql` files). Reports, under `migration-file-name`:
///
/// - a version that is not positive, or not written as plain digits (`+5`, `007`);
/// - an empty description, or one with `.` or whitespace (sqlx records
///   `20240309082057_order_totals.sql.up.sql` as `order totals.sql`);
/// - an `.up.sql` without its `.down.sql`, and a `.down.sql` without an `.up.sql`;
/// - a simple `.sql` whose version also has a `.down.sql` (and that `.down.sql`), and a second
///   `.down.sql` for one version.
///
/// sqlx accepts all of these, so released history is never linted with this rule: the caller
/// passes only new files. `levels` is `[migrations.lints]`; a file can allow the rule with
/// `-- pgready:allow(migration-file-name) reason`, as any rule.
///
/// ```
/// use std::collections::BTreeMap;
/// use pgready_core::lint::lint_file_name;
/// use pgready_core::migrations::{Resolve, from_files};
///
/// let all = from_files(
///     [("20250101000000_create_items.up.sql", "CREATE TABLE items (id BIGINT);\n")],
///     &Resolve::default(),
/// )
/// .unwrap();
/// let findings = lint_file_name(&all[0], &all, &BTreeMap::new());
/// assert_eq!(findings[0].rule, "migration-file-name");
/// assert!(findings[0].message.contains("no `.down.sql`"));
/// ```
pub fn lint_file_name(
    m: &Migration,
    all: &[Migration],
    levels: &BTreeMap<String, LintLevel>,
) -> Vec<Finding> {
    let level = level(levels);
    if level == LintLevel::Allow || allows_itself(&m.sql) {
        return Vec::new();
    }
    let Some(Ok(name)) = parse_file_name(&m.file_name) else {
        // not a name discovery produces a `Migration` for
        return Vec::new();
    };
    let version = m.version;
    let file = &m.file_name;
    let mut messages = Vec::new();

    let version_text = file.split_once('_').map_or("", |(v, _)| v);
    if version <= 0 {
        messages.push(format!(
            "version {version} is not positive: sqlx applies it, but it sorts before every \
             timestamp version; give new migrations a UTC timestamp (`pgready migrate add`)"
        ));
    } else if version_text != version.to_string() {
        messages.push(format!(
            "version `{version_text}` is read as {version}: write it as plain digits, \
             `{version}_{}`",
            &file[version_text.len() + 1..]
        ));
    }

    let description = &name.description;
    let suffix = m.kind.suffix();
    if description.is_empty() {
        messages.push(format!(
            "no description after `{version_text}_`: say what the migration does, e.g. \
             `{version_text}_create_items{suffix}`"
        ));
    } else if description.contains(|c: char| c == '.' || c.is_whitespace()) {
        let words: String = description
            .chars()
            .map(|c| {
                if c == '.' || c.is_whitespace() {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        messages.push(format!(
            "the description `{description}` holds `.` or whitespace, which sqlx records as \
             `{}`: join words with `_`, e.g. `{version_text}_{words}{suffix}`",
            m.description
        ));
    }

    let same_version = |kind: Kind| {
        all.iter()
            .filter(move |other| other.version == version && other.kind == kind)
    };
    let applied = all
        .iter()
        .find(|other| other.version == version && other.kind.is_applied());
    match m.kind {
        Kind::Up if same_version(Kind::Down).next().is_none() => messages.push(format!(
            "`{file}` has no `.down.sql`: it is applied, but `pgready migrate revert` cannot \
             undo it; add `{version_text}_{description}.down.sql`, or rename it to \
             `{version_text}_{description}.sql` if it is not meant to be reverted"
        )),
        Kind::Simple if same_version(Kind::Down).next().is_some() => {
            let down = same_version(Kind::Down)
                .next()
                .map_or("", |d| d.file_name.as_str());
            messages.push(format!(
                "`{file}` is a simple migration, yet `{down}` reverts version {version}: rename \
                 it to `{version_text}_{description}.up.sql` so the pair reads as reversible"
            ));
        }
        Kind::Down => {
            match applied {
                None => messages.push(format!(
                    "`{file}` reverts nothing: no `.up.sql` has version {version}, so it never \
                     runs; add the `.up.sql`, or delete it"
                )),
                Some(up) if up.kind == Kind::Simple => messages.push(format!(
                    "`{file}` reverts `{}`, a simple migration: rename that one to \
                     `.up.sql` so the pair reads as reversible",
                    up.file_name
                )),
                Some(_) => {}
            }
            if let Some(first) = same_version(Kind::Down).next()
                && first.file_name != *file
            {
                messages.push(format!(
                    "`{file}` is a second `.down.sql` for version {version}: \
                     `pgready migrate revert` runs only `{}`; delete one of them",
                    first.file_name
                ));
            }
        }
        _ => {}
    }

    messages
        .into_iter()
        .map(|message| Finding {
            file: file.clone(),
            line: 1,
            rule: MIGRATION_FILE_NAME.name,
            level,
            message,
        })
        .collect()
}

/// The finding for a directory entry sqlx skips although it looks like a migration (see
/// [`read_directory`](crate::migrations::read_directory)): it never runs. Reported under
/// `migration-file-name`, at `levels`' level for it.
///
/// ```
/// use std::collections::BTreeMap;
/// use pgready_core::lint::lint_skipped_file;
/// use pgready_core::migrations::{SkipReason, Skipped};
///
/// let skipped = Skipped { file_name: "1_init.SQL".into(), reason: SkipReason::NotSql };
/// let findings = lint_skipped_file(&skipped, &BTreeMap::new());
/// assert!(findings[0].message.contains("rename it to `1_init.sql`"));
/// ```
pub fn lint_skipped_file(skipped: &Skipped, levels: &BTreeMap<String, LintLevel>) -> Vec<Finding> {
    let level = level(levels);
    if level == LintLevel::Allow {
        return Vec::new();
    }
    let name = &skipped.file_name;
    let message = match skipped.reason {
        SkipReason::NotAFile => format!(
            "sqlx and pgready skip `{name}`: only regular files directly in the migrations \
             directory run, so nothing in it does; move its migrations up, or move it out"
        ),
        SkipReason::NoUnderscore => format!(
            "sqlx and pgready skip `{name}`: it has no `_` between version and description, so \
             it never runs; rename it to `<version>_<description>.sql`, or move it out of the \
             migrations directory"
        ),
        SkipReason::NotSql => match lowercase_extension(name) {
            Some(fixed) => format!(
                "sqlx and pgready skip `{name}`: a migration's name ends in `.sql`, lowercase, \
                 so it never runs; rename it to `{fixed}`"
            ),
            None => format!(
                "sqlx and pgready skip `{name}`: it does not end in `.sql`, so it never runs; \
                 rename it, or move it out of the migrations directory"
            ),
        },
    };
    vec![Finding {
        file: name.clone(),
        line: 1,
        rule: MIGRATION_FILE_NAME.name,
        level,
        message,
    }]
}

fn level(levels: &BTreeMap<String, LintLevel>) -> LintLevel {
    levels
        .get(MIGRATION_FILE_NAME.name)
        .copied()
        .unwrap_or(MIGRATION_FILE_NAME.default_level)
}

/// Whether the file says `-- pgready:allow(migration-file-name) …`.
fn allows_itself(sql: &str) -> bool {
    Source::parse(sql).is_some_and(|source| {
        allow::scan(&source, sql)
            .0
            .iter()
            .any(|allow| allow.rule == MIGRATION_FILE_NAME.name)
    })
}

/// `1_x.SQL` → `1_x.sql`; `None` when the name does not end in `.sql` in any case.
fn lowercase_extension(name: &str) -> Option<String> {
    let stem = name.len().checked_sub(4).and_then(|i| {
        let (stem, ext) = (name.get(..i)?, name.get(i..)?);
        ext.eq_ignore_ascii_case(".sql").then_some(stem)
    })?;
    Some(format!("{stem}.sql"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrations::{Resolve, from_files};

    fn dir(names: &[&str]) -> Vec<Migration> {
        from_files(
            names.iter().map(|n| (*n, "SELECT 1;\n")),
            &Resolve::default(),
        )
        .unwrap()
    }

    /// The messages for `file` among `names`, with default levels.
    fn lint(file: &str, names: &[&str]) -> Vec<String> {
        let all = dir(names);
        let m = all
            .iter()
            .find(|m| m.file_name == file)
            .expect("in the list");
        let findings = lint_file_name(m, &all, &BTreeMap::new());
        for f in &findings {
            assert_eq!(
                (f.rule, f.level, f.line, f.file.as_str()),
                ("migration-file-name", LintLevel::Warn, 1, file)
            );
        }
        findings.into_iter().map(|f| f.message).collect()
    }

    #[track_caller]
    fn one(file: &str, names: &[&str], expected: &str) {
        let messages = lint(file, names);
        assert!(
            messages.len() == 1 && messages[0].contains(expected),
            "{file}: expected one message with {expected:?}, got {messages:#?}"
        );
    }

    #[test]
    fn pgready_style_names_are_quiet() {
        let names = [
            "20250101000000_create_items.sql",
            "20250102000000_add_tags.up.sql",
            "20250102000000_add_tags.down.sql",
            "1_init.sql",
        ];
        for name in names {
            assert_eq!(lint(name, &names), Vec::<String>::new(), "{name}");
        }
    }

    #[test]
    fn versions_that_are_not_positive_or_not_plain_digits() {
        one("0_init.sql", &["0_init.sql"], "version 0 is not positive");
        one(
            "-3_before.sql",
            &["-3_before.sql"],
            "version -3 is not positive",
        );
        one(
            "+5_plus.sql",
            &["+5_plus.sql"],
            "version `+5` is read as 5: write it as plain digits, `5_plus.sql`",
        );
        one("007_bond.sql", &["007_bond.sql"], "`7_bond.sql`");
    }

    #[test]
    fn descriptions_that_are_empty_or_hold_dots_or_spaces() {
        one("1_.sql", &["1_.sql"], "no description after `1_`");
        one(
            "20240309082057_order_totals.sql.up.sql",
            &[
                "20240309082057_order_totals.sql.up.sql",
                "20240309082057_order_totals.sql.down.sql",
            ],
            "the description `order_totals.sql` holds `.` or whitespace, which sqlx records as \
             `order totals.sql`: join words with `_`, e.g. `20240309082057_order_totals_sql.up.sql`",
        );
        one(
            "2_add customer notes.sql",
            &["2_add customer notes.sql"],
            "`2_add_customer_notes.sql`",
        );
    }

    #[test]
    fn unpaired_and_mismatched_reversible_files() {
        one(
            "1_a.up.sql",
            &["1_a.up.sql"],
            "`1_a.up.sql` has no `.down.sql`",
        );
        one(
            "2_b.down.sql",
            &["1_a.sql", "2_b.down.sql"],
            "`2_b.down.sql` reverts nothing",
        );
        let names = ["3_c.sql", "3_c.down.sql"];
        one(
            "3_c.sql",
            &names,
            "`3_c.sql` is a simple migration, yet `3_c.down.sql` reverts version 3",
        );
        one(
            "3_c.down.sql",
            &names,
            "`3_c.down.sql` reverts `3_c.sql`, a simple migration",
        );
        let names = ["4_d.up.sql", "4_d.down.sql", "4_e.down.sql"];
        assert!(lint("4_d.down.sql", &names).is_empty());
        one(
            "4_e.down.sql",
            &names,
            "`4_e.down.sql` is a second `.down.sql` for version 4",
        );
    }

    #[test]
    fn several_problems_in_one_name_are_reported_together() {
        assert_eq!(lint("0_.up.sql", &["0_.up.sql"]).len(), 3);
    }

    #[test]
    fn levels_and_allow_comments_apply() {
        let all = dir(&["0_init.sql"]);
        let deny = BTreeMap::from([("migration-file-name".to_owned(), LintLevel::Deny)]);
        assert_eq!(
            lint_file_name(&all[0], &all, &deny)[0].level,
            LintLevel::Deny
        );
        let off = BTreeMap::from([("migration-file-name".to_owned(), LintLevel::Allow)]);
        assert!(lint_file_name(&all[0], &all, &off).is_empty());

        let allowed = from_files(
            [(
                "1_a.up.sql",
                "-- pgready:allow(migration-file-name) irreversible by design\nSELECT 1;\n",
            )],
            &Resolve::default(),
        )
        .unwrap();
        assert!(lint_file_name(&allowed[0], &allowed, &BTreeMap::new()).is_empty());
        // and `lint_file` does not call that allow unused
        let findings = super::super::lint_file(
            &allowed[0].file_name,
            &allowed[0].sql,
            true,
            &BTreeMap::new(),
        );
        assert!(findings.is_empty(), "{findings:#?}");
    }

    #[test]
    fn skipped_files_say_why_and_what_to_do() {
        let message = |file_name: &str, reason| {
            let findings = lint_skipped_file(
                &Skipped {
                    file_name: file_name.to_owned(),
                    reason,
                },
                &BTreeMap::new(),
            );
            assert_eq!(findings.len(), 1);
            assert_eq!(
                (findings[0].rule, findings[0].level),
                ("migration-file-name", LintLevel::Warn)
            );
            findings[0].message.clone()
        };
        assert!(
            message("20240101.sql", SkipReason::NoUnderscore)
                .contains("no `_` between version and description")
        );
        assert!(message("1_x.SQL", SkipReason::NotSql).contains("rename it to `1_x.sql`"));
        assert!(message("1_x.sql.bak", SkipReason::NotSql).contains("does not end in `.sql`"));
        assert!(message("3_old.sql", SkipReason::NotAFile).contains("only regular files"));
        let off = BTreeMap::from([("migration-file-name".to_owned(), LintLevel::Allow)]);
        let skipped = Skipped {
            file_name: "1.sql".into(),
            reason: SkipReason::NoUnderscore,
        };
        assert!(lint_skipped_file(&skipped, &off).is_empty());
    }
}
