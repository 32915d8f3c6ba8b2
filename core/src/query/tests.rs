use super::{Analysis, analyze, without_typmod};
use crate::schema::{Replay, replay_sql};

const SCHEMA: &str = "
CREATE TYPE order_status AS ENUM ('new', 'paid');
CREATE TABLE users (
    id bigserial PRIMARY KEY,
    email varchar(255) NOT NULL UNIQUE,
    name text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE orders (
    id bigserial PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users,
    status order_status NOT NULL DEFAULT 'new',
    total numeric(10,2),
    tags text[] NOT NULL DEFAULT '{}',
    meta jsonb
);
CREATE VIEW big_orders AS SELECT id, total FROM orders;
";

fn schema() -> Replay {
    replay_sql("public", &[("1_init.sql", SCHEMA)])
}

fn ok(sql: &str) -> Analysis {
    analyze(sql, &schema()).unwrap_or_else(|e| panic!("{sql}: {e:?}"))
}

fn err(sql: &str) -> String {
    match analyze(sql, &schema()) {
        Ok(a) => panic!("{sql}: accepted as {a:?}"),
        Err(e) => e.message,
    }
}

/// `(name, type, nullable)` of every column.
fn cols(a: &Analysis) -> Vec<(String, String, bool)> {
    a.columns
        .iter()
        .map(|c| (c.name.clone(), c.type_name.clone(), c.nullable.is_some()))
        .collect()
}

fn col(name: &str, t: &str, nullable: bool) -> (String, String, bool) {
    (name.to_owned(), t.to_owned(), nullable)
}

#[test]
fn columns_keep_the_tables_nullability_and_drop_type_modifiers() {
    let a = ok("SELECT users.id, email, name, total FROM users, orders WHERE users.id = $1");
    assert_eq!(a.params, ["bigint"]);
    assert_eq!(
        cols(&a),
        [
            col("id", "bigint", false),
            col("email", "character varying", false),
            col("name", "text", true),
            col("total", "numeric", true),
        ]
    );
}

#[test]
fn an_ambiguous_column_is_refused() {
    let message = err("SELECT id FROM users, orders");
    assert!(message.contains("ambiguous"), "{message}");
}

#[test]
fn outer_joins_make_the_nullable_side_nullable() {
    let a = ok("SELECT u.id, u.email, o.id AS order_id, o.status \
                FROM users u LEFT JOIN orders o ON o.user_id = u.id");
    assert_eq!(
        cols(&a),
        [
            col("id", "bigint", false),
            col("email", "character varying", false),
            col("order_id", "bigint", true),
            col("status", "order_status", true),
        ]
    );
    let a = ok("SELECT u.email, o.id FROM orders o RIGHT JOIN users u ON o.user_id = u.id");
    assert_eq!(
        cols(&a),
        [
            col("email", "character varying", false),
            col("id", "bigint", true)
        ]
    );
    let a = ok("SELECT u.email, o.id FROM orders o FULL JOIN users u ON o.user_id = u.id");
    assert!(cols(&a).iter().all(|c| c.2));
    // a double LEFT JOIN: both right sides
    let a = ok("SELECT a.id, b.id AS b_id, c.id AS c_id FROM users a \
                LEFT JOIN orders b ON b.user_id = a.id LEFT JOIN users c ON c.id = b.user_id");
    assert_eq!(
        cols(&a).iter().map(|c| c.2).collect::<Vec<_>>(),
        [false, true, true]
    );
    // a WHERE on the right side does not make it non-null: never claim what is not proven
    let a = ok("SELECT o.id FROM users u LEFT JOIN orders o ON o.user_id = u.id WHERE o.id > 0");
    assert!(a.columns[0].nullable.is_some());
}

#[test]
fn aggregates_literals_and_functions() {
    let a = ok(
        "SELECT count(*), count(name) AS named, sum(total), avg(users.id), max(email), \
                coalesce(name, email) AS display, coalesce(name, NULL) AS maybe, 1 AS one, \
                'x' AS lit, NULL AS nothing, now(), lower(email) \
                FROM users LEFT JOIN orders ON orders.user_id = users.id \
                GROUP BY users.id",
    );
    assert_eq!(
        cols(&a),
        [
            col("count", "bigint", false),
            col("named", "bigint", false),
            col("sum", "numeric", true),
            col("avg", "numeric", true),
            // `max(character varying)` is `max(text)`: there is no max for varchar
            col("max", "text", true),
            col("display", "text", false),
            col("maybe", "text", true),
            col("one", "integer", false),
            col("lit", "text", false),
            col("nothing", "text", true),
            col("now", "timestamp with time zone", false),
            col("lower", "text", false),
        ]
    );
}

#[test]
fn parameters_take_their_type_from_the_context() {
    let a = ok(
        "SELECT id FROM orders WHERE user_id = $1 AND status = $2 AND total > $3 \
                AND id = ANY($4) AND tags @> $5 LIMIT $6 OFFSET $7",
    );
    assert_eq!(
        a.params,
        [
            "bigint",
            "order_status",
            "numeric",
            "bigint[]",
            "text[]",
            "bigint",
            "bigint"
        ]
    );
    let a = ok("INSERT INTO users (email, name) VALUES ($1, $2) RETURNING id, created_at");
    assert_eq!(a.params, ["character varying", "text"]);
    assert_eq!(
        cols(&a),
        [
            col("id", "bigint", false),
            col("created_at", "timestamp with time zone", false)
        ]
    );
    let a = ok("UPDATE orders SET total = $1, status = $2 WHERE id = $3 RETURNING *");
    assert_eq!(a.params, ["numeric", "order_status", "bigint"]);
    assert_eq!(a.columns.len(), 6);
    let a = ok("SELECT $1::int AS n, $2::text[]");
    assert_eq!(a.params, ["integer", "text[]"]);
    assert_eq!(
        cols(&a),
        [col("n", "integer", true), col("text", "text[]", true)]
    );
    let a = ok("DELETE FROM orders WHERE user_id IN ($1, $2) RETURNING id");
    assert_eq!(a.params, ["bigint", "bigint"]);
}

#[test]
fn insert_on_conflict_reads_excluded() {
    let a = ok("INSERT INTO users (email, name) VALUES ($1, $2) \
                ON CONFLICT (email) DO UPDATE SET name = EXCLUDED.name RETURNING id");
    assert_eq!(a.params, ["character varying", "text"]);
}

#[test]
fn a_parameter_without_context_asks_for_a_cast() {
    let message = err("SELECT $1 AS x");
    assert!(message.contains("cast"), "{message}");
    let message = err("SELECT id FROM users WHERE id = $2");
    assert!(message.contains("$1 is never used"), "{message}");
    let message = err("SELECT id FROM users WHERE id = $1 AND email = $1");
    assert!(message.contains("cast"), "{message}");
}

#[test]
fn unknown_names_suggest_the_closest() {
    let message = err("SELECT emial FROM users");
    assert!(message.contains("did you mean `email`"), "{message}");
    let message = err("SELECT id FROM user_s");
    assert!(message.contains("did you mean `users`"), "{message}");
    let message = err("SELECT x.id FROM users u");
    assert!(message.contains("no relation `x`"), "{message}");
    let message = err("UPDATE users SET emali = $1");
    assert!(message.contains("did you mean `email`"), "{message}");
}

#[test]
fn subqueries_ctes_unions_and_views() {
    let a = ok(
        "WITH recent AS (SELECT id, user_id FROM orders WHERE id > $1) \
                SELECT r.id, (SELECT email FROM users WHERE users.id = r.user_id) AS email, \
                EXISTS (SELECT 1 FROM users WHERE users.id = r.user_id) AS known \
                FROM recent r",
    );
    assert_eq!(
        cols(&a),
        [
            col("id", "bigint", false),
            col("email", "character varying", true),
            col("known", "boolean", false),
        ]
    );
    let a = ok("SELECT id FROM users UNION ALL SELECT id FROM orders WHERE total IS NULL");
    assert_eq!(cols(&a), [col("id", "bigint", false)]);
    // `character varying` and `text` convert both ways: the first stays, as in PostgreSQL
    let a = ok("SELECT email AS x FROM users UNION SELECT name FROM users");
    assert_eq!(cols(&a), [col("x", "character varying", true)]);
    assert!(err("SELECT id FROM users UNION SELECT email FROM users").contains("cast"));
    let a = ok("SELECT id, total FROM big_orders");
    assert!(
        a.columns.iter().all(|c| c.nullable.is_some()),
        "views' columns are nullable"
    );
    let a = ok("SELECT s.n FROM (SELECT count(*) AS n FROM users) s");
    assert_eq!(cols(&a), [col("n", "bigint", false)]);
}

#[test]
fn json_and_case() {
    let a = ok("SELECT meta->>'k' AS k, meta->'k' AS j, \
                CASE WHEN total > 10 THEN 'big' ELSE 'small' END AS size, \
                CASE status WHEN 'new' THEN 1 END AS n FROM orders");
    assert_eq!(
        cols(&a),
        [
            col("k", "text", true),
            col("j", "jsonb", true),
            col("size", "text", false),
            col("n", "integer", true),
        ]
    );
}

#[test]
fn what_an_opaque_statement_touched_is_unknown_not_guessed() {
    let schema = replay_sql(
        "public",
        &[
            ("1_init.sql", SCHEMA),
            (
                "2_dynamic.sql",
                "DO $$ BEGIN EXECUTE 'ALTER TABLE users ADD COLUMN x int'; END $$;",
            ),
        ],
    );
    let e = analyze("SELECT x FROM users", &schema).unwrap_err();
    assert!(e.message.contains("2_dynamic.sql:1"), "{}", e.message);
}

#[test]
fn errors_point_at_the_offending_text() {
    let sql = "SELECT id,\n  emial FROM users";
    let e = analyze(sql, &schema()).unwrap_err();
    assert_eq!(&sql[e.offset..e.offset + 5], "emial");
}

#[test]
fn statements_it_does_not_check_say_so() {
    assert!(err("CREATE TABLE x (a int)").contains("sqlx::query"));
    assert!(err("SELECT 1; SELECT 2").contains("one statement"));
    assert!(err("SELECT * FROM generate_series(1, 3)").contains("sqlx::query"));
    assert!(err("SELECT some_unknown_fn(id) FROM users").contains("not in pgready's table"));
    // a cast is the way out
    let a = ok("SELECT some_unknown_fn(id)::int AS n FROM users");
    assert_eq!(cols(&a), [col("n", "integer", true)]);
}

#[test]
fn type_modifiers_are_dropped() {
    assert_eq!(
        without_typmod("character varying(255)"),
        "character varying"
    );
    assert_eq!(without_typmod("numeric(10,2)[]"), "numeric[]");
    assert_eq!(
        without_typmod("timestamp(3) with time zone"),
        "timestamp with time zone"
    );
    assert_eq!(without_typmod("\"we(ird\""), "\"we(ird\"");
}

#[test]
fn a_name_a_later_migration_dropped_or_renamed_names_that_migration() {
    let schema = replay_sql(
        "public",
        &[
            ("1_init.sql", SCHEMA),
            (
                "2_rename.sql",
                "ALTER TABLE users RENAME COLUMN name TO display_name;\n\
                 ALTER TABLE orders DROP COLUMN meta;\nALTER TABLE users RENAME TO people;",
            ),
        ],
    );
    let message = |sql: &str| analyze(sql, &schema).unwrap_err().message;
    assert_eq!(
        message("SELECT name FROM people"),
        "column `name` of `people` was renamed to `display_name` by `2_rename.sql:1`"
    );
    assert_eq!(
        message("SELECT o.meta FROM orders o"),
        "column `meta` of `o` was dropped by `2_rename.sql:2`"
    );
    assert_eq!(
        message("UPDATE orders SET meta = NULL"),
        "column `meta` of `orders` was dropped by `2_rename.sql:2`"
    );
    assert_eq!(
        message("SELECT id FROM users"),
        "relation `users` was renamed to `people` by `2_rename.sql:3`"
    );
    let nullable = schema.last_change(
        &("public".to_owned(), "people".to_owned()),
        Some("display_name"),
        |k| *k == crate::schema::ChangeKind::MadeNullable,
    );
    // earlier changes follow the renames: `name` was created nullable by 1_init.sql
    assert_eq!(nullable.unwrap().origin.to_string(), "1_init.sql:3");
}

/// Whatever is typed into a query while it is being written (every prefix of real queries,
/// and each with one character dropped), the analysis answers and never panics: a panic in a
/// proc macro would take the build down with an unhelpful message.
#[test]
fn every_prefix_and_deletion_of_real_queries_is_answered_without_a_panic() {
    let schema = schema();
    let queries = [
        "SELECT u.id, count(o.id) AS n FROM users u LEFT JOIN orders o ON o.user_id = u.id \
         WHERE u.email ILIKE $1 GROUP BY u.id HAVING count(o.id) > $2 ORDER BY n DESC LIMIT 10",
        "WITH t AS (SELECT id FROM orders WHERE status = $1) SELECT coalesce(max(t.id), 0) FROM t",
        "INSERT INTO users (email, name) VALUES ($1, $2) ON CONFLICT (email) DO UPDATE SET \
         name = EXCLUDED.name RETURNING id, (SELECT count(*) FROM orders) AS n",
        "UPDATE orders o SET total = total * 2, tags = $1 FROM users u WHERE u.id = o.user_id \
         AND o.id = ANY($2) RETURNING o.meta->>'k', CASE WHEN o.total > 1 THEN 'a' END",
        "DELETE FROM orders USING users WHERE users.id = orders.user_id AND $1::int > 0",
        "SELECT substring(email FROM 2 FOR 3), extract(year FROM created_at), \
         position('a' IN name), -total, NOT (id > 1) FROM users, orders",
    ];
    let mut answered = 0;
    for sql in queries {
        let boundaries: Vec<usize> = sql.char_indices().map(|(i, _)| i).collect();
        for &end in &boundaries {
            let _ = analyze(&sql[..end], &schema);
            answered += 1;
        }
        for window in boundaries.windows(2) {
            let mutated = format!("{}{}", &sql[..window[0]], &sql[window[1]..]);
            let _ = analyze(&mutated, &schema);
            answered += 1;
        }
    }
    assert!(answered > 1000, "{answered}");
}
