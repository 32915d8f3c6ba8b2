//! `[profiles.<name>.<section>]`: per-environment overrides, and choosing one at run time.

use std::collections::BTreeMap;

use toml::de::{DeTable, DeValue};

use super::diagnostic::Diagnostic;
use super::ident;
use super::layer::{Layer, Reader};
use super::{Config, DEFAULT_PROFILE, PROFILE_ENV};

/// The profiles that exist even without a `[profiles.<name>]` section (they are then the base
/// configuration).
pub const BUILT_IN_PROFILES: [&str; 2] = [DEFAULT_PROFILE, "production"];

/// Reads `document.profiles`: one layer per well-formed profile, in name order.
pub(crate) fn read(document: &DeTable<'_>, reader: &mut Reader<'_>) -> Vec<(String, Layer)> {
    let Some((key, value)) = document.iter().find(|(k, _)| k.get_ref() == "profiles") else {
        return Vec::new();
    };
    let DeValue::Table(profiles) = value.get_ref() else {
        let origin = reader.origin("profiles".to_owned(), key.span(), None);
        reader.diagnostics.push(Diagnostic::error(
            origin.key,
            origin.line,
            origin.column,
            format!(
                "expected a table of profiles such as `[profiles.production.pool]`, found {}",
                value.get_ref().type_str()
            ),
        ));
        return Vec::new();
    };
    let mut layers = Vec::new();
    for (name, table) in profiles.iter() {
        let name_str: &str = name.get_ref();
        let origin = reader.origin(format!("profiles.{name_str}"), name.span(), None);
        let problem = match (ident::check_profile_name(name_str), table.get_ref()) {
            (Err(message), _) => Some(message),
            (Ok(()), DeValue::Table(_)) => None,
            (Ok(()), other) => Some(format!(
                "expected a table of sections such as `[profiles.{name_str}.pool]`, found {}",
                other.type_str()
            )),
        };
        if let Some(message) = problem {
            reader.diagnostics.push(Diagnostic::error(
                origin.key,
                origin.line,
                origin.column,
                message,
            ));
            continue;
        }
        if let DeValue::Table(sections) = table.get_ref() {
            let layer = reader.read(sections, Some(name_str));
            layers.push((name_str.to_owned(), layer));
        }
    }
    layers
}

/// `pgready.toml` fully validated: the base configuration and every profile's.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigFile {
    pub(crate) base: Config,
    pub(crate) profiles: BTreeMap<String, Config>,
}

impl ConfigFile {
    /// The configuration of the file's sections without any profile applied.
    pub fn base(&self) -> &Config {
        &self.base
    }

    /// The configuration for a profile chosen at run time (from `PGREADY_PROFILE`, default
    /// `development`).
    ///
    /// `development` and `production` always exist: without a `[profiles.<name>]` section they
    /// are the base configuration. Any other name must have a section.
    ///
    /// ```
    /// let file = pgready_core::config::parse("[profiles.production.pool]\nmax_connections = 50\n", "app")
    ///     .map(|parsed| parsed.file);
    /// let prod = file.as_ref().map(|f| f.profile("production").map(|c| c.pool.max_connections));
    /// assert_eq!(prod, Ok(Ok(50)));
    /// let staging = file.as_ref().map(|f| f.profile("staging").is_err());
    /// assert_eq!(staging, Ok(true));
    /// ```
    pub fn profile(&self, name: &str) -> Result<Config, Diagnostic> {
        if let Some(config) = self.profiles.get(name) {
            return Ok(config.clone());
        }
        if BUILT_IN_PROFILES.contains(&name) {
            return Ok(self.base.clone());
        }
        let names = self.profile_names();
        let known = names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let shown = name.escape_debug().to_string();
        let hint = crate::suggest::closest(name, names.iter().map(String::as_str))
            .map(|n| format!("did you mean `{n}`? "))
            .unwrap_or_default();
        Err(Diagnostic::error(
            format!("profiles.{shown}"),
            0,
            0,
            format!(
                "unknown profile `{shown}` (chosen with `{PROFILE_ENV}`): {hint}the known \
                 profiles are {known}, add a `[profiles.{shown}]` section to define it"
            ),
        ))
    }

    /// Every profile name [`ConfigFile::profile`] accepts, sorted: `development`, `production`
    /// and those with a `[profiles.<name>]` section.
    pub fn profile_names(&self) -> Vec<String> {
        let mut names: Vec<String> = BUILT_IN_PROFILES.iter().map(|n| (*n).to_owned()).collect();
        names.extend(self.profiles.keys().cloned());
        names.sort();
        names.dedup();
        names
    }
}

#[cfg(test)]
mod tests {
    use crate::config::testing::{errors, file, only_error};

    #[test]
    fn built_in_profiles_are_the_base_config() {
        let f = file("[pool]\nmax_connections = 30\n");
        assert_eq!(f.profile_names(), ["development", "production"]);
        for name in ["development", "production"] {
            assert_eq!(f.profile(name).map(|c| c.pool.max_connections), Ok(30));
        }
    }

    #[test]
    fn profiles_override_single_keys() {
        let f = file(
            "[pool]\nmax_connections = 30\nmin_connections = 2\n\
             [migrations.lints]\nrenaming-column = \"deny\"\ndropping-table = \"deny\"\n\
             [profiles.production.pool]\nmax_connections = 50\n\
             [profiles.production.migrations]\non_startup = \"verify\"\n\
             [profiles.staging]\nsession.schema = \"staging\"\n",
        );
        assert_eq!(f.profile_names(), ["development", "production", "staging"]);
        let prod = f.profile("production");
        let prod = prod.as_ref();
        assert_eq!(prod.map(|c| c.pool.max_connections), Ok(50));
        // keys the profile does not set come from the base
        assert_eq!(prod.map(|c| c.pool.min_connections), Ok(2));
        // compile-time settings (lints) are the base's in every profile; run-time ones override
        let lints = prod.map(|c| {
            c.migrations
                .lints
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect::<Vec<_>>()
        });
        assert_eq!(
            lints,
            Ok(vec![
                ("dropping-table", "deny"),
                ("renaming-column", "deny")
            ])
        );
        assert_eq!(prod.map(|c| c.migrations.on_startup.as_str()), Ok("verify"));
        let staging = f.profile("staging");
        assert_eq!(
            staging.as_ref().map(|c| c.session.schema.as_str()),
            Ok("staging")
        );
        assert_eq!(staging.as_ref().map(|c| c.pool.max_connections), Ok(30));
        // the base is untouched by any profile
        assert_eq!(
            f.profile("development").map(|c| c.pool.max_connections),
            Ok(30)
        );
        assert_eq!(f.base().session.schema, "public");
    }

    #[test]
    fn unknown_profile_names_the_known_ones() {
        let f = file("[profiles.staging.pool]\nmax_connections = 5\nmin_connections = 1\n");
        let err = f.profile("stagin").err();
        let err = err.as_ref();
        assert_eq!(err.map(|e| e.key.as_str()), Some("profiles.stagin"));
        let message = err.map(|e| e.message.as_str()).unwrap_or_default();
        assert!(message.starts_with("unknown profile `stagin` (chosen with `PGREADY_PROFILE`)"));
        assert!(message.contains("did you mean `staging`?"), "{message}");
        assert!(
            message.contains("`development`, `production`, `staging`"),
            "{message}"
        );
        let err = f
            .profile("qa")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(
            err,
            "`profiles.qa`: unknown profile `qa` (chosen with `PGREADY_PROFILE`): the known \
             profiles are `development`, `production`, `staging`, add a `[profiles.qa]` section \
             to define it"
        );
    }

    #[test]
    fn each_profile_is_validated_at_its_own_keys() {
        let all = errors(
            "[pool]\nmax_connections = 10\nmin_connections = 2\n\
             [profiles.production.pool]\nmin_connections = 12\n\
             [profiles.staging.session]\nlock_timeout = \"1m\"\n",
        );
        let found: Vec<(&str, usize, usize)> = all
            .iter()
            .map(|d| (d.key.as_str(), d.line, d.column))
            .collect();
        assert_eq!(
            found,
            [
                ("profiles.production.pool.min_connections", 5, 1),
                ("profiles.staging.session.lock_timeout", 7, 1),
            ]
        );
        assert_eq!(
            all[0].message,
            "`min_connections` (12) is greater than `max_connections` (10)"
        );
        assert!(
            all[1]
                .message
                .contains("`lock_timeout` (1m) is longer than `statement_timeout` (30s)")
        );
    }

    #[test]
    fn a_base_error_is_reported_once() {
        let all = errors(
            "[pool]\nmax_connections = 0\n[profiles.a.health]\ncache = \"2s\"\n\
             [profiles.b.health]\ncache = \"3s\"\n",
        );
        assert_eq!(all.len(), 1, "{all:?}");
        assert_eq!(
            (all[0].key.as_str(), all[0].line),
            ("pool.max_connections", 2)
        );
    }

    #[test]
    fn a_profile_is_blamed_for_what_it_sets() {
        // the profile raises the write pool past the server limit the base respects
        let d = only_error(
            "[database]\nserver_max_connections = 100\n[profiles.production.pool]\n\
             max_connections = 80\n",
        );
        assert_eq!(
            (d.key.as_str(), d.line),
            ("profiles.production.pool.max_connections", 4)
        );
        assert!(
            d.message
                .contains("(80) + `read_pool.max_connections` (40) = 120"),
            "{d}"
        );
    }

    #[test]
    fn unknown_sections_and_keys_in_profiles() {
        let all = errors(
            "[profiles.production.pools]\nmax_connections = 1\n\
             [profiles.production.pool]\nmax_conections = 1\n\
             [profiles.production.profiles.x.pool]\nmax_connections = 1\n",
        );
        let found: Vec<(&str, usize)> = all.iter().map(|d| (d.key.as_str(), d.line)).collect();
        assert_eq!(
            found,
            [
                ("profiles.production.pools", 1),
                ("profiles.production.pool.max_conections", 4),
                ("profiles.production.profiles", 5),
            ]
        );
        assert!(
            all[0]
                .message
                .contains("did you mean `[profiles.production.pool]`?"),
            "{}",
            all[0]
        );
        assert!(
            all[1].message.contains("did you mean `max_connections`?"),
            "{}",
            all[1]
        );
        assert!(all[2].message.contains("cannot be nested"), "{}", all[2]);
    }

    #[test]
    fn profile_names_and_shapes() {
        let d = only_error("[profiles.\"prod env\".pool]\nmax_connections = 30\n");
        assert_eq!((d.key.as_str(), d.line), ("profiles.prod env", 1));
        assert!(d.message.contains("is not a profile name"), "{d}");
        let d = only_error("[profiles]\nproduction = 3\n");
        assert_eq!((d.key.as_str(), d.line), ("profiles.production", 2));
        assert!(d.message.contains("found integer"), "{d}");
        let d = only_error("profiles = \"production\"\n");
        assert_eq!((d.key.as_str(), d.line), ("profiles", 1));
        assert!(d.message.contains("found string"), "{d}");
        let d = only_error("[profiles.production]\npool = 3\n");
        assert_eq!(d.key, "profiles.production.pool");
        assert!(
            d.message
                .contains("expected a table `[profiles.production.pool]`"),
            "{d}"
        );
    }
}
