//! `pgready::query!`, `query_as!`, `query_scalar!` and `#[derive(pgready::Row)]`, compiled
//! against the demo migrations (`tests/pgready.toml` → `migrations/`) with no database, then run
//! on a real one: on `&pgready::Pool`, on `&mut *conn` and on `&mut *tx`, as sqlx's own macros
//! run.

use pgready::sqlx::Row as _;

#[derive(Debug, PartialEq, pgready::Row)]
#[pgready(table = "items")]
struct Item {
    id: i64,
    name: String,
    #[pgready(rename = "done")]
    finished: bool,
}

#[derive(Debug, PartialEq)]
struct Named {
    id: i64,
    name: String,
}

// A database of its own: the test goes on after a statement that fails on purpose, which would
// abort a transaction-mode test's transaction.
#[pgready::test(isolation = "database")]
async fn checked_queries_run_on_the_pool_a_connection_and_a_transaction(db: pgready::Db) {
    // a record with one typed field per column
    let inserted = pgready::query!(
        "INSERT INTO items (name) VALUES ($1), ($2) RETURNING id, name, done",
        "milk",
        String::from("eggs")
    )
    .fetch_all(db.write())
    .await
    .unwrap();
    assert_eq!(inserted.len(), 2);
    let (milk, eggs): (i64, i64) = (inserted[0].id, inserted[1].id);
    assert_eq!(inserted[1].name, "eggs");
    assert!(!inserted[0].done);

    // into the caller's type, on a pooled connection
    let mut conn = db.read().acquire().await.unwrap();
    let named = pgready::query_as!(
        Named,
        "SELECT id, name FROM items WHERE id = ANY($1) ORDER BY id",
        &[milk, eggs][..]
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    assert_eq!(
        named,
        [
            Named {
                id: milk,
                name: "milk".to_owned()
            },
            Named {
                id: eggs,
                name: "eggs".to_owned()
            }
        ]
    );
    drop(conn);

    // one value, in a transaction; the outer-join side is an Option
    let mut tx = db.write().begin().await.unwrap();
    let updated = pgready::query_scalar!(
        "UPDATE items SET done = true WHERE id = $1 RETURNING done",
        milk
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert!(updated);
    let count = pgready::query_scalar!("SELECT count(*) FROM items WHERE done")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(count, 1i64);
    let lonely = pgready::query!(
        "SELECT a.id, b.name AS other FROM items a LEFT JOIN items b ON b.id = a.id + 1000 \
         WHERE a.id = $1",
        milk
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    let other: Option<String> = lonely.other;
    assert_eq!(other, None);
    tx.commit().await.unwrap();

    // the derived FromRow, through sqlx's own query_as
    let items: Vec<Item> = pgready::sqlx::query_as("SELECT id, name, done FROM items ORDER BY id")
        .fetch_all(db.read())
        .await
        .unwrap();
    assert_eq!(
        items[0],
        Item {
            id: milk,
            name: "milk".to_owned(),
            finished: true
        }
    );
    // a checked query into the derived type, with sqlx's overrides
    let overridden =
        pgready::query!(r#"SELECT max(id) AS "newest!", min(name) AS "first!: String" FROM items"#)
            .fetch_one(db.read())
            .await
            .unwrap();
    let newest: i64 = overridden.newest;
    let first: String = overridden.first;
    assert_eq!((newest, first.as_str()), (eggs, "eggs"));
    // errors behave as sqlx's: a check violation comes back as a database error
    let too_long = "x".repeat(300);
    let error = pgready::query!("INSERT INTO items (name) VALUES ($1)", too_long)
        .execute(db.write())
        .await
        .unwrap_err();
    assert_eq!(
        error.as_database_error().and_then(|e| e.code()).as_deref(),
        Some("23514")
    );
    // a `Row` is an ordinary sqlx row underneath
    let raw = pgready::sqlx::query("SELECT 1 AS one")
        .fetch_one(db.read())
        .await
        .unwrap();
    assert_eq!(raw.get::<i32, _>("one"), 1);
}
