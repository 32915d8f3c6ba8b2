//! `pgready migrate lint`: DESIGN.md's two formats, the configured levels, the exit code.

mod support;

use serde_json::Value;
use support::{Project, files_in};

/// `adding-not-null-field` is `deny` by default.
const DENIED: &str = "ALTER TABLE items ADD COLUMN IF NOT EXISTS owner BIGINT NOT NULL;\n";
/// `truncate` is `warn` by default.
const WARNED: &str = "TRUNCATE items;\n";
const CLEAN: &str = "CREATE TABLE IF NOT EXISTS items (id BIGINT PRIMARY KEY);\n";

/// `file:line: level[rule]: message`, split; panics on any other shape.
fn parse_text_line(line: &str) -> (String, usize, String, String, String) {
    let (location, rest) = line
        .split_once(": ")
        .unwrap_or_else(|| panic!("no `: ` in {line:?}"));
    let (file, number) = location
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("no `file:line` in {line:?}"));
    let number: usize = number
        .parse()
        .unwrap_or_else(|_| panic!("line is not a number in {line:?}"));
    let (tag, message) = rest
        .split_once(": ")
        .unwrap_or_else(|| panic!("no message in {line:?}"));
    let (level, rule) = tag
        .strip_suffix(']')
        .and_then(|t| t.split_once('['))
        .unwrap_or_else(|| panic!("no `level[rule]` in {line:?}"));
    assert!(["warn", "deny"].contains(&level), "{line:?}");
    assert!(
        !rule.is_empty() && rule.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
        "rule is not kebab-case in {line:?}"
    );
    assert!(number >= 1 && !message.is_empty(), "{line:?}");
    (
        file.to_owned(),
        number,
        level.to_owned(),
        rule.to_owned(),
        message.to_owned(),
    )
}

#[test]
fn json_is_an_array_of_findings_with_the_five_keys() {
    let project = Project::new("lint-json", "");
    project.write("1_create_items.sql", CLEAN);
    project.write("2_owner.sql", &format!("SELECT 1;\n{DENIED}"));
    project.write("3_wipe.sql", WARNED);

    let out = project.pgready(&["migrate", "lint", "--format", "json"]);
    assert_eq!(out.code, 1, "a deny finding fails the command");
    let findings: Value = serde_json::from_str(&out.stdout).expect("stdout is JSON");
    let findings = findings.as_array().expect("a JSON array");
    assert!(findings.len() >= 2, "{findings:#?}");
    for f in findings {
        let object = f.as_object().expect("an object per finding");
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["file", "level", "line", "message", "rule"]);
        assert!(f["line"].as_u64().is_some_and(|l| l >= 1), "{f}");
        assert!(f["message"].as_str().is_some_and(|m| !m.is_empty()), "{f}");
    }
    let denied = findings
        .iter()
        .find(|f| f["rule"] == "adding-not-null-field")
        .expect("the NOT NULL column is found");
    assert_eq!(denied["level"], "deny");
    assert_eq!(denied["line"], 2);
    assert_eq!(denied["file"], "migrations/2_owner.sql");
    let warned = findings
        .iter()
        .find(|f| f["rule"] == "truncate")
        .expect("the TRUNCATE is found");
    assert_eq!(
        (&warned["level"], &warned["line"]),
        (&"warn".into(), &1.into())
    );
    assert!(
        findings
            .iter()
            .all(|f| f["file"] != "migrations/1_create_items.sql"),
        "the clean file has no findings"
    );
    assert!(out.stderr.contains("level `deny`"), "{}", out.stderr);
}

#[test]
fn text_is_one_file_line_level_rule_message_line_per_finding() {
    let project = Project::new("lint-text", "");
    project.write("2_owner.sql", &format!("SELECT 1;\n{DENIED}"));
    project.write("3_wipe.sql", WARNED);

    let text = project.pgready(&["migrate", "lint"]);
    assert_eq!(text.code, 1);
    let lines: Vec<_> = text.stdout.lines().map(parse_text_line).collect();
    assert!(lines.iter().any(
        |(file, line, level, rule, _)| file == "migrations/2_owner.sql"
            && *line == 2
            && level == "deny"
            && rule == "adding-not-null-field"
    ));
    assert!(lines.iter().any(
        |(file, line, level, rule, _)| file == "migrations/3_wipe.sql"
            && *line == 1
            && level == "warn"
            && rule == "truncate"
    ));

    // the same findings as the JSON output, in the same order
    let json = project.pgready(&["migrate", "lint", "--format", "json"]);
    let json: Value = serde_json::from_str(&json.stdout).expect("JSON");
    let from_json: Vec<String> = json
        .as_array()
        .expect("array")
        .iter()
        .map(|f| {
            format!(
                "{}:{}: {}[{}]: {}",
                f["file"].as_str().unwrap_or_default(),
                f["line"],
                f["level"].as_str().unwrap_or_default(),
                f["rule"].as_str().unwrap_or_default(),
                f["message"].as_str().unwrap_or_default()
            )
        })
        .collect();
    let from_text: Vec<&str> = text.stdout.lines().collect();
    assert_eq!(from_text, from_json);
}

#[test]
fn warnings_alone_exit_0_and_a_clean_directory_prints_nothing() {
    let project = Project::new("lint-warn", "");
    project.write("1_create_items.sql", CLEAN);
    let clean = project.pgready(&["migrate", "lint"]);
    assert_eq!((clean.code, clean.stdout.as_str()), (0, ""));
    let clean = project.pgready(&["migrate", "lint", "--format", "json"]);
    assert_eq!((clean.code, clean.stdout.as_str()), (0, "[]\n"));

    project.write("2_wipe.sql", WARNED);
    let warned = project.pgready(&["migrate", "lint"]);
    assert_eq!(warned.code, 0, "warnings do not fail the command");
    assert_eq!(warned.stdout.lines().count(), 1, "{}", warned.stdout);
}

#[test]
fn levels_come_from_the_config() {
    let project = Project::new(
        "lint-levels",
        "[migrations.lints]\nadding-not-null-field = \"warn\"\ntruncate = \"deny\"\n",
    );
    project.write("1_owner.sql", DENIED);
    let out = project.pgready(&["migrate", "lint"]);
    assert_eq!(out.code, 0, "adding-not-null-field lowered to warn");
    assert!(
        out.stdout.contains(": warn[adding-not-null-field]: "),
        "{}",
        out.stdout
    );

    project.write("2_wipe.sql", WARNED);
    let out = project.pgready(&["migrate", "lint"]);
    assert_eq!(out.code, 1, "truncate raised to deny");
    assert!(out.stdout.contains(": deny[truncate]: "), "{}", out.stdout);
}

#[test]
fn no_transaction_files_are_linted_as_running_outside_a_transaction() {
    let index = "CREATE INDEX CONCURRENTLY IF NOT EXISTS items_id ON items (id);\n";
    let project = Project::new("lint-no-tx", "");
    project.write("1_index.sql", index);
    let out = project.pgready(&["migrate", "lint"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains("deny[concurrently-in-transaction]"),
        "{}",
        out.stdout
    );

    project.write(
        "1_index.sql",
        &format!("-- pgready:no-transaction\n{index}"),
    );
    let out = project.pgready(&["migrate", "lint"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(
        !out.stdout.contains("concurrently-in-transaction"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_directory_argument_replaces_the_configured_one() {
    let project = Project::new("lint-dir", "");
    project.write("1_create_items.sql", CLEAN);
    let other = project.dir.join("other");
    std::fs::create_dir_all(&other).expect("mkdir");
    std::fs::write(other.join("5_wipe.sql"), WARNED).expect("write");
    let out = project.pgready(&["migrate", "lint", "other"]);
    assert_eq!(out.code, 0);
    assert!(
        out.stdout
            .starts_with("other/5_wipe.sql:1: warn[truncate]: "),
        "{}",
        out.stdout
    );
    assert_eq!(files_in(&other), ["5_wipe.sql"]);
}

#[test]
fn misnamed_files_are_errors() {
    let project = Project::new("lint-misnamed", "");
    project.write("1_create_items.sql", CLEAN);
    // sqlx refuses a directory with this file (its version `wipe` is not an integer)
    project.write("wipe_2.sql", WARNED);
    let out = project.pgready(&["migrate", "lint", "--format", "json"]);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stdout, "",
        "no findings are printed for a directory that does not load"
    );
    assert!(
        out.stderr.contains("wipe_2.sql: misnamed migration file"),
        "{}",
        out.stderr
    );

    let usage = project.pgready(&["migrate", "lint", "--format", "xml"]);
    assert_eq!(usage.code, 2);
}
