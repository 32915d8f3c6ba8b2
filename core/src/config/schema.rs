//! Which sections and keys `pgready.toml` has, what type each key takes, and the hints given for
//! a key that is not one of them.

use super::{Compression, Embedded, OnStartup, OutOfOrder, ReadFallback};
use crate::message::one_of;
use crate::suggest::closest;

/// A section of `pgready.toml` (also valid under `[profiles.<name>]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Section {
    Database,
    Pool,
    ReadPool,
    Session,
    Migrations,
    Health,
    Shutdown,
    Backup,
}

/// The type a key accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// any string (content rules are checked later)
    Str,
    /// a string, or `false` to turn the feature off
    OptStr,
    Bool,
    /// a non-negative integer that fits `u32`
    Count,
    /// a humantime string, `"0"` for zero
    Duration,
    /// a number in (0, 1]
    Ratio,
    /// one of the words of a word enum (its `VALID`), such as [`OnStartup::VALID`]
    Word(&'static [&'static str]),
    /// the `[migrations.lints]` table of `rule = level`
    Lints,
    /// a migration version: any integer that fits `i64`, as sqlx reads versions
    Version,
    /// an array of one-character strings, such as `["\r"]`
    Chars,
    /// an array of strings, such as `["audit", "billing"]`
    Strings,
}

/// One key of a section.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Key {
    pub(crate) name: &'static str,
    pub(crate) kind: Kind,
    /// Read at compile time only (which files are embedded and how they are checked): the same
    /// for every profile, so a `[profiles.<name>]` table may not set it.
    pub(crate) build_time: bool,
}

const fn key(name: &'static str, kind: Kind) -> Key {
    Key {
        name,
        kind,
        build_time: false,
    }
}

/// A key that decides what is embedded in the binary or how it is checked at compile time.
const fn build_key(name: &'static str, kind: Kind) -> Key {
    Key {
        name,
        kind,
        build_time: true,
    }
}

const DATABASE: &[Key] = &[
    key("url_env", Kind::Str),
    key("read_url_env", Kind::OptStr),
    key("require_tls", Kind::Bool),
    key("connect_retry", Kind::Duration),
    key("embedded", Kind::Word(Embedded::VALID)),
    key("pgbouncer", Kind::Bool),
    key("migrations_url_env", Kind::OptStr),
    key("read_fallback", Kind::Word(ReadFallback::VALID)),
    key("server_max_connections", Kind::Count),
    key("reserved_connections", Kind::Count),
    key("protected", Kind::Strings),
];

const POOL: &[Key] = &[
    key("max_connections", Kind::Count),
    key("min_connections", Kind::Count),
    key("acquire_timeout", Kind::Duration),
    key("idle_timeout", Kind::Duration),
    key("max_lifetime", Kind::Duration),
    key("test_before_acquire", Kind::Bool),
    key("validation_bypass", Kind::Duration),
];

const SESSION: &[Key] = &[
    key("statement_timeout", Kind::Duration),
    key("lock_timeout", Kind::Duration),
    key("idle_in_transaction_timeout", Kind::Duration),
    key("application_name", Kind::Str),
    key("time_zone", Kind::Str),
    key("schema", Kind::Str),
];

const MIGRATIONS: &[Key] = &[
    build_key("dir", Kind::Str),
    key("on_startup", Kind::Word(OnStartup::VALID)),
    key("out_of_order", Kind::Word(OutOfOrder::VALID)),
    key("table", Kind::Str),
    build_key("ledger", Kind::OptStr),
    key("statement_timeout", Kind::Duration),
    key("lock_timeout", Kind::Duration),
    build_key("lint_after", Kind::Version),
    build_key("ignored_chars", Kind::Chars),
    key("create_schemas", Kind::Strings),
    build_key("lints", Kind::Lints),
    key("lock_wait", Kind::Duration),
];

const HEALTH: &[Key] = &[
    key("timeout", Kind::Duration),
    key("cache", Kind::Duration),
    key("max_replica_lag", Kind::Duration),
    key("pool_saturation_warn", Kind::Ratio),
];

const SHUTDOWN: &[Key] = &[key("drain", Kind::Duration), key("grace", Kind::Duration)];
const BACKUP: &[Key] = &[
    key("dir", Kind::Str),
    key("compression", Kind::Word(Compression::VALID)),
    key("compression_level", Kind::Count),
    key("keep", Kind::Count),
    key("keep_days", Kind::Count),
    key("rpo", Kind::Duration),
];

/// Names people reach for from other tools, mapped to pgready's key (`section.key`).
const RENAMED: &[(&str, &str)] = &[
    ("max_size", "max_connections"),
    ("pool_size", "max_connections"),
    ("max_pool_size", "max_connections"),
    ("min_size", "min_connections"),
    ("min_idle", "min_connections"),
    ("connect_timeout", "acquire_timeout"),
    ("connection_timeout", "acquire_timeout"),
    ("search_path", "schema"),
    ("timezone", "time_zone"),
    ("migrations_dir", "dir"),
    ("source", "dir"),
    ("grace_period", "grace"),
    ("shutdown_timeout", "grace"),
    ("drain_time", "drain"),
    ("shutdown_delay", "drain"),
    ("directory", "dir"),
    ("path", "dir"),
    ("compress", "compression"),
    ("level", "compression_level"),
    ("retention", "keep"),
    ("retention_days", "keep_days"),
    ("max_age_days", "keep_days"),
];

/// Keys that would hold a DSN: the hint is to name an environment variable instead.
const DSN_KEYS: &[&str] = &[
    "url",
    "dsn",
    "database_url",
    "connection_string",
    "read_url",
    "migrations_url",
];

impl Section {
    pub(crate) const ALL: [Section; 8] = [
        Section::Database,
        Section::Pool,
        Section::ReadPool,
        Section::Session,
        Section::Migrations,
        Section::Health,
        Section::Shutdown,
        Section::Backup,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Section::Database => "database",
            Section::Pool => "pool",
            Section::ReadPool => "read_pool",
            Section::Session => "session",
            Section::Migrations => "migrations",
            Section::Health => "health",
            Section::Shutdown => "shutdown",
            Section::Backup => "backup",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<Section> {
        Section::ALL.into_iter().find(|s| s.name() == name)
    }

    pub(crate) fn keys(self) -> &'static [Key] {
        match self {
            Section::Database => DATABASE,
            Section::Pool | Section::ReadPool => POOL,
            Section::Session => SESSION,
            Section::Migrations => MIGRATIONS,
            Section::Health => HEALTH,
            Section::Shutdown => SHUTDOWN,
            Section::Backup => BACKUP,
        }
    }

    pub(crate) fn key(self, name: &str) -> Option<Key> {
        self.keys().iter().copied().find(|k| k.name == name)
    }
}

/// The message for `name`, which is not a section (top level of the file, or of `profile`).
///
/// `is_table` tells a misspelled `[section]` from a key written outside any section.
pub(crate) fn unknown_section(name: &str, profile: Option<&str>, is_table: bool) -> String {
    let in_profile = profile.is_some();
    let prefix = profile.map_or_else(String::new, |p| format!("profiles.{p}."));
    let sections = Section::ALL.map(Section::name);
    if name == "profiles" && in_profile {
        return "profiles cannot be nested: a profile overrides the sections `[database]`, \
                `[pool]`, `[read_pool]`, `[session]`, `[migrations]`, `[health]`, `[shutdown]` and `[backup]`"
            .to_owned();
    }
    let mut known: Vec<&str> = sections.to_vec();
    if !in_profile {
        known.push("profiles");
    }
    if is_table && let Some(hint) = closest(name, known.iter().copied()) {
        return format!("unknown section `[{prefix}{name}]`: did you mean `[{prefix}{hint}]`?");
    }
    // a key written above every section header
    if let Some(section) = Section::ALL.into_iter().find(|s| s.key(name).is_some()) {
        return format!(
            "`{name}` is a key of `[{prefix}{}]`: move it under that header",
            section.name()
        );
    }
    let wrap = (format!("[{prefix}"), "]");
    let expected = one_of(known.iter().copied(), (wrap.0.as_str(), wrap.1));
    if !is_table {
        let place = profile.map_or_else(
            || "at the top level".to_owned(),
            |p| format!("in `[profiles.{p}]`"),
        );
        return format!("unknown key `{name}` {place}: only sections go here, expected {expected}");
    }
    format!("unknown section `[{prefix}{name}]`: expected {expected}")
}

/// The message for `name`, which is not a key of `section`.
pub(crate) fn unknown_key(section: Section, name: &str) -> String {
    let here = section.name();
    let names = section.keys().iter().map(|k| k.name);
    if section == Section::Database && DSN_KEYS.contains(&name.to_ascii_lowercase().as_str()) {
        return format!(
            "unknown key `{name}` in `[database]`: a DSN never goes in the file, put it in the \
             environment and name the variable with `url_env` (or `read_url_env`)"
        );
    }
    if let Some(&(_, new)) = RENAMED
        .iter()
        .find(|(old, _)| old.eq_ignore_ascii_case(name))
    {
        if section.key(new).is_some() {
            return format!("unknown key `{name}` in `[{here}]`: did you mean `{new}`?");
        }
        if let Some(owner) = Section::ALL.into_iter().find(|s| s.key(new).is_some()) {
            return format!(
                "unknown key `{name}` in `[{here}]`: did you mean `{new}` in `[{}]`?",
                owner.name()
            );
        }
    }
    if let Some(hint) = closest(name, names.clone()) {
        return format!("unknown key `{name}` in `[{here}]`: did you mean `{hint}`?");
    }
    // the right key in the wrong section (e.g. `statement_timeout` under `[pool]`)
    if let Some(owner) = Section::ALL
        .into_iter()
        .find(|s| s.name() != here && s.key(name).is_some())
    {
        return format!(
            "unknown key `{name}` in `[{here}]`: `{name}` belongs in `[{}]`",
            owner.name()
        );
    }
    format!(
        "unknown key `{name}` in `[{here}]`: expected {}",
        one_of(names, ("", ""))
    )
}

/// The article and name of a kind, for "expected …" messages.
pub(crate) fn expected(kind: Kind) -> String {
    match kind {
        Kind::Str => "a string".to_owned(),
        Kind::OptStr => "a string, or `false` to turn it off".to_owned(),
        Kind::Bool => "a boolean (`true` or `false`)".to_owned(),
        Kind::Count => "a non-negative integer".to_owned(),
        Kind::Duration => {
            "a duration string such as `\"30s\"`, `\"10m\"` or `\"500ms\"`".to_owned()
        }
        Kind::Ratio => "a number greater than 0 and at most 1, such as `0.9`".to_owned(),
        Kind::Word(words) => format!(
            "a string, one of {}",
            one_of(words.iter().copied(), ("\"", "\""))
        ),
        Kind::Lints => "a table of `rule-name = \"deny\" | \"warn\" | \"allow\"`".to_owned(),
        Kind::Version => "an integer migration version, such as `20240101120000`".to_owned(),
        Kind::Chars => "an array of one-character strings, such as `[\"\\r\"]`".to_owned(),
        Kind::Strings => "an array of strings, such as `[\"audit\"]`".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_finds_typos_of_keys_only() {
        let names = POOL.iter().map(|k| k.name);
        assert_eq!(
            closest("max_conections", names.clone()),
            Some("max_connections")
        );
        assert_eq!(
            closest("MAX-CONNECTIONS", names.clone()),
            Some("max_connections")
        );
        assert_eq!(closest("colour", names), None);
    }

    #[test]
    fn unknown_key_hints() {
        assert!(unknown_key(Section::Pool, "max_size").contains("did you mean `max_connections`?"));
        assert!(unknown_key(Section::Pool, "statement_timeout").contains("belongs in `[session]`"));
        assert!(unknown_key(Section::Session, "search_path").contains("did you mean `schema`?"));
        assert!(unknown_key(Section::Database, "url").contains("put it in the environment"));
        let none = unknown_key(Section::Health, "zzz");
        assert!(
            none.contains(
                "expected `timeout`, `cache`, `max_replica_lag` or `pool_saturation_warn`"
            )
        );
    }

    #[test]
    fn unknown_section_hints() {
        assert!(unknown_section("pools", None, true).contains("did you mean `[pool]`?"));
        assert!(unknown_section("url_env", None, false).contains("key of `[database]`"));
        assert!(unknown_section("profiles", Some("p"), true).contains("cannot be nested"));
        let in_profile = unknown_section("zzz", Some("p"), true);
        assert!(
            in_profile.contains("expected `[profiles.p.database]`"),
            "{in_profile}"
        );
        assert!(
            !in_profile.contains("`[profiles.p.profiles]`"),
            "{in_profile}"
        );
        let key = unknown_section("max_connections", Some("prod"), false);
        assert!(key.contains("key of `[profiles.prod.pool]`"), "{key}");
        let stray = unknown_section("colour", None, false);
        assert!(
            stray.starts_with("unknown key `colour` at the top level"),
            "{stray}"
        );
        assert!(stray.ends_with("`[backup]` or `[profiles]`"), "{stray}");
    }
}
