//! One check's result ([`Check`], [`Status`]) and the custom checks a health function adds
//! ([`Checks`]).

use std::fmt;
use std::future::IntoFuture;

use futures_core::future::BoxFuture;

/// `pass`, `warn` or `fail`, as draft-inadarei-api-health-check spells them.
///
/// Ordered by severity, so the report's status is the greatest of its checks'.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// Healthy.
    Pass,
    /// Healthy, with a concern (HTTP 200).
    Warn,
    /// Unhealthy (HTTP 503).
    Fail,
}

impl Status {
    /// `"pass"`, `"warn"` or `"fail"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }

    /// Every status, mildest first.
    pub const ALL: [Status; 3] = [Status::Pass, Status::Warn, Status::Fail];
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of one check: one entry under a `component:measurement` key of the report.
///
/// ```
/// use pgready::health::{Check, Status};
///
/// let check = Check::warn("queue is long").with_observed(950.0, "jobs");
/// assert_eq!(check.status(), Status::Warn);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    pub(crate) status: Status,
    pub(crate) component_id: Option<String>,
    pub(crate) component_type: Option<String>,
    pub(crate) observed_value: Option<f64>,
    pub(crate) observed_unit: Option<String>,
    /// Free text, such as an error message: shown only with `detail = "full"`.
    pub(crate) output: Option<String>,
    /// Members beyond the draft's, such as a pool's connection counts. Never secret.
    pub(crate) fields: Vec<(&'static str, serde_json::Value)>,
    /// What [`fields`](Self::fields) may not show without `detail = "full"`.
    pub(crate) secret_fields: Vec<(&'static str, serde_json::Value)>,
}

impl Check {
    fn new(status: Status, output: Option<String>) -> Check {
        Check {
            status,
            component_id: None,
            component_type: None,
            observed_value: None,
            observed_unit: None,
            output,
            fields: Vec::new(),
            secret_fields: Vec::new(),
        }
    }

    /// A passing check.
    pub fn pass() -> Check {
        Check::new(Status::Pass, None)
    }

    /// A check that passes with a concern; `output` says which (shown only with
    /// `detail = "full"`).
    pub fn warn(output: impl Into<String>) -> Check {
        Check::new(Status::Warn, Some(output.into()))
    }

    /// A failed check; `output` says why (shown only with `detail = "full"`).
    pub fn fail(output: impl Into<String>) -> Check {
        Check::new(Status::Fail, Some(output.into()))
    }

    /// The value measured and its unit (`observedValue`, `observedUnit`), such as
    /// `(12.5, "ms")`.
    pub fn with_observed(mut self, value: f64, unit: impl Into<String>) -> Check {
        self.observed_value = Some(value);
        self.observed_unit = Some(unit.into());
        self
    }

    /// Which instance of the component this is (`componentId`), when a key has several.
    pub fn with_component_id(mut self, id: impl Into<String>) -> Check {
        self.component_id = Some(id.into());
        self
    }

    /// The kind of component (`componentType`): `datastore`, `component` or `system`.
    pub fn with_component_type(mut self, kind: impl Into<String>) -> Check {
        self.component_type = Some(kind.into());
        self
    }

    /// Free text for `output` (shown only with `detail = "full"`).
    pub fn with_output(mut self, output: impl Into<String>) -> Check {
        self.output = Some(output.into());
        self
    }

    /// The check's status.
    pub fn status(&self) -> Status {
        self.status
    }

    /// `componentId`, if set.
    pub fn component_id(&self) -> Option<&str> {
        self.component_id.as_deref()
    }

    /// `observedValue`, if set.
    pub fn observed_value(&self) -> Option<f64> {
        self.observed_value
    }

    /// `observedUnit`, if set.
    pub fn observed_unit(&self) -> Option<&str> {
        self.observed_unit.as_deref()
    }

    /// `output`, if set (the report shows it only with `detail = "full"`).
    pub fn output(&self) -> Option<&str> {
        self.output.as_deref()
    }

    pub(crate) fn field(
        mut self,
        name: &'static str,
        value: impl Into<serde_json::Value>,
    ) -> Check {
        self.fields.push((name, value.into()));
        self
    }

    pub(crate) fn secret_field(
        mut self,
        name: &'static str,
        value: impl Into<serde_json::Value>,
    ) -> Check {
        self.secret_fields.push((name, value.into()));
        self
    }

    /// A built-in field's value, for metrics.
    pub(crate) fn field_value(&self, name: &str) -> Option<&serde_json::Value> {
        self.fields.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }
}

/// `Ok(())` passes; `Err(e)` fails with `e` as the output.
impl<E: fmt::Display> From<Result<(), E>> for Check {
    fn from(result: Result<(), E>) -> Check {
        match result {
            Ok(()) => Check::pass(),
            Err(e) => Check::fail(e.to_string()),
        }
    }
}

/// `Ok(check)` is `check`; `Err(e)` fails with `e` as the output.
impl<E: fmt::Display> From<Result<Check, E>> for Check {
    fn from(result: Result<Check, E>) -> Check {
        result.unwrap_or_else(|e| Check::fail(e.to_string()))
    }
}

/// Custom checks, returned by a `#[pgready::health_endpoint]` function that takes the
/// [`Db`](crate::Db).
///
/// Each check is a future run concurrently with the built-in ones, under the endpoint's
/// timeout; one that panics or runs out of time is a failed check, not a failed request.
///
/// ```
/// use pgready::health::{Check, Checks};
///
/// #[pgready::health_endpoint]
/// async fn health(db: &pgready::Db) -> Checks {
///     let db = db.clone();
///     Checks::new()
///         .add("items:count", async move {
///             let n: i64 = pgready::sqlx::query_scalar("SELECT count(*) FROM items")
///                 .fetch_one(db.read())
///                 .await?;
///             Ok::<_, pgready::sqlx::Error>(Check::pass().with_observed(n as f64, "items"))
///         })
///         .add("queue:connectivity", async { Ok::<(), String>(()) })
/// }
/// ```
#[derive(Default)]
pub struct Checks {
    pub(crate) entries: Vec<(String, BoxFuture<'static, Check>)>,
}

impl Checks {
    /// No checks yet.
    pub fn new() -> Checks {
        Checks::default()
    }

    /// Adds a check under `name` (`component:measurement`, such as `"redis:connectivity"`).
    ///
    /// The future's output is a [`Check`], or a `Result<(), E>` / `Result<Check, E>` whose
    /// error fails the check.
    pub fn add<F>(mut self, name: impl Into<String>, check: F) -> Checks
    where
        F: IntoFuture + Send + 'static,
        F::IntoFuture: Send + 'static,
        F::Output: Into<Check>,
    {
        let future = check.into_future();
        self.entries
            .push((name.into(), Box::pin(async move { future.await.into() })));
        self
    }

    /// How many checks were added.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none were added.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl fmt::Debug for Checks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|(name, _)| name))
            .finish()
    }
}
