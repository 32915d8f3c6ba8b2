//! One probe: every check at once, each in a task of its own, all under one deadline. A check
//! that panics or is still running at the deadline becomes a failed check; the probe itself
//! always returns in time.

use std::collections::HashMap;
use std::future::Future;
use std::time::{Instant, SystemTime};

use futures_core::future::BoxFuture;
use tokio::task::{Id, JoinError, JoinSet};
use tracing::Instrument;

use super::builtin;
use super::check::{Check, Checks};
use super::endpoint::{Kind, Options};
use super::report::Report;
use crate::Db;

/// The key under which a custom health function that panicked or hung is reported.
pub(crate) const CUSTOM_KEY: &str = "custom:checks";

/// A health function's custom checks: the user's function, boxed.
pub type CustomChecks = for<'a> fn(&'a Db) -> BoxFuture<'a, Checks>;

/// What a check's task hands back.
pub(crate) enum Done {
    /// Finished entries, as `(key, check)`.
    Entries(Vec<(String, Check)>),
    /// The user's function returned its checks: they run next, under the same deadline.
    Custom(Checks),
}

/// The entries a task reports, so a task that never finishes still shows in the report.
type Expected = Vec<(String, Option<&'static str>)>;

struct Slot {
    expected: Expected,
    result: Option<Vec<(String, Check)>>,
}

struct Tasks {
    set: JoinSet<Done>,
    slots: Vec<Slot>,
    ids: HashMap<Id, usize>,
}

impl Tasks {
    fn spawn<F>(&mut self, expected: Expected, task: F)
    where
        F: Future<Output = Done> + Send + 'static,
    {
        let span = crate::spans::health_check(expected.iter().map(|(key, _)| &**key));
        let handle = self.set.spawn(task.instrument(span));
        self.ids.insert(handle.id(), self.slots.len());
        self.slots.push(Slot {
            expected,
            result: None,
        });
    }

    fn slot(&mut self, id: Id) -> Option<&mut Slot> {
        let index = *self.ids.get(&id)?;
        self.slots.get_mut(index)
    }
}

/// Runs every check for `options.kind` (plus the custom ones) and waits at most
/// `options.timeout`.
pub(crate) async fn run(db: &Db, options: Options, custom: Option<CustomChecks>) -> Report {
    let time = SystemTime::now();
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + options.timeout;
    let mut entries = Vec::new();
    let mut tasks = Tasks {
        set: JoinSet::new(),
        slots: Vec::new(),
        ids: HashMap::new(),
    };

    match options.kind {
        Kind::Readiness => {
            entries.extend(builtin::pools(db));
            let primary = db.clone();
            tasks.spawn(expected(builtin::PRIMARY), async move {
                Done::Entries(builtin::primary(&primary, options.timeout).await)
            });
            if db.has_replica() {
                let replica = db.clone();
                tasks.spawn(expected(builtin::REPLICA), async move {
                    Done::Entries(builtin::replica(&replica, options.timeout).await)
                });
            }
        }
        Kind::Liveness => entries.push(builtin::uptime(db)),
    }
    if let Some(custom) = custom {
        let db = db.clone();
        tasks.spawn(vec![(CUSTOM_KEY.to_owned(), None)], async move {
            Done::Custom(custom(&db).await)
        });
    }

    loop {
        let next = tokio::time::timeout_at(deadline, tasks.set.join_next_with_id()).await;
        match next {
            Err(_) | Ok(None) => break,
            Ok(Some(Ok((id, Done::Entries(done))))) => {
                if let Some(slot) = tasks.slot(id) {
                    slot.result = Some(done);
                }
            }
            Ok(Some(Ok((id, Done::Custom(checks))))) => {
                if let Some(slot) = tasks.slot(id) {
                    slot.result = Some(Vec::new());
                }
                for (name, check) in checks.entries {
                    let key = name.clone();
                    tasks.spawn(vec![(name, None)], async move {
                        Done::Entries(vec![(key, check.await)])
                    });
                }
            }
            Ok(Some(Err(e))) => {
                let id = e.id();
                let output = died(e);
                if let Some(slot) = tasks.slot(id) {
                    slot.result = Some(failed(&slot.expected, &output));
                }
            }
        }
    }
    // Whatever still runs is cancelled here (dropping a `JoinSet` aborts its tasks).
    drop(tasks.set);
    let timed_out = format!("no answer within the timeout of {:?}", options.timeout);
    for slot in tasks.slots {
        match slot.result {
            Some(done) => entries.extend(done),
            None => entries.extend(failed(&slot.expected, &timed_out)),
        }
    }
    Report::new(options.kind, entries, time, started.elapsed())
}

fn expected(entries: &[(&str, Option<&'static str>)]) -> Expected {
    entries
        .iter()
        .map(|&(key, id)| (key.to_owned(), id))
        .collect()
}

fn failed(expected: &Expected, output: &str) -> Vec<(String, Check)> {
    expected
        .iter()
        .map(|(key, id)| {
            let check = Check::fail(output);
            let check = match id {
                Some(id) => check.with_component_id(*id),
                None => check,
            };
            (key.clone(), check)
        })
        .collect()
}

/// Why a check's task ended without a result, with the panic message if it panicked.
fn died(e: JoinError) -> String {
    match e.try_into_panic() {
        Ok(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned());
            match message {
                Some(message) => format!("the check panicked: {message}"),
                None => "the check panicked".to_owned(),
            }
        }
        Err(_) => "the check was cancelled".to_owned(),
    }
}
