//! The pool engine against a real server: cancellation never hands out a dirty connection,
//! broken and old connections are replaced, limits hold, waiters are served in order, and sqlx
//! code runs on `&Pool`, pooled connections and transactions as it does on `PgPool`.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::TryStreamExt;
use pgready::Db;
use pgready_tests::{fresh_database, setup};
use sqlx::{Connection, Executor, Row};

/// Session settings every test config sets, so the checks can tell them from the defaults.
const SESSION: &str = "[session]\nstatement_timeout = \"7s\"\nlock_timeout = \"3s\"\n";

async fn start(pool: &str, url: &str) -> Db {
    let config = format!("{pool}{SESSION}[migrations]\non_startup = \"off\"\n");
    pgready::start(&setup(&config, url)).await.expect("start")
}

/// Runs on a connection its next user got: no transaction open (in a fresh implicit
/// transaction the statement and transaction timestamps are equal: the simple protocol sends
/// one message), no stray result instead of this one's, and the session settings in place.
async fn assert_clean(conn: &mut sqlx::PgConnection, context: &str) {
    let row = sqlx::raw_sql(
        "SELECT statement_timestamp() = transaction_timestamp() AS autocommit, \
                current_setting('statement_timeout') AS statement_timeout, \
                current_setting('lock_timeout') AS lock_timeout, \
                'check' AS marker",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap_or_else(|e| panic!("{context}: the check query failed: {e}"));
    let marker: String = row
        .try_get("marker")
        .expect("a stray result, not the check's");
    assert_eq!(marker, "check", "{context}");
    let autocommit: bool = row.get("autocommit");
    assert!(autocommit, "{context}: handed out inside a transaction");
    let statement_timeout: String = row.get("statement_timeout");
    let lock_timeout: String = row.get("lock_timeout");
    assert_eq!(
        (statement_timeout.as_str(), lock_timeout.as_str()),
        ("7s", "3s"),
        "{context}: session settings lost"
    );
}

/// A tiny deterministic generator: the same seed gives the same run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// How many futures [`cut`] dropped before they finished.
static CUT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Polls `future` for at most `micros`, then drops it wherever it is.
async fn cut<F: Future>(micros: u64, future: F) {
    let finished = tokio::time::timeout(Duration::from_micros(micros), future)
        .await
        .is_ok();
    if !finished {
        CUT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

const DOOMED: &str = "INSERT INTO ledger (v) VALUES (-1)";
const KEPT: &str = "INSERT INTO ledger (v) VALUES (1)";

/// One random thing a careless or cancelled user does to a pooled connection; returns whether
/// it committed a `KEPT` row.
async fn mischief(db: &Db, rng: &mut Rng) -> bool {
    let pool = db.write();
    let micros = rng.below(3000);
    match rng.below(10) {
        // A long result set through `&Pool`, dropped mid-stream.
        0 => {
            cut(micros, async {
                let mut rows = sqlx::query("SELECT g FROM generate_series(1, 20000) g").fetch(pool);
                while rows.try_next().await.expect("rows").is_some() {}
            })
            .await;
        }
        // A pool transaction with a doomed row, dropped before or after the insert.
        1 => {
            cut(micros, async {
                let mut tx = pool.begin().await.expect("begin");
                tx.execute(DOOMED).await.expect("insert");
                tx.execute("SELECT pg_sleep(0.001)").await.expect("sleep");
            })
            .await;
        }
        // Raw `BEGIN` on an acquired connection, never committed.
        2 => {
            cut(micros, async {
                let mut conn = pool.acquire().await.expect("acquire");
                sqlx::raw_sql("BEGIN")
                    .execute(&mut *conn)
                    .await
                    .expect("begin");
                sqlx::raw_sql(DOOMED)
                    .execute(&mut *conn)
                    .await
                    .expect("insert");
            })
            .await;
        }
        // Raw `BEGIN` through `&Pool`: the connection goes back inside the block.
        3 => {
            let sql = format!("BEGIN; {DOOMED}");
            cut(
                micros,
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(pool),
            )
            .await;
        }
        // A sqlx transaction on an acquired connection, with a savepoint, dropped mid-flight.
        4 => {
            cut(micros, async {
                let mut conn = pool.acquire().await.expect("acquire");
                let mut tx = conn.begin().await.expect("begin");
                let mut savepoint = tx.begin().await.expect("savepoint");
                savepoint.execute(DOOMED).await.expect("insert");
                savepoint
                    .execute("SELECT pg_sleep(0.001)")
                    .await
                    .expect("sleep");
            })
            .await;
        }
        // An aborted block: raw `BEGIN`, then an error.
        5 => {
            let mut conn = pool.acquire().await.expect("acquire");
            sqlx::raw_sql("BEGIN")
                .execute(&mut *conn)
                .await
                .expect("begin");
            sqlx::raw_sql(DOOMED)
                .execute(&mut *conn)
                .await
                .expect("insert");
            let e = sqlx::raw_sql("SELECT 1/0").execute(&mut *conn).await;
            assert!(e.is_err(), "division by zero");
        }
        // Direct `&mut PgConnection` access with a raw block left open.
        6 => {
            let mut conn = pool.acquire().await.expect("acquire");
            let raw: &mut sqlx::PgConnection = &mut conn;
            raw.execute("BEGIN").await.expect("begin");
            raw.execute(DOOMED).await.expect("insert");
        }
        // A query future through `&Pool` dropped mid-flight.
        7 => {
            cut(
                micros,
                sqlx::query("SELECT pg_sleep(0.002), $1::int")
                    .bind(1)
                    .fetch_one(pool),
            )
            .await;
        }
        // Committed work, which must stay.
        8 => {
            let mut tx = pool.begin().await.expect("begin");
            tx.execute(KEPT).await.expect("insert");
            tx.commit().await.expect("commit");
            return true;
        }
        // The next user: whatever connection comes out of the pool must be clean.
        _ => {
            let mut conn = pool.acquire().await.expect("acquire");
            assert_clean(&mut conn, "the next user").await;
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_and_careless_users_never_leave_a_dirty_connection() {
    let url = fresh_database("cancel").await;
    let db = start(
        "[pool]\nmax_connections = 4\nmin_connections = 0\nacquire_timeout = \"20s\"\n",
        &url,
    )
    .await;
    db.write()
        .execute("CREATE TABLE ledger (id bigserial PRIMARY KEY, v int NOT NULL)")
        .await
        .expect("table");

    let iterations: u64 = std::env::var("PGREADY_CANCEL_ITERATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3000);
    let tasks = 8;
    let mut handles = Vec::new();
    for task in 0..tasks {
        let db = db.clone();
        handles.push(tokio::spawn(async move {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (task + 1));
            let mut kept = 0;
            for _ in 0..iterations / tasks {
                if mischief(&db, &mut rng).await {
                    kept += 1;
                }
            }
            kept
        }));
    }
    let mut kept = 0;
    for handle in handles {
        kept += handle.await.expect("no task panicked");
    }
    let cut = CUT.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        cut >= iterations / 10,
        "only {cut} operations were cut mid-flight"
    );

    // Every connection, taken at once: each must be clean.
    let stats = db.write().stats();
    assert!(stats.size <= 4, "{stats:?}");
    let mut held = Vec::new();
    let mut pids = HashSet::new();
    for n in 0..4 {
        let mut conn = db.write().acquire().await.expect("acquire");
        assert_clean(&mut conn, &format!("connection {n} at the end")).await;
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut *conn)
            .await
            .expect("pid");
        pids.insert(pid);
        held.push(conn);
    }
    assert_eq!(pids.len(), 4, "four distinct connections");
    drop(held);

    let (doomed, committed): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE v = -1), count(*) FILTER (WHERE v = 1) FROM ledger",
    )
    .fetch_one(db.write())
    .await
    .expect("count");
    assert_eq!(doomed, 0, "rows of dropped transactions were committed");
    assert_eq!(committed, kept, "every committed row is there");
    assert!(kept > 0);
    db.close().await;
}

#[tokio::test]
async fn a_terminated_connection_is_replaced_without_a_failed_query_once_validated() {
    let url = fresh_database("terminate").await;
    let db = start(
        "[pool]\nmax_connections = 2\nmin_connections = 2\nvalidation_bypass = \"50ms\"\n",
        &url,
    )
    .await;
    let pids = backend_pids(&db, 2).await;
    terminate(&url, &pids).await;
    tokio::time::sleep(Duration::from_millis(120)).await;
    for n in 0..10 {
        let one: i32 = sqlx::query_scalar("SELECT 1")
            .fetch_one(db.write())
            .await
            .unwrap_or_else(|e| panic!("query {n} failed after the terminations: {e}"));
        assert_eq!(one, 1);
    }
    let fresh = backend_pids(&db, 2).await;
    assert!(fresh.is_disjoint(&pids), "{fresh:?} vs {pids:?}");
    assert_eq!(discarded(&db, "broken").await, 2.0);
    db.close().await;
}

#[tokio::test]
async fn a_connection_broken_within_the_bypass_fails_once_and_is_not_reused() {
    let url = fresh_database("broken").await;
    let db = start(
        "[pool]\nmax_connections = 1\nmin_connections = 1\nvalidation_bypass = \"10s\"\n",
        &url,
    )
    .await;
    let pids = backend_pids(&db, 1).await;
    terminate(&url, &pids).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Inside the bypass window nothing checks it first: this query finds out.
    let first = sqlx::query_scalar::<_, i32>("SELECT 1")
        .fetch_one(db.write())
        .await;
    assert!(first.is_err(), "the terminated connection was used");
    let one: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(db.write())
        .await
        .expect("the next query gets a new connection");
    assert_eq!(one, 1);
    assert_eq!(discarded(&db, "broken").await, 1.0);
    db.close().await;
}

#[tokio::test]
async fn old_and_idle_connections_are_closed_and_min_connections_kept() {
    let url = fresh_database("lifetime").await;
    let db = start(
        "[pool]\nmax_connections = 4\nmin_connections = 2\nmax_lifetime = \"3s\"\n\
         idle_timeout = \"300ms\"\n",
        &url,
    )
    .await;
    // min_connections are opened in the background after start-up.
    eventually("min_connections open", Duration::from_secs(2), async || {
        db.write().stats() == stats(2, 2)
    })
    .await;
    let first = backend_pids(&db, 4).await;
    assert_eq!(db.write().stats().size, 4);
    // Idle above min_connections: closed after idle_timeout, down to min_connections.
    eventually(
        "two idle connections closed",
        Duration::from_secs(2),
        async || db.write().stats().size == 2 && discarded(&db, "idle_timeout").await == 2.0,
    )
    .await;
    // Past max_lifetime: replaced, and the pool is back at min_connections.
    eventually(
        "old connections replaced",
        Duration::from_secs(6),
        async || discarded(&db, "max_lifetime").await >= 2.0 && db.write().stats().size == 2,
    )
    .await;
    let later = backend_pids(&db, 2).await;
    assert!(later.is_disjoint(&first), "{later:?} vs {first:?}");
    db.close().await;
}

fn stats(size: u32, idle: u32) -> pgready::PoolStats {
    pgready::PoolStats {
        size,
        idle,
        in_use: size - idle,
        max: 4,
        waiting: 0,
    }
}

/// Waits until `condition` holds, for at most `limit`.
async fn eventually(what: &str, limit: Duration, condition: impl AsyncFn() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !condition().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_never_opens_more_than_max_connections() {
    let url = fresh_database("max").await;
    let config = "[pool]\nmax_connections = 3\nmin_connections = 1\nacquire_timeout = \"20s\"\n\
                  [session]\napplication_name = \"engine-max\"\n[migrations]\non_startup = \"off\"\n";
    let db = pgready::start(&setup(config, &url)).await.expect("start");
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (ready, watching) = tokio::sync::oneshot::channel();
    let watcher = {
        let stop = Arc::clone(&stop);
        let url = url.clone();
        tokio::spawn(async move {
            let mut admin = sqlx::PgConnection::connect(&url).await.expect("admin");
            let (mut most, mut samples) = (0, 0);
            let mut ready = Some(ready);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let n: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'engine-max'",
                )
                .fetch_one(&mut admin)
                .await
                .expect("count");
                (most, samples) = (most.max(n), samples + 1);
                if let Some(ready) = ready.take() {
                    ready.send(()).ok();
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            (most, samples)
        })
    };
    watching.await.expect("the watcher is sampling");
    let mut handles = Vec::new();
    for task in 0..32u64 {
        let db = db.clone();
        handles.push(tokio::spawn(async move {
            let mut rng = Rng(task + 7);
            for _ in 0..30 {
                let micros = 1000 + rng.below(30_000);
                let query = sqlx::query("SELECT pg_sleep(0.002)").execute(db.write());
                cut(micros, query).await;
                assert!(db.write().stats().size <= 3);
            }
        }));
    }
    for handle in handles {
        handle.await.expect("task");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (most, samples) = watcher.await.expect("watcher");
    assert!(samples >= 20, "only {samples} samples");
    assert_eq!(most, 3, "server connections of the pool at most");
    db.close().await;
}

#[tokio::test]
async fn waiters_are_served_first_come_first_served() {
    let url = fresh_database("fifo").await;
    let db = start(
        "[pool]\nmax_connections = 1\nmin_connections = 1\nacquire_timeout = \"10s\"\n",
        &url,
    )
    .await;
    let held = db.write().acquire().await.expect("acquire");
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut handles = Vec::new();
    for n in 0..6 {
        let db = db.clone();
        let order = Arc::clone(&order);
        handles.push(tokio::spawn(async move {
            let conn = db.write().acquire().await.expect("acquire");
            order.lock().unwrap().push(n);
            tokio::time::sleep(Duration::from_millis(5)).await;
            drop(conn);
        }));
        // Each waiter is queued before the next arrives.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(db.write().stats().waiting, 6);
    drop(held);
    for handle in handles {
        handle.await.expect("waiter");
    }
    assert_eq!(*order.lock().unwrap(), [0, 1, 2, 3, 4, 5]);
    db.close().await;
}

#[derive(sqlx::FromRow, Debug, PartialEq)]
struct Entry {
    id: i64,
    name: String,
}

#[tokio::test]
async fn sqlx_code_runs_on_the_pool_its_connections_and_transactions() {
    let url = fresh_database("compat").await;
    let db = start("[pool]\nmax_connections = 2\nmin_connections = 0\n", &url).await;
    let pool = db.write();
    pool.execute("CREATE TABLE entries (id bigint PRIMARY KEY, name text NOT NULL)")
        .await
        .expect("table");

    // Transactions with savepoints: the rolled-back savepoint's row is gone, the rest stays.
    let mut tx = pool.begin().await.expect("begin");
    tx.execute("INSERT INTO entries VALUES (1, 'a')")
        .await
        .expect("a");
    let mut savepoint = tx.begin().await.expect("savepoint");
    savepoint
        .execute("INSERT INTO entries VALUES (2, 'b')")
        .await
        .expect("b");
    savepoint.rollback().await.expect("rollback to savepoint");
    let mut savepoint = tx.begin().await.expect("savepoint");
    savepoint
        .execute("INSERT INTO entries VALUES (3, 'c')")
        .await
        .expect("c");
    savepoint.commit().await.expect("release savepoint");
    tx.commit().await.expect("commit");

    // `query_as` with `FromRow`, on the pool and on an acquired connection.
    let entries: Vec<Entry> = sqlx::query_as("SELECT id, name FROM entries ORDER BY id")
        .fetch_all(pool)
        .await
        .expect("query_as");
    let expected = [
        Entry {
            id: 1,
            name: "a".into(),
        },
        Entry {
            id: 3,
            name: "c".into(),
        },
    ];
    assert_eq!(entries, expected);
    let mut conn = pool.acquire().await.expect("acquire");
    let one: Entry = sqlx::query_as("SELECT id, name FROM entries WHERE id = $1")
        .bind(3_i64)
        .fetch_one(&mut *conn)
        .await
        .expect("query_as on a connection");
    assert_eq!(one, expected[1]);

    // Streams: `fetch` on the pool and on the connection, `fetch_many` with its results.
    let sum: i64 = sqlx::query_scalar::<_, i32>("SELECT g FROM generate_series(1, 1000) g")
        .fetch(pool)
        .try_fold(0_i64, |sum, g| async move { Ok(sum + i64::from(g)) })
        .await
        .expect("stream");
    assert_eq!(sum, 500_500);
    let rows: Vec<_> = sqlx::query("SELECT g FROM generate_series(1, 10) g")
        .fetch(&mut *conn)
        .try_collect()
        .await
        .expect("stream on a connection");
    assert_eq!(rows.len(), 10);
    let results: Vec<_> = (&mut *conn)
        .fetch_many("SELECT 1; SELECT 2 UNION ALL SELECT 3")
        .try_collect()
        .await
        .expect("fetch_many");
    assert_eq!(results.iter().filter(|r| r.is_right()).count(), 3);
    drop(conn);

    // Prepare and describe, on the pool.
    let statement = pool
        .prepare(sqlx::SqlSafeStr::into_sql_str("SELECT $1::int + 1"))
        .await
        .expect("prepare");
    use sqlx::Statement;
    let two: i32 = statement
        .query_scalar()
        .bind(1)
        .fetch_one(pool)
        .await
        .expect("prepared");
    assert_eq!(two, 2);
    let describe = pool
        .describe(sqlx::SqlSafeStr::into_sql_str(
            "SELECT id, name FROM entries",
        ))
        .await
        .expect("describe");
    assert_eq!(describe.columns().len(), 2);

    // The checked macros (offline data in `tests/.sqlx`), on the pool and on a connection.
    let n = sqlx::query!(r#"SELECT $1::int8 + 1 AS "n!""#, 41_i64)
        .fetch_one(pool)
        .await
        .expect("query!");
    assert_eq!(n.n, 42);
    let mut conn = pool.acquire().await.expect("acquire");
    let checked = sqlx::query_as!(
        Entry,
        r#"SELECT id AS "id!", name AS "name!" FROM entries WHERE id = $1"#,
        1_i64
    )
    .fetch_one(&mut *conn)
    .await
    .expect("query_as!");
    assert_eq!(checked, expected[0]);
    drop(conn);

    // `Db::transaction`: rolled back on `Err`.
    let failed: Result<(), pgready::Error> = db
        .transaction(|tx| {
            Box::pin(async move {
                tx.execute("INSERT INTO entries VALUES (4, 'd')").await?;
                Err(sqlx::Error::RowNotFound.into())
            })
        })
        .await;
    assert!(failed.is_err());
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM entries")
        .fetch_one(pool)
        .await
        .expect("count");
    assert_eq!(count, 2);
    db.close().await;
}

/// The backend pids of `n` pooled connections, held at once so they are distinct.
async fn backend_pids(db: &Db, n: usize) -> HashSet<i32> {
    let mut held = Vec::new();
    let mut pids = HashSet::new();
    for _ in 0..n {
        let mut conn = db.write().acquire().await.expect("acquire");
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut *conn)
            .await
            .expect("pid");
        pids.insert(pid);
        held.push(conn);
    }
    pids
}

/// Ends these server processes from a connection of the test's own, as an operator would.
async fn terminate(url: &str, pids: &HashSet<i32>) {
    let mut admin = sqlx::PgConnection::connect(url).await.expect("admin");
    for pid in pids {
        sqlx::query("SELECT pg_terminate_backend($1)")
            .bind(pid)
            .execute(&mut admin)
            .await
            .expect("terminate");
    }
}

/// `pgready_pool_connections_discarded_total` for the write pool and `reason`, as scraped.
async fn discarded(db: &Db, reason: &str) -> f64 {
    let text = pgready::metrics::render(db).await;
    let series =
        format!("pgready_pool_connections_discarded_total{{pool=\"write\",reason=\"{reason}\"}} ");
    let line = text
        .lines()
        .find(|l| l.starts_with(&series))
        .unwrap_or_else(|| panic!("no {series} in\n{text}"));
    line[series.len()..].parse().expect("a number")
}

#[tokio::test]
async fn close_stops_waiting_for_a_held_connection_at_its_bound_and_says_so() {
    let url = fresh_database("close_bound").await;
    let db = start("[pool]\nmin_connections = 2\n", &url).await;
    let held = db.write().acquire().await.unwrap();

    let started = std::time::Instant::now();
    let err = db
        .write()
        .close_within(Duration::from_millis(500))
        .await
        .expect_err("a task still holds a connection");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(500) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
    assert!(
        matches!(err, pgready::Error::PoolCloseTimedOut { pool: "write", in_use: 1, waited }
            if waited >= Duration::from_millis(500)),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.starts_with("closing the write pool: 1 connection(s) still in use after"),
        "{message}"
    );
    assert!(db.write().is_closed());
    assert_eq!(db.write().stats().idle, 0, "the idle connection was closed");

    // Given back, the held connection is closed, and nothing is left to wait for.
    drop(held);
    tokio::time::timeout(
        Duration::from_secs(5),
        db.write().close_within(Duration::from_secs(5)),
    )
    .await
    .expect("returns at once")
    .expect("nothing is in use any more");
}

/// Everything fallible on a pool, a pooled connection and a transaction, with `?` into one
/// error type; returns the rows left.
async fn with_one_error_type(pool: &pgready::Pool) -> Result<i64, pgready::Error> {
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    tx.execute("INSERT INTO entries VALUES (1)").await?;
    let mut savepoint = tx.begin().await?;
    savepoint.execute("INSERT INTO entries VALUES (2)").await?;
    savepoint.rollback().await?;
    let savepoint = tx.begin().await?;
    savepoint.commit().await?;
    tx.commit().await?;
    drop(conn);
    let tx = pool.begin().await?;
    tx.rollback().await?;
    Ok(sqlx::query_scalar("SELECT count(*) FROM entries")
        .fetch_one(pool)
        .await?)
}

#[tokio::test]
async fn a_transaction_begun_on_a_connection_is_pgreadys_and_rolls_back_when_dropped() {
    let url = fresh_database("tx_kinds").await;
    let db = start(
        "[pool]\nmax_connections = 1\nmin_connections = 0\nacquire_timeout = \"300ms\"\n",
        &url,
    )
    .await;
    let pool = db.write();
    pool.execute("CREATE TABLE entries (id int PRIMARY KEY)")
        .await
        .expect("table");
    assert_eq!(with_one_error_type(pool).await.expect("one error type"), 1);

    // Dropped uncommitted: rolled back before the connection's next statement.
    let mut conn = pool.acquire().await.expect("acquire");
    {
        let mut tx: pgready::Transaction<'_> = conn.begin().await.expect("begin");
        tx.execute("INSERT INTO entries VALUES (3)")
            .await
            .expect("insert");
    }
    assert_clean(&mut conn, "after a dropped `conn.begin()`").await;

    // Dropped uncommitted with a savepoint open, then the connection goes back: its next user
    // (the same connection: there is only one) finds it clean and the rows gone.
    {
        let mut tx = conn.begin().await.expect("begin");
        tx.execute("INSERT INTO entries VALUES (4)")
            .await
            .expect("insert");
        let mut savepoint = tx.begin().await.expect("savepoint");
        savepoint
            .execute("INSERT INTO entries VALUES (5)")
            .await
            .expect("insert");
    }
    drop(conn);
    let mut next = pool.acquire().await.expect("the same connection");
    assert_clean(&mut next, "after a dropped transaction went back").await;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM entries")
        .fetch_one(&mut *next)
        .await
        .expect("count");
    assert_eq!(rows, 1, "only the committed row");

    // A pool timeout is the error that names the setting, also through `Db::transaction`.
    let err = pool.begin().await.expect_err("the only connection is held");
    assert!(matches!(err, pgready::Error::PoolTimedOut { .. }), "{err}");
    let err = db
        .transaction(|_tx| Box::pin(async { Ok::<_, pgready::Error>(()) }))
        .await
        .expect_err("the only connection is held");
    assert!(matches!(err, pgready::Error::PoolTimedOut { .. }), "{err}");
    drop(next);
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waits_end_at_acquire_timeout_together_and_leave_no_slot_behind() {
    let url = fresh_database("deadlines").await;
    let db = start(
        "[pool]\nmax_connections = 2\nmin_connections = 2\nacquire_timeout = \"300ms\"\n",
        &url,
    )
    .await;
    let held = [
        db.write().acquire().await.expect("acquire"),
        db.write().acquire().await.expect("acquire"),
    ];
    // 40 waiters, queued over ~100 ms: each must end at its own deadline, which no timer of
    // its own enforces.
    let mut handles = Vec::new();
    for _ in 0..40 {
        let db = db.clone();
        handles.push(tokio::spawn(async move {
            let started = std::time::Instant::now();
            let err = db
                .write()
                .acquire()
                .await
                .expect_err("both connections are held");
            (started.elapsed(), err)
        }));
        tokio::time::sleep(Duration::from_micros(2500)).await;
    }
    for handle in handles {
        let (waited, err) = tokio::time::timeout(Duration::from_secs(5), handle)
            .await
            .expect("the wait ended")
            .expect("waiter");
        assert!(
            matches!(err, pgready::Error::PoolTimedOut { .. }),
            "{err:?}"
        );
        assert!(
            waited >= Duration::from_millis(300) && waited < Duration::from_millis(600),
            "{waited:?}"
        );
    }
    assert_eq!(db.write().stats().waiting, 0);
    drop(held);
    let stats = db.write().stats();
    assert_eq!(
        (stats.size, stats.idle, stats.waiting),
        (2, 2, 0),
        "{stats:?}"
    );
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_that_give_up_while_served_lose_no_connection() {
    let url = fresh_database("given_up").await;
    let db = start(
        "[pool]\nmax_connections = 3\nmin_connections = 0\nacquire_timeout = \"10s\"\n",
        &url,
    )
    .await;
    // Impatient callers: most give up while waiting, some as their connection is handed to
    // them, some while it is being opened.
    let mut handles = Vec::new();
    for task in 0..24u64 {
        let db = db.clone();
        handles.push(tokio::spawn(async move {
            let mut rng = Rng(task + 101);
            for _ in 0..200 {
                let micros = rng.below(400);
                if let Ok(Ok(mut conn)) =
                    tokio::time::timeout(Duration::from_micros(micros), db.write().acquire()).await
                {
                    sqlx::query("SELECT 1")
                        .execute(&mut *conn)
                        .await
                        .expect("a handed-out connection works");
                }
            }
        }));
    }
    for handle in handles {
        handle.await.expect("task");
    }
    // Every slot is back: three connections at once, within a moment, and nothing waiting.
    let all = tokio::time::timeout(Duration::from_secs(5), backend_pids(&db, 3))
        .await
        .expect("all three slots are free");
    assert_eq!(all.len(), 3);
    let stats = db.write().stats();
    assert_eq!((stats.size, stats.waiting), (3, 0), "{stats:?}");
    db.close().await;
}

#[tokio::test]
async fn a_connection_closed_for_good_hands_its_slot_to_the_next_waiter() {
    let url = fresh_database("slot_handover").await;
    let db = start(
        "[pool]\nmax_connections = 1\nmin_connections = 1\nacquire_timeout = \"5s\"\n",
        &url,
    )
    .await;
    let mut held = db.write().acquire().await.expect("acquire");
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *held)
        .await
        .expect("pid");
    let waiter = {
        let db = db.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let mut conn = db
                .write()
                .acquire()
                .await
                .expect("the waiter gets a connection");
            let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
                .fetch_one(&mut *conn)
                .await
                .expect("pid");
            (pid, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(db.write().stats().waiting, 1);
    // The held connection dies under its user: it is closed, and its slot goes to the waiter,
    // which opens a new connection in it instead of waiting out `acquire_timeout`.
    terminate(&url, &HashSet::from([pid])).await;
    sqlx::query("SELECT 1")
        .execute(&mut *held)
        .await
        .expect_err("the server ended this session");
    drop(held);
    let (new_pid, waited) = waiter.await.expect("waiter");
    assert_ne!(new_pid, pid);
    assert!(waited < Duration::from_secs(2), "{waited:?}");
    assert_eq!(discarded(&db, "broken").await, 1.0);
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_pool_ends_every_wait_at_once() {
    let url = fresh_database("close_waiters").await;
    let db = start(
        "[pool]\nmax_connections = 1\nmin_connections = 1\nacquire_timeout = \"10s\"\n",
        &url,
    )
    .await;
    let held = db.write().acquire().await.expect("acquire");
    let mut handles = Vec::new();
    for _ in 0..5 {
        let db = db.clone();
        handles.push(tokio::spawn(async move {
            let err = db
                .write()
                .acquire()
                .await
                .expect_err("the only connection is held until the pool is closed");
            (std::time::Instant::now(), err)
        }));
    }
    eventually(
        "five acquires waiting",
        Duration::from_secs(5),
        async || db.write().stats().waiting == 5,
    )
    .await;
    // One more gives up while queued: it leaves the queue at once.
    tokio::time::timeout(Duration::from_millis(50), db.write().acquire())
        .await
        .expect_err("still held");
    assert_eq!(db.write().stats().waiting, 5);

    let closing = {
        let db = db.clone();
        tokio::spawn(async move { db.write().close_within(Duration::from_secs(5)).await })
    };
    let closed_at = std::time::Instant::now();
    for handle in handles {
        let (ended, err) = tokio::time::timeout(Duration::from_secs(2), handle)
            .await
            .expect("the wait ended with the pool, not at acquire_timeout")
            .expect("waiter");
        assert!(
            matches!(err, pgready::Error::Sqlx(sqlx::Error::PoolClosed)),
            "{err:?}"
        );
        assert!(ended.saturating_duration_since(closed_at) < Duration::from_secs(1));
    }
    assert_eq!(db.write().stats().waiting, 0);
    drop(held);
    closing
        .await
        .expect("close")
        .expect("the held connection came back and was closed");
}
