//! The `role` check: the DSN's role (the service's) has no power it does not need. A service
//! reads and writes its own tables: it needs no superuser, no `CREATEROLE`, `CREATEDB`,
//! `REPLICATION` or `BYPASSRLS`, and owns no schema but its own (`[session] schema`,
//! `[migrations] create_schemas` and the migrations table's).

use pgready::sqlx;

use super::checks::Ctx;
use super::{Check, Status};

pub async fn check(ctx: &mut Ctx<'_>) -> Result<Check, String> {
    let (role, superuser, createrole, createdb, replication, bypassrls): (
        String,
        bool,
        bool,
        bool,
        bool,
        bool,
    ) = sqlx::query_as(
        "SELECT rolname::text, rolsuper, rolcreaterole, rolcreatedb, rolreplication, \
         rolbypassrls FROM pg_roles WHERE rolname = current_user",
    )
    .fetch_one(&mut *ctx.conn)
    .await
    .map_err(|e| e.to_string())?;
    let cfg = &ctx.project.config;
    let mut own: Vec<String> = vec![cfg.session.schema.clone()];
    own.extend(cfg.migrations.create_schemas.iter().cloned());
    if let Some((schema, _)) = cfg.migrations.table.split_once('.') {
        own.push(schema.to_owned());
    }
    let owned: Vec<String> = sqlx::query_scalar(
        "SELECT n.nspname::text FROM pg_namespace n \
         WHERE n.nspowner = (SELECT oid FROM pg_roles WHERE rolname = current_user) \
         AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
         AND n.nspname NOT LIKE 'pg\\_%' AND NOT (n.nspname = ANY($1)) ORDER BY 1",
    )
    .bind(&own)
    .fetch_all(&mut *ctx.conn)
    .await
    .map_err(|e| e.to_string())?;
    Ok(judge(
        &role,
        Powers {
            superuser,
            createrole,
            createdb,
            replication,
            bypassrls,
        },
        &owned,
    ))
}

/// `pg_roles`' attributes a service does not need.
#[derive(Clone, Copy, Debug, Default)]
pub struct Powers {
    pub superuser: bool,
    pub createrole: bool,
    pub createdb: bool,
    pub replication: bool,
    pub bypassrls: bool,
}

/// The check from what the catalog says: `owned` are the schemas the role owns besides its
/// own.
pub fn judge(role: &str, p: Powers, owned: &[String]) -> Check {
    let quoted = crate::postgres::catalog::quote(role);
    let mut found = Vec::new();
    let mut revoke = Vec::new();
    for (has, attribute, undo) in [
        (p.superuser, "SUPERUSER", "NOSUPERUSER"),
        (p.createrole, "CREATEROLE", "NOCREATEROLE"),
        (p.createdb, "CREATEDB", "NOCREATEDB"),
        (p.replication, "REPLICATION", "NOREPLICATION"),
        (p.bypassrls, "BYPASSRLS", "NOBYPASSRLS"),
    ] {
        if has {
            found.push(attribute);
            revoke.push(undo);
        }
    }
    let mut evidence = Vec::new();
    let mut fix = Vec::new();
    if !found.is_empty() {
        evidence.push(format!("role `{role}` has {}", found.join(", ")));
        fix.push(format!(
            "ALTER ROLE {quoted} {}; (or connect the service as a role made for it, and keep \
             the superuser for administration)",
            revoke.join(" ")
        ));
    }
    if !owned.is_empty() {
        evidence.push(format!(
            "role `{role}` owns schema(s) besides its own: {}",
            owned.join(", ")
        ));
        for schema in owned {
            fix.push(format!(
                "ALTER SCHEMA {} OWNER TO <the role that administers it>;",
                crate::postgres::catalog::quote(schema)
            ));
        }
    }
    if evidence.is_empty() {
        Check::pass(
            "role",
            format!(
                "role `{role}` is not a superuser, has no CREATEROLE, CREATEDB, REPLICATION or \
                 BYPASSRLS, and owns no schema but its own"
            ),
        )
    } else {
        Check::problem("role", Status::Warn, evidence.join("; "), fix.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_power_is_named_with_its_undo() {
        let c = judge("app", Powers::default(), &[]);
        assert_eq!(c.status, Status::Pass);
        let c = judge(
            "app",
            Powers {
                createdb: true,
                bypassrls: true,
                ..Powers::default()
            },
            &["billing".to_owned()],
        );
        assert_eq!(c.status, Status::Warn);
        assert!(c.evidence.contains("CREATEDB, BYPASSRLS"), "{}", c.evidence);
        assert!(c.evidence.contains("billing"), "{}", c.evidence);
        let fix = c.fix.unwrap_or_default();
        assert!(
            fix.starts_with("ALTER ROLE \"app\" NOCREATEDB NOBYPASSRLS;"),
            "{fix}"
        );
        assert!(fix.contains("ALTER SCHEMA \"billing\" OWNER TO"), "{fix}");
    }
}
