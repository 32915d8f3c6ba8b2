//! Comparing the migrations in the code with the rows in the migrations table.

use std::collections::BTreeMap;

use pgready_core::config::{self, OutOfOrder};
use pgready_core::migrations::{Kind, Migration};
use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Row as _};

use crate::Error;
use crate::error::During;

/// One row of `_sqlx_migrations`.
pub(crate) struct Row {
    pub(crate) version: i64,
    pub(crate) checksum: Vec<u8>,
    pub(crate) success: bool,
    pub(crate) description: String,
}

/// The state of one version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Applied, and the file's checksum matches.
    Applied,
    /// In the code, not in the database.
    Pending,
    /// Applied, but the file changed since.
    ChecksumMismatch,
    /// Applied, but no file has this version.
    MissingLocally,
    /// Recorded with `success = false` (a failed no-transaction migration).
    Failed,
}

impl State {
    /// Lowercase words, as `pgready migrate status` prints them.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Applied => "applied",
            State::Pending => "pending",
            State::ChecksumMismatch => "checksum mismatch",
            State::MissingLocally => "missing locally",
            State::Failed => "failed",
        }
    }
}

/// A version with its state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionStatus {
    /// The version.
    pub version: i64,
    /// The description (from the file, else from the table).
    pub description: String,
    /// The file, when the code has it.
    pub file: Option<String>,
    /// What the database says about it.
    pub state: State,
}

/// `table` or `schema.table`, each part quoted.
pub(crate) fn quoted(table: &str) -> String {
    table
        .split('.')
        .map(crate::session::identifier)
        .collect::<Vec<_>>()
        .join(".")
}

/// The table's rows, or none when the table does not exist yet.
pub(crate) async fn applied_rows(conn: &mut PgConnection, table: &str) -> Result<Vec<Row>, Error> {
    // Unnamed statements: the health probe reads this behind a transaction pooler too.
    let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .persistent(false)
        .bind(quoted(table))
        .fetch_one(&mut *conn)
        .await
        .during(format_args!("looking for the migrations table `{table}`"))?;
    if !exists {
        return Ok(Vec::new());
    }
    let rows: Vec<(i64, Vec<u8>, bool, String)> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT version, checksum, success, description FROM {} ORDER BY version",
        quoted(table)
    )))
    .persistent(false)
    .fetch_all(&mut *conn)
    .await
    .during(format_args!("reading the migrations table `{table}`"))?;
    Ok(rows
        .into_iter()
        .map(|(version, checksum, success, description)| Row {
            version,
            checksum,
            success,
            description,
        })
        .collect())
}

/// At start-up, the rows in one round trip and with no lock: `None` when the table (or its
/// schema) does not exist yet, or one of `[migrations] create_schemas` does not, so that the
/// caller takes the lock and creates them. A simple query: nothing is prepared (so nothing
/// is left behind a transaction pooler), and rows come back as text.
///
/// On a database never migrated, the server logs the read's `42P01` (undefined table) once;
/// reading without a prior existence check is what makes the usual start-up one round trip.
pub(crate) async fn applied_rows_at_once(
    conn: &mut PgConnection,
    cfg: &config::Migrations,
) -> Result<Option<Vec<Row>>, Error> {
    let table = &cfg.table;
    let read = format!(
        "SELECT version, checksum, success, description FROM {} ORDER BY version",
        quoted(table)
    );
    let sql = if cfg.create_schemas.is_empty() {
        read
    } else {
        // Which of `create_schemas` are missing, first, in the same round trip.
        let names: Vec<String> = cfg
            .create_schemas
            .iter()
            .map(|s| crate::session::literal(s))
            .collect();
        format!(
            "SELECT count(*) FROM unnest(ARRAY[{}]::text[]) s \
             WHERE s NOT IN (SELECT nspname FROM pg_namespace); {read}",
            names.join(", ")
        )
    };
    let results = match sqlx::raw_sql(AssertSqlSafe(sql))
        .fetch_all(&mut *conn)
        .await
    {
        Ok(rows) => rows,
        // 42P01 undefined_table, 3F000 invalid_schema_name: nothing was ever applied here.
        Err(sqlx::Error::Database(e)) if matches!(e.code().as_deref(), Some("42P01" | "3F000")) => {
            return Ok(None);
        }
        Err(e) => {
            return Err(e).during(format_args!("reading the migrations table `{table}`"));
        }
    };
    let mut rows = results.iter();
    if !cfg.create_schemas.is_empty() {
        let missing: i64 = rows
            .next()
            .map(|row| row.try_get(0))
            .transpose()
            .during("looking for `[migrations] create_schemas`")?
            .unwrap_or(0);
        if missing > 0 {
            return Ok(None);
        }
    }
    rows.map(|row| {
        Ok(Row {
            version: row.try_get(0)?,
            checksum: row.try_get(1)?,
            success: row.try_get(2)?,
            description: row.try_get(3)?,
        })
    })
    .collect::<Result<Vec<Row>, sqlx::Error>>()
    .during(format_args!("reading the migrations table `{table}`"))
    .map(Some)
}

fn forward(list: &[Migration]) -> BTreeMap<i64, &Migration> {
    list.iter()
        .filter(|m| m.kind != Kind::Down)
        .map(|m| (m.version, m))
        .collect()
}

pub(crate) fn status(list: &[Migration], rows: &[Row]) -> Vec<VersionStatus> {
    let local = forward(list);
    let mut out: BTreeMap<i64, VersionStatus> = local
        .values()
        .map(|m| {
            (
                m.version,
                VersionStatus {
                    version: m.version,
                    description: m.description.clone(),
                    file: Some(m.file_name.clone()),
                    state: State::Pending,
                },
            )
        })
        .collect();
    for row in rows {
        let state = match local.get(&row.version) {
            _ if !row.success => State::Failed,
            None => State::MissingLocally,
            Some(m) if m.checksum != row.checksum => State::ChecksumMismatch,
            Some(_) => State::Applied,
        };
        out.entry(row.version)
            .and_modify(|s| s.state = state)
            .or_insert_with(|| VersionStatus {
                version: row.version,
                description: row.description.clone(),
                file: None,
                state,
            });
    }
    out.into_values().collect()
}

/// The pending migrations, in order, after every check passed.
pub(crate) fn pending<'a>(
    list: &'a [Migration],
    rows: &[Row],
    cfg: &config::Migrations,
) -> Result<Vec<&'a Migration>, Error> {
    let local = forward(list);
    for s in status(list, rows) {
        let file = s
            .file
            .clone()
            .unwrap_or_else(|| format!("version {}", s.version));
        let message = match s.state {
            State::Applied | State::Pending => continue,
            State::Failed => format!(
                "version {} is marked failed (success = false) in `{}`: repair the schema by \
                 hand, then delete that row",
                s.version, cfg.table
            ),
            State::MissingLocally => format!(
                "version {} is applied in the database but missing from the migrations directory: \
                 restore the file (never delete an applied migration)",
                s.version
            ),
            State::ChecksumMismatch => format!(
                "was edited after it was applied (its checksum differs from version {} in `{}`): \
                 restore the original file and add a new migration instead",
                s.version, cfg.table
            ),
        };
        return Err(Error::Migrate { file, message });
    }
    let newest = rows.iter().map(|r| r.version).max();
    let pending: Vec<&Migration> = local
        .values()
        .copied()
        .filter(|m| {
            rows.binary_search_by_key(&m.version, |r| r.version)
                .is_err()
        })
        .collect();
    let older = newest.and_then(|newest| pending.iter().find(|m| m.version < newest));
    if let (Some(newest), Some(old), OutOfOrder::Error) = (newest, older, cfg.out_of_order) {
        return Err(Error::Migrate {
            file: old.file_name.clone(),
            message: format!(
                "is pending but older than version {newest}, which is already applied: give it \
                 a version newer than {newest} (rename the file), or set `[migrations] \
                 out_of_order = \"apply\"`"
            ),
        });
    }
    Ok(pending)
}
