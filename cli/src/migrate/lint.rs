//! `pgready migrate lint [DIR] [--format text|json]`: the compile-time lints, for CI and editors.

use pgready_core::lint::{self, Finding};
use pgready_core::project::Source;

use crate::args::{Format, LintArgs};
use crate::failure::{Failure, report};
use crate::project::Project;

pub fn run(project: &Project, args: &LintArgs) -> Result<(), Failure> {
    // Problems that are not lint findings (a file sqlx cannot read, a released migration that
    // was edited) stop the command; history is not linted (see `pgready_core::project`).
    project.migrations()?;
    let ledger_errors: Vec<&str> = project
        .checked
        .errors()
        .filter(|p| p.source == Source::Ledger)
        .map(|p| p.message.as_str())
        .collect();
    let dir = project.migrations_dir();
    let findings: Vec<Finding> = project
        .checked
        .findings
        .iter()
        .map(|f| Finding {
            // Named by path, so `file:line` opens from the working directory.
            file: dir.join(&f.file).display().to_string(),
            ..f.clone()
        })
        .collect();
    match args.format {
        Format::Text => print!("{}", lint::to_text(&findings)),
        Format::Json => print!("{}", lint::to_json(&findings)),
    }
    if !ledger_errors.is_empty() {
        return Err(report(&ledger_errors));
    }
    let denied = findings.iter().filter(|f| f.is_error()).count();
    if denied > 0 {
        return Err(Failure::Error(format!(
            "{denied} finding(s) at level `deny`: fix them, or change the rule's level in \
             `[migrations.lints]`, or allow it in the file with `-- pgready:allow(rule) reason`"
        )));
    }
    Ok(())
}
