//! CREATE TRIGGER ... AFTER|FOR INSERT, UPDATE, DELETE and DROP TRIGGER.
//! A trigger body may hold only what an audit trigger needs: INSERT,
//! UPDATE and DELETE statements (reading the `inserted` and `deleted`
//! tables) and SET NOCOUNT; anything else is refused when the trigger is
//! created, so a body never runs half understood.

use super::{name_parts, plan, Action, DmlKind, Env, SetOption, Tr, Var};
use crate::engine::catalog::TableInfo;
use crate::engine::datatype::DeclType;
use crate::engine::errors;
use crate::engine::parse::parse_batch;
use crate::types::{SqlError, SqlType};
use rusqlite::types::Value as SqlVal;
use sqlparser::ast::{
    ConditionalStatements, CreateTrigger, DropTrigger, Statement, TriggerEvent, TriggerPeriod,
};
use std::collections::HashMap;

/// CREATE TRIGGER, checked.
#[derive(Debug, Clone)]
pub(crate) struct TriggerPlan {
    pub schema: String,
    pub name: String,
    pub table: TableInfo,
    /// Events fired on: `I`, `U`, `D`.
    pub events: String,
    /// The statement's text, parsed again when the trigger fires.
    pub definition: String,
}

/// The `inserted` and `deleted` tables of a firing trigger, as variables
/// of the trigger's scope (the caller's variables are not visible in a
/// trigger). `inserted`/`deleted` are the SQLite TEMP tables holding the
/// after and before images.
pub(crate) fn pseudo_tables(
    table: &TableInfo,
    inserted: &str,
    deleted: &str,
) -> HashMap<String, Var> {
    let mut vars = HashMap::new();
    for (name, sqlite) in [("inserted", inserted), ("deleted", deleted)] {
        let t = TableInfo {
            name: name.to_string(),
            sqlite: sqlite.to_string(),
            indexes: Vec::new(),
            ..table.clone()
        };
        vars.insert(
            name.to_string(),
            Var {
                decl: DeclType::new(SqlType::Int),
                value: SqlVal::Null,
                table: Some(Box::new(t)),
            },
        );
    }
    vars
}

/// The body of a stored trigger definition.
pub(crate) fn trigger_body(definition: &str) -> Result<Vec<Statement>, SqlError> {
    let mut stmts = parse_batch(definition)?;
    match stmts.pop() {
        Some((Statement::CreateTrigger(ct), _)) if stmts.is_empty() => Ok(body_of(&ct)),
        _ => Err(errors::internal("stored trigger definition does not parse")),
    }
}

fn body_of(ct: &CreateTrigger) -> Vec<Statement> {
    match &ct.statements {
        Some(ConditionalStatements::BeginEnd(b)) => b.statements.clone(),
        Some(ConditionalStatements::Sequence { statements }) => statements.clone(),
        None => Vec::new(),
    }
}

/// Msg 286, for `inserted` or `deleted` as the target of a DML statement.
pub(super) fn pseudo_table_target() -> SqlError {
    errors::other(
        286,
        16,
        1,
        "The logical tables INSERTED and DELETED cannot be updated.",
    )
}

/// Msg 334: OUTPUT without INTO on a table with an enabled trigger.
pub(super) fn output_with_trigger(table: &str) -> SqlError {
    errors::other(
        334,
        16,
        1,
        format!("The target table '{table}' of the DML statement cannot have any enabled triggers if the statement contains an OUTPUT clause without INTO clause."),
    )
}

impl Tr<'_, '_> {
    /// Whether a one-part name is the `inserted` or `deleted` table of
    /// the trigger being translated.
    pub(super) fn is_pseudo_table(&self, name: &str) -> bool {
        !name.starts_with('@')
            && !name.starts_with('#')
            && self
                .env
                .vars
                .get(&name.to_lowercase())
                .is_some_and(|v| v.table.is_some())
    }

    /// Whether the table has an enabled trigger (for OUTPUT without INTO).
    pub(super) fn has_trigger(&self, t: &TableInfo, kind: DmlKind) -> bool {
        !self
            .env
            .catalog
            .triggers_for(&t.sqlite, kind.verb())
            .is_empty()
    }

    pub(super) fn create_trigger(&mut self, ct: &CreateTrigger) -> Result<Action, SqlError> {
        if ct.or_alter || ct.or_replace || ct.temporary || ct.is_constraint {
            return Err(errors::syntax("OR"));
        }
        match ct.period {
            Some(TriggerPeriod::After) | Some(TriggerPeriod::For) => {}
            Some(TriggerPeriod::InsteadOf) => return Err(errors::syntax("INSTEAD")),
            _ => return Err(errors::syntax("TRIGGER")),
        }
        let mut events = String::new();
        for e in &ct.events {
            let c = match e {
                TriggerEvent::Insert => 'I',
                TriggerEvent::Update(cols) if cols.is_empty() => 'U',
                TriggerEvent::Delete => 'D',
                other => return Err(errors::syntax(&other.to_string())),
            };
            if !events.contains(c) {
                events.push(c);
            }
        }
        let (db, schema, tname) = self.split_object(&ct.table_name)?;
        let display = name_parts(&ct.table_name)?.join(".");
        let bad_target = || {
            errors::other(
                8197,
                16,
                4,
                format!("The object '{display}' does not exist or is invalid for this operation."),
            )
        };
        if db.is_some_and(|d| !d.eq_ignore_ascii_case(self.env.db_name)) || tname.starts_with('@') {
            return Err(bad_target());
        }
        let table = self
            .env
            .catalog
            .table(schema.as_deref(), &tname)
            .cloned()
            .ok_or_else(bad_target)?;
        let parts = name_parts(&ct.name)?;
        let (tr_schema, name) = match parts.as_slice() {
            [n] => (table.schema.clone(), n.clone()),
            [s, n] => (s.clone(), n.clone()),
            _ => return Err(errors::syntax(&ct.name.to_string())),
        };
        if !tr_schema.eq_ignore_ascii_case(&table.schema) {
            return Err(errors::other(
                2108,
                16,
                1,
                format!(
                    "Cannot create trigger on '{display}' as the target is not in the same schema."
                ),
            ));
        }
        let vars = pseudo_tables(&table, "sbx_inserted", "sbx_deleted");
        let env = Env {
            vars: &vars,
            ..*self.env
        };
        for stmt in body_of(ct) {
            check_body_action(plan(&env, &stmt)?, &stmt)?;
        }
        Ok(Action::CreateTrigger(TriggerPlan {
            schema: table.schema.clone(),
            name,
            table,
            events,
            definition: ct.to_string(),
        }))
    }

    pub(super) fn drop_trigger(&mut self, d: &DropTrigger) -> Result<Action, SqlError> {
        if d.table_name.is_some() || d.option.is_some() {
            return Err(errors::syntax("ON"));
        }
        let parts = name_parts(&d.trigger_name)?;
        let (schema, name) = match parts.as_slice() {
            [n] => ("dbo".to_string(), n.clone()),
            [s, n] => (s.clone(), n.clone()),
            _ => return Err(errors::syntax(&d.trigger_name.to_string())),
        };
        let found = self.env.catalog.trigger(&schema, &name).cloned();
        if found.is_none() && !d.if_exists {
            return Err(errors::other(
                3701,
                11,
                5,
                format!("Cannot drop the trigger '{}', because it does not exist or you do not have permission.", parts.join(".")),
            ));
        }
        Ok(Action::DropTrigger(found))
    }
}

/// What a trigger body may hold: DML and SET NOCOUNT.
pub(crate) fn check_body_action(action: Action, stmt: &Statement) -> Result<Action, SqlError> {
    match action {
        Action::Dml(_) | Action::Set(SetOption::NoCount(_)) => Ok(action),
        _ => Err(super::refuse(stmt)),
    }
}
