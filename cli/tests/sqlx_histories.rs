//! `pgready migrate status --check` on databases that sqlx migrated: every irregular history
//! under `tests/fixtures/sqlx-histories/` reads as fully applied, so a project adopts pgready
//! without re-baselining.

mod support;

use pgready::sqlx::{Connection as _, PgConnection};
use pgready_tests::sqlx_histories::History;
use support::Project;

async fn status_check_passes_after_sqlx(name: &'static str) {
    let history = History::load(name);
    // sqlx.toml's ignored characters go into pgready.toml, as `pgready init` writes them.
    let config = format!(
        "[migrations]\ndir = {:?}\nledger = false\nignored_chars = {}\n",
        history.dir.display().to_string(),
        pgready_core::project::chars_list(&history.sqlx_toml.ignored_chars)
    );
    let project =
        Project::with_database(&format!("sqlx_{}", name.replace('-', "_")), &config).await;
    let migrator = history.sqlx_migrator().await;
    let mut conn = PgConnection::connect(project.url()).await.expect("connect");
    migrator
        .run(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{name}: sqlx: {e}"));
    conn.close().await.ok();

    let applied: Vec<&pgready::sqlx::migrate::Migration> = migrator
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .collect();
    let out = project.pgready(&["migrate", "status", "--check"]);
    assert_eq!(out.code, 0, "{name}: {}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), applied.len(), "{name}: {}", out.stdout);
    for (line, m) in lines.iter().zip(&applied) {
        assert!(
            line.starts_with(&format!("{}  applied  ", m.version)),
            "{name}: {line}"
        );
    }
}

pgready_tests::for_each_history!(status_check_passes_after_sqlx);
