//! `pgready schema show | diff`: the replayed schema without a database, and its drift from a
//! real one (the shared test cluster).

mod support;

use pgready::sqlx::{self, Connection as _, PgConnection};
use support::Project;

const CREATE: &str = "CREATE TYPE state AS ENUM ('new', 'done');
CREATE TABLE items (
    id bigserial PRIMARY KEY,
    name varchar(80) NOT NULL UNIQUE,
    state state NOT NULL DEFAULT 'new'
);
CREATE INDEX items_state_idx ON items (state);
";

#[test]
fn show_prints_the_replayed_schema_without_a_database() {
    let project = Project::new("schema-show", "");
    project.write("1_create.sql", CREATE);
    project.write("2_backfill.sql", "DO $$ BEGIN PERFORM 1; END $$;\n");
    let out = project.pgready(&["schema", "show"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for line in [
        "enum public.state ('new', 'done')\n",
        "table public.items\n",
        "  id bigint not null default\n",
        "  name character varying(80) not null\n",
        "  constraint items_name_key Unique (name)\n",
        "  index items_pkey primary\n",
        "opaque 2_backfill.sql:1: a `DO` block runs code the replay cannot see into\n",
        "4 statements: 3 applied, 0 no schema effect, 1 opaque\n",
    ] {
        assert!(out.stdout.contains(line), "{line:?} in:\n{}", out.stdout);
    }
    let json = project.pgready(&["schema", "show", "--format", "json"]);
    assert_eq!(json.code, 0, "{}", json.stderr);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(
        value["catalog"]["schemas"]["public"]["tables"]["items"]["columns"][1]["type_name"],
        "character varying(80)"
    );
    assert_eq!(value["statements"][3]["outcome"], "opaque");
    assert_eq!(value["statements"][3]["origin"]["line"], 1);
}

#[tokio::test]
async fn diff_finds_drift_and_names_what_an_opaque_statement_may_explain() {
    let project = Project::with_database("schema-diff", "").await;
    project.write("1_create.sql", CREATE);
    assert_eq!(project.pgready(&["migrate", "run"]).code, 0);

    let clean = project.pgready(&["schema", "diff"]);
    assert_eq!(clean.code, 0, "{}\n{}", clean.stdout, clean.stderr);
    assert_eq!(
        clean.stdout,
        "no drift: the database matches the migrations\n"
    );

    // a change made by hand, outside the migrations
    let mut conn = PgConnection::connect(project.url()).await.unwrap();
    sqlx::raw_sql("ALTER TABLE items ADD COLUMN note text; DROP INDEX items_state_idx")
        .execute(&mut conn)
        .await
        .unwrap();
    let drift = project.pgready(&["schema", "diff"]);
    assert_eq!(drift.code, 1, "{}", drift.stdout);
    assert!(
        drift
            .stdout
            .contains("drift: column public.items.note: migrations absent, database text\n"),
        "{}",
        drift.stdout
    );
    assert!(
        drift
            .stdout
            .contains("drift: index public.items_state_idx: migrations present, database absent\n"),
        "{}",
        drift.stdout
    );

    // a DO block that names the table could have made the same change: a note, not drift
    project.write(
        "2_note.sql",
        "DO $$ BEGIN EXECUTE 'ALTER TABLE items ADD COLUMN IF NOT EXISTS note text'; END $$;\n",
    );
    sqlx::raw_sql("CREATE INDEX items_state_idx ON items (state)")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.ok();
    assert_eq!(project.pgready(&["migrate", "run"]).code, 0);
    let explained = project.pgready(&["schema", "diff"]);
    assert_eq!(explained.code, 0, "{}", explained.stdout);
    assert!(
        explained.stdout.contains(
            "note: column public.items.note: migrations absent, database text (may be \
             explained by the opaque statement at `2_note.sql:1`)\n"
        ),
        "{}",
        explained.stdout
    );
    let strict = project.pgready(&["schema", "diff", "--strict"]);
    assert_eq!(strict.code, 1, "{}", strict.stdout);
}
