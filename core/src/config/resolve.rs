//! The base layer with one profile's overrides on top, and the context in which the rules of
//! each section run against it.

use std::collections::BTreeMap;
use std::time::Duration;

use super::diagnostic::Diagnostic;
use super::layer::{Layer, Origin, Raw, Setting};
use super::schema::Section;
use crate::lint::LintLevel;

/// A key: section and key name.
pub(crate) type KeyRef = (Section, &'static str);

/// The settings in effect for the base config (`profile == None`) or one profile.
pub(crate) struct Resolved<'a> {
    pub(crate) base: &'a Layer,
    pub(crate) profile: Option<(&'a str, &'a Layer)>,
}

impl Resolved<'_> {
    /// The setting written for `key`, the profile's over the base's.
    pub(crate) fn setting(&self, key: KeyRef) -> Option<&Setting> {
        self.profile
            .and_then(|(_, layer)| layer.settings.get(&key))
            .or_else(|| self.base.settings.get(&key))
    }

    /// Whether `key` was written with a value that failed its type check (in the layer that
    /// would otherwise provide it).
    pub(crate) fn is_invalid(&self, key: KeyRef) -> bool {
        match self.profile {
            Some((_, layer)) if layer.settings.contains_key(&key) => false,
            Some((_, layer)) if layer.invalid.contains(&key) => true,
            _ => self.base.invalid.contains(&key),
        }
    }

    fn raw(&self, key: KeyRef) -> Option<&Raw> {
        self.setting(key).map(|s| &s.value)
    }

    pub(crate) fn string(&self, key: KeyRef, default: &str) -> String {
        match self.raw(key) {
            Some(Raw::Str(s)) => s.clone(),
            _ => default.to_owned(),
        }
    }

    /// An optional string: `false` in the file gives `None`.
    pub(crate) fn opt_string(&self, key: KeyRef, default: &str) -> Option<String> {
        match self.raw(key) {
            Some(Raw::Str(s)) => Some(s.clone()),
            Some(Raw::Off) => None,
            _ => Some(default.to_owned()),
        }
    }

    pub(crate) fn version(&self, key: KeyRef, default: i64) -> i64 {
        match self.raw(key) {
            Some(Raw::Version(v)) => *v,
            _ => default,
        }
    }

    pub(crate) fn chars(&self, key: KeyRef) -> std::collections::BTreeSet<char> {
        match self.raw(key) {
            Some(Raw::Chars(c)) => c.clone(),
            _ => std::collections::BTreeSet::new(),
        }
    }

    pub(crate) fn strings(&self, key: KeyRef) -> Vec<String> {
        match self.raw(key) {
            Some(Raw::Strings(s)) => s.clone(),
            _ => Vec::new(),
        }
    }

    pub(crate) fn boolean(&self, key: KeyRef, default: bool) -> bool {
        match self.raw(key) {
            Some(Raw::Bool(b)) => *b,
            _ => default,
        }
    }

    pub(crate) fn count(&self, key: KeyRef) -> Option<u32> {
        match self.raw(key) {
            Some(Raw::Count(n)) => Some(*n),
            _ => None,
        }
    }

    pub(crate) fn duration(&self, key: KeyRef, default: Duration) -> Duration {
        match self.raw(key) {
            Some(Raw::Duration(d)) => *d,
            _ => default,
        }
    }

    /// A duration that has no default: `None` when the key is not set.
    pub(crate) fn opt_duration(&self, key: KeyRef) -> Option<Duration> {
        match self.raw(key) {
            Some(Raw::Duration(d)) => Some(*d),
            _ => None,
        }
    }

    pub(crate) fn ratio(&self, key: KeyRef, default: f64) -> f64 {
        match self.raw(key) {
            Some(Raw::Ratio(r)) => *r,
            _ => default,
        }
    }

    /// The word written for `key`, as the enum `T` whose `VALID` words the schema gives the
    /// key (`Kind::Word(T::VALID)`), so a word that passed the type check always parses; `None`
    /// when the key is not set (or its value failed the type check).
    pub(crate) fn word<T: std::str::FromStr>(&self, key: KeyRef) -> Option<T> {
        match self.raw(key) {
            Some(Raw::Word(w)) => w.parse().ok(),
            _ => None,
        }
    }

    /// `[migrations.lints]`, the profile's rules over the base's, rule by rule.
    pub(crate) fn lints(&self) -> BTreeMap<&str, (LintLevel, &Origin)> {
        let mut lints: BTreeMap<&str, (LintLevel, &Origin)> = self
            .base
            .lints
            .iter()
            .map(|(rule, (level, origin))| (rule.as_str(), (*level, origin)))
            .collect();
        if let Some((_, layer)) = self.profile {
            for (rule, (level, origin)) in &layer.lints {
                lints.insert(rule.as_str(), (*level, origin));
            }
        }
        lints
    }
}

/// Runs rules against a [`Resolved`] configuration and records what they find at the key that
/// needs changing.
pub(crate) struct Checker<'a> {
    pub(crate) resolved: &'a Resolved<'a>,
    pub(crate) diagnostics: &'a mut Vec<Diagnostic>,
}

impl Checker<'_> {
    /// Whether the file sets `key` (in the base or the profile).
    pub(crate) fn is_set(&self, key: KeyRef) -> bool {
        self.resolved.setting(key).is_some()
    }

    /// Whether every key in `keys` holds a usable value: rules skip keys that already have a
    /// type error, so one mistake gives one diagnostic.
    pub(crate) fn usable(&self, keys: &[KeyRef]) -> bool {
        keys.iter().all(|&k| !self.resolved.is_invalid(k))
    }

    /// Of the keys a rule involves (`first` and `others`), the one to point at: a key set by
    /// the profile, else a key set in the file, else `first`.
    pub(crate) fn blame(&self, first: KeyRef, others: &[KeyRef]) -> KeyRef {
        let keys = || std::iter::once(first).chain(others.iter().copied());
        let from_profile = keys().find(|&k| {
            self.resolved
                .setting(k)
                .is_some_and(|s| s.origin.profile.is_some())
        });
        from_profile
            .or_else(|| keys().find(|&k| self.is_set(k)))
            .unwrap_or(first)
    }

    /// `(key path, line, column)` of `key`: where it was written, or its plain path at line 0
    /// when it has its default value.
    pub(crate) fn location(&self, key: KeyRef) -> (String, usize, usize) {
        match self.resolved.setting(key) {
            Some(s) => (s.origin.key.clone(), s.origin.line, s.origin.column),
            None => (format!("{}.{}", key.0.name(), key.1), 0, 0),
        }
    }

    pub(crate) fn error(&mut self, key: KeyRef, message: impl Into<String>) {
        let (path, line, column) = self.location(key);
        self.diagnostics
            .push(Diagnostic::error(path, line, column, message));
    }

    pub(crate) fn warning(&mut self, key: KeyRef, message: impl Into<String>) {
        let (path, line, column) = self.location(key);
        self.diagnostics
            .push(Diagnostic::warning(path, line, column, message));
    }

    /// Reports `check`'s error for `key`, unless `key` already has a type error.
    pub(crate) fn check(&mut self, key: KeyRef, check: Result<(), String>) {
        if let Err(message) = check
            && self.usable(&[key])
        {
            self.error(key, message);
        }
    }
}
