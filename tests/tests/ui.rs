//! trybuild UI tests: one mistake per file in `ui/<macro>/fail`, accepted forms in `pass`.

use std::path::PathBuf;

/// One trybuild run at a time: `migrated_pool` sets `DATABASE_URL` for its cases, which is safe
/// only while no other test of this binary runs.
static UI: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn migrated_pool() {
    let _one_at_a_time = UI.lock().await;
    link_ui_dir();
    // trybuild runs the `pass` cases: point them at a fresh database on the shared cluster.
    let url = pgready_tests::fresh_database("ui").await;
    // SAFETY: this test binary runs no other test, and nothing else reads the environment now.
    unsafe { std::env::set_var("DATABASE_URL", url) };
    let t = trybuild::TestCases::new();
    t.pass("ui/migrated_pool/pass/*.rs");
    t.compile_fail("ui/migrated_pool/fail/*.rs");
}

#[test]
fn health_endpoint() {
    let _one_at_a_time = UI.blocking_lock();
    link_ui_dir();
    let t = trybuild::TestCases::new();
    t.pass("ui/health_endpoint/pass/*.rs");
    t.compile_fail("ui/health_endpoint/fail/*.rs");
}

#[test]
fn test_attribute() {
    let _one_at_a_time = UI.blocking_lock();
    link_ui_dir();
    let t = trybuild::TestCases::new();
    t.compile_fail("ui/test/fail/*.rs");
}

/// Checked queries and rows: `pgready::query!` and `#[derive(pgready::Row)]` read
/// `pgready.toml` next to the compiling crate's `Cargo.toml`, which `link_ui_dir` points at
/// `ui/query/migrations`.
#[test]
fn checked_queries() {
    let _one_at_a_time = UI.blocking_lock();
    link_ui_dir();
    let t = trybuild::TestCases::new();
    t.pass("ui/query/pass/*.rs");
    t.compile_fail("ui/query/fail/*.rs");
}

/// trybuild compiles each case in its own crate under `target/tests/trybuild/pgready-tests`,
/// and pgready resolves `config = "…"` against the compiling crate's directory: link `ui/` there
/// so the cases can name their config files as `ui/…`.
fn link_ui_dir() {
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let project = target
        .parent()
        .expect("target dir")
        .join("tests/trybuild/pgready-tests");
    std::fs::create_dir_all(&project).expect("create trybuild project dir");
    let link = project.join("ui");
    let ui = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("ui");
    if std::fs::read_link(&link).ok().as_deref() != Some(ui.as_path()) {
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&ui, &link).expect("link ui/ into the trybuild project");
    }
    // the schema the checked-query cases compile against
    let config = "[migrations]\ndir = \"ui/query/migrations\"\n";
    if std::fs::read_to_string(project.join("pgready.toml"))
        .ok()
        .as_deref()
        != Some(config)
    {
        std::fs::write(project.join("pgready.toml"), config)
            .expect("write the cases' pgready.toml");
    }
}
