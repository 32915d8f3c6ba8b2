//! `pgready tune`: PGTune's recommended settings with a reason each, as `postgresql.conf`
//! lines or `ALTER SYSTEM` statements; with `--live`, only the settings the database has
//! differently (numbers within `--tolerance` count as equal), and which of them need a restart.

mod advice;
mod live;

use std::path::Path;

use serde::Serialize;

pub use advice::{Machine, Os, Setting, Storage, Workload, advise, parse_memory};
pub use live::{compare, read as read_settings};

use crate::args::{Format, TuneArgs};
use crate::failure::Failure;
use crate::output;
use crate::postgres::Server;
use crate::project::Project;

/// The PGTune revision the formulas follow.
pub const PGTUNE: &str = "PGTune (le0pard/pgtune) at commit 01bb644";

/// The newest PostgreSQL major version PGTune knows, its default.
const DEFAULT_VERSION: u32 = 18;

#[derive(Serialize)]
struct Report<'a> {
    formulas: &'static str,
    machine: &'a Machine,
    warning: Option<&'static str>,
    settings: &'a [Setting],
    #[serde(skip_serializing_if = "Option::is_none")]
    live: Option<&'a [live::Difference]>,
    alter_system: Vec<String>,
}

pub fn run(config: Option<&Path>, args: &TuneArgs) -> Result<(), Failure> {
    let memory_kb = advice::parse_memory(&args.memory).map_err(Failure::Usage)?;
    if !(args.tolerance >= 0.0 && args.tolerance < 1.0) {
        return Err(Failure::Usage(format!(
            "`--tolerance` is a fraction from 0 up to 1 (0.1 = 10%), found `{}`",
            args.tolerance
        )));
    }
    let format = args.output.format;
    let mut machine = Machine {
        memory_kb,
        cpus: args.cpus,
        connections: args.connections,
        storage: args.storage,
        workload: args.workload,
        os: args.os,
        version: args.pg_version.unwrap_or(DEFAULT_VERSION),
    };
    let live = if args.live {
        let project = Project::load(config, None)?;
        let server = Server::of(&project)?;
        let (version, current) = crate::backup::block_on(live::read(&server))?;
        machine.version = args.pg_version.unwrap_or(version);
        let settings = advise(&machine);
        Some(live::compare(&settings, &current, args.tolerance))
    } else {
        None
    };
    let settings = advise(&machine);
    let shown: Vec<(&Setting, Option<&live::Difference>)> = match &live {
        Some(diffs) => diffs
            .iter()
            .filter_map(|d| {
                settings
                    .iter()
                    .find(|s| s.name == d.name)
                    .map(|s| (s, Some(d)))
            })
            .collect(),
        None => settings.iter().map(|s| (s, None)).collect(),
    };
    let alter: Vec<String> = shown.iter().map(|(s, _)| alter_system(s)).collect();
    let warning = advice::warning(memory_kb);
    match format {
        Format::Json => output::json(&Report {
            formulas: PGTUNE,
            machine: &machine,
            warning,
            settings: &settings,
            live: live.as_deref(),
            alter_system: alter,
        })?,
        Format::Text => {
            let comment = if args.alter_system { "--" } else { "#" };
            println!(
                "{comment} {PGTUNE}: PostgreSQL {}, {}, {} workload, {} RAM, {} CPU(s), {} storage",
                machine.version,
                machine.os,
                machine.workload,
                advice::Value::Memory(memory_kb),
                machine
                    .cpus
                    .map_or_else(|| "unknown".to_owned(), |c| c.to_string()),
                machine.storage,
            );
            if let Some(w) = warning {
                println!("{comment} warning: {w}");
            }
            if live.as_ref().is_some_and(Vec::is_empty) {
                println!(
                    "{comment} the database's settings match the advice (within {}%)",
                    args.tolerance * 100.0
                );
            }
            for (s, diff) in &shown {
                let line = if args.alter_system {
                    alter_system(s)
                } else {
                    format!("{} = {}", s.name, s.value)
                };
                let mut why = s.reason.clone();
                if let Some(d) = diff {
                    why = format!(
                        "now {}{}; {why}",
                        d.current,
                        if d.restart { ", needs a restart" } else { "" }
                    );
                }
                println!("{line:<48} {comment} {why}");
            }
        }
    }
    match live {
        Some(diffs) if !diffs.is_empty() => Err(Failure::Error(format!(
            "{} setting(s) differ from the advice{}",
            diffs.len(),
            if diffs.iter().any(|d| d.restart) {
                "; those marked need a restart after `ALTER SYSTEM`"
            } else {
                "; `SELECT pg_reload_conf()` applies them after `ALTER SYSTEM`"
            }
        ))),
        _ => Ok(()),
    }
}

/// `ALTER SYSTEM SET name = 'value';`
fn alter_system(s: &Setting) -> String {
    format!("ALTER SYSTEM SET {} = '{}';", s.name, s.value)
}
