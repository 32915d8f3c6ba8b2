//! `pgready::Error` as an HTTP answer: RFC 9457 `application/problem+json`, chosen by the
//! error's [`ErrorClass`], with nothing from the error itself in the body (no SQL, DSN, host,
//! value or constraint); the full error goes to `tracing::error!`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{Error, ErrorClass};

/// The `content-type` of RFC 9457 problem details.
const PROBLEM_JSON: &str = "application/problem+json";

/// What a class answers: status, `type` slug, title, detail and `Retry-After` seconds.
struct Problem {
    status: StatusCode,
    slug: &'static str,
    title: &'static str,
    detail: &'static str,
    retry_after: Option<u32>,
}

fn problem(class: &ErrorClass) -> Problem {
    let p = |status, slug, title, detail, retry_after| Problem {
        status,
        slug,
        title,
        detail,
        retry_after,
    };
    match class {
        ErrorClass::UniqueViolation { .. } => p(
            StatusCode::CONFLICT,
            "unique-violation",
            "Conflict with existing data",
            "The request would duplicate data that must be unique.",
            None,
        ),
        ErrorClass::SerializationFailure | ErrorClass::Deadlock => p(
            StatusCode::CONFLICT,
            "transaction-conflict",
            "Conflict with concurrent requests",
            "The request conflicted with concurrent changes and could not complete; it may \
             succeed if sent again.",
            None,
        ),
        ErrorClass::PoolTimeout => p(
            StatusCode::SERVICE_UNAVAILABLE,
            "database-busy",
            "Database busy",
            "The service has no free database connection right now; try again shortly.",
            Some(1),
        ),
        ErrorClass::ConnectionLost => p(
            StatusCode::SERVICE_UNAVAILABLE,
            "database-unavailable",
            "Database unavailable",
            "The connection to the database was lost before the request completed; nothing was \
             saved. Try again shortly.",
            Some(5),
        ),
        ErrorClass::LockTimeout => p(
            StatusCode::SERVICE_UNAVAILABLE,
            "lock-timeout",
            "Data locked",
            "The data the request needs is locked by other work; try again shortly.",
            Some(1),
        ),
        ErrorClass::ReadOnly => p(
            StatusCode::SERVICE_UNAVAILABLE,
            "read-only",
            "Database read only",
            "The database accepts no writes right now; try again shortly.",
            Some(5),
        ),
        ErrorClass::StatementTimeout => p(
            StatusCode::GATEWAY_TIMEOUT,
            "statement-timeout",
            "Database timeout",
            "The database did not answer in time.",
            None,
        ),
        _ => p(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "The request failed because of an internal error.",
            None,
        ),
    }
}

/// An axum handler can return `Result<_, pgready::Error>`: the error answers RFC 9457
/// problem details (`type`, `title`, `status`, `detail`) by its [`ErrorClass`] (409 for a
/// unique violation or a transaction conflict; 503 with `Retry-After` for a pool timeout, a
/// lost connection, a lock timeout or a read-only database; 504 for a statement timeout; 500
/// otherwise). The body says only what the class says; the error itself, with its SQLSTATE,
/// constraint and message, is logged with `tracing::error!`.
impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let class = self.class();
        let p = problem(&class);
        tracing::error!(
            class = class.as_str(),
            status = p.status.as_u16(),
            "request failed: {self}"
        );
        let body = serde_json::json!({
            "type": format!("urn:pgready:problem:{}", p.slug),
            "title": p.title,
            "status": p.status.as_u16(),
            "detail": p.detail,
        });
        let mut response = (p.status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(seconds) = p.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_has_its_status() {
        let status = |c: ErrorClass| problem(&c).status.as_u16();
        let constraint = Some("items_name_key".to_owned());
        assert_eq!(status(ErrorClass::UniqueViolation { constraint }), 409);
        assert_eq!(status(ErrorClass::SerializationFailure), 409);
        assert_eq!(status(ErrorClass::Deadlock), 409);
        assert_eq!(status(ErrorClass::PoolTimeout), 503);
        assert_eq!(status(ErrorClass::ConnectionLost), 503);
        assert_eq!(status(ErrorClass::StatementTimeout), 504);
        assert_eq!(status(ErrorClass::CommitOutcomeUnknown), 500);
        assert_eq!(status(ErrorClass::Other), 500);
        assert!(problem(&ErrorClass::PoolTimeout).retry_after.is_some());
    }
}
