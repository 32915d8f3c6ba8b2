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
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut admin = sqlx::PgConnection::connect(&pgready_tests::url("postgres"))
            .await
            .unwrap();
        sqlx::query_scalar("SELECT datname::text FROM pg_database WHERE datname LIKE $1 ORDER BY 1")
            .bind(format!("pgready_tpl_{crate_name}_%"))
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
