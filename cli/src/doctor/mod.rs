//! `pgready doctor`: the production checklist against the live database (`[database]
//! url_env`), each check with its status, the evidence and the fix.
//!
//! Thresholds are pghero's (github.com/ankane/pghero, `lib/pghero/methods`) where it has one:
//! long-running sessions after 60 s (`long_running_query_sec`), transaction-ID wraparound
//! within 10,000,000 transactions (`transaction_id_danger`), sequences past 90% of their range
//! (`sequence_danger`), unused indexes with at most 50 scans and not unique (`unused_indexes`,
//! here only from 1 MB so a new, empty index is not flagged), duplicate indexes as pghero finds
//! them (an index whose columns start another index's, same method, neither partial nor on
//! expressions), a cache hit rate below 99% (`cache_hit_rate_threshold`). The issue's own
//! thresholds cover the rest: replica lag over `[health] max_replica_lag` (60 s by default, the
//! service's own limit), a last backup older than 24 h, a last passed restore test older than
//! 30 days. `role` (the service's role has no power it does not
//! need) and `wal_archiving` (against `[backup] rpo`) warn rather than fail unless an RPO is
//! stated and missed.

mod archiving;
mod checks;
mod role;

use std::path::Path;

use pgready::sqlx::Connection as _;
use serde::Serialize;

use crate::args::{DoctorArgs, Format};
use crate::failure::Failure;
use crate::output;
use crate::postgres::{Server, server};
use crate::project::Project;

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
    /// not run: what it needs is missing (say why in the evidence)
    Skip,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Skip => "skip",
        }
    }
}

/// One item of the checklist.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub evidence: String,
    /// What to run or set; `None` when it passes.
    pub fix: Option<String>,
}

impl Check {
    fn pass(name: &'static str, evidence: impl Into<String>) -> Check {
        Check {
            name,
            status: Status::Pass,
            evidence: evidence.into(),
            fix: None,
        }
    }

    fn problem(
        name: &'static str,
        status: Status,
        evidence: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            name,
            status,
            evidence: evidence.into(),
            fix: Some(fix.into()),
        }
    }
}

#[derive(Serialize)]
struct Report<'a> {
    database: &'a str,
    server_version: &'a str,
    checks: &'a [Check],
    passed: usize,
    warnings: usize,
    failures: usize,
}

pub fn run(config: Option<&Path>, args: &DoctorArgs) -> Result<(), Failure> {
    let memory_kb = args
        .memory
        .as_deref()
        .map(crate::tune::parse_memory)
        .transpose()
        .map_err(Failure::Usage)?;
    let project = Project::load(config, None)?;
    let server = Server::of(&project)?;
    let database = server.database();
    let (version, checks) = crate::backup::block_on(async {
        let mut conn = server.connect(&database).await?;
        let version = server::version(&mut conn).await;
        let result = match version {
            Ok(version) => {
                let mut ctx = checks::Ctx {
                    project: &project,
                    server: &server,
                    conn: &mut conn,
                    version: &version,
                    long_running: args.long_running,
                    instances: args.instances,
                    memory_kb,
                };
                checks::all(&mut ctx)
                    .await
                    .map(|c| (version.text.clone(), c))
            }
            Err(e) => Err(e),
        };
        let _ = conn.close().await;
        result
    })?;
    let count = |s: Status| checks.iter().filter(|c| c.status == s).count();
    let (passed, warnings, failures) = (
        count(Status::Pass),
        count(Status::Warn),
        count(Status::Fail),
    );
    match args.output.format {
        Format::Json => output::json(&Report {
            database: &database,
            server_version: &version,
            checks: &checks,
            passed,
            warnings,
            failures,
        })?,
        Format::Text => {
            for c in &checks {
                println!("{:<5} {:<22} {}", c.status.as_str(), c.name, c.evidence);
                if let Some(fix) = &c.fix {
                    println!("      {:<22} fix: {fix}", "");
                }
            }
            println!(
                "{passed} passed, {warnings} warning(s), {failures} failed ({database}, PostgreSQL {version})"
            );
        }
    }
    if failures > 0 {
        Err(Failure::Error(format!(
            "{failures} check(s) failed: {}",
            checks
                .iter()
                .filter(|c| c.status == Status::Fail)
                .map(|c| c.name)
                .collect::<Vec<_>>()
                .join(", ")
        )))
    } else {
        Ok(())
    }
}
