//! `[pool]` and `[read_pool]`: sizes and timeouts of the write and read connection pools, and
//! the rule that both together fit in the server's connection limit.

use std::time::Duration;

use super::database::{RESERVED, SERVER_MAX};
use super::resolve::{Checker, KeyRef, Resolved};
use super::schema::Section;
use crate::duration::show;

/// `[pool]` / `[read_pool]`: one connection pool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pool {
    /// most connections the pool opens (write default 20, read default 40)
    pub max_connections: u32,
    /// connections kept open when idle (default 5)
    pub min_connections: u32,
    /// how long a request waits for a free connection before failing (default 10s, never 0)
    pub acquire_timeout: Duration,
    /// close connections idle this long (default 10m); `None` (`"0"`) keeps them
    pub idle_timeout: Option<Duration>,
    /// close connections this old (default 30m); `None` (`"0"`) keeps them
    pub max_lifetime: Option<Duration>,
    /// check a connection before handing it out, if it was idle longer than `validation_bypass`
    pub test_before_acquire: bool,
    /// connections used more recently than this are handed out without a check (default 500ms)
    pub validation_bypass: Duration,
}

impl Pool {
    /// The `[pool]` (write pool) defaults.
    pub fn write_defaults() -> Self {
        Pool {
            max_connections: 20,
            min_connections: 5,
            acquire_timeout: Duration::from_secs(10),
            idle_timeout: Some(Duration::from_secs(10 * 60)),
            max_lifetime: Some(Duration::from_secs(30 * 60)),
            test_before_acquire: true,
            validation_bypass: Duration::from_millis(500),
        }
    }

    /// The `[read_pool]` defaults: as `[pool]`, with `max_connections = 40`.
    pub fn read_defaults() -> Self {
        Pool {
            max_connections: 40,
            ..Pool::write_defaults()
        }
    }

    fn defaults(section: Section) -> Self {
        if section == Section::ReadPool {
            Pool::read_defaults()
        } else {
            Pool::write_defaults()
        }
    }

    pub(crate) fn build(r: &Resolved<'_>, section: Section) -> Self {
        let d = Pool::defaults(section);
        let key = |name| (section, name);
        let never_if_zero = |name, default: Option<Duration>| {
            let value = r.duration(key(name), default.unwrap_or(Duration::ZERO));
            (!value.is_zero()).then_some(value)
        };
        Pool {
            max_connections: r.count(key("max_connections")).unwrap_or(d.max_connections),
            min_connections: r.count(key("min_connections")).unwrap_or(d.min_connections),
            acquire_timeout: r.duration(key("acquire_timeout"), d.acquire_timeout),
            idle_timeout: never_if_zero("idle_timeout", d.idle_timeout),
            max_lifetime: never_if_zero("max_lifetime", d.max_lifetime),
            test_before_acquire: r.boolean(key("test_before_acquire"), d.test_before_acquire),
            validation_bypass: r.duration(key("validation_bypass"), d.validation_bypass),
        }
    }

    pub(crate) fn validate(&self, section: Section, c: &mut Checker<'_>) {
        let max: KeyRef = (section, "max_connections");
        let min: KeyRef = (section, "min_connections");
        if self.max_connections == 0 {
            c.check(max, Err("must be at least 1".to_owned()));
        } else if self.min_connections > self.max_connections && c.usable(&[min, max]) {
            let blamed = c.blame(min, &[max]);
            c.error(
                blamed,
                format!(
                    "`min_connections` ({}) is greater than `max_connections` ({})",
                    self.min_connections, self.max_connections
                ),
            );
        }
        if self.acquire_timeout.is_zero() {
            c.check(
                (section, "acquire_timeout"),
                Err(format!(
                    "must be greater than 0: a request must be able to wait for a connection, \
                     such as `\"{}\"`",
                    show(Pool::write_defaults().acquire_timeout)
                )),
            );
        }
    }
}

/// Write and read pools together must leave the server's reserved connections free.
pub(crate) fn validate_budget(
    limit: Option<u32>,
    server_max: Option<u32>,
    write: &Pool,
    read: &Pool,
    c: &mut Checker<'_>,
) {
    let (Some(limit), Some(server_max)) = (limit, server_max) else {
        return;
    };
    let write_max: KeyRef = (Section::Pool, "max_connections");
    let read_max: KeyRef = (Section::ReadPool, "max_connections");
    // a limit of 0 is already reported on `server_max_connections`/`reserved_connections`,
    // so is a pool of 0 connections
    if limit == 0
        || write.max_connections == 0
        || read.max_connections == 0
        || !c.usable(&[write_max, read_max, SERVER_MAX, RESERVED])
    {
        return;
    }
    let wanted = u64::from(write.max_connections) + u64::from(read.max_connections);
    if wanted > u64::from(limit) {
        let blamed = c.blame(write_max, &[read_max, SERVER_MAX, RESERVED]);
        c.error(
            blamed,
            format!(
                "`pool.max_connections` ({}) + `read_pool.max_connections` ({}) = {wanted} is \
                 more than `server_max_connections` ({server_max}) - `reserved_connections` ({}) \
                 = {limit}: lower the pool sizes or raise the server's limit",
                write.max_connections,
                read.max_connections,
                server_max - limit,
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::testing::{errors, only_error, parse_ok};

    #[test]
    fn defaults() {
        let config = parse_ok("");
        let write = &config.pool;
        assert_eq!(write.max_connections, 20);
        assert_eq!(write.min_connections, 5);
        assert_eq!(write.acquire_timeout, Duration::from_secs(10));
        assert_eq!(write.idle_timeout, Some(Duration::from_secs(600)));
        assert_eq!(write.max_lifetime, Some(Duration::from_secs(1800)));
        assert!(write.test_before_acquire);
        assert_eq!(write.validation_bypass, Duration::from_millis(500));
        assert_eq!(config.read_pool.max_connections, 40);
        assert_eq!(config.read_pool.min_connections, 5);
        assert_eq!(config.read_pool.idle_timeout, write.idle_timeout);
    }

    #[test]
    fn every_key_is_read_and_zero_means_never() {
        let config = parse_ok(
            "[read_pool]\nmax_connections = 8\nmin_connections = 0\nacquire_timeout = \"3s\"\n\
             idle_timeout = \"0\"\nmax_lifetime = \"0\"\ntest_before_acquire = false\n\
             validation_bypass = \"0\"\n",
        );
        let read = &config.read_pool;
        assert_eq!(read.max_connections, 8);
        assert_eq!(read.min_connections, 0);
        assert_eq!(read.acquire_timeout, Duration::from_secs(3));
        assert_eq!(read.idle_timeout, None);
        assert_eq!(read.max_lifetime, None);
        assert!(!read.test_before_acquire);
        assert_eq!(read.validation_bypass, Duration::ZERO);
        // the write pool keeps its own defaults
        assert_eq!(config.pool.max_connections, 20);
    }

    #[test]
    fn max_connections_at_least_one() {
        let d = only_error("[pool]\nmax_connections = 0\nmin_connections = 0\n");
        assert_eq!(
            (d.key.as_str(), d.line, d.column),
            ("pool.max_connections", 2, 1)
        );
        assert_eq!(d.message, "must be at least 1");
        let d = only_error("[read_pool]\nmin_connections = 0\nmax_connections = 0\n");
        assert_eq!((d.key.as_str(), d.line), ("read_pool.max_connections", 3));
    }

    #[test]
    fn min_not_above_max_in_both_pools() {
        let d = only_error("[pool]\nmax_connections = 4\n");
        // min is the default 5: the key that was written is the one to change
        assert_eq!((d.key.as_str(), d.line), ("pool.max_connections", 2));
        assert_eq!(
            d.message,
            "`min_connections` (5) is greater than `max_connections` (4)"
        );
        let d = only_error("[read_pool]\nmin_connections = 41\n");
        assert_eq!((d.key.as_str(), d.line), ("read_pool.min_connections", 2));
        assert!(
            d.message
                .contains("(41) is greater than `max_connections` (40)"),
            "{d}"
        );
        parse_ok("[pool]\nmin_connections = 20\nmax_connections = 20\n");
    }

    #[test]
    fn acquire_timeout_is_positive() {
        let d = only_error("[pool]\nacquire_timeout = \"0\"\n");
        assert_eq!((d.key.as_str(), d.line), ("pool.acquire_timeout", 2));
        assert!(d.message.starts_with("must be greater than 0"), "{d}");
        let d = only_error("[pool]\nacquire_timeout = \"10 secs please\"\n");
        assert!(
            d.message
                .starts_with("invalid duration `\"10 secs please\"`"),
            "{d}"
        );
        let d = only_error("[pool]\nidle_timeout = 600\n");
        assert!(d.message.contains("expected a duration string"), "{d}");
        assert!(d.message.ends_with("found integer"), "{d}");
    }

    #[test]
    fn pools_fit_the_server_limit() {
        // 20 + 40 > 50 - 3
        let d = only_error("[database]\nserver_max_connections = 50\n");
        assert_eq!(
            (d.key.as_str(), d.line),
            ("database.server_max_connections", 2)
        );
        assert!(
            d.message.starts_with(
                "`pool.max_connections` (20) + `read_pool.max_connections` (40) = 60 is more \
                 than `server_max_connections` (50) - `reserved_connections` (3) = 47"
            ),
            "{d}"
        );
        // exactly at the limit is fine
        parse_ok("[database]\nserver_max_connections = 63\n");
        parse_ok("[database]\nserver_max_connections = 70\nreserved_connections = 10\n");
        let d = only_error("[database]\nserver_max_connections = 70\nreserved_connections = 11\n");
        assert!(
            d.message.contains("`reserved_connections` (11) = 59"),
            "{d}"
        );
        // an empty pool is reported once, not also against the limit
        let d = only_error(
            "[database]\nserver_max_connections = 10\n[pool]\nmax_connections = 0\n\
             min_connections = 0\n",
        );
        assert_eq!(d.message, "must be at least 1");
        // a written pool size is blamed before the server limit
        let d =
            only_error("[database]\nserver_max_connections = 100\n[pool]\nmax_connections = 60\n");
        assert_eq!((d.key.as_str(), d.line), ("pool.max_connections", 4));
    }

    #[test]
    fn type_errors_do_not_cascade() {
        // without the invalid max, the default (20) would be compared with min (30)
        let all = errors("[pool]\nmax_connections = \"4\"\nmin_connections = 30\n");
        assert_eq!(all.len(), 1, "{all:?}");
        assert!(
            all[0]
                .message
                .contains("expected a non-negative integer, found string")
        );
    }
}
