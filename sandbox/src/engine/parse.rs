//! Parsing a T-SQL batch with sqlparser's MsSqlDialect, with the few token
//! rewrites sqlparser needs for T-SQL it does not know (`CREATE
//! [UNIQUE] [NON]CLUSTERED INDEX`, `DELETE <table>` without FROM), and
//! parse errors turned into SQL Server's 102/105.

use super::errors;
use crate::types::SqlError;
use sqlparser::ast::{ConditionalStatements, GranteesType, Ident, IndexType, Statement};
use sqlparser::dialect::{Dialect, MsSqlDialect};
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError, ParserOptions};
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer, Word};
use std::any::TypeId;

/// MsSqlDialect, except that T-SQL's reserved statement keywords never
/// become implicit aliases: in `SELECT ... FROM t` followed on the next line
/// by `ROLLBACK TRAN x`, ROLLBACK starts a statement as it does in SQL
/// Server. Reports MsSqlDialect's type so the parser's T-SQL paths apply.
#[derive(Debug, Default)]
pub(crate) struct Tsql(MsSqlDialect);

/// Keywords that start statements in T-SQL and so are never aliases.
/// SAVE, BREAK and GOTO start statements too, but sqlparser has no keyword
/// for them: they arrive here as `NoKeyword`, like any other word, and are
/// left to MsSqlDialect.
fn never_alias(kw: &Keyword) -> bool {
    matches!(
        kw,
        Keyword::COMMIT
            | Keyword::ROLLBACK
            | Keyword::SAVEPOINT
            | Keyword::BEGIN
            | Keyword::END
            | Keyword::SET
            | Keyword::WAITFOR
            | Keyword::USE
            | Keyword::GRANT
            | Keyword::DENY
            | Keyword::REVOKE
            | Keyword::OPEN
            | Keyword::CLOSE
            | Keyword::DEALLOCATE
            | Keyword::CONTINUE
            | Keyword::KILL
            | Keyword::SELECT
            | Keyword::WITH
    )
}

impl Dialect for Tsql {
    fn dialect(&self) -> TypeId {
        TypeId::of::<MsSqlDialect>()
    }
    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        self.0.is_delimited_identifier_start(ch)
    }
    fn is_identifier_start(&self, ch: char) -> bool {
        self.0.is_identifier_start(ch)
    }
    fn is_identifier_part(&self, ch: char) -> bool {
        self.0.is_identifier_part(ch)
    }
    fn identifier_quote_style(&self, identifier: &str) -> Option<char> {
        self.0.identifier_quote_style(identifier)
    }
    fn convert_type_before_value(&self) -> bool {
        self.0.convert_type_before_value()
    }
    fn supports_outer_join_operator(&self) -> bool {
        self.0.supports_outer_join_operator()
    }
    fn supports_dollar_as_money_prefix(&self) -> bool {
        self.0.supports_dollar_as_money_prefix()
    }
    fn supports_create_proc_syntax(&self) -> bool {
        self.0.supports_create_proc_syntax()
    }
    fn supports_connect_by(&self) -> bool {
        self.0.supports_connect_by()
    }
    fn supports_eq_alias_assignment(&self) -> bool {
        self.0.supports_eq_alias_assignment()
    }
    fn supports_try_convert(&self) -> bool {
        self.0.supports_try_convert()
    }
    fn supports_boolean_literals(&self) -> bool {
        self.0.supports_boolean_literals()
    }
    fn supports_named_fn_args_with_colon_operator(&self) -> bool {
        self.0.supports_named_fn_args_with_colon_operator()
    }
    fn supports_named_fn_args_with_expr_name(&self) -> bool {
        self.0.supports_named_fn_args_with_expr_name()
    }
    fn supports_named_fn_args_with_rarrow_operator(&self) -> bool {
        self.0.supports_named_fn_args_with_rarrow_operator()
    }
    fn supports_start_transaction_modifier(&self) -> bool {
        self.0.supports_start_transaction_modifier()
    }
    fn supports_end_transaction_modifier(&self) -> bool {
        self.0.supports_end_transaction_modifier()
    }
    fn supports_set_stmt_without_operator(&self) -> bool {
        self.0.supports_set_stmt_without_operator()
    }
    fn supports_table_versioning(&self) -> bool {
        self.0.supports_table_versioning()
    }
    fn supports_nested_comments(&self) -> bool {
        self.0.supports_nested_comments()
    }
    fn supports_object_name_double_dot_notation(&self) -> bool {
        self.0.supports_object_name_double_dot_notation()
    }
    fn get_reserved_grantees_types(&self) -> &[GranteesType] {
        self.0.get_reserved_grantees_types()
    }
    fn is_select_item_alias(&self, explicit: bool, kw: &Keyword, parser: &mut Parser) -> bool {
        !never_alias(kw) && self.0.is_select_item_alias(explicit, kw, parser)
    }
    fn is_table_factor(&self, kw: &Keyword, parser: &mut Parser) -> bool {
        self.0.is_table_factor(kw, parser)
    }
    fn is_table_factor_alias(&self, explicit: bool, kw: &Keyword, parser: &mut Parser) -> bool {
        !never_alias(kw) && self.0.is_table_factor_alias(explicit, kw, parser)
    }
    fn parse_statement(&self, parser: &mut Parser) -> Option<Result<Statement, ParserError>> {
        self.0.parse_statement(parser)
    }
    fn get_next_precedence(&self, parser: &Parser) -> Option<Result<u8, ParserError>> {
        self.0.get_next_precedence(parser)
    }
}

/// A parsed statement and the 1-based line it starts on.
pub(crate) type Parsed = (Statement, u32);

fn is_word(t: &Token, kw: &str) -> bool {
    matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(kw))
}

fn is_trivia(t: &Token) -> bool {
    matches!(t, Token::Whitespace(_))
}

/// Marker put into `CreateIndex::using` for a CLUSTERED index (and for
/// NONCLUSTERED, so that a real USING clause is still refused).
pub(crate) const CLUSTERED: &str = "CLUSTERED";
/// See `CLUSTERED`.
pub(crate) const NONCLUSTERED: &str = "NONCLUSTERED";

/// Parses a batch into statements, nothing executed.
pub(crate) fn parse_batch(sql: &str) -> Result<Vec<Parsed>, SqlError> {
    if let Some(parsed) = parse_create_trigger(sql)? {
        return Ok(vec![parsed]);
    }
    parse_statements(sql)
}

/// A batch starting with CREATE TRIGGER: the whole batch is the trigger
/// (as in SQL Server), its body statements separated as T-SQL separates
/// them (semicolons optional), which sqlparser's trigger body does not do.
/// The header is parsed with an empty body, the body as a batch of its
/// own without its outer BEGIN ... END.
fn parse_create_trigger(sql: &str) -> Result<Option<Parsed>, SqlError> {
    let dialect = Tsql::default();
    let Ok(tokens) = Tokenizer::new(&dialect, sql).tokenize_with_location() else {
        return Ok(None);
    };
    let significant: Vec<usize> = (0..tokens.len())
        .filter(|&i| {
            !is_trivia(&tokens[i].token)
                && !matches!(tokens[i].token, Token::SemiColon | Token::EOF)
        })
        .collect();
    let word_at = |k: usize, kw: &str| {
        significant
            .get(k)
            .is_some_and(|&i| is_word(&tokens[i].token, kw))
    };
    if !(word_at(0, "CREATE") && word_at(1, "TRIGGER")) {
        if (1..significant.len()).any(|k| word_at(k, "CREATE") && word_at(k + 1, "TRIGGER")) {
            return Err(errors::other(
                111,
                15,
                1,
                "'CREATE TRIGGER' must be the first statement in a query batch.",
            ));
        }
        return Ok(None);
    }
    let Some(as_pos) = (2..significant.len()).find(|&k| word_at(k, "AS")) else {
        return Ok(None);
    };
    let text = |range: std::ops::Range<usize>| -> String {
        tokens[range].iter().map(|t| t.token.to_string()).collect()
    };
    let line = tokens[significant[0]].span.start.line.max(1) as u32;
    let header = format!("{} BEGIN END", text(0..significant[as_pos] + 1));
    let mut body_range = significant[as_pos] + 1..tokens.len();
    let rest = &significant[as_pos + 1..];
    if let (Some(&first), Some(&last)) = (rest.first(), rest.last()) {
        if is_word(&tokens[first].token, "BEGIN") && is_word(&tokens[last].token, "END") {
            body_range = first + 1..last;
        }
    }
    let mut header = parse_statements(&header)?;
    let body = parse_statements(&text(body_range))?;
    match header.pop() {
        Some((Statement::CreateTrigger(mut ct), _)) if header.is_empty() => {
            ct.statements = Some(ConditionalStatements::Sequence {
                statements: body.into_iter().map(|(s, _)| s).collect(),
            });
            Ok(Some((Statement::CreateTrigger(ct), line)))
        }
        _ => Err(errors::syntax("TRIGGER")),
    }
}

fn parse_statements(sql: &str) -> Result<Vec<Parsed>, SqlError> {
    let dialect = Tsql::default();
    let tokens = Tokenizer::new(&dialect, sql)
        .with_unescape(true)
        .tokenize_with_location()
        .map_err(|e| {
            let mut err = if e.message.contains("Unterminated string literal") {
                errors::other(
                    105,
                    15,
                    1,
                    format!(
                        "Unclosed quotation mark after the character string '{}'.",
                        tail_after(sql, &e.location)
                    ),
                )
            } else {
                errors::syntax(&near_location(sql, e.location.line, e.location.column))
            };
            err.line = e.location.line.max(1) as u32;
            err
        })?;
    let mut flags = Vec::new();
    let tokens = rewrite(tokens, &mut flags);
    let last_token = tokens
        .iter()
        .rev()
        .find(|t| !is_trivia(&t.token) && t.token != Token::EOF)
        .map(|t| t.token.to_string());
    let mut parser = Parser::new(&dialect)
        .with_options(
            ParserOptions::new()
                .with_unescape(true)
                .with_trailing_commas(false),
        )
        .with_tokens_with_locations(tokens);
    let mut out = Vec::new();
    let map_err = |e: ParserError, parser: &Parser| -> SqlError {
        let msg = e.to_string();
        let tok = parser.peek_token();
        let found = msg
            .split("found: ")
            .nth(1)
            .map(|s| s.split(" at Line:").next().unwrap_or(s).trim().to_string());
        let near = match found.as_deref() {
            Some("EOF") | None => last_token.clone().unwrap_or_default(),
            Some(f) => f.to_string(),
        };
        let mut err = errors::syntax(&near);
        err.line = tok.span.start.line.max(1) as u32;
        if let Some(l) = msg
            .split("Line: ")
            .nth(1)
            .and_then(|s| s.split(',').next())
            .and_then(|s| s.trim().parse().ok())
        {
            err.line = l;
        }
        err
    };
    loop {
        while parser.consume_token(&Token::SemiColon) {}
        let next = parser.peek_token();
        if next.token == Token::EOF {
            break;
        }
        let line = next.span.start.line.max(1) as u32;
        match parser.parse_statement() {
            Ok(s) => out.push((s, line)),
            Err(e) => return Err(map_err(e, &parser)),
        }
    }
    let mut flags = flags.into_iter();
    for (s, _) in &mut out {
        mark_indexes(s, &mut flags);
    }
    Ok(out)
}

fn tail_after(sql: &str, loc: &sqlparser::tokenizer::Location) -> String {
    let line = sql
        .lines()
        .nth(loc.line.saturating_sub(1) as usize)
        .unwrap_or("");
    line.chars()
        .skip(loc.column as usize)
        .collect::<String>()
        .trim()
        .to_string()
}

fn near_location(sql: &str, line: u64, column: u64) -> String {
    let l = sql
        .lines()
        .nth(line.saturating_sub(1) as usize)
        .unwrap_or("");
    l.chars()
        .skip(column.saturating_sub(1) as usize)
        .take_while(|c| !c.is_whitespace())
        .collect()
}

/// Words that begin a statement, so never a transaction name.
const STATEMENT_WORDS: &[&str] = &[
    "SELECT", "INSERT", "UPDATE", "DELETE", "IF", "ELSE", "BEGIN", "END", "COMMIT", "ROLLBACK",
    "SAVE", "SET", "DECLARE", "PRINT", "WAITFOR", "CREATE", "DROP", "ALTER", "EXEC", "EXECUTE",
    "USE", "WITH", "MERGE", "TRUNCATE", "RETURN", "WHILE", "GRANT", "DENY", "REVOKE",
];

/// A token that can be a transaction or savepoint name.
fn is_tx_name(t: &Token) -> bool {
    match t {
        Token::Word(w) => {
            w.quote_style.is_some()
                || !STATEMENT_WORDS
                    .iter()
                    .any(|k| w.value.eq_ignore_ascii_case(k))
        }
        _ => false,
    }
}

fn word(value: &str, keyword: Keyword) -> Token {
    Token::Word(Word {
        value: value.into(),
        quote_style: None,
        keyword,
    })
}

/// Rewrites the T-SQL that sqlparser does not parse into equivalents it
/// does: drops `CLUSTERED`/`NONCLUSTERED` between CREATE [UNIQUE] and INDEX
/// (recording it), adds the optional FROM of `DELETE <table>`, drops the
/// (documentary) names of BEGIN/COMMIT TRAN, and turns `SAVE TRAN x` into
/// `SAVEPOINT x` and `ROLLBACK TRAN x` into `ROLLBACK TRAN TO x`.
fn rewrite(tokens: Vec<TokenWithSpan>, flags: &mut Vec<Option<bool>>) -> Vec<TokenWithSpan> {
    use std::collections::{HashMap, HashSet};
    let sig: Vec<usize> = tokens
        .iter()
        .enumerate()
        .filter(|(_, t)| !is_trivia(&t.token))
        .map(|(i, _)| i)
        .collect();
    let mut skip = HashSet::new();
    let mut insert_after: HashMap<usize, Token> = HashMap::new();
    let mut replace: HashMap<usize, Token> = HashMap::new();
    let tok = |k: usize| sig.get(k).map(|&x| &tokens[x].token);
    let is_tran =
        |t: Option<&Token>| t.is_some_and(|t| is_word(t, "TRAN") || is_word(t, "TRANSACTION"));
    for (k, &i) in sig.iter().enumerate() {
        let t = &tokens[i].token;
        if is_word(t, "CREATE") {
            let mut j = k + 1;
            if tok(j).is_some_and(|t| is_word(t, "UNIQUE")) {
                j += 1;
            }
            let Some(&x) = sig.get(j) else { continue };
            if is_word(&tokens[x].token, "CLUSTERED") || is_word(&tokens[x].token, "NONCLUSTERED") {
                if tok(j + 1).is_some_and(|t| is_word(t, "INDEX")) {
                    flags.push(Some(is_word(&tokens[x].token, "CLUSTERED")));
                    skip.insert(x);
                }
            } else if is_word(&tokens[x].token, "INDEX") {
                flags.push(None);
            }
        } else if is_word(t, "DELETE") {
            if let Some(next) = tok(k + 1) {
                // `DELETE AS` / `DELETE ON` end a trigger's event list.
                if !["FROM", "TOP", "AS", "ON"].iter().any(|w| is_word(next, w))
                    && matches!(next, Token::Word(_))
                {
                    insert_after.insert(i, word("FROM", Keyword::FROM));
                }
            }
        } else if (is_word(t, "BEGIN") || is_word(t, "COMMIT")) && is_tran(tok(k + 1)) {
            if tok(k + 2).is_some_and(is_tx_name) {
                skip.insert(sig[k + 2]);
            }
        } else if is_word(t, "ROLLBACK")
            && is_tran(tok(k + 1))
            && tok(k + 2).is_some_and(is_tx_name)
        {
            insert_after.insert(sig[k + 1], word("TO", Keyword::TO));
        } else if is_word(t, "SAVE") && is_tran(tok(k + 1)) {
            replace.insert(i, word("SAVEPOINT", Keyword::SAVEPOINT));
            skip.insert(sig[k + 1]);
        }
    }
    let mut out: Vec<TokenWithSpan> = Vec::with_capacity(tokens.len());
    for (i, mut t) in tokens.into_iter().enumerate() {
        if skip.contains(&i) {
            continue;
        }
        if let Some(r) = replace.remove(&i) {
            t.token = r;
        }
        let span = t.span;
        out.push(t);
        if let Some(extra) = insert_after.remove(&i) {
            out.push(TokenWithSpan::new(
                Token::Whitespace(sqlparser::tokenizer::Whitespace::Space),
                span,
            ));
            out.push(TokenWithSpan::new(extra, span));
        }
    }
    out
}

fn mark_indexes(s: &mut Statement, flags: &mut impl Iterator<Item = Option<bool>>) {
    match s {
        Statement::CreateIndex(ci) => {
            if let Some(Some(clustered)) = flags.next() {
                ci.using = Some(IndexType::Custom(Ident::new(if clustered {
                    CLUSTERED
                } else {
                    NONCLUSTERED
                })));
            }
        }
        Statement::If(i) => {
            let mut blocks = vec![&mut i.if_block];
            blocks.extend(i.elseif_blocks.iter_mut());
            if let Some(e) = &mut i.else_block {
                blocks.push(e);
            }
            for b in blocks {
                let stmts = match &mut b.conditional_statements {
                    ConditionalStatements::Sequence { statements } => statements,
                    ConditionalStatements::BeginEnd(be) => &mut be.statements,
                };
                for s in stmts {
                    mark_indexes(s, flags);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_without_semicolons_and_lines() {
        let p = parse_batch("SET NOCOUNT ON\nSELECT 1\n\nSELECT 2;").unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(p.iter().map(|(_, l)| *l).collect::<Vec<_>>(), vec![1, 2, 4]);
    }

    #[test]
    fn syntax_errors_name_the_token() {
        let e = parse_batch("SELEC 1").unwrap_err();
        assert_eq!(e.number, 102);
        assert_eq!(e.message, "Incorrect syntax near 'SELEC'.");
        let e = parse_batch("SELECT 1\nSELECT FROM WHERE").unwrap_err();
        assert_eq!(e.number, 102);
        assert_eq!(e.line, 2);
        let e = parse_batch("SELECT 'abc").unwrap_err();
        assert_eq!(e.number, 105);
    }

    #[test]
    fn clustered_index_keywords_are_understood() {
        let p = parse_batch("CREATE UNIQUE NONCLUSTERED INDEX IX ON dbo.X (A); CREATE CLUSTERED INDEX C ON dbo.X (B)").unwrap();
        match (&p[0].0, &p[1].0) {
            (Statement::CreateIndex(a), Statement::CreateIndex(b)) => {
                assert!(a.unique);
                assert_eq!(a.using.as_ref().unwrap().to_string(), NONCLUSTERED);
                assert_eq!(b.using.as_ref().unwrap().to_string(), CLUSTERED);
            }
            other => panic!("{other:?}"),
        }
        let p = parse_batch("DELETE dbo.X WHERE A = 1").unwrap();
        assert!(matches!(p[0].0, Statement::Delete(_)));
    }

    #[test]
    fn transaction_names_and_savepoints() {
        let p = parse_batch("BEGIN TRAN t1\nSAVE TRANSACTION [sp 1]\nSELECT 1 FROM t\nROLLBACK TRAN [sp 1]\nCOMMIT TRANSACTION t1\nROLLBACK TRAN\nSELECT 1").unwrap();
        assert_eq!(p.len(), 7);
        let p: Vec<Parsed> = p
            .into_iter()
            .filter(|(s, _)| !matches!(s, Statement::Query(q) if q.to_string().contains("FROM")))
            .collect();
        assert!(matches!(p[0].0, Statement::StartTransaction { .. }));
        assert!(matches!(&p[1].0, Statement::Savepoint { name } if name.value == "sp 1"));
        assert!(
            matches!(&p[2].0, Statement::Rollback { savepoint: Some(n), .. } if n.value == "sp 1")
        );
        assert!(matches!(p[3].0, Statement::Commit { .. }));
        assert!(matches!(
            p[4].0,
            Statement::Rollback {
                savepoint: None,
                ..
            }
        ));
        assert!(matches!(p[5].0, Statement::Query(_)));
    }
}
