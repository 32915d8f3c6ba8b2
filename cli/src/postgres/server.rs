//! The server behind `[database] url_env`: connections to any of its databases, and the
//! environment that points PostgreSQL's client tools at it without the password ever reaching a
//! command line.

use std::ffi::OsString;

use pgready::embedded::ClientTools;
use pgready::sqlx::postgres::{PgConnectOptions, PgSslMode};
use pgready::sqlx::{self, ConnectOptions as _, Connection as _, PgConnection};
use pgready_core::dsn;

use crate::failure::Failure;
use crate::project::Project;

/// Environment variables a client tool must not inherit: each would override (or redirect) the
/// connection the DSN describes. An inherited `PGPASSWORD` or `~/.pgpass` is kept when the DSN
/// has no password: sqlx falls back to them as libpq does, so both connect alike.
const OVERRIDING_ENV: [&str; 4] = [
    "PGSERVICE",
    "PGHOSTADDR",
    "PGREQUIRESSL",
    "PGSSLNEGOTIATION",
];

/// The DSN's server, as sqlx parsed it.
pub struct Server {
    options: PgConnectOptions,
    /// The DSN itself, only to scrub it (and its password) out of text; never printed.
    secret: String,
    password: Option<String>,
}

/// What `SHOW server_version` says.
#[derive(Clone, Debug)]
pub struct Version {
    /// `15.18 (Debian 15.18-0+deb12u1)`
    pub text: String,
    /// `150018`
    pub num: i32,
}

impl Version {
    /// `15` for 15.x (and `9` for 9.6, whose tools `ClientTools` finds as `9`).
    pub fn major(&self) -> u32 {
        u32::try_from(self.num / 10_000).unwrap_or(0)
    }
}

impl Server {
    /// The server of the project's DSN (`[database] url_env`), with `require_tls` enforced.
    pub fn of(project: &Project) -> Result<Server, Failure> {
        let url = project.database_url()?;
        let env = &project.config.database.url_env;
        dsn::check_tls(&url, project.config.database.require_tls)
            .map_err(|e| Failure::Error(format!("`{env}`: {e}")))?;
        let options: PgConnectOptions = url.parse().map_err(|e: sqlx::Error| {
            Failure::Error(format!(
                "`{env}` is not a valid DSN: {}",
                dsn::redact_in(&e.to_string(), &url)
            ))
        })?;
        Ok(Server {
            options: options
                .application_name("pgready")
                .disable_statement_logging(),
            password: dsn::password(&url),
            secret: url,
        })
    }

    /// The DSN's database (sqlx's default: the user's name).
    pub fn database(&self) -> String {
        self.options
            .get_database()
            .unwrap_or_else(|| self.options.get_username())
            .to_owned()
    }

    /// Where the server is, for people: `host:port`, or the socket directory and port; never
    /// the user or password.
    pub fn address(&self) -> String {
        let o = &self.options;
        match o.get_socket() {
            Some(dir) => format!("{}:{}", dir.display(), o.get_port()),
            None => format!("{}:{}", o.get_host(), o.get_port()),
        }
    }

    /// The DSN's host (or socket directory), as `[database] protected` matches it.
    pub fn host(&self) -> String {
        match self.options.get_socket() {
            Some(dir) => dir.display().to_string(),
            None => self.options.get_host().to_owned(),
        }
    }

    /// A connection to `database` on the server; errors never carry the password.
    pub async fn connect(&self, database: &str) -> Result<PgConnection, Failure> {
        PgConnection::connect_with(&self.options.clone().database(database))
            .await
            .map_err(|e| {
                Failure::Error(format!(
                    "cannot connect to database `{database}`: {}",
                    self.scrub(&e.to_string())
                ))
            })
    }

    /// A connection for creating and dropping databases: to `postgres`, else `template1`, else
    /// the DSN's own database.
    pub async fn connect_admin(&self) -> Result<PgConnection, Failure> {
        let own = self.database();
        let mut last = None;
        for name in ["postgres", "template1", own.as_str()] {
            match self.connect(name).await {
                Ok(conn) => return Ok(conn),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| Failure::Error("cannot connect".to_owned())))
    }

    /// `text` without the DSN or its password in any form.
    pub fn scrub(&self, text: &str) -> String {
        dsn::redact_in(text, &self.secret)
    }

    /// The libpq environment that points a client tool at this server (the database goes in
    /// `--dbname`, see [`dbname_conninfo`]): host or socket directory, port, user, `sslmode`,
    /// options, `application_name`, and the password in `PGPASSWORD`, which only processes of
    /// the same OS user (and root) can read, unlike a command line. Variables that would
    /// override the DSN are removed ([`OVERRIDING_ENV`]).
    pub fn libpq_env(&self) -> (Vec<(&'static str, OsString)>, Vec<&'static str>) {
        let o = &self.options;
        let mut set: Vec<(&'static str, OsString)> = Vec::new();
        let host = match o.get_socket() {
            Some(dir) => dir.clone().into_os_string(),
            None => o.get_host().into(),
        };
        set.push(("PGHOST", host));
        set.push(("PGPORT", o.get_port().to_string().into()));
        set.push(("PGUSER", o.get_username().into()));
        set.push(("PGSSLMODE", ssl_mode(o.get_ssl_mode()).into()));
        set.push(("PGAPPNAME", "pgready".into()));
        set.push(("PGCONNECT_TIMEOUT", "10".into()));
        if let Some(options) = o.get_options() {
            set.push(("PGOPTIONS", options.into()));
        }
        if let Some(password) = &self.password {
            set.push(("PGPASSWORD", password.into()));
        }
        (set, OVERRIDING_ENV.to_vec())
    }
}

/// libpq's word for sqlx's `sslmode`.
fn ssl_mode(mode: PgSslMode) -> &'static str {
    match mode {
        PgSslMode::Disable => "disable",
        PgSslMode::Allow => "allow",
        PgSslMode::Prefer => "prefer",
        PgSslMode::Require => "require",
        PgSslMode::VerifyCa => "verify-ca",
        PgSslMode::VerifyFull => "verify-full",
    }
}

/// A libpq connection string naming only the database: passed as `--dbname`, so a name with
/// `=` or a `postgres://` prefix is still read as a name.
pub fn dbname_conninfo(database: &str) -> String {
    format!(
        "dbname='{}'",
        database.replace('\\', "\\\\").replace('\'', "\\'")
    )
}

/// The server's version.
pub async fn version(conn: &mut PgConnection) -> Result<Version, Failure> {
    let (text, num): (String, String) = sqlx::query_as(
        "SELECT current_setting('server_version'), current_setting('server_version_num')",
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| Failure::Error(format!("cannot read the server's version: {e}")))?;
    Ok(Version {
        text,
        num: num.parse().unwrap_or(0),
    })
}

/// The `pg_dump`/`pg_restore` for `version`'s major version, or what to install.
pub fn client_tools(version: &Version) -> Result<ClientTools, Failure> {
    ClientTools::discover(version.major()).map_err(|e| Failure::Error(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dbname_is_quoted_for_libpq() {
        assert_eq!(dbname_conninfo("app"), "dbname='app'");
        assert_eq!(dbname_conninfo("it's a=b\\c"), "dbname='it\\'s a=b\\\\c'");
    }
}
