//! pgready reads every migrations folder sqlx 0.9 accepts exactly as sqlx reads it.
//!
//! For each history under `fixtures/sqlx-histories/`: pgready's discovery equals sqlx's own
//! resolver (version, description, kind, checksum, no-transaction flag, SQL); applied to two
//! fresh databases, one by sqlx's `Migrator` and one by pgready's, the `_sqlx_migrations` rows
//! and the `pg_dump --schema-only` outputs are equal; and each tool, run again on the other's
//! database, applies nothing and finds nothing wrong.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use pgready::migrate::Migrator;
use pgready_core::config::Config;
use pgready_core::lint;
use pgready_core::migrations::{self, Kind, Migration, Resolve, SkipReason};
use pgready_tests::sqlx_histories::{self, History, NAMES};
use pgready_tests::{fresh_database, schema_dump};
use sqlx::Connection;
use sqlx::migrate::{MigrationType, ResolveConfig};

/// What both tools know about one migration.
#[derive(Debug, PartialEq, Eq)]
struct Resolved {
    version: i64,
    description: String,
    kind: Kind,
    /// hex, so a failure shows readable text
    checksum: String,
    no_tx: bool,
    sql: String,
}

fn from_sqlx(m: &sqlx::migrate::Migration) -> Resolved {
    Resolved {
        version: m.version,
        description: m.description.to_string(),
        kind: match m.migration_type {
            MigrationType::Simple => Kind::Simple,
            MigrationType::ReversibleUp => Kind::Up,
            MigrationType::ReversibleDown => Kind::Down,
        },
        checksum: hex(&m.checksum),
        no_tx: m.no_tx,
        sql: m.sql.as_str().to_owned(),
    }
}

fn from_pgready(m: &Migration) -> Resolved {
    Resolved {
        version: m.version,
        description: m.description.clone(),
        kind: m.kind,
        checksum: hex(&m.checksum),
        no_tx: m.no_transaction,
        sql: m.sql.clone(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// sqlx's resolution of `dir`, or its error.
fn sqlx_resolve(dir: &Path, config: &ResolveConfig) -> Result<Vec<Resolved>, String> {
    sqlx::migrate::resolve_blocking_with_config(dir, config)
        .map(|found| found.iter().map(|(m, _)| from_sqlx(m)).collect())
        .map_err(|e| e.to_string())
}

/// pgready's resolution of `dir`, or its errors.
fn pgready_resolve(dir: &Path, resolve: &Resolve) -> Result<Vec<Resolved>, String> {
    migrations::discover(dir, resolve)
        .map(|found| found.iter().map(from_pgready).collect())
        .map_err(|errors| {
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        })
}

// --- resolution, no database -----------------------------------------------------------------

#[test]
fn the_fixture_list_is_the_fixture_folder() {
    let mut on_disk: Vec<String> = std::fs::read_dir(sqlx_histories::root())
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    on_disk.sort();
    let mut listed: Vec<&str> = NAMES.to_vec();
    listed.sort();
    assert_eq!(on_disk, listed);
}

#[test]
fn every_fixture_resolves_as_sqlx_resolves_it() {
    for name in NAMES {
        let history = History::load(name);
        let sqlx = sqlx_resolve(&history.dir, &history.resolve_config()).unwrap();
        let pgready = pgready_resolve(&history.dir, &history.resolve()).unwrap();
        assert!(!sqlx.is_empty(), "{name}");
        assert_eq!(pgready, sqlx, "{name}");
    }
}

#[test]
fn ignored_chars_change_the_checksums_as_in_sqlx() {
    let history = History::load("ignored-chars");
    assert_eq!(history.sqlx_toml.ignored_chars, ['\r'].into());
    let crlf = history.dir.join("20220101000000_create_accounts.sql");
    let text = std::fs::read_to_string(&crlf).unwrap();
    assert!(text.contains("\r\n"), "the fixture lost its CRLF line ends");
    let with = pgready_resolve(&history.dir, &history.resolve()).unwrap();
    let without = pgready_resolve(&history.dir, &Resolve::default()).unwrap();
    assert_eq!(
        with[0].checksum,
        hex(&migrations::checksum(text.replace('\r', "").as_bytes()))
    );
    assert_ne!(with[0].checksum, without[0].checksum);
    // the LF-only file has the same checksum either way
    assert_eq!(with[2].checksum, without[2].checksum);
}

#[test]
fn skipped_look_alikes_are_listed() {
    let history = History::load("readme-and-notes");
    let found = migrations::read_directory(&history.dir, &history.resolve()).unwrap();
    let files: Vec<&str> = found
        .migrations
        .iter()
        .map(|m| m.file_name.as_str())
        .collect();
    assert_eq!(
        files,
        [
            "1_create_widgets.sql",
            "2_create_gadgets.sql",
            "5_linked.sql"
        ]
    );
    let skipped: Vec<(&str, SkipReason)> = found
        .skipped
        .iter()
        .map(|s| (s.file_name.as_str(), s.reason))
        .collect();
    assert_eq!(
        skipped,
        [
            ("20240101.sql", SkipReason::NoUnderscore),
            ("3_uppercase.SQL", SkipReason::NotSql),
            ("4_draft.sql.bak", SkipReason::NotSql),
            ("6_a_directory.sql", SkipReason::NotAFile),
            ("schema.sql", SkipReason::NoUnderscore),
        ]
    );
}

/// The files pgready's naming style flags in each fixture, none elsewhere: history that sqlx
/// accepted is read, and a new file like these is a `migration-file-name` warning.
#[test]
fn the_style_lint_flags_the_irregular_names() {
    let expected: &[(&str, &[&str])] = &[
        ("version-zero", &["0_init.sql"]),
        (
            "signed-versions",
            &["+5_plus_sign.sql", "-3_roles.sql", "007_leading_zeros.sql"],
        ),
        (
            "dots-and-spaces",
            &[
                "20240309082057_order_totals.sql.down.sql",
                "20240309082057_order_totals.sql.up.sql",
                "20240311101500_add customer notes.sql",
                "20240315000000_v1.2_pricing.sql",
                "20240320000000_.sql",
            ],
        ),
        (
            "up-without-down",
            &[
                "20230201000000_add_sku.up.sql",
                "20230301000000_backfill_sku.up.sql",
            ],
        ),
        (
            "mixed-simple-and-reversible",
            &[
                "5_drop_isbn_index.down.sql",
                "6_index_titles.down.sql",
                "6_index_titles.sql",
            ],
        ),
        (
            "readme-and-notes",
            &[
                "20240101.sql",
                "3_uppercase.SQL",
                "4_draft.sql.bak",
                "6_a_directory.sql",
                "schema.sql",
            ],
        ),
        (
            "long-history",
            &["20210518120000_users_add_last_login.up.sql"],
        ),
    ];
    let levels = Default::default();
    for name in NAMES {
        let history = History::load(name);
        let found = migrations::read_directory(&history.dir, &history.resolve()).unwrap();
        let mut findings: Vec<lint::Finding> = found
            .migrations
            .iter()
            .flat_map(|m| lint::lint_file_name(m, &found.migrations, &levels))
            .chain(
                found
                    .skipped
                    .iter()
                    .flat_map(|s| lint::lint_skipped_file(s, &levels)),
            )
            .collect();
        assert!(
            findings.iter().all(|f| f.rule == "migration-file-name"),
            "{findings:#?}"
        );
        let mut flagged: Vec<String> = findings.drain(..).map(|f| f.file).collect();
        flagged.sort();
        flagged.dedup();
        let wanted = expected
            .iter()
            .find(|(fixture, _)| fixture == name)
            .map_or(&[][..], |(_, files)| *files);
        assert_eq!(flagged, wanted, "{name}");
    }
}

/// A scratch folder, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(label: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "pgready-sqlx-compat-{label}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn write(&self, name: &str, text: &[u8]) {
        std::fs::write(self.0.join(name), text).unwrap();
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Names and contents chosen to find every place where a reading could differ from sqlx's.
#[test]
fn tricky_names_and_contents_resolve_as_in_sqlx() {
    let dir = Scratch::new("tricky");
    let files: &[(&str, &str)] = &[
        ("1_a.sql.up.sql", "SELECT 1;\n"),
        ("1_a.sql.down.sql", "SELECT 1;\n"),
        ("2_.sql", ""),
        ("3_x.up.sql.up.sql", "SELECT 3;"),
        ("4_x.down.sql.up.sql", "SELECT 4;"),
        ("5_with space.sql", "SELECT 5;\r\n"),
        ("6__leading_underscore.sql", "SELECT 6;"),
        ("+7_plus.sql", "SELECT 7;"),
        ("-8_negative.sql", "SELECT -8;"),
        ("009_leading_zeros.sql", "SELECT 9;"),
        ("10_1_2_3.sql", "SELECT 10;"),
        ("11_é_unicode.sql", "SELECT 'é';"),
        ("12_x.sql.sql", "SELECT 12;"),
        ("13_tab\there.sql", "SELECT 13;"),
        ("14_a.down.sql", "-- a lone down\n"),
        ("15_no_tx.sql", "-- no-transaction\nSELECT 15;"),
        ("16_no_tx_suffix.sql", "-- no-transactional\n"),
        ("17_space_first.sql", " -- no-transaction\n"),
        ("18_bom.sql", "\u{FEFF}-- no-transaction\nSELECT 18;\n"),
        (
            "19_pgready_marker.sql",
            "-- pgready:no-transaction\nSELECT 19;\n",
        ),
        ("20_tabs.sql", "SELECT\t20 ;\r\n\r\n"),
        ("0_zero.sql", "SELECT 0;"),
        ("9223372036854775807_max.sql", "SELECT 1;"),
        ("-9223372036854775808_min.sql", "SELECT 1;"),
        // sqlx skips these
        ("21.sql", "SELECT 21;"),
        ("22_x.SQL", "SELECT 22;"),
        ("23_x.sql.bak", "SELECT 23;"),
        ("README.md", "# hi"),
        (".hidden", ""),
        ("24_x.sql ", "SELECT 24;"),
    ];
    for (name, text) in files {
        dir.write(name, text.as_bytes());
    }
    std::fs::create_dir(dir.0.join("25_dir.sql")).unwrap();
    std::os::unix::fs::symlink("2_.sql", dir.0.join("26_link.sql")).unwrap();

    let sets: [BTreeSet<char>; 3] = [
        BTreeSet::new(),
        ['\r'].into(),
        [' ', '\t', '\r', '\n', '\u{FEFF}'].into(),
    ];
    for ignored in sets {
        let mut config = ResolveConfig::new();
        config.ignore_chars(ignored.iter().copied());
        let sqlx = sqlx_resolve(&dir.0, &config).unwrap();
        let mut pgready = pgready_resolve(
            &dir.0,
            &Resolve {
                ignored_chars: ignored.clone(),
            },
        )
        .unwrap();
        assert_eq!(sqlx.len(), 25, "{sqlx:#?}");
        // the one addition: pgready also reads its own `-- pgready:no-transaction` line
        let marked = pgready.iter_mut().find(|m| m.version == 19).unwrap();
        assert!(marked.no_tx);
        marked.no_tx = false;
        assert_eq!(pgready, sqlx, "ignoring {ignored:?}");
    }
}

#[test]
fn what_sqlx_refuses_pgready_refuses() {
    for (label, file, bytes) in [
        ("version", "create_items.sql", &b"SELECT 1;"[..]),
        ("overflow", "9223372036854775808_big.sql", b"SELECT 1;"),
        ("empty-version", "_x.sql", b"SELECT 1;"),
        ("latin1", "2_latin1.sql", b"SELECT '\xe9';"),
    ] {
        let dir = Scratch::new(label);
        dir.write("1_ok.sql", b"SELECT 1;");
        dir.write(file, bytes);
        let sqlx = sqlx_resolve(&dir.0, &ResolveConfig::new());
        let pgready = pgready_resolve(&dir.0, &Resolve::default());
        assert!(sqlx.is_err(), "sqlx accepted {file}");
        let pgready = pgready.expect_err(file);
        assert!(pgready.starts_with(&format!("{file}: ")), "{pgready}");
    }
    let dir = Scratch::new("dangling");
    std::os::unix::fs::symlink("nowhere.sql", dir.0.join("1_dangling.sql")).unwrap();
    assert!(sqlx_resolve(&dir.0, &ResolveConfig::new()).is_err());
    assert!(pgready_resolve(&dir.0, &Resolve::default()).is_err());
}

// --- applied, on real databases --------------------------------------------------------------

/// The rows both tools compare on.
type Row = (i64, String, Vec<u8>, bool);

async fn rows(url: &str) -> Vec<Row> {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let rows = sqlx::query_as(
        "SELECT version, description, checksum, success FROM _sqlx_migrations ORDER BY version",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    conn.close().await.ok();
    rows
}

/// What must not change when a tool runs again: every row with its timestamps.
async fn rows_with_times(url: &str) -> Vec<(i64, String, i64)> {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let rows = sqlx::query_as(
        "SELECT version, installed_on::text, execution_time FROM _sqlx_migrations ORDER BY version",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    conn.close().await.ok();
    rows
}

fn pgready_config() -> Config {
    pgready::config::parse("", "sqlx-compat")
        .expect("the default config")
        .file
        .base()
        .clone()
}

async fn apply_with_sqlx(history: &History, url: &str) {
    let migrator = history.sqlx_migrator().await;
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    migrator
        .run(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{}: sqlx: {e}", history.name));
    conn.close().await.ok();
}

async fn apply_with_pgready(history: &History, url: &str) {
    let cfg = pgready_config();
    let list = migrations::discover(&history.dir, &history.resolve()).unwrap();
    let mut conn = pgready::migrate::connection(&cfg, url).await.unwrap();
    Migrator::new(list, &cfg.migrations)
        .run(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{}: pgready: {e}", history.name));
    conn.close().await.ok();
}

async fn sqlx_and_pgready_write_the_same_history(name: &'static str) {
    let history = History::load(name);
    let label = name.replace('-', "_");
    let (sqlx_label, pgready_label) = (format!("sx_{label}"), format!("pg_{label}"));
    let (sqlx_url, pgready_url) =
        tokio::join!(fresh_database(&sqlx_label), fresh_database(&pgready_label),);
    tokio::join!(
        apply_with_sqlx(&history, &sqlx_url),
        apply_with_pgready(&history, &pgready_url)
    );

    let (by_sqlx, by_pgready) = tokio::join!(rows(&sqlx_url), rows(&pgready_url));
    assert_eq!(by_pgready, by_sqlx, "{name}: _sqlx_migrations rows");
    let expected: Vec<Row> = migrations::discover(&history.dir, &history.resolve())
        .unwrap()
        .into_iter()
        .filter(|m| m.kind.is_applied())
        .map(|m| (m.version, m.description, m.checksum, true))
        .collect();
    assert_eq!(by_sqlx, expected, "{name}: every simple and up file, once");

    let (sqlx_schema, pgready_schema) = (schema_dump(&sqlx_url), schema_dump(&pgready_url));
    assert!(
        sqlx_schema.contains("CREATE TABLE public."),
        "{name}: {sqlx_schema}"
    );
    assert_eq!(pgready_schema, sqlx_schema, "{name}: pg_dump --schema-only");

    // each tool, run again on the other's database, sees it fully applied
    let (before_sqlx, before_pgready) =
        tokio::join!(rows_with_times(&sqlx_url), rows_with_times(&pgready_url));
    tokio::join!(
        apply_with_sqlx(&history, &pgready_url),
        apply_with_pgready(&history, &sqlx_url)
    );
    let (after_sqlx, after_pgready) =
        tokio::join!(rows_with_times(&sqlx_url), rows_with_times(&pgready_url));
    assert_eq!(
        after_pgready, before_pgready,
        "{name}: sqlx applied something on pgready's database"
    );
    assert_eq!(
        after_sqlx, before_sqlx,
        "{name}: pgready applied something on sqlx's database"
    );
}

pgready_tests::for_each_history!(sqlx_and_pgready_write_the_same_history);

/// Two applied files with one version: sqlx resolves them and fails when it applies the second
/// (`_sqlx_migrations` has the version as primary key); pgready refuses them at discovery, so
/// the build fails instead of a deploy.
#[tokio::test]
async fn duplicate_versions_fail_in_sqlx_and_are_refused_by_pgready() {
    let dir = Scratch::new("duplicate");
    dir.write("1_a.sql", b"CREATE TABLE a ();");
    dir.write("1_b.sql", b"CREATE TABLE b ();");
    let errors = migrations::discover(&dir.0, &Resolve::default()).unwrap_err();
    assert!(
        errors[0].message.contains("duplicate migration version 1"),
        "{errors:?}"
    );
    let url = fresh_database("sx_duplicate").await;
    let migrator = sqlx::migrate::Migrator::new(dir.0.clone()).await.unwrap();
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    let failed = migrator.run(&mut conn).await;
    conn.close().await.ok();
    assert!(failed.is_err(), "sqlx applied two files as version 1");
}

/// The long history breaks pgready's SQL lints the way real histories do, so tests of "released
/// history is not linted again" have something to not report.
#[test]
fn the_long_history_breaks_the_sql_lints_on_purpose() {
    let history = History::load("long-history");
    let found = migrations::discover(&history.dir, &history.resolve()).unwrap();
    let applied = found.iter().filter(|m| m.kind.is_applied()).count();
    assert!(applied >= 60, "{applied} migrations");
    let rules: BTreeSet<&str> = found
        .iter()
        .flat_map(|m| lint::lint_file(&m.file_name, &m.sql, !m.no_transaction, &Default::default()))
        .map(|f| f.rule)
        .collect();
    for rule in [
        "require-concurrent-index-creation",
        "adding-foreign-key-constraint",
        "adding-unique-constraint",
        "setting-not-null",
        "changing-column-type",
        "renaming-column",
        "renaming-table",
        "dropping-column",
        "dropping-table",
        "truncate",
        "non-idempotent-ddl",
        "mixed-ddl-and-dml",
    ] {
        assert!(rules.contains(rule), "{rule} not broken: {rules:?}");
    }
}
