//! The `main` that `#[migrated_pool]` generates, run as a real process.

use std::process::{Command, Output};

use pgready_tests::fresh_database;

fn run(envs: &[(&str, Option<&str>)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_e2e_service"));
    cmd.env_remove("DATABASE_URL")
        .env_remove("DATABASE_READ_URL")
        .env_remove("PGREADY_PROFILE");
    for (key, value) in envs {
        match value {
            Some(value) => cmd.env(key, value),
            None => cmd.env_remove(key),
        };
    }
    cmd.output().expect("run e2e_service")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn generated_main_connects_migrates_and_runs_the_body() {
    let url = fresh_database("e2e").await;
    let output = run(&[("DATABASE_URL", Some(&url))]);
    assert!(
        output.status.success(),
        "{}\n{}",
        stdout(&output),
        stderr(&output)
    );
    assert!(
        stdout(&output)
            .contains("E2E statement_timeout=7s application_name=pgready-tests schema=e2e items=0"),
        "{}",
        stdout(&output)
    );

    let output = run(&[
        ("DATABASE_URL", Some(&url)),
        ("PGREADY_PROFILE", Some("production")),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("statement_timeout=9s"),
        "profile override: {}",
        stdout(&output)
    );
}

#[test]
fn without_a_dsn_it_runs_on_an_embedded_cluster_and_stops_it() {
    let output = run(&[]);
    let out = stdout(&output);
    assert!(output.status.success(), "{out}\n{}", stderr(&output));
    assert!(out.contains("schema=e2e items=0"), "{out}");
    assert!(
        out.contains("started an embedded PostgreSQL"),
        "it says so: {out}"
    );
    // The log names the data dir; it is gone once the process has exited.
    let data_dir = out
        .split("data_dir=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("data_dir in the log");
    assert!(
        !std::path::Path::new(data_dir).exists(),
        "{data_dir} removed on exit"
    );
}

#[test]
fn a_start_up_failure_is_one_clear_line_and_exit_code_1() {
    let output = run(&[(
        "DATABASE_URL",
        Some("postgres://app:hunter2-pw@127.0.0.1:1/app"),
    )]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].starts_with("error: pgready could not start: cannot connect to"),
        "{err}"
    );
    assert!(
        lines[0].contains("postgres://app:***@127.0.0.1:1/app"),
        "{err}"
    );
    assert!(!err.contains("hunter2") && !stdout(&output).contains("hunter2"));
}

#[tokio::test]
async fn an_error_from_the_body_is_returned_from_main() {
    let url = fresh_database("e2e_fail").await;
    let output = run(&[("DATABASE_URL", Some(&url)), ("E2E_FAIL", Some("1"))]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains("items=0"), "the body ran");
    assert!(
        stderr(&output).contains("RowNotFound"),
        "main returned the body's error: {}",
        stderr(&output)
    );
}

/// A `main` that does not wait for `db.shutdown_signal()` still drains, then is dropped, and
/// its exit status is the signal's: it did not finish on its own.
#[tokio::test]
async fn a_main_that_ignores_the_shutdown_signal_exits_with_the_signal_after_the_drain() {
    use std::io::{BufRead, BufReader};

    let url = fresh_database("e2e_wait").await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_e2e_service"))
        .env("DATABASE_URL", &url)
        .env("PGREADY_PROFILE", "quick_stop")
        .env("E2E_WAIT", "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run e2e_service");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while !lines
        .next()
        .expect("e2e_service exited early")
        .unwrap()
        .contains("E2E waiting")
    {}
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let signalled = std::time::Instant::now();
    let log: String = lines.map_while(Result::ok).map(|l| l + "\n").collect();
    let status = child.wait().unwrap();
    let took = signalled.elapsed();
    assert_eq!(status.code(), Some(143), "128 + SIGTERM; log:\n{log}");
    assert!(
        log.contains("does not wait for `db.shutdown_signal()`"),
        "{log}"
    );
    assert!(
        took >= std::time::Duration::from_millis(200) && took < std::time::Duration::from_secs(10),
        "stopped {took:?} after SIGTERM, drain 200ms; log:\n{log}"
    );
}
