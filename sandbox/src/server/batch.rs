//! What the connection learns from a request's SQL before the engine runs
//! it: the databases it USEs (refused up front when unavailable), its last
//! SET XACT_ABORT (for injected errors), the table an injected 229 names,
//! and whether its expressions are too deep for the engine's stack.
//!
//! All of it comes from sqlparser, through the engine's own parser (the
//! statements) and tokenizer (the operator count), never from scanning the
//! text: strings, quoted names and comments can no longer look like SQL.

use crate::engine::parse::{parse_batch, Parsed, Tsql};
use crate::fault;
use crate::types::SqlError;
use sqlparser::ast::{self, ConditionalStatements, ObjectNamePart, Statement};
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Token, Tokenizer};

/// Most operators one `;`-separated part of a request may hold. The
/// engine translates operator chains (`... OR ... OR ...`) recursively, one
/// stack frame of about 10 KiB (unoptimised build) per operator, and a
/// stack overflow aborts the whole process with every test in it. With
/// [`super::THREAD_STACK_SIZE`] 20,000 operators were measured to pass, so
/// this keeps a margin of two while staying far above what the product
/// sends (sp_executesql allows at most 2100 parameters, so its
/// `{key_match}` has at most ~2100 comparisons with as many ANDs and ORs).
pub const MAX_EXPRESSION_OPERATORS: usize = 10_000;

/// SQL Server's answer to a statement nested too deeply for its stack.
pub(super) fn stack_limit_error() -> SqlError {
    SqlError {
        number: 8631,
        severity: 17,
        state: 1,
        message: "Internal error: Server stack limit has been reached. Please look for potentially deep nesting in your query, and try to simplify it.".into(),
        line: 1,
    }
}

/// A request's SQL, parsed once for the connection's checks.
pub(super) struct RequestText {
    /// See [`operator_depth`].
    depth: usize,
    /// None when the batch does not parse, or is too deep to be parsed
    /// safely here. Nothing of such a batch runs, so there is nothing to
    /// learn from it: the engine answers with its parse error (or the
    /// connection with 8631).
    statements: Option<Vec<Parsed>>,
}

impl RequestText {
    /// Parses `sql` (empty for requests without SQL).
    pub(super) fn parse(sql: &str) -> RequestText {
        let depth = operator_depth(sql);
        // The AST of an operator chain is as deep as the chain: building,
        // walking and dropping it recurses once per operator, which is
        // what the limit guards against, so a batch over it is not parsed.
        let statements = if depth > MAX_EXPRESSION_OPERATORS || sql.trim().is_empty() {
            None
        } else {
            parse_batch(sql).ok()
        };
        RequestText { depth, statements }
    }

    /// An upper bound of how deep the engine would recurse for the batch.
    pub(super) fn depth(&self) -> usize {
        self.depth
    }

    /// Every statement, those in IF and ELSE branches included, in the
    /// order of the text (whether a branch would run is not known yet).
    fn statements(&self) -> Vec<&Statement> {
        let mut out = Vec::new();
        if let Some(parsed) = &self.statements {
            flatten(parsed.iter().map(|(s, _)| s), &mut out);
        }
        out
    }

    /// The databases the batch's USE statements name.
    pub(super) fn used_databases(&self) -> Vec<String> {
        self.statements()
            .into_iter()
            .filter_map(|s| match s {
                Statement::Use(ast::Use::Object(n)) | Statement::Use(ast::Use::Database(n)) => {
                    Some(
                        n.0.iter()
                            .map(|p| match p {
                                ObjectNamePart::Identifier(i) => i.value.clone(),
                                other => other.to_string(),
                            })
                            .collect::<Vec<_>>()
                            .join("."),
                    )
                }
                _ => None,
            })
            .collect()
    }

    /// The batch's last `SET XACT_ABORT ON|OFF`, if any.
    pub(super) fn xact_abort(&self) -> Option<bool> {
        self.statements()
            .into_iter()
            .filter_map(|s| match s {
                Statement::Set(ast::Set::SetSessionParam(ast::SetSessionParamKind::Generic(g)))
                    if g.names.len() == 1 && g.names[0].eq_ignore_ascii_case("XACT_ABORT") =>
                {
                    match g.value.to_ascii_uppercase().as_str() {
                        "ON" => Some(true),
                        "OFF" => Some(false),
                        _ => None,
                    }
                }
                _ => None,
            })
            .next_back()
    }

    /// For an injected 229: the permission the batch needs and the table it
    /// names.
    pub(super) fn permission_target(&self) -> (String, String) {
        fault::permission_target_in(&self.statements())
    }
}

/// `stmts` and the statements of their IF and ELSE branches, in order.
fn flatten<'s>(stmts: impl Iterator<Item = &'s Statement>, out: &mut Vec<&'s Statement>) {
    for s in stmts {
        out.push(s);
        if let Statement::If(i) = s {
            let blocks = std::iter::once(&i.if_block)
                .chain(i.elseif_blocks.iter())
                .chain(i.else_block.iter());
            for b in blocks {
                let inner = match &b.conditional_statements {
                    ConditionalStatements::Sequence { statements } => statements,
                    ConditionalStatements::BeginEnd(be) => &be.statements,
                };
                flatten(inner.iter(), out);
            }
        }
    }
}

/// An upper bound of how deep the engine recurses for `sql`: per
/// `;`-separated part, the operators (each may add a level to a chain)
/// plus the deepest parenthesis nesting, the largest over all parts.
/// Counted on sqlparser's tokens rather than on the AST, which would have
/// to be built first (see [`RequestText::parse`]); strings, quoted
/// identifiers and comments are single tokens and so do not count. Other
/// nesting (CASE, subqueries) is capped at 50 levels by the parser, so only
/// operator chains can grow without bound. Text the tokenizer refuses (an
/// unclosed string) counts 0: the engine refuses it before translating.
fn operator_depth(sql: &str) -> usize {
    let dialect = Tsql::default();
    let Ok(tokens) = Tokenizer::new(&dialect, sql).tokenize() else {
        return 0;
    };
    let (mut ops, mut depth, mut deepest, mut worst) = (0usize, 0usize, 0usize, 0usize);
    for t in &tokens {
        match t {
            Token::LParen => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            Token::RParen => depth = depth.saturating_sub(1),
            Token::SemiColon if depth == 0 => {
                worst = worst.max(ops + deepest);
                ops = 0;
                deepest = 0;
            }
            Token::Word(w) if w.quote_style.is_none() && is_operator_word(w.keyword) => ops += 1,
            _ => ops += operator_chars(t),
        }
    }
    worst.max(ops + deepest)
}

/// Keywords that are operators (or combine queries) in an expression.
fn is_operator_word(kw: Keyword) -> bool {
    matches!(
        kw,
        Keyword::AND
            | Keyword::OR
            | Keyword::NOT
            | Keyword::LIKE
            | Keyword::IN
            | Keyword::IS
            | Keyword::BETWEEN
            | Keyword::ESCAPE
            | Keyword::COLLATE
            | Keyword::UNION
            | Keyword::EXCEPT
            | Keyword::INTERSECT
    )
}

/// How many operator characters a symbol token is made of (`<=` counts
/// two, as `<` and `=` may each be an operator of their own).
fn operator_chars(t: &Token) -> usize {
    match t {
        Token::Plus
        | Token::Minus
        | Token::Mul
        | Token::Div
        | Token::DuckIntDiv
        | Token::Mod
        | Token::Ampersand
        | Token::Pipe
        | Token::Caret
        | Token::Eq
        | Token::DoubleEq
        | Token::Neq
        | Token::Lt
        | Token::Gt
        | Token::LtEq
        | Token::GtEq
        | Token::Spaceship
        | Token::StringConcat
        | Token::ShiftLeft
        | Token::ShiftRight
        | Token::ExclamationMark
        | Token::Arrow
        | Token::LongArrow => t.to_string().len(),
        _ => 0,
    }
}

/// Runs every check the connection makes of a request's SQL, for the
/// fuzz target: they see arbitrary client text and must not panic.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn scan_request_text(sql: &str) {
    let text = RequestText::parse(sql);
    let _ = text.depth();
    let _ = text.used_databases();
    let _ = text.xact_abort();
    let _ = text.permission_target();
    let _ = fault::permission_target(sql);
}

#[cfg(test)]
fn xact_abort_setting(sql: &str) -> Option<bool> {
    RequestText::parse(sql).xact_abort()
}

#[cfg(test)]
fn expression_depth(sql: &str) -> usize {
    RequestText::parse(sql).depth()
}

#[cfg(test)]
fn used_databases(sql: &str) -> Vec<String> {
    RequestText::parse(sql).used_databases()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_xact_abort_settings() {
        assert_eq!(
            xact_abort_setting("SET XACT_ABORT ON;\nSET LOCK_TIMEOUT 5000;"),
            Some(true)
        );
        assert_eq!(xact_abort_setting("set  xact_abort   off"), Some(false));
        assert_eq!(
            xact_abort_setting("SET XACT_ABORT ON; SET XACT_ABORT OFF;"),
            Some(false)
        );
        assert_eq!(xact_abort_setting("SELECT 1"), None);
    }

    #[test]
    fn estimates_expression_depth() {
        assert_eq!(expression_depth("SELECT 1"), 0);
        assert_eq!(
            expression_depth("SELECT a FROM t WHERE a = 1 AND (b = 2 OR c = 3)"),
            6
        );
        // Quoted text and comments do not count.
        assert_eq!(
            expression_depth("SELECT 'a AND b + (c' AS [x OR y] -- AND OR\n/* OR /* AND */ + */"),
            0
        );
        // Each ;-separated statement on its own.
        assert_eq!(expression_depth("SELECT 1+1; SELECT 1+1+1;"), 2);
        let chain = vec!["([a] = @P1 AND [b] = @P2)"; 2000].join(" OR ");
        let d = expression_depth(&chain);
        assert!((7_999..=8_001).contains(&d), "{d}");
        assert!(d <= MAX_EXPRESSION_OPERATORS);
        let chain = vec!["[ID] = N'x'"; 20_000].join(" OR ");
        assert!(expression_depth(&chain) > MAX_EXPRESSION_OPERATORS);
        assert_eq!(stack_limit_error().number, 8631);
    }

    #[test]
    fn finds_used_databases() {
        assert_eq!(
            used_databases("use [rgsconfig];SELECT 1\nUSE master"),
            vec!["rgsconfig".to_string(), "master".to_string()]
        );
        assert!(used_databases("SELECT 1 AS [use]").is_empty());
    }
}
