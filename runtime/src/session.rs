//! Session settings applied on every new physical connection, in one round trip.

use std::time::Duration;

use pgready_core::config;

/// The `SET` batch for the application's connections (`[session]`).
///
/// `application_name` is not in it: it travels in the startup packet instead, so it shows in
/// `pg_stat_activity` from the first moment.
pub(crate) fn settings_sql(session: &config::Session) -> String {
    let mut sql = timeouts_sql(session.statement_timeout, session.lock_timeout);
    sql.push_str(&format!(
        "SET idle_in_transaction_session_timeout = {};\nSET TimeZone = {};\nSET search_path = {};\n",
        millis(session.idle_in_transaction_timeout),
        literal(&session.time_zone),
        identifier(&session.schema),
    ));
    sql
}

/// The `SET` batch behind a transaction pooler (`[database] pgbouncer = true`): only
/// `TimeZone`, which PgBouncer keeps per client and sets again on whichever server connection
/// the client gets. A `SET` of anything else would stay on one server connection, for
/// whichever client comes next: the role holds those (`ALTER ROLE … SET`).
pub(crate) fn pooled_settings_sql(session: &config::Session) -> String {
    format!("SET TimeZone = {};\n", literal(&session.time_zone))
}

/// The `SET` batch for the migration connection: `[migrations]` limits with the app's schema.
pub(crate) fn migration_settings_sql(
    migrations: &config::Migrations,
    session: &config::Session,
) -> String {
    let mut sql = timeouts_sql(migrations.statement_timeout, migrations.lock_timeout);
    sql.push_str(&format!(
        "SET idle_in_transaction_session_timeout = 0;\nSET TimeZone = {};\nSET search_path = {};\n",
        literal(&session.time_zone),
        identifier(&session.schema),
    ));
    sql
}

fn timeouts_sql(statement_timeout: Duration, lock_timeout: Duration) -> String {
    format!(
        "SET statement_timeout = {};\nSET lock_timeout = {};\n",
        millis(statement_timeout),
        millis(lock_timeout)
    )
}

/// PostgreSQL reads a bare integer as milliseconds; 0 disables the timeout.
fn millis(d: Duration) -> u128 {
    d.as_millis()
}

/// A string literal; config values are validated, this only guards the quoting.
pub(crate) fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// A quoted identifier (`"my schema"` stays one identifier).
pub(crate) fn identifier(value: &str) -> String {
    format!("\"{}\"", value.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_cannot_be_escaped() {
        assert_eq!(literal("Europe/O'Hare"), "'Europe/O''Hare'");
        assert_eq!(identifier("a\"b"), "\"a\"\"b\"");
    }
}
