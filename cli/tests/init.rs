//! `pgready init` on a copy of a real-looking sqlx crate: what it writes, that it is idempotent,
//! and, end to end through cargo, that history is quiet after adopting while a new unsafe
//! migration still warns.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::Output;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The long fixture history: years of migrations, many of which break today's lints.
fn history() -> PathBuf {
    workspace().join("tests/fixtures/sqlx-histories/long-history")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// A sqlx service crate depending on pgready by path, with `migrations/` copied from `history`.
fn service_crate(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pgready-init-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    copy_dir(&history(), &dir.join("migrations"));
    let runtime = workspace().join("runtime");
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"adopter\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
             [dependencies]\npgready = {{ path = {:?} }}\n\n[workspace]\n",
            runtime.display().to_string()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("src/main.rs"),
        "#[pgready::migrated_pool(config = \"pgready.toml\")]\n\
         async fn main(db: pgready::Db) -> Result<(), Box<dyn std::error::Error>> {\n    \
         db.close().await;\n    Ok(())\n}\n",
    )
    .unwrap();
    // The workspace's lockfile: the same dependency versions, so cargo reuses what it built.
    std::fs::copy(workspace().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    dir
}

fn pgready(dir: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_pgready"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run pgready");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `cargo check` of the crate: whether it passed, and its diagnostics (stderr).
fn cargo_check(dir: &Path) -> (bool, String) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args(["check", "--quiet", "--message-format", "short"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", workspace().join("target/adopter-check"))
        .env_remove("RUSTFLAGS")
        .output()
        .expect("run cargo check");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// cargo check that must pass; its diagnostics.
fn cargo_check_ok(dir: &Path) -> String {
    let (ok, stderr) = cargo_check(dir);
    assert!(ok, "cargo check failed:\n{stderr}");
    stderr
}

/// pgready's diagnostics (warnings or errors) about migrations in cargo's output.
fn migration_diagnostics(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains("migration migrations/"))
        .collect()
}

#[test]
fn init_writes_config_ledger_and_build_rs_once() {
    let dir = service_crate("files");
    let first = pgready(&dir, &["init"]);
    assert_eq!(first.code, 0, "{first:?}");
    let files = std::fs::read_dir(dir.join("migrations")).unwrap().count();
    let ledger = std::fs::read_to_string(dir.join("migrations.lock")).unwrap();
    let recorded = ledger.lines().filter(|l| !l.starts_with('#')).count();
    assert!(
        recorded >= 40,
        "the whole history is released: {recorded} of {files} files"
    );
    assert!(
        first.stdout.contains("#[pgready::migrated_pool"),
        "{}",
        first.stdout
    );
    assert!(
        first.stdout.contains(&format!("{recorded} recorded"))
            || first.stdout.contains(&format!("all {recorded}")),
        "{}",
        first.stdout
    );
    let build = std::fs::read_to_string(dir.join("build.rs")).unwrap();
    assert!(
        build.contains("cargo:rerun-if-changed=migrations"),
        "{build}"
    );
    let config = std::fs::read_to_string(dir.join("pgready.toml")).unwrap();

    // Idempotent: a second run changes nothing and says so.
    std::fs::write(
        dir.join("pgready.toml"),
        format!("{config}# edited by hand\n"),
    )
    .unwrap();
    let second = pgready(&dir, &["init"]);
    assert_eq!(second.code, 0, "{second:?}");
    assert!(
        second.stdout.contains("pgready.toml: exists, left as is"),
        "{}",
        second.stdout
    );
    assert!(
        second
            .stdout
            .contains("migrations.lock: exists, left as is"),
        "{}",
        second.stdout
    );
    assert!(
        second.stdout.contains("build.rs: already re-runs"),
        "{}",
        second.stdout
    );
    assert!(
        std::fs::read_to_string(dir.join("pgready.toml"))
            .unwrap()
            .ends_with("# edited by hand\n"),
        "never overwritten without --force"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("migrations.lock")).unwrap(),
        ledger
    );
    let forced = pgready(&dir, &["init", "--force"]);
    assert_eq!(forced.code, 0, "{forced:?}");
    assert_eq!(
        std::fs::read_to_string(dir.join("pgready.toml")).unwrap(),
        config
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn init_takes_sqlx_toml_settings() {
    let dir = service_crate("sqlx-toml");
    std::fs::rename(dir.join("migrations"), dir.join("db")).unwrap();
    std::fs::write(
        dir.join("sqlx.toml"),
        "[migrate]\nmigrations-dir = \"db\"\ntable-name = \"app_migrations\"\n",
    )
    .unwrap();
    let out = pgready(&dir, &["init"]);
    assert_eq!(out.code, 0, "{out:?}");
    let config = std::fs::read_to_string(dir.join("pgready.toml")).unwrap();
    assert!(config.contains("dir = \"db\""), "{config}");
    assert!(config.contains("table = \"app_migrations\""), "{config}");
    let build = std::fs::read_to_string(dir.join("build.rs")).unwrap();
    assert!(build.contains("cargo:rerun-if-changed=db"), "{build}");
    // The CLI agrees with the files init wrote: nothing to report.
    let lint = pgready(&dir, &["migrate", "lint"]);
    assert_eq!(lint.code, 0, "{lint:?}");
    assert_eq!(lint.stdout, "", "history is not linted");
    std::fs::remove_dir_all(&dir).ok();
}

/// End to end through cargo: before `init` the history floods the build with warnings; after
/// it, none; a new unsafe migration warns at its file and line.
#[test]
fn after_init_the_build_is_quiet_about_history_and_loud_about_new_files() {
    let dir = service_crate("cargo");
    std::fs::write(dir.join("pgready.toml"), "").unwrap();
    // Deny-level findings may fail this build: only what it says matters.
    let (_, before) = cargo_check(&dir);
    assert!(
        migration_diagnostics(&before).len() >= 10,
        "the fixture's history breaks today's lints: {before}"
    );

    let init = pgready(&dir, &["init", "--force"]);
    assert_eq!(init.code, 0, "{init:?}");
    let after = cargo_check_ok(&dir);
    assert_eq!(
        migration_diagnostics(&after),
        Vec::<&str>::new(),
        "no pgready warning for released migrations"
    );

    std::fs::write(
        dir.join("migrations/29990101000000_index_invoices_currency.sql"),
        "CREATE INDEX IF NOT EXISTS invoices_currency ON invoices (currency);\n",
    )
    .unwrap();
    let added = cargo_check_ok(&dir);
    let warnings = migration_diagnostics(&added);
    assert_eq!(warnings.len(), 1, "{added}");
    assert!(
        warnings[0].contains("29990101000000_index_invoices_currency.sql:1")
            && warnings[0].contains("require-concurrent-index-creation"),
        "{added}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn init_outside_a_crate_or_without_migrations_says_what_to_do() {
    let dir = std::env::temp_dir().join(format!("pgready-init-empty-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let no_crate = pgready(&dir, &["init"]);
    assert_eq!(no_crate.code, 1, "{no_crate:?}");
    assert!(
        no_crate.stderr.contains("no `Cargo.toml`") && no_crate.stderr.contains("crate's folder"),
        "{}",
        no_crate.stderr
    );

    std::fs::write(dir.join("Cargo.toml"), "[package]\nname = \"x\"\n").unwrap();
    let no_migrations = pgready(&dir, &["init"]);
    assert_eq!(no_migrations.code, 1, "{no_migrations:?}");
    assert!(
        no_migrations.stderr.contains("no migrations folder found"),
        "{}",
        no_migrations.stderr
    );
    assert!(
        !dir.join("pgready.toml").exists(),
        "nothing is written when nothing was found"
    );
    std::fs::remove_dir_all(&dir).ok();
}
