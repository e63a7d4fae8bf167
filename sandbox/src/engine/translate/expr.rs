//! Scalar expressions: literals, casts, arithmetic and CASE, each typed with
//! SQL Server's rules (precedence, implicit conversion).

use super::{is_integer, is_string, op_name, refuse_expr, widen, Tr, Typed};
use crate::engine::collation::{Collation, Label};
use crate::engine::datatype::{family, precedence, quote_str, DeclType, Family};
use crate::engine::errors;
use crate::types::{SqlError, SqlType, Value};
use sqlparser::ast::{self, BinaryOperator, CastKind, Expr, ObjectName, Query, UnaryOperator};

impl Tr<'_, '_> {
    pub(super) fn expr(&mut self, e: &Expr) -> Result<Typed, SqlError> {
        match e {
            Expr::Identifier(i) => {
                if i.quote_style.is_none() && i.value.starts_with("@@") {
                    self.system_variable(&i.value)
                } else if i.quote_style.is_none() && i.value.starts_with('@') {
                    self.param_or_var(&i.value)
                } else {
                    self.column(std::slice::from_ref(i))
                }
            }
            Expr::CompoundIdentifier(parts) => self.column(parts),
            Expr::Value(v) => self.literal(&v.value),
            Expr::Nested(inner) => {
                let mut t = self.expr(inner)?;
                t.sql = format!("({})", t.sql);
                Ok(t)
            }
            Expr::UnaryOp { op, expr } => self.unary(e, op, expr),
            Expr::BinaryOp { left, op, right } => self.binary(left, op, right),
            Expr::Cast {
                kind,
                expr,
                data_type,
                format,
            } => self.cast_expr(e, kind, expr, data_type, format.is_some()),
            Expr::Convert {
                is_try,
                expr,
                data_type: Some(dt),
                charset: None,
                target_before_value: true,
                styles,
            } => self.convert(e, *is_try, expr, dt, styles),
            Expr::Case {
                operand,
                conditions,
                else_result,
                ..
            } => self.case(operand.as_deref(), conditions, else_result.as_deref()),
            Expr::Function(f) => self.function(f),
            Expr::Subquery(q) => self.scalar_subquery(q),
            Expr::Substring {
                expr,
                substring_from: Some(from),
                substring_for: Some(len),
                special: false,
                shorthand: false,
            } => self.substring(expr, from, len),
            Expr::Trim {
                trim_where: None,
                trim_what: None,
                expr,
                trim_characters: None,
            } => {
                if let Some(err) = self.env.version.missing_function("trim", "TRIM") {
                    return Err(err);
                }
                let v = self.expr(expr)?;
                Ok(Typed::new(
                    format!("trim({}, ' ')", v.sql),
                    v.ty,
                    v.nullable,
                ))
            }
            Expr::Collate { expr, collation } => self.collate(expr, collation),
            Expr::Exists { .. }
            | Expr::IsNull(_)
            | Expr::IsNotNull(_)
            | Expr::In { .. }
            | Expr::Between { .. }
            | Expr::Like { .. } => Err(refuse_expr(e)),
            _ => Err(refuse_expr(e)),
        }
    }

    /// `-x`, `+x`, `~x`: a negated integer constant stays constant (TOP,
    /// OFFSET and DEFAULT need its value).
    fn unary(&mut self, e: &Expr, op: &UnaryOperator, expr: &Expr) -> Result<Typed, SqlError> {
        let v = self.expr(expr)?;
        match op {
            UnaryOperator::Minus | UnaryOperator::Plus
                if family(v.ty) == Family::Number || v.null_lit =>
            {
                if let (UnaryOperator::Minus, Some(Value::Int(i))) = (op, &v.konst) {
                    let i = -*i;
                    return Ok(Typed {
                        sql: format!("(-{})", v.sql),
                        konst: Some(Value::Int(i)),
                        ..v
                    });
                }
                let sign = if *op == UnaryOperator::Minus {
                    "-"
                } else {
                    "+"
                };
                Ok(Typed {
                    sql: format!("({sign}{})", v.sql),
                    konst: None,
                    ..v
                })
            }
            UnaryOperator::BitwiseNot if is_integer(v.ty) => Ok(Typed {
                sql: format!("(~{})", v.sql),
                konst: None,
                ..v
            }),
            _ => Err(refuse_expr(e)),
        }
    }

    fn binary(
        &mut self,
        left: &Expr,
        op: &BinaryOperator,
        right: &Expr,
    ) -> Result<Typed, SqlError> {
        let arith = matches!(
            op,
            BinaryOperator::Plus
                | BinaryOperator::Minus
                | BinaryOperator::Multiply
                | BinaryOperator::Divide
                | BinaryOperator::Modulo
                | BinaryOperator::BitwiseAnd
                | BinaryOperator::BitwiseOr
                | BinaryOperator::BitwiseXor
        );
        if !arith {
            return Err(errors::syntax(&op.to_string()));
        }
        let l = self.expr(left)?;
        let r = self.expr(right)?;
        self.arith(l, op, r)
    }

    /// CAST and TRY_CAST.
    fn cast_expr(
        &mut self,
        e: &Expr,
        kind: &CastKind,
        expr: &Expr,
        data_type: &ast::DataType,
        has_format: bool,
    ) -> Result<Typed, SqlError> {
        if has_format {
            return Err(refuse_expr(e));
        }
        let try_ = match kind {
            CastKind::Cast => false,
            CastKind::TryCast | CastKind::SafeCast => true,
            CastKind::DoubleColon => return Err(refuse_expr(e)),
        };
        if try_ && !self.env.version.has_2012_features() {
            // 2008 R2 reads TRY_CAST as an unknown function, whose
            // argument cannot hold `AS`.
            return Err(errors::syntax_keyword("AS"));
        }
        let v = self.expr(expr)?;
        let target = DeclType::from_ast(data_type, 30)?;
        Ok(self.cast(v, target, None, try_))
    }

    /// CONVERT and TRY_CONVERT, with an optional constant style.
    fn convert(
        &mut self,
        e: &Expr,
        is_try: bool,
        expr: &Expr,
        dt: &ast::DataType,
        styles: &[Expr],
    ) -> Result<Typed, SqlError> {
        if is_try && !self.env.version.has_2012_features() {
            return Err(errors::unknown_function("TRY_CONVERT"));
        }
        let v = self.expr(expr)?;
        let target = DeclType::from_ast(dt, 30)?;
        let style = match styles {
            [] => None,
            [s] => match self.expr(s)?.konst {
                Some(Value::Int(i)) => Some(i),
                _ => return Err(refuse_expr(s)),
            },
            _ => return Err(refuse_expr(e)),
        };
        Ok(self.cast(v, target, style, is_try))
    }

    /// A subquery used as a value: one column, NULL when it finds no row.
    fn scalar_subquery(&mut self, q: &Query) -> Result<Typed, SqlError> {
        let out = self.subquery(q)?;
        if out.cols.len() != 1 {
            return Err(errors::other(
                116,
                16,
                1,
                "Only one expression can be specified in the select list when the subquery is not introduced with EXISTS.",
            ));
        }
        Ok(Typed::new(format!("({})", out.sql), out.cols[0].ty, true))
    }

    /// SUBSTRING(x FROM a FOR b) as sqlparser reads SUBSTRING(x, a, b).
    fn substring(&mut self, expr: &Expr, from: &Expr, len: &Expr) -> Result<Typed, SqlError> {
        let v = self.expr(expr)?;
        let f = self.expr(from)?;
        let l = self.expr(len)?;
        let ty = if is_string(v.ty) {
            v.ty
        } else {
            SqlType::NVarChar(Some(4000))
        };
        Ok(Typed::new(
            format!("substr({}, {}, {})", v.sql, f.sql, l.sql),
            ty,
            true,
        ))
    }

    /// `x COLLATE name`: the value compared, grouped and sorted with that
    /// collation, which wins over any column's (448 for an unknown name,
    /// 447 on a value that is not a string).
    fn collate(&mut self, expr: &Expr, collation: &ObjectName) -> Result<Typed, SqlError> {
        let v = self.expr(expr)?;
        let name = collation.to_string();
        let c = Collation::lookup(name.trim_matches(|c| c == '[' || c == ']'))?;
        if !is_string(v.ty) {
            return Err(errors::other(
                447,
                16,
                1,
                format!(
                    "Expression type {} is invalid for COLLATE clause.",
                    v.ty.type_name()
                ),
            ));
        }
        Ok(Typed::new(
            format!("({} COLLATE {})", v.sql, c.sqlite()),
            v.ty,
            v.nullable,
        )
        .with_coll(Label::Explicit(c)))
    }

    pub(super) fn literal(&mut self, v: &ast::Value) -> Result<Typed, SqlError> {
        use ast::Value as V;
        Ok(match v {
            V::Number(s, false) => {
                if s.contains(['.', 'e', 'E']) {
                    let f: f64 = s.parse().map_err(|_| errors::syntax(s))?;
                    Typed {
                        sql: s.clone(),
                        ty: SqlType::Float,
                        nullable: false,
                        null_lit: false,
                        konst: Some(Value::Float(f)),
                        coll: Label::Default,
                    }
                } else {
                    match s.parse::<i64>() {
                        Ok(i) => {
                            let ty = if i32::try_from(i).is_ok() {
                                SqlType::Int
                            } else {
                                SqlType::BigInt
                            };
                            Typed {
                                sql: s.clone(),
                                ty,
                                nullable: false,
                                null_lit: false,
                                konst: Some(Value::Int(i)),
                                coll: Label::Default,
                            }
                        }
                        Err(_) => Typed::new(s.clone(), SqlType::Float, false),
                    }
                }
            }
            V::SingleQuotedString(s) => {
                let len = s.chars().count().clamp(1, 8000) as u16;
                Typed {
                    sql: quote_str(s),
                    ty: SqlType::VarChar(Some(len)),
                    nullable: false,
                    null_lit: false,
                    konst: Some(Value::Text(s.clone())),
                    coll: Label::Default,
                }
            }
            V::NationalStringLiteral(s) => {
                let len = s.chars().count().clamp(1, 4000) as u16;
                Typed {
                    sql: quote_str(s),
                    ty: SqlType::NVarChar(Some(len)),
                    nullable: false,
                    null_lit: false,
                    konst: Some(Value::Text(s.clone())),
                    coll: Label::Default,
                }
            }
            V::HexStringLiteral(h) => {
                let h = if h.len() % 2 == 1 {
                    format!("0{h}")
                } else {
                    h.clone()
                };
                let len = (h.len() / 2).clamp(1, 8000) as u16;
                Typed::new(format!("X'{h}'"), SqlType::VarBinary(Some(len)), false)
            }
            V::Null => Typed {
                sql: "NULL".into(),
                ty: SqlType::Int,
                nullable: true,
                null_lit: true,
                konst: Some(Value::Null),
                coll: Label::Default,
            },
            other => return Err(errors::syntax(&other.to_string())),
        })
    }

    /// `v` as SQL of type `target`: unchanged within a type family,
    /// converted with SQL Server's rules across families.
    pub(super) fn conv_to(&mut self, v: &Typed, target: SqlType) -> String {
        if v.null_lit || family(v.ty) == family(target) {
            v.sql.clone()
        } else {
            format!(
                "sbx_cast({}, {}, {})",
                v.sql,
                quote_str(&DeclType::new(target).spec()),
                quote_str(v.ty.type_name())
            )
        }
    }

    /// A value where a string function wants text: a uniqueidentifier as
    /// its display text, as SQL Server converts it (its stored form is not
    /// that text; see `datatype`); anything else as it is.
    pub(super) fn text_sql(&mut self, v: &Typed) -> String {
        if family(v.ty) == Family::Guid && !v.null_lit {
            self.conv_to(v, SqlType::NVarChar(Some(36)))
        } else {
            v.sql.clone()
        }
    }

    pub(super) fn cast(
        &mut self,
        v: Typed,
        target: DeclType,
        style: Option<i64>,
        try_: bool,
    ) -> Typed {
        if v.null_lit {
            return Typed {
                sql: "NULL".into(),
                ty: target.ty,
                nullable: true,
                null_lit: false,
                konst: Some(Value::Null),
                coll: Label::Default,
            };
        }
        let konst = match (&v.konst, target.ty) {
            (Some(Value::Text(s)), SqlType::NVarChar(_) | SqlType::VarChar(_))
                if family(v.ty) == Family::Text =>
            {
                Some(Value::Text(s.clone()))
            }
            _ => None,
        };
        let sql = format!(
            "sbx_cast({}, {}, {}, {}, {})",
            v.sql,
            quote_str(&target.spec()),
            quote_str(v.ty.type_name()),
            style
                .map(|s| s.to_string())
                .unwrap_or_else(|| "NULL".into()),
            try_ as i64
        );
        Typed {
            sql,
            ty: target.ty,
            nullable: v.nullable || try_,
            null_lit: false,
            konst,
            // A string converted to a string keeps its collation.
            coll: if is_string(v.ty) && is_string(target.ty) {
                v.coll
            } else {
                Label::Default
            },
        }
    }

    pub(super) fn arith(
        &mut self,
        l: Typed,
        op: &BinaryOperator,
        r: Typed,
    ) -> Result<Typed, SqlError> {
        let nullable = l.nullable || r.nullable;
        let lt = if l.null_lit { r.ty } else { l.ty };
        let rt = if r.null_lit { l.ty } else { r.ty };
        let (lf, rf) = (family(lt), family(rt));
        if *op == BinaryOperator::Plus && (lf == Family::Text && rf == Family::Text) {
            return Ok(Self::concat_strings(l, r, lt, rt, nullable));
        }
        let ok = |f: Family| f == Family::Number || f == Family::Text;
        if !ok(lf) || !ok(rf) || (lf == Family::Text && rf == Family::Text) {
            let bad = if ok(lf) { rt } else { lt };
            return Err(errors::other(
                8117,
                16,
                1,
                format!(
                    "Operand data type {} is invalid for {} operator.",
                    bad.type_name(),
                    op_name(op)
                ),
            ));
        }
        // Strings meet numbers as numbers (numbers have higher precedence).
        let ty = if lf == Family::Number && rf == Family::Number {
            if precedence(lt) >= precedence(rt) {
                lt
            } else {
                rt
            }
        } else if lf == Family::Number {
            lt
        } else {
            rt
        };
        let ty = if ty == SqlType::Bit { SqlType::Int } else { ty };
        let ls = self.conv_to(&l, ty);
        let rs = self.conv_to(&r, ty);
        let sql = match op {
            BinaryOperator::Plus => format!("({ls} + {rs})"),
            BinaryOperator::Minus => format!("({ls} - {rs})"),
            BinaryOperator::Multiply => format!("({ls} * {rs})"),
            BinaryOperator::Divide => format!("({ls} / sbx_nz({rs}))"),
            BinaryOperator::Modulo => format!("({ls} % sbx_nz({rs}))"),
            BinaryOperator::BitwiseAnd => format!("({ls} & {rs})"),
            BinaryOperator::BitwiseOr => format!("({ls} | {rs})"),
            BinaryOperator::BitwiseXor => format!("(({ls} | {rs}) - ({ls} & {rs}))"),
            _ => unreachable!("checked by caller"),
        };
        Ok(Typed {
            sql,
            ty,
            nullable,
            null_lit: false,
            konst: None,
            coll: Label::Default,
        })
    }

    /// `a + b` of two strings: concatenation, of the combined length when
    /// it fits, else of unknown length.
    fn concat_strings(l: Typed, r: Typed, lt: SqlType, rt: SqlType, nullable: bool) -> Typed {
        let ty = match (lt, rt) {
            (SqlType::VarChar(a), SqlType::VarChar(b)) => SqlType::VarChar(
                a.zip(b)
                    .map(|(a, b)| a.saturating_add(b))
                    .filter(|n| *n <= 8000),
            ),
            _ => {
                let len = |t: SqlType| match t {
                    SqlType::NVarChar(n) | SqlType::VarChar(n) => n,
                    _ => None,
                };
                SqlType::NVarChar(
                    len(lt)
                        .zip(len(rt))
                        .map(|(a, b)| a.saturating_add(b))
                        .filter(|n| *n <= 4000),
                )
            }
        };
        let konst = match (&l.konst, &r.konst) {
            (Some(Value::Text(a)), Some(Value::Text(b))) => Some(Value::Text(format!("{a}{b}"))),
            _ => None,
        };
        Typed {
            sql: format!("({} || {})", l.sql, r.sql),
            ty,
            nullable,
            null_lit: false,
            konst,
            coll: l.coll.combine(r.coll),
        }
    }

    /// The common type of several values (SQL Server's precedence; the
    /// NULL literal does not count).
    pub(super) fn common_type(vals: &[&Typed]) -> SqlType {
        let mut best: Option<SqlType> = None;
        for v in vals.iter().filter(|v| !v.null_lit) {
            best = Some(match best {
                None => v.ty,
                Some(b) if precedence(v.ty) > precedence(b) => v.ty,
                Some(b) if precedence(v.ty) == precedence(b) => widen(b, v.ty),
                Some(b) => b,
            });
        }
        best.unwrap_or(SqlType::Int)
    }

    pub(super) fn case(
        &mut self,
        operand: Option<&Expr>,
        conditions: &[ast::CaseWhen],
        else_result: Option<&Expr>,
    ) -> Result<Typed, SqlError> {
        let op = match operand {
            Some(o) => Some(self.expr(o)?),
            None => None,
        };
        let mut whens = Vec::new();
        let mut results = Vec::new();
        for c in conditions {
            let cond = match &op {
                Some(o) => {
                    let w = self.expr(&c.condition)?;
                    self.comparison(o, "=", &w)?
                }
                None => self.pred(&c.condition)?,
            };
            whens.push(cond);
            results.push(self.expr(&c.result)?);
        }
        let els = match else_result {
            Some(e) => Some(self.expr(e)?),
            None => None,
        };
        let mut all: Vec<&Typed> = results.iter().collect();
        if let Some(e) = &els {
            all.push(e);
        }
        let ty = Self::common_type(&all);
        let nullable = els.is_none() || all.iter().any(|v| v.nullable);
        let mut sql = String::from("CASE");
        for (w, r) in whens.iter().zip(results.iter()) {
            let r = self.conv_to(r, ty);
            sql.push_str(&format!(" WHEN {w} THEN {r}"));
        }
        if let Some(e) = &els {
            let e = self.conv_to(e, ty);
            sql.push_str(&format!(" ELSE {e}"));
        }
        sql.push_str(" END");
        let coll = all
            .iter()
            .filter(|v| is_string(v.ty))
            .fold(Label::Default, |a, v| a.combine(v.coll));
        Ok(Typed::new(sql, ty, nullable).with_coll(coll))
    }

    // ----- predicates -----------------------------------------------------
}
