//! One migration file parsed with squawk's PostgreSQL grammar, cut into statements: what the
//! lints read, and what the migrations' statement splitter runs a no-transaction file with.
//!
//! The cut follows the syntax tree, not a scan of the text: a statement ends with the `;` that
//! the parser attached to it at the top level, so `;` inside strings, dollar-quoted bodies,
//! comments and `BEGIN ATOMIC … END` bodies never splits anything.

use std::panic::{AssertUnwindSafe, catch_unwind};

use squawk_syntax::ast;
use squawk_syntax::{Parse, SourceFile, SyntaxElement, SyntaxKind, SyntaxNode};

/// A parsed file.
#[derive(Clone)]
pub(crate) struct Source {
    pub parse: Parse<SourceFile>,
    pub spans: Vec<Span>,
    line_starts: Vec<usize>,
}

/// One top-level statement: everything up to and including its terminating `;`.
#[derive(Clone, Debug)]
pub(crate) struct Span {
    /// the statement's first byte (first token that is not whitespace or a comment)
    pub start: usize,
    /// the end of its last token before the terminating `;`
    pub end: usize,
    /// the end of the terminating `;` (= `end` when there is none)
    pub full_end: usize,
    /// the first syntax error inside the statement
    pub error: Option<String>,
}

impl Source {
    /// Parses `text`. `None` only if the parser itself panicked, which is a bug in the parser
    /// that must not take the build down with it.
    pub fn parse(text: &str) -> Option<Source> {
        catch_unwind(AssertUnwindSafe(|| Source::parse_unguarded(text))).ok()
    }

    fn parse_unguarded(text: &str) -> Source {
        let parse = SourceFile::parse(text);
        let mut spans = cut(&parse.syntax_node());
        for error in parse.errors() {
            if let Some(index) = span_index(&spans, usize::from(error.range().start()))
                && spans[index].error.is_none()
            {
                spans[index].error = Some(error.message().to_owned());
            }
        }
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Source {
            parse,
            spans,
            line_starts,
        }
    }

    /// The 1-based line of a byte offset.
    pub fn line(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|&start| start <= offset)
    }

    /// The statement that `offset` belongs to: the comments and blank lines before a statement
    /// belong to it, and everything after the last one to the last one.
    pub fn span_at(&self, offset: usize) -> Option<&Span> {
        span_index(&self.spans, offset).map(|index| &self.spans[index])
    }

    /// The top-level statements of the tree.
    pub fn stmts(&self) -> impl Iterator<Item = ast::Stmt> {
        self.parse.tree().stmts()
    }
}

/// The index of the statement whose region holds `offset`; the last statement takes
/// everything after it (trailing comments, errors at the end of the file).
fn span_index(spans: &[Span], offset: usize) -> Option<usize> {
    spans
        .iter()
        .position(|span| offset < span.full_end)
        .or_else(|| spans.len().checked_sub(1))
}

/// The first byte of a node that is not trivia (a node's range can start with a comment).
pub(crate) fn node_start(node: &SyntaxNode) -> usize {
    node.descendants_with_tokens()
        .filter_map(|element| element.into_token())
        .find(|token| !token.kind().is_trivia())
        .map(|token| usize::from(token.text_range().start()))
        .unwrap_or_else(|| usize::from(node.text_range().start()))
}

/// Cuts the top level of the tree into statements.
///
/// A statement is a run of top-level elements closed by one whose last token is a `;`; the
/// parser puts the `;` inside the statement node (or an `EMPTY_STMT` after error nodes), so a
/// statement the parser could not read still ends where PostgreSQL would end it.
fn cut(root: &SyntaxNode) -> Vec<Span> {
    let mut spans = Vec::new();
    let mut start: Option<usize> = None;
    let mut end = 0;
    for element in root.children_with_tokens() {
        let tokens: Vec<_> = match &element {
            SyntaxElement::Node(node) => node
                .descendants_with_tokens()
                .filter_map(|e| e.into_token())
                .filter(|t| !t.kind().is_trivia())
                .collect(),
            SyntaxElement::Token(token) if token.kind().is_trivia() => continue,
            SyntaxElement::Token(token) => vec![token.clone()],
        };
        let Some(last) = tokens.last() else { continue };
        let closes = last.kind() == SyntaxKind::SEMICOLON;
        let content = if closes {
            &tokens[..tokens.len() - 1]
        } else {
            &tokens[..]
        };
        if let (Some(first), Some(last_content)) = (content.first(), content.last()) {
            start.get_or_insert(usize::from(first.text_range().start()));
            end = usize::from(last_content.text_range().end());
        }
        if closes {
            let full_end = usize::from(last.text_range().end());
            if let Some(start) = start.take() {
                spans.push(Span {
                    start,
                    end,
                    full_end,
                    error: None,
                });
            }
        }
    }
    if let Some(start) = start {
        spans.push(Span {
            start,
            end,
            full_end: end,
            error: None,
        });
    }
    spans
}
