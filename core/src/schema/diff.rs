//! Drift: the replayed model against a catalog read from a live database.

use std::collections::BTreeSet;
use std::fmt;

use super::catalog::{Catalog, Column, Origin, Table};

/// One difference between the model and the live database.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Drift {
    /// what differs: `table public.users`, `column public.users.email`, …
    pub object: String,
    /// the model's side (`None`: absent there)
    pub model: Option<String>,
    /// the database's side (`None`: absent there)
    pub live: Option<String>,
    /// an opaque statement that could explain the difference: not drift unless strict
    pub explained_by: Option<Origin>,
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let side = |s: &Option<String>| s.clone().unwrap_or_else(|| "absent".to_owned());
        write!(
            f,
            "{}: migrations {}, database {}",
            self.object,
            side(&self.model),
            side(&self.live)
        )?;
        if let Some(origin) = &self.explained_by {
            write!(
                f,
                " (may be explained by the opaque statement at `{origin}`)"
            )?;
        }
        Ok(())
    }
}

fn describe(c: &Column) -> String {
    format!(
        "{}{}{}{}",
        c.type_name.as_deref().unwrap_or("<unknown type>"),
        if c.not_null { " not null" } else { "" },
        if c.has_default { " default" } else { "" },
        match c.identity.code() {
            "" => "",
            "a" => " identity always",
            _ => " identity by default",
        }
    )
}

/// Compares the model with `live` (a catalog read from a database, with nothing uncertain):
/// tables, columns (type, nullability, default, identity), constraints, indexes, enums,
/// domains and views present on one side only or different. A difference an opaque statement
/// could explain carries that statement's file and line.
pub fn diff(model: &Catalog, live: &Catalog) -> Vec<Drift> {
    let mut out = Vec::new();
    let unknown = model.unknown_objects.last().cloned();
    let mut push = |object: String, m: Option<String>, l: Option<String>, why: Option<Origin>| {
        if m != l {
            out.push(Drift {
                object,
                model: m,
                live: l,
                explained_by: why,
            });
        }
    };
    let schemas: BTreeSet<&String> = model.schemas.keys().chain(live.schemas.keys()).collect();
    let empty = Default::default();
    for schema in schemas {
        let m = model.schemas.get(schema).unwrap_or(&empty);
        let l = live.schemas.get(schema).unwrap_or(&empty);
        let tables: BTreeSet<&String> = m.tables.keys().chain(l.tables.keys()).collect();
        for name in tables {
            let object = format!("table {schema}.{name}");
            match (m.tables.get(name), l.tables.get(name)) {
                (Some(mt), Some(lt)) => table(schema, mt, lt, &mut push),
                (Some(mt), None) => {
                    push(object, Some("present".into()), None, mt.uncertain.clone())
                }
                (None, Some(_)) => push(object, None, Some("present".into()), unknown.clone()),
                (None, None) => {}
            }
        }
        let enums: BTreeSet<&String> = m.enums.keys().chain(l.enums.keys()).collect();
        for name in enums {
            let me = m.enums.get(name);
            push(
                format!("enum {schema}.{name}"),
                me.map(|e| e.labels.join(", ")),
                l.enums.get(name).map(|e| e.labels.join(", ")),
                me.and_then(|e| e.uncertain.clone())
                    .or_else(|| unknown.clone()),
            );
        }
        let domains: BTreeSet<&String> = m.domains.keys().chain(l.domains.keys()).collect();
        for name in domains {
            let show = |d: &super::catalog::Domain| {
                format!(
                    "{}{}",
                    d.base.as_deref().unwrap_or("<unknown type>"),
                    if d.not_null { " not null" } else { "" }
                )
            };
            let md = m.domains.get(name);
            push(
                format!("domain {schema}.{name}"),
                md.map(show),
                l.domains.get(name).map(show),
                md.and_then(|d| d.uncertain.clone())
                    .or_else(|| unknown.clone()),
            );
        }
        let views: BTreeSet<&String> = m.views.keys().chain(l.views.keys()).collect();
        for name in views {
            let mv = m.views.get(name);
            let lv = l.views.get(name);
            let why = mv
                .and_then(|v| v.uncertain.clone())
                .or_else(|| unknown.clone());
            let show = |v: &super::catalog::View| match &v.columns {
                Some(cs) => cs
                    .iter()
                    .map(|c| format!("{} {}", c.name, c.type_name))
                    .collect::<Vec<_>>()
                    .join(", "),
                None => "present".to_owned(),
            };
            match (mv, lv) {
                (Some(mv), Some(lv)) if mv.columns.is_some() => push(
                    format!("view {schema}.{name}"),
                    Some(show(mv)),
                    Some(show(lv)),
                    why,
                ),
                (Some(_), Some(_)) => {}
                _ => push(
                    format!("view {schema}.{name}"),
                    mv.map(|_| "present".to_owned()),
                    lv.map(|_| "present".to_owned()),
                    why,
                ),
            }
        }
    }
    out
}

fn table(
    schema: &str,
    m: &Table,
    l: &Table,
    push: &mut impl FnMut(String, Option<String>, Option<String>, Option<Origin>),
) {
    let name = &m.name;
    let mut columns: Vec<&String> = m.columns.iter().map(|c| &c.name).collect();
    for c in &l.columns {
        if !columns.contains(&&c.name) {
            columns.push(&c.name);
        }
    }
    for column in columns {
        let mc = m.columns.iter().find(|c| &c.name == column);
        let lc = l.columns.iter().find(|c| &c.name == column);
        push(
            format!("column {schema}.{name}.{column}"),
            mc.map(describe),
            lc.map(describe),
            mc.and_then(|c| c.uncertain.clone())
                .or_else(|| m.uncertain.clone()),
        );
    }
    let mut constraints: BTreeSet<&String> = m.constraints.iter().map(|c| &c.name).collect();
    constraints.extend(l.constraints.iter().map(|c| &c.name));
    for constraint in constraints {
        let mc = m.constraints.iter().find(|c| &c.name == constraint);
        let lc = l.constraints.iter().find(|c| &c.name == constraint);
        push(
            format!("constraint {schema}.{name}.{constraint}"),
            mc.map(|c| format!("{:?}", c.kind)),
            lc.map(|c| format!("{:?}", c.kind)),
            mc.and_then(|c| c.uncertain.clone())
                .or_else(|| m.uncertain.clone()),
        );
    }
    let mut indexes: BTreeSet<&String> = m.indexes.iter().map(|i| &i.name).collect();
    indexes.extend(l.indexes.iter().map(|i| &i.name));
    let show = |i: &super::catalog::Index| {
        if i.primary {
            "primary".to_owned()
        } else if i.unique {
            "unique".to_owned()
        } else {
            "present".to_owned()
        }
    };
    for index in indexes {
        let mi = m.indexes.iter().find(|i| &i.name == index);
        let li = l.indexes.iter().find(|i| &i.name == index);
        push(
            format!("index {schema}.{index}"),
            mi.map(show),
            li.map(show),
            mi.and_then(|i| i.uncertain.clone())
                .or_else(|| m.uncertain.clone()),
        );
    }
}
