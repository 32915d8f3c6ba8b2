//! A view's columns, derived from its query when the query is simple enough: columns of the
//! relations in `FROM` (plain or `alias.`-qualified, `*`), literals and casts. Anything else
//! leaves the view's columns uncertain rather than guessed.

use squawk_syntax::{SyntaxKind as K, SyntaxNode};

use super::catalog::ViewColumn;
use super::names::parts;
use super::replay::{Replayer, child, children, has_descendant};
use super::types::{is_type, written};

/// One relation in `FROM`: the name queries use for it and its columns (`None` where a
/// column's type is uncertain; `complete` false when it may have columns the replay misses).
struct Relation {
    alias: String,
    columns: Vec<(String, Option<String>)>,
    complete: bool,
}

/// The view's columns (`None` if the query is beyond the replay) and the relations it reads.
pub(super) fn view_columns(
    r: &Replayer,
    query: &SyntaxNode,
) -> (Option<Vec<ViewColumn>>, Vec<(String, String)>) {
    let mut reads = Vec::new();
    for name in query
        .descendants()
        .filter(|n| n.kind() == K::RELATION_NAME_REF)
    {
        let parts = parts(&name);
        if let Some(at) = r.find(parts, |s, n| {
            s.tables.contains_key(n) || s.views.contains_key(n)
        }) && !reads.contains(&at)
        {
            reads.push(at);
        }
    }
    (columns(r, query), reads)
}

fn columns(r: &Replayer, query: &SyntaxNode) -> Option<Vec<ViewColumn>> {
    if query.kind() != K::SELECT || has_descendant(query, K::WITH_CLAUSE) {
        return None;
    }
    let mut relations = Vec::new();
    if let Some(from) = child(query, K::FROM_CLAUSE) {
        if from
            .descendants()
            .any(|n| matches!(n.kind(), K::SELECT | K::CALL_EXPR | K::PAREN_SELECT))
        {
            return None;
        }
        for item in from
            .descendants()
            .filter(|n| n.kind() == K::RELATION_FROM_ITEM)
        {
            relations.push(relation(r, &item)?);
        }
    }
    let targets = child(query, K::SELECT_CLAUSE).and_then(|c| child(&c, K::TARGET_LIST))?;
    let mut out = Vec::new();
    for target in children(&targets, K::TARGET) {
        let text = target.text().to_string();
        let text = text.trim();
        if text == "*" || text.ends_with(".*") {
            let alias = text
                .strip_suffix(".*")
                .map(|a| super::names::ident(a.trim()));
            for rel in &relations {
                if alias.as_ref().is_some_and(|a| *a != rel.alias) {
                    continue;
                }
                if !rel.complete {
                    return None;
                }
                for (name, type_name) in &rel.columns {
                    out.push(ViewColumn {
                        name: name.clone(),
                        type_name: type_name.clone()?,
                    });
                }
            }
            continue;
        }
        let given = child(&target, K::AS_NAME)
            .and_then(|a| child(&a, K::COLUMN_NAME))
            .and_then(|n| parts(&n).pop());
        let expr = target.children().find(|n| n.kind() != K::AS_NAME)?;
        let (derived, type_name) = expression(r, &relations, &expr)?;
        if given.is_none() && derived.is_none() && expr.kind() == K::CAST_EXPR {
            return None;
        }
        out.push(ViewColumn {
            name: given.or(derived).unwrap_or_else(|| "?column?".to_owned()),
            type_name,
        });
    }
    Some(out)
}

fn relation(r: &Replayer, item: &SyntaxNode) -> Option<Relation> {
    let name = parts(&child(item, K::RELATION_NAME_REF)?);
    let alias = child(item, K::FROM_ALIAS)
        .and_then(|a| child(&a, K::TABLE_ALIAS))
        .and_then(|a| parts(&a).pop())
        .or_else(|| name.last().cloned())?;
    if let Some((schema, table)) = r.find(name.clone(), |s, n| s.tables.contains_key(n)) {
        let table = &r.catalog.schemas[&schema].tables[&table];
        return Some(Relation {
            alias,
            columns: table
                .columns
                .iter()
                .map(|c| {
                    let known = c.uncertain.is_none();
                    (c.name.clone(), c.type_name.clone().filter(|_| known))
                })
                .collect(),
            complete: table.uncertain.is_none(),
        });
    }
    let (schema, view) = r.find(name, |s, n| s.views.contains_key(n))?;
    let view = &r.catalog.schemas[&schema].views[&view];
    if view.uncertain.is_some() {
        return None;
    }
    Some(Relation {
        alias,
        columns: view
            .columns
            .as_ref()?
            .iter()
            .map(|c| (c.name.clone(), Some(c.type_name.clone())))
            .collect(),
        complete: true,
    })
}

/// The derived name and the type of a target expression.
fn expression(
    r: &Replayer,
    relations: &[Relation],
    expr: &SyntaxNode,
) -> Option<(Option<String>, String)> {
    match expr.kind() {
        K::NAME_REF => {
            let name = parts(expr).pop()?;
            // an unqualified name must be found in exactly one relation, all of them complete
            if relations.iter().any(|rel| !rel.complete) {
                return None;
            }
            let mut found = relations
                .iter()
                .flat_map(|rel| rel.columns.iter())
                .filter(|(n, _)| *n == name);
            let (_, type_name) = found.next()?;
            if found.next().is_some() {
                return None;
            }
            Some((Some(name), type_name.clone()?))
        }
        K::FIELD_EXPR => {
            let refs = children(expr, K::NAME_REF);
            let [alias, column] = refs.as_slice() else {
                return None;
            };
            let alias = parts(alias).pop()?;
            let column = parts(column).pop()?;
            let rel = relations.iter().find(|rel| rel.alias == alias)?;
            let (_, type_name) = rel.columns.iter().find(|(n, _)| *n == column)?;
            Some((Some(column), type_name.clone()?))
        }
        K::CAST_EXPR => {
            let type_node = expr.children().find(|n| is_type(n.kind()))?;
            let type_name = r.resolve_type(&written(&type_node))?;
            let inner = expr.children().find(|n| !is_type(n.kind()))?;
            let derived = match inner.kind() {
                K::NAME_REF | K::FIELD_EXPR => Some(expression(r, relations, &inner)?.0?),
                // PostgreSQL names `'x'::t` after the type's internal name (`int4`): the
                // caller refuses it without an `AS` name
                _ => None,
            };
            Some((derived, type_name))
        }
        K::LITERAL => {
            let token = expr
                .children_with_tokens()
                .filter_map(|e| e.into_token())
                .find(|t| !t.kind().is_trivia())?;
            let type_name = match token.kind() {
                K::INT_NUMBER => match token.text().parse::<i64>() {
                    Ok(n) if i32::try_from(n).is_ok() => "integer",
                    Ok(_) => "bigint",
                    Err(_) => "numeric",
                },
                K::NUMERIC_NUMBER => "numeric",
                K::STRING | K::NULL_KW => "text",
                K::TRUE_KW | K::FALSE_KW => "boolean",
                _ => return None,
            };
            Some((None, type_name.to_owned()))
        }
        _ => None,
    }
}
