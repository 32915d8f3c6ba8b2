//! `pgready migrate lint [DIR] [--format text|json]`: the compile-time lints, for CI and editors.

use pgready_core::lint::{self, Finding};

use crate::args::{Format, LintArgs};
use crate::failure::Failure;
use crate::project::Project;

pub fn run(project: &Project, args: &LintArgs) -> Result<(), Failure> {
    let dir = args.dir.clone().unwrap_or_else(|| project.migrations_dir());
    let migrations = super::discover(&dir)?;
    let levels = &project.config.migrations.lints;
    let findings: Vec<Finding> = migrations
        .iter()
        .flat_map(|m| {
            // Named by path, so `file:line` opens from the working directory.
            let path = dir.join(&m.file_name);
            lint::lint_file(
                &path.display().to_string(),
                &m.sql,
                !m.no_transaction,
                levels,
            )
        })
        .collect();
    match args.format {
        Format::Text => print!("{}", lint::to_text(&findings)),
        Format::Json => print!("{}", lint::to_json(&findings)),
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
