//! Metrics where the user already has them: with the `metrics` feature (on for this crate),
//! every pgready figure reaches whatever `metrics` recorder the process installed, under
//! OpenTelemetry's names; and pool acquires, migrations and health probes run in `tracing`
//! spans with OpenTelemetry's attribute names.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};
use pgready_tests::{fresh_database, setup};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

// ---------------------------------------------------------------------------------------------
// A recorder that keeps every value, keyed by name and attributes.

#[derive(Default)]
struct Cell {
    counter: AtomicU64,
    gauge: AtomicU64,
    histogram: Mutex<Vec<f64>>,
}

impl CounterFn for Cell {
    fn increment(&self, value: u64) {
        self.counter.fetch_add(value, Ordering::SeqCst);
    }
    fn absolute(&self, value: u64) {
        self.counter.fetch_max(value, Ordering::SeqCst);
    }
}

impl GaugeFn for Cell {
    fn increment(&self, value: f64) {
        self.set(self.get() + value);
    }
    fn decrement(&self, value: f64) {
        self.set(self.get() - value);
    }
    fn set(&self, value: f64) {
        self.gauge.store(value.to_bits(), Ordering::SeqCst);
    }
}

impl HistogramFn for Cell {
    fn record(&self, value: f64) {
        self.histogram.lock().unwrap().push(value);
    }
}

impl Cell {
    fn get(&self) -> f64 {
        f64::from_bits(self.gauge.load(Ordering::SeqCst))
    }
}

type Series = (String, BTreeMap<String, String>);

#[derive(Default)]
struct TestRecorder {
    cells: Mutex<HashMap<Series, Arc<Cell>>>,
    units: Mutex<HashMap<String, Option<Unit>>>,
}

impl TestRecorder {
    fn cell(&self, key: &Key) -> Arc<Cell> {
        let labels = key
            .labels()
            .map(|l| (l.key().to_owned(), l.value().to_owned()))
            .collect();
        let series = (key.name().to_owned(), labels);
        self.cells
            .lock()
            .unwrap()
            .entry(series)
            .or_default()
            .clone()
    }

    fn find(&self, name: &str, attributes: &[(&str, &str)]) -> Option<Arc<Cell>> {
        let labels: BTreeMap<String, String> = attributes
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.cells
            .lock()
            .unwrap()
            .get(&(name.to_owned(), labels))
            .cloned()
    }

    fn series(&self, name: &str, attributes: &[(&str, &str)]) -> Arc<Cell> {
        self.find(name, attributes).unwrap_or_else(|| {
            let known: Vec<_> = self.cells.lock().unwrap().keys().cloned().collect();
            panic!("no `{name}` {attributes:?}; recorded: {known:#?}")
        })
    }

    fn gauge(&self, name: &str, attributes: &[(&str, &str)]) -> f64 {
        self.series(name, attributes).get()
    }

    fn counter(&self, name: &str, attributes: &[(&str, &str)]) -> u64 {
        self.series(name, attributes).counter.load(Ordering::SeqCst)
    }

    fn histogram(&self, name: &str, attributes: &[(&str, &str)]) -> Vec<f64> {
        self.find(name, attributes)
            .map(|cell| cell.histogram.lock().unwrap().clone())
            .unwrap_or_default()
    }

    fn describe(&self, key: KeyName, unit: Option<Unit>) {
        self.units
            .lock()
            .unwrap()
            .insert(key.as_str().to_owned(), unit);
    }
}

struct Global(&'static TestRecorder);

impl Recorder for Global {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, _: SharedString) {
        self.0.describe(key, unit);
    }
    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, _: SharedString) {
        self.0.describe(key, unit);
    }
    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, _: SharedString) {
        self.0.describe(key, unit);
    }
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.0.cell(key))
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.0.cell(key))
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.0.cell(key))
    }
}

/// The process's recorder, installed once; tests tell their figures apart by `db.namespace`.
fn recorder() -> &'static TestRecorder {
    static RECORDER: OnceLock<&'static TestRecorder> = OnceLock::new();
    RECORDER.get_or_init(|| {
        let recorder: &'static TestRecorder = Box::leak(Box::default());
        metrics::set_global_recorder(Global(recorder)).expect("no other recorder");
        recorder
    })
}

/// The database name in a DSN of the shared cluster: `db.namespace`.
fn namespace(url: &str) -> String {
    url.rsplit('/').next().unwrap().to_owned()
}

/// The value of the sample `name{labels}` in the Prometheus text.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no `{series}` in:\n{text}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn the_facade_carries_every_figure_under_opentelemetry_names() {
    let r = recorder();
    let url = fresh_database("facade").await;
    let ns = namespace(&url);
    let config = "[pool]\nmax_connections = 2\nmin_connections = 0\nacquire_timeout = \"500ms\"\n\
                  [health]\ncache = \"0\"\n";
    let db = pgready::start(&setup(config, &url)).await.unwrap();
    let pool = [
        ("db.client.connection.pool.name", "write"),
        ("db.namespace", ns.as_str()),
    ];
    let with = |extra: (&'static str, &'static str)| {
        let mut attributes = pool.to_vec();
        attributes.push(extra);
        attributes
    };

    // Every acquire is one observation of `wait_time`, as in `/metrics`'s histogram.
    let held = db.write().acquire().await.unwrap();
    let _: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(db.write())
        .await
        .unwrap();
    pgready::metrics::publish(&db);
    let stats = db.write().stats();
    assert_eq!(stats.in_use, 1);
    let used = r.gauge(
        "db.client.connection.count",
        &with(("db.client.connection.state", "used")),
    );
    let idle = r.gauge(
        "db.client.connection.count",
        &with(("db.client.connection.state", "idle")),
    );
    assert_eq!(
        (used, idle),
        (f64::from(stats.in_use), f64::from(stats.idle))
    );
    assert_eq!(r.gauge("db.client.connection.max", &pool), 2.0);
    assert_eq!(r.gauge("db.client.connection.idle.min", &pool), 0.0);
    assert_eq!(r.gauge("db.client.connection.pending_requests", &pool), 0.0);
    assert_eq!(r.counter("db.client.connection.timeouts", &pool), 0);
    let waits = r.histogram("db.client.connection.wait_time", &pool);
    assert_eq!(waits.len(), 2, "{waits:?}");
    let text = pgready::metrics::render(&db).await;
    assert_eq!(
        sample(
            &text,
            "pgready_pool_acquire_duration_seconds_count{pool=\"write\"}"
        ),
        2.0,
        "both forms count the same acquires"
    );

    // A timeout: counted, and its wait recorded.
    let second = db.write().acquire().await.unwrap();
    let started = Instant::now();
    assert!(db.write().acquire().await.is_err());
    assert!(started.elapsed() >= Duration::from_millis(500));
    pgready::metrics::publish(&db);
    assert_eq!(r.counter("db.client.connection.timeouts", &pool), 1);
    let waits = r.histogram("db.client.connection.wait_time", &pool);
    assert_eq!(waits.len(), 4, "{waits:?}");
    assert!(waits[3] >= 0.5, "the timed-out wait: {waits:?}");
    assert_eq!(
        r.gauge(
            "db.client.connection.count",
            &with(("db.client.connection.state", "used"))
        ),
        2.0
    );
    for reason in ["max_lifetime", "idle_timeout", "broken", "dirty"] {
        let attributes = with(("pgready.connection.discard_reason", reason));
        assert_eq!(r.counter("pgready.connection.discarded", &attributes), 0);
    }

    // Health and migrations: from the latest readiness probe; publishing never probes.
    let db_only = [("db.namespace", ns.as_str())];
    assert_eq!(r.gauge("pgready.migration.applied", &db_only), 2.0);
    assert_eq!(r.gauge("pgready.migration.pending", &db_only), 0.0);
    let probes = r.counter("pgready.health.probes", &db_only);
    assert_eq!(probes, 1, "`render` above probed once");
    pgready::metrics::publish(&db);
    assert_eq!(r.counter("pgready.health.probes", &db_only), probes);
    let report = db.health().await;
    assert_eq!(report.status(), pgready::health::Status::Warn, "saturated");
    pgready::metrics::publish(&db);
    assert_eq!(r.counter("pgready.health.probes", &db_only), probes + 1);
    let status = |s: &'static str| {
        r.gauge(
            "pgready.health.status",
            &[("db.namespace", ns.as_str()), ("pgready.health.status", s)],
        )
    };
    assert_eq!(
        (status("pass"), status("warn"), status("fail")),
        (0.0, 1.0, 0.0)
    );
    let check = |s: &'static str| {
        r.gauge(
            "pgready.health.check.status",
            &[
                ("db.namespace", ns.as_str()),
                ("pgready.health.check", "postgres:pool"),
                ("pgready.health.component", "write"),
                ("pgready.health.status", s),
            ],
        )
    };
    assert_eq!((check("pass"), check("warn")), (0.0, 1.0));
    let response = r.gauge(
        "pgready.health.response_time",
        &[
            ("db.namespace", ns.as_str()),
            ("db.client.connection.pool.name", "write"),
        ],
    );
    assert!(response > 0.0 && response < 2.0, "{response}");
    assert!(r.gauge("pgready.health.probe.duration", &db_only) > 0.0);
    assert!(
        r.find(
            "pgready.replica.lag",
            &[
                ("db.namespace", ns.as_str()),
                ("db.client.connection.pool.name", "read")
            ]
        )
        .is_none(),
        "no replica"
    );

    // The `Db` publishes on its own, once a second.
    drop((held, second));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let used = r.gauge(
            "db.client.connection.count",
            &with(("db.client.connection.state", "used")),
        );
        if used == 0.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the background publication did not follow the release within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        r.gauge(
            "db.client.connection.count",
            &with(("db.client.connection.state", "idle"))
        ),
        2.0
    );

    // `transaction_with`'s retries and give-ups, by SQLSTATE (OpenTelemetry's
    // `db.response.status_code`).
    let options = pgready::TransactionOptions::new()
        .max_attempts(2)
        .backoff(Duration::from_millis(1), Duration::from_millis(1));
    let gave_up = db
        .transaction_with(options, |tx| {
            Box::pin(async move {
                sqlx::Executor::execute(
                    &mut **tx,
                    "DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '40001'; END $$",
                )
                .await?;
                Ok::<_, pgready::Error>(())
            })
        })
        .await;
    assert!(gave_up.is_err());
    pgready::metrics::publish(&db);
    let sqlstate = |code: &'static str| {
        [
            ("db.namespace", ns.as_str()),
            ("db.response.status_code", code),
        ]
    };
    assert_eq!(
        r.counter("pgready.transaction.retries", &sqlstate("40001")),
        1
    );
    assert_eq!(
        r.counter("pgready.transaction.give_ups", &sqlstate("40001")),
        1
    );
    assert_eq!(
        r.counter("pgready.transaction.retries", &sqlstate("40P01")),
        0
    );

    // A transaction dropped without `commit` or `rollback`, per pool.
    assert_eq!(r.counter("pgready.transaction.drops", &pool), 0);
    drop(db.write().begin().await.unwrap());
    pgready::metrics::publish(&db);
    assert_eq!(r.counter("pgready.transaction.drops", &pool), 1);

    // A failed query, under its SQLSTATE class (42601 syntax_error), beside every query run.
    let queries = r.counter("pgready.queries", &pool);
    assert!(sqlx::query("SELEC 1").execute(db.write()).await.is_err());
    pgready::metrics::publish(&db);
    assert_eq!(
        r.counter(
            "pgready.query.errors",
            &with(("pgready.query.error_class", "42"))
        ),
        1
    );
    assert!(r.counter("pgready.queries", &pool) > queries);

    let units = r.units.lock().unwrap().clone();
    assert_eq!(units["pgready.query.errors"], Some(Unit::Count));
    assert_eq!(units["db.client.connection.wait_time"], Some(Unit::Seconds));
    assert_eq!(units["db.client.connection.count"], Some(Unit::Count));
    assert_eq!(units["pgready.transaction.retries"], Some(Unit::Count));
    assert_eq!(units["pgready.transaction.drops"], Some(Unit::Count));
    db.close().await;
}

#[tokio::test]
async fn a_read_replica_gets_its_own_series() {
    let r = recorder();
    let url = fresh_database("facade_replica").await;
    let ns = namespace(&url);
    let db = pgready::start(&setup("", &url).var("DATABASE_READ_URL", Some(&url)))
        .await
        .unwrap();
    let _: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(db.read())
        .await
        .unwrap();
    assert_eq!(db.health().await.status(), pgready::health::Status::Pass);
    pgready::metrics::publish(&db);
    let read = [
        ("db.client.connection.pool.name", "read"),
        ("db.namespace", ns.as_str()),
    ];
    assert_eq!(r.gauge("db.client.connection.max", &read), 40.0);
    assert_eq!(
        r.histogram("db.client.connection.wait_time", &read).len(),
        1
    );
    assert_eq!(r.gauge("pgready.replica.lag", &read), 0.0);
    assert!(r.gauge("pgready.health.response_time", &read) > 0.0);
    db.close().await;
}

// ---------------------------------------------------------------------------------------------
// A layer that keeps every span of the process: name, parent, fields (also those recorded
// later). Process-wide like the recorder: a thread-local subscriber (`set_default`) misses
// callsites that another test's thread reached first, while it was the only one registered.

#[derive(Clone, Debug)]
struct Captured {
    name: &'static str,
    /// Index of the parent span in the capture.
    parent: Option<usize>,
    fields: BTreeMap<String, String>,
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Captured>>>);

struct Index(usize);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S> tracing_subscriber::Layer<S> for Capture
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        let span = ctx.span(id).expect("a new span");
        let parent = span
            .parent()
            .and_then(|p| p.extensions().get::<Index>().map(|i| i.0));
        let mut spans = self.0.lock().unwrap();
        span.extensions_mut().insert(Index(spans.len()));
        spans.push(Captured {
            name: attrs.metadata().name(),
            parent,
            fields,
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let span = ctx.span(id).expect("a recorded span");
        let extensions = span.extensions();
        let Some(Index(i)) = extensions.get::<Index>() else {
            return;
        };
        values.record(&mut Fields(&mut self.0.lock().unwrap()[*i].fields));
    }
}

/// The process's subscriber, installed once.
fn capture() -> &'static Capture {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture = Capture::default();
        tracing::subscriber::set_global_default(
            tracing_subscriber::registry().with(capture.clone()),
        )
        .expect("no other subscriber");
        capture
    })
}

#[tokio::test]
async fn spans_carry_opentelemetry_attributes() {
    let capture = capture();
    let url = fresh_database("spans").await;
    let ns = namespace(&url);
    let db = pgready::start(&setup("", &url)).await.unwrap();
    drop(db.write().acquire().await.unwrap());
    assert_eq!(db.health().await.status(), pgready::health::Status::Pass);
    db.close().await;

    // This test's spans: those naming its database, and their children.
    let spans = capture.0.lock().unwrap().clone();
    let field = |s: &Captured, key: &str| s.fields.get(key).cloned().unwrap_or_default();
    let named = |name: &str| -> Vec<(usize, &Captured)> {
        let ours = |s: &Captured| field(s, "db.namespace") == ns;
        let mut found = Vec::new();
        for (i, s) in spans.iter().enumerate() {
            if s.name == name && (ours(s) || s.parent.is_some_and(|p| ours(&spans[p]))) {
                found.push((i, s));
            }
        }
        found
    };

    let run = named("pgready.migrate");
    assert_eq!(run.len(), 1, "{spans:#?}");
    let (run_index, run) = run[0];
    assert_eq!(field(run, "db.system.name"), "postgresql");

    // One span per migration, with its version and file, inside the run.
    let files = pgready_tests::demo_migrations();
    let migrations = named("pgready.migration.apply");
    assert_eq!(migrations.len(), files.len(), "{spans:#?}");
    for ((_, span), file) in migrations.iter().zip(files) {
        let version = file.name.split('_').next().unwrap();
        assert_eq!(field(span, "pgready.migration.version"), version);
        assert_eq!(field(span, "pgready.migration.file"), file.name);
        assert_eq!(field(span, "db.system.name"), "postgresql");
        assert_eq!(span.parent, Some(run_index));
    }

    let acquire = named("pgready.pool.acquire");
    assert_eq!(acquire.len(), 1, "{spans:#?}");
    let (_, acquire) = acquire[0];
    assert_eq!(field(acquire, "db.client.connection.pool.name"), "write");
    assert_eq!(field(acquire, "db.system.name"), "postgresql");

    let probe = named("pgready.health.probe");
    assert_eq!(probe.len(), 1, "{spans:#?}");
    let (probe_index, probe) = probe[0];
    assert_eq!(field(probe, "pgready.health.kind"), "readiness");
    assert_eq!(field(probe, "pgready.health.status"), "pass");
    assert_eq!(field(probe, "db.system.name"), "postgresql");
    let checks = named("pgready.health.check");
    assert_eq!(checks.len(), 1, "the primary's task: {spans:#?}");
    assert_eq!(
        field(checks[0].1, "pgready.health.check"),
        "postgres:connectivity,migrations:status"
    );
    assert_eq!(checks[0].1.parent, Some(probe_index));
}
