//! RAISERROR and RETURN: the statements a change script uses to stop and
//! say why.

use super::{refuse_expr, Action, OutCol, QueryOut, RaisePlan, Tr};
use crate::engine::collation::Label;
use crate::engine::errors;
use crate::types::{SqlError, SqlType};
use sqlparser::ast::{self, Expr, RaisErrorOption};

/// RETURN ends the batch; a batch has no caller to take a value.
pub(super) fn return_statement(r: &ast::ReturnStatement) -> Result<Action, SqlError> {
    match r.value {
        None => Ok(Action::Return),
        Some(_) => Err(errors::other(
            178,
            15,
            1,
            "A RETURN statement with a return value cannot be used in this context.",
        )),
    }
}

/// Msg 2748: a RAISERROR argument of a type it does not take.
fn bad_argument_type(ty: SqlType) -> SqlError {
    errors::other(
        2748,
        16,
        1,
        format!(
            "Cannot specify {} data type as a parameter to RAISERROR.",
            ty.type_name()
        ),
    )
}

impl Tr<'_, '_> {
    /// RAISERROR(message, severity, state [, argument ...]) [WITH NOWAIT |
    /// SETERROR]: the values as one row, formatted when it runs.
    pub(super) fn raiserror(
        &mut self,
        message: &Expr,
        severity: &Expr,
        state: &Expr,
        arguments: &[Expr],
        options: &[RaisErrorOption],
    ) -> Result<Action, SqlError> {
        if options.contains(&RaisErrorOption::Log) {
            // Writing to the error log needs sysadmin's ALTER TRACE; the
            // sandbox has no log.
            return Err(errors::syntax("LOG"));
        }
        if arguments.len() > 20 {
            return Err(errors::other(
                2747,
                16,
                1,
                "Too many substitution parameters for RAISERROR. Cannot exceed 20 substitution parameters.",
            ));
        }
        let msg = self.expr(message)?;
        if !super::is_string(msg.ty) && !msg.null_lit {
            // A message number needs sys.messages, which the sandbox lacks.
            return Err(refuse_expr(message));
        }
        let mut cols = vec![(msg.sql, SqlType::NVarChar(Some(2047)))];
        for e in [severity, state] {
            let v = self.expr(e)?;
            if !super::is_integer(v.ty) && !v.null_lit {
                return Err(refuse_expr(e));
            }
            cols.push((v.sql, SqlType::BigInt));
        }
        for a in arguments {
            let v = self.expr(a)?;
            if !(super::is_integer(v.ty) || super::is_string(v.ty) || v.null_lit) {
                return Err(bad_argument_type(v.ty));
            }
            let ty = if super::is_string(v.ty) {
                SqlType::NVarChar(None)
            } else {
                SqlType::BigInt
            };
            cols.push((v.sql, ty));
        }
        let out = QueryOut {
            sql: format!(
                "SELECT {}",
                cols.iter()
                    .enumerate()
                    .map(|(i, (sql, _))| format!("{sql} AS c{}", i + 1))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            cols: cols
                .iter()
                .map(|(_, ty)| OutCol {
                    name: String::new(),
                    ty: *ty,
                    nullable: true,
                    assign: None,
                    coll: Label::Default,
                })
                .collect(),
        };
        Ok(Action::RaisError(RaisePlan {
            row: self.finish_query(out, None),
            set_error: options.contains(&RaisErrorOption::SetError),
        }))
    }
}
