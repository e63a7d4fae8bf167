//! Parsing a T-SQL batch with sqlparser's MsSqlDialect, with the few token
//! rewrites sqlparser needs for T-SQL it does not know (`CREATE
//! [UNIQUE] [NON]CLUSTERED INDEX`, `DELETE <table>` without FROM), and
//! parse errors turned into SQL Server's 102/105.

use super::errors;
use crate::types::SqlError;
use sqlparser::ast::{ConditionalStatements, Ident, IndexType, Statement};
use sqlparser::dialect::MsSqlDialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError, ParserOptions};
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer, Word};

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
    let dialect = MsSqlDialect {};
    let tokens = Tokenizer::new(&dialect, sql).with_unescape(true).tokenize_with_location().map_err(|e| {
        let mut err = if e.message.contains("Unterminated string literal") {
            errors::other(105, 15, 1, format!("Unclosed quotation mark after the character string '{}'.", tail_after(sql, &e.location)))
        } else {
            errors::syntax(&near_location(sql, e.location.line, e.location.column))
        };
        err.line = e.location.line.max(1) as u32;
        err
    })?;
    let mut flags = Vec::new();
    let tokens = rewrite(tokens, &mut flags);
    let last_token = tokens.iter().rev().find(|t| !is_trivia(&t.token) && t.token != Token::EOF).map(|t| t.token.to_string());
    let mut parser = Parser::new(&dialect)
        .with_options(ParserOptions::new().with_unescape(true).with_trailing_commas(false))
        .with_tokens_with_locations(tokens);
    let mut out = Vec::new();
    let map_err = |e: ParserError, parser: &Parser| -> SqlError {
        let msg = e.to_string();
        let tok = parser.peek_token();
        let found = msg.split("found: ").nth(1).map(|s| s.split(" at Line:").next().unwrap_or(s).trim().to_string());
        let near = match found.as_deref() {
            Some("EOF") | None => last_token.clone().unwrap_or_default(),
            Some(f) => f.to_string(),
        };
        let mut err = errors::syntax(&near);
        err.line = tok.span.start.line.max(1) as u32;
        if let Some(l) = msg.split("Line: ").nth(1).and_then(|s| s.split(',').next()).and_then(|s| s.trim().parse().ok()) {
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
    let line = sql.lines().nth(loc.line.saturating_sub(1) as usize).unwrap_or("");
    line.chars().skip(loc.column as usize).collect::<String>().trim().to_string()
}

fn near_location(sql: &str, line: u64, column: u64) -> String {
    let l = sql.lines().nth(line.saturating_sub(1) as usize).unwrap_or("");
    l.chars().skip(column.saturating_sub(1) as usize).take_while(|c| !c.is_whitespace()).collect()
}

/// Removes `CLUSTERED`/`NONCLUSTERED` between CREATE [UNIQUE] and INDEX
/// (recording it), and adds the optional FROM of `DELETE <table>`.
fn rewrite(tokens: Vec<TokenWithSpan>, flags: &mut Vec<Option<bool>>) -> Vec<TokenWithSpan> {
    let mut out: Vec<TokenWithSpan> = Vec::with_capacity(tokens.len());
    let sig: Vec<usize> = tokens.iter().enumerate().filter(|(_, t)| !is_trivia(&t.token)).map(|(i, _)| i).collect();
    let mut skip = std::collections::HashSet::new();
    let mut insert_from = std::collections::HashSet::new();
    for (k, &i) in sig.iter().enumerate() {
        let t = &tokens[i].token;
        if is_word(t, "CREATE") {
            let mut j = k + 1;
            if sig.get(j).is_some_and(|&x| is_word(&tokens[x].token, "UNIQUE")) {
                j += 1;
            }
            let Some(&x) = sig.get(j) else { continue };
            if is_word(&tokens[x].token, "CLUSTERED") || is_word(&tokens[x].token, "NONCLUSTERED") {
                if sig.get(j + 1).is_some_and(|&y| is_word(&tokens[y].token, "INDEX")) {
                    flags.push(Some(is_word(&tokens[x].token, "CLUSTERED")));
                    skip.insert(x);
                }
            } else if is_word(&tokens[x].token, "INDEX") {
                flags.push(None);
            }
        } else if is_word(t, "DELETE") {
            if let Some(&x) = sig.get(k + 1) {
                let next = &tokens[x].token;
                if !is_word(next, "FROM") && !is_word(next, "TOP") && matches!(next, Token::Word(_)) {
                    insert_from.insert(i);
                }
            }
        }
    }
    for (i, t) in tokens.into_iter().enumerate() {
        if skip.contains(&i) {
            continue;
        }
        let span = t.span;
        out.push(t);
        if insert_from.contains(&i) {
            out.push(TokenWithSpan::new(Token::Whitespace(sqlparser::tokenizer::Whitespace::Space), span));
            out.push(TokenWithSpan::new(
                Token::Word(Word { value: "FROM".into(), quote_style: None, keyword: Keyword::FROM }),
                span,
            ));
        }
    }
    out
}

fn mark_indexes(s: &mut Statement, flags: &mut impl Iterator<Item = Option<bool>>) {
    match s {
        Statement::CreateIndex(ci) => {
            if let Some(Some(clustered)) = flags.next() {
                ci.using = Some(IndexType::Custom(Ident::new(if clustered { CLUSTERED } else { NONCLUSTERED })));
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
}
