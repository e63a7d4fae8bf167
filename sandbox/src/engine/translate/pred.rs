//! Predicates: comparisons with SQL Server's collation, AND/OR chains, IN,
//! BETWEEN, LIKE, EXISTS.

use super::{collation_for, is_string, Tr, Typed};
use crate::engine::collation::{self, Collation, Label, Rule};
use crate::engine::datatype::{family, precedence, Family};
use crate::engine::errors;
use crate::types::{SqlError, SqlType};
use sqlparser::ast::{self, BinaryOperator, Expr, Query, UnaryOperator};

impl Tr<'_, '_> {
    /// A comparison of two typed values with SQL Server's implicit
    /// conversion and collation precedence (468 when two collations
    /// conflict); GUIDs in SQL Server's order.
    pub(super) fn comparison(
        &mut self,
        l: &Typed,
        op: &str,
        r: &Typed,
    ) -> Result<String, SqlError> {
        if l.null_lit || r.null_lit {
            return Ok(format!("{} {op} {}", l.sql, r.sql));
        }
        let ty = Self::common_type(&[l, r]);
        let coll = Self::collation(ty, &[l, r], operation(op))?;
        let ls = self.conv_to(l, ty);
        let rs = self.conv_to(r, ty);
        Ok(match collation_for(ty, coll) {
            Some(c) => format!("({ls}) COLLATE {c} {op} {rs}"),
            None => format!("{ls} {op} {rs}"),
        })
    }

    /// The collation values compared in type `ty` meet in: the first
    /// operand's label against each other's (only strings have one).
    fn collation(ty: SqlType, vals: &[&Typed], operation: &str) -> Result<Collation, SqlError> {
        let strings: Vec<Label> = vals
            .iter()
            .filter(|v| !v.null_lit && is_string(v.ty))
            .map(|v| v.coll)
            .collect();
        if !is_string(ty) || strings.is_empty() {
            return Ok(collation::DEFAULT);
        }
        let mut label = strings[0];
        for l in &strings[1..] {
            label.resolve(*l, operation)?;
            label = label.combine(*l);
        }
        label.resolve(Label::Default, operation)
    }

    /// A run of one logical operator (`a OR b OR c ...`, left-nested by the
    /// parser), walked with a loop and emitted as a balanced, bracketed
    /// tree: long key lists would otherwise exceed both the thread's stack
    /// and SQLite's expression depth limit of 1000. AND and OR are
    /// associative, NULLs included, so the meaning is unchanged.
    pub(super) fn logic_chain(
        &mut self,
        e: &Expr,
        op: &BinaryOperator,
    ) -> Result<String, SqlError> {
        let mut operands = Vec::new();
        let mut cur = e;
        while let Expr::BinaryOp { left, op: o, right } = cur {
            if o != op {
                break;
            }
            operands.push(right.as_ref());
            cur = left.as_ref();
        }
        operands.push(cur);
        operands.reverse();
        let parts = operands
            .into_iter()
            .map(|x| self.pred(x))
            .collect::<Result<Vec<_>, _>>()?;
        let word = if *op == BinaryOperator::And {
            "AND"
        } else {
            "OR"
        };
        fn balance(parts: &[String], word: &str) -> String {
            match parts {
                [one] => one.clone(),
                _ => {
                    let (a, b) = parts.split_at(parts.len() / 2);
                    format!("({} {word} {})", balance(a, word), balance(b, word))
                }
            }
        }
        Ok(balance(&parts, word))
    }

    pub(super) fn pred(&mut self, e: &Expr) -> Result<String, SqlError> {
        match e {
            Expr::Nested(inner) => Ok(format!("({})", self.pred(inner)?)),
            Expr::BinaryOp { left, op, right } => {
                let cmp = match op {
                    BinaryOperator::And | BinaryOperator::Or => return self.logic_chain(e, op),
                    BinaryOperator::Eq => "=",
                    BinaryOperator::NotEq => "<>",
                    BinaryOperator::Lt => "<",
                    BinaryOperator::LtEq => "<=",
                    BinaryOperator::Gt => ">",
                    BinaryOperator::GtEq => ">=",
                    _ => return Err(errors::non_boolean(&op.to_string())),
                };
                let l = self.expr(left)?;
                let r = self.expr(right)?;
                self.comparison(&l, cmp, &r)
            }
            Expr::UnaryOp {
                op: UnaryOperator::Not,
                expr,
            } => Ok(format!("NOT ({})", self.pred(expr)?)),
            Expr::IsNull(x) => Ok(format!("{} IS NULL", self.expr(x)?.sql)),
            Expr::IsNotNull(x) => Ok(format!("{} IS NOT NULL", self.expr(x)?.sql)),
            Expr::Exists { subquery, negated } => {
                let out = self.subquery(subquery)?;
                Ok(format!(
                    "{}EXISTS ({})",
                    if *negated { "NOT " } else { "" },
                    out.sql
                ))
            }
            Expr::In {
                expr,
                target: ast::InTarget::List(list),
                negated,
                global: false,
            } => self.in_list(expr, list, *negated),
            Expr::In {
                expr,
                target: ast::InTarget::Subquery(subquery),
                negated,
                global: false,
            } => self.in_subquery(expr, subquery, *negated),
            Expr::Between {
                expr,
                negated,
                low,
                high,
            } => self.between(expr, *negated, low, high),
            Expr::Like {
                negated,
                any: false,
                expr,
                pattern,
                escape_char,
            } => self.like(expr, *negated, pattern, escape_char.as_deref()),
            other => {
                // A value where a condition belongs.
                let text = other.to_string();
                Err(errors::non_boolean(
                    text.split_whitespace().last().unwrap_or(""),
                ))
            }
        }
    }

    /// `x [NOT] IN (a, b, ...)`, compared in the common type.
    fn in_list(&mut self, expr: &Expr, list: &[Expr], negated: bool) -> Result<String, SqlError> {
        let x = self.expr(expr)?;
        let items = list
            .iter()
            .map(|i| self.expr(i))
            .collect::<Result<Vec<_>, _>>()?;
        let mut all: Vec<&Typed> = items.iter().collect();
        all.push(&x);
        let ty = Self::common_type(&all);
        all.rotate_right(1);
        let coll = Self::collation(ty, &all, "equal to")?;
        let xs = self.conv_to(&x, ty);
        let list: Vec<String> = items.iter().map(|i| self.conv_to(i, ty)).collect();
        let xs = match collation_for(ty, coll) {
            Some(c) => format!("({xs}) COLLATE {c}"),
            None => xs,
        };
        Ok(format!(
            "{xs} {}IN ({})",
            if negated { "NOT " } else { "" },
            list.join(", ")
        ))
    }

    /// `x [NOT] IN (SELECT ...)`.
    fn in_subquery(
        &mut self,
        expr: &Expr,
        subquery: &Query,
        negated: bool,
    ) -> Result<String, SqlError> {
        let x = self.expr(expr)?;
        let out = self.subquery(subquery)?;
        if out.cols.len() != 1 {
            return Err(errors::other(
                116,
                16,
                1,
                "Only one expression can be specified in the select list when the subquery is not introduced with EXISTS.",
            ));
        }
        let inner = Typed::new("", out.cols[0].ty, true).with_coll(out.cols[0].coll);
        let ty = out.cols[0].ty;
        let ty = if precedence(x.ty) >= precedence(ty) {
            x.ty
        } else {
            ty
        };
        let coll = Self::collation(ty, &[&x, &inner], "equal to")?;
        let xs = self.conv_to(&x, ty);
        let xs = match collation_for(ty, coll) {
            Some(c) => format!("({xs}) COLLATE {c}"),
            None => xs,
        };
        // Text met by a GUID becomes one (a GUID's stored form is not its
        // text; see `datatype`), as SQL Server converts it.
        let list = if family(ty) == Family::Guid && family(out.cols[0].ty) != Family::Guid {
            let col = Typed::new("sbx_in.\"c1\"", out.cols[0].ty, true);
            format!(
                "SELECT {} FROM ({}) AS sbx_in",
                self.conv_to(&col, ty),
                out.sql
            )
        } else {
            out.sql
        };
        Ok(format!(
            "{xs} {}IN ({list})",
            if negated { "NOT " } else { "" },
        ))
    }

    /// `x [NOT] BETWEEN lo AND hi`, compared in the common type.
    fn between(
        &mut self,
        expr: &Expr,
        negated: bool,
        low: &Expr,
        high: &Expr,
    ) -> Result<String, SqlError> {
        let x = self.expr(expr)?;
        let lo = self.expr(low)?;
        let hi = self.expr(high)?;
        let ty = Self::common_type(&[&x, &lo, &hi]);
        let coll = Self::collation(ty, &[&x, &lo, &hi], "greater than or equal to")?;
        let (xs, ls, hs) = (
            self.conv_to(&x, ty),
            self.conv_to(&lo, ty),
            self.conv_to(&hi, ty),
        );
        let xs = match collation_for(ty, coll) {
            Some(c) => format!("({xs}) COLLATE {c}"),
            None => xs,
        };
        Ok(format!(
            "{xs} {}BETWEEN {ls} AND {hs}",
            if negated { "NOT " } else { "" }
        ))
    }

    /// `x [NOT] LIKE pattern [ESCAPE c]` with SQL Server's wildcards.
    fn like(
        &mut self,
        expr: &Expr,
        negated: bool,
        pattern: &Expr,
        escape_char: Option<&Expr>,
    ) -> Result<String, SqlError> {
        let x = self.expr(expr)?;
        let p = self.expr(pattern)?;
        let esc = match escape_char {
            Some(c) => format!(", {}", self.expr(c)?.sql),
            None => String::new(),
        };
        let coll = Self::collation(SqlType::NVarChar(None), &[&x, &p], "like")?;
        let f = match coll.rule() {
            Rule::CaseInsensitive => "sbx_like",
            Rule::CaseSensitive | Rule::Binary => "sbx_like_cs",
        };
        let (xs, ps) = (self.text_sql(&x), self.text_sql(&p));
        let test = format!("{f}({xs}, {ps}{esc}) = 1");
        Ok(if negated {
            format!("NOT ({test})")
        } else {
            test
        })
    }
}

/// How SQL Server names a comparison in error 468.
fn operation(op: &str) -> &'static str {
    match op {
        "=" => "equal to",
        "<>" => "not equal to",
        "<" => "less than",
        "<=" => "less than or equal to",
        ">" => "greater than",
        _ => "greater than or equal to",
    }
}
