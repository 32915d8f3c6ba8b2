//! The migrated template every test database is copied from: named after the crate and a hash
//! of what it holds, built once per server under an advisory lock, replaced when a migration
//! changes.

use pgready_core::{config, dsn, migrations};
use sqlx::{AssertSqlSafe, Executor, PgConnection};

use crate::migrate::Migrator;
use crate::session::identifier as quote;
use crate::start::Purpose;
use crate::{Error, Setup};

const PREFIX: &str = "pgready_tpl_";
/// One advisory lock per server for building templates (an arbitrary constant).
const LOCK_ID: i64 = 0x7067_7265_6164_7931;

/// `pgready_tpl_<crate>_<profile>_<hash of what the template holds>`, ≤ 63 bytes.
///
/// The profile part has no `_`, so the last two `_` split the name unambiguously and the
/// clean-up in [`build_unless_present`] only ever drops this crate's and profile's templates.
pub(super) fn name(setup: &Setup, profile: &str, cfg: &config::Config) -> Result<String, Error> {
    let migrator = Migrator::from_embedded(setup.migrations, &cfg.migrations)?;
    let mut key = format!(
        "{}\n{profile}\n{}\n{}\n",
        setup.crate_name, cfg.session.schema, cfg.migrations.table
    )
    .into_bytes();
    for m in migrator.migrations() {
        key.extend_from_slice(m.file_name.as_bytes());
        key.extend_from_slice(&m.checksum);
    }
    Ok(format!(
        "{PREFIX}{}_{}_{}",
        crate_part(setup.crate_name),
        profile_part(profile),
        short_hash(&key)
    ))
}

/// 12 + 18 + 1 + 11 + 1 + 16 = 59 bytes at most, and 63 with the `_new` of a build in
/// progress: PostgreSQL would silently truncate a longer name.
fn crate_part(crate_name: &str) -> String {
    crate_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(18)
        .collect()
}

fn profile_part(profile: &str) -> String {
    profile
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .take(11)
        .collect()
}

pub(super) fn short_hash(bytes: &[u8]) -> String {
    migrations::checksum(bytes)
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The database `isolation = "transaction"` tests share: a copy of `template`, named after
/// it (`<template>_tx`, ≤ 62 bytes), made once per server and dropped with its template.
pub(super) fn shared_name(template: &str) -> String {
    format!("{template}{SHARED_SUFFIX}")
}

const SHARED_SUFFIX: &str = "_tx";

/// [`ensure`], then the database transaction-mode tests share, unless it exists.
pub(super) async fn ensure_shared(
    admin: &mut PgConnection,
    server: &str,
    setup: &Setup,
    url_env: &str,
    template: &str,
) -> Result<(), Error> {
    locked(admin, async |admin| {
        build_unless_present(admin, server, setup, url_env, template).await?;
        let shared = shared_name(template);
        let present: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(&shared)
                .fetch_one(&mut *admin)
                .await?;
        if !present {
            admin
                .execute(AssertSqlSafe(format!(
                    "CREATE DATABASE {} TEMPLATE {}",
                    quote(&shared),
                    quote(template)
                )))
                .await?;
        }
        Ok(())
    })
    .await
}

/// Builds `template` unless it exists, under the lock; then drops the crate's older templates.
///
/// `setup` and `url_env` are the test's: the template is migrated by a `pgready::start` on it.
pub(super) async fn ensure(
    admin: &mut PgConnection,
    server: &str,
    setup: &Setup,
    url_env: &str,
    template: &str,
) -> Result<(), Error> {
    locked(admin, async |admin| {
        build_unless_present(admin, server, setup, url_env, template).await
    })
    .await
}

/// Runs `f` holding the templates' advisory lock on `admin`, and unlocks whatever `f` returns.
async fn locked(
    admin: &mut PgConnection,
    f: impl AsyncFnOnce(&mut PgConnection) -> Result<(), Error>,
) -> Result<(), Error> {
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(LOCK_ID)
        .execute(&mut *admin)
        .await?;
    let done = f(&mut *admin).await;
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(LOCK_ID)
        .execute(&mut *admin)
        .await?;
    done
}

async fn build_unless_present(
    admin: &mut PgConnection,
    server: &str,
    setup: &Setup,
    url_env: &str,
    template: &str,
) -> Result<(), Error> {
    let present: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(template)
            .fetch_one(&mut *admin)
            .await?;
    if present {
        return Ok(());
    }
    let building = format!("{template}_new");
    drop_database(admin, &building).await?;
    admin
        .execute(AssertSqlSafe(format!(
            "CREATE DATABASE {}",
            quote(&building)
        )))
        .await?;
    let build = setup
        .clone()
        .var(url_env, Some(&dsn::with_database(server, &building)))
        .purpose(Purpose::TestTemplate);
    let db = crate::start(&build).await?;
    db.close().await;
    drop(db);
    admin
        .execute(AssertSqlSafe(format!(
            "ALTER DATABASE {} RENAME TO {}",
            quote(&building),
            quote(template)
        )))
        .await?;
    let prefix = template
        .rsplit_once('_')
        .map_or(template, |(prefix, _)| prefix);
    let old: Vec<String> = sqlx::query_scalar(
        "SELECT datname::text FROM pg_database WHERE starts_with(datname, $1) AND datname <> $2",
    )
    .bind(format!("{prefix}_"))
    .bind(template)
    .fetch_all(&mut *admin)
    .await?;
    // The older templates, and the databases transaction-mode tests shared on them.
    let outdated = |n: &&String| {
        n.len() == template.len()
            || (n.len() == template.len() + SHARED_SUFFIX.len() && n.ends_with(SHARED_SUFFIX))
    };
    for name in old.iter().filter(outdated) {
        drop_database(admin, name).await?;
        tracing::info!(template = %name, "dropped an outdated test template");
    }
    Ok(())
}

async fn drop_database(admin: &mut PgConnection, name: &str) -> Result<(), Error> {
    admin
        .execute(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote(name)
        )))
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use pgready_core::config::Config;

    use super::name;
    use crate::Setup;

    #[test]
    fn each_profile_has_its_own_template_and_names_fit_postgresql() {
        let setup = Setup::new("", "a-crate-with-a-rather-long-name", &[]);
        let cfg = Config::defaults("a-crate-with-a-rather-long-name");
        let dev = name(&setup, "development", &cfg).unwrap();
        let prod = name(&setup, "production", &cfg).unwrap();
        let odd = name(&setup, "Staging_EU-west-1", &cfg).unwrap();
        assert!(
            dev.starts_with("pgready_tpl_a_crate_with_a_rat_development_"),
            "{dev}"
        );
        assert!(prod.contains("_production_"), "{prod}");
        assert!(odd.contains("_stagingeuwe_"), "{odd}");
        for template in [&dev, &prod, &odd] {
            // a build in progress is `<template>_new`, within PostgreSQL's 63 bytes
            assert!(template.len() + "_new".len() <= 63, "{template}");
        }
        assert_ne!(dev, prod);
        // the clean-up drops names that share everything up to the last `_`
        let prefix = |t: &str| t.rsplit_once('_').map(|(p, _)| p.to_owned());
        assert_ne!(prefix(&dev), prefix(&prod));
    }
}
