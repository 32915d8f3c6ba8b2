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
        Format::Json => {
            let json = to_json(&findings)
                .map_err(|e| Failure::Error(format!("cannot write the findings as JSON: {e}")))?;
            println!("{json}");
        }
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

/// The `--format json` output: a JSON array of `{"file","line","rule","level","message"}`
/// objects (`[]` for no findings), as [`Finding`] serializes.
fn to_json(findings: &[Finding]) -> serde_json::Result<String> {
    serde_json::to_string_pretty(findings)
}

#[cfg(test)]
mod tests {
    use pgready_core::lint::LintLevel;

    use super::*;

    #[test]
    fn json_is_an_array_of_the_five_keys_with_every_character_escaped() {
        let findings = [Finding {
            file: "dir\\2_\"b\".sql".to_owned(),
            line: 12,
            rule: "adding-not-null-field",
            level: LintLevel::Deny,
            message: "tab\there\nnew line \u{1}".to_owned(),
        }];
        let json = to_json(&findings).expect("findings serialize");
        let parsed: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
        assert_eq!(
            parsed,
            serde_json::json!([{
                "file": "dir\\2_\"b\".sql",
                "line": 12,
                "rule": "adding-not-null-field",
                "level": "deny",
                "message": "tab\there\nnew line \u{1}",
            }])
        );
        assert_eq!(to_json(&[]).ok().as_deref(), Some("[]"));
    }
}
