//! `[health]`: limits of the health endpoint's probes.

use std::time::Duration;

use super::resolve::{Checker, KeyRef, Resolved};
use super::schema::Section;

/// `[health]`: how the health endpoint probes the database.
#[derive(Clone, Debug, PartialEq)]
pub struct Health {
    /// a probe never waits longer than this (default 2s, never 0)
    pub timeout: Duration,
    /// concurrent and repeated probes share one result for this long (default 1s)
    pub cache: Duration,
    /// replica lag above this makes the replication check warn (default 60s)
    pub max_replica_lag: Duration,
    /// pool utilization above this fraction makes the pool check warn (default 0.9, in (0, 1])
    pub pool_saturation_warn: f64,
}

const TIMEOUT: KeyRef = (Section::Health, "timeout");
const SATURATION: KeyRef = (Section::Health, "pool_saturation_warn");

impl Default for Health {
    fn default() -> Self {
        Health {
            timeout: Duration::from_secs(2),
            cache: Duration::from_secs(1),
            max_replica_lag: Duration::from_secs(60),
            pool_saturation_warn: 0.9,
        }
    }
}

impl Health {
    pub(crate) fn build(r: &Resolved<'_>) -> Self {
        let d = Health::default();
        let key = |name| (Section::Health, name);
        Health {
            timeout: r.duration(TIMEOUT, d.timeout),
            cache: r.duration(key("cache"), d.cache),
            max_replica_lag: r.duration(key("max_replica_lag"), d.max_replica_lag),
            pool_saturation_warn: r.ratio(SATURATION, d.pool_saturation_warn),
        }
    }

    pub(crate) fn validate(&self, c: &mut Checker<'_>) {
        // the same rule as the attribute's `timeout = "…"`
        c.check(TIMEOUT, crate::health::check_timeout(self.timeout));
        let ratio = self.pool_saturation_warn;
        // written this way round so that NaN fails too
        if !(ratio > 0.0 && ratio <= 1.0) {
            c.check(
                SATURATION,
                Err(format!(
                    "must be greater than 0 and at most 1 (a fraction of `max_connections`, such \
                     as `0.9`), found `{ratio}`"
                )),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::testing::{only_error, parse_ok};

    #[test]
    fn defaults() {
        let h = parse_ok("").health;
        assert_eq!(h.timeout, Duration::from_secs(2));
        assert_eq!(h.cache, Duration::from_secs(1));
        assert_eq!(h.max_replica_lag, Duration::from_secs(60));
        assert!((h.pool_saturation_warn - 0.9).abs() < f64::EPSILON);
    }

    #[test]
    fn every_key_is_read() {
        let h = parse_ok(
            "[health]\ntimeout = \"500ms\"\ncache = \"0\"\nmax_replica_lag = \"5m\"\n\
             pool_saturation_warn = 1\n",
        )
        .health;
        assert_eq!(h.timeout, Duration::from_millis(500));
        assert_eq!(h.cache, Duration::ZERO);
        assert_eq!(h.max_replica_lag, Duration::from_secs(300));
        assert!((h.pool_saturation_warn - 1.0).abs() < f64::EPSILON);
    }

    #[test]
    fn timeout_is_positive() {
        let d = only_error("[health]\ntimeout = \"0\"\n");
        assert_eq!((d.key.as_str(), d.line), ("health.timeout", 2));
        assert!(d.message.starts_with("must be greater than 0"), "{d}");
    }

    #[test]
    fn saturation_is_a_fraction() {
        for bad in ["0", "0.0", "1.5", "-0.2", "nan", "2"] {
            let d = only_error(&format!("[health]\npool_saturation_warn = {bad}\n"));
            assert_eq!(
                (d.key.as_str(), d.line),
                ("health.pool_saturation_warn", 2),
                "{bad}"
            );
            assert!(
                d.message
                    .starts_with("must be greater than 0 and at most 1"),
                "{d}"
            );
        }
        let d = only_error("[health]\npool_saturation_warn = \"90%\"\n");
        assert!(d.message.contains("found string"), "{d}");
        parse_ok("[health]\npool_saturation_warn = 0.01\n");
    }
}
