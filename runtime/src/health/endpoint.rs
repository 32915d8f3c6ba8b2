//! An endpoint's options, as `#[pgready::health_endpoint]` writes them into the handler it
//! generates, and as they are in force for one probe (`[health]` filling in the rest).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use pgready_core::config;

// The attribute's words, parsed by the macro with the same enums.
pub use pgready_core::health::{Detail, Kind};

/// One endpoint's options, as the attribute wrote them; `None` takes `[health]` from
/// `pgready.toml`. Lives in a `static` of the generated handler.
#[doc(hidden)]
#[derive(Debug)]
pub struct Endpoint {
    /// `kind = "…"`
    pub kind: Kind,
    /// `timeout = "…"`
    pub timeout: Option<Duration>,
    /// `cache = "…"`
    pub cache: Option<Duration>,
    /// `detail = "…"`
    pub detail: Detail,
    /// Identifies this endpoint's cache in each [`Db`]; assigned on first use.
    pub id: EndpointId,
}

/// A process-unique number for an endpoint, taken on first use.
#[doc(hidden)]
#[derive(Debug)]
pub struct EndpointId(AtomicU64);

impl EndpointId {
    /// Not assigned yet.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> EndpointId {
        EndpointId(AtomicU64::new(0))
    }

    pub(crate) fn get(&self) -> u64 {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let current = self.0.load(Ordering::Acquire);
        if current != 0 {
            return current;
        }
        let fresh = NEXT.fetch_add(1, Ordering::Relaxed);
        match self
            .0
            .compare_exchange(0, fresh, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => fresh,
            Err(taken) => taken,
        }
    }
}

impl Endpoint {
    /// An endpoint with the given options.
    pub const fn new(
        kind: Kind,
        timeout: Option<Duration>,
        cache: Option<Duration>,
        detail: Detail,
    ) -> Endpoint {
        Endpoint {
            kind,
            timeout,
            cache,
            detail,
            id: EndpointId::new(),
        }
    }
}

/// The options in force for one probe: the attribute's, else `[health]`'s.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Options {
    pub(crate) kind: Kind,
    pub(crate) timeout: Duration,
    pub(crate) cache: Duration,
}

impl Options {
    pub(crate) fn resolve(endpoint: &Endpoint, health: &config::Health) -> Options {
        Options {
            kind: endpoint.kind,
            timeout: endpoint.timeout.unwrap_or(health.timeout),
            cache: endpoint.cache.unwrap_or(health.cache),
        }
    }
}
