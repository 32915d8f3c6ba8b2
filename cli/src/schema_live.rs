//! A live database's catalog read into the same model the migrations replay into, so
//! `pgready schema diff` compares like with like.

use std::collections::BTreeMap;

use pgready::sqlx::{self, PgConnection, Row as _};
use pgready_core::schema::{
    Catalog, Column, Constraint, ConstraintKind, Domain, Enum, Identity, Index, Table, View,
    ViewColumn,
};

/// The schemas a user's objects live in: not the system's.
const USER_SCHEMAS: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') \
     AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'";

/// Not created by an extension (`pg_depend` type `e`).
const NOT_FROM_EXTENSION: &str =
    "NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = {oid} AND d.deptype = 'e')";

/// Reads the catalog of the database `conn` is connected to. Type names are spelled by
/// `format_type` under `search_path = base_schema`, as the model spells them; the migrations
/// table (`migrations_table`) is left out.
pub async fn read(
    conn: &mut PgConnection,
    base_schema: &str,
    migrations_table: &str,
) -> Result<Catalog, sqlx::Error> {
    let mut catalog = Catalog::new(base_schema);
    sqlx::query("SELECT set_config('search_path', $1, false)")
        .bind(quote(base_schema))
        .execute(&mut *conn)
        .await?;
    let q = |sql: String| sqlx::query(sqlx::AssertSqlSafe(sql));
    let rel_filter = NOT_FROM_EXTENSION.replace("{oid}", "c.oid");
    for row in q(format!(
        "SELECT nspname::text FROM pg_namespace n WHERE {USER_SCHEMAS}"
    ))
    .fetch_all(&mut *conn)
    .await?
    {
        catalog.schemas.entry(row.get(0)).or_default();
    }
    let mut columns: BTreeMap<(String, String), Vec<(Column, String)>> = BTreeMap::new();
    for row in q(format!(
        "SELECT n.nspname::text, c.relname::text, a.attname::text, \
         format_type(a.atttypid, a.atttypmod), a.attnotnull, a.atthasdef, \
         a.attidentity::text, a.attgenerated::text, c.relkind::text \
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p', 'v') AND {USER_SCHEMAS} AND {rel_filter} \
         AND a.attnum > 0 AND NOT a.attisdropped ORDER BY n.nspname, c.relname, a.attnum"
    ))
    .fetch_all(&mut *conn)
    .await?
    {
        let identity: String = row.get(6);
        let generated: String = row.get(7);
        columns.entry((row.get(0), row.get(1))).or_default().push((
            Column {
                name: row.get(2),
                type_name: Some(row.get(3)),
                not_null: row.get(4),
                has_default: row.get(5),
                identity: match identity.as_str() {
                    "a" => Identity::Always,
                    "d" => Identity::ByDefault,
                    _ => Identity::No,
                },
                generated: !generated.is_empty(),
                uncertain: None,
            },
            row.get(8),
        ));
    }
    // relations without columns exist too
    for row in q(format!(
        "SELECT n.nspname::text, c.relname::text, c.relkind::text FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p', 'v') AND {USER_SCHEMAS} AND {rel_filter}"
    ))
    .fetch_all(&mut *conn)
    .await?
    {
        let (schema, name, kind): (String, String, String) = (row.get(0), row.get(1), row.get(2));
        if schema == base_schema && name == migrations_table {
            continue;
        }
        let cols = columns
            .remove(&(schema.clone(), name.clone()))
            .unwrap_or_default();
        let s = catalog.schemas.entry(schema).or_default();
        if kind == "v" {
            s.views.insert(
                name.clone(),
                View {
                    name,
                    columns: Some(
                        cols.into_iter()
                            .map(|(c, _)| ViewColumn {
                                name: c.name,
                                type_name: c.type_name.unwrap_or_default(),
                            })
                            .collect(),
                    ),
                    reads: Vec::new(),
                    uncertain: None,
                },
            );
        } else {
            s.tables.insert(
                name.clone(),
                Table {
                    name,
                    columns: cols.into_iter().map(|(c, _)| c).collect(),
                    constraints: Vec::new(),
                    indexes: Vec::new(),
                    uncertain: None,
                },
            );
        }
    }
    for row in q(format!(
        "SELECT n.nspname::text, c.relname::text, con.conname::text, con.contype::text \
         FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE {USER_SCHEMAS} AND con.contype IN ('p', 'u', 'f', 'c', 'x') ORDER BY con.oid"
    ))
    .fetch_all(&mut *conn)
    .await?
    {
        let kind = match row.get::<String, _>(3).as_str() {
            "p" => ConstraintKind::PrimaryKey,
            "u" => ConstraintKind::Unique,
            "f" => ConstraintKind::ForeignKey,
            "c" => ConstraintKind::Check,
            _ => ConstraintKind::Exclusion,
        };
        if let Some(t) = table(&mut catalog, row.get(0), row.get(1)) {
            t.constraints.push(Constraint {
                name: row.get(2),
                kind,
                columns: Vec::new(),
                references: None,
                uncertain: None,
            });
        }
    }
    for row in q(format!(
        "SELECT n.nspname::text, t.relname::text, i.relname::text, x.indisunique, \
         x.indisprimary FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
         JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE {USER_SCHEMAS} ORDER BY i.oid"
    ))
    .fetch_all(&mut *conn)
    .await?
    {
        if let Some(t) = table(&mut catalog, row.get(0), row.get(1)) {
            t.indexes.push(Index {
                name: row.get(2),
                unique: row.get(3),
                primary: row.get(4),
                columns: Vec::new(),
                uncertain: None,
            });
        }
    }
    let type_filter = NOT_FROM_EXTENSION.replace("{oid}", "t.oid");
    for row in q(format!(
        "SELECT n.nspname::text, t.typname::text, \
         array_agg(e.enumlabel::text ORDER BY e.enumsortorder) \
         FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid \
         JOIN pg_namespace n ON n.oid = t.typnamespace WHERE {USER_SCHEMAS} AND {type_filter} \
         GROUP BY 1, 2"
    ))
    .fetch_all(&mut *conn)
    .await?
    {
        let name: String = row.get(1);
        catalog.schemas.entry(row.get(0)).or_default().enums.insert(
            name.clone(),
            Enum {
                name,
                labels: row.get(2),
                uncertain: None,
            },
        );
    }
    for row in q(format!(
        "SELECT n.nspname::text, t.typname::text, format_type(t.typbasetype, t.typtypmod), \
         t.typnotnull FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
         WHERE t.typtype = 'd' AND {USER_SCHEMAS} AND {type_filter}"
    ))
    .fetch_all(&mut *conn)
    .await?
    {
        let name: String = row.get(1);
        catalog
            .schemas
            .entry(row.get(0))
            .or_default()
            .domains
            .insert(
                name.clone(),
                Domain {
                    name,
                    base: Some(row.get(2)),
                    not_null: row.get(3),
                    uncertain: None,
                },
            );
    }
    Ok(catalog)
}

fn table(catalog: &mut Catalog, schema: String, name: String) -> Option<&mut Table> {
    catalog.schemas.get_mut(&schema)?.tables.get_mut(&name)
}

/// `quote_ident` for the `search_path` value.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
