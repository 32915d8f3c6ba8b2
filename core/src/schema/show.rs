//! The replayed schema as text, for `pgready schema show`.

use std::fmt::Write as _;

use super::catalog::{Column, Identity, Origin};
use super::{Outcome, Replay};

fn uncertain(origin: &Option<Origin>) -> String {
    match origin {
        Some(o) => format!("  (unknown because of `{o}`)"),
        None => String::new(),
    }
}

fn column_line(c: &Column) -> String {
    let mut line = format!(
        "  {} {}",
        c.name,
        c.type_name.as_deref().unwrap_or("<unknown type>")
    );
    if c.not_null {
        line.push_str(" not null");
    }
    if c.generated {
        line.push_str(" generated");
    } else if c.has_default {
        line.push_str(" default");
    }
    match c.identity {
        Identity::No => {}
        Identity::Always => line.push_str(" identity always"),
        Identity::ByDefault => line.push_str(" identity by default"),
    }
    line.push_str(&uncertain(&c.uncertain));
    line
}

/// The schema as indented text: one block per object, then the opaque statements and the
/// statement counts.
///
/// ```
/// use pgready_core::schema::{replay_sql, to_text};
///
/// let replay = replay_sql("public", &[("1_a.sql", "CREATE TABLE t (id serial PRIMARY KEY);")]);
/// assert!(to_text(&replay).contains("table public.t\n  id integer not null default\n"));
/// ```
pub fn to_text(replay: &Replay) -> String {
    let mut out = String::new();
    for (schema_name, schema) in &replay.catalog.schemas {
        for (name, e) in &schema.enums {
            let labels: Vec<String> = e.labels.iter().map(|l| format!("'{l}'")).collect();
            let _ = writeln!(
                out,
                "enum {schema_name}.{name} ({}){}",
                labels.join(", "),
                uncertain(&e.uncertain)
            );
        }
        for (name, d) in &schema.domains {
            let _ = writeln!(
                out,
                "domain {schema_name}.{name} {}{}{}",
                d.base.as_deref().unwrap_or("<unknown type>"),
                if d.not_null { " not null" } else { "" },
                uncertain(&d.uncertain)
            );
        }
        for (name, t) in &schema.tables {
            let _ = writeln!(out, "table {schema_name}.{name}{}", uncertain(&t.uncertain));
            for c in &t.columns {
                let _ = writeln!(out, "{}", column_line(c));
            }
            for c in &t.constraints {
                let references = c
                    .references
                    .as_ref()
                    .map(|(s, t)| format!(" references {s}.{t}"))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "  constraint {} {:?} ({}){references}{}",
                    c.name,
                    c.kind,
                    c.columns.join(", "),
                    uncertain(&c.uncertain)
                );
            }
            for i in &t.indexes {
                let _ = writeln!(
                    out,
                    "  index {}{}{}",
                    i.name,
                    if i.primary {
                        " primary"
                    } else if i.unique {
                        " unique"
                    } else {
                        ""
                    },
                    uncertain(&i.uncertain)
                );
            }
        }
        for (name, v) in &schema.views {
            match &v.columns {
                Some(columns) => {
                    let _ = writeln!(out, "view {schema_name}.{name}{}", uncertain(&v.uncertain));
                    for c in columns {
                        let _ = writeln!(out, "  {} {}", c.name, c.type_name);
                    }
                }
                None => {
                    let _ = writeln!(
                        out,
                        "view {schema_name}.{name}  (columns not derived from its query){}",
                        uncertain(&v.uncertain)
                    );
                }
            }
        }
    }
    let mut counts = [0usize; 3];
    for s in &replay.statements {
        match &s.outcome {
            Outcome::Applied => counts[0] += 1,
            Outcome::NoSchemaEffect => counts[1] += 1,
            Outcome::Opaque(reason) => {
                counts[2] += 1;
                let _ = writeln!(out, "opaque {}: {reason}", s.origin);
            }
        }
    }
    let _ = writeln!(
        out,
        "{} statements: {} applied, {} no schema effect, {} opaque",
        replay.statements.len(),
        counts[0],
        counts[1],
        counts[2]
    );
    out
}
