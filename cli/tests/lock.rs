//! `pgready migrate lock`: the release ledger.

mod support;

use support::Project;

fn ledger_lines(project: &Project, name: &str) -> Vec<String> {
    std::fs::read_to_string(project.dir.join(name))
        .expect("the ledger exists")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn lock_records_new_migrations_and_refuses_edited_released_ones() {
    let project = Project::new("lock", "");
    project.write("1_create_items.sql", "CREATE TABLE items (id int);\n");
    project.write("2_create_tags.up.sql", "CREATE TABLE tags (id int);\n");
    project.write("2_create_tags.down.sql", "DROP TABLE tags;\n");

    let first = project.pgready(&["migrate", "lock"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(
        first.stdout,
        "recorded 1_create_items.sql\nrecorded 2_create_tags.up.sql\n\
         recorded 2_create_tags.down.sql\nwrote migrations.lock (3 file(s))\n"
    );
    let lines = ledger_lines(&project, "migrations.lock");
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines[0].starts_with("1_create_items.sql sha384:"),
        "{lines:?}"
    );

    let unchanged = project.pgready(&["migrate", "lock"]);
    assert_eq!(
        (unchanged.code, unchanged.stdout.as_str()),
        (0, "migrations.lock is up to date (3 file(s))\n")
    );

    project.write("3_seed.sql", "INSERT INTO items VALUES (1);\n");
    let second = project.pgready(&["migrate", "lock"]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(
        second.stdout, "recorded 3_seed.sql\nwrote migrations.lock (4 file(s))\n",
        "only the new one is added"
    );
    let recorded = ledger_lines(&project, "migrations.lock");
    assert_eq!(
        &recorded[..3],
        &lines[..],
        "released entries are kept as they were"
    );

    // an edited released migration: refused, nothing written, until accepted
    project.write("1_create_items.sql", "CREATE TABLE items (id bigint);\n");
    project.write("4_more.sql", "SELECT 1;\n");
    let before = std::fs::read_to_string(project.dir.join("migrations.lock")).expect("ledger");
    let refused = project.pgready(&["migrate", "lock"]);
    assert_eq!(refused.code, 1);
    assert!(
        refused
            .stderr
            .contains("1_create_items.sql: released migration was edited"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("--accept 1"), "{}", refused.stderr);
    let after = std::fs::read_to_string(project.dir.join("migrations.lock")).expect("ledger");
    assert_eq!(before, after, "a refused lock writes nothing");

    let accepted = project.pgready(&["migrate", "lock", "--accept", "1"]);
    assert_eq!(accepted.code, 0, "{}", accepted.stderr);
    assert_eq!(
        accepted.stdout,
        "accepted 1_create_items.sql\nrecorded 4_more.sql\nwrote migrations.lock (5 file(s))\n"
    );
    assert_ne!(ledger_lines(&project, "migrations.lock")[0], lines[0]);
    assert_eq!(project.pgready(&["migrate", "lock"]).code, 0);

    // a deleted released migration is refused too
    std::fs::remove_file(project.migration("3_seed.sql")).expect("delete");
    let deleted = project.pgready(&["migrate", "lock"]);
    assert_eq!(deleted.code, 1);
    assert!(deleted.stderr.contains("was deleted"), "{}", deleted.stderr);

    let unknown = project.pgready(&["migrate", "lock", "--accept", "9"]);
    assert_eq!(unknown.code, 1);
    assert!(
        unknown.stderr.contains("no migration file has version 9"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn lock_uses_the_configured_ledger_and_refuses_when_it_is_off() {
    let project = Project::new(
        "lock-path",
        "[migrations]\nledger = \"release/ledger.txt\"\n",
    );
    std::fs::create_dir_all(project.dir.join("release")).expect("mkdir");
    project.write("1_create_items.sql", "CREATE TABLE items (id int);\n");
    let out = project.pgready(&["migrate", "lock"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(ledger_lines(&project, "release/ledger.txt").len(), 1);
    assert!(!project.dir.join("migrations.lock").exists());

    let off = Project::new("lock-off", "[migrations]\nledger = false\n");
    off.write("1_create_items.sql", "CREATE TABLE items (id int);\n");
    let out = off.pgready(&["migrate", "lock"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("ledger = false"), "{}", out.stderr);
    assert!(!off.dir.join("migrations.lock").exists());
}
