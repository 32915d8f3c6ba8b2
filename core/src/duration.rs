//! Durations, in `pgready.toml` and in the attributes (`timeout = "2s"`): humantime strings
//! (`"30s"`, `"10m"`, `"1h 30m"`), `"0"` for zero.

use std::time::Duration;

use crate::message::quote;

/// PostgreSQL keeps its timeouts in milliseconds in an `int`.
pub(crate) const PG_TIMEOUT_MAX: Duration = Duration::from_millis(i32::MAX as u64);

/// Parses a duration, with a message that quotes it and shows the expected form.
///
/// ```
/// use std::time::Duration;
/// use pgready_core::duration;
///
/// assert_eq!(duration::parse("1m 30s"), Ok(Duration::from_secs(90)));
/// assert_eq!(duration::parse("0"), Ok(Duration::ZERO));
/// assert!(duration::parse("two seconds").is_err());
/// ```
pub fn parse(value: &str) -> Result<Duration, String> {
    humantime::parse_duration(value.trim()).map_err(|e| {
        format!(
            "invalid duration {}: {e}: write a number and a unit, such as `\"30s\"`, `\"10m\"` \
             or `\"500ms\"` (`\"0\"` for none)",
            quote(value)
        )
    })
}

/// `30s`, `1m 30s`, `500ms`, `0s`
pub(crate) fn show(value: Duration) -> String {
    if value.is_zero() {
        "0s".to_owned()
    } else {
        humantime::format_duration(value).to_string()
    }
}

/// Checks a PostgreSQL timeout setting (`statement_timeout`, `lock_timeout`, …): zero (disabled)
/// or between 1ms and PostgreSQL's limit, since PostgreSQL counts these in whole milliseconds.
pub(crate) fn check_pg_timeout(value: Duration) -> Result<(), String> {
    if !value.is_zero() && value < Duration::from_millis(1) {
        return Err(format!(
            "`{}` is below 1ms, which PostgreSQL would round to 0 (disabled): use at least \
             `\"1ms\"`, or `\"0\"` to disable",
            show(value)
        ));
    }
    if value > PG_TIMEOUT_MAX {
        return Err(format!(
            "`{}` is longer than PostgreSQL accepts (`{}`): use `\"0\"` to disable the timeout",
            show(value),
            show(PG_TIMEOUT_MAX)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_humantime_and_zero() {
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn bad_duration_quotes_value_and_example() {
        let err = parse("30 seconds please").unwrap_err();
        assert!(
            err.starts_with("invalid duration `\"30 seconds please\"`"),
            "{err}"
        );
        assert!(err.contains("`\"30s\"`"), "{err}");
        assert!(parse("30").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn pg_timeouts_are_whole_milliseconds_within_int() {
        assert!(check_pg_timeout(Duration::ZERO).is_ok());
        assert!(check_pg_timeout(Duration::from_millis(1)).is_ok());
        assert!(check_pg_timeout(Duration::from_micros(500)).is_err());
        assert!(check_pg_timeout(Duration::from_secs(30 * 24 * 3600)).is_err());
    }
}
