//! `pgready migrate lock [--accept VERSION]…`: records released migrations in the ledger that
//! the macro checks at compile time.

use pgready_core::migrations::Ledger;

use crate::args::LockArgs;
use crate::failure::{Failure, report};
use crate::project::Project;

pub fn run(project: &Project, args: &LockArgs) -> Result<(), Failure> {
    let Some(path) = project.ledger() else {
        return Err(Failure::Error(
            "`[migrations] ledger = false` turns the release ledger off: set `ledger = \
             \"migrations.lock\"` to keep one"
                .to_owned(),
        ));
    };
    let dir = project.migrations_dir();
    let migrations = project.migrations()?;
    let name = path.display().to_string();
    let (mut ledger, existed) = match std::fs::read_to_string(&path) {
        Ok(text) => (
            Ledger::parse(&name, &text).map_err(|errors| report(&errors))?,
            true,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Ledger::default(), false),
        Err(e) => return Err(Failure::Error(format!("cannot read `{name}`: {e}"))),
    };

    let mut accepted = Vec::new();
    for &version in &args.accept {
        accepted.extend(ledger.accept(version, &migrations)?);
    }
    // Only a ledger that agrees with every released file is written: an edit nobody accepted
    // must not be recorded by accident.
    let problems = ledger.check(&name, &migrations);
    if !problems.is_empty() {
        let shown: Vec<String> = problems
            .iter()
            .map(|e| format!("{}: {}", dir.join(&e.file).display(), e.message))
            .collect();
        let failure = report(&shown);
        eprintln!("error: `{name}` was not written");
        return Err(failure);
    }
    let added = ledger.record_new(&migrations);

    if existed && added.is_empty() && accepted.is_empty() {
        println!("{name} is up to date ({} file(s))", ledger.len());
        return Ok(());
    }
    std::fs::write(&path, ledger.to_text())
        .map_err(|e| Failure::Error(format!("cannot write `{name}`: {e}")))?;
    for file in &accepted {
        println!("accepted {file}");
    }
    for file in &added {
        println!("recorded {file}");
    }
    println!("wrote {name} ({} file(s))", ledger.len());
    Ok(())
}
