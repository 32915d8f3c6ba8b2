//! What the backup commands ask a database: its tables with their row estimates, exact row
//! counts, the applied migration version, whether a database exists and whether it is empty.

use pgready::sqlx::{self, PgConnection};

use crate::failure::Failure;

/// Schemas that hold no user data.
const USER_SCHEMA: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema') \
     AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'";

/// Not created by an extension (`pg_depend` type `e`) — `{class}` and `{oid}` filled in.
const NOT_FROM_EXTENSION: &str = "NOT EXISTS (SELECT 1 FROM pg_depend d WHERE \
     d.classid = '{class}'::regclass AND d.objid = {oid} AND d.deptype = 'e')";

/// A table whose rows a dump holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub schema: String,
    pub name: String,
    /// `pg_class.reltuples`: `None` when never vacuumed or analyzed
    pub estimate: Option<i64>,
}

impl Table {
    /// `"schema"."name"`, for SQL and for `pg_dump --table` (where double quotes make the
    /// pattern literal).
    pub fn quoted(&self) -> String {
        format!("{}.{}", quote(&self.schema), quote(&self.name))
    }
}

/// `"name"`, with embedded quotes doubled.
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The ordinary tables of the database (partitions included, as their rows live there; the
/// partitioned parents hold none), outside the system schemas and not from extensions, by
/// schema and name; with `only` non-empty, just those (each resolved as SQL resolves a table
/// name, with the connection's search path), or an error naming the ones that do not exist.
pub async fn tables(conn: &mut PgConnection, only: &[String]) -> Result<Vec<Table>, Failure> {
    let failed = |e: sqlx::Error| Failure::Error(format!("cannot list the tables: {e}"));
    let mut oids: Vec<sqlx::postgres::types::Oid> = Vec::new();
    let mut unknown = Vec::new();
    for name in only {
        let found: Option<(sqlx::postgres::types::Oid, String)> = sqlx::query_as(
            "SELECT c.oid, c.relkind::text FROM pg_class c WHERE c.oid = to_regclass($1)",
        )
        .bind(name)
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| Failure::Error(format!("cannot look up table `{name}`: {e}")))?;
        match found {
            Some((oid, kind)) if kind == "r" => oids.push(oid),
            Some((_, kind)) if kind == "p" => {
                return Err(Failure::Usage(format!(
                    "`{name}` is a partitioned table, whose rows live in its partitions: name \
                     the partitions with `--table`"
                )));
            }
            Some(_) => {
                return Err(Failure::Usage(format!(
                    "`{name}` is not a table (a view, sequence or index): `--table` names tables"
                )));
            }
            None => unknown.push(format!("`{name}`")),
        }
    }
    if !unknown.is_empty() {
        return Err(Failure::Usage(format!(
            "no table {} in the database (a name without a schema is looked up in `[session] \
             schema`)",
            unknown.join(", ")
        )));
    }
    let filter = NOT_FROM_EXTENSION
        .replace("{class}", "pg_class")
        .replace("{oid}", "c.oid");
    let sql = format!(
        "SELECT n.nspname::text, c.relname::text, \
         CASE WHEN c.reltuples < 0 THEN NULL ELSE c.reltuples::bigint END \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind = 'r' AND c.relpersistence <> 't' AND {USER_SCHEMA} AND {filter} \
         AND (cardinality($1::oid[]) = 0 OR c.oid = ANY($1)) ORDER BY 1, 2"
    );
    let rows: Vec<(String, String, Option<i64>)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(&oids)
        .fetch_all(&mut *conn)
        .await
        .map_err(failed)?;
    Ok(rows
        .into_iter()
        .map(|(schema, name, estimate)| Table {
            schema,
            name,
            estimate,
        })
        .collect())
}

/// `count(*)` of `table` in the connection's snapshot.
pub async fn count(conn: &mut PgConnection, table: &Table) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM {}",
        table.quoted()
    )))
    .fetch_one(&mut *conn)
    .await
}

/// The newest successfully applied version in the migrations table `table` (`table` or
/// `schema.table`, unqualified names in the connection's search path); `None` when the table
/// does not exist or holds no successful row.
pub async fn migration_version(
    conn: &mut PgConnection,
    table: &str,
) -> Result<Option<i64>, Failure> {
    let quoted = table.split('.').map(quote).collect::<Vec<_>>().join(".");
    let failed =
        |e: sqlx::Error| Failure::Error(format!("cannot read the migrations table `{table}`: {e}"));
    let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(&quoted)
        .fetch_one(&mut *conn)
        .await
        .map_err(failed)?;
    if !exists {
        return Ok(None);
    }
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT max(version) FROM {quoted} WHERE success"
    )))
    .fetch_one(&mut *conn)
    .await
    .map_err(failed)
}

/// Whether the database `name` exists.
pub async fn database_exists(conn: &mut PgConnection, name: &str) -> Result<bool, Failure> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(name)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| Failure::Error(format!("cannot look up database `{name}`: {e}")))
}

/// What a database holds beyond what `CREATE DATABASE … TEMPLATE template0` gives it:
/// relations, schemas other than `public`, functions and types, outside the system schemas and
/// not from extensions. Each such object would clash with (or survive) a restore.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Contents {
    pub relations: i64,
    pub schemas: i64,
    pub routines: i64,
    pub types: i64,
}

impl Contents {
    pub fn is_empty(&self) -> bool {
        *self == Contents::default()
    }
}

impl std::fmt::Display for Contents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = [
            (self.relations, "relation(s)"),
            (self.schemas, "schema(s) besides `public`"),
            (self.routines, "function(s)"),
            (self.types, "type(s)"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        f.write_str(&parts.join(", "))
    }
}

/// What the connected database holds; see [`Contents`].
pub async fn contents(conn: &mut PgConnection) -> Result<Contents, Failure> {
    let not_ext = |class: &str, oid: &str| {
        NOT_FROM_EXTENSION
            .replace("{class}", class)
            .replace("{oid}", oid)
    };
    let sql = format!(
        "SELECT \
         (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
          WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND {USER_SCHEMA} AND {rel}), \
         (SELECT count(*) FROM pg_namespace n WHERE {USER_SCHEMA} AND n.nspname <> 'public' \
          AND {ns}), \
         (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
          WHERE {USER_SCHEMA} AND {proc}), \
         (SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
          WHERE t.typtype IN ('e', 'd', 'r', 'b') AND t.typcategory <> 'A' AND {USER_SCHEMA} \
          AND {typ})",
        rel = not_ext("pg_class", "c.oid"),
        ns = not_ext("pg_namespace", "n.oid"),
        proc = not_ext("pg_proc", "p.oid"),
        typ = not_ext("pg_type", "t.oid"),
    );
    let (relations, schemas, routines, types): (i64, i64, i64, i64) =
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| Failure::Error(format!("cannot read what the database holds: {e}")))?;
    Ok(Contents {
        relations,
        schemas,
        routines,
        types,
    })
}

/// `CREATE DATABASE "name" TEMPLATE template0`: empty, as a restore wants it.
pub async fn create_database(conn: &mut PgConnection, name: &str) -> Result<(), Failure> {
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE {} TEMPLATE template0",
        quote(name)
    )))
    .execute(&mut *conn)
    .await
    .map(drop)
    .map_err(|e| {
        let hint = match e.as_database_error().and_then(|d| d.code()).as_deref() {
            Some("42501") => " (the DSN's role needs `CREATEDB`)",
            Some("25006") => " (the DSN points at a read-only server, such as a replica)",
            _ => "",
        };
        Failure::Error(format!("cannot create database `{name}`: {e}{hint}"))
    })
}

/// `DROP DATABASE IF EXISTS "name"`; with `force` (PostgreSQL 13+), other sessions are ended
/// first.
pub async fn drop_database(
    conn: &mut PgConnection,
    name: &str,
    force: bool,
) -> Result<(), Failure> {
    let with = if force { " WITH (FORCE)" } else { "" };
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {}{with}",
        quote(name)
    )))
    .execute(&mut *conn)
    .await
    .map(drop)
    .map_err(|e| Failure::Error(format!("cannot drop database `{name}`: {e}")))
}
