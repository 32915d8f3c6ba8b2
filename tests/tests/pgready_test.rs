//! `#[pgready::test]`: each test gets its own database cloned from a migrated template.

use std::process::Command;

use pgready::__private::{EmbeddedFile, Setup};
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

#[pgready::test]
async fn isolation_a(db: pgready::Db) {
    write_and_read_back(db, "a").await;
}

#[pgready::test]
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
#[pgready::test]
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

#[test]
fn editing_a_migration_makes_a_new_template_and_removes_the_old() {
    let crate_name = "template_edit_test";
    let url = pgready_tests::url("postgres");
    let v1 = Setup::new("", crate_name, &V1).var("DATABASE_URL", Some(&url));
    pgready::__private::run_test(v1, "edit::v1", async |db: pgready::Db| {
        let kind: String = sqlx::query_scalar(
            "SELECT data_type::text FROM information_schema.columns WHERE table_name = 't'",
        )
        .fetch_one(db.read())
        .await
        .unwrap();
        assert_eq!(kind, "integer");
    });
    let first = templates(crate_name);
    assert_eq!(first.len(), 1, "{first:?}");

    let v2 = Setup::new("", crate_name, &V2).var("DATABASE_URL", Some(&url));
    pgready::__private::run_test(v2, "edit::v2", async |db: pgready::Db| {
        let kind: String = sqlx::query_scalar(
            "SELECT data_type::text FROM information_schema.columns WHERE table_name = 't'",
        )
        .fetch_one(db.read())
        .await
        .unwrap();
        assert_eq!(
            kind, "bigint",
            "the edited migration is in the new template"
        );
    });
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
        pgready::__private::run_test(pile_setup(), &format!("pile::test_{i}"), insert_a_row);
    }
    let waiting = databases_of(std::process::id());
    // Each is dropped before the next copy: only the last test's can still be there.
    assert!(waiting.len() <= 1, "passed databases pile up: {waiting:?}");
}

/// Run by the tests below: one passing test in its own process, as `cargo nextest` runs it.
#[test]
#[ignore = "run by passed_databases_go_away_and_do_not_pile_up"]
fn one_passing_test() {
    pgready::__private::run_test(pile_setup(), "pile::one", insert_a_row);
}

/// Run by `a_crashed_test_process_leaves_its_database_to_the_next_one`.
#[test]
#[ignore = "dies on purpose; run by a_crashed_test_process_leaves_its_database_to_the_next_one"]
fn crashes_on_purpose() {
    pgready::__private::run_test(pile_setup(), "pile::crash", async |db: pgready::Db| -> () {
        insert_a_row(db).await;
        // Dies with the test's database still there: no drop, no comment.
        std::process::abort();
    });
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
        pgready::__private::run_test(setup, "profile::t", async move |db: pgready::Db| {
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
        });
    }
    let names = templates(crate_name);
    assert_eq!(names.len(), 2, "one template per profile: {names:?}");
    assert!(
        names[0].contains("_development_") && names[1].contains("_other_"),
        "{names:?}"
    );
}
