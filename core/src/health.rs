//! The health endpoint's options: the words of `#[pgready::health_endpoint(kind = "…",
//! detail = "…")]`, which the macro parses at compile time and the runtime's handler acts on,
//! and the rule on its `timeout`, which `[health]` in `pgready.toml` and the attribute share.
//!
//! ```
//! use pgready_core::health::{Detail, Kind};
//!
//! assert_eq!("liveness".parse::<Kind>(), Ok(Kind::Liveness));
//! assert_eq!(Detail::VALID, ["none", "status", "full"]);
//! let typo = "ful".parse::<Detail>().unwrap_err();
//! assert_eq!(
//!     typo.message_for("detail"),
//!     "invalid value `\"ful\"` for `detail`: did you mean `\"full\"`? expected `\"none\"`, \
//!      `\"status\"` or `\"full\"`"
//! );
//! ```

use std::time::Duration;

use crate::word::words;

words! {
    /// `kind = "…"`: what a probe looks at.
    pub enum Kind {
        /// Can this instance serve traffic? Probes the database (the default).
        Readiness = "readiness",
        /// Is this process alive? Never touches the database, so a database outage does not
        /// make an orchestrator restart every instance.
        Liveness = "liveness",
    }
}

words! {
    /// `detail = "…"`: how much the body tells.
    pub enum Detail {
        /// `{"status": "pass"}` and nothing else.
        None = "none",
        /// Every check with its status and measured values; no error text, no host names (the
        /// default).
        Status = "status",
        /// Also error text (`output`, passwords redacted) and the database targets: for
        /// endpoints that only operators can reach.
        Full = "full",
    }
}

/// A probe's `timeout` (`[health] timeout`, or the attribute's): never zero.
pub fn check_timeout(timeout: Duration) -> Result<(), String> {
    if timeout.is_zero() {
        return Err(
            "must be greater than 0: a probe needs time to reach the database, such as `\"2s\"`"
                .to_owned(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_round_trips() {
        for word in Kind::VALID {
            assert_eq!(word.parse::<Kind>().map(Kind::as_str), Ok(*word));
        }
        for word in Detail::VALID {
            assert_eq!(word.parse::<Detail>().map(Detail::as_str), Ok(*word));
        }
        assert_eq!(Kind::VALID, ["readiness", "liveness"]);
    }

    #[test]
    fn unknown_words_name_the_valid_ones() {
        let e = "ready".parse::<Kind>().unwrap_err();
        let message = e.message_for("kind");
        assert!(
            message.ends_with("expected `\"readiness\"` or `\"liveness\"`"),
            "{message}"
        );
        let e = "verbose".parse::<Detail>().unwrap_err();
        assert!(
            e.to_string()
                .ends_with("expected `\"none\"`, `\"status\"` or `\"full\"`"),
            "{e}"
        );
    }

    #[test]
    fn timeout_is_positive() {
        assert!(check_timeout(Duration::ZERO).is_err());
        assert!(check_timeout(Duration::from_millis(1)).is_ok());
    }
}
