//! Queries: WITH, set operations, SELECT cores, ORDER BY and TOP/OFFSET.

use super::{
    check_wildcard, ident_path, is_integer, name_parts, qi, refuse_expr, widen, CteDef, OutCol,
    QueryOut, Source, SrcCol, Tr, Typed,
};
use crate::engine::collation::Label;
use crate::engine::datatype::{family, precedence, quote_str, Family};
use crate::engine::errors;
use crate::types::SqlError;
use sqlparser::ast::{
    self, Distinct, Expr, GroupByExpr, Ident, OrderByKind, Query, Select, SelectItem, SetExpr,
    SetOperator, SetQuantifier, TopQuantity,
};

impl Tr<'_, '_> {
    // ----- queries --------------------------------------------------------

    pub(super) fn subquery(&mut self, q: &Query) -> Result<QueryOut, SqlError> {
        self.query(q)
    }

    pub(super) fn query(&mut self, q: &Query) -> Result<QueryOut, SqlError> {
        let Query {
            with,
            body,
            order_by,
            limit_clause,
            fetch,
            locks,
            for_clause,
            settings,
            format_clause,
            pipe_operators,
        } = q;
        if !locks.is_empty()
            || settings.is_some()
            || format_clause.is_some()
            || !pipe_operators.is_empty()
        {
            return Err(errors::syntax(&q.to_string()));
        }
        if for_clause.is_some() {
            return Err(errors::syntax("FOR"));
        }
        if let Some(w) = with {
            self.ctes(w)?;
        }
        let (mut sql, cols, top, compound) = match body.as_ref() {
            SetExpr::Select(s) => {
                self.scopes.push(Vec::new());
                let (sql, cols, top) = self.select(s)?;
                (sql, cols, top, false)
            }
            other => {
                let (sql, cols) = self.set_expr(other)?;
                (sql, cols, None, true)
            }
        };
        if let Some(ob) = order_by {
            let s = self.order_by(ob, &cols, compound)?;
            sql.push_str(&s);
        }
        let tail = self.limit_offset(
            top,
            limit_clause.as_ref(),
            fetch.as_ref(),
            order_by.is_some(),
        )?;
        sql.push_str(&tail);
        if !compound {
            self.scopes.pop();
        }
        Ok(QueryOut { sql, cols })
    }

    /// WITH: each CTE is translated once, as a SQLite CTE named `u1`, `u2`...
    fn ctes(&mut self, w: &ast::With) -> Result<(), SqlError> {
        if w.recursive {
            return Err(errors::syntax("RECURSIVE"));
        }
        for cte in &w.cte_tables {
            let out = self.query(&cte.query)?;
            let name = cte.alias.name.value.clone();
            let cols = derived_cols(&out, &cte.alias)?;
            let sql_name = format!("u{}", self.user_ctes.len() + 1);
            let col_list = (1..=out.cols.len())
                .map(|i| format!("\"c{i}\""))
                .collect::<Vec<_>>()
                .join(", ");
            self.cte_sql
                .push(format!("{}({col_list}) AS ({})", qi(&sql_name), out.sql));
            self.user_ctes.push(CteDef {
                name_lc: name.to_lowercase(),
                sql_name,
                cols,
            });
        }
        Ok(())
    }

    /// ORDER BY: output columns by name or position, other expressions as
    /// such (not allowed after UNION, INTERSECT or EXCEPT).
    fn order_by(
        &mut self,
        ob: &ast::OrderBy,
        cols: &[OutCol],
        compound: bool,
    ) -> Result<String, SqlError> {
        let items = match &ob.kind {
            OrderByKind::Expressions(items) => items,
            OrderByKind::All(_) => return Err(errors::syntax("ALL")),
        };
        let mut parts = Vec::new();
        for item in items {
            if item.with_fill.is_some() || item.options.nulls_first.is_some() {
                return Err(errors::syntax(&item.to_string()));
            }
            let pos = self.order_position(&item.expr, cols)?;
            let s = match pos {
                Some(p) => p.to_string(),
                None if compound => {
                    return Err(errors::other(
                        104,
                        16,
                        1,
                        "ORDER BY items must appear in the select list if the statement contains a UNION, INTERSECT or EXCEPT operator.",
                    ))
                }
                None => self.expr(&item.expr)?.sql,
            };
            let dir = match item.options.sort {
                Some(ast::OrderBySort::Asc) => " ASC",
                Some(ast::OrderBySort::Desc) => " DESC",
                None => "",
                Some(ast::OrderBySort::Using(_)) => return Err(errors::syntax("USING")),
            };
            parts.push(format!("{s}{dir}"));
        }
        Ok(format!(" ORDER BY {}", parts.join(", ")))
    }

    /// TOP, OFFSET and FETCH as SQLite's LIMIT and OFFSET.
    fn limit_offset(
        &mut self,
        top: Option<String>,
        limit_clause: Option<&ast::LimitClause>,
        fetch: Option<&ast::Fetch>,
        ordered: bool,
    ) -> Result<String, SqlError> {
        let mut sql = String::new();
        let mut limit = top;
        let mut offset = None;
        match limit_clause {
            None => {}
            Some(ast::LimitClause::LimitOffset {
                limit: None,
                offset: Some(o),
                limit_by,
            }) if limit_by.is_empty() => {
                // OFFSET ... FETCH came with SQL Server 2012.
                if !ordered || !self.env.version.has_2012_features() {
                    return Err(errors::syntax("OFFSET"));
                }
                offset = Some(self.expr(&o.value)?.sql);
            }
            Some(_) => return Err(errors::syntax("LIMIT")),
        }
        if let Some(f) = fetch {
            if f.with_ties || f.percent || offset.is_none() || limit.is_some() {
                return Err(errors::syntax("FETCH"));
            }
            let Some(qty) = &f.quantity else {
                return Err(errors::syntax("FETCH"));
            };
            limit = Some(self.expr(qty)?.sql);
        }
        match (limit, offset) {
            (Some(l), Some(o)) => sql.push_str(&format!(" LIMIT {l} OFFSET {o}")),
            (Some(l), None) => sql.push_str(&format!(" LIMIT {l}")),
            (None, Some(o)) => sql.push_str(&format!(" LIMIT -1 OFFSET {o}")),
            (None, None) => {}
        }
        Ok(sql)
    }

    /// ORDER BY an output column (by alias or position), if it is one.
    pub(super) fn order_position(
        &mut self,
        e: &Expr,
        cols: &[OutCol],
    ) -> Result<Option<usize>, SqlError> {
        match e {
            Expr::Identifier(i) if !i.value.starts_with('@') => {
                let l = i.value.to_lowercase();
                Ok(cols
                    .iter()
                    .position(|c| c.name.to_lowercase() == l)
                    .map(|p| p + 1))
            }
            Expr::Value(v) => match &v.value {
                ast::Value::Number(n, _) => {
                    let p: usize = n.parse().map_err(|_| errors::syntax(n))?;
                    if p == 0 || p > cols.len() {
                        return Err(errors::other(
                            108,
                            16,
                            1,
                            format!("The ORDER BY position number {p} is out of range of the number of items in the select list."),
                        ));
                    }
                    Ok(Some(p))
                }
                _ => Err(errors::other(
                    408,
                    16,
                    1,
                    "A constant expression was encountered in the ORDER BY list, position 1.",
                )),
            },
            _ => Ok(None),
        }
    }

    pub(super) fn set_expr(&mut self, e: &SetExpr) -> Result<(String, Vec<OutCol>), SqlError> {
        match e {
            SetExpr::Select(s) => {
                self.scopes.push(Vec::new());
                let (sql, cols, top) = self.select(s)?;
                self.scopes.pop();
                if top.is_some() {
                    return Err(errors::syntax("TOP"));
                }
                Ok((sql, cols))
            }
            SetExpr::Query(q) => {
                let out = self.query(q)?;
                Ok((format!("SELECT * FROM ({})", out.sql), out.cols))
            }
            SetExpr::SetOperation {
                left,
                op,
                set_quantifier,
                right,
            } => {
                let (ls, lc) = self.set_expr(left)?;
                let (rs, rc) = self.set_expr(right)?;
                if lc.len() != rc.len() {
                    return Err(errors::other(
                        205,
                        16,
                        1,
                        "All queries combined using a UNION, INTERSECT or EXCEPT operator must have an equal number of expressions in their target lists.",
                    ));
                }
                let opname = match (op, set_quantifier) {
                    (SetOperator::Union, SetQuantifier::All) => "UNION ALL",
                    (SetOperator::Union, SetQuantifier::None | SetQuantifier::Distinct) => "UNION",
                    (SetOperator::Except, SetQuantifier::None | SetQuantifier::Distinct) => {
                        "EXCEPT"
                    }
                    (SetOperator::Intersect, SetQuantifier::None | SetQuantifier::Distinct) => {
                        "INTERSECT"
                    }
                    _ => return Err(errors::syntax(&op.to_string())),
                };
                let cols = lc
                    .iter()
                    .zip(rc.iter())
                    .map(|(l, r)| OutCol {
                        name: l.name.clone(),
                        ty: if precedence(r.ty) > precedence(l.ty) {
                            r.ty
                        } else {
                            widen(l.ty, r.ty)
                        },
                        nullable: l.nullable || r.nullable,
                        assign: None,
                        coll: l.coll.combine(r.coll),
                    })
                    .collect::<Vec<OutCol>>();
                let ls = self.guid_branch(ls, &lc, &cols);
                let rs = self.guid_branch(rs, &rc, &cols);
                Ok((format!("{ls} {opname} {rs}"), cols))
            }
            SetExpr::Values(_) => Err(errors::syntax("VALUES")),
            _ => Err(errors::syntax(&e.to_string())),
        }
    }

    /// One side of a UNION, INTERSECT or EXCEPT, with its columns that meet
    /// a GUID converted to one (a GUID's stored form is not its text; see
    /// `datatype`), as SQL Server converts them; as it is otherwise.
    fn guid_branch(&mut self, sql: String, side: &[OutCol], result: &[OutCol]) -> String {
        let meets = |(s, r): (&OutCol, &OutCol)| {
            family(r.ty) == Family::Guid && family(s.ty) != Family::Guid
        };
        if !side.iter().zip(result).any(meets) {
            return sql;
        }
        let cols: Vec<String> = side
            .iter()
            .zip(result)
            .enumerate()
            .map(|(i, (s, r))| {
                let col = Typed::new(format!("sbx_set.\"c{}\"", i + 1), s.ty, true);
                let value = if meets((s, r)) {
                    self.conv_to(&col, r.ty)
                } else {
                    col.sql
                };
                format!("{value} AS \"c{}\"", i + 1)
            })
            .collect();
        format!("SELECT {} FROM ({sql}) AS sbx_set", cols.join(", "))
    }

    /// A SELECT core: leaves its scope pushed (ORDER BY needs it). Returns
    /// the SQL, output columns and the TOP limit.
    pub(super) fn select(
        &mut self,
        s: &Select,
    ) -> Result<(String, Vec<OutCol>, Option<String>), SqlError> {
        check_select_clauses(s)?;
        let Select {
            distinct,
            top,
            projection,
            from,
            selection,
            group_by,
            having,
            ..
        } = s;
        let mut sql = String::from("SELECT ");
        match distinct {
            None | Some(Distinct::All) => {}
            Some(Distinct::Distinct) => sql.push_str("DISTINCT "),
            Some(Distinct::On(_)) => return Err(errors::syntax("ON")),
        }
        let top_sql = self.top(top.as_ref())?;
        let mut from_sql = Vec::new();
        for twj in from {
            from_sql.push(self.table_with_joins(twj)?);
        }
        let mut items = Vec::new();
        let mut cols = Vec::new();
        for item in projection {
            self.select_item(item, &mut items, &mut cols)?;
        }
        let proj: Vec<String> = items
            .iter()
            .enumerate()
            .map(|(i, s)| format!("{s} AS \"c{}\"", i + 1))
            .collect();
        sql.push_str(&proj.join(", "));
        if !from_sql.is_empty() {
            sql.push_str(&format!(" FROM {}", from_sql.join(", ")));
        }
        if let Some(w) = selection {
            let p = self.pred(w)?;
            sql.push_str(&format!(" WHERE {p}"));
        }
        let tail = self.group_having(group_by, having.as_ref())?;
        sql.push_str(&tail);
        Ok((sql, cols, top_sql))
    }

    /// TOP n: a constant or an integer expression.
    fn top(&mut self, top: Option<&ast::Top>) -> Result<Option<String>, SqlError> {
        Ok(match top {
            None => None,
            Some(t) => {
                if t.percent {
                    return Err(errors::syntax("PERCENT"));
                }
                if t.with_ties {
                    return Err(errors::syntax("TIES"));
                }
                match &t.quantity {
                    Some(TopQuantity::Constant(n)) => Some(n.to_string()),
                    Some(TopQuantity::Expr(e)) => {
                        let v = self.expr(e)?;
                        if !is_integer(v.ty) && !v.null_lit {
                            return Err(errors::other(
                                1060,
                                15,
                                1,
                                "The number of rows in the TOP clause must be an integer.",
                            ));
                        }
                        Some(v.sql)
                    }
                    None => return Err(errors::syntax("TOP")),
                }
            }
        })
    }

    /// One select item: its SQL in `items`, its column in `cols`; a
    /// `@v = expr` item assigns the variable, converted to its type.
    fn select_item(
        &mut self,
        item: &SelectItem,
        items: &mut Vec<String>,
        cols: &mut Vec<OutCol>,
    ) -> Result<(), SqlError> {
        match item {
            SelectItem::Wildcard(opts) => {
                check_wildcard(opts)?;
                let scope = self.scopes.last().cloned().unwrap_or_default();
                if scope.is_empty() {
                    return Err(errors::other(
                        263,
                        16,
                        1,
                        "Must specify table to select from.",
                    ));
                }
                for src in &scope {
                    push_star(src, items, cols);
                }
            }
            SelectItem::QualifiedWildcard(kind, opts) => {
                check_wildcard(opts)?;
                let name = match kind {
                    ast::SelectItemQualifiedWildcardKind::ObjectName(n) => n,
                    ast::SelectItemQualifiedWildcardKind::Expr(e) => return Err(refuse_expr(e)),
                };
                let q = name_parts(name)?
                    .iter()
                    .map(|p| p.to_lowercase())
                    .collect::<Vec<_>>()
                    .join(".");
                let scope = self.scopes.last().cloned().unwrap_or_default();
                let Some(src) = scope.iter().find(|s| s.qualifiers.contains(&q)) else {
                    return Err(errors::not_bound(&ident_path(name)));
                };
                push_star(src, items, cols);
            }
            SelectItem::UnnamedExpr(e) => {
                let v = self.expr(e)?;
                let name = match e {
                    Expr::Identifier(i) if !i.value.starts_with('@') => i.value.clone(),
                    Expr::CompoundIdentifier(p) => {
                        p.last().map(|i| i.value.clone()).unwrap_or_default()
                    }
                    _ => String::new(),
                };
                items.push(v.sql);
                cols.push(OutCol {
                    name,
                    ty: v.ty,
                    nullable: v.nullable,
                    assign: None,
                    coll: v.coll,
                });
            }
            SelectItem::ExprWithAlias { expr, alias } => {
                self.aliased_item(expr, alias, items, cols)?
            }
            SelectItem::ExprWithAliases { .. } => return Err(errors::syntax(&item.to_string())),
        }
        Ok(())
    }

    /// `expr AS name`, or `@v = expr` (sqlparser reads both as an alias): the
    /// variable form converts the value to the variable's type.
    fn aliased_item(
        &mut self,
        expr: &Expr,
        alias: &Ident,
        items: &mut Vec<String>,
        cols: &mut Vec<OutCol>,
    ) -> Result<(), SqlError> {
        let v = self.expr(expr)?;
        items.push(v.sql);
        if alias.quote_style.is_none() && alias.value.starts_with('@') {
            let Some(var) = self.env.vars.get(&alias.value.to_lowercase()) else {
                return Err(errors::undeclared(&alias.value));
            };
            let decl = var.decl;
            let last = items.pop().expect("just pushed");
            items.push(format!(
                "sbx_cast({last}, {}, {})",
                quote_str(&decl.spec()),
                quote_str(v.ty.type_name())
            ));
            cols.push(OutCol {
                name: String::new(),
                ty: decl.ty,
                nullable: true,
                assign: Some(alias.value.clone()),
                coll: Label::Default,
            });
        } else {
            cols.push(OutCol {
                name: alias.value.clone(),
                ty: v.ty,
                nullable: v.nullable,
                assign: None,
                coll: v.coll,
            });
        }
        Ok(())
    }

    /// GROUP BY and HAVING.
    fn group_having(
        &mut self,
        group_by: &GroupByExpr,
        having: Option<&Expr>,
    ) -> Result<String, SqlError> {
        let mut sql = String::new();
        match group_by {
            GroupByExpr::Expressions(exprs, mods) => {
                if !mods.is_empty() {
                    return Err(errors::syntax("WITH"));
                }
                if !exprs.is_empty() {
                    let g = exprs
                        .iter()
                        .map(|e| self.expr(e).map(|v| v.sql))
                        .collect::<Result<Vec<_>, _>>()?;
                    sql.push_str(&format!(" GROUP BY {}", g.join(", ")));
                }
            }
            GroupByExpr::All(_) => return Err(errors::syntax("ALL")),
        }
        if let Some(h) = having {
            let p = self.pred(h)?;
            sql.push_str(&format!(" HAVING {p}"));
        }
        Ok(sql)
    }
}

/// The columns of a CTE or derived table: named by its column list, else by
/// the query's own names (error 8155 for an unnamed one).
pub(super) fn derived_cols(
    out: &QueryOut,
    alias: &ast::TableAlias,
) -> Result<Vec<SrcCol>, SqlError> {
    let mut cols = Vec::new();
    for (i, c) in out.cols.iter().enumerate() {
        let name = match alias.columns.get(i) {
            Some(a) => a.name.value.clone(),
            None => c.name.clone(),
        };
        if name.is_empty() {
            return Err(errors::other(
                8155,
                16,
                2,
                format!(
                    "No column name was specified for column {} of '{}'.",
                    i + 1,
                    alias.name.value
                ),
            ));
        }
        cols.push(SrcCol {
            name,
            sql: format!("c{}", i + 1),
            ty: c.ty,
            nullable: c.nullable,
            coll: c.coll,
        });
    }
    Ok(cols)
}

/// `*` or `t.*`: every column of one source.
fn push_star(src: &Source, items: &mut Vec<String>, cols: &mut Vec<OutCol>) {
    for c in &src.cols {
        items.push(format!("{}.{}", qi(&src.sql_alias), qi(&c.sql)));
        cols.push(OutCol {
            name: c.name.clone(),
            ty: c.ty,
            nullable: c.nullable,
            assign: None,
            coll: c.coll,
        });
    }
}

/// Refuses the clauses of a SELECT the sandbox does not implement (the
/// full destructuring makes a new sqlparser field a compile error here).
fn check_select_clauses(s: &Select) -> Result<(), SqlError> {
    let Select {
        select_token: _,
        optimizer_hints,
        distinct: _,
        select_modifiers,
        top: _,
        top_before_distinct: _,
        projection: _,
        exclude,
        into,
        from: _,
        lateral_views,
        prewhere,
        selection: _,
        connect_by,
        group_by: _,
        cluster_by,
        distribute_by,
        sort_by,
        having: _,
        named_window,
        qualify,
        window_before_qualify: _,
        value_table_mode,
        flavor,
    } = s;
    if !optimizer_hints.is_empty()
        || select_modifiers.is_some()
        || exclude.is_some()
        || !lateral_views.is_empty()
        || prewhere.is_some()
        || !connect_by.is_empty()
        || !cluster_by.is_empty()
        || !distribute_by.is_empty()
        || !sort_by.is_empty()
        || !named_window.is_empty()
        || qualify.is_some()
        || value_table_mode.is_some()
        || *flavor != ast::SelectFlavor::Standard
    {
        return Err(errors::syntax(&s.to_string()));
    }
    if into.is_some() {
        return Err(errors::syntax("INTO"));
    }
    Ok(())
}
