//! `pgready migrate run | status | revert` against a real PostgreSQL (the shared test cluster).

mod support;

use pgready::sqlx::{self, Connection as _, PgConnection};
use support::{Project, URL_ENV, cluster_password};

const CREATE_ITEMS: &str = "CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT NOT NULL);\n";
const SEED_ITEMS: &str = "INSERT INTO items (id, name) VALUES (1, 'first');\n";

async fn connect(project: &Project) -> PgConnection {
    PgConnection::connect(project.url())
        .await
        .expect("connect to the test database")
}

async fn table_exists(conn: &mut PgConnection, table: &str) -> bool {
    sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(table)
        .fetch_one(conn)
        .await
        .expect("to_regclass")
}

async fn recorded_versions(conn: &mut PgConnection) -> Vec<i64> {
    sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
        .fetch_all(conn)
        .await
        .expect("read _sqlx_migrations")
}

#[tokio::test]
async fn run_applies_pending_migrations_and_status_shows_them_applied() {
    let project = Project::with_database("run", "").await;
    project.write("1_create_items.sql", CREATE_ITEMS);
    project.write("2_seed_items.sql", SEED_ITEMS);

    let before = project.pgready(&["migrate", "status"]);
    assert_eq!(before.code, 0);
    assert_eq!(
        before.stdout,
        "1  pending  1_create_items.sql\n2  pending  2_seed_items.sql\n"
    );
    let check = project.pgready(&["migrate", "status", "--check"]);
    assert_eq!(check.code, 1, "pending migrations fail the check");
    assert!(check.stderr.contains("1 (pending)"), "{}", check.stderr);

    let run = project.pgready(&["migrate", "run"]);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout
            .starts_with("applied 1_create_items.sql\napplied 2_seed_items.sql\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("applied 2 migration(s)"),
        "{}",
        run.stdout
    );

    let mut conn = connect(&project).await;
    assert_eq!(recorded_versions(&mut conn).await, [1, 2]);
    let name: String = sqlx::query_scalar("SELECT name FROM items WHERE id = 1")
        .fetch_one(&mut conn)
        .await
        .expect("the seeded row");
    assert_eq!(name, "first");
    conn.close().await.ok();

    let after = project.pgready(&["migrate", "status"]);
    assert_eq!(
        (after.code, after.stdout.as_str()),
        (
            0,
            "1  applied  1_create_items.sql\n2  applied  2_seed_items.sql\n"
        )
    );
    assert_eq!(project.pgready(&["migrate", "status", "--check"]).code, 0);

    let again = project.pgready(&["migrate", "run"]);
    assert_eq!(again.code, 0);
    assert!(
        again.stdout.starts_with("nothing to apply"),
        "{}",
        again.stdout
    );
}

#[tokio::test]
async fn status_check_fails_on_an_edited_or_deleted_applied_migration() {
    let project = Project::with_database("mismatch", "").await;
    project.write("1_create_items.sql", CREATE_ITEMS);
    project.write("2_seed_items.sql", SEED_ITEMS);
    assert_eq!(project.pgready(&["migrate", "run"]).code, 0);

    project.write("1_create_items.sql", &format!("{CREATE_ITEMS}-- edited\n"));
    let status = project.pgready(&["migrate", "status", "--check"]);
    assert_eq!(status.code, 1);
    assert!(
        status
            .stdout
            .contains("1  checksum mismatch  1_create_items.sql\n"),
        "{}",
        status.stdout
    );
    assert!(
        status.stderr.contains("checksum mismatch"),
        "{}",
        status.stderr
    );
    assert_eq!(
        project.pgready(&["migrate", "status"]).code,
        0,
        "without --check, status only reports"
    );
    let run = project.pgready(&["migrate", "run"]);
    assert_eq!(run.code, 1, "run refuses an edited applied migration");
    assert!(run.stderr.contains("1_create_items.sql"), "{}", run.stderr);

    project.write("1_create_items.sql", CREATE_ITEMS);
    std::fs::remove_file(project.migration("2_seed_items.sql")).expect("delete");
    let status = project.pgready(&["migrate", "status", "--check"]);
    assert_eq!(status.code, 1);
    assert_eq!(
        status.stdout,
        "1  applied  1_create_items.sql\n2  missing locally  seed items\n"
    );
}

#[tokio::test]
async fn revert_runs_the_down_migration_of_the_newest_applied_one() {
    let project = Project::with_database("revert", "").await;
    project.write("1_create_items.sql", CREATE_ITEMS);
    project.write(
        "2_create_tags.up.sql",
        "CREATE TABLE tags (id BIGINT PRIMARY KEY);\n",
    );
    project.write("2_create_tags.down.sql", "DROP TABLE tags;\n");
    assert_eq!(project.pgready(&["migrate", "run"]).code, 0);
    let mut conn = connect(&project).await;
    assert!(table_exists(&mut conn, "tags").await);

    let revert = project.pgready(&["migrate", "revert"]);
    assert_eq!(revert.code, 0);
    assert_eq!(revert.stdout, "reverted 2 with 2_create_tags.down.sql\n");
    assert!(
        !table_exists(&mut conn, "tags").await,
        "the down migration ran"
    );
    assert!(
        table_exists(&mut conn, "items").await,
        "only the newest is reverted"
    );
    assert_eq!(recorded_versions(&mut conn).await, [1], "its row is gone");
    let status = project.pgready(&["migrate", "status"]);
    assert!(
        status.stdout.contains("2  pending  2_create_tags.up.sql"),
        "{}",
        status.stdout
    );

    // version 1 has no `.down.sql`
    let refused = project.pgready(&["migrate", "revert"]);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("not reversible"),
        "{}",
        refused.stderr
    );
    assert!(table_exists(&mut conn, "items").await);
    assert_eq!(recorded_versions(&mut conn).await, [1]);
    conn.close().await.ok();
}

#[tokio::test]
async fn a_failing_migration_exits_1_naming_the_file_and_keeps_the_ones_before() {
    let project = Project::with_database("failing", "").await;
    project.write("1_create_items.sql", CREATE_ITEMS);
    project.write("2_broken.sql", "SELECT 1;\nSELEC 2;\n");
    let run = project.pgready(&["migrate", "run"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stdout, "applied 1_create_items.sql\n");
    assert!(run.stderr.starts_with("error: "), "{}", run.stderr);
    assert!(run.stderr.contains("2_broken.sql:2"), "{}", run.stderr);
    assert!(!run.stderr.contains(cluster_password()), "{}", run.stderr);
    let mut conn = connect(&project).await;
    assert_eq!(recorded_versions(&mut conn).await, [1]);
    conn.close().await.ok();
}

#[tokio::test]
async fn connection_errors_never_show_the_password() {
    let project = Project::new(
        "password",
        "[database]\nurl_env = \"MY_DSN\"\nconnect_retry = \"0s\"\n",
    );
    project.write("1_create_items.sql", CREATE_ITEMS);
    let url = pgready_tests::url("no_such_database_here");
    let out = project.pgready_with_env(&["migrate", "status"], &[("MY_DSN", &url)]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.starts_with("error: "), "{}", out.stderr);
    assert!(
        out.stderr.contains("no_such_database_here"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains(cluster_password()), "{}", out.stderr);
}

#[test]
fn an_unset_dsn_variable_is_named() {
    let project = Project::new("nodsn", "");
    project.write("1_create_items.sql", CREATE_ITEMS);
    for cmd in ["run", "revert", "status"] {
        let out = project.pgready(&["migrate", cmd]);
        assert_eq!(out.code, 1, "{cmd}");
        assert!(
            out.stderr
                .starts_with(&format!("error: `{URL_ENV}` is not set")),
            "{cmd}: {}",
            out.stderr
        );
    }
}

#[test]
fn misnamed_migrations_stop_the_command_before_it_connects() {
    let project = Project::new("misnamed", "");
    project.write("1_create_items.sql", CREATE_ITEMS);
    project.write("create_tags.sql", "CREATE TABLE tags (id int);\n");
    let out = project.pgready(&["migrate", "status"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("create_tags.sql: misnamed migration file"),
        "{}",
        out.stderr
    );
}
