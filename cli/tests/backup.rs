//! `pgready backup | backup list | backup prune | backup verify | restore` against the shared
//! test cluster, with its real `pg_dump` and `pg_restore`, over a DSN that carries a password.

mod support;

use std::path::{Path, PathBuf};

use pgready::sqlx::{self, Connection as _, Executor as _, PgConnection};
use serde_json::Value;
use support::{Output, Project, cluster_password};

const SCHEMA: &str = "CREATE TABLE items (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL,
    price NUMERIC(10, 2),
    tags TEXT[] NOT NULL DEFAULT '{}'
);
CREATE TABLE notes (id SERIAL PRIMARY KEY, item_id BIGINT REFERENCES items, body TEXT);
";

/// A project whose database has the migrated schema and some rows: 500 items (NULLs, quotes,
/// arrays) and 3 notes.
async fn seeded(label: &str, config: &str) -> Project {
    let project = Project::with_database(label, config).await;
    project.write("1_schema.sql", SCHEMA);
    ok(&project.pgready(&["migrate", "run"]));
    let mut conn = connect(project.url()).await;
    conn.execute(
        "INSERT INTO items (name, price, tags) \
         SELECT 'item ''' || i || E'\\n', CASE WHEN i % 7 = 0 THEN NULL ELSE i * 1.25 END, \
         ARRAY['t' || (i % 3)] FROM generate_series(1, 500) i; \
         INSERT INTO notes (item_id, body) VALUES (1, 'a'), (2, NULL), (NULL, 'c');",
    )
    .await
    .expect("seed");
    conn.close().await.ok();
    project
}

async fn connect(url: &str) -> PgConnection {
    PgConnection::connect(url).await.expect("connect")
}

/// Asserts the run succeeded and printed no password.
fn ok(out: &Output) -> &Output {
    assert_eq!(
        out.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    no_password(out)
}

fn no_password(out: &Output) -> &Output {
    let password = cluster_password();
    assert!(
        !out.stdout.contains(password),
        "password in stdout:\n{}",
        out.stdout
    );
    assert!(
        !out.stderr.contains(password),
        "password in stderr:\n{}",
        out.stderr
    );
    out
}

fn json(out: &Output) -> Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", out.stdout))
}

/// Every row of both tables, as text, in key order.
async fn rows(url: &str) -> Vec<String> {
    let mut conn = connect(url).await;
    let rows = sqlx::query_scalar(
        "SELECT row_to_json(i)::text FROM (SELECT * FROM items ORDER BY id) i \
         UNION ALL SELECT row_to_json(n)::text FROM (SELECT * FROM notes ORDER BY id) n",
    )
    .fetch_all(&mut conn)
    .await
    .expect("read rows");
    conn.close().await.ok();
    rows
}

/// A database name that no other test uses, and that does not exist yet.
fn new_database(label: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!(
        "t_{label}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

async fn database_exists(name: &str) -> bool {
    let mut admin = connect(&pgready_tests::url("postgres")).await;
    let exists = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(name)
        .fetch_one(&mut admin)
        .await
        .expect("pg_database");
    admin.close().await.ok();
    exists
}

fn backups_dir(project: &Project) -> PathBuf {
    project.dir.join("backups")
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("JSON")
}

/// `pgready backup --format json`: the name and the manifest.
fn backup(project: &Project, extra: &[&str]) -> (String, Value) {
    let mut args = vec!["backup", "--format", "json"];
    args.extend(extra);
    let out = project.pgready(&args);
    let value = json(ok(&out));
    let name = value["name"].as_str().expect("name").to_owned();
    (name, value["manifest"].clone())
}

#[tokio::test]
async fn backup_then_restore_into_a_new_database_gives_the_same_rows() {
    let project = seeded("roundtrip", "").await;
    let text = project.pgready(&["backup"]);
    ok(&text);
    assert!(
        text.stdout.starts_with("backed up `t_roundtrip_"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("3 table(s), 504 row(s)"),
        "{}",
        text.stdout
    );
    assert!(
        text.stderr.is_empty(),
        "no progress bar without a terminal: {}",
        text.stderr
    );

    let (name, manifest) = backup(&project, &[]);
    let dir = backups_dir(&project);
    let dump = dir.join(format!("{name}.dump"));
    assert!(dump.is_file());
    assert_eq!(manifest["dump"], format!("{name}.dump"));
    assert_eq!(
        manifest["size"],
        std::fs::metadata(&dump).expect("dump").len()
    );
    assert_eq!(manifest["sha256"].as_str().map(str::len), Some(64));
    assert_eq!(manifest["scope"], "database");
    assert_eq!(manifest["migration_version"], 1);
    assert_eq!(manifest["compression"], "gzip");
    assert!(
        manifest["pg_dump_version"]
            .as_str()
            .is_some_and(|v| !v.is_empty())
    );
    let tables: Vec<(String, i64)> = manifest["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .map(|t| {
            (
                format!(
                    "{}.{}",
                    t["schema"].as_str().unwrap_or(""),
                    t["name"].as_str().unwrap_or("")
                ),
                t["rows"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    assert_eq!(
        tables,
        [
            ("public._sqlx_migrations".to_owned(), 1),
            ("public.items".to_owned(), 500),
            ("public.notes".to_owned(), 3)
        ]
    );
    let manifest_text =
        std::fs::read_to_string(dir.join(format!("{name}.json"))).expect("manifest");
    assert!(!manifest_text.contains(cluster_password()));

    let target = new_database("roundtrip_copy");
    let missing = project.pgready(&["restore", &name, "--database", &target]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("does not exist: add `--create`"),
        "{}",
        missing.stderr
    );

    let restored = project.pgready(&["restore", &name, "--database", &target, "--create"]);
    ok(&restored);
    assert!(
        restored
            .stdout
            .contains(&format!("into new database `{target}`")),
        "{}",
        restored.stdout
    );
    let original = rows(project.url()).await;
    assert_eq!(original.len(), 503);
    assert_eq!(rows(&pgready_tests::url(&target)).await, original);

    // the copy is not empty now: restoring into it again is refused without --force
    let again = project.pgready(&["restore", &name, "--database", &target]);
    assert_eq!(again.code, 1);
    no_password(&again);
    assert!(
        again
            .stderr
            .contains(&format!("database `{target}` is not empty")),
        "{}",
        again.stderr
    );
    assert!(again.stderr.contains("--force"), "{}", again.stderr);
    let exists = project.pgready(&["restore", &name, "--database", &target, "--create"]);
    assert_eq!(exists.code, 1);
    assert!(exists.stderr.contains("add `--clean`"), "{}", exists.stderr);

    // --clean --force overwrites: a changed row comes back as it was in the backup
    let mut conn = connect(&pgready_tests::url(&target)).await;
    conn.execute("UPDATE items SET name = 'changed' WHERE id = 1; DELETE FROM notes")
        .await
        .expect("change the copy");
    conn.close().await.ok();
    let out = project.pgready(&[
        "restore",
        &name,
        "--database",
        &target,
        "--clean",
        "--force",
        "--format",
        "json",
    ]);
    let report = json(ok(&out));
    assert_eq!(report["database"], target.as_str());
    assert_eq!(report["created"], false);
    assert_eq!(
        report["rows"], 504,
        "the manifest's rows, migrations row included"
    );
    assert_eq!(rows(&pgready_tests::url(&target)).await, original);

    // --create --clean drops and recreates (with --force, as it holds data)
    let out = project.pgready(&[
        "restore", &name, "-d", &target, "--create", "--clean", "--force",
    ]);
    ok(&out);
    assert_eq!(rows(&pgready_tests::url(&target)).await, original);
}

#[tokio::test]
async fn a_tampered_dump_is_refused_by_restore_and_fails_verify() {
    let project = seeded("tampered", "").await;
    let (name, manifest) = backup(&project, &[]);
    let dump = backups_dir(&project).join(format!("{name}.dump"));
    let mut bytes = std::fs::read(&dump).expect("read dump");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&dump, &bytes).expect("write dump");

    let target = new_database("tampered_copy");
    let out = project.pgready(&["restore", &name, "--database", &target, "--create"]);
    assert_eq!(out.code, 1);
    no_password(&out);
    assert!(
        out.stderr.contains("does not match its manifest"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains(&manifest["sha256"].as_str().expect("sha")[..12]),
        "{}",
        out.stderr
    );
    assert!(!database_exists(&target).await, "nothing was created");

    let out = project.pgready(&["backup", "verify", "--format", "json"]);
    assert_eq!(out.code, 1);
    no_password(&out);
    let report = json(&out);
    assert_eq!(report["backup"], name.as_str());
    assert_eq!(report["verification"]["ok"], false);
    let problem = report["verification"]["problems"][0].as_str().unwrap_or("");
    assert!(problem.contains("does not match its manifest"), "{problem}");
    let recorded = read_json(&backups_dir(&project).join(format!("{name}.verify.json")));
    assert_eq!(recorded["verifications"][0]["ok"], false);

    let list = project.pgready(&["backup", "list"]);
    assert!(list.stdout.contains("FAILED"), "{}", list.stdout);
}

#[tokio::test]
async fn verify_restores_compares_and_records_its_result() {
    let project = seeded("verify", "").await;
    let (name, _) = backup(&project, &[]);
    let dir = backups_dir(&project);

    let out = project.pgready(&["backup", "verify"]);
    ok(&out);
    assert!(
        out.stdout.contains(&format!(
            "verified {name}: checksum, 3 table(s) with 504 row(s)"
        )),
        "{}",
        out.stdout
    );
    let recorded = read_json(&dir.join(format!("{name}.verify.json")));
    let first = &recorded["verifications"][0];
    assert_eq!(first["ok"], true);
    assert_eq!(first["tables_checked"], 3);
    assert!(
        first["verified_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert_no_scratch_databases().await;

    let list = json(ok(&project.pgready(&["backup", "list", "--format", "json"])));
    assert_eq!(list["backups"][0]["name"], name.as_str());
    assert_eq!(list["backups"][0]["last_verification"]["ok"], true);

    // a manifest that records other counts than the dump holds: the restore is counted
    let manifest_path = dir.join(format!("{name}.json"));
    let mut manifest = read_json(&manifest_path);
    manifest["tables"][1]["rows"] = Value::from(499);
    std::fs::write(&manifest_path, manifest.to_string()).expect("write manifest");
    let out = project.pgready(&["backup", "verify", &name]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("\"public\".\"items\": 500 row(s) restored, the manifest records 499"),
        "{}",
        out.stderr
    );
    assert_no_scratch_databases().await;

    // the project's migrations changed after the backup: the restore would not start the service
    manifest["tables"][1]["rows"] = Value::from(500);
    std::fs::write(&manifest_path, manifest.to_string()).expect("write manifest");
    project.write("1_schema.sql", &format!("{SCHEMA}-- edited\n"));
    project.write("2_more.sql", "CREATE TABLE more (id int);\n");
    let out = project.pgready(&["backup", "verify", "--format", "json"]);
    assert_eq!(out.code, 1);
    let report = json(&out);
    let problems = report["verification"]["problems"].to_string();
    assert!(
        problems.contains("migration 1 (1_schema.sql) is `checksum mismatch`"),
        "{problems}"
    );
    assert!(
        report["notes"]
            .to_string()
            .contains("1 migration(s) newer than the backup (2)"),
        "{report}"
    );
    let recorded = read_json(&dir.join(format!("{name}.verify.json")));
    let results: Vec<&Value> = recorded["verifications"]
        .as_array()
        .expect("list")
        .iter()
        .map(|v| &v["ok"])
        .collect();
    assert_eq!(
        results,
        [&Value::Bool(true), &Value::Bool(false), &Value::Bool(false)]
    );
    assert_no_scratch_databases().await;
}

async fn assert_no_scratch_databases() {
    let mut admin = connect(&pgready_tests::url("postgres")).await;
    let left: Vec<String> = sqlx::query_scalar(
        "SELECT datname::text FROM pg_database WHERE datname LIKE 'pgready\\_verify\\_' || $1 || '\\_%'",
    )
    .bind(std::process::id().to_string())
    .fetch_all(&mut admin)
    .await
    .expect("pg_database");
    admin.close().await.ok();
    // other verify runs of this test binary may be in flight; they are children, not this pid
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test]
async fn prune_is_a_dry_run_unless_yes_and_keeps_the_newest_verified() {
    let project = seeded("prune", "[backup]\nkeep = 1\n").await;
    let (oldest, _) = backup(&project, &["--table", "notes"]);
    ok(&project.pgready(&["backup", "verify", &oldest]));
    let (middle, _) = backup(&project, &["--table", "notes"]);
    let (newest, _) = backup(&project, &["--table", "notes"]);
    let dir = backups_dir(&project);
    let files_before = support::files_in(&dir);
    assert_eq!(files_before.len(), 7, "{files_before:?}");

    let dry = project.pgready(&["backup", "prune"]);
    ok(&dry);
    assert!(
        dry.stdout
            .contains(&format!("keep    {newest}  (one of the newest 1)")),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout
            .contains(&format!("delete  {middle}  (completed ")),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout
            .contains(&format!("keep    {oldest}  (the newest verified backup)")),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout.contains("dry run: would delete 1 backup(s)"),
        "{}",
        dry.stdout
    );
    assert_eq!(
        support::files_in(&dir),
        files_before,
        "a dry run deletes nothing"
    );

    let plan = json(ok(
        &project.pgready(&["backup", "prune", "--format", "json"])
    ));
    assert_eq!(plan["dry_run"], true);
    assert_eq!(plan["backups"][1]["keep"], false);

    let done = project.pgready(&["backup", "prune", "--yes"]);
    ok(&done);
    assert!(
        done.stdout.contains(&format!("deleted {middle}")),
        "{}",
        done.stdout
    );
    let files = support::files_in(&dir);
    for gone in [format!("{middle}.dump"), format!("{middle}.json")] {
        assert!(!files.contains(&gone), "{files:?}");
    }
    assert_eq!(files.len(), 5, "{files:?}");
    let list = json(ok(&project.pgready(&["backup", "list", "--format", "json"])));
    let names: Vec<&str> = list["backups"]
        .as_array()
        .expect("backups")
        .iter()
        .filter_map(|b| b["name"].as_str())
        .collect();
    assert_eq!(names, [newest.as_str(), oldest.as_str()]);

    let usage = project.pgready(&["backup", "prune", "--keep", "0"]);
    assert_eq!(usage.code, 2, "{}", usage.stderr);
}

#[tokio::test]
async fn table_backups_and_usage_errors() {
    let project = seeded("tables", "").await;
    let (name, manifest) = backup(&project, &["--table", "public.notes"]);
    assert_eq!(manifest["scope"], "tables");
    assert_eq!(manifest["tables"].as_array().map(Vec::len), Some(1));
    assert_eq!(manifest["tables"][0]["rows"], 3);
    let out = project.pgready(&["backup", "verify", &name]);
    ok(&out);
    assert!(
        out.stdout.contains("the migrations table is not compared"),
        "{}",
        out.stdout
    );

    let unknown = project.pgready(&["backup", "--table", "nope", "--table", "items"]);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("no table `nope`"),
        "{}",
        unknown.stderr
    );
    let view = {
        let mut conn = connect(project.url()).await;
        conn.execute("CREATE VIEW v AS SELECT 1 AS one")
            .await
            .expect("view");
        conn.close().await.ok();
        project.pgready(&["backup", "--table", "v"])
    };
    assert_eq!(view.code, 2);
    assert!(view.stderr.contains("is not a table"), "{}", view.stderr);

    let none = project.pgready(&["restore", "no-such-backup"]);
    assert_eq!(none.code, 2);
    assert!(
        none.stderr.contains("no backup `no-such-backup`"),
        "{}",
        none.stderr
    );
}

#[tokio::test]
async fn compression_follows_the_config_and_pg_dumps_version() {
    let project = seeded("zstd", "[backup]\ncompression = \"zstd\"\n").await;
    let out = project.pgready(&["backup", "--format", "json"]);
    no_password(&out);
    let binaries = pgready::embedded::Binaries::discover().expect("binaries");
    let version = std::process::Command::new(binaries.postgres())
        .arg("--version")
        .output()
        .expect("postgres --version");
    let major: u32 = String::from_utf8_lossy(&version.stdout)
        .split_whitespace()
        .nth(2)
        .and_then(|v| v.split('.').next())
        .and_then(|m| m.parse().ok())
        .expect("a version");
    if major < 16 {
        assert_eq!(out.code, 1);
        assert!(
            out.stderr.contains("needs pg_dump 16 or newer"),
            "{}",
            out.stderr
        );
        assert!(
            !backups_dir(&project).exists() || support::files_in(&backups_dir(&project)).is_empty()
        );
    } else {
        assert_eq!(json(ok(&out))["manifest"]["compression"], "zstd");
    }
    std::fs::write(
        project.dir.join("pgready.toml"),
        format!(
            "[database]\nurl_env = \"{}\"\n[backup]\ncompression = \"none\"\n",
            support::URL_ENV
        ),
    )
    .expect("config");
    let (_, plain) = backup(&project, &[]);
    assert_eq!(plain["compression"], "none");
    std::fs::write(
        project.dir.join("pgready.toml"),
        format!(
            "[database]\nurl_env = \"{}\"\n[backup]\ncompression_level = 9\n",
            support::URL_ENV
        ),
    )
    .expect("config");
    let (_, best) = backup(&project, &[]);
    assert_eq!(best["compression"], "gzip:9");
    assert!(
        best["size"].as_u64() < plain["size"].as_u64(),
        "{best} vs {plain}"
    );
}

#[test]
fn missing_dsn_and_empty_directory() {
    let project = Project::new("nobackups", "");
    let list = project.pgready(&["backup", "list"]);
    assert_eq!(list.code, 0);
    assert!(list.stdout.starts_with("no backups in "), "{}", list.stdout);
    let verify = project.pgready(&["backup", "verify"]);
    assert_eq!(verify.code, 1);
    assert!(verify.stderr.contains("no backups in"), "{}", verify.stderr);
    let backup = project.pgready(&["backup"]);
    assert_eq!(backup.code, 1);
    assert!(
        backup
            .stderr
            .contains(&format!("`{}` is not set", support::URL_ENV)),
        "{}",
        backup.stderr
    );
}

#[test]
fn connection_errors_never_show_the_password() {
    let project = Project::new("backup-password", "");
    let url = pgready_tests::url("no_such_database_for_backup");
    for args in [&["backup"][..], &["backup", "--format", "json"][..]] {
        let out = project.pgready_with_env(args, &[(support::URL_ENV, &url)]);
        assert_eq!(out.code, 1);
        no_password(&out);
        assert!(
            out.stderr
                .contains("cannot connect to database `no_such_database_for_backup`"),
            "{}",
            out.stderr
        );
    }
}
