//! How every subcommand finds `pgready.toml`, the profile and the paths in it.

mod support;

use support::Project;

#[test]
fn a_missing_default_config_means_every_default() {
    let project = Project::new("no-config", "");
    std::fs::remove_file(project.dir.join("pgready.toml")).expect("remove pgready.toml");
    let out = project.pgready(&["migrate", "add", "first"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        project.migration_files().len(),
        1,
        "in the default `migrations`"
    );
    // the default `url_env` is `DATABASE_URL`
    let status = project.pgready(&["migrate", "status"]);
    assert_eq!(status.code, 1);
    assert!(
        status.stderr.contains("`DATABASE_URL` is not set"),
        "{}",
        status.stderr
    );
}

#[test]
fn a_missing_explicit_config_is_an_error() {
    let project = Project::new("missing-config", "");
    let out = project.pgready(&["--config", "typo.toml", "migrate", "add", "first"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.starts_with("error: cannot read `typo.toml`"),
        "{}",
        out.stderr
    );
    assert!(project.migration_files().is_empty());
}

#[test]
fn an_invalid_config_is_reported_with_its_key_and_line() {
    let project = Project::new("bad-config", "[pool]\nmax_connections = 0\n");
    let out = project.pgready(&["migrate", "add", "first"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("error: pgready.toml:4:1: `pool.max_connections`"),
        "{}",
        out.stderr
    );
    assert!(project.migration_files().is_empty());
}

#[test]
fn the_profile_comes_from_pgready_profile() {
    let project = Project::new(
        "profile",
        "[profiles.ci.database]\nurl_env = \"PGREADY_CI_URL\"\n",
    );
    // The profile's DSN variable is the one asked for.
    let out = project.pgready_with_env(&["migrate", "status"], &[("PGREADY_PROFILE", "ci")]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("`PGREADY_CI_URL` is not set"),
        "{}",
        out.stderr
    );

    let unknown =
        project.pgready_with_env(&["migrate", "add", "first"], &[("PGREADY_PROFILE", "cj")]);
    assert_eq!(unknown.code, 1);
    assert!(
        unknown.stderr.contains("unknown profile `cj`"),
        "{}",
        unknown.stderr
    );
    assert!(project.migration_files().is_empty());
}

#[test]
fn a_profile_may_not_move_the_migrations() {
    let project = Project::new(
        "profile-dir",
        "[profiles.ci.migrations]\ndir = \"ci_migrations\"\n",
    );
    let out = project.pgready(&["migrate", "add", "first"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("`profiles.ci.migrations.dir`")
            && out.stderr.contains("cannot differ between profiles"),
        "{}",
        out.stderr
    );
}
