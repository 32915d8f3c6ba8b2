//! Replaying one statement at a time into the [`Catalog`].
//!
//! Each handler either applies the statement completely or returns an error saying what it
//! does not model; the caller then restores the catalog as it was before the statement and
//! marks what the statement may have touched as uncertain. A statement is never half applied
//! and never silently skipped.

use std::collections::BTreeSet;

use squawk_syntax::{SyntaxKind as K, SyntaxNode};

use super::catalog::{Catalog, Column, Constraint, ConstraintKind, Identity, Index, Origin, Table};
use super::names::{choose, parts};
use super::types::{EXTENSION_TYPES, Written, is_type, written};
use super::{Outcome, Replay, StatementOutcome};
use crate::sql::Source;

/// Why a statement was not applied: shown with the statement's file and line.
pub(super) type Refusal = String;

pub(crate) struct Replayer {
    pub catalog: Catalog,
    pub statements: Vec<StatementOutcome>,
    pub(super) search_path: Vec<String>,
    /// the statement being replayed
    current: Option<Origin>,
    /// the session's `search_path`, to restore at the end of a file that `SET LOCAL` it
    pub(super) local_restore: Option<Vec<String>>,
    /// set when an opaque statement may have changed the `search_path` (`set_config`): until
    /// the next `SET search_path`, unqualified names cannot be resolved
    pub(super) path_unknown: Option<Origin>,
    /// what became of relations and columns (see [`super::Change`])
    pub(super) changes: Vec<super::Change>,
}

pub(crate) fn child(node: &SyntaxNode, kind: K) -> Option<SyntaxNode> {
    node.children().find(|n| n.kind() == kind)
}

pub(crate) fn children(node: &SyntaxNode, kind: K) -> Vec<SyntaxNode> {
    node.children().filter(|n| n.kind() == kind).collect()
}

pub(crate) fn has(node: &SyntaxNode, kind: K) -> bool {
    node.children_with_tokens().any(|e| e.kind() == kind)
}

pub(super) fn first_name(node: &SyntaxNode, kinds: &[K]) -> Option<Vec<String>> {
    node.children()
        .find(|n| kinds.contains(&n.kind()))
        .map(|n| parts(&n))
}

/// Every identifier and string value in a piece of text, lowercased: what a DO block or an
/// unmodelled statement could name.
fn words(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The names an expression refers to (`NAME_REF` tokens), for check constraints and indexes.
pub(super) fn name_refs(node: &SyntaxNode) -> Vec<String> {
    let mut names = Vec::new();
    for n in node.descendants().filter(|n| n.kind() == K::NAME_REF) {
        for name in parts(&n) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

/// The part of the catalog a statement may change, as it was before the statement.
enum Snapshot {
    /// the statement changes at most the table `schema.name` (`None`: it did not exist)
    Table {
        schema: String,
        name: String,
        table: Option<Table>,
    },
    /// the statement may change anything
    Whole(Box<Catalog>),
}

impl Snapshot {
    /// Puts `catalog` back as it was before the statement.
    fn restore(self, catalog: &mut Catalog) {
        match self {
            Snapshot::Table {
                schema,
                name,
                table,
            } => {
                let tables = &mut catalog
                    .schemas
                    .get_mut(&schema)
                    .expect("the statements a table snapshot covers drop no schema")
                    .tables;
                match table {
                    Some(table) => tables.insert(name, table),
                    None => tables.remove(&name),
                };
            }
            Snapshot::Whole(before) => *catalog = *before,
        }
    }
}

/// `ALTER TABLE` actions that change only the table they name (without `CASCADE`): renames and
/// `SET SCHEMA` move it and follow it in other tables and views.
fn table_local(kind: K) -> bool {
    matches!(
        kind,
        K::ADD_COLUMN
            | K::DROP_COLUMN
            | K::ALTER_COLUMN
            | K::ADD_CONSTRAINT
            | K::DROP_CONSTRAINT
            | K::RENAME_COLUMN
            | K::RENAME_CONSTRAINT
    ) || no_model_effect(kind)
}

/// `ALTER TABLE` actions that change nothing the model holds (owners, triggers, storage, …).
fn no_model_effect(kind: K) -> bool {
    matches!(
        kind,
        K::VALIDATE_CONSTRAINT
            | K::OWNER_TO
            | K::ENABLE_TRIGGER
            | K::DISABLE_TRIGGER
            | K::ENABLE_REPLICA_TRIGGER
            | K::ENABLE_ALWAYS_TRIGGER
            | K::ENABLE_RULE
            | K::DISABLE_RULE
            | K::ENABLE_REPLICA_RULE
            | K::ENABLE_ALWAYS_RULE
            | K::ENABLE_RLS
            | K::DISABLE_RLS
            | K::FORCE_RLS
            | K::NO_FORCE_RLS
            | K::SET_OPTIONS
            | K::RESET_OPTIONS
            | K::CLUSTER_ON
            | K::SET_WITHOUT_CLUSTER
            | K::REPLICA_IDENTITY
            | K::SET_TABLESPACE
            | K::SET_LOGGED
            | K::SET_UNLOGGED
            | K::ALTER_CONSTRAINT
            | K::SET_WITHOUT_OIDS
            | K::SET_ACCESS_METHOD
    )
}

/// A constraint as written, before it gets its name and its index.
struct Pending {
    name: Option<String>,
    kind: ConstraintKind,
    columns: Vec<String>,
    references: Option<Vec<String>>,
    using_index: Option<String>,
}

impl Replayer {
    pub fn new(base_schema: &str) -> Replayer {
        Replayer {
            catalog: Catalog::new(base_schema),
            statements: Vec::new(),
            search_path: vec![base_schema.to_owned()],
            current: None,
            local_restore: None,
            path_unknown: None,
            changes: Vec::new(),
        }
    }

    pub fn finish(self) -> Replay {
        Replay {
            catalog: self.catalog,
            statements: self.statements,
            changes: self.changes,
        }
    }

    /// Replays one file. The migrations run on one connection, so `SET search_path` holds for
    /// the files after it too; `SET LOCAL search_path` until the end of the file's transaction.
    pub fn file(&mut self, file: &str, text: &str) {
        match Source::parse(text) {
            Some(source) => self.parsed(file, &source),
            None => {
                if let Some(session) = self.local_restore.take() {
                    self.search_path = session;
                }
                let origin = Origin {
                    file: file.to_owned(),
                    line: 1,
                };
                self.opaque(
                    &origin,
                    text,
                    "the parser failed on this file".to_owned(),
                    true,
                );
            }
        }
    }

    /// [`Replayer::file`] on a file already parsed: the project check parses each migration
    /// once for the lints and the replay.
    pub(crate) fn parsed(&mut self, file: &str, source: &Source) {
        if let Some(session) = self.local_restore.take() {
            self.search_path = session;
        }
        let parse = &source.parse;
        let errors: Vec<(usize, String)> = parse
            .errors()
            .iter()
            .map(|e| (usize::from(e.range().start()), e.message().to_owned()))
            .collect();
        let root = parse.syntax_node();
        for node in root.children() {
            let start = node
                .descendants_with_tokens()
                .filter_map(|e| e.into_token())
                .find(|t| !t.kind().is_trivia())
                .map(|t| usize::from(t.text_range().start()));
            let Some(start) = start else { continue };
            if node.kind() == K::EMPTY_STMT {
                continue;
            }
            let origin = Origin {
                file: file.to_owned(),
                line: source.line(start),
            };
            let range = node.text_range();
            let error = errors.iter().find(|(at, _)| {
                *at >= usize::from(range.start()) && *at <= usize::from(range.end())
            });
            let text = node.text().to_string();
            if let Some((_, message)) = error {
                self.opaque(&origin, &text, format!("does not parse: {message}"), true);
                continue;
            }
            let before = self.snapshot(&node);
            let changes_before = self.changes.len();
            #[cfg(any(test, feature = "replay-self-check"))]
            let whole = self.catalog.clone();
            self.current = Some(origin.clone());
            match self.statement(&node, &origin) {
                Ok(outcome) => {
                    #[cfg(any(test, feature = "replay-self-check"))]
                    {
                        // the statement changed nothing outside what the snapshot kept
                        let mut check = self.catalog.clone();
                        before.restore(&mut check);
                        assert_eq!(check, whole, "a statement changed more than its snapshot");
                    }
                    self.statements.push(StatementOutcome { origin, outcome })
                }
                Err(reason) => {
                    before.restore(&mut self.catalog);
                    self.changes.truncate(changes_before);
                    #[cfg(any(test, feature = "replay-self-check"))]
                    assert_eq!(self.catalog, whole, "a refused statement was not undone");
                    let creates = !matches!(
                        node.kind(),
                        K::ALTER_TABLE
                            | K::ALTER_TYPE
                            | K::ALTER_INDEX
                            | K::ALTER_VIEW
                            | K::ALTER_DOMAIN
                            | K::DROP_TABLE
                            | K::DROP_INDEX
                            | K::DROP_TYPE
                            | K::DROP_VIEW
                            | K::DROP_DOMAIN
                            | K::SELECT
                    );
                    self.opaque(&origin, &text, reason, creates);
                }
            }
        }
    }

    /// What restores the catalog if `node` is refused: a copy of the one table the common
    /// statements (`CREATE TABLE`, `CREATE INDEX`, `ALTER TABLE` on its own columns and
    /// constraints) can change, else a copy of the whole catalog. Copying the whole catalog
    /// before every statement made a replay quadratic in the schema's size.
    fn snapshot(&self, node: &SyntaxNode) -> Snapshot {
        let key = match node.kind() {
            K::CREATE_TABLE => {
                first_name(node, &[K::TABLE_NAME]).and_then(|parts| self.new_name(parts).ok())
            }
            K::CREATE_INDEX => child(node, K::TABLE_RELATION_NAME)
                .and_then(|r| child(&r, K::TABLE_NAME_REF))
                .and_then(|n| self.find_table(parts(&n)).ok()),
            K::ALTER_TABLE => {
                let local = node.children().all(|action| {
                    matches!(action.kind(), K::TABLE_RELATION_NAME | K::IF_EXISTS)
                        || (table_local(action.kind()) && !has_descendant(&action, K::CASCADE))
                });
                let target = child(node, K::TABLE_RELATION_NAME)
                    .and_then(|r| child(&r, K::TABLE_NAME_REF))
                    .map(|n| parts(&n));
                match target {
                    Some(target)
                        if local
                            && self
                                .find(target.clone(), |s, n| s.views.contains_key(n))
                                .is_none() =>
                    {
                        self.find_table(target).ok()
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        match key {
            Some((schema, name)) => {
                let table = self.catalog.schemas[&schema].tables.get(&name).cloned();
                Snapshot::Table {
                    schema,
                    name,
                    table,
                }
            }
            None => Snapshot::Whole(Box::new(self.catalog.clone())),
        }
    }

    /// Records an opaque statement and marks what it may have touched as uncertain.
    fn opaque(&mut self, origin: &Origin, text: &str, reason: Refusal, creates: bool) {
        self.taint(origin, text);
        if creates {
            self.catalog.unknown_objects.push(origin.clone());
        }
        self.statements.push(StatementOutcome {
            origin: origin.clone(),
            outcome: Outcome::Opaque(reason),
        });
    }

    /// Marks as uncertain every object `text` names; everything in reach when it looks the
    /// objects up in the catalog (`information_schema`, `pg_*`, `current_schema`).
    fn taint(&mut self, origin: &Origin, text: &str) {
        let words = words(text);
        let everything = words
            .iter()
            .any(|w| w == "information_schema" || w.starts_with("pg_") || w == "current_schema");
        let reach: Vec<String> = self.search_path.clone();
        for (schema_name, schema) in &mut self.catalog.schemas {
            let whole = everything && (reach.contains(schema_name) || words.contains(schema_name));
            let hit = |name: &str| whole || words.contains(&name.to_lowercase());
            for table in schema.tables.values_mut() {
                if hit(&table.name) {
                    mark_table(table, origin);
                }
            }
            for view in schema.views.values_mut() {
                if hit(&view.name) && view.uncertain.is_none() {
                    view.uncertain = Some(origin.clone());
                }
            }
            for e in schema.enums.values_mut() {
                if hit(&e.name) && e.uncertain.is_none() {
                    e.uncertain = Some(origin.clone());
                }
            }
            for d in schema.domains.values_mut() {
                if hit(&d.name) && d.uncertain.is_none() {
                    d.uncertain = Some(origin.clone());
                }
            }
        }
    }

    fn statement(&mut self, node: &SyntaxNode, origin: &Origin) -> Result<Outcome, Refusal> {
        match node.kind() {
            K::CREATE_TABLE => self.create_table(node, origin),
            K::ALTER_TABLE => self.alter_table(node, origin),
            K::DROP_TABLE => self.drop_relations(node, false),
            K::CREATE_INDEX => self.create_index(node),
            K::DROP_INDEX => self.drop_index(node),
            K::ALTER_INDEX => self.alter_index(node),
            K::CREATE_TYPE => self.create_type(node),
            K::ALTER_TYPE => self.alter_type(node),
            K::DROP_TYPE | K::DROP_DOMAIN => self.drop_types(node),
            K::CREATE_DOMAIN => self.create_domain(node, origin),
            K::ALTER_DOMAIN => self.alter_domain(node),
            K::CREATE_VIEW => self.create_view(node),
            K::ALTER_VIEW => self.alter_view(node),
            K::DROP_VIEW => self.drop_relations(node, true),
            K::CREATE_SCHEMA => self.create_schema(node),
            K::DROP_SCHEMA => self.drop_schema(node),
            K::CREATE_EXTENSION => self.create_extension(node),
            K::DROP_EXTENSION => {
                for name in node
                    .descendants()
                    .filter(|n| n.kind() == K::NAME_REF || n.kind() == K::EXTENSION)
                {
                    for part in parts(&name) {
                        self.catalog.extensions.remove(&part);
                    }
                }
                Ok(Outcome::Applied)
            }
            K::SET => self.set(node),
            K::RESET => {
                let text = node.text().to_string().to_lowercase();
                if text.contains("search_path") || text.contains(" all") {
                    self.path_unknown = None;
                    self.search_path = server_default_search_path();
                    Ok(Outcome::Applied)
                } else {
                    Ok(Outcome::NoSchemaEffect)
                }
            }
            K::CREATE_FUNCTION | K::CREATE_PROCEDURE => {
                if let Some(name) = node
                    .children()
                    .find(|n| matches!(n.kind(), K::FUNCTION_NAME | K::PATH))
                    .and_then(|n| parts(&n).pop())
                {
                    self.catalog.functions.push(name);
                }
                Ok(Outcome::NoSchemaEffect)
            }
            K::SELECT | K::COMPOUND_SELECT | K::PAREN_SELECT | K::VALUES | K::TABLE => {
                let called: Vec<String> = node
                    .descendants()
                    .filter(|n| n.kind() == K::CALL_EXPR)
                    .filter_map(|call| child(&call, K::NAME_REF).and_then(|n| parts(&n).pop()))
                    .collect();
                if called.iter().any(|f| f == "set_config") {
                    self.path_unknown = Some(origin.clone());
                }
                if let Some(f) = called
                    .iter()
                    .find(|f| f.as_str() == "set_config" || self.catalog.functions.contains(f))
                {
                    return Err(format!(
                        "calls `{f}`, which may change the schema or the search path"
                    ));
                }
                Ok(Outcome::NoSchemaEffect)
            }
            K::INSERT
            | K::UPDATE
            | K::DELETE
            | K::MERGE
            | K::TRUNCATE
            | K::COPY
            | K::GRANT
            | K::REVOKE
            | K::COMMENT_ON
            | K::SECURITY_LABEL
            | K::CREATE_TRIGGER
            | K::DROP_TRIGGER
            | K::ALTER_TRIGGER
            | K::DROP_FUNCTION
            | K::DROP_PROCEDURE
            | K::DROP_ROUTINE
            | K::ALTER_FUNCTION
            | K::ALTER_PROCEDURE
            | K::ALTER_ROUTINE
            | K::CREATE_SEQUENCE
            | K::ALTER_SEQUENCE
            | K::DROP_SEQUENCE
            | K::BEGIN
            | K::COMMIT_TRANSACTION
            | K::ROLLBACK_TRANSACTION
            | K::ROLLBACK_TO_SAVEPOINT
            | K::SAVEPOINT_CREATE
            | K::RELEASE_SAVEPOINT
            | K::ANALYZE
            | K::VACUUM
            | K::CREATE_ROLE
            | K::ALTER_ROLE
            | K::DROP_ROLE
            | K::CREATE_USER
            | K::ALTER_USER
            | K::DROP_USER
            | K::CREATE_GROUP
            | K::CREATE_POLICY
            | K::ALTER_POLICY
            | K::DROP_POLICY
            | K::CLUSTER
            | K::REINDEX
            | K::NOTIFY
            | K::LISTEN
            | K::UNLISTEN
            | K::LOCK
            | K::CREATE_STATISTICS
            | K::ALTER_STATISTICS
            | K::DROP_STATISTICS
            | K::ALTER_DEFAULT_PRIVILEGES
            | K::SHOW
            | K::CHECKPOINT
            | K::SET_CONSTRAINTS
            | K::SET_TRANSACTION
            | K::SET_ROLE
            | K::RESET_ROLE
            | K::SET_SESSION_AUTH
            | K::RESET_SESSION_AUTH
            | K::CREATE_PUBLICATION
            | K::ALTER_PUBLICATION
            | K::DROP_PUBLICATION
            | K::REFRESH
            | K::EXPLAIN
            | K::ALTER_SCHEMA
            | K::ALTER_EXTENSION
            | K::DROP_OWNED
            | K::REASSIGN => {
                if node.kind() == K::ALTER_SCHEMA && has_descendant(node, K::SCHEMA_RENAME_TO) {
                    return Err("`ALTER SCHEMA … RENAME` is not modelled".to_owned());
                }
                Ok(Outcome::NoSchemaEffect)
            }
            K::DO => Err("a `DO` block runs code the replay cannot see into".to_owned()),
            K::CREATE_TABLE_AS => self.create_table_as(node, origin),
            K::SELECT_INTO => {
                Err("the table's columns come from a query the replay does not run".to_owned())
            }
            other => Err(format!("`{}` is not modelled", kind_words(other))),
        }
    }

    // ---- names and schemas ------------------------------------------------------------------

    /// The schema a new object without a schema goes to: the first existing one on the path.
    pub(super) fn creation_schema(&self, explicit: Option<String>) -> Result<String, Refusal> {
        if explicit.is_none()
            && let Some(origin) = &self.path_unknown
        {
            return Err(format!("the search path is unknown after `{origin}`"));
        }
        if let Some(schema) = explicit {
            return if self.catalog.schemas.contains_key(&schema) {
                Ok(schema)
            } else {
                Err(format!("unknown schema `{schema}`"))
            };
        }
        self.search_path
            .iter()
            .find(|s| self.catalog.schemas.contains_key(*s))
            .cloned()
            .ok_or_else(|| "no schema on the search path exists".to_owned())
    }

    /// Splits `[schema.]name` for a new object.
    pub(super) fn new_name(&self, mut parts: Vec<String>) -> Result<(String, String), Refusal> {
        let name = parts.pop().ok_or("a name is missing")?;
        let schema = self.creation_schema(parts.pop())?;
        Ok((schema, name))
    }

    /// Finds an existing object by `[schema.]name` on the search path.
    pub(super) fn find(
        &self,
        mut parts: Vec<String>,
        exists: impl Fn(&super::catalog::Schema, &str) -> bool,
    ) -> Option<(String, String)> {
        let name = parts.pop()?;
        if parts.is_empty() && self.path_unknown.is_some() {
            return None;
        }
        match parts.pop() {
            Some(schema) => self
                .catalog
                .schemas
                .get(&schema)
                .filter(|s| exists(s, &name))
                .map(|_| (schema, name)),
            None => self
                .search_path
                .iter()
                .find(|s| {
                    self.catalog
                        .schemas
                        .get(*s)
                        .is_some_and(|s| exists(s, &name))
                })
                .map(|s| (s.clone(), name)),
        }
    }

    pub(super) fn find_table(&self, parts: Vec<String>) -> Result<(String, String), Refusal> {
        let shown = parts.join(".");
        self.find(parts, |s, n| s.tables.contains_key(n))
            .ok_or_else(|| format!("unknown table `{shown}`"))
    }

    pub(super) fn table_mut(&mut self, at: &(String, String)) -> &mut Table {
        self.catalog
            .schemas
            .get_mut(&at.0)
            .and_then(|s| s.tables.get_mut(&at.1))
            .expect("a table found by find_table")
    }

    /// Whether a relation name (table, view, index) is taken in `schema`.
    pub(super) fn relation_taken(&self, schema: &str, name: &str) -> bool {
        self.catalog.schemas.get(schema).is_some_and(|s| {
            s.tables.contains_key(name)
                || s.views.contains_key(name)
                || s.tables
                    .values()
                    .any(|t| t.indexes.iter().any(|i| i.name == name))
        })
    }

    pub(super) fn constraint_taken(&self, schema: &str, name: &str) -> bool {
        self.catalog.schemas.get(schema).is_some_and(|s| {
            s.tables
                .values()
                .any(|t| t.constraints.iter().any(|c| c.name == name))
        })
    }

    /// A type name as `format_type` prints it, resolved against the catalog.
    pub(super) fn resolve_type(&self, written: &Written) -> Option<String> {
        resolve_written(&self.catalog, &self.search_path, written)
    }

    // ---- tables -----------------------------------------------------------------------------

    fn create_table(&mut self, node: &SyntaxNode, origin: &Origin) -> Result<Outcome, Refusal> {
        if node
            .children()
            .filter(|n| n.kind() != K::TABLE_ARG_LIST)
            .any(|n| has_descendant(&n, K::TEMP_KW) || has_descendant(&n, K::TEMPORARY_KW))
        {
            // it lives in the session's own schema and goes with the connection
            return Err("a temporary table is not modelled".to_owned());
        }
        let (schema, name) =
            self.new_name(first_name(node, &[K::TABLE_NAME]).unwrap_or_default())?;
        if self.relation_taken(&schema, &name) {
            return if has(node, K::IF_NOT_EXISTS) {
                Ok(Outcome::NoSchemaEffect)
            } else {
                Err(format!("relation `{name}` already exists"))
            };
        }
        let inherited = [K::PARTITION_OF, K::OF_TYPE, K::INHERITS]
            .into_iter()
            .find(|k| has(node, *k));
        let args = child(node, K::TABLE_ARG_LIST);
        let like = args.as_ref().is_some_and(|a| has(a, K::LIKE_CLAUSE));
        if inherited.is_some() || like {
            // the table exists, but its columns, constraints and indexes come from another
            // table or type the replay does not copy
            let table = Table {
                name: name.clone(),
                columns: Vec::new(),
                constraints: Vec::new(),
                indexes: Vec::new(),
                uncertain: Some(origin.clone()),
            };
            self.catalog
                .schemas
                .get_mut(&schema)
                .expect("creation schema exists")
                .tables
                .insert(name, table);
            let what = match inherited {
                Some(K::PARTITION_OF) => "`PARTITION OF`",
                Some(K::OF_TYPE) => "`OF type`",
                Some(_) => "`INHERITS`",
                None => "`LIKE`",
            };
            return Ok(Outcome::Opaque(format!(
                "{what}: the columns, constraints and indexes it copies are not modelled"
            )));
        }
        let mut table = Table {
            name: name.clone(),
            columns: Vec::new(),
            constraints: Vec::new(),
            indexes: Vec::new(),
            uncertain: None,
        };
        let mut pending = Vec::new();
        for arg in args.iter().flat_map(|a| a.children()) {
            if arg.kind() == K::COLUMN {
                let column = self.column(&arg, origin, &mut pending)?;
                table.columns.push(column);
            } else {
                pending.push(self.table_constraint(&arg)?);
            }
        }
        self.catalog
            .schemas
            .get_mut(&schema)
            .expect("creation schema exists")
            .tables
            .insert(name.clone(), table);
        let at = (schema, name);
        // PostgreSQL names checks when it creates the table, then the indexes, then the keys
        pending.sort_by_key(|p| match p.kind {
            ConstraintKind::Check => 0,
            ConstraintKind::PrimaryKey | ConstraintKind::Unique | ConstraintKind::Exclusion => 1,
            ConstraintKind::ForeignKey => 2,
        });
        for p in pending {
            self.add_constraint(&at, p)?;
        }
        let nullable: Vec<String> = self
            .table_mut(&at)
            .columns
            .iter()
            .filter(|c| !c.not_null)
            .map(|c| c.name.clone())
            .collect();
        for column in nullable {
            self.record(&at, Some(&column), super::ChangeKind::MadeNullable);
        }
        Ok(Outcome::Applied)
    }

    /// `CREATE TABLE … AS`: the table exists, its columns come from a query the replay does
    /// not run, so it is uncertain; nothing else changes.
    fn create_table_as(&mut self, node: &SyntaxNode, origin: &Origin) -> Result<Outcome, Refusal> {
        let (schema, name) =
            self.new_name(first_name(node, &[K::TABLE_NAME]).unwrap_or_default())?;
        if self.relation_taken(&schema, &name) {
            return if has(node, K::IF_NOT_EXISTS) {
                Ok(Outcome::NoSchemaEffect)
            } else {
                Err(format!("relation `{name}` already exists"))
            };
        }
        let table = Table {
            name: name.clone(),
            columns: Vec::new(),
            constraints: Vec::new(),
            indexes: Vec::new(),
            uncertain: Some(origin.clone()),
        };
        self.catalog
            .schemas
            .get_mut(&schema)
            .expect("creation schema exists")
            .tables
            .insert(name, table);
        Ok(Outcome::Opaque(
            "`CREATE TABLE … AS`: the columns come from a query the replay does not run".to_owned(),
        ))
    }

    /// A column definition (`COLUMN` in `CREATE TABLE`, `ADD_COLUMN` in `ALTER TABLE`); its
    /// inline constraints go to `pending`.
    fn column(
        &self,
        node: &SyntaxNode,
        origin: &Origin,
        pending: &mut Vec<Pending>,
    ) -> Result<Column, Refusal> {
        let name = first_name(node, &[K::COLUMN_NAME])
            .and_then(|mut p| p.pop())
            .ok_or("a column without a name")?;
        let type_node = node
            .children()
            .find(|n| is_type(n.kind()))
            .ok_or("a column without a type")?;
        let written = written(&type_node);
        let type_name = self.resolve_type(&written);
        let serial = matches!(written, Written::Serial(_));
        let mut column = Column {
            name: name.clone(),
            uncertain: if type_name.is_none() {
                // PostgreSQL would refuse an unknown type: something opaque must have made it
                Some(
                    self.catalog
                        .unknown_objects
                        .last()
                        .cloned()
                        .unwrap_or_else(|| origin.clone()),
                )
            } else {
                None
            },
            type_name,
            not_null: serial,
            has_default: serial,
            identity: Identity::No,
            generated: false,
        };
        for clause in node.children() {
            let explicit = child(&clause, K::CONSTRAINT_NAME_CLAUSE)
                .and_then(|c| child(&c, K::CONSTRAINT_NAME))
                .and_then(|n| parts(&n).pop());
            let mut constraint = |kind, references| {
                pending.push(Pending {
                    name: explicit.clone(),
                    kind,
                    columns: vec![name.clone()],
                    references,
                    using_index: None,
                })
            };
            match clause.kind() {
                K::NOT_NULL_CONSTRAINT => column.not_null = true,
                K::DEFAULT_CONSTRAINT => column.has_default = true,
                K::PRIMARY_KEY_CONSTRAINT => {
                    column.not_null = true;
                    constraint(ConstraintKind::PrimaryKey, None);
                }
                K::UNIQUE_CONSTRAINT => constraint(ConstraintKind::Unique, None),
                K::REFERENCES_CONSTRAINT => {
                    let target = first_name(&clause, &[K::TABLE_NAME_REF])
                        .ok_or("`REFERENCES` without a table")?;
                    constraint(ConstraintKind::ForeignKey, Some(target));
                }
                K::CHECK_CONSTRAINT => {
                    pending.push(Pending {
                        name: explicit.clone(),
                        kind: ConstraintKind::Check,
                        columns: name_refs(&clause),
                        references: None,
                        using_index: None,
                    });
                }
                K::GENERATED_CONSTRAINT => {
                    if let Some(identity) = child(&clause, K::GENERATED_IDENTITY) {
                        column.not_null = true;
                        column.identity = if has(&identity, K::GENERATED_ALWAYS) {
                            Identity::Always
                        } else {
                            Identity::ByDefault
                        };
                    } else {
                        column.generated = true;
                        column.has_default = true;
                    }
                }
                K::NULL_CONSTRAINT
                | K::COLLATE
                | K::STORAGE
                | K::COMPRESSION_METHOD
                | K::WITH_OPTIONS
                | K::ALTER_OPTION_LIST
                | K::COLUMN_NAME
                | K::IF_NOT_EXISTS => {}
                kind if is_type(kind) => {}
                K::EXCLUDE_CONSTRAINT => {
                    return Err("exclusion constraints are not modelled".to_owned());
                }
                // a clause the replay does not know is not skipped: the statement is opaque
                other => {
                    return Err(format!(
                        "the column clause `{}` is not modelled",
                        kind_words(other)
                    ));
                }
            }
        }
        Ok(column)
    }

    /// A table-level constraint (`CREATE TABLE (…, CONSTRAINT …)`, `ADD CONSTRAINT`).
    fn table_constraint(&self, node: &SyntaxNode) -> Result<Pending, Refusal> {
        let name = child(node, K::CONSTRAINT_NAME_CLAUSE)
            .and_then(|c| child(&c, K::CONSTRAINT_NAME))
            .and_then(|n| parts(&n).pop());
        let index_columns = || -> Vec<String> {
            child(node, K::INDEX_PARAMETERS)
                .and_then(|p| child(&p, K::CONSTRAINT_COLUMN_REF_LIST))
                .map(|l| {
                    children(&l, K::COLUMN_NAME_REF)
                        .iter()
                        .filter_map(|c| parts(c).pop())
                        .collect()
                })
                .unwrap_or_default()
        };
        let using_index = child(node, K::USING_INDEX_NAME)
            .and_then(|u| u.children().next())
            .and_then(|n| parts(&n).pop());
        let (kind, columns, references) = match node.kind() {
            K::PRIMARY_KEY_CONSTRAINT => (ConstraintKind::PrimaryKey, index_columns(), None),
            K::UNIQUE_CONSTRAINT => (ConstraintKind::Unique, index_columns(), None),
            K::FOREIGN_KEY_CONSTRAINT => {
                let columns = child(node, K::FOREIGN_KEY_COLUMN_LIST)
                    .map(|l| {
                        children(&l, K::COLUMN_NAME_REF)
                            .iter()
                            .filter_map(|c| parts(c).pop())
                            .collect()
                    })
                    .unwrap_or_default();
                let target = first_name(node, &[K::TABLE_NAME_REF])
                    .ok_or("`FOREIGN KEY` without a table")?;
                (ConstraintKind::ForeignKey, columns, Some(target))
            }
            K::CHECK_CONSTRAINT => (ConstraintKind::Check, name_refs(node), None),
            other => return Err(format!("`{}` is not modelled", kind_words(other))),
        };
        if columns.is_empty() && using_index.is_none() && kind != ConstraintKind::Check {
            return Err("a key constraint without columns".to_owned());
        }
        Ok(Pending {
            name,
            kind,
            columns,
            references,
            using_index,
        })
    }

    /// Names a constraint as PostgreSQL would and adds it, with its index for a key.
    fn add_constraint(&mut self, at: &(String, String), p: Pending) -> Result<(), Refusal> {
        let (schema, table_name) = at;
        let references = match &p.references {
            Some(target) => Some(self.find_table(target.clone())?),
            None => None,
        };
        let table = &self.catalog.schemas[schema].tables[table_name];
        let mut columns = p.columns.clone();
        if p.kind == ConstraintKind::Check {
            // the names in a check's expression that are this table's columns
            columns.retain(|c| table.columns.iter().any(|col| &col.name == c));
        } else if let Some(missing) = columns
            .iter()
            .find(|c| !table.columns.iter().any(|col| &col.name == *c))
        {
            return Err(format!("unknown column `{missing}` in `{table_name}`"));
        }
        let joined = columns.join("_");
        let name = match (&p.name, &p.using_index, p.kind) {
            (Some(name), _, _) => name.clone(),
            (None, Some(index), _) => index.clone(),
            (None, None, ConstraintKind::PrimaryKey) => {
                choose(table_name, None, "pkey", |n| self.relation_taken(schema, n))
            }
            (None, None, ConstraintKind::Unique) => choose(table_name, Some(&joined), "key", |n| {
                self.relation_taken(schema, n)
            }),
            (None, None, ConstraintKind::ForeignKey) => {
                choose(table_name, Some(&joined), "fkey", |n| {
                    self.constraint_taken(schema, n)
                })
            }
            (None, None, ConstraintKind::Check) => {
                let single = (columns.len() == 1).then(|| columns[0].as_str());
                choose(table_name, single, "check", |n| {
                    self.constraint_taken(schema, n)
                })
            }
            (None, None, ConstraintKind::Exclusion) => {
                return Err("exclusion constraints are not modelled".to_owned());
            }
        };
        let table = self.table_mut(at);
        if let Some(index) = &p.using_index {
            // `ADD CONSTRAINT … USING INDEX`: the index becomes the constraint's, renamed
            let Some(existing) = table.indexes.iter_mut().find(|i| &i.name == index) else {
                return Err(format!("unknown index `{index}`"));
            };
            existing.name = name.clone();
            existing.primary = p.kind == ConstraintKind::PrimaryKey;
            columns = existing.columns.clone();
        } else if matches!(p.kind, ConstraintKind::PrimaryKey | ConstraintKind::Unique) {
            table.indexes.push(Index {
                name: name.clone(),
                unique: true,
                primary: p.kind == ConstraintKind::PrimaryKey,
                columns: columns.clone(),
                uncertain: None,
            });
        }
        if p.kind == ConstraintKind::PrimaryKey {
            for column in &mut table.columns {
                if columns.contains(&column.name) {
                    column.not_null = true;
                }
            }
        }
        table.constraints.push(Constraint {
            name,
            kind: p.kind,
            columns,
            references,
            uncertain: None,
        });
        Ok(())
    }

    fn alter_table(&mut self, node: &SyntaxNode, origin: &Origin) -> Result<Outcome, Refusal> {
        let target = child(node, K::TABLE_RELATION_NAME)
            .and_then(|r| child(&r, K::TABLE_NAME_REF))
            .map(|n| parts(&n))
            .ok_or("`ALTER TABLE` without a table")?;
        let actions: Vec<SyntaxNode> = node
            .children()
            .filter(|n| !matches!(n.kind(), K::TABLE_RELATION_NAME | K::IF_EXISTS))
            .collect();
        // `ALTER TABLE` also renames and moves views
        if let Some(view) = self.find(target.clone(), |s, n| s.views.contains_key(n)) {
            return match actions.as_slice() {
                [action] => self.view_action(&view, action),
                _ => Err("`ALTER TABLE` on a view is not modelled".to_owned()),
            };
        }
        let at = match self.find_table(target) {
            Ok(at) => at,
            Err(_) if has(node, K::IF_EXISTS) && self.catalog.unknown_objects.is_empty() => {
                return Ok(Outcome::NoSchemaEffect);
            }
            Err(e) => return Err(e),
        };
        let mut at = at;
        for action in actions {
            self.table_action(&mut at, &action, origin)?;
        }
        Ok(Outcome::Applied)
    }

    fn table_action(
        &mut self,
        at: &mut (String, String),
        action: &SyntaxNode,
        origin: &Origin,
    ) -> Result<(), Refusal> {
        match action.kind() {
            K::ADD_COLUMN => {
                let mut pending = Vec::new();
                let column = self.column(action, origin, &mut pending)?;
                let table = self.table_mut(at);
                if table.columns.iter().any(|c| c.name == column.name) {
                    return if has(action, K::IF_NOT_EXISTS) {
                        Ok(())
                    } else {
                        Err(format!("column `{}` already exists", column.name))
                    };
                }
                let (name, nullable) = (column.name.clone(), !column.not_null);
                table.columns.push(column);
                pending.sort_by_key(|p| p.kind == ConstraintKind::ForeignKey);
                for p in pending {
                    self.add_constraint(at, p)?;
                }
                let now_nullable = self
                    .table_mut(at)
                    .columns
                    .iter()
                    .any(|c| c.name == name && !c.not_null);
                if nullable && now_nullable {
                    self.record(at, Some(&name), super::ChangeKind::MadeNullable);
                }
            }
            K::DROP_COLUMN => {
                let name = first_name(action, &[K::COLUMN_NAME_REF])
                    .and_then(|mut p| p.pop())
                    .ok_or("`DROP COLUMN` without a column")?;
                let cascade = has(action, K::CASCADE);
                let table = self.table_mut(at);
                let before = table.columns.len();
                table.columns.retain(|c| c.name != name);
                if table.columns.len() == before {
                    return if has(action, K::IF_EXISTS) && table.uncertain.is_none() {
                        Ok(())
                    } else {
                        Err(format!("unknown column `{name}` in `{}`", at.1))
                    };
                }
                table.constraints.retain(|c| !c.columns.contains(&name));
                table.indexes.retain(|i| !i.columns.contains(&name));
                self.record(at, Some(&name), super::ChangeKind::Dropped);
                if cascade {
                    self.cascade_uncertain(at);
                }
            }
            K::ALTER_COLUMN => {
                let name = first_name(action, &[K::COLUMN_NAME_REF])
                    .and_then(|mut p| p.pop())
                    .ok_or("`ALTER COLUMN` without a column")?;
                let option = action
                    .children()
                    .find(|n| n.kind() != K::COLUMN_NAME_REF)
                    .ok_or("`ALTER COLUMN` without an action")?;
                let new_type = if option.kind() == K::SET_TYPE {
                    let type_node = option
                        .children()
                        .find(|n| is_type(n.kind()))
                        .ok_or("`TYPE` without a type")?;
                    let written = written(&type_node);
                    if matches!(written, Written::Serial(_)) {
                        return Err("`serial` is not a type `ALTER COLUMN` accepts".to_owned());
                    }
                    Some(
                        self.resolve_type(&written)
                            .ok_or_else(|| format!("unknown type `{}`", type_node.text()))?,
                    )
                } else {
                    None
                };
                let table = self.table_mut(at);
                let table_name = table.name.clone();
                let column = table
                    .columns
                    .iter_mut()
                    .find(|c| c.name == name)
                    .ok_or_else(|| format!("unknown column `{name}` in `{table_name}`"))?;
                match option.kind() {
                    K::SET_TYPE => column.type_name = new_type,
                    K::SET_NOT_NULL => column.not_null = true,
                    K::DROP_NOT_NULL => {
                        column.not_null = false;
                        self.record(at, Some(&name), super::ChangeKind::MadeNullable);
                    }
                    K::SET_DEFAULT => column.has_default = true,
                    K::DROP_DEFAULT => column.has_default = false,
                    K::ADD_GENERATED => {
                        column.not_null = true;
                        column.identity = if has_descendant(&option, K::GENERATED_ALWAYS) {
                            Identity::Always
                        } else {
                            Identity::ByDefault
                        };
                    }
                    K::DROP_IDENTITY => column.identity = Identity::No,
                    K::DROP_EXPRESSION => {
                        column.generated = false;
                        column.has_default = false;
                    }
                    K::SET_STATISTICS
                    | K::SET_STORAGE
                    | K::SET_COMPRESSION
                    | K::SET_OPTIONS
                    | K::RESET_OPTIONS
                    | K::SET_OPTIONS_LIST
                    | K::SET_SEQUENCE_OPTION
                    | K::RESTART => {}
                    K::SET_GENERATED | K::SET_GENERATED_OPTIONS => {
                        let always = has_descendant(&option, K::ALWAYS_KW);
                        let by_default = has_descendant(&option, K::BY_KW);
                        if always {
                            column.identity = Identity::Always;
                        } else if by_default {
                            column.identity = Identity::ByDefault;
                        }
                    }
                    other => {
                        return Err(format!(
                            "`ALTER COLUMN … {}` is not modelled",
                            kind_words(other)
                        ));
                    }
                }
            }
            K::ADD_CONSTRAINT => {
                let constraint = action
                    .children()
                    .find(|n| n.kind() != K::NOT_VALID)
                    .ok_or("`ADD CONSTRAINT` without a constraint")?;
                let p = self.table_constraint(&constraint)?;
                self.add_constraint(at, p)?;
            }
            K::DROP_CONSTRAINT => {
                let name = first_name(action, &[K::CONSTRAINT_NAME_REF])
                    .and_then(|mut p| p.pop())
                    .ok_or("`DROP CONSTRAINT` without a name")?;
                let table = self.table_mut(at);
                let Some(position) = table.constraints.iter().position(|c| c.name == name) else {
                    return if has(action, K::IF_EXISTS) && table.uncertain.is_none() {
                        Ok(())
                    } else {
                        Err(format!("unknown constraint `{name}`"))
                    };
                };
                let removed = table.constraints.remove(position);
                if matches!(
                    removed.kind,
                    ConstraintKind::PrimaryKey | ConstraintKind::Unique
                ) {
                    table.indexes.retain(|i| i.name != name);
                    if has(action, K::CASCADE) {
                        self.cascade_uncertain(at);
                    }
                }
            }
            K::RENAME_COLUMN => {
                let old = first_name(action, &[K::COLUMN_NAME_REF]).and_then(|mut p| p.pop());
                let new = first_name(action, &[K::COLUMN_NAME]).and_then(|mut p| p.pop());
                let (Some(old), Some(new)) = (old, new) else {
                    return Err("`RENAME COLUMN` without names".to_owned());
                };
                let table = self.table_mut(at);
                let column = table
                    .columns
                    .iter_mut()
                    .find(|c| c.name == old)
                    .ok_or_else(|| format!("unknown column `{old}`"))?;
                column.name = new.clone();
                self.record(at, Some(&old), super::ChangeKind::RenamedTo(new.clone()));
                let table = self.table_mut(at);
                let rename = |list: &mut Vec<String>| {
                    for c in list.iter_mut().filter(|c| **c == old) {
                        *c = new.clone();
                    }
                };
                table
                    .constraints
                    .iter_mut()
                    .for_each(|c| rename(&mut c.columns));
                table
                    .indexes
                    .iter_mut()
                    .for_each(|i| rename(&mut i.columns));
            }
            K::RENAME_CONSTRAINT => {
                let old = first_name(action, &[K::CONSTRAINT_NAME_REF]).and_then(|mut p| p.pop());
                let new = first_name(action, &[K::CONSTRAINT_NAME]).and_then(|mut p| p.pop());
                let (Some(old), Some(new)) = (old, new) else {
                    return Err("`RENAME CONSTRAINT` without names".to_owned());
                };
                let table = self.table_mut(at);
                let constraint = table
                    .constraints
                    .iter_mut()
                    .find(|c| c.name == old)
                    .ok_or_else(|| format!("unknown constraint `{old}`"))?;
                constraint.name = new.clone();
                if let Some(index) = table.indexes.iter_mut().find(|i| i.name == old) {
                    index.name = new;
                }
            }
            K::TABLE_RENAME_TO => {
                let new = first_name(action, &[K::TABLE_NAME])
                    .and_then(|mut p| p.pop())
                    .ok_or("`RENAME TO` without a name")?;
                if self.relation_taken(&at.0, &new) {
                    return Err(format!("relation `{new}` already exists"));
                }
                self.record(at, None, super::ChangeKind::RenamedTo(new.clone()));
                self.move_table(at, (at.0.clone(), new));
            }
            K::SET_SCHEMA => {
                let schema = first_name(action, &[K::SCHEMA_REF, K::NAME_REF])
                    .and_then(|mut p| p.pop())
                    .ok_or("`SET SCHEMA` without a schema")?;
                if !self.catalog.schemas.contains_key(&schema) {
                    return Err(format!("unknown schema `{schema}`"));
                }
                self.move_table(at, (schema, at.1.clone()));
            }
            kind if no_model_effect(kind) => {}
            other => {
                return Err(format!(
                    "`ALTER TABLE … {}` is not modelled",
                    kind_words(other)
                ));
            }
        }
        Ok(())
    }

    /// Renames or moves a table, and follows it in foreign keys and views.
    fn move_table(&mut self, at: &mut (String, String), to: (String, String)) {
        let mut table = self
            .catalog
            .schemas
            .get_mut(&at.0)
            .and_then(|s| s.tables.remove(&at.1))
            .expect("a table found by find_table");
        table.name = to.1.clone();
        for schema in self.catalog.schemas.values_mut() {
            for other in schema.tables.values_mut() {
                for c in &mut other.constraints {
                    if c.references.as_ref() == Some(at) {
                        c.references = Some(to.clone());
                    }
                }
            }
            for view in schema.views.values_mut() {
                for read in &mut view.reads {
                    if read == at {
                        *read = to.clone();
                    }
                }
            }
        }
        for c in &mut table.constraints {
            if c.references.as_ref() == Some(at) {
                c.references = Some(to.clone());
            }
        }
        self.catalog
            .schemas
            .get_mut(&to.0)
            .expect("target schema exists")
            .tables
            .insert(to.1.clone(), table);
        *at = to;
    }

    /// After a `CASCADE` the replay does not follow: views reading the table and foreign keys
    /// pointing at it are uncertain.
    pub(super) fn cascade_uncertain(&mut self, at: &(String, String)) {
        let origin = self.current_origin();
        for schema in self.catalog.schemas.values_mut() {
            for view in schema.views.values_mut() {
                if view.reads.contains(at) && view.uncertain.is_none() {
                    view.uncertain = Some(origin.clone());
                }
            }
            for table in schema.tables.values_mut() {
                for c in &mut table.constraints {
                    if c.references.as_ref() == Some(at) && c.uncertain.is_none() {
                        c.uncertain = Some(origin.clone());
                    }
                }
            }
        }
    }

    /// Records what a statement did to a relation or a column.
    pub(super) fn record(
        &mut self,
        relation: &(String, String),
        column: Option<&str>,
        kind: super::ChangeKind,
    ) {
        // earlier changes follow the object to its new name, so a lookup by the current name
        // finds them; the rename itself stays under the old name
        if let super::ChangeKind::RenamedTo(new) = &kind {
            for c in self.changes.iter_mut().filter(|c| &c.relation == relation) {
                match column {
                    Some(column) if c.column.as_deref() == Some(column) => {
                        c.column = Some(new.clone());
                    }
                    Some(_) => {}
                    None => c.relation.1 = new.clone(),
                }
            }
        }
        self.changes.push(super::Change {
            origin: self.current_origin(),
            relation: relation.clone(),
            column: column.map(str::to_owned),
            kind,
        });
    }

    /// The statement being replayed.
    pub(super) fn current_origin(&self) -> Origin {
        self.current.clone().unwrap_or(Origin {
            file: String::new(),
            line: 0,
        })
    }
}

/// `RESET search_path` goes back to the server's default, `"$user", public` (pgready and sqlx
/// set the session's path with `SET`, which `RESET` undoes); the replay assumes no schema has
/// the role's name.
pub(super) fn server_default_search_path() -> Vec<String> {
    vec!["public".to_owned()]
}

pub(crate) fn has_descendant(node: &SyntaxNode, kind: K) -> bool {
    node.descendants_with_tokens().any(|e| e.kind() == kind)
}

/// Marks a table and everything it has now as uncertain.
pub(super) fn mark_table(table: &mut Table, origin: &Origin) {
    if table.uncertain.is_none() {
        table.uncertain = Some(origin.clone());
    }
    for c in &mut table.columns {
        c.uncertain.get_or_insert_with(|| origin.clone());
    }
    for c in &mut table.constraints {
        c.uncertain.get_or_insert_with(|| origin.clone());
    }
    for i in &mut table.indexes {
        i.uncertain.get_or_insert_with(|| origin.clone());
    }
}

/// `format_type`'s spelling of a user type: schema-qualified unless it lives in the schema
/// names resolve in, quoted when it needs quotes.
pub(crate) fn qualified_type(base_schema: &str, schema: &str, name: &str) -> String {
    if schema == base_schema || schema == "pg_catalog" {
        quote_ident(name)
    } else {
        format!("{}.{}", quote_ident(schema), quote_ident(name))
    }
}

/// `quote_ident`, without the keyword list: quotes a name that is not all lowercase letters,
/// digits, `_` and `$`.
pub(crate) fn quote_ident(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$');
    if plain {
        name.to_owned()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// `ALTER_TABLE` → `alter table`: a syntax kind in words, for messages.
pub(crate) fn kind_words(kind: K) -> String {
    format!("{kind:?}").to_lowercase().replace('_', " ")
}

/// A written type's `format_type` name in `catalog`, unqualified names found on `search_path`;
/// `None` when it names nothing the catalog knows.
pub(crate) fn resolve_written(
    catalog: &Catalog,
    search_path: &[String],
    written: &Written,
) -> Option<String> {
    match written {
        Written::Builtin(name) => Some(name.clone()),
        Written::Serial(name) => Some((*name).to_owned()),
        Written::Array(inner) => match inner.as_ref() {
            Written::Serial(_) | Written::Array(_) => None,
            inner => resolve_written(catalog, search_path, inner).map(|t| format!("{t}[]")),
        },
        Written::Unknown => None,
        Written::Named(schema, name) => {
            let defined = |s: &super::catalog::Schema| {
                s.enums.contains_key(name)
                    || s.domains.contains_key(name)
                    || s.other_types.contains_key(name)
            };
            let from_extension = |schema: &str| {
                catalog.extensions.iter().any(|(ext, ext_schema)| {
                    ext_schema == schema
                        && EXTENSION_TYPES
                            .iter()
                            .any(|(e, types)| e == ext && types.contains(&name.as_str()))
                })
            };
            let found = match schema {
                Some(schema) => catalog
                    .schemas
                    .get(schema)
                    .is_some_and(|s| defined(s) || from_extension(schema))
                    .then(|| schema.clone()),
                None => search_path
                    .iter()
                    .find(|s| catalog.schemas.get(*s).is_some_and(defined) || from_extension(s))
                    .cloned(),
            }?;
            Some(qualified_type(&catalog.base_schema, &found, name))
        }
    }
}
