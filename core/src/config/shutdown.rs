//! `[shutdown]`: how long a stopping service keeps serving, and how long it waits for what is
//! still running.

use std::time::Duration;

use super::resolve::{Checker, KeyRef, Resolved};
use super::schema::Section;
use crate::duration::show;

/// `[shutdown]`: the graceful shutdown on SIGTERM or Ctrl-C.
///
/// On the signal, readiness endpoints answer 503 at once; the service keeps serving for
/// `drain`, so that load balancers see the 503 and stop sending; then `db.shutdown_signal()`
/// resolves (the server stops accepting), and in-flight requests and the pools get `grace` to
/// finish before the process exits anyway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shutdown {
    /// readiness answers 503 this long before the server is told to stop (default 5s; `"0"`
    /// stops at once, for a platform that takes the instance out before the signal)
    pub drain: Duration,
    /// then in-flight requests and the pools' connections get this long (default 30s, never 0)
    pub grace: Duration,
}

const GRACE: KeyRef = (Section::Shutdown, "grace");

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown {
            drain: Duration::from_secs(5),
            grace: Duration::from_secs(30),
        }
    }
}

impl Shutdown {
    pub(crate) fn build(r: &Resolved<'_>) -> Self {
        let d = Shutdown::default();
        Shutdown {
            drain: r.duration((Section::Shutdown, "drain"), d.drain),
            grace: r.duration(GRACE, d.grace),
        }
    }

    pub(crate) fn validate(&self, c: &mut Checker<'_>) {
        if self.grace.is_zero() {
            c.check(
                GRACE,
                Err(format!(
                    "must be greater than 0: requests still running and the pools' connections \
                     need time to finish, such as `\"{}\"`",
                    show(Shutdown::default().grace)
                )),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::testing::{file, only_error, parse_ok};

    #[test]
    fn defaults() {
        let s = parse_ok("").shutdown;
        assert_eq!(s.drain, Duration::from_secs(5));
        assert_eq!(s.grace, Duration::from_secs(30));
    }

    #[test]
    fn every_key_is_read_and_profiles_override() {
        let f = file(
            "[shutdown]\ndrain = \"0\"\ngrace = \"2s\"\n\
             [profiles.production.shutdown]\ndrain = \"10s\"\n",
        );
        assert_eq!(f.base().shutdown.drain, Duration::ZERO);
        assert_eq!(f.base().shutdown.grace, Duration::from_secs(2));
        let prod = f.profile("production").map(|c| c.shutdown);
        assert_eq!(prod.as_ref().map(|s| s.drain), Ok(Duration::from_secs(10)));
        assert_eq!(prod.as_ref().map(|s| s.grace), Ok(Duration::from_secs(2)));
    }

    #[test]
    fn grace_is_positive() {
        let d = only_error("[shutdown]\ngrace = \"0\"\n");
        assert_eq!((d.key.as_str(), d.line), ("shutdown.grace", 2));
        assert!(d.message.starts_with("must be greater than 0"), "{d}");
        let d = only_error("[profiles.production.shutdown]\ngrace = \"0s\"\n");
        assert_eq!(d.key, "profiles.production.shutdown.grace");
    }

    #[test]
    fn misspelt_and_borrowed_names_are_hinted() {
        let d = only_error("[shutdown]\ndrian = \"1s\"\n");
        assert!(d.message.ends_with("did you mean `drain`?"), "{d}");
        let d = only_error("[shutdown]\ngrace_period = \"10s\"\n");
        assert!(d.message.ends_with("did you mean `grace`?"), "{d}");
        let d = only_error("[shutdown]\nwait = \"10s\"\n");
        assert!(d.message.ends_with("expected `drain` or `grace`"), "{d}");
        let d = only_error("[shutdown]\ngrace = 10\n");
        assert!(d.message.starts_with("expected a duration string"), "{d}");
    }
}
