//! Running `pg_dump` or `pg_restore`: the server's environment, `--verbose` lines turned into
//! progress, and on failure the tool's own words, scrubbed of the DSN.

use std::path::Path;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::Command;

use super::Server;
use crate::failure::Failure;
use crate::progress::Progress;

/// How many of the tool's last stderr lines a failure shows when none names an error.
const TAIL: usize = 15;

/// Runs `program args…` against `server` and waits for it; each stderr line containing
/// `step_marker` (a `--verbose` line such as `dumping contents of table`) advances `progress`.
/// The error quotes the tool's error lines, without the password.
pub async fn run(
    server: &Server,
    program: &Path,
    args: &[String],
    step_marker: &str,
    progress: &Progress,
) -> Result<(), Failure> {
    let name = program.file_name().map_or_else(
        || program.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let (set, remove) = server.libpq_env();
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for var in remove {
        cmd.env_remove(var);
    }
    cmd.envs(set);
    let mut child = cmd
        .spawn()
        .map_err(|e| Failure::Error(format!("cannot run `{}`: {e}", program.display())))?;
    let mut lines_seen: Vec<String> = Vec::new();
    if let Some(stderr) = child.stderr.take() {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains(step_marker) {
                progress.inc(1);
            } else {
                lines_seen.push(line);
            }
        }
    }
    let status = child
        .wait()
        .await
        .map_err(|e| Failure::Error(format!("`{name}` did not finish: {e}")))?;
    if status.success() {
        return Ok(());
    }
    let errors: Vec<&String> = lines_seen
        .iter()
        .filter(|l| {
            l.contains("error:")
                || l.contains("detail:")
                || l.contains("hint:")
                || l.contains("ERROR")
        })
        .collect();
    let shown: Vec<&String> = if errors.is_empty() {
        lines_seen.iter().rev().take(TAIL).rev().collect()
    } else {
        errors
    };
    let said = shown
        .iter()
        .map(|l| format!("  {}", server.scrub(l)))
        .collect::<Vec<_>>()
        .join("\n");
    Err(Failure::Error(format!(
        "`{name}` failed ({status}); it said:\n{said}"
    )))
}
