//! `#[pgready::test]`: each test isolated from the others, in one of two modes
//! (`isolation = "…"`, [`Isolation`]).
//!
//! **Transaction mode** (`"transaction"`, the default; Django's `TestCase`): the test's `Db`
//! has a write pool of one connection that begins a transaction when it opens, in the round
//! trip of the session settings, and every acquire hands out that connection; `begin()` on it
//! opens a savepoint (commit releases it, rollback rolls back to it). The test runs on a
//! database such tests share, `<template>_tx`, copied from the template once per server; the
//! transaction is rolled back by closing the connection when the test ends. Per test there is
//! no admin connection and no `CREATE`/`DROP DATABASE`. What it cannot do is an error, never a
//! hang or a silent difference: a second acquire while the connection is held fails at once
//! ([`Error::TestConnectionHeld`]); a test that failed on SQLSTATE 25001 (a statement that
//! cannot run in a transaction block) or 25P02 (its transaction aborted by a failed statement)
//! gets a message that says what to do; a `COMMIT` or `ROLLBACK` sent as SQL fails the test
//! (a setting local to the transaction is gone at the end). `LISTEN`/`NOTIFY` and other
//! sessions seeing the test's rows need `"database"`. An error rather than a fall-back to a
//! copy: the body has already run in part when a limit shows, and running it again would repeat
//! its side effects.
//!
//! **Database mode** (`"database"`): a database per test, cloned from a template migrated once.
//!
//! The template is named after the crate, the profile (`PGREADY_PROFILE`, read as start-up
//! reads it) and a hash of what it holds (the profile, the migrations' checksums, the schema
//! and the migrations table). It is built once under an advisory lock by whichever test
//! process gets there first, with that profile, and reused by every later test, process and
//! run; a changed migration makes a new template and drops the crate's old ones for that
//! profile, so two profiles never share or drop each other's template. Each test gets
//! `CREATE DATABASE … TEMPLATE …`, which costs milliseconds instead of replaying every
//! migration as `#[sqlx::test]` does.
//!
//! The server: `PGREADY_TEST_URL`, else `DATABASE_URL`, else the shared embedded cluster in
//! `$TMPDIR/pgready-test-cluster`, started by the first test process and left running for the
//! next run (every test process of a run uses the same one, also under `cargo nextest`).
//!
//! Each process talks to the server through one admin thread (`admin.rs`) with a few
//! connections, shared by all its tests: it copies the template, keeps failed tests' databases,
//! and drops passed tests' databases.
//!
//! When databases go away:
//! - A failing test's database (a panic or an `Err`) is kept: commented, and its name printed,
//!   before the test returns. The next run of the same test drops it before copying the
//!   template again.
//! - A passing test's database is handed to the admin thread, and the test returns without
//!   waiting. The admin thread drops it as soon as the test's sessions have ended. When no
//!   other test of the process holds a copy, the next copy waits for that drop; otherwise
//!   they run side by side. Passed databases do not pile up: each one's drop starts when it is
//!   handed over.
//! - When the process exits (under `cargo nextest`, which runs one test per process, right after
//!   its test), it waits until the `DROP DATABASE` of every handed-over database has been sent
//!   (milliseconds; at most 3 s), and the server finishes it after the process is gone.
//! - A database whose process died before that (killed mid-test, or the drop failed) is dropped
//!   by the next test process that starts on the same server, any crate, before its first copy.
//! - A database is only ever dropped by its own process after its test passed, or by another
//!   process once the process named in it (`pgready_t_<pid>_…`) has exited: never while a live
//!   test may be using it.

mod admin;
mod names;
mod template;

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use pgready_core::dsn;
pub use pgready_core::isolation::Isolation;
use sqlx::AssertSqlSafe;

use self::admin::{Admin, TemplateCopy};
use crate::embedded::Cluster;
use crate::start::Purpose;
use crate::{Db, Error, Setup};

/// Where `#[pgready::test]` looks for a server before starting the shared embedded cluster.
pub const TEST_URL_ENV: &str = "PGREADY_TEST_URL";

/// What a test function returned: `()` passes; `Result` passes when `Ok`.
pub trait TestOutcome {
    /// Whether the test failed without panicking.
    fn failed(&self) -> bool;

    /// The failure, as the test harness prints it.
    fn describe(&self) -> Option<String> {
        None
    }
}

impl TestOutcome for () {
    fn failed(&self) -> bool {
        false
    }
}

impl<T, E: std::fmt::Debug> TestOutcome for Result<T, E> {
    fn failed(&self) -> bool {
        self.is_err()
    }

    fn describe(&self) -> Option<String> {
        self.as_ref().err().map(|e| format!("{e:?}"))
    }
}

/// The shared embedded cluster the tests of every process use when no server is given, in
/// `$TMPDIR/pgready-test-cluster`: throw-away, run as test suites run PostgreSQL (`fsync`,
/// `synchronous_commit` and `full_page_writes` off, 300 connections; see
/// [`Cluster::shared_for_tests`]). Nothing but tests uses these settings.
pub fn shared_cluster() -> Result<Cluster, Error> {
    Ok(Cluster::shared_for_tests(
        &std::env::temp_dir().join("pgready-test-cluster"),
    )?)
}

/// The body of a `#[pgready::test]` function (which reaches it as
/// `::pgready::__private::run_test`).
#[doc(hidden)]
pub fn run_test<F, Fut, T>(setup: Setup, test: &str, isolation: Isolation, body: F) -> T
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = T>,
    T: TestOutcome,
{
    match isolation {
        Isolation::Transaction => in_transaction(setup, test, body),
        Isolation::Database => in_database(setup, test, body),
    }
}

/// `isolation = "transaction"`: the body runs on one connection inside a transaction, on the
/// database transaction-mode tests share; the transaction is rolled back when the connection
/// closes at the end (no round trip).
fn in_transaction<F, Fut, T>(setup: Setup, test: &str, body: F) -> T
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = T>,
    T: TestOutcome,
{
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => panic!("pgready::test: cannot build a tokio runtime: {e}"),
    };
    let db = match runtime.block_on(start_in_transaction(&setup)) {
        Ok(db) => db,
        Err(e) => panic!("pgready::test: cannot start `{test}` in a transaction: {e}"),
    };
    let outcome = runtime.block_on(async {
        let outcome = AssertUnwindSafe(body(db.clone())).catch_unwind().await;
        let ended = transaction_still_open(&db).await;
        // Closing the connection ends the session, which rolls the transaction back.
        db.close().await;
        (outcome, ended)
    });
    drop(db);
    drop(runtime);
    let (outcome, still_open) = outcome;
    if let Err(e) = still_open {
        panic!("pgready::test: `{test}`: {e}");
    }
    match outcome {
        Ok(value) => {
            if value.failed()
                && let Some(hint) = value.describe().as_deref().and_then(transaction_mode_hint)
            {
                eprintln!("pgready::test: `{test}`: {hint}");
            }
            value
        }
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied());
            match message.and_then(transaction_mode_hint) {
                Some(hint) => panic!(
                    "{}\npgready::test: `{test}`: {hint}",
                    message.unwrap_or_default()
                ),
                None => std::panic::resume_unwind(panic),
            }
        }
    }
}

/// Start-up as a transaction-mode `#[pgready::test]` runs it: on the database such tests share
/// (made from the template, once per server), with a write pool of one connection inside the
/// test's transaction. (Also what the benchmarks time.)
#[doc(hidden)]
pub async fn start_in_transaction(setup: &Setup) -> Result<Db, Error> {
    let (profile, cfg) = setup.config()?;
    let server = server_url(setup, &cfg.database.url_env)?;
    let template = template::name(setup, &profile, &cfg)?;
    let shared = template::shared_name(&template);
    let started = setup
        .clone()
        .var(
            &cfg.database.url_env,
            Some(&dsn::with_database(&server, &shared)),
        )
        .purpose(Purpose::TestTransaction);
    // Usually there: no admin connection at all. Missing (first test on this server, or the
    // migrations changed): built once, under the template lock, then connected again.
    match crate::start(&started).await {
        Ok(db) => Ok(db),
        Err(first) => {
            let admin = Admin::of(&server)?;
            let copy = TemplateCopy {
                setup: setup.clone(),
                url_env: cfg.database.url_env.clone(),
                template,
                name: shared,
                test_hash: String::new(),
            };
            tokio::task::spawn_blocking(move || admin.ensure_shared(copy))
                .await
                .map_err(|e| {
                    Error::Config(format!("pgready::test: the admin task failed: {e}"))
                })??;
            crate::start(&started).await.inspect_err(|_| {
                tracing::debug!("before the shared database was made: {first}");
            })
        }
    }
}

/// Whether the test's transaction is still open: a `COMMIT` or `ROLLBACK` the test sent as SQL
/// would have ended it, and with it the isolation (what ran after it was committed to the
/// shared database).
async fn transaction_still_open(db: &Db) -> Result<(), String> {
    let Ok(mut conn) = db.write().acquire().await else {
        // Still held by something the test left running: its transaction is still open.
        return Ok(());
    };
    let mark: Result<Option<String>, sqlx::Error> = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT current_setting('{}', true)",
        crate::pool::TEST_TRANSACTION_MARK
    )))
    .fetch_one(&mut *conn)
    .await;
    match mark {
        Ok(Some(on)) if on == "on" => Ok(()),
        // 25P02: a statement failed and aborted the transaction, which is still open.
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("25P02") => Ok(()),
        Err(e) => Err(format!("cannot check the test's transaction: {e}")),
        Ok(_) => Err(format!(
            "the test ended its transaction with SQL of its own (`COMMIT`, `ROLLBACK`, `END`), \
             so what ran after it was committed to the database that `isolation = \"transaction\"` \
             tests share (`{}`): drop that database (the next test makes it again), and give \
             this test a database of its own: `#[pgready::test(isolation = \"database\")]`",
            db_name(db)
        )),
    }
}

fn db_name(db: &Db) -> String {
    db.write()
        .connect_options()
        .get_database()
        .unwrap_or_default()
        .to_owned()
}

/// What to do when a transaction-mode test failed with a SQLSTATE that the mode causes, as
/// the failure shows it: sqlx's database error prints its code quoted (`code: "25001"`).
fn transaction_mode_hint(failure: &str) -> Option<&'static str> {
    if failure.contains("\"25001\"") {
        Some(
            "a statement that cannot run inside a transaction block (SQLSTATE 25001: \
             `CREATE INDEX CONCURRENTLY`, `VACUUM`, `CREATE DATABASE`, …) ran in the test's \
             transaction (`isolation = \"transaction\"`, the default): give the test a database \
             of its own, `#[pgready::test(isolation = \"database\")]`",
        )
    } else if failure.contains("\"25P02\"") {
        Some(
            "a statement failed and aborted the test's transaction (`isolation = \"transaction\"`, \
             the default), so every later statement fails (SQLSTATE 25P02): run a statement \
             expected to fail inside `db.write().begin()` (a savepoint) and roll that back, or \
             use `#[pgready::test(isolation = \"database\")]`",
        )
    } else {
        None
    }
}

/// `isolation = "database"`: a copy of the template of its own.
fn in_database<F, Fut, T>(setup: Setup, test: &str, body: F) -> T
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = T>,
    T: TestOutcome,
{
    let database = match TestDatabase::create(&setup, test) {
        Ok(database) => database,
        Err(e) => panic!("pgready::test: cannot prepare a database for `{test}`: {e}"),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            database.release();
            panic!("pgready::test: cannot build a tokio runtime: {e}")
        }
    };
    let setup = setup.var(&database.url_env, Some(&database.url));
    let db = match runtime.block_on(start_on_copy(&setup)) {
        Ok(db) => db,
        Err(e) => {
            let name = database.name.clone();
            database.release();
            panic!("pgready::test: cannot start `{test}` on `{name}`: {e}")
        }
    };
    let outcome = runtime.block_on(async {
        let outcome = AssertUnwindSafe(body(db.clone())).catch_unwind().await;
        db.close().await;
        outcome
    });
    drop(db);
    // Closes whatever connections the body opened itself, so their sessions end now.
    drop(runtime);
    let failed = outcome.as_ref().map_or(true, TestOutcome::failed);
    if failed {
        if let Err(e) = database.keep(test) {
            eprintln!("pgready::test: {e}");
        }
    } else {
        database.release();
    }
    match outcome {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Start-up as `#[pgready::test]` runs it on a copy of the migrated template that `setup`'s
/// DSN names: the schema and the migrations were checked when the template was built, so no
/// migration connection; pools keep no idle connections. (Also what the benchmarks time.)
#[doc(hidden)]
pub async fn start_on_copy(setup: &Setup) -> Result<Db, Error> {
    crate::start(&setup.clone().purpose(Purpose::TestCopy)).await
}

/// A test's own database, copied from the template by the process's admin thread.
struct TestDatabase {
    admin: Admin,
    url_env: String,
    name: String,
    url: String,
}

impl TestDatabase {
    fn create(setup: &Setup, test: &str) -> Result<TestDatabase, Error> {
        // The profile start-up will use (`PGREADY_PROFILE`): its template, its DSN variable.
        let (profile, cfg) = setup.config()?;
        let server = server_url(setup, &cfg.database.url_env)?;
        let test_hash = template::short_hash(test.as_bytes());
        let name = names::new_name(&test_hash);
        let admin = Admin::of(&server)?;
        admin.copy(TemplateCopy {
            setup: setup.clone(),
            url_env: cfg.database.url_env.clone(),
            template: template::name(setup, &profile, &cfg)?,
            name: name.clone(),
            test_hash,
        })?;
        Ok(TestDatabase {
            admin,
            url_env: cfg.database.url_env,
            url: dsn::with_database(&server, &name),
            name,
        })
    }

    /// The test passed: the admin thread drops its database once its sessions have ended.
    fn release(self) {
        self.admin.drop_later(self.name);
    }

    fn keep(self, test: &str) -> Result<(), Error> {
        self.admin.keep(&self.name, names::kept_comment(test))?;
        eprintln!(
            "pgready::test: `{test}` failed; its database `{}` is kept for inspection: {}",
            self.name,
            dsn::redact(&self.url)
        );
        Ok(())
    }
}

/// `PGREADY_TEST_URL`, else the config's DSN variable, else the shared embedded cluster.
fn server_url(setup: &Setup, url_env: &str) -> Result<String, Error> {
    if let Some(url) = setup.lookup(TEST_URL_ENV).or_else(|| setup.lookup(url_env)) {
        return Ok(url);
    }
    let cluster = shared_cluster()?;
    Ok(cluster.url("postgres"))
}

#[cfg(test)]
mod tests {
    use super::transaction_mode_hint as hint;

    #[test]
    fn hints_follow_the_sqlstate_not_any_number() {
        let concurrently = r#"Database(PgDatabaseError { severity: Error, code: "25001", message: "CREATE INDEX CONCURRENTLY cannot run inside a transaction block" })"#;
        assert!(hint(concurrently).is_some_and(|h| h.contains("isolation = \"database\"")));
        let aborted = r#"Database(PgDatabaseError { code: "25P02", .. })"#;
        assert!(hint(aborted).is_some_and(|h| h.contains("savepoint")));
        assert_eq!(
            hint("assertion `left == right` failed\n  left: 25001\n right: 2"),
            None
        );
    }
}
