//! `pgready db reset` against the test cluster: a dry run changes nothing, `--yes` drops the
//! data and re-applies the migrations, `--data-only` keeps the schema and the migrations table
//! and restarts identities, and the production profile and protected names are refused.

mod support;

use pgready::sqlx::{self, Connection as _, Executor as _, PgConnection};
use serde_json::Value;
use support::{Project, cluster_password};

const ITEMS: &str = "CREATE TABLE items (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \
     name TEXT NOT NULL);\nCREATE TABLE tags (item BIGINT REFERENCES items, tag TEXT);\n";

fn reset(project: &Project, args: &[&str], vars: &[(&str, &str)]) -> support::Output {
    let mut all = vec!["db", "reset"];
    all.extend(args);
    let out = project.pgready_with_env(&all, vars);
    assert!(!out.stdout.contains(cluster_password()) && !out.stderr.contains(cluster_password()));
    out
}

async fn counts(url: &str) -> (i64, i64, i64) {
    let mut conn = PgConnection::connect(url).await.expect("connect");
    let row = sqlx::query_as(
        "SELECT (SELECT count(*) FROM items), (SELECT count(*) FROM tags), \
         (SELECT count(*) FROM _sqlx_migrations WHERE success)",
    )
    .fetch_one(&mut conn)
    .await
    .expect("count");
    conn.close().await.ok();
    row
}

async fn fill(url: &str) {
    let mut conn = PgConnection::connect(url).await.expect("connect");
    conn.execute(
        "INSERT INTO items (name) VALUES ('a'), ('b'), ('c'); \
         INSERT INTO tags VALUES (3, 'x'); CREATE TABLE stray (x INT)",
    )
    .await
    .expect("fill");
    conn.close().await.ok();
}

async fn table_exists(url: &str, name: &str) -> bool {
    let mut conn = PgConnection::connect(url).await.expect("connect");
    let found: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(name)
        .fetch_one(&mut conn)
        .await
        .expect("look up");
    conn.close().await.ok();
    found
}

#[tokio::test]
async fn reset_recreates_and_migrates_only_with_yes() {
    let project = Project::with_database("reset", "").await;
    project.write("1_items.sql", ITEMS);
    assert_eq!(project.pgready(&["migrate", "run"]).code, 0);
    fill(project.url()).await;
    // a session left open, as a running service would hold one
    let mut open = PgConnection::connect(project.url()).await.expect("connect");

    let dry = reset(&project, &[], &[]);
    assert_eq!(dry.code, 0, "{dry:?}");
    assert!(dry.stdout.contains("dry run"), "{}", dry.stdout);
    assert_eq!(
        counts(project.url()).await,
        (3, 1, 1),
        "a dry run changes nothing"
    );

    let done = reset(&project, &["--yes", "--format", "json"], &[]);
    assert_eq!(done.code, 0, "{done:?}");
    let json: Value = serde_json::from_str(&done.stdout).expect("JSON");
    assert_eq!(json["mode"], "recreate");
    assert_eq!(json["dry_run"], false);
    assert_eq!(json["applied"], 1);
    assert_eq!(json["latest_version"], 1);
    assert_eq!(counts(project.url()).await, (0, 0, 1));
    assert!(
        !table_exists(project.url(), "stray").await,
        "what the migrations do not create is gone"
    );
    assert!(
        open.execute("SELECT 1").await.is_err(),
        "the old session was ended"
    );
}

#[tokio::test]
async fn data_only_keeps_the_schema_and_restarts_identities() {
    let project = Project::with_database("reset_data", "").await;
    project.write("1_items.sql", ITEMS);
    assert_eq!(project.pgready(&["migrate", "run"]).code, 0);
    fill(project.url()).await;

    let dry = reset(&project, &["--data-only"], &[]);
    assert_eq!(dry.code, 0, "{dry:?}");
    assert!(
        dry.stdout.contains("would empty public.items"),
        "{}",
        dry.stdout
    );
    assert!(!dry.stdout.contains("_sqlx_migrations"), "{}", dry.stdout);
    assert_eq!(counts(project.url()).await, (3, 1, 1));

    let done = reset(&project, &["--data-only", "--yes", "--format", "json"], &[]);
    assert_eq!(done.code, 0, "{done:?}");
    let json: Value = serde_json::from_str(&done.stdout).expect("JSON");
    assert_eq!(json["mode"], "data_only");
    assert_eq!(
        json["tables"],
        serde_json::json!(["public.items", "public.stray", "public.tags"])
    );
    assert_eq!(
        counts(project.url()).await,
        (0, 0, 1),
        "the migrations table is kept"
    );
    assert!(
        table_exists(project.url(), "stray").await,
        "the schema is kept"
    );
    let mut conn = PgConnection::connect(project.url()).await.expect("connect");
    let id: i64 = sqlx::query_scalar("INSERT INTO items (name) VALUES ('d') RETURNING id")
        .fetch_one(&mut conn)
        .await
        .expect("insert");
    assert_eq!(id, 1, "identities restart");
    conn.close().await.ok();
    assert_eq!(project.pgready(&["migrate", "status", "--check"]).code, 0);
}

#[tokio::test]
async fn production_and_protected_databases_are_refused() {
    let project = Project::with_database("reset_refused", "").await;
    project.write("1_items.sql", ITEMS);
    assert_eq!(project.pgready(&["migrate", "run"]).code, 0);
    fill(project.url()).await;

    for args in [&["--yes"][..], &["--yes", "--data-only"], &[]] {
        let out = reset(&project, args, &[("PGREADY_PROFILE", "production")]);
        assert_eq!(out.code, 1, "{out:?}");
        assert!(
            out.stderr.contains("`production` profile"),
            "{}",
            out.stderr
        );
    }

    let database = project.url().rsplit('/').next().expect("a name").to_owned();
    let base = format!("[database]\nurl_env = \"{}\"\n", support::URL_ENV);
    // the test cluster's DSN names the host 127.0.0.1
    for pattern in [database.as_str(), "t_reset_refused_*", "127.0.0.*"] {
        std::fs::write(
            project.dir.join("pgready.toml"),
            format!("{base}protected = [\"staging\", \"{pattern}\"]\n"),
        )
        .expect("write pgready.toml");
        let out = reset(&project, &["--yes", "--data-only"], &[]);
        assert_eq!(out.code, 1, "{pattern}: {out:?}");
        assert!(
            out.stderr.contains(&format!("`{pattern}`")) && out.stderr.contains("protected"),
            "{}",
            out.stderr
        );
    }
    assert_eq!(
        counts(project.url()).await,
        (3, 1, 1),
        "nothing was touched"
    );

    // a DSN in `protected` is a config error that does not repeat it
    std::fs::write(
        project.dir.join("pgready.toml"),
        format!("{base}protected = [\"postgres://me:sekrit@db/app\"]\n"),
    )
    .expect("write pgready.toml");
    let out = reset(&project, &[], &[]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("database.protected") && !out.stderr.contains("sekrit"),
        "{}",
        out.stderr
    );
}

/// `db reset --yes` draws its progress bar on a terminal (a pseudo-terminal from util-linux's
/// `script`), and nothing on stderr otherwise.
#[tokio::test]
async fn the_progress_bar_is_drawn_on_a_terminal_only() {
    let project = Project::with_database("reset_bar", "").await;
    project.write("1_items.sql", ITEMS);
    let plain = reset(&project, &["--yes"], &[]);
    assert_eq!(plain.code, 0, "{plain:?}");
    assert!(
        plain.stderr.is_empty(),
        "no bar off a terminal: {}",
        plain.stderr
    );

    let command = format!("'{}' db reset --yes", env!("CARGO_BIN_EXE_pgready"));
    let out = std::process::Command::new("script")
        .args(["--quiet", "--return", "--command", &command, "/dev/null"])
        .current_dir(&project.dir)
        .env_remove("PGREADY_PROFILE")
        .env_remove("DATABASE_URL")
        .env(support::URL_ENV, project.url())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run `script` (util-linux) for a terminal");
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{shown}");
    assert!(!shown.contains(cluster_password()));
    assert!(
        shown.contains("dropping `") || shown.contains("applying 1 migration file(s)"),
        "a bar on the terminal: {shown:?}"
    );
    assert!(shown.contains("dropped and created"), "{shown}");
}
