//! Checked queries against PostgreSQL itself: the corpus in `fixtures/queries/corpus.sql`, and
//! one query per column of the fixture schema, are checked offline by
//! `pgready_core::query::analyze` against the schema replayed from `fixtures/queries/migrations`,
//! then — for every query pgready accepts — described by the real server (parameter and column
//! types, column names) and run on data built to provoke NULLs. A type or name that disagrees,
//! a column pgready calls non-null that returns NULL, a query refused that should not be, or
//! one accepted that should be refused, fails the test. The report prints, per construct, how
//! many queries were accepted, refused as expected, how many columns pgready calls nullable
//! where sqlx's own describe says non-null and no NULL came back ("false nullables", a cost,
//! not an error), and how many columns sqlx's describe calls non-null that returned NULL.

use std::collections::BTreeMap;
use std::path::PathBuf;

use pgready_core::query::{Analysis, analyze};
use pgready_core::schema::{Catalog, replay_sql};
use sqlx::postgres::PgRow;
use sqlx::{Column, Connection, Either, Executor, PgConnection, Row, TypeInfo, ValueRef};

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/queries")
}

/// The fixture's migrations, in version order: `(file name, text)`.
fn migrations() -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(fixture_dir().join("migrations"))
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&path).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

struct Entry {
    construct: String,
    sql: String,
    params: Option<String>,
    expect_error: Option<String>,
}

fn corpus() -> Vec<Entry> {
    let text = std::fs::read_to_string(fixture_dir().join("corpus.sql")).unwrap();
    let mut entries = Vec::new();
    for block in text.split("\n\n") {
        let mut entry = Entry {
            construct: String::new(),
            sql: String::new(),
            params: None,
            expect_error: None,
        };
        for line in block.lines() {
            if let Some(c) = line.strip_prefix("-- construct: ") {
                entry.construct = c.trim().to_owned();
            } else if let Some(p) = line.strip_prefix("-- params: ") {
                entry.params = Some(p.trim().to_owned());
            } else if let Some(e) = line.strip_prefix("-- expect-error: ") {
                entry.expect_error = Some(e.trim().to_owned());
            } else if !line.starts_with("--") {
                entry.sql.push_str(line);
                entry.sql.push('\n');
            }
        }
        if !entry.construct.is_empty() {
            entry.sql = entry.sql.trim().to_owned();
            entries.push(entry);
        }
    }
    entries
}

/// Queries per known column of every table: read plainly, from the nullable side of a LEFT
/// JOIN that matches nothing (every value NULL), assigned a parameter (`SET col = $1`) and
/// compared with one (`WHERE col = $1`: `json` has no `=`).
fn generated(catalog: &Catalog) -> Vec<Entry> {
    let mut entries = Vec::new();
    for (schema_name, schema) in &catalog.schemas {
        for (table_name, table) in &schema.tables {
            let table_ref = if *schema_name == catalog.base_schema {
                format!("\"{table_name}\"")
            } else {
                format!("\"{schema_name}\".\"{table_name}\"")
            };
            for column in table.columns.iter().filter(|c| c.uncertain.is_none()) {
                let name = &column.name;
                entries.push(Entry {
                    construct: "generated: column".to_owned(),
                    sql: format!("SELECT \"{name}\" FROM {table_ref}"),
                    params: None,
                    expect_error: None,
                });
                // a parameter typed by an assignment, and by a comparison
                let value = match column.type_name.as_deref() {
                    Some(t) if t.ends_with("[]") => "'{}'",
                    Some("jsonb" | "json") => "'{}'",
                    Some("boolean") => "true",
                    Some("uuid") => "'00000000-0000-0000-0000-000000000000'",
                    Some(t) if t.starts_with("timestamp") || t == "date" => "'2024-01-01'",
                    Some("order_state") => "'open'",
                    Some(t) if t.starts_with("character") || t == "text" || t == "citext" => "'x'",
                    _ => "1",
                };
                if !column.generated && column.identity != pgready_core::schema::Identity::Always {
                    entries.push(Entry {
                        construct: "generated: assignment".to_owned(),
                        sql: format!(
                            "UPDATE {table_ref} SET \"{name}\" = $1 WHERE false RETURNING \"{name}\""
                        ),
                        params: Some(value.to_owned()),
                        expect_error: None,
                    });
                }
                if !matches!(column.type_name.as_deref(), Some("json")) {
                    entries.push(Entry {
                        construct: "generated: comparison".to_owned(),
                        sql: format!("SELECT count(*) AS n FROM {table_ref} WHERE \"{name}\" = $1"),
                        params: Some(value.to_owned()),
                        expect_error: None,
                    });
                }
                entries.push(Entry {
                    construct: "generated: left join".to_owned(),
                    sql: format!(
                        "SELECT x.\"{name}\" FROM (SELECT 1 AS one) d LEFT JOIN {table_ref} x ON false"
                    ),
                    params: None,
                    expect_error: None,
                });
            }
        }
    }
    entries
}

#[derive(Default)]
struct Tally {
    accepted: usize,
    refused_as_expected: usize,
    columns: usize,
    false_nullables: usize,
    sqlx_wrong: usize,
}

/// `format_type(oid, NULL)` of a described type.
async fn type_name(conn: &mut PgConnection, info: &sqlx::postgres::PgTypeInfo) -> String {
    let oid = info
        .oid()
        .unwrap_or_else(|| panic!("no OID for described type {}", info.name()));
    sqlx::query_scalar::<_, String>("SELECT format_type($1, NULL)")
        .bind(oid)
        .fetch_one(conn)
        .await
        .unwrap()
}

async fn check(
    conn: &mut PgConnection,
    entry: &Entry,
    analysis: &Analysis,
    tally: &mut Tally,
    failures: &mut Vec<String>,
) {
    let sql = &entry.sql;
    let described = match conn
        .describe(sqlx::SqlSafeStr::into_sql_str(sqlx::AssertSqlSafe(
            sql.clone(),
        )))
        .await
    {
        Ok(d) => d,
        Err(e) => {
            failures.push(format!("accepted, but PostgreSQL refuses it ({e}): {sql}"));
            return;
        }
    };
    // parameters
    let params = match described.parameters() {
        Some(Either::Left(types)) => types.to_vec(),
        other => panic!("describe gave no parameter types: {other:?}"),
    };
    let mut live_params = Vec::new();
    for p in &params {
        live_params.push(type_name(conn, p).await);
    }
    if live_params != analysis.params {
        failures.push(format!(
            "parameter types: pgready {:?}, PostgreSQL {live_params:?}: {sql}",
            analysis.params
        ));
    }
    // columns
    if described.columns().len() != analysis.columns.len() {
        failures.push(format!(
            "{} columns, PostgreSQL {}: {sql}",
            analysis.columns.len(),
            described.columns().len()
        ));
        return;
    }
    for (i, (ours, theirs)) in analysis.columns.iter().zip(described.columns()).enumerate() {
        tally.columns += 1;
        let live_type = type_name(conn, theirs.type_info()).await;
        if ours.name != theirs.name() || ours.type_name != live_type {
            failures.push(format!(
                "column {i}: pgready `{}` {}, PostgreSQL `{}` {live_type}: {sql}",
                ours.name,
                ours.type_name,
                theirs.name()
            ));
        }
    }
    // run it, on data built to provoke NULLs, and roll back what it wrote (a prepared statement
    // outlives the transaction: each gets its own name)
    static PREPARED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let name = format!(
        "checked_{}",
        PREPARED.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let mut tx = conn.begin().await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("PREPARE {name} AS {sql}")))
        .execute(&mut *tx)
        .await
        .unwrap_or_else(|e| panic!("PREPARE {sql}: {e}"));
    let execute = match &entry.params {
        Some(p) => format!("EXECUTE {name}({p})"),
        None => format!("EXECUTE {name}"),
    };
    let rows: Vec<PgRow> = match sqlx::raw_sql(sqlx::AssertSqlSafe(execute))
        .fetch_all(&mut *tx)
        .await
    {
        Ok(rows) => rows,
        Err(e) => {
            failures.push(format!("running it failed ({e}): {sql}"));
            return;
        }
    };
    for (i, ours) in analysis.columns.iter().enumerate() {
        let saw_null = rows.iter().any(|row| row.try_get_raw(i).unwrap().is_null());
        if ours.nullable.is_none() && saw_null {
            failures.push(format!(
                "column `{}` is non-null for pgready but returned NULL: {sql}",
                ours.name
            ));
        }
        let sqlx_non_null = described.nullable(i) == Some(false);
        if sqlx_non_null && saw_null {
            tally.sqlx_wrong += 1;
        }
        if ours.nullable.is_some() && sqlx_non_null && !saw_null {
            tally.false_nullables += 1;
        }
    }
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn checked_queries_agree_with_postgresql() {
    let url = pgready_tests::fresh_database("checked_queries").await;
    let mut conn = PgConnection::connect(&url).await.unwrap();
    let files = migrations();
    for (name, sql) in &files {
        let mut tx = conn.begin().await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
            .execute(&mut *tx)
            .await
            .unwrap_or_else(|e| panic!("migration {name}: {e}"));
        tx.commit().await.unwrap();
    }
    let seed = std::fs::read_to_string(fixture_dir().join("seed.sql")).unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(seed))
        .execute(&mut conn)
        .await
        .unwrap();
    let pairs: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, s)| (n.as_str(), s.as_str()))
        .collect();
    let replay = replay_sql("public", &pairs);
    let catalog = &replay.catalog;

    let mut entries = corpus();
    let hand_written = entries.len();
    entries.extend(generated(catalog));
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    let mut failures = Vec::new();
    for entry in &entries {
        let tally = tallies.entry(entry.construct.clone()).or_default();
        let result = analyze(&entry.sql, &replay);
        match (&entry.expect_error, result) {
            (Some(fragment), Err(e)) if e.message.contains(fragment.as_str()) => {
                tally.refused_as_expected += 1;
            }
            (Some(fragment), Err(e)) => failures.push(format!(
                "refused, but the message lacks `{fragment}`: {}: {}",
                e.message, entry.sql
            )),
            (Some(_), Ok(a)) => failures.push(format!(
                "accepted ({a:?}) but must be refused: {}",
                entry.sql
            )),
            (None, Err(e)) => failures.push(format!(
                "refused at byte {} ({}): {}",
                e.offset, e.message, entry.sql
            )),
            (None, Ok(analysis)) => {
                tally.accepted += 1;
                check(&mut conn, entry, &analysis, tally, &mut failures).await;
            }
        }
    }

    println!(
        "checked queries: {} hand-written, {} generated, against PostgreSQL",
        hand_written,
        entries.len() - hand_written
    );
    println!(
        "{:<24} {:>8} {:>8} {:>8} {:>15} {:>14}",
        "construct", "accepted", "refused", "columns", "false nullable", "sqlx non-null"
    );
    let mut total = Tally::default();
    for (construct, t) in &tallies {
        println!(
            "{construct:<24} {:>8} {:>8} {:>8} {:>15} {:>14}",
            t.accepted, t.refused_as_expected, t.columns, t.false_nullables, t.sqlx_wrong
        );
        total.accepted += t.accepted;
        total.sqlx_wrong += t.sqlx_wrong;
        total.refused_as_expected += t.refused_as_expected;
        total.columns += t.columns;
        total.false_nullables += t.false_nullables;
    }
    println!(
        "{:<24} {:>8} {:>8} {:>8} {:>15} {:>14}",
        "total",
        total.accepted,
        total.refused_as_expected,
        total.columns,
        total.false_nullables,
        total.sqlx_wrong
    );
    println!(
        "false nullable: pgready says nullable, sqlx's describe says non-null and no NULL came \
         back; sqlx non-null: sqlx's describe says non-null and a NULL came back"
    );
    assert!(
        failures.is_empty(),
        "{} disagreement(s) with PostgreSQL:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
