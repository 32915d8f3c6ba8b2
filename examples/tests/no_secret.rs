//! No secret in the binary: the quickstart built with a DSN carrying a password in the
//! environment (`DATABASE_URL`, the variable its `pgready.toml` names, plus `PGPASSWORD`) does
//! not contain that password, raw or percent-encoded. The DSN is read at run time only; the
//! macros read `pgready.toml` and the migrations at compile time, never the environment's DSN.
//!
//! The build reuses the test's own target directory: only the quickstart is compiled again. It
//! is built with one profile setting of its own (`codegen-units`), so its artifact is kept apart
//! from the ordinary build and every artifact under that fingerprint was compiled with this
//! password in the environment (`cargo` does not track `DATABASE_URL`: without the separate
//! fingerprint a binary built earlier without it would be scanned instead).

use std::path::PathBuf;
use std::process::Command;

/// Distinctive, with the characters a DSN must percent-encode.
const PASSWORD: &str = "Canary:p@ss/7f3a9c";
const ENCODED: &str = "Canary%3Ap%40ss%2F7f3a9c";

fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    // <target>/<profile>/deps/<this test>
    let exe = std::env::current_exe().expect("current exe");
    exe.ancestors()
        .nth(3)
        .expect("the test runs from <target>/<profile>/deps")
        .to_path_buf()
}

#[test]
fn the_quickstart_binary_holds_no_password_from_the_build_environment() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let dsn = format!("postgres://app:{ENCODED}@db.internal:5432/app?sslmode=require");
    let mut build = Command::new(cargo);
    // what cargo set for this test (`CARGO_MANIFEST_DIR`, `CARGO_PKG_*`, …) is not the
    // environment of a build: some build scripts track it, and would run again (and their
    // crates rebuild) for this build and again for the next ordinary one
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        let set_for_the_test = [
            "CARGO_PKG_",
            "CARGO_MANIFEST_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
        ]
        .iter()
        .any(|prefix| key.starts_with(prefix))
            || ["CARGO_TARGET_TMPDIR", "CARGO_PRIMARY_PACKAGE", "OUT_DIR"].contains(&&*key);
        if set_for_the_test {
            build.env_remove(&*key);
        }
    }
    let output = build
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "build",
            "-p",
            "pgready-examples",
            "--bin",
            "quickstart",
            "--message-format=json",
            "--config",
            "profile.dev.package.pgready-examples.codegen-units=7",
        ])
        .env("CARGO_TARGET_DIR", target_dir())
        .env("DATABASE_URL", &dsn)
        .env("DATABASE_READ_URL", &dsn)
        .env("PGPASSWORD", PASSWORD)
        .output()
        .expect("run cargo build");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "cargo build failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // the executable cargo reports for the quickstart (JSON: `"executable":"…"`)
    let executable = stdout
        .lines()
        .filter(|line| line.contains("\"reason\":\"compiler-artifact\""))
        .filter_map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).ok()?;
            value["executable"].as_str().map(PathBuf::from)
        })
        .find(|path| path.file_name().is_some_and(|n| n == "quickstart"))
        .unwrap_or_else(|| panic!("no quickstart executable in cargo's output:\n{stdout}"));
    let bytes = std::fs::read(&executable).expect("read the quickstart binary");

    let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    // the scan sees the binary's strings at all
    assert!(
        contains(b"quickstart listening on"),
        "{} does not look like the quickstart",
        executable.display()
    );
    for secret in [PASSWORD, ENCODED, "7f3a9c"] {
        assert!(
            !contains(secret.as_bytes()),
            "{} contains `{secret}` from the build environment's DSN",
            executable.display()
        );
    }
}
