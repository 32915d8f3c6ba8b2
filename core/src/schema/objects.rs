//! Indexes, types, domains, views, schemas, extensions and `SET search_path`.

use squawk_syntax::{SyntaxKind as K, SyntaxNode};

use super::Outcome;
use super::catalog::{Domain, Enum, Index, Origin, View};
use super::names::{choose, parts, string_value};
use super::replay::{
    Refusal, Replayer, child, children, first_name, has, has_descendant, kind_words, name_refs,
};
use super::types::{is_type, written};
use super::view::view_columns;

/// String literals directly under `node`, as values.
fn literals(node: &SyntaxNode) -> Vec<String> {
    children(node, K::LITERAL)
        .iter()
        .map(|l| string_value(l.text().to_string().trim()))
        .collect()
}

impl Replayer {
    // ---- indexes ----------------------------------------------------------------------------

    pub(super) fn create_index(&mut self, node: &SyntaxNode) -> Result<Outcome, Refusal> {
        let target = child(node, K::TABLE_RELATION_NAME)
            .and_then(|r| child(&r, K::TABLE_NAME_REF))
            .map(|n| parts(&n))
            .ok_or("`CREATE INDEX` without a table")?;
        let at = self.find_table(target)?;
        let unique = has(node, K::UNIQUE_KW);
        let items = child(node, K::PARTITION_ITEM_LIST)
            .map(|l| children(&l, K::PARTITION_ITEM))
            .unwrap_or_default();
        // the part of a generated name each item gives (`ChooseIndexColumnNames`)
        let mut name_parts = Vec::new();
        let mut columns = Vec::new();
        for item in &items {
            let first = item.children().next();
            match first.as_ref().map(|n| n.kind()) {
                Some(K::NAME_REF) => {
                    name_parts.push(parts(first.as_ref().expect("matched")).join("."))
                }
                Some(K::CALL_EXPR) => name_parts.push(
                    first
                        .as_ref()
                        .and_then(|c| child(c, K::NAME_REF))
                        .and_then(|n| parts(&n).pop())
                        .unwrap_or_else(|| "expr".to_owned()),
                ),
                _ => name_parts.push("expr".to_owned()),
            }
            columns.extend(name_refs(item));
        }
        if let Some(filter) = child(node, K::WHERE_CLAUSE) {
            columns.extend(name_refs(&filter));
        }
        let table = &self.catalog.schemas[&at.0].tables[&at.1];
        columns.retain(|c| table.columns.iter().any(|col| &col.name == c));
        let explicit = first_name(node, &[K::INDEX]).and_then(|mut p| p.pop());
        let name = match explicit {
            Some(name) => {
                if self.relation_taken(&at.0, &name) {
                    return if has(node, K::IF_NOT_EXISTS) {
                        Ok(Outcome::NoSchemaEffect)
                    } else {
                        Err(format!("relation `{name}` already exists"))
                    };
                }
                name
            }
            None => {
                // `ChooseIndexName`: `_key` is for constraints; a unique index is `_idx` too
                choose(&at.1, Some(&name_parts.join("_")), "idx", |n| {
                    self.relation_taken(&at.0, n)
                })
            }
        };
        self.table_mut(&at).indexes.push(Index {
            name,
            unique,
            primary: false,
            columns,
            uncertain: None,
        });
        Ok(Outcome::Applied)
    }

    /// The table and position of the index `parts` names.
    fn find_index(&self, mut parts: Vec<String>) -> Option<(String, String, usize)> {
        let name = parts.pop()?;
        let schemas: Vec<String> = match parts.pop() {
            Some(schema) => vec![schema],
            None => self.search_path.clone(),
        };
        for schema in schemas {
            let Some(s) = self.catalog.schemas.get(&schema) else {
                continue;
            };
            for (table, t) in &s.tables {
                if let Some(i) = t.indexes.iter().position(|i| i.name == name) {
                    return Some((schema, table.clone(), i));
                }
            }
        }
        None
    }

    pub(super) fn drop_index(&mut self, node: &SyntaxNode) -> Result<Outcome, Refusal> {
        for index in children(node, K::INDEX_REF) {
            let name = parts(&index);
            match self.find_index(name.clone()) {
                Some((schema, table, i)) => {
                    let t = self.table_mut(&(schema, table));
                    let removed = t.indexes.remove(i);
                    if t.constraints.iter().any(|c| c.name == removed.name) {
                        return Err(format!("index `{}` belongs to a constraint", removed.name));
                    }
                }
                None if has(node, K::IF_EXISTS) && self.catalog.unknown_objects.is_empty() => {}
                None => return Err(format!("unknown index `{}`", name.join("."))),
            }
        }
        Ok(Outcome::Applied)
    }

    pub(super) fn alter_index(&mut self, node: &SyntaxNode) -> Result<Outcome, Refusal> {
        let name = first_name(node, &[K::INDEX_REF]).ok_or("`ALTER INDEX` without an index")?;
        let Some(rename) = child(node, K::INDEX_RENAME_TO) else {
            if node.children().any(|n| {
                matches!(
                    n.kind(),
                    K::SET_OPTIONS | K::RESET_OPTIONS | K::SET_TABLESPACE
                )
            }) {
                return Ok(Outcome::NoSchemaEffect);
            }
            return Err("this `ALTER INDEX` is not modelled".to_owned());
        };
        let new = first_name(&rename, &[K::INDEX, K::PATH])
            .and_then(|mut p| p.pop())
            .ok_or("`RENAME TO` without a name")?;
        let Some((schema, table, i)) = self.find_index(name.clone()) else {
            return Err(format!("unknown index `{}`", name.join(".")));
        };
        if self.relation_taken(&schema, &new) {
            return Err(format!("relation `{new}` already exists"));
        }
        let t = self.table_mut(&(schema, table));
        let old = std::mem::replace(&mut t.indexes[i].name, new.clone());
        // renaming a constraint's index renames the constraint
        if let Some(c) = t.constraints.iter_mut().find(|c| c.name == old) {
            c.name = new;
        }
        Ok(Outcome::Applied)
    }

    // ---- types and domains ------------------------------------------------------------------

    pub(super) fn create_type(&mut self, node: &SyntaxNode) -> Result<Outcome, Refusal> {
        let (schema, name) =
            self.new_name(first_name(node, &[K::TYPE_NAME]).unwrap_or_default())?;
        let s = &self.catalog.schemas[&schema];
        if s.enums.contains_key(&name)
            || s.domains.contains_key(&name)
            || s.other_types.contains_key(&name)
            || s.tables.contains_key(&name)
            || s.views.contains_key(&name)
        {
            return Err(format!("type `{name}` already exists"));
        }
        let s = self
            .catalog
            .schemas
            .get_mut(&schema)
            .expect("creation schema exists");
        match child(node, K::ENUM_TYPE) {
            Some(enum_type) => {
                let labels = child(&enum_type, K::VARIANT_LIST)
                    .map(|l| {
                        children(&l, K::VARIANT)
                            .iter()
                            .flat_map(literals)
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default();
                s.enums.insert(
                    name.clone(),
                    Enum {
                        name,
                        labels,
                        uncertain: None,
                    },
                );
            }
            None => {
                s.other_types.insert(name, None);
            }
        }
        Ok(Outcome::Applied)
    }

    /// Finds a type by name: (schema, name).
    fn find_type(&self, parts: Vec<String>) -> Option<(String, String)> {
        self.find(parts, |s, n| {
            s.enums.contains_key(n) || s.domains.contains_key(n) || s.other_types.contains_key(n)
        })
    }

    pub(super) fn alter_type(&mut self, node: &SyntaxNode) -> Result<Outcome, Refusal> {
        let name = first_name(node, &[K::TYPE_NAME_REF]).ok_or("`ALTER TYPE` without a type")?;
        let shown = name.join(".");
        let (schema, type_name) = self
            .find_type(name)
            .ok_or_else(|| format!("unknown type `{shown}`"))?;
        let action = node
            .children()
            .find(|n| n.kind() != K::TYPE_NAME_REF)
            .ok_or("`ALTER TYPE` without an action")?;
        match action.kind() {
            K::ADD_VALUE | K::RENAME_VALUE => {
                let e = self
                    .catalog
                    .schemas
                    .get_mut(&schema)
                    .and_then(|s| s.enums.get_mut(&type_name))
                    .ok_or_else(|| format!("`{type_name}` is not an enum"))?;
                let values = literals(&action);
                if action.kind() == K::RENAME_VALUE {
                    let [old, new] = values.as_slice() else {
                        return Err("`RENAME VALUE` without two labels".to_owned());
                    };
                    let label = e
                        .labels
                        .iter_mut()
                        .find(|l| *l == old)
                        .ok_or_else(|| format!("unknown label `{old}`"))?;
                    *label = new.clone();
                    return Ok(Outcome::Applied);
                }
                let [value] = values.as_slice() else {
                    return Err("`ADD VALUE` without a label".to_owned());
                };
                if e.labels.contains(value) {
                    return if has(&action, K::IF_NOT_EXISTS) {
                        Ok(Outcome::NoSchemaEffect)
                    } else {
                        Err(format!("label `{value}` already exists"))
                    };
                }
                let (neighbour, after) = match (
                    child(&action, K::BEFORE_VALUE),
                    child(&action, K::AFTER_VALUE),
                ) {
                    (Some(before), _) => (literals(&before).pop(), false),
                    (None, Some(after)) => (literals(&after).pop(), true),
                    (None, None) => (None, true),
                };
                let position = match neighbour {
                    None => e.labels.len(),
                    Some(n) => {
                        let at = e
                            .labels
                            .iter()
                            .position(|l| *l == n)
                            .ok_or_else(|| format!("unknown label `{n}`"))?;
                        if after { at + 1 } else { at }
                    }
                };
                e.labels.insert(position, value.clone());
                Ok(Outcome::Applied)
            }
            K::TYPE_RENAME_TO => {
                let new = first_name(&action, &[K::TYPE_NAME])
                    .and_then(|mut p| p.pop())
                    .ok_or("`RENAME TO` without a name")?;
                self.rename_type(&schema, &type_name, &new)?;
                Ok(Outcome::Applied)
            }
            K::OWNER_TO => Ok(Outcome::NoSchemaEffect),
            other => Err(format!(
                "`ALTER TYPE … {}` is not modelled",
                kind_words(other)
            )),
        }
    }

    /// Renames a type and follows it in the columns, domains and views that use it.
    fn rename_type(&mut self, schema: &str, old: &str, new: &str) -> Result<(), Refusal> {
        let base = self.catalog.base_schema.clone();
        let old_shown = super::replay::qualified_type(&base, schema, old);
        let new_shown = super::replay::qualified_type(&base, schema, new);
        let s = self
            .catalog
            .schemas
            .get_mut(schema)
            .ok_or("unknown schema")?;
        if let Some(mut e) = s.enums.remove(old) {
            e.name = new.to_owned();
            s.enums.insert(new.to_owned(), e);
        } else if let Some(mut d) = s.domains.remove(old) {
            d.name = new.to_owned();
            s.domains.insert(new.to_owned(), d);
        } else if let Some(t) = s.other_types.remove(old) {
            s.other_types.insert(new.to_owned(), t);
        }
        let follow = |t: &mut String| {
            if *t == old_shown {
                *t = new_shown.clone();
            } else if *t == format!("{old_shown}[]") {
                *t = format!("{new_shown}[]");
            }
        };
        for s in self.catalog.schemas.values_mut() {
            for table in s.tables.values_mut() {
                for c in &mut table.columns {
                    if let Some(t) = &mut c.type_name {
                        follow(t);
                    }
                }
            }
            for d in s.domains.values_mut() {
                if let Some(t) = &mut d.base {
                    follow(t);
                }
            }
            for v in s.views.values_mut() {
                for c in v.columns.iter_mut().flatten() {
                    follow(&mut c.type_name);
                }
            }
        }
        Ok(())
    }

    pub(super) fn drop_types(&mut self, node: &SyntaxNode) -> Result<Outcome, Refusal> {
        let cascade = has(node, K::CASCADE);
        let refs: Vec<SyntaxNode> = node
            .children()
            .filter(|n| matches!(n.kind(), K::TYPE_NAME_REF | K::DOMAIN_REF | K::PATH_REF))
            .collect();
        if refs.is_empty() {
            return Err("`DROP TYPE` without a type".to_owned());
        }
        for r in refs {
            let name = parts(&r);
            let shown = name.join(".");
            let Some((schema, type_name)) = self.find_type(name) else {
                if has(node, K::IF_EXISTS) && self.catalog.unknown_objects.is_empty() {
                    continue;
                }
                return Err(format!("unknown type `{shown}`"));
            };
            let base = self.catalog.base_schema.clone();
            let spelled = super::replay::qualified_type(&base, &schema, &type_name);
            let s = self.catalog.schemas.get_mut(&schema).expect("found");
            s.enums.remove(&type_name);
            s.domains.remove(&type_name);
            s.other_types.remove(&type_name);
            let uses = |t: &Option<String>| {
                t.as_deref()
                    .is_some_and(|t| t == spelled || t == format!("{spelled}[]"))
            };
            for s in self.catalog.schemas.values_mut() {
                for table in s.tables.values_mut() {
                    if table.columns.iter().any(|c| uses(&c.type_name)) {
                        if !cascade {
                            return Err(format!("type `{shown}` is still in use"));
                        }
                        // `CASCADE` drops the columns of that type
                        let dropped: Vec<String> = table
                            .columns
                            .iter()
                            .filter(|c| uses(&c.type_name))
                            .map(|c| c.name.clone())
                            .collect();
                        table.columns.retain(|c| !uses(&c.type_name));
                        table
                            .constraints
                            .retain(|c| !c.columns.iter().any(|x| dropped.contains(x)));
                        table
                            .indexes
                            .retain(|i| !i.columns.iter().any(|x| dropped.contains(x)));
                    }
                }
                if cascade {
                    s.views.retain(|_, v| {
                        !v.columns
                            .iter()
                            .flatten()
                            .any(|c| uses(&Some(c.type_name.clone())))
                    });
                }
            }
        }
        Ok(Outcome::Applied)
    }

    pub(super) fn create_domain(
        &mut self,
        node: &SyntaxNode,
        origin: &Origin,
    ) -> Result<Outcome, Refusal> {
        let (schema, name) = self.new_name(first_name(node, &[K::DOMAIN]).unwrap_or_default())?;
        if self.find_type(vec![schema.clone(), name.clone()]).is_some() {
            return Err(format!("type `{name}` already exists"));
        }
        let base = node
            .children()
            .find(|n| is_type(n.kind()))
            .map(|t| self.resolve_type(&written(&t)))
            .ok_or("a domain without a base type")?;
        let domain = Domain {
            name: name.clone(),
            not_null: has(node, K::NOT_NULL_CONSTRAINT),
            uncertain: base.is_none().then(|| origin.clone()),
            base,
        };
        self.catalog
            .schemas
            .get_mut(&schema)
            .expect("creation schema exists")
            .domains
            .insert(name, domain);
        Ok(Outcome::Applied)
    }

    pub(super) fn alter_domain(&mut self, node: &SyntaxNode) -> Result<Outcome, Refusal> {
        let name = first_name(node, &[K::DOMAIN_REF]).ok_or("`ALTER DOMAIN` without a domain")?;
        let shown = name.join(".");
        let (schema, domain) = self
            .find(name, |s, n| s.domains.contains_key(n))
            .ok_or_else(|| format!("unknown domain `{shown}`"))?;
        let action = node
            .children()
            .find(|n| n.kind() != K::DOMAIN_REF)
            .ok_or("`ALTER DOMAIN` without an action")?;
        let d = self
            .catalog
            .schemas
            .get_mut(&schema)
            .and_then(|s| s.domains.get_mut(&domain))
            .expect("found");
        match action.kind() {
            K::SET_NOT_NULL => d.not_null = true,
            K::DROP_NOT_NULL => d.not_null = false,
            K::SET_DEFAULT
            | K::DROP_DEFAULT
            | K::ADD_CONSTRAINT
            | K::DROP_CONSTRAINT
            | K::RENAME_CONSTRAINT
            | K::VALIDATE_CONSTRAINT
            | K::OWNER_TO => {}
            K::DOMAIN_RENAME_TO => {
                let new = first_name(&action, &[K::DOMAIN, K::PATH])
                    .and_then(|mut p| p.pop())
                    .ok_or("`RENAME TO` without a name")?;
                self.rename_type(&schema, &domain, &new)?;
            }
            other => {
                return Err(format!(
                    "`ALTER DOMAIN … {}` is not modelled",
                    kind_words(other)
                ));
            }
        }
        Ok(Outcome::Applied)
    }

    // ---- views ------------------------------------------------------------------------------

    pub(super) fn create_view(&mut self, node: &SyntaxNode) -> Result<Outcome, Refusal> {
        if has_descendant(node, K::TEMP_KW)
            || has_descendant(node, K::TEMPORARY_KW)
            || has(node, K::RECURSIVE_KW)
        {
            return Err("temporary and recursive views are not modelled".to_owned());
        }
        let (schema, name) = self.new_name(first_name(node, &[K::VIEW]).unwrap_or_default())?;
        let replace = has(node, K::OR_REPLACE);
        let exists = self.catalog.schemas[&schema].views.contains_key(&name);
        if exists && !replace || !exists && self.relation_taken(&schema, &name) {
            return Err(format!("relation `{name}` already exists"));
        }
        let query = node
            .children()
            .find(|n| {
                matches!(
                    n.kind(),
                    K::SELECT | K::COMPOUND_SELECT | K::PAREN_SELECT | K::VALUES | K::TABLE
                )
            })
            .ok_or("a view without a query")?;
        let (mut columns, reads) = view_columns(self, &query);
        if let (Some(list), Some(cols)) = (child(node, K::COLUMN_LIST), columns.as_mut()) {
            let names: Vec<String> = list.children().filter_map(|c| parts(&c).pop()).collect();
            if names.len() > cols.len() {
                return Err("more view column names than columns".to_owned());
            }
            for (c, n) in cols.iter_mut().zip(names) {
                c.name = n;
            }
        }
        if let Some(cols) = &columns {
            let mut seen = std::collections::BTreeSet::new();
            if let Some(twice) = cols.iter().find(|c| !seen.insert(c.name.as_str())) {
                return Err(format!("column `{}` specified more than once", twice.name));
            }
        }
        let view = View {
            name: name.clone(),
            columns,
            reads,
            uncertain: None,
        };
        self.catalog
            .schemas
            .get_mut(&schema)
            .expect("creation schema exists")
            .views
            .insert(name, view);
        Ok(Outcome::Applied)
    }

    pub(super) fn alter_view(&mut self, node: &SyntaxNode) -> Result<Outcome, Refusal> {
        let name = first_name(node, &[K::VIEW_REF]).ok_or("`ALTER VIEW` without a view")?;
        let shown = name.join(".");
        let Some(at) = self.find(name, |s, n| s.views.contains_key(n)) else {
            if has(node, K::IF_EXISTS) && self.catalog.unknown_objects.is_empty() {
                return Ok(Outcome::NoSchemaEffect);
            }
            return Err(format!("unknown view `{shown}`"));
        };
        let action = node
            .children()
            .find(|n| !matches!(n.kind(), K::VIEW_REF | K::IF_EXISTS))
            .ok_or("`ALTER VIEW` without an action")?;
        self.view_action(&at, &action)
    }

    /// `ALTER VIEW` / `ALTER TABLE` on a view: rename, move, rename a column.
    pub(super) fn view_action(
        &mut self,
        at: &(String, String),
        action: &SyntaxNode,
    ) -> Result<Outcome, Refusal> {
        let (to_schema, to_name) = match action.kind() {
            K::VIEW_RENAME_TO | K::TABLE_RENAME_TO => {
                let new = first_name(action, &[K::VIEW, K::TABLE_NAME, K::PATH])
                    .and_then(|mut p| p.pop())
                    .ok_or("`RENAME TO` without a name")?;
                if self.relation_taken(&at.0, &new) {
                    return Err(format!("relation `{new}` already exists"));
                }
                (at.0.clone(), new)
            }
            K::SET_SCHEMA => {
                let schema = first_name(action, &[K::SCHEMA_REF, K::NAME_REF])
                    .and_then(|mut p| p.pop())
                    .ok_or("`SET SCHEMA` without a schema")?;
                if !self.catalog.schemas.contains_key(&schema) {
                    return Err(format!("unknown schema `{schema}`"));
                }
                (schema, at.1.clone())
            }
            K::RENAME_COLUMN => {
                let old = first_name(action, &[K::COLUMN_NAME_REF]).and_then(|mut p| p.pop());
                let new = first_name(action, &[K::COLUMN_NAME]).and_then(|mut p| p.pop());
                let (Some(old), Some(new)) = (old, new) else {
                    return Err("`RENAME COLUMN` without names".to_owned());
                };
                let view = self
                    .catalog
                    .schemas
                    .get_mut(&at.0)
                    .and_then(|s| s.views.get_mut(&at.1))
                    .expect("found");
                if let Some(columns) = &mut view.columns {
                    let column = columns
                        .iter_mut()
                        .find(|c| c.name == old)
                        .ok_or_else(|| format!("unknown column `{old}`"))?;
                    column.name = new;
                }
                return Ok(Outcome::Applied);
            }
            K::OWNER_TO | K::SET_OPTIONS | K::RESET_OPTIONS => return Ok(Outcome::NoSchemaEffect),
            other => {
                return Err(format!(
                    "`ALTER VIEW … {}` is not modelled",
                    kind_words(other)
                ));
            }
        };
        let mut view = self
            .catalog
            .schemas
            .get_mut(&at.0)
            .and_then(|s| s.views.remove(&at.1))
            .expect("found");
        view.name = to_name.clone();
        let to = (to_schema, to_name);
        for s in self.catalog.schemas.values_mut() {
            for v in s.views.values_mut() {
                for r in &mut v.reads {
                    if r == at {
                        *r = to.clone();
                    }
                }
            }
        }
        self.catalog
            .schemas
            .get_mut(&to.0)
            .expect("exists")
            .views
            .insert(to.1, view);
        Ok(Outcome::Applied)
    }

    /// `DROP TABLE` (`views = false`) and `DROP VIEW`, with `CASCADE` to the views and foreign
    /// keys that depend on them.
    pub(super) fn drop_relations(
        &mut self,
        node: &SyntaxNode,
        views: bool,
    ) -> Result<Outcome, Refusal> {
        let cascade = has(node, K::CASCADE);
        let refs = children(
            node,
            if views {
                K::VIEW_REF
            } else {
                K::TABLE_NAME_REF
            },
        );
        if refs.is_empty() {
            return Err("`DROP` without a name".to_owned());
        }
        for r in refs {
            let name = parts(&r);
            let shown = name.join(".");
            let found = if views {
                self.find(name, |s, n| s.views.contains_key(n))
            } else {
                self.find(name, |s, n| s.tables.contains_key(n))
            };
            let Some(at) = found else {
                if has(node, K::IF_EXISTS) && self.catalog.unknown_objects.is_empty() {
                    continue;
                }
                return Err(format!("unknown relation `{shown}`"));
            };
            let s = self.catalog.schemas.get_mut(&at.0).expect("found");
            if views {
                s.views.remove(&at.1);
            } else {
                s.tables.remove(&at.1);
            }
            self.record(&at, None, super::ChangeKind::Dropped);
            self.drop_dependents(&at, cascade)?;
        }
        Ok(Outcome::Applied)
    }

    /// What depends on a dropped relation: with `CASCADE` it goes too; without, PostgreSQL
    /// would have refused.
    fn drop_dependents(&mut self, at: &(String, String), cascade: bool) -> Result<(), Refusal> {
        let mut dropped = vec![at.clone()];
        while let Some(gone) = dropped.pop() {
            for (schema, s) in self.catalog.schemas.iter_mut() {
                let dependent: Vec<String> = s
                    .views
                    .iter()
                    .filter(|(_, v)| v.reads.contains(&gone))
                    .map(|(n, _)| n.clone())
                    .collect();
                if !dependent.is_empty() && !cascade {
                    return Err(format!(
                        "view `{}` depends on `{}`: PostgreSQL needs `CASCADE`",
                        dependent[0], gone.1
                    ));
                }
                for name in dependent {
                    s.views.remove(&name);
                    dropped.push((schema.clone(), name));
                }
                for table in s.tables.values_mut() {
                    let before = table.constraints.len();
                    table
                        .constraints
                        .retain(|c| c.references.as_ref() != Some(&gone));
                    if table.constraints.len() != before && !cascade {
                        return Err(format!(
                            "a foreign key of `{}` references `{}`: PostgreSQL needs `CASCADE`",
                            table.name, gone.1
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    // ---- schemas, extensions, search_path ---------------------------------------------------

    pub(super) fn create_schema(&mut self, node: &SyntaxNode) -> Result<Outcome, Refusal> {
        if node
            .children()
            .any(|n| matches!(n.kind(), K::CREATE_TABLE | K::CREATE_VIEW | K::CREATE_INDEX))
        {
            return Err("`CREATE SCHEMA` with schema elements is not modelled".to_owned());
        }
        let name = node
            .descendants()
            .find(|n| matches!(n.kind(), K::SCHEMA | K::ROLE_REF | K::ROLE))
            .and_then(|n| parts(&n).pop())
            .ok_or("`CREATE SCHEMA` without a name")?;
        if self.catalog.schemas.contains_key(&name) {
            return if has(node, K::IF_NOT_EXISTS) {
                Ok(Outcome::NoSchemaEffect)
            } else {
                Err(format!("schema `{name}` already exists"))
            };
        }
        self.catalog.schemas.insert(name, Default::default());
        Ok(Outcome::Applied)
    }

    pub(super) fn drop_schema(&mut self, node: &SyntaxNode) -> Result<Outcome, Refusal> {
        let cascade = has(node, K::CASCADE);
        for r in node.children().filter(|n| n.kind() == K::SCHEMA_REF) {
            let Some(name) = parts(&r).pop() else {
                continue;
            };
            match self.catalog.schemas.get(&name) {
                None if has(node, K::IF_EXISTS) && self.catalog.unknown_objects.is_empty() => {}
                None => return Err(format!("unknown schema `{name}`")),
                Some(s) => {
                    let empty = s.tables.is_empty()
                        && s.views.is_empty()
                        && s.enums.is_empty()
                        && s.domains.is_empty()
                        && s.other_types.is_empty();
                    if !empty && !cascade {
                        return Err(format!("schema `{name}` is not empty"));
                    }
                    if !empty {
                        return Err(
                            "`DROP SCHEMA … CASCADE` of a schema with objects is not modelled"
                                .to_owned(),
                        );
                    }
                    self.catalog.schemas.remove(&name);
                    self.catalog.extensions.retain(|_, s| *s != name);
                }
            }
        }
        Ok(Outcome::Applied)
    }

    pub(super) fn create_extension(&mut self, node: &SyntaxNode) -> Result<Outcome, Refusal> {
        let name = child(node, K::EXTENSION)
            .and_then(|n| parts(&n).pop())
            .ok_or("`CREATE EXTENSION` without a name")?;
        if self.catalog.extensions.contains_key(&name) {
            return if has(node, K::IF_NOT_EXISTS) {
                Ok(Outcome::NoSchemaEffect)
            } else {
                Err(format!("extension `{name}` already exists"))
            };
        }
        if !super::types::EXTENSION_TYPES
            .iter()
            .any(|(e, _)| *e == name)
        {
            return Err(format!(
                "extension `{name}` is not one the replay knows the types of"
            ));
        }
        let explicit = child(node, K::EXTENSION_SCHEMA)
            .and_then(|s| child(&s, K::SCHEMA_REF))
            .and_then(|n| parts(&n).pop());
        let schema = self.creation_schema(explicit)?;
        self.catalog.extensions.insert(name, schema);
        Ok(Outcome::Applied)
    }

    pub(super) fn set(&mut self, node: &SyntaxNode) -> Result<Outcome, Refusal> {
        let Some(config) = node.descendants().find(|n| n.kind() == K::SET_CONFIG) else {
            let text = node.text().to_string().to_lowercase();
            if text.contains("search_path") || text.contains("schema") {
                return Err("this form of `SET` is not modelled".to_owned());
            }
            return Ok(Outcome::NoSchemaEffect);
        };
        let parameter = first_name(&config, &[K::CONFIG_PARAMETER_REF]).unwrap_or_default();
        if parameter.join(".") != "search_path" {
            return Ok(Outcome::NoSchemaEffect);
        }
        let Some(value) = config
            .children()
            .find(|n| n.kind() != K::CONFIG_PARAMETER_REF)
        else {
            return Err("`SET search_path` without a value".to_owned());
        };
        self.path_unknown = None;
        if has_descendant(node, K::LOCAL_KW) && self.local_restore.is_none() {
            self.local_restore = Some(self.search_path.clone());
        }
        if has_descendant(&value, K::DEFAULT_KW) {
            self.search_path = super::replay::server_default_search_path();
            return Ok(Outcome::Applied);
        }
        let mut path = Vec::new();
        for token in value
            .descendants_with_tokens()
            .filter_map(|e| e.into_token())
            .filter(|t| !t.kind().is_trivia())
        {
            match token.kind() {
                K::STRING => path.extend(
                    string_value(token.text())
                        .split(',')
                        .map(|s| super::names::ident(s.trim())),
                ),
                K::IDENT => path.push(super::names::ident(token.text())),
                K::COMMA | K::EQ | K::TO_KW => {}
                _ if format!("{:?}", token.kind()).ends_with("_KW") => {
                    path.push(token.text().to_lowercase())
                }
                _ => return Err(format!("`{}` in `SET search_path`", token.text())),
            }
        }
        if path.is_empty() {
            return Err("`SET search_path` without schemas".to_owned());
        }
        // `$user` names a schema only when one has the role's name: the replay assumes not
        path.retain(|s| s != "$user");
        self.search_path = path;
        Ok(Outcome::Applied)
    }
}
