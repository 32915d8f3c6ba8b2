//! `#[pgready::test]`: transaction mode (the default: one connection inside a transaction that
//! is rolled back, on a database such tests share) and database mode (a database of its own,
//! cloned from a migrated template).

use std::process::Command;

use pgready::__private::{EmbeddedFile, Isolation, Setup};
use sqlx::Connection;

/// Both tests write the same key at the same time; each sees only its own row.
async fn write_and_read_back(db: pgready::Db, marker: &str) {
    sqlx::query("INSERT INTO items (name) VALUES ('same-key'), ($1)")
        .bind(marker)
        .execute(db.write())
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let names: Vec<String> = sqlx::query_scalar("SELECT name FROM items ORDER BY id")
        .fetch_all(db.read())
        .await
        .unwrap();
    assert_eq!(names, ["same-key", marker], "only this test's rows");
    let database: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(db.read())
        .await
        .unwrap();
    assert!(database.starts_with("pgready_t_"), "{database}");
}

#[pgready::test(isolation = "database")]
async fn isolation_a(db: pgready::Db) {
    write_and_read_back(db, "a").await;
}

#[pgready::test(isolation = "database")]
async fn isolation_b(db: pgready::Db) {
    write_and_read_back(db, "b").await;
}

#[pgready::test]
async fn returns_a_result(db: pgready::Db) -> Result<(), sqlx::Error> {
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(db.read())
        .await?;
    assert_eq!(applied, 2, "the template holds the migrated schema");
    Ok(())
}

/// Run on purpose by `a_failing_test_keeps_its_database` in a child process.
#[pgready::test(isolation = "database")]
#[ignore = "fails on purpose; run by a_failing_test_keeps_its_database"]
async fn fails_on_purpose(db: pgready::Db) {
    sqlx::query("INSERT INTO items (name) VALUES ('evidence')")
        .execute(db.write())
        .await
        .unwrap();
    panic!("failing on purpose");
}

/// Runs `fails_on_purpose` alone in a child process of this test binary.
fn run_fails_on_purpose() -> std::process::Output {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "fails_on_purpose",
            "--test-threads",
            "1",
        ])
        .output()
        .unwrap()
}

#[tokio::test]
async fn a_failing_test_keeps_its_database_and_prints_its_name() {
    let output = run_fails_on_purpose();
    assert!(!output.status.success(), "the child test fails");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned()
        + &String::from_utf8_lossy(&output.stdout);
    let line = stderr
        .lines()
        .find(|l| l.contains("is kept for inspection"))
        .unwrap_or_else(|| panic!("no kept-database line in:\n{stderr}"));
    let name = line
        .split('`')
        .nth(3)
        .expect("database name in backticks")
        .to_owned();
    assert!(name.starts_with("pgready_t_"), "{line}");
    assert!(
        !line.contains(pgready_tests::cluster().password()),
        "no password: {line}"
    );

    let mut kept = sqlx::PgConnection::connect(&pgready_tests::url(&name))
        .await
        .expect("kept");
    let evidence: Vec<String> = sqlx::query_scalar("SELECT name FROM items")
        .fetch_all(&mut kept)
        .await
        .unwrap();
    assert_eq!(evidence, ["evidence"]);
    kept.close().await.unwrap();

    // The next run of the same test replaces the kept database.
    let again = run_fails_on_purpose();
    assert!(!again.status.success());
    let mut admin = sqlx::PgConnection::connect(&pgready_tests::url("postgres"))
        .await
        .unwrap();
    let still: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut admin)
            .await
            .unwrap();
    assert!(
        !still,
        "the older kept database was dropped by the next run"
    );
}

static V1: [EmbeddedFile; 1] = [EmbeddedFile {
    name: "1_t.sql",
    sql: "CREATE TABLE IF NOT EXISTS t (id int);",
}];
static V2: [EmbeddedFile; 1] = [EmbeddedFile {
    name: "1_t.sql",
    sql: "CREATE TABLE IF NOT EXISTS t (id bigint);",
}];

fn templates(crate_name: &str) -> Vec<String> {
    database_names("datname LIKE $1", format!("pgready_tpl_{crate_name}_%"))
}

/// The databases on the test server that `condition` selects (`$1` is `arg`), in name order;
/// callable outside a runtime.
fn database_names(condition: &str, arg: String) -> Vec<String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut admin = sqlx::PgConnection::connect(&pgready_tests::url("postgres"))
            .await
            .unwrap();
        let sql = format!("SELECT datname::text FROM pg_database WHERE {condition} ORDER BY 1");
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(arg)
            .fetch_all(&mut admin)
            .await
            .unwrap()
    })
}

/// The type of table `t`'s column, as the server reports it.
async fn column_t_type(db: &pgready::Db) -> String {
    sqlx::query_scalar(
        "SELECT data_type::text FROM information_schema.columns WHERE table_name = 't'",
    )
    .fetch_one(db.read())
    .await
    .unwrap()
}

#[test]
fn editing_a_migration_makes_a_new_template_and_removes_the_old() {
    let crate_name = "template_edit_test";
    let url = pgready_tests::url("postgres");
    let v1 = Setup::new("", crate_name, &V1).var("DATABASE_URL", Some(&url));
    pgready::__private::run_test(
        v1,
        "edit::v1",
        Isolation::Database,
        async |db: pgready::Db| {
            let kind = column_t_type(&db).await;
            assert_eq!(kind, "integer");
        },
    );
    let first = templates(crate_name);
    assert_eq!(first.len(), 1, "{first:?}");

    let v2 = Setup::new("", crate_name, &V2).var("DATABASE_URL", Some(&url));
    pgready::__private::run_test(
        v2,
        "edit::v2",
        Isolation::Database,
        async |db: pgready::Db| {
            let kind = column_t_type(&db).await;
            assert_eq!(
                kind, "bigint",
                "the edited migration is in the new template"
            );
        },
    );
    let second = templates(crate_name);
    assert_eq!(second.len(), 1, "the old template is gone: {second:?}");
    assert_ne!(first, second);
}

static PILE: [EmbeddedFile; 1] = [EmbeddedFile {
    name: "1_t.sql",
    sql: "CREATE TABLE t (id int);",
}];

fn pile_setup() -> Setup {
    Setup::new("", "pile_test", &PILE).var("DATABASE_URL", Some(&pgready_tests::url("postgres")))
}

async fn insert_a_row(db: pgready::Db) {
    sqlx::query("INSERT INTO t VALUES (1)")
        .execute(db.write())
        .await
        .unwrap();
}

/// This process's test databases, `pgready_t_<pid>_…`.
fn databases_of(pid: u32) -> Vec<String> {
    database_names("starts_with(datname, $1)", format!("pgready_t_{pid}_"))
}

/// Waits up to 10 s for `pid`'s test databases to be gone; returns those still there.
fn until_gone(pid: u32) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let left = databases_of(pid);
        if left.is_empty() || std::time::Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Runs one ignored test of this binary alone in a child process; returns its pid and output.
fn run_child(test: &str) -> (u32, std::process::Output) {
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", test, "--test-threads", "1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    (pid, child.wait_with_output().unwrap())
}

/// Run by `passed_databases_go_away_and_do_not_pile_up`: 20 passing tests in one process, as
/// `cargo test` runs a crate's tests.
#[test]
#[ignore = "run by passed_databases_go_away_and_do_not_pile_up"]
fn twenty_passing_tests_in_one_process() {
    for i in 0..20 {
        pgready::__private::run_test(
            pile_setup(),
            &format!("pile::test_{i}"),
            Isolation::Database,
            insert_a_row,
        );
    }
    let waiting = databases_of(std::process::id());
    // Each is dropped before the next copy: only the last test's can still be there.
    assert!(waiting.len() <= 1, "passed databases pile up: {waiting:?}");
}

/// Run by the tests below: one passing test in its own process, as `cargo nextest` runs it.
#[test]
#[ignore = "run by passed_databases_go_away_and_do_not_pile_up"]
fn one_passing_test() {
    pgready::__private::run_test(pile_setup(), "pile::one", Isolation::Database, insert_a_row);
}

/// Run by `a_crashed_test_process_leaves_its_database_to_the_next_one`.
#[test]
#[ignore = "dies on purpose; run by a_crashed_test_process_leaves_its_database_to_the_next_one"]
fn crashes_on_purpose() {
    pgready::__private::run_test(
        pile_setup(),
        "pile::crash",
        Isolation::Database,
        async |db: pgready::Db| -> () {
            insert_a_row(db).await;
            // Dies with the test's database still there: no drop, no comment.
            std::process::abort();
        },
    );
}

#[test]
fn passed_databases_go_away_and_do_not_pile_up() {
    let (many, output) = run_child("twenty_passing_tests_in_one_process");
    assert!(output.status.success(), "{output:?}");
    let left = until_gone(many);
    assert!(
        left.is_empty(),
        "still there after the process exited: {left:?}"
    );

    let (one, output) = run_child("one_passing_test");
    assert!(output.status.success(), "{output:?}");
    let left = until_gone(one);
    assert!(
        left.is_empty(),
        "the process's only test database stays: {left:?}"
    );
}

#[test]
fn a_crashed_test_process_leaves_its_database_to_the_next_one() {
    let (crashed, output) = run_child("crashes_on_purpose");
    assert!(!output.status.success(), "{output:?}");
    let (next, output) = run_child("one_passing_test");
    assert!(output.status.success(), "{output:?}");
    let left = until_gone(crashed);
    assert!(
        left.is_empty(),
        "the crashed process's database stays: {left:?}"
    );
    assert!(until_gone(next).is_empty());
}

static IN_THE_PROFILES_SCHEMA: [EmbeddedFile; 1] = [EmbeddedFile {
    name: "1_t.sql",
    sql: "CREATE TABLE IF NOT EXISTS t (id int);",
}];
/// The `other` profile puts the application, and so its migrations, in another schema.
const TWO_PROFILES: &str = "[profiles.other.session]\nschema = \"other_schema\"\n";

/// What `#[pgready::test]` expands to, with `PGREADY_PROFILE` set as the process would have it.
#[test]
fn the_template_is_built_with_the_profile_start_up_uses() {
    let crate_name = "profile_test";
    let url = pgready_tests::url("postgres");
    // The development template first, so that `other` would find it if it shared its name.
    for (profile, schema) in [
        (None, "public"),
        (Some("other"), "other_schema"),
        (None, "public"),
    ] {
        let setup = Setup::new(TWO_PROFILES, crate_name, &IN_THE_PROFILES_SCHEMA)
            .var("DATABASE_URL", Some(&url))
            .var("PGREADY_PROFILE", profile);
        pgready::__private::run_test(
            setup,
            "profile::t",
            Isolation::Database,
            async move |db: pgready::Db| {
                let found: Vec<(String, String)> = sqlx::query_as(
                    "SELECT current_schema()::text, table_schema::text \
                 FROM information_schema.tables WHERE table_name = 't'",
                )
                .fetch_all(db.read())
                .await
                .unwrap();
                assert_eq!(
                    found,
                    [(schema.to_owned(), schema.to_owned())],
                    "profile {profile:?}: the copy holds that profile's schema"
                );
            },
        );
    }
    let names = templates(crate_name);
    assert_eq!(names.len(), 2, "one template per profile: {names:?}");
    assert!(
        names[0].contains("_development_") && names[1].contains("_other_"),
        "{names:?}"
    );
}

// ---- transaction mode (the default) ----

/// Both run at the same time on the shared database; each sees only its own uncommitted row.
async fn insert_and_count(db: pgready::Db, marker: &str) {
    sqlx::query("INSERT INTO items (name) VALUES ($1)")
        .bind(marker)
        .execute(db.write())
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let names: Vec<String> =
        sqlx::query_scalar("SELECT name FROM items WHERE name LIKE 'rolled-back-%'")
            .fetch_all(db.read())
            .await
            .unwrap();
    assert_eq!(names, [marker], "only this test's row");
    let database: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(db.read())
        .await
        .unwrap();
    assert!(
        database.starts_with("pgready_tpl_") && database.ends_with("_tx"),
        "the shared transaction-mode database: {database}"
    );
}

#[pgready::test]
async fn rolled_back_a(db: pgready::Db) {
    insert_and_count(db, "rolled-back-a").await;
}

#[pgready::test(isolation = "transaction")]
async fn rolled_back_b(db: pgready::Db) {
    insert_and_count(db, "rolled-back-b").await;
}

static TX_TABLE: [EmbeddedFile; 1] = [EmbeddedFile {
    name: "1_t.sql",
    sql: "CREATE TABLE IF NOT EXISTS t (id int PRIMARY KEY);",
}];

fn tx_setup(crate_name: &'static str) -> Setup {
    Setup::new("", crate_name, &TX_TABLE)
        .var("DATABASE_URL", Some(&pgready_tests::url("postgres")))
        .var("PGREADY_PROFILE", None)
}

async fn ids(db: &pgready::Db) -> Vec<i32> {
    sqlx::query_scalar("SELECT id FROM t ORDER BY id")
        .fetch_all(db.read())
        .await
        .unwrap()
}

/// One test inserts rows and the next one, in the same process, sees none of them.
#[test]
fn the_next_test_does_not_see_the_rows_of_the_last() {
    let setup = || tx_setup("tx_rollback_test");
    pgready::__private::run_test(setup(), "tx::first", Isolation::Transaction, async |db| {
        sqlx::query("INSERT INTO t VALUES (1), (2)")
            .execute(db.write())
            .await
            .unwrap();
        assert_eq!(ids(&db).await, [1, 2]);
    });
    pgready::__private::run_test(setup(), "tx::second", Isolation::Transaction, async |db| {
        assert_eq!(ids(&db).await, Vec::<i32>::new(), "rolled back");
        // the same key again: no conflict with a row that was never committed
        sqlx::query("INSERT INTO t VALUES (1)")
            .execute(db.write())
            .await
            .unwrap();
    });
}

#[pgready::test]
async fn begin_inside_is_a_savepoint(db: pgready::Db) {
    sqlx::query("INSERT INTO items (name) VALUES ('sp-outer')")
        .execute(db.write())
        .await
        .unwrap();
    let count = async |db: &pgready::Db| -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM items WHERE name LIKE 'sp-%'")
            .fetch_one(db.read())
            .await
            .unwrap()
    };

    // commit releases the savepoint: its row stays
    let mut tx = db.write().begin().await.unwrap();
    sqlx::query("INSERT INTO items (name) VALUES ('sp-committed')")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(count(&db).await, 2);

    // rollback undoes only what ran in the savepoint
    let mut tx = db.write().begin().await.unwrap();
    sqlx::query("INSERT INTO items (name) VALUES ('sp-rolled-back')")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(count(&db).await, 2);

    // a nested savepoint, and a dropped one
    let mut tx = db.write().begin().await.unwrap();
    let mut inner = tx.begin().await.unwrap();
    sqlx::query("INSERT INTO items (name) VALUES ('sp-dropped')")
        .execute(&mut *inner)
        .await
        .unwrap();
    drop(inner);
    tx.commit().await.unwrap();
    assert_eq!(count(&db).await, 2);

    // `db.transaction`: Err rolls back to the savepoint, Ok releases it
    let failed: Result<(), pgready::Error> = db
        .transaction(|tx| {
            Box::pin(async move {
                sqlx::query("INSERT INTO items (name) VALUES ('sp-err')")
                    .execute(&mut **tx)
                    .await?;
                Err(pgready::Error::Config("on purpose".into()))
            })
        })
        .await;
    assert!(failed.is_err());
    assert_eq!(count(&db).await, 2);

    // a statement that fails inside a savepoint leaves the test's transaction usable
    let mut tx = db.write().begin().await.unwrap();
    let e = sqlx::query("INSERT INTO items (name) VALUES ('')")
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert_eq!(
        e.as_database_error().and_then(|e| e.code()).as_deref(),
        Some("23514")
    );
    tx.rollback().await.unwrap();
    assert_eq!(count(&db).await, 2);
}

#[pgready::test]
async fn a_second_connection_held_at_once_is_a_clear_error(db: pgready::Db) {
    let mut conn = db.write().acquire().await.unwrap();
    sqlx::query("INSERT INTO items (name) VALUES ('held')")
        .execute(&mut *conn)
        .await
        .unwrap();

    let started = std::time::Instant::now();
    let e = db.write().acquire().await.unwrap_err();
    assert!(matches!(e, pgready::Error::TestConnectionHeld), "{e:?}");
    let message = e.to_string();
    assert!(
        message.contains("isolation = \"transaction\"")
            && message.contains("#[pgready::test(isolation = \"database\")]"),
        "{message}"
    );
    // the same through `&Pool` as an executor, and while a savepoint holds it
    let e = sqlx::query("SELECT 1")
        .execute(db.write())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("isolation = \"database\""), "{e}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(1),
        "an error at once, not a wait"
    );

    // released: the same connection again, with what ran on it
    drop(conn);
    let tx = db.write().begin().await.unwrap();
    let e = sqlx::query("SELECT 1")
        .execute(db.read())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("isolation = \"database\""), "{e}");
    tx.commit().await.unwrap();
    let held: i64 = sqlx::query_scalar("SELECT count(*) FROM items WHERE name = 'held'")
        .fetch_one(db.read())
        .await
        .unwrap();
    assert_eq!(held, 1);
}

#[pgready::test]
#[should_panic(expected = "#[pgready::test(isolation = \"database\")]")]
async fn create_index_concurrently_says_to_use_database_mode(db: pgready::Db) {
    sqlx::query("CREATE INDEX CONCURRENTLY items_name ON items (name)")
        .execute(db.write())
        .await
        .unwrap();
}

#[pgready::test(isolation = "database")]
async fn create_index_concurrently_runs_in_database_mode(db: pgready::Db) {
    sqlx::query("CREATE INDEX CONCURRENTLY items_name ON items (name)")
        .execute(db.write())
        .await
        .unwrap();
    // several connections at once, and a commit another session sees
    let (a, b) = (db.write().acquire().await, db.write().acquire().await);
    assert!(a.is_ok() && b.is_ok());
}

/// A `COMMIT` sent as SQL ends the test's transaction: the test fails and says so.
#[test]
fn a_commit_sent_as_sql_fails_the_test() {
    let ended = std::panic::catch_unwind(|| {
        pgready::__private::run_test(
            tx_setup("tx_commit_test"),
            "tx::commit",
            Isolation::Transaction,
            async |db| {
                sqlx::query("COMMIT").execute(db.write()).await.unwrap();
            },
        )
    })
    .unwrap_err();
    let message = ended.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        message.contains("ended its transaction") && message.contains("isolation = \"database\""),
        "{message}"
    );
}

/// The shared test cluster runs as test suites run PostgreSQL; nothing else does.
#[tokio::test]
async fn the_test_cluster_is_throw_away() {
    let mut conn = sqlx::PgConnection::connect(&pgready_tests::url("postgres"))
        .await
        .unwrap();
    let settings: (String, String, String) = sqlx::query_as(
        "SELECT current_setting('fsync'), current_setting('synchronous_commit'), \
         current_setting('full_page_writes')",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(settings, ("off".into(), "off".into(), "off".into()));
    conn.close().await.unwrap();
}
