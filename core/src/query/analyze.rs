//! Resolving one statement against the catalog: relations, columns, parameter types, result
//! columns and their nullability.

use squawk_syntax::{SyntaxKind as K, SyntaxNode, SyntaxToken};

use super::functions;
use super::{Analysis, OutputColumn, QueryError, without_typmod};
use crate::schema::builtins::{
    Arg, FunctionKind, SqlType, resolve_function, resolve_operator, select_common_type,
};
use crate::schema::names::{ident, parts};
use crate::schema::replay::{child, children, resolve_written};
use crate::schema::types::{is_type, written};
use crate::schema::{Catalog, Origin, Replay};
use crate::sql::{Source, node_start};
use crate::suggest::closest;

type Result<T> = std::result::Result<T, QueryError>;

/// Checks `sql` (one statement) against the schema `replay` built, whose unqualified names
/// resolve in its base schema and then `pg_catalog`, as on a connection whose `search_path` is
/// `[session] schema`. A name a migration dropped or renamed is refused naming that migration.
///
/// ```
/// use pgready_core::query::analyze;
/// use pgready_core::schema::replay_sql;
///
/// let schema = replay_sql("public", &[(
///     "1_init.sql",
///     "CREATE TABLE users (id bigserial PRIMARY KEY, email text NOT NULL, name text);\n\
///      CREATE TABLE orders (id bigserial PRIMARY KEY, user_id bigint NOT NULL REFERENCES users);",
/// )]);
/// let query = analyze(
///     "SELECT u.email, o.id AS order_id FROM users u LEFT JOIN orders o ON o.user_id = u.id \
///      WHERE u.id = $1",
///     &schema,
/// )
/// .unwrap();
/// assert_eq!(query.params, ["bigint"]);
/// assert_eq!(query.columns[0].name, "email");
/// assert!(query.columns[0].nullable.is_none());
/// assert_eq!(query.columns[1].type_name, "bigint");
/// // `orders` is on the nullable side of the LEFT JOIN
/// assert!(query.columns[1].nullable.is_some());
/// ```
pub fn analyze(sql: &str, replay: &Replay) -> Result<Analysis> {
    let catalog = &replay.catalog;
    let source = Source::parse(sql)
        .ok_or_else(|| QueryError::at(0, "the SQL parser failed on this query"))?;
    if let Some(error) = source.parse.errors().first() {
        return Err(QueryError::at(
            usize::from(error.range().start()),
            format!("does not parse: {}", error.message()),
        ));
    }
    let root = source.parse.syntax_node();
    let statements: Vec<SyntaxNode> = root
        .children()
        .filter(|n| n.kind() != K::EMPTY_STMT)
        .collect();
    let statement = match statements.as_slice() {
        [one] => one,
        [] => return Err(QueryError::at(0, "the query is empty")),
        [_, second, ..] => {
            return Err(QueryError::at(
                node_start(second),
                "a checked query is one statement: run several with a transaction",
            ));
        }
    };
    let mut cx = Cx {
        catalog,
        replay,
        search_path: vec![catalog.base_schema.clone(), "pg_catalog".to_owned()],
        params: Vec::new(),
        ctes: Vec::new(),
    };
    let columns = cx.statement(statement, None)?;
    let mut params = Vec::new();
    for (i, p) in cx.params.iter().enumerate() {
        match p {
            Param::Typed(t) => params.push(t.clone()),
            Param::Untyped(at) => {
                return Err(QueryError::at(
                    *at,
                    format!(
                        "cannot infer the type of ${n}: write it with a cast (`${n}::bigint`, \
                         `${n}::text`, …)",
                        n = i + 1
                    ),
                ));
            }
            Param::Unused => {
                return Err(QueryError::at(
                    0,
                    format!(
                        "${} is never used, so PostgreSQL cannot infer its type: use it or \
                         renumber the parameters",
                        i + 1
                    ),
                ));
            }
        }
    }
    Ok(Analysis {
        params,
        columns: columns
            .into_iter()
            .map(|c| OutputColumn {
                name: c.name,
                type_name: c.type_name,
                nullable: c.nullable,
                source: c.source,
            })
            .collect(),
    })
}

#[derive(Clone, Debug)]
enum Param {
    Unused,
    /// seen at this offset, type not inferred yet
    Untyped(usize),
    /// its type
    Typed(String),
}

/// A column of a relation in scope.
#[derive(Clone, Debug)]
struct Col {
    name: String,
    /// its type, or why it is unknown
    ty: std::result::Result<String, String>,
    /// `None`: never NULL; else why it can be
    nullable: Option<String>,
    /// the table column behind it
    source: Option<(String, String)>,
    /// hidden from `*` (the right side's `USING` columns)
    hidden: bool,
}

/// A relation in `FROM` (or the target of `INSERT`/`UPDATE`/`DELETE`).
#[derive(Clone, Debug)]
struct Rel {
    /// the name queries use for it
    alias: String,
    cols: Vec<Col>,
    /// the relation may have columns the model does not know, because of this statement
    incomplete: Option<Origin>,
    /// its columns are found only qualified (`excluded.name` in `ON CONFLICT`)
    qualified_only: bool,
    /// the table or view it is, `(schema, name)`: the migrations' history of its columns
    relation: Option<(String, String)>,
}

impl Rel {
    /// The relation on the nullable side of an outer join.
    fn outer(mut self, join: &str) -> Rel {
        for c in &mut self.cols {
            if c.nullable.is_none() {
                c.nullable = Some(format!(
                    "`{}` is on the nullable side of a {join}",
                    self.alias
                ));
            }
        }
        self
    }
}

/// The relations visible at a point of a query, and the enclosing query's (for correlated
/// subqueries).
struct Scope<'a> {
    rels: Vec<Rel>,
    outer: Option<&'a Scope<'a>>,
}

impl<'a> Scope<'a> {
    fn new(rels: Vec<Rel>, outer: Option<&'a Scope<'a>>) -> Scope<'a> {
        Scope { rels, outer }
    }
}

/// A typed expression.
#[derive(Clone, Debug)]
struct Ty {
    kind: T,
    /// `None`: never NULL; else why it can be
    nullable: Option<String>,
    /// the column name PostgreSQL gives it in a target list, and how strongly (FigureColname:
    /// 2 for a column or function name, 1 for a type name, 0 for none)
    name: Option<(String, u8)>,
    source: Option<(String, String)>,
}

#[derive(Clone, Debug, PartialEq)]
enum T {
    Known(String),
    /// `$n` (0-based), type not known yet
    Param(usize),
    /// a string literal: its type comes from its context, `text` if none
    Literal,
    /// `NULL`
    Null,
}

impl Ty {
    fn known(t: impl Into<String>, nullable: Option<String>) -> Ty {
        Ty {
            kind: T::Known(t.into()),
            nullable,
            name: None,
            source: None,
        }
    }

    fn named(mut self, name: &str, strength: u8) -> Ty {
        self.name = Some((name.to_owned(), strength));
        self
    }

    fn non_null(&self) -> bool {
        self.nullable.is_none()
    }
}

/// A result column before it leaves the module.
struct Out {
    name: String,
    type_name: String,
    nullable: Option<String>,
    source: Option<(String, String)>,
}

struct Cx<'c> {
    catalog: &'c Catalog,
    replay: &'c Replay,
    search_path: Vec<String>,
    params: Vec<Param>,
    /// `WITH` names in scope, innermost last
    ctes: Vec<(String, Vec<Col>)>,
}

fn start(node: &SyntaxNode) -> usize {
    node_start(node)
}

fn tokens(node: &SyntaxNode) -> impl Iterator<Item = SyntaxToken> {
    node.descendants_with_tokens()
        .filter_map(|e| e.into_token())
        .filter(|t| !t.kind().is_trivia())
}

fn first_token(node: &SyntaxNode) -> Option<SyntaxToken> {
    tokens(node).next()
}

/// Whether a node is an expression (as opposed to an operator node between two).
fn is_expr(kind: K) -> bool {
    matches!(
        kind,
        K::NAME_REF
            | K::FIELD_EXPR
            | K::LITERAL
            | K::CAST_EXPR
            | K::BIN_EXPR
            | K::PREFIX_EXPR
            | K::POSTFIX_EXPR
            | K::CALL_EXPR
            | K::CASE_EXPR
            | K::PAREN_EXPR
            | K::TUPLE_EXPR
            | K::ARRAY_EXPR
            | K::BETWEEN_EXPR
            | K::INDEX_EXPR
            | K::SLICE_EXPR
            | K::SELECT
            | K::PAREN_SELECT
    )
}

/// Whether a node is a query (`SELECT`, a `UNION` of them, in parentheses).
fn is_query(kind: K) -> bool {
    matches!(kind, K::SELECT | K::COMPOUND_SELECT | K::PAREN_SELECT)
}

fn upper_words(text: &str) -> String {
    text.split_whitespace()
        .map(str::to_uppercase)
        .collect::<Vec<_>>()
        .join(" ")
}

impl Cx<'_> {
    // ---- statements -------------------------------------------------------------------------

    fn statement(&mut self, node: &SyntaxNode, outer: Option<&Scope<'_>>) -> Result<Vec<Out>> {
        match node.kind() {
            K::SELECT | K::COMPOUND_SELECT | K::PAREN_SELECT => self.query(node, outer),
            K::INSERT => self.insert(node),
            K::UPDATE => self.update(node),
            K::DELETE => self.delete(node),
            kind => Err(QueryError::at(
                start(node),
                format!(
                    "pgready checks SELECT, INSERT, UPDATE and DELETE; this is {}: run it with \
                     `sqlx::query` (unchecked)",
                    crate::schema::replay::kind_words(kind)
                ),
            )),
        }
    }

    /// A query that returns rows: `SELECT`, a `UNION`/`INTERSECT`/`EXCEPT` of them, in
    /// parentheses.
    fn query(&mut self, node: &SyntaxNode, outer: Option<&Scope<'_>>) -> Result<Vec<Out>> {
        match node.kind() {
            K::SELECT => self.select(node, outer),
            K::PAREN_SELECT => {
                let inner = node
                    .children()
                    .find(|n| is_query(n.kind()))
                    .ok_or_else(|| QueryError::at(start(node), "an empty subquery"))?;
                self.query(&inner, outer)
            }
            K::COMPOUND_SELECT => self.compound(node, outer),
            _ => Err(QueryError::at(
                start(node),
                "pgready cannot check this kind of query: use `sqlx::query` (unchecked)",
            )),
        }
    }

    fn compound(&mut self, node: &SyntaxNode, outer: Option<&Scope<'_>>) -> Result<Vec<Out>> {
        let branches: Vec<SyntaxNode> = node.children().filter(|n| is_query(n.kind())).collect();
        let mut result: Option<Vec<Out>> = None;
        for branch in &branches {
            let cols = self.query(branch, outer)?;
            let Some(first) = &mut result else {
                result = Some(cols);
                continue;
            };
            if cols.len() != first.len() {
                return Err(QueryError::at(
                    start(branch),
                    format!(
                        "each side of a UNION/INTERSECT/EXCEPT must have the same number of \
                         columns: {} here, {} in the first",
                        cols.len(),
                        first.len()
                    ),
                ));
            }
            for (f, c) in first.iter_mut().zip(cols) {
                if f.type_name != c.type_name && comparable(&f.type_name, &c.type_name) {
                    f.type_name = wider(&f.type_name, &c.type_name);
                } else if f.type_name != c.type_name {
                    return Err(QueryError::at(
                        start(branch),
                        format!(
                            "column `{}` is `{}` in the first branch and `{}` here: cast one \
                             side so both have the same type",
                            f.name, f.type_name, c.type_name
                        ),
                    ));
                }
                if f.nullable.is_none() {
                    f.nullable = c.nullable;
                }
                if f.source != c.source {
                    f.source = None;
                }
            }
        }
        result.ok_or_else(|| QueryError::at(start(node), "an empty UNION"))
    }

    fn with(&mut self, node: &SyntaxNode, outer: Option<&Scope<'_>>) -> Result<usize> {
        let Some(with) = child(node, K::WITH_CLAUSE) else {
            return Ok(0);
        };
        if with
            .children_with_tokens()
            .any(|e| e.kind() == K::RECURSIVE_KW)
        {
            return Err(QueryError::at(
                start(&with),
                "pgready does not check `WITH RECURSIVE` yet: use `sqlx::query` (unchecked)",
            ));
        }
        let mut pushed = 0;
        for table in children(&with, K::WITH_TABLE) {
            let name = child(&table, K::CTE_NAME)
                .map(|n| parts(&n).join("."))
                .ok_or_else(|| QueryError::at(start(&table), "a WITH query without a name"))?;
            let body = table
                .children()
                .find(|n| {
                    matches!(
                        n.kind(),
                        K::SELECT
                            | K::COMPOUND_SELECT
                            | K::PAREN_SELECT
                            | K::INSERT
                            | K::UPDATE
                            | K::DELETE
                    )
                })
                .ok_or_else(|| QueryError::at(start(&table), "a WITH query without a body"))?;
            let cols = self.statement(&body, outer)?;
            let renamed: Vec<String> = table
                .children()
                .find(|n| n.kind() == K::COLUMN_LIST)
                .map(|list| list.children().map(|c| parts(&c).join(".")).collect())
                .unwrap_or_default();
            let cols = cols
                .into_iter()
                .enumerate()
                .map(|(i, c)| Col {
                    name: renamed.get(i).cloned().unwrap_or(c.name),
                    ty: Ok(c.type_name),
                    nullable: c.nullable,
                    source: c.source,
                    hidden: false,
                })
                .collect();
            self.ctes.push((name, cols));
            pushed += 1;
        }
        Ok(pushed)
    }

    fn select(&mut self, node: &SyntaxNode, outer: Option<&Scope<'_>>) -> Result<Vec<Out>> {
        let pushed = self.with(node, outer)?;
        let result = self.select_body(node, outer);
        self.ctes.truncate(self.ctes.len() - pushed);
        result
    }

    fn select_body(&mut self, node: &SyntaxNode, outer: Option<&Scope<'_>>) -> Result<Vec<Out>> {
        for unsupported in [K::INTO_CLAUSE, K::LOCKING_CLAUSE] {
            if let Some(n) = child(node, unsupported)
                && unsupported == K::INTO_CLAUSE
            {
                return Err(QueryError::at(
                    start(&n),
                    "`SELECT … INTO` creates a table: not a checked query",
                ));
            }
        }
        let rels = match child(node, K::FROM_CLAUSE) {
            Some(from) => self.from(&from, outer)?,
            None => Vec::new(),
        };
        let scope = Scope::new(rels, outer);
        if let Some(w) = child(node, K::WHERE_CLAUSE) {
            self.condition(&w, &scope)?;
        }
        let clause = child(node, K::SELECT_CLAUSE)
            .ok_or_else(|| QueryError::at(start(node), "a SELECT without a target list"))?;
        if let Some(distinct) = child(&clause, K::DISTINCT_CLAUSE) {
            for e in distinct
                .descendants()
                .filter(|n| n.parent().is_some_and(|p| p.kind() == K::DISTINCT_ON))
                .filter(|n| is_expr(n.kind()))
            {
                self.expr(&e, &scope)?;
            }
        }
        let out = match child(&clause, K::TARGET_LIST) {
            Some(list) => self.targets(&list, &scope)?,
            None => Vec::new(),
        };
        if let Some(group) = child(node, K::GROUP_BY_CLAUSE) {
            for e in group.descendants().filter(|n| n.kind() == K::GROUPING_EXPR) {
                if let Some(expr) = e.children().find(|n| is_expr(n.kind())) {
                    self.order_item(&expr, &scope, &out)?;
                }
            }
        }
        if let Some(having) = child(node, K::HAVING_CLAUSE) {
            self.condition(&having, &scope)?;
        }
        if let Some(order) = child(node, K::ORDER_BY_CLAUSE) {
            for sort in order.descendants().filter(|n| n.kind() == K::SORT_BY) {
                if let Some(expr) = sort.children().find(|n| is_expr(n.kind())) {
                    self.order_item(&expr, &scope, &out)?;
                }
            }
        }
        for clause in [K::LIMIT_CLAUSE, K::OFFSET_CLAUSE, K::FETCH_CLAUSE] {
            if let Some(c) = child(node, clause) {
                for e in c.children().filter(|n| is_expr(n.kind())) {
                    let ty = self.expr(&e, &scope)?;
                    self.coerce(&ty, "bigint", start(&e))?;
                }
            }
        }
        Ok(out)
    }

    /// An `ORDER BY` / `GROUP BY` item: an expression, an output column's name or position.
    fn order_item(&mut self, expr: &SyntaxNode, scope: &Scope<'_>, out: &[Out]) -> Result<()> {
        if expr.kind() == K::LITERAL && first_token(expr).is_some_and(|t| t.kind() == K::INT_NUMBER)
        {
            return Ok(());
        }
        if expr.kind() == K::NAME_REF {
            let name = parts(expr).join(".");
            if out.iter().any(|c| c.name == name) && self.expr(expr, scope).is_err() {
                return Ok(());
            }
        }
        self.expr(expr, scope).map(|_| ())
    }

    fn condition(&mut self, clause: &SyntaxNode, scope: &Scope<'_>) -> Result<()> {
        if let Some(e) = clause.children().find(|n| is_expr(n.kind())) {
            let ty = self.expr(&e, scope)?;
            self.coerce(&ty, "boolean", start(&e))?;
        }
        Ok(())
    }

    fn targets(&mut self, list: &SyntaxNode, scope: &Scope<'_>) -> Result<Vec<Out>> {
        let mut out = Vec::new();
        for target in children(list, K::TARGET) {
            let star = target.children_with_tokens().any(|e| e.kind() == K::STAR);
            if star {
                self.star(scope, None, &target, &mut out)?;
                continue;
            }
            let expr = target
                .children()
                .find(|n| n.kind() != K::AS_NAME)
                .ok_or_else(|| QueryError::at(start(&target), "an empty target"))?;
            if expr.kind() == K::FIELD_EXPR
                && expr.children_with_tokens().any(|e| e.kind() == K::STAR)
            {
                let alias = expr
                    .children()
                    .find(|n| n.kind() == K::NAME_REF)
                    .map(|n| parts(&n).join("."));
                self.star(scope, alias.as_deref(), &expr, &mut out)?;
                continue;
            }
            let given = child(&target, K::AS_NAME)
                .and_then(|a| a.children().next())
                .map(|n| parts(&n).join("."));
            let ty = self.expr(&expr, scope)?;
            let type_name = self.output_type(&ty, start(&expr))?;
            out.push(Out {
                name: given
                    .or(ty.name.map(|(n, _)| n))
                    .unwrap_or_else(|| "?column?".to_owned()),
                type_name,
                nullable: ty.nullable,
                source: ty.source,
            });
        }
        Ok(out)
    }

    fn star(
        &self,
        scope: &Scope<'_>,
        alias: Option<&str>,
        at: &SyntaxNode,
        out: &mut Vec<Out>,
    ) -> Result<()> {
        let mut found = false;
        for rel in &scope.rels {
            if alias.is_some_and(|a| a != rel.alias) {
                continue;
            }
            found = true;
            if let Some(origin) = &rel.incomplete {
                return Err(QueryError::at(
                    start(at),
                    format!(
                        "the columns of `{}` are unknown because of `{origin}` (a statement \
                         pgready cannot replay): list the columns instead of `*`",
                        rel.alias
                    ),
                ));
            }
            for c in rel.cols.iter().filter(|c| alias.is_some() || !c.hidden) {
                let type_name = c.ty.clone().map_err(|why| {
                    QueryError::at(
                        start(at),
                        format!("the type of `{}.{}` is unknown: {why}", rel.alias, c.name),
                    )
                })?;
                out.push(Out {
                    name: c.name.clone(),
                    type_name: without_typmod(&type_name),
                    nullable: c.nullable.clone(),
                    source: c.source.clone(),
                });
            }
        }
        if !found {
            let Some(alias) = alias else {
                return Err(QueryError::at(
                    start(at),
                    "`SELECT *` with no FROM: name the columns",
                ));
            };
            return Err(self.unknown_relation(alias, scope, start(at)));
        }
        Ok(())
    }

    // ---- FROM --------------------------------------------------------------------------------

    fn from(&mut self, from: &SyntaxNode, outer: Option<&Scope<'_>>) -> Result<Vec<Rel>> {
        let mut rels = Vec::new();
        for item in from.children() {
            rels.extend(self.source_item(&item, outer)?);
        }
        Ok(rels)
    }

    fn source_item(&mut self, item: &SyntaxNode, outer: Option<&Scope<'_>>) -> Result<Vec<Rel>> {
        match item.kind() {
            K::RELATION_FROM_ITEM => {
                if item.children_with_tokens().any(|e| e.kind() == K::ONLY_KW) {
                    // `ONLY t` reads the same columns
                }
                let name = child(item, K::RELATION_NAME_REF)
                    .ok_or_else(|| QueryError::at(start(item), "a FROM item without a name"))?;
                let alias = self.alias(item)?;
                Ok(vec![self.relation(&name, alias, outer)?])
            }
            K::PAREN_FROM_ITEM => {
                if let Some(select) = child(item, K::PAREN_SELECT) {
                    let cols = self.query(&select, outer)?;
                    let alias = self.alias(item)?.ok_or_else(|| {
                        QueryError::at(start(item), "a subquery in FROM needs an alias")
                    })?;
                    Ok(vec![Rel {
                        alias,
                        cols: cols
                            .into_iter()
                            .map(|c| Col {
                                name: c.name,
                                ty: Ok(c.type_name),
                                nullable: c.nullable,
                                source: c.source,
                                hidden: false,
                            })
                            .collect(),
                        incomplete: None,
                        qualified_only: false,
                        relation: None,
                    }])
                } else if let Some(inner) = item.children().find(|n| {
                    matches!(
                        n.kind(),
                        K::JOIN_EXPR | K::RELATION_FROM_ITEM | K::PAREN_FROM_ITEM
                    )
                }) {
                    self.source_item(&inner, outer)
                } else {
                    Err(unsupported_from(item))
                }
            }
            K::JOIN_EXPR => self.join(item, outer),
            _ => Err(unsupported_from(item)),
        }
    }

    fn alias(&self, item: &SyntaxNode) -> Result<Option<String>> {
        let Some(alias) = child(item, K::FROM_ALIAS) else {
            return Ok(None);
        };
        if alias.children().any(|n| n.kind() == K::COLUMN_LIST) {
            return Err(QueryError::at(
                start(&alias),
                "pgready does not check column aliases in FROM (`t(a, b)`): name the columns \
                 with `AS` in the target list",
            ));
        }
        Ok(child(&alias, K::TABLE_ALIAS).and_then(|a| parts(&a).pop()))
    }

    fn join(&mut self, node: &SyntaxNode, outer: Option<&Scope<'_>>) -> Result<Vec<Rel>> {
        let left_node = node
            .children()
            .find(|n| n.kind() != K::JOIN)
            .ok_or_else(|| QueryError::at(start(node), "a JOIN without a left side"))?;
        let mut left = self.source_item(&left_node, outer)?;
        let join = child(node, K::JOIN)
            .ok_or_else(|| QueryError::at(start(node), "a JOIN without a right side"))?;
        let kind = join
            .children()
            .find(|n| {
                matches!(
                    n.kind(),
                    K::JOIN_INNER | K::JOIN_LEFT | K::JOIN_RIGHT | K::JOIN_FULL | K::JOIN_CROSS
                )
            })
            .map(|n| n.kind());
        if join
            .children_with_tokens()
            .any(|e| e.kind() == K::LATERAL_KW)
            || tokens(&join).any(|t| t.kind() == K::LATERAL_KW)
        {
            return Err(QueryError::at(
                start(&join),
                "pgready does not check LATERAL joins yet: use `sqlx::query` (unchecked)",
            ));
        }
        let right_node = join
            .children()
            .find(|n| {
                matches!(
                    n.kind(),
                    K::RELATION_FROM_ITEM | K::PAREN_FROM_ITEM | K::JOIN_EXPR
                )
            })
            .ok_or_else(|| QueryError::at(start(&join), "a JOIN without a right side"))?;
        let mut right = self.source_item(&right_node, outer)?;
        let natural = tokens(&join).any(|t| t.kind() == K::NATURAL_KW);
        if natural {
            return Err(QueryError::at(
                start(&join),
                "pgready does not check NATURAL joins: join `ON` or `USING` the columns",
            ));
        }
        if let Some(using) = child(&join, K::JOIN_USING_CLAUSE) {
            for name in using
                .descendants()
                .filter(|n| n.kind() == K::COLUMN_NAME_REF)
            {
                let column = parts(&name).join(".");
                let in_left = left.iter().any(|r| r.cols.iter().any(|c| c.name == column));
                let mut in_right = false;
                for rel in &mut right {
                    for c in rel.cols.iter_mut().filter(|c| c.name == column) {
                        c.hidden = true;
                        in_right = true;
                    }
                }
                if !(in_left && in_right) {
                    return Err(QueryError::at(
                        start(&name),
                        format!("column `{column}` of USING is not on both sides of the join"),
                    ));
                }
            }
        }
        let (left_null, right_null) = match kind {
            Some(K::JOIN_LEFT) => (false, true),
            Some(K::JOIN_RIGHT) => (true, false),
            Some(K::JOIN_FULL) => (true, true),
            _ => (false, false),
        };
        let join_words = match kind {
            Some(K::JOIN_LEFT) => "LEFT JOIN",
            Some(K::JOIN_RIGHT) => "RIGHT JOIN",
            _ => "FULL JOIN",
        };
        if let Some(on) = child(&join, K::ON_CLAUSE) {
            let mut both = left.clone();
            both.extend(right.iter().cloned());
            let scope = Scope::new(both, outer);
            self.condition(&on, &scope)?;
        }
        if left_null {
            left = left.into_iter().map(|r| r.outer(join_words)).collect();
        }
        if right_null {
            right = right.into_iter().map(|r| r.outer(join_words)).collect();
        }
        left.extend(right);
        Ok(left)
    }

    /// A table, view or `WITH` name, as a relation.
    fn relation(
        &self,
        name: &SyntaxNode,
        alias: Option<String>,
        outer: Option<&Scope<'_>>,
    ) -> Result<Rel> {
        let parts = parts(name);
        let shown = parts.join(".");
        let at = start(name);
        if parts.len() == 1
            && let Some((_, cols)) = self.ctes.iter().rev().find(|(n, _)| *n == parts[0])
        {
            return Ok(Rel {
                alias: alias.unwrap_or_else(|| parts[0].clone()),
                cols: cols.clone(),
                incomplete: None,
                qualified_only: false,
                relation: None,
            });
        }
        let alias = alias.unwrap_or_else(|| parts.last().cloned().unwrap_or_default());
        let (schema_name, rel_name) = match parts.as_slice() {
            [one] => (None, one.clone()),
            [schema, one] => (Some(schema.clone()), one.clone()),
            _ => {
                return Err(QueryError::at(
                    at,
                    format!("`{shown}`: a relation name is `table` or `schema.table`"),
                ));
            }
        };
        let schemas: Vec<String> = match schema_name {
            Some(s) => vec![s],
            None => self.search_path.clone(),
        };
        for schema in &schemas {
            let Some(s) = self.catalog.schemas.get(schema) else {
                continue;
            };
            if let Some(table) = s.tables.get(&rel_name) {
                let qualified = qualified(&self.catalog.base_schema, schema, &rel_name);
                let cols = table
                    .columns
                    .iter()
                    .map(|c| Col {
                        name: c.name.clone(),
                        ty: match (&c.uncertain, &c.type_name) {
                            (Some(origin), _) => Err(format!(
                                "`{origin}` may have changed it (a statement pgready cannot \
                                 replay): cast it (`{}::type`)",
                                c.name
                            )),
                            (None, Some(t)) => Ok(t.clone()),
                            (None, None) => Err(format!(
                                "pgready cannot name its type: cast it (`{}::type`)",
                                c.name
                            )),
                        },
                        nullable: (!c.not_null)
                            .then(|| format!("column `{qualified}.{}` is nullable", c.name)),
                        source: Some((qualified.clone(), c.name.clone())),
                        hidden: false,
                    })
                    .collect();
                return Ok(Rel {
                    alias,
                    cols,
                    incomplete: table.uncertain.clone(),
                    qualified_only: false,
                    relation: Some((schema.clone(), rel_name.clone())),
                });
            }
            if let Some(view) = s.views.get(&rel_name) {
                let qualified = qualified(&self.catalog.base_schema, schema, &rel_name);
                if let Some(origin) = &view.uncertain {
                    return Err(QueryError::at(
                        at,
                        format!(
                            "view `{qualified}` is unknown because of `{origin}` (a statement \
                             pgready cannot replay)"
                        ),
                    ));
                }
                let Some(columns) = &view.columns else {
                    return Err(QueryError::at(
                        at,
                        format!(
                            "the columns of view `{qualified}` are beyond what pgready derives \
                             from its query: read it with `sqlx::query` (unchecked)"
                        ),
                    ));
                };
                let cols = columns
                    .iter()
                    .map(|c| Col {
                        name: c.name.clone(),
                        ty: Ok(c.type_name.clone()),
                        nullable: Some(format!(
                            "`{qualified}.{}` is a view's column (PostgreSQL records no NOT NULL \
                             for views)",
                            c.name
                        )),
                        source: Some((qualified.clone(), c.name.clone())),
                        hidden: false,
                    })
                    .collect();
                return Ok(Rel {
                    alias,
                    cols,
                    incomplete: None,
                    qualified_only: false,
                    relation: Some((schema.clone(), rel_name.clone())),
                });
            }
        }
        let mut names: Vec<&str> = Vec::new();
        for schema in &self.search_path {
            if let Some(s) = self.catalog.schemas.get(schema) {
                names.extend(s.tables.keys().map(String::as_str));
                names.extend(s.views.keys().map(String::as_str));
            }
        }
        names.extend(self.ctes.iter().map(|(n, _)| n.as_str()));
        let _ = outer;
        let suggestion = did_you_mean(&rel_name, names);
        for schema in &schemas {
            if let Some(note) = self.history(&(schema.clone(), rel_name.clone()), None) {
                return Err(QueryError::at(at, format!("relation `{shown}` {note}")));
            }
        }
        if let Some(origin) = self.catalog.unknown_objects.last() {
            return Err(QueryError::at(
                at,
                format!(
                    "relation `{shown}` does not exist in what pgready can replay, and is \
                     unknown because of `{origin}` (a statement it cannot replay, which may \
                     have created it){suggestion}"
                ),
            ));
        }
        Err(QueryError::at(
            at,
            format!(
                "relation `{shown}` does not exist in the schema the migrations build{suggestion}"
            ),
        ))
    }

    /// What the migrations did to a relation or column that is not there.
    fn history(&self, relation: &(String, String), column: Option<&str>) -> Option<String> {
        self.replay.fate(relation, column)
    }

    fn unknown_relation(&self, alias: &str, scope: &Scope<'_>, at: usize) -> QueryError {
        let names: Vec<&str> = scope.rels.iter().map(|r| r.alias.as_str()).collect();
        QueryError::at(
            at,
            format!(
                "no relation `{alias}` in FROM{}",
                did_you_mean(alias, names)
            ),
        )
    }

    // ---- INSERT / UPDATE / DELETE ------------------------------------------------------------

    /// The target of `INSERT`/`UPDATE`/`DELETE`: a table (not a view: pgready does not check
    /// writes through views).
    fn target(&self, node: &SyntaxNode) -> Result<Rel> {
        let name = node
            .descendants()
            .find(|n| n.kind() == K::RELATION_NAME_REF)
            .ok_or_else(|| QueryError::at(start(node), "a statement without a table"))?;
        let alias = child(node, K::OPTIONAL_AS_ALIAS)
            .or_else(|| child(node, K::REQUIRED_AS_ALIAS))
            .and_then(|a| child(&a, K::TABLE_ALIAS))
            .and_then(|a| parts(&a).pop());
        let rel = self.relation(&name, alias, None)?;
        if rel.cols.iter().any(|c| {
            c.nullable
                .as_deref()
                .is_some_and(|why| why.contains("a view's column"))
        }) {
            return Err(QueryError::at(
                start(&name),
                "pgready checks writes to tables, not views: write to the table",
            ));
        }
        Ok(rel)
    }

    fn column_of<'r>(&self, rel: &'r Rel, name: &SyntaxNode) -> Result<&'r Col> {
        let column = parts(name).pop().unwrap_or_default();
        match rel.cols.iter().find(|c| c.name == column) {
            Some(c) => Ok(c),
            None => Err(QueryError::at(
                start(name),
                match &rel.incomplete {
                    Some(origin) => format!(
                        "column `{column}` of `{}` is unknown because of `{origin}` (a \
                         statement pgready cannot replay)",
                        rel.alias
                    ),
                    None => match rel
                        .relation
                        .as_ref()
                        .and_then(|r| self.history(r, Some(&column)))
                    {
                        Some(note) => format!("column `{column}` of `{}` {note}", rel.alias),
                        None => format!(
                            "`{}` has no column `{column}`{}",
                            rel.alias,
                            did_you_mean(&column, rel.cols.iter().map(|c| c.name.as_str()))
                        ),
                    },
                },
            )),
        }
    }

    fn col_type(&self, col: &Col, at: usize) -> Result<String> {
        col.ty.clone().map(|t| without_typmod(&t)).map_err(|why| {
            QueryError::at(at, format!("the type of `{}` is unknown: {why}", col.name))
        })
    }

    fn insert(&mut self, node: &SyntaxNode) -> Result<Vec<Out>> {
        let pushed = self.with(node, None)?;
        let result = self.insert_body(node);
        self.ctes.truncate(self.ctes.len() - pushed);
        result
    }

    fn insert_body(&mut self, node: &SyntaxNode) -> Result<Vec<Out>> {
        let rel = self.target(node)?;
        let targets: Vec<Col> = match child(node, K::COLUMN_TARGET_LIST) {
            Some(list) => list
                .descendants()
                .filter(|n| n.kind() == K::COLUMN_NAME_REF)
                .map(|n| self.column_of(&rel, &n).cloned())
                .collect::<Result<_>>()?,
            None => {
                if let Some(origin) = &rel.incomplete {
                    return Err(QueryError::at(
                        start(node),
                        format!(
                            "the columns of `{}` are unknown because of `{origin}`: list the \
                             columns to insert",
                            rel.alias
                        ),
                    ));
                }
                rel.cols.clone()
            }
        };
        let empty = Scope::new(Vec::new(), None);
        if let Some(values) = child(node, K::VALUES) {
            for row in values.descendants().filter(|n| n.kind() == K::ROW) {
                let exprs: Vec<SyntaxNode> = row.children().filter(|n| is_expr(n.kind())).collect();
                if exprs.len() > targets.len() {
                    return Err(QueryError::at(
                        start(&row),
                        format!(
                            "INSERT has more expressions ({}) than target columns ({})",
                            exprs.len(),
                            targets.len()
                        ),
                    ));
                }
                for (e, col) in exprs.iter().zip(&targets) {
                    if e.kind() == K::LITERAL
                        && first_token(e).is_some_and(|t| t.kind() == K::DEFAULT_KW)
                    {
                        continue;
                    }
                    let want = self.col_type(col, start(e))?;
                    let ty = self.expr(e, &empty)?;
                    self.assign(&ty, &want, start(e), &col.name)?;
                }
            }
        } else if let Some(select) = node.children().find(|n| is_query(n.kind())) {
            let cols = self.query(&select, None)?;
            if cols.len() > targets.len() {
                return Err(QueryError::at(
                    start(&select),
                    "INSERT has more expressions than target columns",
                ));
            }
        } else if !tokens(node).any(|t| t.kind() == K::DEFAULT_KW) {
            return Err(QueryError::at(
                start(node),
                "pgready checks INSERT … VALUES, INSERT … SELECT and DEFAULT VALUES",
            ));
        }
        if let Some(conflict) = child(node, K::ON_CONFLICT_CLAUSE) {
            let mut excluded = rel.clone();
            excluded.alias = "excluded".to_owned();
            excluded.qualified_only = true;
            let target_only = Scope::new(vec![rel.clone()], None);
            for name in conflict
                .descendants()
                .filter(|n| n.kind() == K::CONFLICT_INDEX_ITEM)
                .filter_map(|item| item.children().find(|n| is_expr(n.kind())))
            {
                self.expr(&name, &target_only)?;
            }
            let scope = Scope::new(vec![rel.clone(), excluded], None);
            if let Some(set) = conflict.descendants().find(|n| n.kind() == K::SET_CLAUSE) {
                self.set_clause(&set, &rel, &scope)?;
            }
            for w in conflict
                .descendants()
                .filter(|n| n.kind() == K::WHERE_CLAUSE)
            {
                self.condition(&w, &scope)?;
            }
        }
        self.returning(node, vec![rel])
    }

    fn set_clause(&mut self, set: &SyntaxNode, rel: &Rel, scope: &Scope<'_>) -> Result<()> {
        for item in set
            .descendants()
            .filter(|n| matches!(n.kind(), K::SET_SINGLE_COLUMN | K::SET_MULTIPLE_COLUMNS))
        {
            if item.kind() == K::SET_MULTIPLE_COLUMNS {
                return Err(QueryError::at(
                    start(&item),
                    "pgready does not check `SET (a, b) = (…)`: set each column",
                ));
            }
            let name = item
                .descendants()
                .find(|n| n.kind() == K::COLUMN_NAME_REF)
                .ok_or_else(|| QueryError::at(start(&item), "SET without a column"))?;
            let col = self.column_of(rel, &name)?.clone();
            let want = self.col_type(&col, start(&name))?;
            let Some(value) = child(&item, K::SET_EXPR).and_then(|e| e.children().next()) else {
                continue;
            };
            if value.kind() == K::LITERAL
                && first_token(&value).is_some_and(|t| t.kind() == K::DEFAULT_KW)
            {
                continue;
            }
            let ty = self.expr(&value, scope)?;
            self.assign(&ty, &want, start(&value), &col.name)?;
        }
        Ok(())
    }

    fn update(&mut self, node: &SyntaxNode) -> Result<Vec<Out>> {
        let pushed = self.with(node, None)?;
        let result = self.update_body(node);
        self.ctes.truncate(self.ctes.len() - pushed);
        result
    }

    fn update_body(&mut self, node: &SyntaxNode) -> Result<Vec<Out>> {
        let rel = self.target(node)?;
        let mut rels = vec![rel.clone()];
        if let Some(from) = child(node, K::FROM_CLAUSE) {
            rels.extend(self.from(&from, None)?);
        }
        let scope = Scope::new(rels.clone(), None);
        if let Some(set) = child(node, K::SET_CLAUSE) {
            self.set_clause(&set, &rel, &scope)?;
        }
        if let Some(w) = child(node, K::WHERE_CLAUSE) {
            self.condition(&w, &scope)?;
        }
        self.returning(node, rels)
    }

    fn delete(&mut self, node: &SyntaxNode) -> Result<Vec<Out>> {
        let pushed = self.with(node, None)?;
        let result = self.delete_body(node);
        self.ctes.truncate(self.ctes.len() - pushed);
        result
    }

    fn delete_body(&mut self, node: &SyntaxNode) -> Result<Vec<Out>> {
        let rel = self.target(node)?;
        let mut rels = vec![rel];
        if let Some(using) = child(node, K::USING_CLAUSE) {
            for item in using.children() {
                rels.extend(self.source_item(&item, None)?);
            }
        }
        let scope = Scope::new(rels.clone(), None);
        if let Some(w) = child(node, K::WHERE_CLAUSE) {
            self.condition(&w, &scope)?;
        }
        self.returning(node, rels)
    }

    fn returning(&mut self, node: &SyntaxNode, rels: Vec<Rel>) -> Result<Vec<Out>> {
        let Some(returning) = child(node, K::RETURNING_CLAUSE) else {
            return Ok(Vec::new());
        };
        let scope = Scope::new(rels, None);
        match child(&returning, K::TARGET_LIST) {
            Some(list) => self.targets(&list, &scope),
            None => Ok(Vec::new()),
        }
    }

    // ---- parameters and coercion -------------------------------------------------------------

    fn param(&mut self, n: usize, at: usize) -> Ty {
        if self.params.len() <= n {
            self.params.resize(n + 1, Param::Unused);
        }
        let kind = match &self.params[n] {
            Param::Typed(t) => T::Known(t.clone()),
            Param::Unused => {
                self.params[n] = Param::Untyped(at);
                T::Param(n)
            }
            Param::Untyped(_) => T::Param(n),
        };
        Ty {
            kind,
            // sqlx binds `Option<T>` as happily as `T`: a parameter can be NULL
            nullable: Some(format!("${} can be bound to NULL", n + 1)),
            name: None,
            source: None,
        }
    }

    fn set_param(&mut self, n: usize, type_name: &str, at: usize) -> Result<()> {
        let type_name = without_typmod(type_name);
        match &self.params[n] {
            Param::Typed(t) if *t != type_name => Err(QueryError::at(
                at,
                format!(
                    "${} is used as `{t}` and as `{type_name}`: cast one use so both agree",
                    n + 1
                ),
            )),
            Param::Typed(..) => Ok(()),
            Param::Untyped(_) | Param::Unused => {
                self.params[n] = Param::Typed(type_name);
                Ok(())
            }
        }
    }

    /// `ty` where a `want` is needed: a parameter takes the type; a literal or NULL is read as
    /// one; a typed value must be of that type's family.
    fn coerce(&mut self, ty: &Ty, want: &str, at: usize) -> Result<String> {
        match &ty.kind {
            T::Param(n) => {
                self.set_param(*n, want, at)?;
                Ok(want.to_owned())
            }
            T::Literal | T::Null => Ok(want.to_owned()),
            T::Known(t) => Ok(t.clone()),
        }
    }

    /// A value assigned to a column (`INSERT` values, `SET`): a parameter takes the column's
    /// type.
    fn assign(&mut self, ty: &Ty, want: &str, at: usize, column: &str) -> Result<()> {
        let _ = column;
        self.coerce(ty, want, at).map(|_| ())
    }

    /// The type a result column has: a literal alone is `text`, as PostgreSQL resolves it; a
    /// parameter must be typed by now.
    fn output_type(&self, ty: &Ty, at: usize) -> Result<String> {
        match &ty.kind {
            T::Known(t) => Ok(without_typmod(t)),
            T::Literal | T::Null => Ok("text".to_owned()),
            T::Param(n) => match &self.params[*n] {
                Param::Typed(t) => Ok(t.clone()),
                _ => Err(QueryError::at(
                    at,
                    format!(
                        "cannot infer the type of ${n}: write it with a cast (`${n}::text`, …)",
                        n = n + 1
                    ),
                )),
            },
        }
    }

    /// The type of an operand that must be known to type what uses it.
    fn resolved(&self, ty: &Ty) -> Option<String> {
        match &ty.kind {
            T::Known(t) => Some(without_typmod(t)),
            T::Param(n) => match &self.params[*n] {
                Param::Typed(t) => Some(t.clone()),
                _ => None,
            },
            _ => None,
        }
    }

    // ---- expressions -------------------------------------------------------------------------

    fn expr(&mut self, node: &SyntaxNode, scope: &Scope<'_>) -> Result<Ty> {
        let at = start(node);
        match node.kind() {
            K::LITERAL => self.literal(node),
            K::NAME_REF => self.name_ref(node, scope),
            K::FIELD_EXPR => self.field(node, scope),
            K::CAST_EXPR => self.cast(node, scope),
            K::PAREN_EXPR => {
                let inner = node
                    .children()
                    .find(|n| is_expr(n.kind()))
                    .ok_or_else(|| QueryError::at(at, "empty parentheses"))?;
                if is_query(inner.kind()) {
                    return self.scalar_subquery(&inner, scope);
                }
                self.expr(&inner, scope)
            }
            K::PREFIX_EXPR => self.prefix(node, scope),
            K::BIN_EXPR => self.binary(node, scope),
            K::BETWEEN_EXPR => {
                let operands: Vec<SyntaxNode> =
                    node.children().filter(|n| is_expr(n.kind())).collect();
                let mut tys = Vec::new();
                for o in &operands {
                    tys.push(self.expr(o, scope)?);
                }
                self.unify(&tys, &operands, "BETWEEN")?;
                let nullable = tys.iter().find_map(|t| t.nullable.clone());
                Ok(Ty::known("boolean", nullable))
            }
            K::CALL_EXPR => self.call(node, scope),
            K::CASE_EXPR => self.case(node, scope),
            K::ARRAY_EXPR => self.array(node, scope),
            K::INDEX_EXPR => {
                let mut exprs = node.children().filter(|n| is_expr(n.kind()));
                let base = exprs
                    .next()
                    .ok_or_else(|| QueryError::at(at, "an empty subscript"))?;
                let ty = self.expr(&base, scope)?;
                for index in exprs {
                    let i = self.expr(&index, scope)?;
                    self.coerce(&i, "integer", start(&index))?;
                }
                let Some(t) = self.resolved(&ty) else {
                    return Err(cast_needed(at, "the subscripted value"));
                };
                let Some(element) = t.strip_suffix("[]") else {
                    return Err(QueryError::at(
                        at,
                        format!("pgready types subscripts of arrays only; this is `{t}`"),
                    ));
                };
                Ok(Ty::known(
                    element,
                    Some("an array element can be NULL or out of bounds".to_owned()),
                ))
            }
            K::SELECT | K::COMPOUND_SELECT | K::PAREN_SELECT => self.scalar_subquery(node, scope),
            K::TUPLE_EXPR => Err(QueryError::at(
                at,
                "pgready does not type row values `(a, b)` here: compare the columns one by one",
            )),
            kind => Err(QueryError::at(
                at,
                format!(
                    "pgready cannot type this expression ({}): cast it (`(…)::type`) and \
                     override its nullability with `AS \"name!\"` or `AS \"name?\"`",
                    format!("{kind:?}").to_lowercase().replace('_', " ")
                ),
            )),
        }
    }

    fn literal(&mut self, node: &SyntaxNode) -> Result<Ty> {
        let at = start(node);
        let token = first_token(node).ok_or_else(|| QueryError::at(at, "an empty literal"))?;
        let not_null = |t: &str| Ty::known(t, None);
        Ok(match token.kind() {
            K::POSITIONAL_PARAM => {
                let n: usize = token.text()[1..]
                    .parse()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| QueryError::at(at, "a parameter is `$1`, `$2`, …"))?;
                self.param(n - 1, at)
            }
            K::INT_NUMBER => match token.text().parse::<i64>() {
                Ok(n) if i32::try_from(n).is_ok() => not_null("integer"),
                Ok(_) => not_null("bigint"),
                Err(_) => not_null("numeric"),
            },
            K::NUMERIC_NUMBER => not_null("numeric"),
            K::STRING | K::ESC_STRING | K::DOLLAR_QUOTED_STRING | K::UNICODE_ESC_STRING => Ty {
                kind: T::Literal,
                nullable: None,
                name: None,
                source: None,
            },
            K::BIT_STRING | K::BYTE_STRING => not_null("bit"),
            K::TRUE_KW | K::FALSE_KW => not_null("boolean").named("bool", 1),
            K::NULL_KW => Ty {
                kind: T::Null,
                nullable: Some("a NULL literal".to_owned()),
                name: None,
                source: None,
            },
            K::DEFAULT_KW => return Err(QueryError::at(at, "DEFAULT is only a value to insert")),
            _ => {
                return Err(QueryError::at(
                    at,
                    format!(
                        "pgready cannot type the literal `{}`: cast it",
                        token.text()
                    ),
                ));
            }
        })
    }

    fn name_ref(&mut self, node: &SyntaxNode, scope: &Scope<'_>) -> Result<Ty> {
        let at = start(node);
        let token = first_token(node).ok_or_else(|| QueryError::at(at, "an empty name"))?;
        let value_function = match token.kind() {
            K::CURRENT_TIMESTAMP_KW => Some(("timestamp with time zone", "current_timestamp")),
            K::CURRENT_DATE_KW => Some(("date", "current_date")),
            K::CURRENT_TIME_KW => Some(("time with time zone", "current_time")),
            K::LOCALTIMESTAMP_KW => Some(("timestamp without time zone", "localtimestamp")),
            K::LOCALTIME_KW => Some(("time without time zone", "localtime")),
            K::CURRENT_USER_KW | K::SESSION_USER_KW | K::USER_KW => Some(("name", "current_user")),
            _ => None,
        };
        if let Some((t, name)) = value_function {
            return Ok(Ty::known(t, None).named(name, 2));
        }
        let column = parts(node).join(".");
        self.column(scope, None, &column, at)
    }

    fn field(&mut self, node: &SyntaxNode, scope: &Scope<'_>) -> Result<Ty> {
        let at = start(node);
        let inner: Vec<SyntaxNode> = node.children().collect();
        match inner.as_slice() {
            [qualifier, column]
                if qualifier.kind() == K::NAME_REF && column.kind() == K::NAME_REF =>
            {
                let alias = parts(qualifier).join(".");
                let column = parts(column).join(".");
                self.column(scope, Some(&alias), &column, at)
            }
            [schema_table, column]
                if schema_table.kind() == K::FIELD_EXPR && column.kind() == K::NAME_REF =>
            {
                let names: Vec<SyntaxNode> = schema_table.children().collect();
                if let [_, table] = names.as_slice() {
                    let alias = parts(table).join(".");
                    let column = parts(column).join(".");
                    return self.column(scope, Some(&alias), &column, at);
                }
                Err(QueryError::at(
                    at,
                    "pgready reads `table.column` and `schema.table.column`",
                ))
            }
            _ => Err(QueryError::at(
                at,
                "pgready does not type field selection on composite values: cast it",
            )),
        }
    }

    /// A column by name, in this query's relations then the enclosing queries'.
    fn column(
        &self,
        scope: &Scope<'_>,
        alias: Option<&str>,
        column: &str,
        at: usize,
    ) -> Result<Ty> {
        let mut current = Some(scope);
        let mut alias_seen = false;
        while let Some(s) = current {
            let mut found: Vec<(&Rel, &Col)> = Vec::new();
            let mut unknown: Option<(&Rel, &Origin)> = None;
            for rel in &s.rels {
                if alias.is_some_and(|a| a != rel.alias) || (alias.is_none() && rel.qualified_only)
                {
                    continue;
                }
                alias_seen = true;
                match rel.cols.iter().find(|c| c.name == column) {
                    Some(c) => found.push((rel, c)),
                    None => {
                        if let Some(origin) = &rel.incomplete {
                            unknown = Some((rel, origin));
                        }
                    }
                }
            }
            // a USING column is one column though both sides have it
            if found.len() > 1 && found.iter().filter(|(_, c)| !c.hidden).count() == 1 {
                found.retain(|(_, c)| !c.hidden);
            }
            match found.as_slice() {
                [(rel, col)] => {
                    let type_name = col.ty.clone().map_err(|why| {
                        QueryError::at(
                            at,
                            format!("the type of `{}.{column}` is unknown: {why}", rel.alias),
                        )
                    })?;
                    return Ok(Ty {
                        kind: T::Known(without_typmod(&type_name)),
                        nullable: col.nullable.clone(),
                        name: Some((column.to_owned(), 2)),
                        source: col.source.clone(),
                    });
                }
                [] => {}
                _ => {
                    return Err(QueryError::at(
                        at,
                        format!(
                            "column `{column}` is ambiguous: it is in {}; qualify it",
                            found
                                .iter()
                                .map(|(r, _)| format!("`{}`", r.alias))
                                .collect::<Vec<_>>()
                                .join(" and ")
                        ),
                    ));
                }
            }
            if let Some((rel, origin)) = unknown {
                return Err(QueryError::at(
                    at,
                    format!(
                        "column `{column}` of `{}` is unknown because of `{origin}` (a statement \
                         pgready cannot replay): cast it (`{column}::type`) if it exists",
                        rel.alias
                    ),
                ));
            }
            current = s.outer;
        }
        if let Some(alias) = alias
            && !alias_seen
        {
            return Err(self.unknown_relation(alias, scope, at));
        }
        let mut names: Vec<&str> = Vec::new();
        let mut s = Some(scope);
        while let Some(sc) = s {
            for rel in &sc.rels {
                if alias.is_none_or(|a| a == rel.alias) {
                    names.extend(rel.cols.iter().map(|c| c.name.as_str()));
                    // a column a migration dropped or renamed: say which
                    if let Some(note) = rel
                        .relation
                        .as_ref()
                        .and_then(|r| self.history(r, Some(column)))
                    {
                        return Err(QueryError::at(
                            at,
                            format!("column `{column}` of `{}` {note}", rel.alias),
                        ));
                    }
                }
            }
            s = sc.outer;
        }
        let shown = match alias {
            Some(a) => format!("`{a}.{column}`"),
            None => format!("`{column}`"),
        };
        Err(QueryError::at(
            at,
            format!(
                "column {shown} does not exist in the schema the migrations build{}",
                did_you_mean(column, names)
            ),
        ))
    }

    fn cast(&mut self, node: &SyntaxNode, scope: &Scope<'_>) -> Result<Ty> {
        let at = start(node);
        let type_node = node
            .children()
            .find(|n| is_type(n.kind()))
            .ok_or_else(|| QueryError::at(at, "a cast without a type"))?;
        let target = resolve_written(self.catalog, &self.search_path, &written(&type_node))
            .ok_or_else(|| {
                QueryError::at(
                    start(&type_node),
                    format!(
                        "type `{}` does not exist in the schema the migrations build",
                        type_node.text().to_string().trim()
                    ),
                )
            })?;
        let target = without_typmod(&target);
        let inner = node
            .children()
            .find(|n| !is_type(n.kind()) && is_expr(n.kind()))
            .ok_or_else(|| QueryError::at(at, "a cast of nothing"))?;
        let ty = match self.expr(&inner, scope) {
            Ok(ty) => ty,
            // a cast is the way out for what pgready cannot type: the value keeps no type of
            // its own and may be NULL
            Err(e)
                if e.message.starts_with("pgready cannot type")
                    || e.message.contains("not in pgready's table") =>
            {
                Ty {
                    kind: T::Null,
                    nullable: Some(
                        "pgready cannot tell whether the cast value can be NULL".to_owned(),
                    ),
                    name: None,
                    source: None,
                }
            }
            Err(e) => return Err(e),
        };
        if let T::Param(n) = ty.kind {
            self.set_param(n, &target, start(&inner))?;
        }
        let type_name_written = type_node
            .descendants_with_tokens()
            .filter_map(|e| e.into_token())
            .filter(|t| {
                !t.kind().is_trivia()
                    && t.kind() != K::DOT
                    && t.kind() != K::L_BRACK
                    && t.kind() != K::R_BRACK
            })
            .map(|t| ident(t.text()))
            .next();
        let name = match ty.name {
            Some((n, 2)) => Some((n, 2)),
            _ => Some((
                match type_name_written {
                    Some(w) if !target.contains(' ') && target == w => w,
                    _ => functions::internal_name(&target),
                },
                1,
            )),
        };
        Ok(Ty {
            kind: T::Known(target),
            nullable: ty.nullable,
            name,
            source: None,
        })
    }

    fn scalar_subquery(&mut self, node: &SyntaxNode, scope: &Scope<'_>) -> Result<Ty> {
        let cols = self.query(node, Some(scope))?;
        let [col] = cols.as_slice() else {
            return Err(QueryError::at(
                start(node),
                format!(
                    "a scalar subquery returns one column; this one returns {}",
                    cols.len()
                ),
            ));
        };
        Ok(Ty::known(
            col.type_name.clone(),
            Some("a scalar subquery is NULL when it finds no row".to_owned()),
        )
        .named(&col.name, 2))
    }

    fn prefix(&mut self, node: &SyntaxNode, scope: &Scope<'_>) -> Result<Ty> {
        let at = start(node);
        let operand = node
            .children()
            .find(|n| is_expr(n.kind()))
            .ok_or_else(|| QueryError::at(at, "an operator without an operand"))?;
        let op = first_token(node).map(|t| t.kind());
        let ty = self.expr(&operand, scope)?;
        match op {
            Some(K::NOT_KW) => {
                self.coerce(&ty, "boolean", start(&operand))?;
                Ok(Ty::known("boolean", ty.nullable))
            }
            Some(op @ (K::MINUS | K::PLUS)) => {
                let name = if op == K::MINUS { "-" } else { "+" };
                if matches!(ty.kind, T::Param(_)) {
                    return Err(cast_needed(at, "the operand of a unary operator"));
                }
                let call = resolve_operator(name, None, &self.arg(&ty))
                    .map_err(|e| QueryError::at(at, format!("{e}: cast the operand")))?;
                Ok(Ty::known(call.returns.to_string(), ty.nullable))
            }
            _ => Err(QueryError::at(
                at,
                "pgready cannot type this prefix operator: cast the result",
            )),
        }
    }

    fn binary(&mut self, node: &SyntaxNode, scope: &Scope<'_>) -> Result<Ty> {
        let at = start(node);
        let operands: Vec<SyntaxNode> = node.children().filter(|n| is_expr(n.kind())).collect();
        let (Some(left_node), Some(right_node)) = (operands.first(), operands.last()) else {
            return Err(QueryError::at(at, "an operator without operands"));
        };
        if operands.len() != 2 {
            return Err(QueryError::at(
                at,
                "pgready cannot read this operator expression",
            ));
        }
        // the operator: the tokens between the operands
        let left_end = left_node.text_range().end();
        let right_start = right_node.text_range().start();
        let op: String = node
            .descendants_with_tokens()
            .filter_map(|e| e.into_token())
            .filter(|t| t.text_range().start() >= left_end && t.text_range().end() <= right_start)
            .filter(|t| !t.kind().is_trivia())
            .map(|t| t.text().to_string())
            .collect::<Vec<_>>()
            .join(" ");
        let op = if op.chars().any(char::is_alphabetic) {
            upper_words(&op)
        } else {
            op.split_whitespace().collect()
        };
        let op = match op.as_str() {
            "- >" => "->".to_owned(),
            "- > >" => "->>".to_owned(),
            "# >" => "#>".to_owned(),
            "# > >" => "#>>".to_owned(),
            "< >" => "<>".to_owned(),
            "! =" => "!=".to_owned(),
            "< =" => "<=".to_owned(),
            "> =" => ">=".to_owned(),
            "| |" => "||".to_owned(),
            "@ >" => "@>".to_owned(),
            "< @" => "<@".to_owned(),
            "& &" => "&&".to_owned(),
            "? |" => "?|".to_owned(),
            "? &" => "?&".to_owned(),
            other => other.to_owned(),
        };
        let left = self.expr(left_node, scope)?;
        match op.as_str() {
            "AND" | "OR" => {
                let right = self.expr(right_node, scope)?;
                self.coerce(&left, "boolean", start(left_node))?;
                self.coerce(&right, "boolean", start(right_node))?;
                let nullable = left.nullable.or(right.nullable);
                return Ok(Ty::known("boolean", nullable));
            }
            "IS" | "IS NOT" => {
                let right = first_token(right_node).map(|t| t.kind());
                if matches!(right, Some(K::TRUE_KW | K::FALSE_KW)) {
                    self.coerce(&left, "boolean", start(left_node))?;
                } else if !matches!(right, Some(K::NULL_KW | K::UNKNOWN_KW)) {
                    return Err(QueryError::at(
                        at,
                        format!("pgready cannot type `{op}` here"),
                    ));
                }
                return Ok(Ty::known("boolean", None));
            }
            "IN" | "NOT IN" => return self.in_list(left, left_node, right_node, scope),
            _ => {}
        }
        // `x = ANY(…)`, `x <> ALL(…)`
        if right_node.kind() == K::CALL_EXPR
            && let Some(quantifier) = right_node
                .children()
                .find(|n| matches!(n.kind(), K::ANY_FN | K::ALL_FN | K::SOME_FN))
        {
            return self.quantified(&op, left, left_node, &quantifier, scope);
        }
        let right = self.expr(right_node, scope)?;
        let nullable = left.nullable.clone().or(right.nullable.clone());
        match op.as_str() {
            "IS DISTINCT FROM" | "IS NOT DISTINCT FROM" => {
                self.unify(&[left, right], &operands, &op)?;
                return Ok(Ty::known("boolean", None));
            }
            "SIMILAR TO" | "NOT SIMILAR TO" => {
                for (ty, n) in [(&left, left_node), (&right, right_node)] {
                    let t = self.coerce(ty, "text", start(n))?;
                    if !matches!(
                        t.as_str(),
                        "text" | "character varying" | "character" | "citext" | "name"
                    ) {
                        return Err(QueryError::at(
                            start(n),
                            format!("`{op}` compares text; this is `{t}`: cast it to text"),
                        ));
                    }
                }
                return Ok(Ty::known("boolean", nullable));
            }
            _ => {}
        }
        self.operator(&op, (&left, left_node), (&right, right_node), nullable, at)
    }

    /// `left op right` resolved as PostgreSQL resolves it (the generated operator table): the
    /// operator chosen types the parameters beside it and gives the result type.
    fn operator(
        &mut self,
        op: &str,
        (left, left_node): (&Ty, &SyntaxNode),
        (right, right_node): (&Ty, &SyntaxNode),
        nullable: Option<String>,
        at: usize,
    ) -> Result<Ty> {
        let name = match op {
            "LIKE" => "~~",
            "NOT LIKE" => "!~~",
            "ILIKE" => "~~*",
            "NOT ILIKE" => "!~~*",
            "!=" => "<>",
            other => other,
        };
        let (l, r) = (self.arg(left), self.arg(right));
        match resolve_operator(name, Some(&l), &r) {
            Ok(call) => {
                if let (T::Param(n), Some(t)) = (&left.kind, &call.left) {
                    self.param_takes(*n, t, start(left_node))?;
                }
                if let T::Param(n) = &right.kind {
                    self.param_takes(*n, &call.right, start(right_node))?;
                }
                let nullable = if functions::total_operator(name) && call.operator.strict {
                    nullable
                } else {
                    Some(format!(
                        "`{op}` can return NULL (a missing key, an empty result)"
                    ))
                };
                Ok(Ty::known(call.returns.to_string(), nullable))
            }
            // an extension's type (`citext`) is outside the generated table: a comparison with
            // it types a parameter beside it as that type, as PostgreSQL's own operators do
            Err(_)
                if functions::comparison(name)
                    && matches!(
                        (&l, &r),
                        (Arg::Typed(SqlType::Other(_)), _) | (_, Arg::Typed(SqlType::Other(_)))
                    ) =>
            {
                let other = match (&l, &r) {
                    (Arg::Typed(t @ SqlType::Other(_)), _)
                    | (_, Arg::Typed(t @ SqlType::Other(_))) => t.clone(),
                    _ => unreachable!("matched above"),
                };
                for (ty, node) in [(left, left_node), (right, right_node)] {
                    if let T::Param(n) = ty.kind {
                        self.param_takes(n, &other, start(node))?;
                    }
                }
                Ok(Ty::known("boolean", nullable))
            }
            Err(e) => Err(QueryError::at(
                at,
                format!("{e}: cast the operands (`x::type`) so an operator matches"),
            )),
        }
    }

    /// The argument a typed expression is for resolution.
    fn arg(&self, ty: &Ty) -> Arg {
        match &ty.kind {
            T::Literal | T::Null => Arg::Literal,
            _ => match self.resolved(ty) {
                Some(t) => Arg::Typed(SqlType::from_catalog(&t, self.catalog)),
                None => Arg::Param,
            },
        }
    }

    /// `$n` takes the type resolution chose for it; `unknown` (an argument declared `"any"`)
    /// leaves it untyped, as in PostgreSQL: it needs a cast.
    fn param_takes(&mut self, n: usize, t: &SqlType, at: usize) -> Result<()> {
        if *t == SqlType::Unknown {
            return Err(cast_needed(at, &format!("${}", n + 1)));
        }
        self.set_param(n, &t.to_string(), at)
    }

    fn in_list(
        &mut self,
        left: Ty,
        left_node: &SyntaxNode,
        right_node: &SyntaxNode,
        scope: &Scope<'_>,
    ) -> Result<Ty> {
        let mut nullable = left.nullable.clone();
        let items: Vec<SyntaxNode> = match right_node.kind() {
            K::TUPLE_EXPR => right_node
                .children()
                .filter(|n| is_expr(n.kind()))
                .collect(),
            K::PAREN_EXPR => {
                let inner = right_node
                    .children()
                    .find(|n| is_expr(n.kind()))
                    .ok_or_else(|| QueryError::at(start(right_node), "an empty IN list"))?;
                if is_query(inner.kind()) {
                    self.subquery_operand(left, left_node, &inner, scope, "IN")?;
                    return Ok(Ty::known(
                        "boolean",
                        nullable.or(Some(
                            "`IN` is NULL when the subquery returns a NULL and no match".to_owned(),
                        )),
                    ));
                }
                vec![inner]
            }
            _ => vec![right_node.clone()],
        };
        let mut tys = vec![left];
        let mut nodes = vec![left_node.clone()];
        for item in items {
            let ty = self.expr(&item, scope)?;
            nullable = nullable.or(ty.nullable.clone());
            tys.push(ty);
            nodes.push(item);
        }
        self.unify(&tys, &nodes, "IN")?;
        Ok(Ty::known("boolean", nullable))
    }

    /// `x IN (SELECT …)`, `x = ANY (SELECT …)`: the subquery returns one column, of a type
    /// `x` unifies with.
    fn subquery_operand(
        &mut self,
        left: Ty,
        left_node: &SyntaxNode,
        subquery: &SyntaxNode,
        scope: &Scope<'_>,
        what: &str,
    ) -> Result<()> {
        let cols = self.query(subquery, Some(scope))?;
        let [col] = cols.as_slice() else {
            return Err(QueryError::at(
                start(subquery),
                format!("a subquery of `{what}` returns one column"),
            ));
        };
        let ty = Ty::known(col.type_name.clone(), col.nullable.clone());
        self.unify(&[left, ty], &[left_node.clone(), subquery.clone()], what)?;
        Ok(())
    }

    fn quantified(
        &mut self,
        op: &str,
        left: Ty,
        left_node: &SyntaxNode,
        quantifier: &SyntaxNode,
        scope: &Scope<'_>,
    ) -> Result<Ty> {
        let inner = quantifier
            .children()
            .find(|n| is_expr(n.kind()))
            .ok_or_else(|| QueryError::at(start(quantifier), "ANY of nothing"))?;
        if is_query(inner.kind()) {
            self.subquery_operand(left, left_node, &inner, scope, op)?;
            return Ok(Ty::known(
                "boolean",
                Some("`ANY` is NULL when the subquery returns a NULL and no match".to_owned()),
            ));
        }
        let array = self.expr(&inner, scope)?;
        let nullable = left.nullable.clone().or(array.nullable.clone()).or(Some(
            "`= ANY(array)` is NULL when the array holds a NULL and no match".to_owned(),
        ));
        match (self.resolved(&left), self.resolved(&array)) {
            (Some(l), Some(a)) => {
                let element = a.strip_suffix("[]").ok_or_else(|| {
                    QueryError::at(
                        start(&inner),
                        format!("`{op} ANY(…)` needs an array; this is `{a}`"),
                    )
                })?;
                if !comparable(&l, element) {
                    return Err(QueryError::at(
                        start(&inner),
                        format!("cannot compare `{l}` with elements of `{a}`: cast one side"),
                    ));
                }
            }
            (Some(l), None) => {
                self.coerce(&array, &format!("{l}[]"), start(&inner))?;
            }
            (None, Some(a)) => {
                let element = a.strip_suffix("[]").unwrap_or(&a).to_owned();
                self.coerce(&left, &element, start(left_node))?;
            }
            (None, None) => return Err(cast_needed(start(left_node), "this value")),
        }
        Ok(Ty::known("boolean", nullable))
    }

    /// Operands that must have one type (`IN`, `BETWEEN`, `CASE` results, `COALESCE`): the
    /// first known type types the parameters and literals; known types must be comparable.
    fn unify(&mut self, tys: &[Ty], nodes: &[SyntaxNode], what: &str) -> Result<Option<String>> {
        let types: Vec<SqlType> = tys.iter().map(|t| self.arg(t).sql_type()).collect();
        if types.iter().all(|t| *t == SqlType::Unknown) {
            if let Some((_, n)) = tys
                .iter()
                .zip(nodes)
                .find(|(t, _)| matches!(t.kind, T::Param(_)))
            {
                return Err(cast_needed(start(n), "this parameter"));
            }
            return Ok(None);
        }
        // PostgreSQL's `select_common_type`, as for UNION, CASE, COALESCE and IN
        let common = match select_common_type(&types) {
            Ok(common) => common,
            // an extension's type (`citext`) is outside the generated table: with types of
            // its own family, the first one stays, as PostgreSQL's casts between them make it
            Err(_)
                if types.iter().any(|t| matches!(t, SqlType::Other(_)))
                    && types.iter().filter(|t| **t != SqlType::Unknown).all(|t| {
                        let first = types.iter().find(|t| **t != SqlType::Unknown);
                        first.is_some_and(|f| comparable(&f.to_string(), &t.to_string()))
                    }) =>
            {
                types
                    .iter()
                    .find(|t| **t != SqlType::Unknown)
                    .cloned()
                    .expect("not all unknown")
            }
            Err(e) => {
                return Err(QueryError::at(
                    nodes.first().map_or(0, start),
                    format!(
                        "`{what}` mixes `{}` and `{}`: cast one of them",
                        e.first, e.second
                    ),
                ));
            }
        };
        for (ty, node) in tys.iter().zip(nodes) {
            if let T::Param(n) = ty.kind {
                self.param_takes(n, &common, start(node))?;
            }
        }
        Ok(Some(common.to_string()))
    }

    fn call(&mut self, node: &SyntaxNode, scope: &Scope<'_>) -> Result<Ty> {
        let at = start(node);
        if let Some(exists) = child(node, K::EXISTS_FN) {
            let inner = exists
                .children()
                .find(|n| is_query(n.kind()))
                .ok_or_else(|| QueryError::at(at, "EXISTS of nothing"))?;
            self.query(&inner, Some(scope))?;
            return Ok(Ty::known("boolean", None).named("exists", 2));
        }
        if let Some(special) = node
            .children()
            .find(|n| matches!(n.kind(), K::SUBSTRING_FN | K::EXTRACT_FN | K::POSITION_FN))
        {
            return self.special_call(&special, scope);
        }
        let name_node = child(node, K::NAME_REF).ok_or_else(|| {
            QueryError::at(
                at,
                "pgready cannot type this call: cast its result (`(…)::type`)",
            )
        })?;
        let name_parts = parts(&name_node);
        let name = name_parts.last().cloned().unwrap_or_default();
        if name_parts.len() > 1 && name_parts[0] != "pg_catalog" {
            return Err(QueryError::at(
                at,
                format!(
                    "function `{}` is not in pgready's table: cast its result (`{}(…)::type`)",
                    name_parts.join("."),
                    name_parts.join(".")
                ),
            ));
        }
        let arg_list = child(node, K::ARG_LIST);
        let star = arg_list
            .as_ref()
            .is_some_and(|l| l.children_with_tokens().any(|e| e.kind() == K::STAR));
        let arg_nodes: Vec<SyntaxNode> = arg_list
            .iter()
            .flat_map(|l| l.children())
            .filter(|n| n.kind() == K::ARG || is_expr(n.kind()))
            .map(|n| {
                if n.kind() == K::ARG {
                    n.children().find(|c| is_expr(c.kind())).unwrap_or(n)
                } else {
                    n
                }
            })
            .collect();
        if let Some(filter) = child(node, K::FILTER_CLAUSE) {
            for e in filter.children().filter(|n| is_expr(n.kind())) {
                let ty = self.expr(&e, scope)?;
                self.coerce(&ty, "boolean", start(&e))?;
            }
        }
        let over = child(node, K::OVER_CLAUSE);
        if let Some(over) = &over {
            for e in over.descendants().filter(|n| {
                is_expr(n.kind())
                    && n.parent()
                        .is_some_and(|p| matches!(p.kind(), K::SORT_BY | K::PARTITION_ITEM))
            }) {
                self.expr(&e, scope)?;
            }
        }
        let mut args = Vec::new();
        for a in &arg_nodes {
            args.push(self.expr(a, scope)?);
        }
        let named = |ty: Ty| ty.named(&name, 2);
        match name.as_str() {
            "coalesce" | "greatest" | "least" => {
                let t = self
                    .unify(&args, &arg_nodes, &name)?
                    .unwrap_or_else(|| "text".to_owned());
                // NULL only when every argument is
                let nullable = if args.iter().any(Ty::non_null) {
                    None
                } else {
                    Some(format!("every argument of `{name}` can be NULL"))
                };
                return Ok(named(Ty::known(t, nullable)));
            }
            "nullif" => {
                let t = self
                    .unify(&args, &arg_nodes, &name)?
                    .unwrap_or_else(|| "text".to_owned());
                return Ok(named(Ty::known(
                    t,
                    Some("`nullif` returns NULL when its arguments are equal".to_owned()),
                )));
            }
            _ => {}
        }
        if star {
            // `count(*)`, the one aggregate written with `*`
            if name != "count" {
                return Err(QueryError::at(
                    at,
                    format!("`{name}(*)` is not a function call PostgreSQL takes"),
                ));
            }
            return Ok(named(Ty::known("bigint", None)));
        }
        self.resolved_call(&name, &args, &arg_nodes, over.is_some(), at)
    }

    /// `substring(…)`, `extract(field FROM x)`, `position(a IN b)`: SQL's own syntax for the
    /// functions of those names.
    fn special_call(&mut self, node: &SyntaxNode, scope: &Scope<'_>) -> Result<Ty> {
        let at = start(node);
        let exprs = |n: &SyntaxNode| -> Vec<SyntaxNode> {
            n.descendants()
                .filter(|d| is_expr(d.kind()))
                .filter(|d| {
                    // the outermost expressions only
                    d.ancestors()
                        .skip(1)
                        .take_while(|a| a != n)
                        .all(|a| !is_expr(a.kind()))
                })
                .collect()
        };
        let (name, mut nodes, field) = match node.kind() {
            K::SUBSTRING_FN => ("substring", exprs(node), false),
            K::EXTRACT_FN => ("extract", exprs(node), true),
            // `position(a IN b)` is `position(b, a)`
            _ => {
                let mut e = exprs(node);
                e.reverse();
                ("position", e, false)
            }
        };
        let mut args = Vec::new();
        if field {
            // the field (`year`) is a text argument
            args.push(Ty {
                kind: T::Literal,
                nullable: None,
                name: None,
                source: None,
            });
        }
        for n in &nodes {
            args.push(self.expr(n, scope)?);
        }
        if field {
            nodes.insert(0, node.clone());
        }
        let ty = self.resolved_call(name, &args, &nodes, false, at)?;
        // `substring(text FROM pattern)` is NULL when the pattern does not match
        let regex = name == "substring"
            && args.get(1).is_some_and(|a| {
                matches!(a.kind, T::Literal) || self.resolved(a).as_deref() == Some("text")
            });
        let nullable = if regex {
            Some("`substring` with a pattern is NULL when it does not match".to_owned())
        } else {
            args.iter().find_map(|a| a.nullable.clone())
        };
        Ok(Ty { nullable, ..ty })
    }

    /// A call resolved against PostgreSQL's built-in functions: its parameters take the types
    /// the function chosen gives them.
    fn resolved_call(
        &mut self,
        name: &str,
        args: &[Ty],
        arg_nodes: &[SyntaxNode],
        over: bool,
        at: usize,
    ) -> Result<Ty> {
        let named = |ty: Ty| ty.named(name, 2);
        let call_args: Vec<Arg> = args.iter().map(|a| self.arg(a)).collect();
        let call = resolve_function(name, &call_args).map_err(|e| {
            let hint = match &e {
                crate::schema::builtins::ResolveError::NotFound {
                    known_name: false, ..
                } => {
                    format!(
                        "function `{name}` is not in pgready's table (PostgreSQL's built-in \
                         functions; functions the migrations create are not typed): cast its \
                         result (`{name}(…)::type`) and override its nullability with \
                         `AS \"name!\"` or `AS \"name?\"`"
                    )
                }
                e => format!("{e}: cast the arguments (`x::type`) so one function matches"),
            };
            QueryError::at(at, hint)
        })?;
        if call.returns_set() {
            return Err(QueryError::at(
                at,
                format!(
                    "`{name}` returns a set of rows: pgready does not check set-returning \
                     functions; use `sqlx::query` (unchecked)"
                ),
            ));
        }
        for ((ty, node), t) in args.iter().zip(arg_nodes).zip(&call.args) {
            if let T::Param(n) = ty.kind {
                self.param_takes(n, t, start(node))?;
            }
        }
        let result = call.returns.to_string();
        let nullable = match call.kind() {
            FunctionKind::Aggregate if name == "count" => None,
            FunctionKind::Aggregate if over => {
                Some(format!("`{name}` over a window frame can be NULL"))
            }
            FunctionKind::Aggregate => {
                Some(format!("`{name}` is NULL over no rows (or only NULLs)"))
            }
            FunctionKind::Window if functions::never_null_window(name) => None,
            FunctionKind::Window => Some(format!("`{name}` can be NULL at the frame's edges")),
            FunctionKind::Normal if functions::total_function(name) => {
                if call.strict() {
                    args.iter().find_map(|a| a.nullable.clone())
                } else {
                    None
                }
            }
            FunctionKind::Normal => Some(format!("`{name}` can return NULL")),
        };
        Ok(named(Ty::known(result, nullable)))
    }

    fn case(&mut self, node: &SyntaxNode, scope: &Scope<'_>) -> Result<Ty> {
        let at = start(node);
        let subject = node.children().find(|n| is_expr(n.kind()));
        let subject_ty = match &subject {
            Some(s) => Some(self.expr(s, scope)?),
            None => None,
        };
        let mut results = Vec::new();
        let mut result_nodes = Vec::new();
        let whens = node
            .descendants()
            .filter(|n| n.kind() == K::WHEN_CLAUSE)
            .filter(|n| {
                n.ancestors()
                    .find(|a| a.kind() == K::CASE_EXPR)
                    .is_some_and(|c| c == *node)
            });
        for when in whens {
            let exprs: Vec<SyntaxNode> = when.children().filter(|n| is_expr(n.kind())).collect();
            let [condition, result] = exprs.as_slice() else {
                return Err(QueryError::at(
                    start(&when),
                    "pgready cannot read this WHEN",
                ));
            };
            let c = self.expr(condition, scope)?;
            match (&subject_ty, &subject) {
                (Some(s), Some(sn)) => {
                    self.unify(&[s.clone(), c], &[sn.clone(), condition.clone()], "CASE")?;
                }
                _ => {
                    self.coerce(&c, "boolean", start(condition))?;
                }
            }
            results.push(self.expr(result, scope)?);
            result_nodes.push(result.clone());
        }
        let else_expr =
            child(node, K::ELSE_CLAUSE).and_then(|e| e.children().find(|n| is_expr(n.kind())));
        let has_else = else_expr.is_some();
        if let Some(e) = else_expr {
            results.push(self.expr(&e, scope)?);
            result_nodes.push(e);
        }
        let t = self
            .unify(&results, &result_nodes, "CASE")?
            .unwrap_or_else(|| "text".to_owned());
        let nullable = if !has_else {
            Some("a CASE without ELSE is NULL when no WHEN matches".to_owned())
        } else {
            results.iter().find_map(|r| r.nullable.clone())
        };
        let _ = at;
        Ok(Ty::known(t, nullable).named("case", 2))
    }

    fn array(&mut self, node: &SyntaxNode, scope: &Scope<'_>) -> Result<Ty> {
        let at = start(node);
        if let Some(select) = node.children().find(|n| is_query(n.kind())) {
            let cols = self.query(&select, Some(scope))?;
            let [col] = cols.as_slice() else {
                return Err(QueryError::at(at, "ARRAY(subquery) needs one column"));
            };
            return Ok(Ty::known(format!("{}[]", col.type_name), None).named("array", 2));
        }
        let items: Vec<SyntaxNode> = node.children().filter(|n| is_expr(n.kind())).collect();
        let mut tys = Vec::new();
        for i in &items {
            tys.push(self.expr(i, scope)?);
        }
        let element = self
            .unify(&tys, &items, "ARRAY[…]")?
            .ok_or_else(|| cast_needed(at, "this array (`ARRAY[…]::type[]`)"))?;
        Ok(Ty::known(format!("{element}[]"), None).named("array", 2))
    }
}

/// Whether two types can be compared without a cast (same type, both numeric, both text,
/// both date/time).
fn comparable(a: &str, b: &str) -> bool {
    let family = |t: &str| -> &'static str {
        match t {
            "smallint" | "integer" | "bigint" | "numeric" | "real" | "double precision" => "number",
            "text" | "character varying" | "character" | "name" | "citext" => "text",
            "date" | "timestamp with time zone" | "timestamp without time zone" => "time",
            _ => "",
        }
    };
    a == b || (!family(a).is_empty() && family(a) == family(b))
}

/// The type two comparable types resolve to (UNION, CASE, COALESCE): PostgreSQL's
/// `select_common_type` keeps the first unless the next is one the first converts to
/// implicitly but not back (`integer` then `bigint` is `bigint`; `character varying` and `text`
/// convert both ways, so the first stays).
fn wider(a: &str, b: &str) -> String {
    const ORDER: &[&str] = &[
        "smallint",
        "integer",
        "bigint",
        "numeric",
        "real",
        "double precision",
    ];
    match (
        ORDER.iter().position(|t| *t == a),
        ORDER.iter().position(|t| *t == b),
    ) {
        (Some(x), Some(y)) => ORDER[x.max(y)].to_owned(),
        _ => a.to_owned(),
    }
}

fn qualified(base_schema: &str, schema: &str, name: &str) -> String {
    if schema == base_schema {
        name.to_owned()
    } else {
        format!("{schema}.{name}")
    }
}

fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    match closest(name, candidates) {
        Some(c) => format!("; did you mean `{c}`?"),
        None => String::new(),
    }
}

fn cast_needed(at: usize, what: &str) -> QueryError {
    QueryError::at(
        at,
        format!(
            "cannot infer the type of {what}: write it with a cast (`$1::bigint`, `x::text`, …)"
        ),
    )
}

fn unsupported_from(item: &SyntaxNode) -> QueryError {
    QueryError::at(
        start(item),
        "pgready checks tables, views, WITH queries, subqueries and joins in FROM; not this \
         (a function, VALUES, LATERAL): use `sqlx::query` (unchecked)",
    )
}
