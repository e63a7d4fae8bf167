//! Transactions, SET options, variables and control flow (IF, WAITFOR, PRINT):
//! statements that change the session rather than read or write tables.

use super::{name_parts, refuse, Action, OutCol, QueryOut, QueryPlan, SetOption, Tr};
use crate::engine::collation::Label;
use crate::engine::datatype::{quote_str, DeclType};
use crate::engine::errors;
use crate::types::{SqlError, SqlType, Value};
use sqlparser::ast::{self, ConditionalStatements, Expr, ObjectName, Statement};
use std::time::Duration;

impl Tr<'_, '_> {
    /// SET @v = expr's and DECLARE's plan: the value converted to the
    /// variable's type.
    pub(super) fn assign_plan(&mut self, e: &Expr, decl: DeclType) -> Result<QueryPlan, SqlError> {
        let v = self.expr(e)?;
        let sql = if v.null_lit {
            "SELECT NULL".to_string()
        } else {
            format!(
                "SELECT sbx_cast({}, {}, {})",
                v.sql,
                quote_str(&decl.spec()),
                quote_str(v.ty.type_name())
            )
        };
        Ok(self.scalar_plan(sql, decl.ty))
    }

    pub(super) fn scalar_plan(&mut self, sql: String, ty: SqlType) -> QueryPlan {
        let out = QueryOut {
            sql,
            cols: vec![OutCol {
                name: String::new(),
                ty,
                nullable: true,
                assign: None,
                coll: Label::Default,
            }],
        };
        self.finish_query(out, None)
    }

    pub(super) fn set(&mut self, s: &ast::Set, stmt: &Statement) -> Result<Action, SqlError> {
        match s {
            ast::Set::SetSessionParam(ast::SetSessionParamKind::Generic(g)) => {
                session_option(g, stmt)
            }
            ast::Set::SingleAssignment {
                scope: None,
                hivevar: false,
                variable,
                values,
            } if values.len() == 1 => {
                let parts = name_parts(variable)?;
                if parts.len() != 1 || !parts[0].starts_with('@') {
                    return Err(refuse(stmt));
                }
                let name = parts[0].clone();
                let Some(var) = self.env.vars.get(&name.to_lowercase()) else {
                    return Err(errors::undeclared(&name));
                };
                let decl = var.decl;
                let plan = self.assign_plan(&values[0], decl)?;
                Ok(Action::SetVar { name, plan })
            }
            ast::Set::SetTransaction {
                modes,
                snapshot: None,
                session: false,
            } => {
                let ok = modes.iter().all(|m| {
                    matches!(
                        m,
                        ast::TransactionMode::IsolationLevel(
                            ast::TransactionIsolationLevel::ReadCommitted
                        )
                    )
                });
                if ok {
                    Ok(Action::Set(SetOption::Ignored))
                } else {
                    Err(refuse(stmt))
                }
            }
            _ => Err(refuse(stmt)),
        }
    }
}

pub(super) fn parse_delay(s: &str) -> Option<Duration> {
    let mut parts = s.trim().split(':');
    let h: u64 = parts.next()?.trim().parse().ok()?;
    let m: u64 = parts.next().unwrap_or("0").trim().parse().ok()?;
    let sec: f64 = parts.next().unwrap_or("0").trim().parse().ok()?;
    if parts.next().is_some() || m > 59 || sec >= 60.0 || h > 23 {
        return None;
    }
    Some(Duration::from_secs(h * 3600 + m * 60) + Duration::from_secs_f64(sec))
}

impl Tr<'_, '_> {
    /// PRINT: the message as nvarchar(4000).
    pub(super) fn print(&mut self, p: &ast::PrintStatement) -> Result<Action, SqlError> {
        let v = self.expr(&p.message)?;
        let v = self.conv_to(&v, SqlType::NVarChar(Some(4000)));
        let sql = format!("SELECT {v}");
        Ok(Action::Print(
            self.scalar_plan(sql, SqlType::NVarChar(Some(4000))),
        ))
    }

    /// DECLARE @a type [= value], ...: each initial value is planned by a
    /// translator of its own, so that its binds are its own.
    pub(super) fn declare(
        &mut self,
        stmts: &[ast::Declare],
        stmt: &Statement,
    ) -> Result<Action, SqlError> {
        let env = self.env;
        if let [d] = stmts {
            if let (Some(ast::DataType::Table(Some(cols))), [name], None) =
                (&d.data_type, d.names.as_slice(), &d.assignment)
            {
                return self.declare_table(name, cols);
            }
        }
        let mut out = Vec::new();
        for d in stmts {
            let ast::Declare {
                names,
                data_type,
                assignment,
                declare_type,
                binary,
                sensitive,
                scroll,
                hold,
                for_query,
            } = d;
            if declare_type.is_some()
                || binary.is_some()
                || sensitive.is_some()
                || scroll.is_some()
                || hold.is_some()
                || for_query.is_some()
            {
                return Err(refuse(stmt));
            }
            let Some(dt) = data_type else {
                return Err(refuse(stmt));
            };
            let decl = DeclType::from_ast(dt, 1)?;
            let init = match assignment {
                None => None,
                Some(ast::DeclareAssignment::MsSqlAssignment(e))
                | Some(ast::DeclareAssignment::Expr(e)) => {
                    let mut t = Tr::new(env);
                    Some(t.assign_plan(e, decl)?)
                }
                Some(_) => return Err(refuse(stmt)),
            };
            for n in names {
                if !n.value.starts_with('@') || n.value.starts_with("@@") {
                    return Err(errors::syntax(&n.value));
                }
                out.push((n.value.clone(), decl, init.clone()));
            }
        }
        Ok(Action::Declare(out))
    }

    /// IF cond ... [ELSE ...]: the branches are run by the session, which
    /// plans them once it knows which one it takes.
    pub(super) fn if_else(
        &mut self,
        i: &ast::IfStatement,
        stmt: &Statement,
    ) -> Result<Action, SqlError> {
        if !i.elseif_blocks.is_empty() || i.end_token.is_some() {
            return Err(refuse(stmt));
        }
        let Some(c) = &i.if_block.condition else {
            return Err(refuse(stmt));
        };
        let p = self.pred(c)?;
        let cond = self.scalar_plan(
            format!("SELECT CASE WHEN {p} THEN 1 ELSE 0 END"),
            SqlType::Int,
        );
        let stmts = |b: &ast::ConditionalStatementBlock| match &b.conditional_statements {
            ConditionalStatements::Sequence { statements } => statements.clone(),
            ConditionalStatements::BeginEnd(be) => be.statements.clone(),
        };
        Ok(Action::If {
            cond,
            then: stmts(&i.if_block),
            otherwise: i.else_block.as_ref().map(stmts).unwrap_or_default(),
        })
    }

    /// WAITFOR DELAY 'hh:mm[:ss]'.
    pub(super) fn wait_for(
        &mut self,
        w: &ast::WaitForStatement,
        stmt: &Statement,
    ) -> Result<Action, SqlError> {
        if w.wait_type != ast::WaitForType::Delay {
            return Err(refuse(stmt));
        }
        let v = self.expr(&w.expr)?;
        let text = match v.konst {
            Some(Value::Text(s)) => s,
            _ => return Err(errors::syntax(&w.expr.to_string())),
        };
        Ok(Action::WaitFor(parse_delay(&text).ok_or_else(|| {
            errors::other(
                148,
                15,
                1,
                "Incorrect time syntax in time string used with WAITFOR.",
            )
        })?))
    }
}

/// USE database.
pub(super) fn use_database(n: &ObjectName) -> Result<Action, SqlError> {
    let parts = name_parts(n)?;
    if parts.len() != 1 {
        return Err(errors::syntax(&n.to_string()));
    }
    Ok(Action::Use(parts[0].clone()))
}

/// SET option ON|OFF (or value), as drivers send them at login; the
/// options whose other setting the sandbox does not implement are refused.
fn session_option(g: &ast::SetSessionParamGeneric, stmt: &Statement) -> Result<Action, SqlError> {
    const ON_ONLY: &[&str] = &[
        "ANSI_NULLS",
        "QUOTED_IDENTIFIER",
        "ANSI_WARNINGS",
        "ANSI_PADDING",
        "CONCAT_NULL_YIELDS_NULL",
        "ARITHABORT",
        "ANSI_NULL_DFLT_ON",
    ];
    if g.names.len() > 1 {
        // `SET ANSI_NULLS, QUOTED_IDENTIFIER ON` as drivers send it.
        let all = g
            .names
            .iter()
            .all(|n| ON_ONLY.contains(&n.to_uppercase().as_str()));
        return if all && g.value.eq_ignore_ascii_case("ON") {
            Ok(Action::Set(SetOption::Ignored))
        } else {
            Err(refuse(stmt))
        };
    }
    let name = g.names[0].to_uppercase();
    let value = g.value.to_uppercase();
    let on_off = || match value.as_str() {
        "ON" => Ok(true),
        "OFF" => Ok(false),
        _ => Err(errors::syntax(&g.value)),
    };
    match name.as_str() {
        "NOCOUNT" => Ok(Action::Set(SetOption::NoCount(on_off()?))),
        "XACT_ABORT" => Ok(Action::Set(SetOption::XactAbort(on_off()?))),
        "LOCK_TIMEOUT" => {
            let n: i64 = value.trim().parse().map_err(|_| errors::syntax(&g.value))?;
            if n < -1 {
                return Err(errors::syntax(&g.value));
            }
            Ok(Action::Set(SetOption::LockTimeout(n)))
        }
        // Options whose ON is the sandbox's only behaviour.
        "ANSI_NULLS"
        | "QUOTED_IDENTIFIER"
        | "ANSI_WARNINGS"
        | "ANSI_PADDING"
        | "CONCAT_NULL_YIELDS_NULL"
        | "ARITHABORT"
        | "ANSI_NULL_DFLT_ON" => {
            if on_off()? {
                Ok(Action::Set(SetOption::Ignored))
            } else {
                Err(errors::syntax(&g.names[0]))
            }
        }
        "IMPLICIT_TRANSACTIONS" | "NUMERIC_ROUNDABORT" | "CURSOR_CLOSE_ON_COMMIT" | "FMTONLY" => {
            if on_off()? {
                Err(errors::syntax(&g.names[0]))
            } else {
                Ok(Action::Set(SetOption::Ignored))
            }
        }
        "TEXTSIZE" | "DEADLOCK_PRIORITY" | "DATEFIRST" | "LANGUAGE" | "DATEFORMAT" => {
            Ok(Action::Set(SetOption::Ignored))
        }
        _ => Err(errors::syntax(&g.names[0])),
    }
}
