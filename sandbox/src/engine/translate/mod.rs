//! T-SQL to SQLite, in one module: every statement, clause and expression the
//! sandbox understands is matched here explicitly and printed as SQLite SQL
//! with the SQL Server type of every result column; anything else is
//! refused with SQL Server's error (102 and friends) instead of being
//! passed on in the hope that SQLite reads it the same way.
//!
//! Names are resolved here (208 unknown object, 207 unknown column, 209
//! ambiguous), against the catalog, case-insensitively. Every table in a
//! FROM clause gets a generated alias (`t1`, `t2`...), every select item
//! the output name `c1`, `c2`..., so user names never reach SQLite unquoted
//! or ambiguous. Parameters and variables are bound (`?N`), never inlined.
//!
//! One translator, [`Tr`], whose methods are spread over the submodules by
//! what they translate: names, scalar expressions, predicates, built-in
//! functions, queries and their FROM clauses, DML, DDL, and the statements
//! that change the session (control). This file holds the plans the
//! session runs and the statement dispatch.

mod checksum;
mod control;
mod ddl;
mod dml;
mod expr;
mod fk;
mod from;
mod functions;
mod names;
mod pred;
mod query;
mod raise;
mod tablevar;
mod temptable;
#[cfg(test)]
mod tests;
mod trigger;

use control::use_database;
use ddl::create_schema;
pub(crate) use temptable::is_temp_name;
pub(crate) use trigger::{check_body_action, pseudo_tables, trigger_body, TriggerPlan};

use super::catalog::{
    is_dmv, view_cte, Catalog, DbSummary, IndexInfo, TableInfo, TriggerInfo, ViewDef, ViewEnv,
};
use super::collation::{Collation, Label};
use super::datatype::{family, quote_ident, DeclType, Family};
use super::errors;
use super::locks::{LockTable, Mode};
use super::version::ProductVersion;
use crate::types::{Column, Param, SqlError, SqlType, Value};
use rusqlite::types::Value as SqlVal;
use sqlparser::ast::{self, BinaryOperator, Expr, ObjectName, ObjectNamePart, Statement};
use std::collections::HashMap;
use std::time::Duration;

/// A declared variable (`DECLARE @v int`).
#[derive(Debug, Clone)]
pub(crate) struct Var {
    pub decl: DeclType,
    pub value: SqlVal,
    /// A table variable's table (its SQLite TEMP table); None for scalars.
    pub table: Option<Box<TableInfo>>,
}

impl Var {
    /// A scalar variable.
    pub fn scalar(decl: DeclType, value: SqlVal) -> Var {
        Var {
            decl,
            value,
            table: None,
        }
    }
}

/// Everything translation depends on besides the statement.
#[derive(Clone, Copy)]
pub(crate) struct Env<'a> {
    pub catalog: &'a Catalog,
    pub db_name: &'a str,
    pub db_id: i64,
    pub databases: &'a [DbSummary],
    pub server_name: &'a str,
    /// The SQL Server version answered as.
    pub version: ProductVersion,
    pub spid: u16,
    pub login: &'a str,
    pub trancount: u32,
    pub rowcount: i64,
    pub last_error: i32,
    pub lock_timeout: i64,
    pub params: &'a [Param],
    /// Variables by lowercase name including `@`.
    pub vars: &'a HashMap<String, Var>,
    pub now_utc: chrono::NaiveDateTime,
    pub now_local: chrono::NaiveDateTime,
    /// The engine's locks and sessions, for the `sys.dm_*` views.
    pub locks: Option<&'a LockTable>,
}

/// SQLite SQL with its bound values (`?1`, `?2`...).
#[derive(Debug, Clone, Default)]
pub(crate) struct Sql {
    pub text: String,
    pub binds: Vec<SqlVal>,
}

/// A SELECT (or a scalar evaluation).
#[derive(Debug, Clone)]
pub(crate) struct QueryPlan {
    pub sql: Sql,
    pub columns: Vec<Column>,
    /// Variables assigned by `SELECT @v = ...`, one per column.
    pub assign: Option<Vec<String>>,
    /// UPDLOCK/HOLDLOCK/XLOCK...: take the write lock.
    pub lock: bool,
    /// NOWAIT hint: lock timeout 0 for this statement.
    pub nowait: bool,
    /// User tables read (schema, name), for SELECT permission.
    pub tables: Vec<(String, String)>,
    /// How each table in a FROM clause is read, from its hints (one entry
    /// per reference), for the table locks.
    pub reads: Vec<(String, String, TableRead)>,
    /// Reads a view that needs VIEW SERVER STATE (`sys.dm_*`).
    pub server_state: bool,
}

/// How a query reads a table, from the table's hints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TableRead {
    /// No hint, READCOMMITTED: waits for another session's exclusive lock.
    Committed,
    /// NOLOCK, READUNCOMMITTED: never waits.
    Uncommitted,
    /// UPDLOCK, HOLDLOCK, XLOCK...: keeps a lock of this mode on the table
    /// until the transaction ends.
    Locking(Mode),
}

/// What a DML statement does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DmlKind {
    Insert,
    Update,
    Delete,
}

impl DmlKind {
    pub fn verb(self) -> &'static str {
        match self {
            DmlKind::Insert => "INSERT",
            DmlKind::Update => "UPDATE",
            DmlKind::Delete => "DELETE",
        }
    }
}

/// INSERT, UPDATE or DELETE.
#[derive(Debug, Clone)]
pub(crate) struct DmlPlan {
    pub sql: Sql,
    pub kind: DmlKind,
    pub table: TableInfo,
    /// A query giving, for each row the statement writes, `[rowid or NULL]`
    /// followed by the new value of every table column (NULL when unknown):
    /// run after a unique-key violation to name the duplicate key.
    pub probe: Option<Sql>,
    pub nowait: bool,
    pub tables: Vec<(String, String)>,
    /// The columns an UPDATE sets, for column-level permissions.
    pub set_columns: Vec<String>,
}

/// CREATE TABLE.
#[derive(Debug, Clone)]
pub(crate) struct TablePlan {
    pub table: TableInfo,
    pub ddl: Vec<String>,
    /// Its FOREIGN KEY constraints (kept in `sbx_meta`, not enforced).
    pub foreign_keys: Vec<super::catalog::ForeignKeyInfo>,
}

/// CREATE INDEX.
#[derive(Debug, Clone)]
pub(crate) struct IndexPlan {
    pub table: TableInfo,
    pub index: IndexInfo,
    pub ddl: String,
}

/// RAISERROR, evaluated as one row: message, severity, state, arguments.
#[derive(Debug, Clone)]
pub(crate) struct RaisePlan {
    pub row: QueryPlan,
    /// `WITH SETERROR`: @@ERROR is 50000 whatever the severity.
    pub set_error: bool,
}

/// A SET option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetOption {
    NoCount(bool),
    XactAbort(bool),
    LockTimeout(i64),
    /// Accepted and without effect in the sandbox (ANSI_NULLS ON...).
    Ignored,
}

/// One statement, translated.
#[derive(Debug, Clone)]
pub(crate) enum Action {
    Query(QueryPlan),
    Dml(DmlPlan),
    CreateTable(TablePlan),
    CreateIndex(IndexPlan),
    /// (name as written, the table if it exists)
    DropTables {
        tables: Vec<(String, Option<TableInfo>)>,
        if_exists: bool,
    },
    CreateSchema(String),
    Begin,
    Commit,
    Rollback,
    /// SAVE TRANSACTION name
    Save(String),
    /// ROLLBACK TRANSACTION name
    RollbackTo(String),
    Set(SetOption),
    Print(QueryPlan),
    Declare(Vec<(String, DeclType, Option<QueryPlan>)>),
    /// DECLARE @t TABLE (...): the TEMP table, named by `table.name`.
    DeclareTable(TablePlan),
    /// CREATE TABLE #t (...): the session's temporary table.
    CreateTempTable(TablePlan),
    /// RAISERROR: message, severity, state and arguments, in that order,
    /// as the columns of one row.
    RaisError(RaisePlan),
    /// RETURN: the batch ends here.
    Return,
    SetVar {
        name: String,
        plan: QueryPlan,
    },
    If {
        cond: QueryPlan,
        then: Vec<Statement>,
        otherwise: Vec<Statement>,
    },
    WaitFor(Duration),
    Use(String),
    CreateTrigger(TriggerPlan),
    /// DROP TRIGGER: the trigger (None: IF EXISTS and there is none).
    DropTrigger(Option<TriggerInfo>),
}

/// Translates one statement.
pub(crate) fn plan(env: &Env<'_>, stmt: &Statement) -> Result<Action, SqlError> {
    let mut t = Tr::new(env);
    match stmt {
        Statement::Query(q) => {
            let out = t.query(q)?;
            let assign = assignments(&out.cols)?;
            let plan = t.finish_query(out, assign);
            Ok(Action::Query(plan))
        }
        Statement::Insert(i) => Ok(Action::Dml(t.insert(i)?)),
        Statement::Update(u) => Ok(Action::Dml(t.update(u)?)),
        Statement::Delete(d) => Ok(Action::Dml(t.delete(d)?)),
        Statement::CreateTable(ct) if is_temp_name(&ct.name) => t.create_temp_table(ct),
        Statement::CreateTable(ct) => Ok(Action::CreateTable(t.create_table(ct)?)),
        Statement::CreateIndex(ci) => Ok(Action::CreateIndex(t.create_index(ci)?)),
        Statement::Drop { .. } => t.drop_tables(stmt),
        Statement::CreateSchema { .. } => create_schema(stmt),
        Statement::StartTransaction {
            modes,
            begin: true,
            transaction: Some(_),
            modifier: None,
            statements,
            exception: None,
            has_end_keyword: false,
        } if modes.is_empty() && statements.is_empty() => Ok(Action::Begin),
        Statement::Commit {
            chain: false,
            end: false,
            modifier: None,
        } => Ok(Action::Commit),
        Statement::Rollback {
            chain: false,
            savepoint: None,
        } => Ok(Action::Rollback),
        Statement::Rollback {
            chain: false,
            savepoint: Some(n),
        } => Ok(Action::RollbackTo(n.value.clone())),
        Statement::Savepoint { name } => Ok(Action::Save(name.value.clone())),
        Statement::Set(s) => t.set(s, stmt),
        Statement::Print(p) => t.print(p),
        Statement::Declare {
            stmts,
            separator: _,
        } => t.declare(stmts, stmt),
        Statement::If(i) => t.if_else(i, stmt),
        Statement::RaisError {
            message,
            severity,
            state,
            arguments,
            options,
        } => t.raiserror(message, severity, state, arguments, options),
        Statement::Return(r) => raise::return_statement(r),
        Statement::WaitFor(w) => t.wait_for(w, stmt),
        Statement::Use(ast::Use::Object(n)) | Statement::Use(ast::Use::Database(n)) => {
            use_database(n)
        }
        Statement::CreateTrigger(ct) => t.create_trigger(ct),
        Statement::DropTrigger(d) => t.drop_trigger(d),
        _ => Err(refuse(stmt)),
    }
}

/// The error for a statement the sandbox does not implement: 102 near its
/// first word, as SQL Server reports syntax it does not know.
pub(crate) fn refuse(stmt: &Statement) -> SqlError {
    let text = stmt.to_string();
    errors::syntax(text.split_whitespace().next().unwrap_or(""))
}

fn refuse_expr(e: &Expr) -> SqlError {
    let text = e.to_string();
    let near: String = text
        .split(|c: char| c.is_whitespace() || c == '(')
        .next()
        .unwrap_or("")
        .to_string();
    errors::syntax(&near)
}

/// The identifiers of an object name; functions in names are refused.
fn name_parts(n: &ObjectName) -> Result<Vec<String>, SqlError> {
    n.0.iter()
        .map(|p| match p {
            ObjectNamePart::Identifier(i) => Ok(i.value.clone()),
            other => Err(errors::syntax(&other.to_string())),
        })
        .collect()
}

fn ident_path(n: &ObjectName) -> String {
    name_parts(n)
        .map(|p| p.join("."))
        .unwrap_or_else(|_| n.to_string())
}

fn assignments(cols: &[OutCol]) -> Result<Option<Vec<String>>, SqlError> {
    let n = cols.iter().filter(|c| c.assign.is_some()).count();
    if n == 0 {
        return Ok(None);
    }
    if n != cols.len() {
        return Err(errors::other(
            141,
            15,
            1,
            "A SELECT statement that assigns a value to a variable must not be combined with data-retrieval operations.",
        ));
    }
    Ok(Some(
        cols.iter()
            .map(|c| c.assign.clone().unwrap_or_default())
            .collect(),
    ))
}

/// A typed SQLite expression.
#[derive(Debug, Clone)]
struct Typed {
    sql: String,
    ty: SqlType,
    nullable: bool,
    /// The literal NULL (typeless in SQL Server; int when nothing else
    /// decides).
    null_lit: bool,
    /// The value, when known before execution (literals, parameters,
    /// variables, constant functions).
    konst: Option<Value>,
    /// Where a character value's collation comes from (SQL Server's
    /// collation precedence); `Default` for everything but columns and
    /// `COLLATE`.
    coll: Label,
}

impl Typed {
    fn new(sql: impl Into<String>, ty: SqlType, nullable: bool) -> Typed {
        Typed {
            sql: sql.into(),
            ty,
            nullable,
            null_lit: false,
            konst: None,
            coll: Label::Default,
        }
    }

    /// The same value with the collation label `coll`.
    fn with_coll(self, coll: Label) -> Typed {
        Typed { coll, ..self }
    }
}

/// A select item's result column.
#[derive(Debug, Clone)]
struct OutCol {
    name: String,
    ty: SqlType,
    nullable: bool,
    coll: Label,
    assign: Option<String>,
}

/// A translated query: SQL whose columns are named `c1..cn`.
#[derive(Debug, Clone)]
struct QueryOut {
    sql: String,
    cols: Vec<OutCol>,
}

#[derive(Debug, Clone)]
struct SrcCol {
    name: String,
    sql: String,
    ty: SqlType,
    nullable: bool,
    coll: Label,
}

impl SrcCol {
    /// The columns of a stored table (or table variable), under their own
    /// names.
    fn of_table(t: &TableInfo) -> Vec<SrcCol> {
        t.columns
            .iter()
            .map(|c| SrcCol {
                name: c.name.clone(),
                sql: c.name.clone(),
                ty: c.decl.ty,
                nullable: c.nullable,
                coll: c.collation.map_or(Label::Default, Label::Implicit),
            })
            .collect()
    }
}

/// A table, view, derived table or CTE in a FROM clause.
#[derive(Debug, Clone)]
struct Source {
    /// Lowercase names that qualify its columns: the alias if there is
    /// one, otherwise `t`, `s.t` and `db.s.t`.
    qualifiers: Vec<String>,
    sql_alias: String,
    cols: Vec<SrcCol>,
}

#[derive(Debug, Clone)]
struct CteDef {
    name_lc: String,
    sql_name: String,
    cols: Vec<SrcCol>,
}

struct Tr<'e, 'a> {
    env: &'e Env<'a>,
    binds: Vec<SqlVal>,
    views: Vec<&'static ViewDef>,
    user_ctes: Vec<CteDef>,
    cte_sql: Vec<String>,
    scopes: Vec<Vec<Source>>,
    next_alias: usize,
    lock: bool,
    nowait: bool,
    tables: Vec<(String, String)>,
    reads: Vec<(String, String, TableRead)>,
    /// Lowercase parameter name -> position, built on first use (batches
    /// may carry thousands of parameters).
    param_index: Option<HashMap<String, usize>>,
}

fn qi(s: &str) -> String {
    quote_ident(s)
}

/// The type a string function returns for an argument of type `ty`:
/// strings keep theirs, anything else is converted as to `varchar(30)`.
fn string_result(ty: SqlType) -> SqlType {
    if is_string(ty) {
        ty
    } else if family(ty) == Family::Guid {
        SqlType::NVarChar(Some(36))
    } else {
        SqlType::VarChar(Some(30))
    }
}

fn is_string(ty: SqlType) -> bool {
    family(ty) == Family::Text
}

fn is_integer(ty: SqlType) -> bool {
    matches!(
        ty,
        SqlType::Bit | SqlType::TinyInt | SqlType::SmallInt | SqlType::Int | SqlType::BigInt
    )
}

impl<'e, 'a> Tr<'e, 'a> {
    fn new(env: &'e Env<'a>) -> Tr<'e, 'a> {
        Tr {
            env,
            binds: Vec::new(),
            views: Vec::new(),
            user_ctes: Vec::new(),
            cte_sql: Vec::new(),
            scopes: Vec::new(),
            next_alias: 0,
            lock: false,
            nowait: false,
            tables: Vec::new(),
            reads: Vec::new(),
            param_index: None,
        }
    }

    fn bind(&mut self, v: SqlVal) -> String {
        self.binds.push(v);
        format!("?{}", self.binds.len())
    }

    fn alias(&mut self) -> String {
        self.next_alias += 1;
        format!("t{}", self.next_alias)
    }

    /// The WITH clause: catalog views used, then user CTEs, then `extra`.
    fn with_prefix(&self, extra: &[String]) -> String {
        let live = self
            .views
            .iter()
            .any(|v| is_dmv(v))
            .then(|| self.env.locks.map(LockTable::snapshot))
            .flatten();
        let venv = ViewEnv {
            db_name: self.env.db_name,
            databases: self.env.databases,
            live: live.as_ref(),
        };
        let mut ctes: Vec<String> = self
            .views
            .iter()
            .map(|v| view_cte(v, self.env.catalog, &venv))
            .collect();
        ctes.extend(self.cte_sql.iter().cloned());
        ctes.extend(extra.iter().cloned());
        if ctes.is_empty() {
            String::new()
        } else {
            format!("WITH {} ", ctes.join(", "))
        }
    }

    fn finish_query(&mut self, out: QueryOut, assign: Option<Vec<String>>) -> QueryPlan {
        let text = format!("{}{}", self.with_prefix(&[]), out.sql);
        QueryPlan {
            sql: Sql {
                text,
                binds: std::mem::take(&mut self.binds),
            },
            columns: out
                .cols
                .iter()
                .map(|c| Column {
                    name: c.name.clone(),
                    ty: c.ty,
                    nullable: c.nullable,
                })
                .collect(),
            assign,
            lock: self.lock,
            nowait: self.nowait,
            tables: self.tables.clone(),
            reads: self.reads.clone(),
            server_state: self.views.iter().any(|v| is_dmv(v)),
        }
    }
}

fn check_wildcard(o: &ast::WildcardAdditionalOptions) -> Result<(), SqlError> {
    if o.opt_ilike.is_some()
        || o.opt_exclude.is_some()
        || o.opt_except.is_some()
        || o.opt_replace.is_some()
        || o.opt_rename.is_some()
        || o.opt_alias.is_some()
    {
        return Err(errors::syntax("*"));
    }
    Ok(())
}

/// The SQLite collation comparisons of type `ty` use: the resolved
/// collation for strings; none for the rest (a uniqueidentifier's stored
/// form compares bytewise in SQL Server's order).
fn collation_for(ty: SqlType, coll: Collation) -> Option<&'static str> {
    match family(ty) {
        Family::Text => Some(coll.sqlite()),
        _ => None,
    }
}

/// Of two types of equal precedence, the longer.
fn widen(a: SqlType, b: SqlType) -> SqlType {
    match (a, b) {
        (SqlType::NVarChar(x), SqlType::NVarChar(y)) => {
            SqlType::NVarChar(x.zip(y).map(|(x, y)| x.max(y)))
        }
        (SqlType::VarChar(x), SqlType::VarChar(y)) => {
            SqlType::VarChar(x.zip(y).map(|(x, y)| x.max(y)))
        }
        (SqlType::VarBinary(x), SqlType::VarBinary(y)) => {
            SqlType::VarBinary(x.zip(y).map(|(x, y)| x.max(y)))
        }
        _ => a,
    }
}

fn op_name(op: &BinaryOperator) -> &'static str {
    match op {
        BinaryOperator::Plus => "add",
        BinaryOperator::Minus => "subtract",
        BinaryOperator::Multiply => "multiply",
        BinaryOperator::Divide => "divide",
        BinaryOperator::Modulo => "modulo",
        _ => "bitwise",
    }
}
