//! `[session]`: the settings applied on every new physical connection, and why they do not
//! survive PgBouncer's transaction pooling.

use std::time::Duration;

use super::database::PGBOUNCER;
use super::ident;
use super::resolve::{Checker, KeyRef, Resolved};
use super::schema::Section;
use crate::duration::{check_pg_timeout, show};

/// `[session]`: settings sent on every new connection. A zero duration disables the timeout, as
/// in PostgreSQL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// `statement_timeout` (default 30s)
    pub statement_timeout: Duration,
    /// `lock_timeout` (default 5s)
    pub lock_timeout: Duration,
    /// `idle_in_transaction_session_timeout` (default 60s)
    pub idle_in_transaction_timeout: Duration,
    /// `application_name` (default: the crate name), at most 63 bytes of printable ASCII
    pub application_name: String,
    /// `TimeZone` (default `UTC`)
    pub time_zone: String,
    /// the schema put first on `search_path` and created if absent (default `public`)
    pub schema: String,
}

const STATEMENT_TIMEOUT: KeyRef = (Section::Session, "statement_timeout");
const LOCK_TIMEOUT: KeyRef = (Section::Session, "lock_timeout");
const IDLE_TIMEOUT: KeyRef = (Section::Session, "idle_in_transaction_timeout");
const APPLICATION_NAME: KeyRef = (Section::Session, "application_name");
const TIME_ZONE: KeyRef = (Section::Session, "time_zone");
const SCHEMA: KeyRef = (Section::Session, "schema");

impl Session {
    /// The defaults, with `application_name` set to `crate_name`.
    pub fn defaults(crate_name: &str) -> Self {
        Session {
            statement_timeout: Duration::from_secs(30),
            lock_timeout: Duration::from_secs(5),
            idle_in_transaction_timeout: Duration::from_secs(60),
            application_name: crate_name.to_owned(),
            time_zone: "UTC".to_owned(),
            schema: "public".to_owned(),
        }
    }

    pub(crate) fn build(r: &Resolved<'_>, crate_name: &str) -> Self {
        let d = Session::defaults(crate_name);
        Session {
            statement_timeout: r.duration(STATEMENT_TIMEOUT, d.statement_timeout),
            lock_timeout: r.duration(LOCK_TIMEOUT, d.lock_timeout),
            idle_in_transaction_timeout: r.duration(IDLE_TIMEOUT, d.idle_in_transaction_timeout),
            application_name: r.string(APPLICATION_NAME, &d.application_name),
            time_zone: r.string(TIME_ZONE, &d.time_zone),
            schema: r.string(SCHEMA, &d.schema),
        }
    }

    pub(crate) fn validate(&self, c: &mut Checker<'_>) {
        c.check(STATEMENT_TIMEOUT, check_pg_timeout(self.statement_timeout));
        c.check(LOCK_TIMEOUT, check_pg_timeout(self.lock_timeout));
        c.check(
            IDLE_TIMEOUT,
            check_pg_timeout(self.idle_in_transaction_timeout),
        );
        check_lock_within_statement(
            c,
            (STATEMENT_TIMEOUT, self.statement_timeout),
            (LOCK_TIMEOUT, self.lock_timeout),
        );
        let name_check = ident::check_application_name(&self.application_name);
        if c.is_set(APPLICATION_NAME) {
            c.check(APPLICATION_NAME, name_check);
        } else if let Err(message) = name_check {
            c.error(
                APPLICATION_NAME,
                format!("the default `application_name` is the crate name, and {message}: set `application_name` in `[session]`"),
            );
        }
        c.check(TIME_ZONE, ident::check_time_zone(&self.time_zone));
        c.check(SCHEMA, ident::check_schema(&self.schema));
        warn_pgbouncer(c, self);
    }
}

/// `statement_timeout ≥ lock_timeout` when both are enabled: otherwise the statement timeout
/// always fires first and the lock timeout never does what it promises. Shared by `[session]`
/// and `[migrations]`.
pub(crate) fn check_lock_within_statement(
    c: &mut Checker<'_>,
    (statement_key, statement): (KeyRef, Duration),
    (lock_key, lock): (KeyRef, Duration),
) {
    if statement.is_zero() || lock.is_zero() || lock <= statement {
        return;
    }
    if !c.usable(&[statement_key, lock_key]) {
        return;
    }
    let blamed = c.blame(lock_key, &[statement_key]);
    c.error(
        blamed,
        format!(
            "`lock_timeout` ({}) is longer than `statement_timeout` ({}): the statement timeout \
             would always fire first, lower `lock_timeout` or raise `statement_timeout`",
            show(lock),
            show(statement)
        ),
    );
}

/// Behind PgBouncer in transaction pooling, a `SET` lands on whichever server connection runs
/// the transaction: the settings PgBouncer does not track per client must live on the role
/// instead. Each one set in the file is named with the statement that moves it there.
fn warn_pgbouncer(c: &mut Checker<'_>, session: &Session) {
    if !c.resolved.boolean(PGBOUNCER, false) {
        return;
    }
    let from_profile = c
        .resolved
        .setting(PGBOUNCER)
        .and_then(|s| s.origin.profile.clone());
    for wanted in session.role_settings() {
        let key = (Section::Session, wanted.key);
        let Some(setting) = c.resolved.setting(key) else {
            continue;
        };
        let mut message = format!(
            "with `pgbouncer = true` this setting is not kept per client: set it on the role \
             instead (`{}`)",
            wanted.statement("<role>")
        );
        // say where pgbouncer was turned on when it is not next to this setting
        if let Some(profile) = &from_profile
            && setting.origin.profile.as_ref() != Some(profile)
        {
            message.push_str(&format!(" (`pgbouncer = true` in profile `{profile}`)"));
        }
        c.warning(key, message);
    }
}

/// A `[session]` setting that PgBouncer's transaction pooling does not keep per client, as the
/// role must hold it (`ALTER ROLE … SET`). `application_name` and `time_zone` are not among
/// them: PgBouncer tracks those two per client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleSetting {
    /// the `[session]` key
    pub key: &'static str,
    /// PostgreSQL's name for the parameter
    pub parameter: &'static str,
    wanted: Wanted,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Wanted {
    Timeout(Duration),
    Schema(String),
}

impl Session {
    /// The settings a role must hold for this session behind a transaction pooler.
    pub fn role_settings(&self) -> Vec<RoleSetting> {
        let timeout = |key, parameter, d| RoleSetting {
            key,
            parameter,
            wanted: Wanted::Timeout(d),
        };
        vec![
            timeout(
                "statement_timeout",
                "statement_timeout",
                self.statement_timeout,
            ),
            timeout("lock_timeout", "lock_timeout", self.lock_timeout),
            timeout(
                "idle_in_transaction_timeout",
                "idle_in_transaction_session_timeout",
                self.idle_in_transaction_timeout,
            ),
            RoleSetting {
                key: "schema",
                parameter: "search_path",
                wanted: Wanted::Schema(self.schema.clone()),
            },
        ]
    }
}

impl RoleSetting {
    /// The value as `SET` takes it: `'30s'`, `'0'`, `"app"`.
    pub fn value(&self) -> String {
        match &self.wanted {
            Wanted::Timeout(d) => format!("'{}'", pg_duration(*d)),
            Wanted::Schema(schema) => quote_identifier(schema),
        }
    }

    /// `ALTER ROLE "<role>" SET <parameter> = <value>` (`role` quoted unless it is a
    /// placeholder such as `<role>`).
    pub fn statement(&self, role: &str) -> String {
        let role = if role.starts_with('<') {
            role.to_owned()
        } else {
            quote_identifier(role)
        };
        format!(
            "ALTER ROLE {role} SET {} = {}",
            self.parameter,
            self.value()
        )
    }

    /// Whether this setting is given by one of a role's `pg_db_role_setting.setconfig`
    /// entries (`name=value`), `entries` being those of the role in this database and in all
    /// databases, in that order. An unset `search_path` satisfies `schema = "public"` (the
    /// server's default puts `public` first unless a schema named after the role exists).
    pub fn is_satisfied_by<'a>(&self, entries: impl IntoIterator<Item = &'a str>) -> bool {
        let value = entries.into_iter().find_map(|entry| {
            let (name, value) = entry.split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case(self.parameter)
                .then(|| value.trim())
        });
        match (&self.wanted, value) {
            (Wanted::Timeout(want), Some(have)) => parse_pg_duration(have) == Some(*want),
            (Wanted::Schema(want), Some(have)) => first_schema(have).as_deref() == Some(want),
            (Wanted::Schema(want), None) => want == "public",
            (Wanted::Timeout(_), None) => false,
        }
    }
}

/// A duration in PostgreSQL's units: whole minutes as `min`, whole seconds as `s`, else `ms`.
fn pg_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        "0".to_owned()
    } else if ms.is_multiple_of(60_000) {
        format!("{}min", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// A timeout as PostgreSQL reads one: a number with an optional unit (`us`, `ms`, `s`, `min`,
/// `h`, `d`), milliseconds without; rounded to the millisecond.
fn parse_pg_duration(text: &str) -> Option<Duration> {
    let text = text.trim().trim_matches('\'');
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let ms_per_unit = match unit.trim() {
        "" | "ms" => 1.0,
        "us" => 0.001,
        "s" => 1000.0,
        "min" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        _ => return None,
    };
    let ms = (number * ms_per_unit).round();
    (ms.is_finite() && ms >= 0.0).then(|| Duration::from_millis(ms as u64))
}

/// The first schema of a `search_path` value, unquoted.
fn first_schema(search_path: &str) -> Option<String> {
    let first = search_path.split(',').next()?.trim();
    match first.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(quoted) => Some(quoted.replace("\"\"", "\"")),
        None => Some(first.to_ascii_lowercase()),
    }
}

fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::Severity;
    use crate::config::testing::{only_error, parse, parse_ok};

    #[test]
    fn defaults() {
        let s = parse_ok("").session;
        assert_eq!(s.statement_timeout, Duration::from_secs(30));
        assert_eq!(s.lock_timeout, Duration::from_secs(5));
        assert_eq!(s.idle_in_transaction_timeout, Duration::from_secs(60));
        assert_eq!(s.application_name, "my-service");
        assert_eq!(s.time_zone, "UTC");
        assert_eq!(s.schema, "public");
    }

    #[test]
    fn every_key_is_read() {
        let s = parse_ok(
            "[session]\nstatement_timeout = \"0\"\nlock_timeout = \"1s\"\n\
             idle_in_transaction_timeout = \"5m\"\napplication_name = \"api (eu-1)\"\n\
             time_zone = \"Europe/Paris\"\nschema = \"billing\"\n",
        )
        .session;
        assert_eq!(s.statement_timeout, Duration::ZERO);
        assert_eq!(s.lock_timeout, Duration::from_secs(1));
        assert_eq!(s.idle_in_transaction_timeout, Duration::from_secs(300));
        assert_eq!(s.application_name, "api (eu-1)");
        assert_eq!(s.time_zone, "Europe/Paris");
        assert_eq!(s.schema, "billing");
    }

    #[test]
    fn lock_timeout_within_statement_timeout() {
        let d = only_error("[session]\nstatement_timeout = \"2s\"\nlock_timeout = \"3s\"\n");
        assert_eq!((d.key.as_str(), d.line), ("session.lock_timeout", 3));
        assert!(
            d.message
                .starts_with("`lock_timeout` (3s) is longer than `statement_timeout` (2s)"),
            "{d}"
        );
        // statement_timeout alone set below the default lock_timeout (5s): blame what was written
        let d = only_error("[session]\nstatement_timeout = \"1s\"\n");
        assert_eq!((d.key.as_str(), d.line), ("session.statement_timeout", 2));
        // disabled on either side: no rule
        parse_ok("[session]\nstatement_timeout = \"0\"\nlock_timeout = \"1h\"\n");
        parse_ok("[session]\nstatement_timeout = \"1s\"\nlock_timeout = \"0\"\n");
        parse_ok("[session]\nstatement_timeout = \"5s\"\nlock_timeout = \"5s\"\n");
    }

    #[test]
    fn timeouts_fit_postgresql() {
        let d = only_error("[session]\nidle_in_transaction_timeout = \"100us\"\n");
        assert_eq!(d.key, "session.idle_in_transaction_timeout");
        assert!(d.message.contains("below 1ms"), "{d}");
        let d = only_error("[session]\nstatement_timeout = \"30days\"\n");
        assert!(d.message.contains("longer than PostgreSQL accepts"), "{d}");
    }

    #[test]
    fn schema_is_a_plain_identifier() {
        let d = only_error("[session]\nschema = \"My-Schema\"\n");
        assert_eq!((d.key.as_str(), d.line), ("session.schema", 2));
        assert!(
            d.message
                .starts_with("`\"My-Schema\"` is not a plain PostgreSQL identifier"),
            "{d}"
        );
        let long = "s".repeat(64);
        let d = only_error(&format!("[session]\nschema = \"{long}\"\n"));
        assert_eq!(d.key, "session.schema");
        parse_ok(&format!("[session]\nschema = \"{}\"\n", "s".repeat(63)));
    }

    #[test]
    fn application_name_is_short_printable_ascii() {
        let long = "a".repeat(64);
        let d = only_error(&format!("[session]\napplication_name = \"{long}\"\n"));
        assert_eq!((d.key.as_str(), d.line), ("session.application_name", 2));
        assert!(d.message.contains("64 bytes long"), "{d}");
        let d = only_error("[session]\napplication_name = \"naïve\"\n");
        assert!(d.message.contains("printable ASCII"), "{d}");
        parse_ok(&format!(
            "[session]\napplication_name = \"{}\"\n",
            "a".repeat(63)
        ));
    }

    #[test]
    fn default_application_name_comes_from_a_valid_crate_name() {
        let long = "c".repeat(70);
        let result = crate::config::parse("", &long);
        let all = result.err().unwrap_or_default();
        assert_eq!(all.len(), 1, "{all:?}");
        assert_eq!(
            (all[0].key.as_str(), all[0].line),
            ("session.application_name", 0)
        );
        assert!(
            all[0]
                .message
                .contains("set `application_name` in `[session]`")
        );
    }

    #[test]
    fn time_zone_is_any_safe_name() {
        let d = only_error("[session]\ntime_zone = \"UTC'; drop table x; --\"\n");
        assert_eq!((d.key.as_str(), d.line), ("session.time_zone", 2));
        assert!(d.message.contains("single quote"), "{d}");
        let d = only_error("[session]\ntime_zone = \"\"\n");
        assert!(d.message.starts_with("must not be empty"), "{d}");
        parse_ok("[session]\ntime_zone = \"America/New_York\"\n");
    }

    #[test]
    fn pgbouncer_with_session_settings_warns() {
        let parsed = parse(
            "[database]\npgbouncer = true\n[session]\nstatement_timeout = \"10s\"\nschema = \"app\"\n",
        );
        let Ok(parsed) = parsed else {
            panic!("expected a valid file, got {parsed:?}");
        };
        let warned: Vec<(&str, usize)> = parsed
            .warnings
            .iter()
            .map(|w| (w.key.as_str(), w.line))
            .collect();
        assert_eq!(
            warned,
            [("session.statement_timeout", 4), ("session.schema", 5)]
        );
        for w in &parsed.warnings {
            assert_eq!(w.severity, Severity::Warning);
        }
        assert_eq!(
            parsed.warnings[0].message,
            "with `pgbouncer = true` this setting is not kept per client: set it on the role \
             instead (`ALTER ROLE <role> SET statement_timeout = '10s'`)"
        );
        assert!(
            parsed.warnings[1]
                .message
                .ends_with("(`ALTER ROLE <role> SET search_path = \"app\"`)"),
            "{}",
            parsed.warnings[1]
        );
        // defaults only, settings PgBouncer keeps per client, or no pgbouncer: nothing to say
        let quiet = parse("[database]\npgbouncer = true\n").map(|p| p.warnings.len());
        assert_eq!(quiet, Ok(0));
        let quiet = parse(
            "[database]\npgbouncer = true\n[session]\ntime_zone = \"Europe/Paris\"\n\
             application_name = \"api\"\n",
        )
        .map(|p| p.warnings.len());
        assert_eq!(quiet, Ok(0));
        let quiet = parse("[session]\nschema = \"app\"\n").map(|p| p.warnings.len());
        assert_eq!(quiet, Ok(0));
    }

    #[test]
    fn pgbouncer_from_a_profile_warns_about_base_settings() {
        let parsed = parse(
            "[session]\nlock_timeout = \"1s\"\n[profiles.production.database]\npgbouncer = true\n",
        );
        let warnings = parsed.map(|p| p.warnings).unwrap_or_default();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(
            (warnings[0].key.as_str(), warnings[0].line),
            ("session.lock_timeout", 2)
        );
        assert!(
            warnings[0]
                .message
                .ends_with("(`pgbouncer = true` in profile `production`)")
        );
    }

    #[test]
    fn role_settings_and_their_statements() {
        let s = parse_ok(
            "[session]\nstatement_timeout = \"1m\"\nlock_timeout = \"1500ms\"\n\
             idle_in_transaction_timeout = \"0\"\nschema = \"billing\"\n",
        )
        .session;
        let statements: Vec<String> = s
            .role_settings()
            .iter()
            .map(|r| r.statement("app \"x\""))
            .collect();
        assert_eq!(
            statements,
            [
                "ALTER ROLE \"app \"\"x\"\"\" SET statement_timeout = '1min'",
                "ALTER ROLE \"app \"\"x\"\"\" SET lock_timeout = '1500ms'",
                "ALTER ROLE \"app \"\"x\"\"\" SET idle_in_transaction_session_timeout = '0'",
                "ALTER ROLE \"app \"\"x\"\"\" SET search_path = \"billing\"",
            ]
        );
    }

    #[test]
    fn role_settings_are_read_as_postgresql_stores_them() {
        let s = parse_ok("[session]\nschema = \"billing\"\n").session;
        let [statement, lock, idle, schema] = s.role_settings().try_into().unwrap();
        assert!(statement.is_satisfied_by(["statement_timeout=30s"]));
        assert!(statement.is_satisfied_by(["statement_timeout=30000"]));
        assert!(statement.is_satisfied_by(["Statement_Timeout = 0.5min"]));
        assert!(!statement.is_satisfied_by(["statement_timeout=31s"]));
        assert!(!statement.is_satisfied_by(["lock_timeout=30s"]));
        assert!(!statement.is_satisfied_by([]));
        // the entry for this database comes first and wins
        assert!(lock.is_satisfied_by(["lock_timeout=5s", "lock_timeout=1s"]));
        assert!(!lock.is_satisfied_by(["lock_timeout=1s", "lock_timeout=5s"]));
        assert!(idle.is_satisfied_by(["idle_in_transaction_session_timeout=1min"]));
        assert!(schema.is_satisfied_by(["search_path=billing, public"]));
        assert!(schema.is_satisfied_by(["search_path=\"billing\""]));
        assert!(!schema.is_satisfied_by(["search_path=public, billing"]));
        assert!(!schema.is_satisfied_by([]));
        let public = parse_ok("").session.role_settings().pop().unwrap();
        assert!(public.is_satisfied_by([]));
    }
}
