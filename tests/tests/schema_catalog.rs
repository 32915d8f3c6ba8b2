//! The schema model against PostgreSQL itself: each fixture set is applied to a real server
//! with sqlx's migrator, replayed with `pgready_core::schema::replay`, and every object the
//! model claims to know is compared with `pg_catalog`. Uncertain objects are excluded and
//! counted; any disagreement fails the test. Each test prints the agreement (claims checked /
//! agreeing) and the opaque share (opaque statements / all statements).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use pgready_core::migrations::{self, Resolve};
use pgready_core::schema::{self, Catalog, Identity, Outcome, Replay};
use pgready_tests::sqlx_histories::History;
use sqlx::migrate::{Migrator, ResolveConfig, ResolveWith};
use sqlx::{Connection, PgConnection, Row};

/// The user schemas of a database: everything but the system's and extensions' own.
const USER_SCHEMAS: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg_temp%'";

/// One `pg_attribute` row: (name, `format_type`, notnull, hasdef, identity, generated).
type LiveColumn = (String, String, bool, bool, String, String);

/// What `pg_catalog` says, keyed by (schema, relation).
#[derive(Default)]
struct Live {
    /// (schema, name) → relkind
    relations: BTreeMap<(String, String), String>,
    /// (schema, table) → columns in attnum order: (name, type, notnull, hasdef, identity, generated)
    columns: BTreeMap<(String, String), Vec<LiveColumn>>,
    /// (schema, table) → constraint name → contype
    constraints: BTreeMap<(String, String), BTreeMap<String, String>>,
    /// (schema, table) → index name → (unique, primary)
    indexes: BTreeMap<(String, String), BTreeMap<String, (bool, bool)>>,
    /// (schema, enum) → labels in enumsortorder order
    enums: BTreeMap<(String, String), Vec<String>>,
    /// (schema, domain) → (base type, not null)
    domains: BTreeMap<(String, String), (String, bool)>,
}

async fn live(conn: &mut PgConnection) -> Live {
    let mut live = Live::default();
    // the migrations ran on this connection: `format_type` must see the default search path
    sqlx::raw_sql("RESET search_path")
        .execute(&mut *conn)
        .await
        .unwrap();
    let q = |sql: String| sqlx::query(sqlx::AssertSqlSafe(sql));
    for row in q(format!(
        "SELECT n.nspname::text, c.relname::text, c.relkind::text FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p', 'v') AND {USER_SCHEMAS} AND c.relname <> '_sqlx_migrations' \
         AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')"
    ))
    .fetch_all(&mut *conn)
    .await
    .unwrap()
    {
        live.relations.insert((row.get(0), row.get(1)), row.get(2));
    }
    for row in q(format!(
        "SELECT n.nspname::text, c.relname::text, a.attname::text, \
         format_type(a.atttypid, a.atttypmod), a.attnotnull, a.atthasdef, \
         a.attidentity::text, a.attgenerated::text \
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p', 'v') AND {USER_SCHEMAS} AND a.attnum > 0 \
         AND NOT a.attisdropped ORDER BY a.attnum"
    ))
    .fetch_all(&mut *conn)
    .await
    .unwrap()
    {
        live.columns
            .entry((row.get(0), row.get(1)))
            .or_default()
            .push((
                row.get(2),
                row.get(3),
                row.get(4),
                row.get(5),
                row.get(6),
                row.get(7),
            ));
    }
    // NOT NULL constraints (`n`, PostgreSQL 18) are `attnotnull`, compared with the columns
    for row in q(format!(
        "SELECT n.nspname::text, c.relname::text, con.conname::text, con.contype::text \
         FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE {USER_SCHEMAS} AND con.contype IN ('p', 'u', 'f', 'c', 'x')"
    ))
    .fetch_all(&mut *conn)
    .await
    .unwrap()
    {
        live.constraints
            .entry((row.get(0), row.get(1)))
            .or_default()
            .insert(row.get(2), row.get(3));
    }
    for row in q(format!(
        "SELECT n.nspname::text, t.relname::text, i.relname::text, x.indisunique, x.indisprimary \
         FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
         JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE {USER_SCHEMAS}"
    ))
    .fetch_all(&mut *conn)
    .await
    .unwrap()
    {
        live.indexes
            .entry((row.get(0), row.get(1)))
            .or_default()
            .insert(row.get(2), (row.get(3), row.get(4)));
    }
    for row in q(format!(
        "SELECT n.nspname::text, t.typname::text, \
         array_agg(e.enumlabel::text ORDER BY e.enumsortorder) \
         FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid \
         JOIN pg_namespace n ON n.oid = t.typnamespace WHERE {USER_SCHEMAS} \
         GROUP BY 1, 2"
    ))
    .fetch_all(&mut *conn)
    .await
    .unwrap()
    {
        live.enums.insert((row.get(0), row.get(1)), row.get(2));
    }
    for row in q(format!(
        "SELECT n.nspname::text, t.typname::text, format_type(t.typbasetype, t.typtypmod), \
         t.typnotnull FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
         WHERE t.typtype = 'd' AND {USER_SCHEMAS} \
         AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = t.oid AND d.deptype = 'e')"
    ))
    .fetch_all(&mut *conn)
    .await
    .unwrap()
    {
        live.domains
            .insert((row.get(0), row.get(1)), (row.get(2), row.get(3)));
    }
    live
}

/// The comparison's tally.
#[derive(Default)]
struct Tally {
    claims: usize,
    agreeing: usize,
    uncertain: usize,
    disagreements: Vec<String>,
}

impl Tally {
    fn check<T: PartialEq + std::fmt::Debug>(&mut self, what: String, model: T, live: T) {
        self.claims += 1;
        if model == live {
            self.agreeing += 1;
        } else {
            self.disagreements
                .push(format!("{what}: model {model:?}, PostgreSQL {live:?}"));
        }
    }
}

/// Compares every claim of the model with the live catalog.
fn compare(catalog: &Catalog, live: &Live) -> Tally {
    let mut t = Tally::default();
    let mut modelled = BTreeSet::new();
    for (schema_name, schema) in &catalog.schemas {
        for (name, table) in &schema.tables {
            let key = (schema_name.clone(), name.clone());
            modelled.insert(key.clone());
            let shown = format!("table {schema_name}.{name}");
            let kind = live.relations.get(&key).map(String::as_str);
            if table.uncertain.is_some() {
                t.uncertain += 1;
                if kind.is_none() {
                    continue;
                }
            } else {
                t.check(
                    format!("{shown} exists"),
                    true,
                    matches!(kind, Some("r" | "p")),
                );
            }
            let live_columns = live.columns.get(&key).cloned().unwrap_or_default();
            let live_constraints = live.constraints.get(&key).cloned().unwrap_or_default();
            let live_indexes = live.indexes.get(&key).cloned().unwrap_or_default();
            if table.uncertain.is_none() {
                t.check(
                    format!("{shown} columns"),
                    table
                        .columns
                        .iter()
                        .map(|c| c.name.clone())
                        .collect::<Vec<_>>(),
                    live_columns.iter().map(|c| c.0.clone()).collect(),
                );
                t.check(
                    format!("{shown} constraints"),
                    table
                        .constraints
                        .iter()
                        .map(|c| c.name.clone())
                        .collect::<BTreeSet<_>>(),
                    live_constraints.keys().cloned().collect(),
                );
                t.check(
                    format!("{shown} indexes"),
                    table
                        .indexes
                        .iter()
                        .map(|i| i.name.clone())
                        .collect::<BTreeSet<_>>(),
                    live_indexes.keys().cloned().collect(),
                );
            }
            for c in &table.columns {
                if c.uncertain.is_some() || c.type_name.is_none() {
                    t.uncertain += 1;
                    continue;
                }
                let found = live_columns
                    .iter()
                    .find(|l| l.0 == c.name)
                    .map(|l| (l.1.clone(), l.2, l.3, l.4.clone(), !l.5.is_empty()));
                t.check(
                    format!("column {schema_name}.{name}.{}", c.name),
                    Some((
                        c.type_name.clone().unwrap_or_default(),
                        c.not_null,
                        c.has_default,
                        c.identity.code().to_owned(),
                        c.generated,
                    )),
                    found,
                );
            }
            for c in &table.constraints {
                if c.uncertain.is_some() {
                    t.uncertain += 1;
                    continue;
                }
                t.check(
                    format!("constraint {schema_name}.{name}.{}", c.name),
                    Some(c.kind.code().to_owned()),
                    live_constraints.get(&c.name).cloned(),
                );
            }
            for i in &table.indexes {
                if i.uncertain.is_some() {
                    t.uncertain += 1;
                    continue;
                }
                t.check(
                    format!("index {schema_name}.{}", i.name),
                    Some((i.unique, i.primary)),
                    live_indexes.get(&i.name).copied(),
                );
            }
        }
        for (name, view) in &schema.views {
            let key = (schema_name.clone(), name.clone());
            modelled.insert(key.clone());
            if view.uncertain.is_some() {
                t.uncertain += 1;
                continue;
            }
            let shown = format!("view {schema_name}.{name}");
            t.check(
                format!("{shown} exists"),
                Some("v"),
                live.relations.get(&key).map(String::as_str),
            );
            match &view.columns {
                None => t.uncertain += 1,
                Some(columns) => t.check(
                    format!("{shown} columns"),
                    columns
                        .iter()
                        .map(|c| (c.name.clone(), c.type_name.clone()))
                        .collect::<Vec<_>>(),
                    live.columns
                        .get(&key)
                        .map(|cs| cs.iter().map(|c| (c.0.clone(), c.1.clone())).collect())
                        .unwrap_or_default(),
                ),
            }
        }
        for (name, e) in &schema.enums {
            if e.uncertain.is_some() {
                t.uncertain += 1;
                continue;
            }
            t.check(
                format!("enum {schema_name}.{name}"),
                Some(e.labels.clone()),
                live.enums
                    .get(&(schema_name.clone(), name.clone()))
                    .cloned(),
            );
        }
        for (name, d) in &schema.domains {
            if d.uncertain.is_some() || d.base.is_none() {
                t.uncertain += 1;
                continue;
            }
            t.check(
                format!("domain {schema_name}.{name}"),
                Some((d.base.clone().unwrap_or_default(), d.not_null)),
                live.domains
                    .get(&(schema_name.clone(), name.clone()))
                    .cloned(),
            );
        }
    }
    // with no opaque statement that could have created objects, the model claims there are
    // no others
    if catalog.unknown_objects.is_empty() {
        t.check(
            "relations only PostgreSQL has".to_owned(),
            BTreeSet::new(),
            live.relations
                .keys()
                .filter(|k| !modelled.contains(*k))
                .cloned()
                .collect::<BTreeSet<_>>(),
        );
        let enums: BTreeSet<_> = catalog
            .schemas
            .iter()
            .flat_map(|(s, schema)| schema.enums.keys().map(move |n| (s.clone(), n.clone())))
            .collect();
        t.check(
            "enums".to_owned(),
            enums,
            live.enums.keys().cloned().collect(),
        );
    }
    t
}

/// Applies the folder with sqlx's migrator, replays it with the model, compares, and prints
/// the figures. Fails on any disagreement.
async fn prove(label: &str, dir: &Path, resolve: &Resolve, config: ResolveConfig) {
    let url = pgready_tests::fresh_database(&format!("schema_{}", label.replace('-', "_"))).await;
    let migrator = Migrator::new(ResolveWith(dir.to_path_buf(), config))
        .await
        .unwrap_or_else(|e| panic!("{label}: sqlx cannot resolve the folder: {e}"));
    let mut conn = PgConnection::connect(&url).await.unwrap();
    migrator
        .run(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{label}: sqlx: {e}"));
    let live = live(&mut conn).await;
    conn.close().await.ok();

    let list = migrations::discover(dir, resolve).unwrap_or_else(|e| panic!("{label}: {e:?}"));
    let started = std::time::Instant::now();
    let replay: Replay = schema::replay(&list, "public");
    let elapsed = started.elapsed();
    let tally = compare(&replay.catalog, &live);
    let total = replay.statements.len();
    let opaque = replay.opaque().count();
    let applied = replay
        .statements
        .iter()
        .filter(|s| s.outcome == Outcome::Applied)
        .count();
    println!(
        "schema model `{label}`: {} of {} claims agree with pg_catalog, {} uncertain objects \
         excluded; statements: {applied} applied, {} no schema effect, {opaque} opaque of \
         {total} ({:.1}% opaque); replay took {elapsed:?}",
        tally.agreeing,
        tally.claims,
        tally.uncertain,
        total - applied - opaque,
        if total == 0 {
            0.0
        } else {
            100.0 * opaque as f64 / total as f64
        },
    );
    for (origin, reason) in replay.opaque() {
        println!("  opaque {origin}: {reason}");
    }
    assert!(
        tally.disagreements.is_empty(),
        "{label}: the model disagrees with PostgreSQL:\n  {}",
        tally.disagreements.join("\n  ")
    );
    assert!(tally.claims > 0, "{label}: the model claimed nothing");

    // the comparison can fail: one known column's type changed is one disagreement
    let mut wrong = replay.catalog.clone();
    let column = wrong
        .schemas
        .values_mut()
        .flat_map(|s| s.tables.values_mut())
        .flat_map(|t| t.columns.iter_mut())
        .find(|c| c.uncertain.is_none() && c.type_name.is_some());
    if let Some(column) = column {
        column.type_name = Some("a type PostgreSQL never prints".to_owned());
        assert_eq!(compare(&wrong, &live).disagreements.len(), 1, "{label}");
    }
}

async fn prove_history(name: &'static str) {
    let history = History::load(name);
    prove(
        name,
        &history.dir,
        &history.resolve(),
        history.resolve_config(),
    )
    .await;
}

fn schema_fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/schema")
        .join(name)
}

#[tokio::test]
async fn long_history_agrees_with_pg_catalog() {
    prove_history("long-history").await;
}

#[tokio::test]
async fn every_sqlx_history_agrees_with_pg_catalog() {
    for name in pgready_tests::sqlx_histories::NAMES {
        if *name != "long-history" {
            prove_history(name).await;
        }
    }
}

#[tokio::test]
async fn kitchen_sink_agrees_with_pg_catalog() {
    prove(
        "kitchen-sink",
        &schema_fixture("kitchen-sink"),
        &Resolve::default(),
        ResolveConfig::new(),
    )
    .await;
}

#[tokio::test]
async fn edge_cases_agree_with_pg_catalog() {
    prove(
        "edge-cases",
        &schema_fixture("edge-cases"),
        &Resolve::default(),
        ResolveConfig::new(),
    )
    .await;
}

#[test]
fn every_schema_fixture_has_a_test() {
    let mut names: Vec<String> = std::fs::read_dir(schema_fixture(""))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["edge-cases", "kitchen-sink", "search-path"]);
}

#[tokio::test]
async fn search_path_fixture_agrees_with_pg_catalog() {
    prove(
        "search-path",
        &schema_fixture("search-path"),
        &Resolve::default(),
        ResolveConfig::new(),
    )
    .await;
}

#[test]
fn identity_codes_are_pg_attidentity() {
    assert_eq!(
        [Identity::No, Identity::Always, Identity::ByDefault].map(Identity::code),
        ["", "a", "d"]
    );
}
