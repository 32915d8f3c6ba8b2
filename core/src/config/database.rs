//! `[database]`: where the DSN comes from and how to reach the server.

use std::time::Duration;

use super::ident;
use super::resolve::{Checker, KeyRef, Resolved};
use super::schema::Section;
use crate::dsn;
use crate::word::words;

/// PostgreSQL's default `superuser_reserved_connections`, used when `server_max_connections` is
/// given without `reserved_connections`.
pub const DEFAULT_RESERVED_CONNECTIONS: u32 = 3;

/// `[database]`: connection source and server-wide settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Database {
    /// environment variable that holds the primary DSN (default `DATABASE_URL`)
    pub url_env: String,
    /// environment variable that holds the replica DSN (default `DATABASE_READ_URL`); `None`
    /// (`read_url_env = false`) means reads always use the primary
    pub read_url_env: Option<String>,
    /// refuse a DSN whose `sslmode` is not `require`, `verify-ca` or `verify-full`
    pub require_tls: bool,
    /// how long to keep retrying a refused connection at start-up
    pub connect_retry: Duration,
    /// whether a throw-away local cluster may be started when no DSN is set
    pub embedded: Embedded,
    /// running behind PgBouncer in transaction pooling: no statement cache, no session state
    pub pgbouncer: bool,
    /// environment variable that holds a direct DSN for migrations (default
    /// `DATABASE_MIGRATIONS_URL`); unset at run time → migrations use `url_env`'s DSN. `None`
    /// (`migrations_url_env = false`) means always `url_env`'s
    pub migrations_url_env: Option<String>,
    /// where reads go while the replica is down or lags past `[health] max_replica_lag`
    pub read_fallback: ReadFallback,
    /// the server's `max_connections`, when known: bounds the pools' sizes
    pub server_max_connections: Option<u32>,
    /// connections the pools must leave free on the server (default 3 when
    /// `server_max_connections` is given)
    pub reserved_connections: Option<u32>,
    /// databases `pgready db reset` refuses to touch, by name or host: each entry is a pattern
    /// where `*` stands for any run of characters (`"prod"`, `"*_production"`,
    /// `"*.prod.internal"`), matched against the DSN's database name (exactly) and its host
    /// (ignoring case). Default: none (the `production` profile is always refused)
    pub protected: Vec<String>,
}

words! {
    /// `database.embedded`: whether pgready may start a local PostgreSQL when no DSN is set.
    pub enum Embedded {
        /// start one when no DSN is set and the profile is not `production`
        Auto = "auto",
        /// never: a missing DSN is an error
        Never = "never",
    }
}

words! {
    /// `database.read_fallback`: where `db.read()` goes while the replica cannot serve.
    pub enum ReadFallback {
        /// to the primary, until the replica answers and has caught up again
        Primary = "primary",
        /// nowhere else: a replica down at start-up refuses to start, and reads stay on it
        Error = "error",
    }
}

const URL_ENV: KeyRef = (Section::Database, "url_env");
const READ_URL_ENV: KeyRef = (Section::Database, "read_url_env");
const MIGRATIONS_URL_ENV: KeyRef = (Section::Database, "migrations_url_env");
pub(crate) const PGBOUNCER: KeyRef = (Section::Database, "pgbouncer");
pub(crate) const SERVER_MAX: KeyRef = (Section::Database, "server_max_connections");
pub(crate) const RESERVED: KeyRef = (Section::Database, "reserved_connections");
const PROTECTED: KeyRef = (Section::Database, "protected");

impl Default for Database {
    fn default() -> Self {
        Database {
            url_env: "DATABASE_URL".to_owned(),
            read_url_env: Some("DATABASE_READ_URL".to_owned()),
            require_tls: false,
            connect_retry: Duration::from_secs(30),
            embedded: Embedded::Auto,
            pgbouncer: false,
            migrations_url_env: Some("DATABASE_MIGRATIONS_URL".to_owned()),
            read_fallback: ReadFallback::Primary,
            server_max_connections: None,
            reserved_connections: None,
            protected: Vec::new(),
        }
    }
}

impl Database {
    /// How many connections the pools together may open: `server_max_connections` minus
    /// `reserved_connections` (default 3), or `None` when the server's limit is not given.
    pub fn connection_limit(&self) -> Option<u32> {
        let max = self.server_max_connections?;
        let reserved = self
            .reserved_connections
            .unwrap_or(DEFAULT_RESERVED_CONNECTIONS);
        Some(max.saturating_sub(reserved))
    }

    pub(crate) fn build(r: &Resolved<'_>) -> Self {
        let d = Database::default();
        let key = |name| (Section::Database, name);
        Database {
            url_env: r.string(URL_ENV, &d.url_env),
            read_url_env: match &d.read_url_env {
                Some(default) => r.opt_string(READ_URL_ENV, default),
                None => None,
            },
            require_tls: r.boolean(key("require_tls"), d.require_tls),
            connect_retry: r.duration(key("connect_retry"), d.connect_retry),
            embedded: r.word(key("embedded")).unwrap_or(d.embedded),
            pgbouncer: r.boolean(PGBOUNCER, d.pgbouncer),
            migrations_url_env: match &d.migrations_url_env {
                Some(default) => r.opt_string(MIGRATIONS_URL_ENV, default),
                None => None,
            },
            read_fallback: r.word(key("read_fallback")).unwrap_or(d.read_fallback),
            server_max_connections: r.count(SERVER_MAX),
            reserved_connections: r.count(RESERVED),
            protected: r.strings(PROTECTED),
        }
    }

    /// The first `protected` pattern that matches the database `name` (exactly, `*` for any
    /// run of characters) or the server `host` (ignoring case), if any.
    ///
    /// ```
    /// let mut db = pgready_core::config::Database::default();
    /// db.protected = vec!["prod".into(), "*_production".into(), "*.prod.internal".into()];
    /// assert_eq!(db.protects("app_production", "localhost"), Some("*_production"));
    /// assert_eq!(db.protects("app", "DB1.Prod.Internal"), Some("*.prod.internal"));
    /// assert_eq!(db.protects("production", "localhost"), None);
    /// ```
    pub fn protects(&self, name: &str, host: &str) -> Option<&str> {
        let host = host.to_ascii_lowercase();
        self.protected
            .iter()
            .find(|p| glob(p, name) || glob(&p.to_ascii_lowercase(), &host))
            .map(String::as_str)
    }

    pub(crate) fn validate(&self, c: &mut Checker<'_>) {
        for pattern in &self.protected {
            c.check(PROTECTED, check_protected(pattern));
        }
        c.check(URL_ENV, check_url_env("url_env", &self.url_env));
        if let Some(read) = &self.read_url_env {
            c.check(READ_URL_ENV, check_url_env("read_url_env", read));
        }
        if let Some(migrations) = &self.migrations_url_env {
            c.check(
                MIGRATIONS_URL_ENV,
                check_url_env("migrations_url_env", migrations),
            );
        }
        if let Some(max) = self.server_max_connections {
            if max == 0 {
                c.check(SERVER_MAX, Err("must be at least 1".to_owned()));
            }
            let reserved = self
                .reserved_connections
                .unwrap_or(DEFAULT_RESERVED_CONNECTIONS);
            if max > 0 && reserved >= max && c.usable(&[SERVER_MAX, RESERVED]) {
                let blamed = c.blame(RESERVED, &[SERVER_MAX]);
                c.error(
                    blamed,
                    format!(
                        "`reserved_connections` ({reserved}) leaves no connection for the pools \
                         out of `server_max_connections` ({max})"
                    ),
                );
            }
        }
    }
}

/// A `protected` entry names a database or a host, never a DSN (which may carry a password,
/// so it is not repeated).
fn check_protected(pattern: &str) -> Result<(), String> {
    // one with a password is already reported by the secrets check, which says more
    if dsn::looks_like_dsn(pattern) && !dsn::has_password(pattern) {
        return Err(
            "`protected` lists database names or hosts (`\"prod\"`, `\"*.prod.internal\"`), \
             not DSNs: write the name or the host alone"
                .to_owned(),
        );
    }
    if pattern.trim().is_empty() || pattern.chars().any(char::is_control) {
        return Err(format!(
            "`{}` is not a database name or host: write one such as `\"prod\"` or \
             `\"*_production\"`",
            pattern.escape_default()
        ));
    }
    Ok(())
}

/// Whether `text` matches `pattern`, where `*` stands for any run of characters.
fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// `url_env`, `read_url_env` and `migrations_url_env` name a variable: a DSN (or anything like one) is refused
/// without being repeated, since it may carry a password.
fn check_url_env(key: &str, value: &str) -> Result<(), String> {
    if dsn::looks_like_dsn(value) {
        return Err(format!(
            "`{key}` names an environment variable, not a DSN: put the DSN in the environment"
        ));
    }
    ident::check_env_var(value)
}

#[cfg(test)]
mod tests {
    use crate::config::testing::{errors, only_error, parse_ok};

    #[test]
    fn protected_patterns() {
        use super::glob;
        assert!(glob("prod", "prod"));
        assert!(!glob("prod", "prod2"));
        assert!(glob("prod*", "prod2"));
        assert!(glob("*prod*", "my_prod_db"));
        assert!(glob("a*b*c", "abc"));
        assert!(!glob("a*b*c", "acb"));
        assert!(!glob("ab*ab", "ab"));
        assert!(glob("*", ""));
        let db = parse_ok("[database]\nprotected = [\"prod\", \"*.prod.internal\"]\n").database;
        assert_eq!(db.protected, ["prod", "*.prod.internal"]);
        assert_eq!(db.protects("prod", "localhost"), Some("prod"));
        assert_eq!(
            db.protects("Prod", "localhost"),
            None,
            "names are case-sensitive"
        );
        assert_eq!(
            db.protects("app", "db.PROD.internal"),
            Some("*.prod.internal")
        );
        assert_eq!(parse_ok("").database.protects("prod", "prod"), None);
    }

    #[test]
    fn a_protected_dsn_is_refused_without_repeating_it() {
        let d = only_error("[database]\nprotected = [\"postgres://db.prod/app\"]\n");
        assert_eq!(d.key, "database.protected");
        assert!(d.message.contains("not DSNs"), "{d}");
        let d = only_error("[database]\nprotected = [\"postgres://u:hunter2@db/app\"]\n");
        assert_eq!(d.key, "database.protected[0]", "the secrets check");
        assert!(!d.to_string().contains("hunter2"), "{d}");
        let d = only_error("[database]\nprotected = [\"\"]\n");
        assert!(d.message.contains("not a database name"), "{d}");
    }
    use crate::config::{Embedded, ReadFallback, secrets};

    #[test]
    fn defaults() {
        let db = parse_ok("").database;
        assert_eq!(db.url_env, "DATABASE_URL");
        assert_eq!(db.read_url_env.as_deref(), Some("DATABASE_READ_URL"));
        assert!(!db.require_tls);
        assert_eq!(db.connect_retry.as_secs(), 30);
        assert_eq!(db.embedded, Embedded::Auto);
        assert!(!db.pgbouncer);
        assert_eq!(
            db.migrations_url_env.as_deref(),
            Some("DATABASE_MIGRATIONS_URL")
        );
        assert_eq!(db.read_fallback, ReadFallback::Primary);
        assert_eq!(db.server_max_connections, None);
        assert_eq!(db.reserved_connections, None);
        assert_eq!(db.connection_limit(), None);
    }

    #[test]
    fn every_key_is_read() {
        let db = parse_ok(
            "[database]\nurl_env = \"PRIMARY\"\nread_url_env = false\nrequire_tls = true\n\
             connect_retry = \"2m\"\nembedded = \"never\"\npgbouncer = true\n\
             migrations_url_env = \"DIRECT\"\nread_fallback = \"error\"\n\
             server_max_connections = 200\nreserved_connections = 10\n",
        )
        .database;
        assert_eq!(db.url_env, "PRIMARY");
        assert_eq!(db.read_url_env, None);
        assert!(db.require_tls);
        assert_eq!(db.connect_retry.as_secs(), 120);
        assert_eq!(db.embedded, Embedded::Never);
        assert!(db.pgbouncer);
        assert_eq!(db.migrations_url_env.as_deref(), Some("DIRECT"));
        assert_eq!(db.read_fallback, ReadFallback::Error);
        assert_eq!(db.connection_limit(), Some(190));
        let off = parse_ok("[database]\nmigrations_url_env = false\n").database;
        assert_eq!(off.migrations_url_env, None);
    }

    #[test]
    fn connection_limit_defaults_reserved_to_three() {
        let db = parse_ok("[database]\nserver_max_connections = 100\n").database;
        assert_eq!(db.connection_limit(), Some(97));
    }

    #[test]
    fn url_env_holding_a_dsn_is_refused_without_repeating_it() {
        for value in [
            "postgres://app:hunter2@db/app",
            "host=db password=hunter2",
            "postgres://db/app",
        ] {
            let source = format!("[database]\n\nurl_env = \"{value}\"\n");
            let d = only_error(&source);
            assert_eq!(d.key, "database.url_env");
            assert_eq!((d.line, d.column), (3, 1));
            assert_eq!(
                d.message,
                "`url_env` names an environment variable, not a DSN: put the DSN in the environment"
            );
            assert!(!d.to_string().contains("hunter2"));
        }
        let d = only_error("[database]\nmigrations_url_env = \"postgres://direct/app\"\n");
        assert_eq!(d.key, "database.migrations_url_env");
        let d = only_error("[database]\nread_url_env = \"postgresql://x:y@replica/app\"\n");
        assert_eq!(d.key, "database.read_url_env");
        assert!(
            d.message
                .starts_with("`read_url_env` names an environment variable")
        );
    }

    #[test]
    fn url_env_must_be_a_variable_name() {
        let d = only_error("[database]\nurl_env = \"MY-URL\"\n");
        assert_eq!((d.key.as_str(), d.line), ("database.url_env", 2));
        assert!(
            d.message
                .contains("`\"MY-URL\"` is not an environment variable name"),
            "{d}"
        );
        let d = only_error("[database]\nread_url_env = \"\"\n");
        assert!(d.message.contains("write `false` to turn it off"), "{d}");
        let d = only_error("[database]\nread_url_env = true\n");
        assert!(d.message.contains("expected a string, or `false`"), "{d}");
    }

    #[test]
    fn embedded_lists_valid_values() {
        let d = only_error("[database]\nembedded = \"always\"\n");
        assert_eq!(d.key, "database.embedded");
        assert!(
            d.message.contains("expected `\"auto\"` or `\"never\"`"),
            "{d}"
        );
        let d = only_error("[database]\nembedded = \"Never\"\n");
        assert!(d.message.contains("did you mean `\"never\"`?"), "{d}");
    }

    #[test]
    fn read_fallback_lists_valid_values() {
        let d = only_error("[database]\nread_fallback = \"replica\"\n");
        assert_eq!(d.key, "database.read_fallback");
        assert!(
            d.message.contains("expected `\"primary\"` or `\"error\"`"),
            "{d}"
        );
    }

    #[test]
    fn server_limits_are_sane() {
        let d = only_error("[database]\nserver_max_connections = 0\n");
        assert_eq!(d.key, "database.server_max_connections");
        assert!(d.message.contains("at least 1"), "{d}");
        let d = only_error(
            "[database]\nserver_max_connections = 5\nreserved_connections = 5\n\
             [pool]\nmax_connections = 1\nmin_connections = 0\n[read_pool]\nmax_connections = 1\nmin_connections = 0\n",
        );
        assert_eq!(
            (d.key.as_str(), d.line),
            ("database.reserved_connections", 3)
        );
        assert!(d.message.contains("leaves no connection"), "{d}");
    }

    #[test]
    fn negative_and_oversized_counts_are_type_errors() {
        let d = only_error("[database]\nserver_max_connections = -1\n");
        assert!(
            d.message.contains("must not be negative, found `-1`"),
            "{d}"
        );
        let d = only_error("[database]\nserver_max_connections = 99999999999\n");
        assert!(d.message.contains("too large"), "{d}");
        let d = only_error("[database]\nserver_max_connections = 1.5\n");
        assert!(
            d.message
                .contains("expected a non-negative integer, found float"),
            "{d}"
        );
    }

    #[test]
    fn a_password_anywhere_in_the_file_is_an_error() {
        let all = errors(
            "[migrations]\ndir = \"postgres://u:s3cr3t@h/db\"\n[profiles.x.session]\n\
             time_zone = \"host=h password=s3cr3t\"\n",
        );
        let secret: Vec<_> = all
            .iter()
            .filter(|d| d.message == secrets::SECRET_IN_FILE)
            .map(|d| (d.key.as_str(), d.line))
            .collect();
        assert_eq!(
            secret,
            [("migrations.dir", 2), ("profiles.x.session.time_zone", 4)]
        );
        for d in &all {
            assert!(!d.to_string().contains("s3cr3t"), "{d}");
        }
    }
}
