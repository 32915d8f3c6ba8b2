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
        warn_pgbouncer(c);
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
/// the transaction: the settings must live on the role instead.
fn warn_pgbouncer(c: &mut Checker<'_>) {
    if !c.resolved.boolean(PGBOUNCER, false) {
        return;
    }
    let from_profile = c
        .resolved
        .setting(PGBOUNCER)
        .and_then(|s| s.origin.profile.clone());
    for key in [
        STATEMENT_TIMEOUT,
        LOCK_TIMEOUT,
        IDLE_TIMEOUT,
        APPLICATION_NAME,
        TIME_ZONE,
        SCHEMA,
    ] {
        let Some(setting) = c.resolved.setting(key) else {
            continue;
        };
        let mut message = "with `pgbouncer = true` session settings are not kept per client: \
                           set them on the role (`ALTER ROLE … SET …`)"
            .to_owned();
        // say where pgbouncer was turned on when it is not next to this setting
        if let Some(profile) = &from_profile
            && setting.origin.profile.as_ref() != Some(profile)
        {
            message.push_str(&format!(" (`pgbouncer = true` in profile `{profile}`)"));
        }
        c.warning(key, message);
    }
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
            assert_eq!(
                w.message,
                "with `pgbouncer = true` session settings are not kept per client: set them on \
                 the role (`ALTER ROLE … SET …`)"
            );
        }
        // defaults only, or no pgbouncer: nothing to say
        let quiet = parse("[database]\npgbouncer = true\n").map(|p| p.warnings.len());
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
}
