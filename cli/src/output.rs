//! What the operations commands print: JSON documents on stdout, and the small units people
//! read in the text form.

use std::time::{Duration, SystemTime};

use crate::failure::Failure;

/// Prints `value` as one pretty JSON document on stdout.
pub fn json<T: serde::Serialize + ?Sized>(value: &T) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Failure::Error(format!("cannot write JSON: {e}")))?;
    println!("{text}");
    Ok(())
}

/// `1.23 MiB`
pub fn bytes(n: u64) -> String {
    indicatif::BinaryBytes(n).to_string()
}

/// `850 ms`, `3.4 s`, `2 min 05 s`
pub fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{} min {:02} s", ms / 60_000, (ms / 1000) % 60)
    }
}

/// RFC 3339 in UTC with milliseconds: `2025-01-31T12:00:03.250Z`.
pub fn timestamp(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

/// Reads a [`timestamp`] back.
pub fn parse_timestamp(text: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(text).ok()
}

/// Milliseconds, for JSON.
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(duration(Duration::from_millis(850)), "850 ms");
        assert_eq!(duration(Duration::from_millis(3_420)), "3.4 s");
        assert_eq!(duration(Duration::from_secs(125)), "2 min 05 s");
        assert_eq!(bytes(1536), "1.50 KiB");
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_250);
        assert_eq!(timestamp(t), "2023-11-14T22:13:20.250Z");
        assert_eq!(parse_timestamp(&timestamp(t)), Some(t));
    }
}
