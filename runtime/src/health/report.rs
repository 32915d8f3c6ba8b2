//! The health report and its `application/health+json` body (draft-inadarei-api-health-check).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body as HttpBody, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Serialize;

use super::check::{Check, Status};
use super::endpoint::{Detail, Kind};

/// The media type of the body.
pub const CONTENT_TYPE: &str = "application/health+json";

/// The outcome of one probe: every check's result and their aggregate status.
///
/// Any failed check makes the report `fail` (HTTP 503); else any warning makes it `warn`
/// (HTTP 200); else it is `pass` (HTTP 200).
#[derive(Clone, Debug)]
pub struct Report {
    status: Status,
    kind: Kind,
    checks: Vec<(String, Check)>,
    time: SystemTime,
    duration: Duration,
}

impl Report {
    pub(crate) fn new(
        kind: Kind,
        checks: Vec<(String, Check)>,
        time: SystemTime,
        duration: Duration,
    ) -> Report {
        // Error text may quote a DSN (a custom check's message, a driver's error): never its
        // password, whatever the detail.
        let checks: Vec<(String, Check)> = checks
            .into_iter()
            .map(|(key, mut check)| {
                check.output = check
                    .output
                    .map(|text| pgready_core::dsn::redact_in(&text, ""));
                (key, check)
            })
            .collect();
        let status = checks
            .iter()
            .map(|(_, check)| check.status)
            .max()
            .unwrap_or(Status::Pass);
        Report {
            status,
            kind,
            checks,
            time,
            duration,
        }
    }

    /// `pass`, `warn` or `fail`: the most severe status of any check.
    pub fn status(&self) -> Status {
        self.status
    }

    /// Whether it probed readiness (the database) or liveness (the process only).
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Every check, as `(key, check)`, in the order they were added.
    pub fn checks(&self) -> impl Iterator<Item = (&str, &Check)> {
        self.checks.iter().map(|(key, check)| (key.as_str(), check))
    }

    /// The entries under one `component:measurement` key.
    pub fn check<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a Check> + 'a {
        self.checks
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, check)| check)
    }

    /// When the probe started.
    pub fn measured_at(&self) -> SystemTime {
        self.time
    }

    /// How long the probe took.
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// 200 for `pass` and `warn`, 503 for `fail`.
    pub fn http_status(&self) -> u16 {
        match self.status {
            Status::Fail => 503,
            Status::Pass | Status::Warn => 200,
        }
    }

    /// The `application/health+json` body at the given level of detail.
    ///
    /// `None` gives only the status; `Status` adds every check with its status and measured
    /// values but no free text; `Full` adds `output` (error text, passwords redacted) and the
    /// database targets.
    pub fn to_json(&self, detail: Detail) -> String {
        let time = rfc3339(self.time);
        let checks = (detail != Detail::None).then(|| {
            let mut map: BTreeMap<&str, Vec<Entry<'_>>> = BTreeMap::new();
            for (key, check) in &self.checks {
                map.entry(key.as_str())
                    .or_default()
                    .push(Entry::new(check, &time, detail));
            }
            map
        });
        let body = Body {
            status: self.status.as_str(),
            checks,
        };
        // Plain data with string keys: serialising cannot fail.
        serde_json::to_string(&body)
            .unwrap_or_else(|_| format!("{{\"status\":\"{}\"}}", self.status.as_str()))
    }

    /// The HTTP response: status code, `content-type: application/health+json`,
    /// `cache-control: no-store`.
    pub fn to_response(&self, detail: Detail) -> Response {
        self.render(detail).to_response()
    }

    /// The status code and body at `detail`, rendered once so that every request answered from
    /// the cache only clones them.
    pub(crate) fn render(&self, detail: Detail) -> Rendered {
        let status = if self.status == Status::Fail {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::OK
        };
        Rendered {
            status,
            body: Bytes::from(self.to_json(detail)),
        }
    }
}

/// A report's HTTP answer at one level of detail.
pub(crate) struct Rendered {
    status: StatusCode,
    /// Reference-counted: a response shares it instead of copying it.
    body: Bytes,
}

impl Rendered {
    pub(crate) fn to_response(&self) -> Response {
        let mut response = Response::new(HttpBody::from(self.body.clone()));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

#[derive(Serialize)]
struct Body<'a> {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    checks: Option<BTreeMap<&'a str, Vec<Entry<'a>>>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Entry<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    component_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    component_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    observed_value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    observed_unit: Option<&'a str>,
    status: &'static str,
    time: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<&'a str>,
    #[serde(flatten)]
    fields: serde_json::Map<String, serde_json::Value>,
}

impl<'a> Entry<'a> {
    fn new(check: &'a Check, time: &'a str, detail: Detail) -> Entry<'a> {
        let full = detail == Detail::Full;
        let mut fields: serde_json::Map<String, serde_json::Value> = check
            .fields
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone()))
            .collect();
        if full {
            fields.extend(
                check
                    .secret_fields
                    .iter()
                    .map(|(name, value)| ((*name).to_owned(), value.clone())),
            );
        }
        Entry {
            component_id: check.component_id.as_deref(),
            component_type: check.component_type.as_deref(),
            observed_value: check.observed_value,
            observed_unit: check.observed_unit.as_deref(),
            status: check.status.as_str(),
            time,
            output: check.output.as_deref().filter(|_| full),
            fields,
        }
    }
}

/// `2026-11-24T09:15:02.123Z`
pub(crate) fn rfc3339(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(i64::try_from(days).unwrap_or(0));
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        since.subsec_millis()
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(checks: Vec<(String, Check)>) -> Report {
        Report::new(
            Kind::Readiness,
            checks,
            UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
            Duration::from_millis(3),
        )
    }

    #[test]
    fn formats_utc_timestamps() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_millis(1_700_000_000_123)),
            "2023-11-14T22:13:20.123Z"
        );
        // a leap day
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00.000Z"
        );
    }

    #[test]
    fn any_fail_fails_else_any_warn_warns() {
        let pass = || ("a:b".to_owned(), Check::pass());
        let warn = || ("c:d".to_owned(), Check::warn("w"));
        let fail = || ("e:f".to_owned(), Check::fail("f"));
        assert_eq!(report(vec![]).status(), Status::Pass);
        assert_eq!(report(vec![pass(), pass()]).status(), Status::Pass);
        assert_eq!(report(vec![pass(), warn()]).status(), Status::Warn);
        assert_eq!(report(vec![warn(), fail(), pass()]).status(), Status::Fail);
        assert_eq!(report(vec![warn()]).http_status(), 200);
        assert_eq!(report(vec![fail()]).http_status(), 503);
    }

    #[test]
    fn detail_levels_hide_output_and_secret_fields() {
        let r = report(vec![
            (
                "postgres:connectivity".to_owned(),
                Check::fail("connection refused by db.internal")
                    .with_component_id("write")
                    .with_observed(1.5, "ms")
                    .secret_field("target", "db.internal:5432/app"),
            ),
            (
                "postgres:pool".to_owned(),
                Check::pass().field("connections", serde_json::json!({ "max": 10 })),
            ),
        ]);
        let none: serde_json::Value = serde_json::from_str(&r.to_json(Detail::None)).unwrap();
        assert_eq!(none, serde_json::json!({ "status": "fail" }));

        let status = r.to_json(Detail::Status);
        assert!(!status.contains("db.internal"), "{status}");
        let status: serde_json::Value = serde_json::from_str(&status).unwrap();
        let conn = &status["checks"]["postgres:connectivity"][0];
        assert_eq!(conn["status"], "fail");
        assert_eq!(conn["componentId"], "write");
        assert_eq!(conn["observedValue"], 1.5);
        assert_eq!(conn["observedUnit"], "ms");
        assert_eq!(conn["time"], "2023-11-14T22:13:20.123Z");
        assert!(conn.get("output").is_none());
        assert_eq!(
            status["checks"]["postgres:pool"][0]["connections"]["max"],
            10
        );

        let full: serde_json::Value = serde_json::from_str(&r.to_json(Detail::Full)).unwrap();
        let leaky = report(vec![(
            "x:y".to_owned(),
            Check::fail("cannot reach postgres://app:hunter2@db/app"),
        )]);
        assert!(
            !leaky.to_json(Detail::Full).contains("hunter2"),
            "passwords are redacted even with detail = full"
        );
        let conn = &full["checks"]["postgres:connectivity"][0];
        assert_eq!(conn["output"], "connection refused by db.internal");
        assert_eq!(conn["target"], "db.internal:5432/app");
    }
}
