//! `pgready backup list`: the backups in `[backup] dir`, newest first.

use serde::Serialize;

use super::manifest::{Manifest, Verification};
use super::store::{Damaged, Store};
use crate::args::Format;
use crate::failure::Failure;
use crate::output;
use crate::project::Project;

#[derive(Serialize)]
struct Listed<'a> {
    name: &'a str,
    dump_path: String,
    dump_present: bool,
    manifest: &'a Manifest,
    last_verification: Option<&'a Verification>,
}

#[derive(Serialize)]
struct Listing<'a> {
    dir: String,
    backups: Vec<Listed<'a>>,
    damaged: &'a [Damaged],
}

/// Exits 1 when a manifest is unreadable, a dump is missing, or a dump has no manifest.
pub fn run(project: &Project, format: Format) -> Result<(), Failure> {
    let dir = super::dir(project);
    let store = Store::read(&dir)?;
    let listed: Vec<Listed<'_>> = store
        .entries
        .iter()
        .map(|e| Listed {
            name: &e.name,
            dump_path: e.dump_path.display().to_string(),
            dump_present: e.dump_path.is_file(),
            manifest: &e.manifest,
            last_verification: e.last_verification(),
        })
        .collect();
    let missing = listed.iter().filter(|l| !l.dump_present).count();
    match format {
        Format::Json => output::json(&Listing {
            dir: dir.display().to_string(),
            backups: listed,
            damaged: &store.damaged,
        })?,
        Format::Text => {
            if store.entries.is_empty() {
                println!("no backups in {}", dir.display());
            } else {
                println!(
                    "{}",
                    row([
                        "BACKUP",
                        "COMPLETED",
                        "SIZE",
                        "TABLES",
                        "MIGRATION",
                        "VERIFIED"
                    ])
                );
            }
            for l in &listed {
                let m = l.manifest;
                let verified = match l.last_verification {
                    _ if !l.dump_present => "DUMP MISSING".to_owned(),
                    None => "never".to_owned(),
                    Some(v) if v.ok => format!("ok {}", v.verified_at),
                    Some(v) => format!("FAILED {}", v.verified_at),
                };
                println!(
                    "{}",
                    row([
                        l.name,
                        &m.completed_at,
                        &output::bytes(m.size),
                        &m.tables.len().to_string(),
                        &m.migration_version
                            .map_or_else(|| "-".to_owned(), |v| v.to_string()),
                        &verified,
                    ])
                );
            }
            for d in &store.damaged {
                println!("damaged: {}: {}", d.file, d.problem);
            }
        }
    }
    if missing + store.damaged.len() > 0 {
        return Err(Failure::Error(format!(
            "{} backup(s) in `{}` cannot be restored (missing dump, unreadable manifest or dump \
             without manifest)",
            missing + store.damaged.len(),
            dir.display()
        )));
    }
    Ok(())
}

fn row(cells: [&str; 6]) -> String {
    format!(
        "{:<34} {:<25} {:>11} {:>6} {:>15}  {}",
        cells[0], cells[1], cells[2], cells[3], cells[4], cells[5]
    )
}
