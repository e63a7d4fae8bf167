//! T-SQL to SQLite, in one place: every statement, clause and expression the
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

use super::catalog::{
    find_view, view_cte, Catalog, ColumnInfo, DbSummary, IndexInfo, IndexKind, TableInfo, ViewDef,
    ViewEnv,
};
use super::datatype::{
    self, family, param_storage, precedence, quote_ident, quote_str, DeclType, Family,
};
use super::errors;
use super::parse::{CLUSTERED, NONCLUSTERED};
use crate::types::{Column, Param, SqlError, SqlType, Value};
use rusqlite::types::Value as SqlVal;
use sqlparser::ast::{
    self, BinaryOperator, CastKind, ColumnOption, ConditionalStatements, CreateIndex, CreateTable,
    Delete, Distinct, Expr, FromTable, Function, FunctionArg, FunctionArgExpr, FunctionArguments,
    GroupByExpr, Ident, IndexType, Insert, JoinConstraint, JoinOperator, ObjectName,
    ObjectNamePart, ObjectType, OrderByKind, Query, Select, SelectItem, SetExpr, SetOperator,
    SetQuantifier, Statement, TableConstraint, TableFactor, TableObject, TableWithJoins,
    TopQuantity, UnaryOperator, Update,
};
use std::collections::HashMap;
use std::time::Duration;

/// A declared variable (`DECLARE @v int`).
#[derive(Debug, Clone)]
pub(crate) struct Var {
    pub decl: DeclType,
    pub value: SqlVal,
}

/// Everything translation depends on besides the statement.
pub(crate) struct Env<'a> {
    pub catalog: &'a Catalog,
    pub db_name: &'a str,
    pub db_id: i64,
    pub databases: &'a [DbSummary],
    pub server_name: &'a str,
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
}

/// CREATE TABLE.
#[derive(Debug, Clone)]
pub(crate) struct TablePlan {
    pub table: TableInfo,
    pub ddl: Vec<String>,
}

/// CREATE INDEX.
#[derive(Debug, Clone)]
pub(crate) struct IndexPlan {
    pub table: TableInfo,
    pub index: IndexInfo,
    pub ddl: String,
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
        Statement::CreateTable(ct) => Ok(Action::CreateTable(t.create_table(ct)?)),
        Statement::CreateIndex(ci) => Ok(Action::CreateIndex(t.create_index(ci)?)),
        Statement::Drop {
            object_type,
            if_exists,
            names,
            cascade,
            restrict,
            purge,
            temporary,
            table,
        } => {
            if *object_type != ObjectType::Table
                || *cascade
                || *restrict
                || *purge
                || *temporary
                || table.is_some()
            {
                return Err(refuse(stmt));
            }
            let mut tables = Vec::new();
            for n in names {
                let (db, schema, name) = t.split_object(n)?;
                if let Some(db) = db {
                    if db.to_lowercase() != env.db_name.to_lowercase() {
                        return Err(errors::cannot_drop(&n.to_string()));
                    }
                }
                let display = ident_path(n);
                tables.push((
                    display,
                    env.catalog.table(schema.as_deref(), &name).cloned(),
                ));
            }
            Ok(Action::DropTables {
                tables,
                if_exists: *if_exists,
            })
        }
        Statement::CreateSchema {
            schema_name,
            or_replace,
            if_not_exists,
            with,
            options,
            default_collate_spec,
            clone,
        } => {
            if *or_replace
                || *if_not_exists
                || with.is_some()
                || options.is_some()
                || default_collate_spec.is_some()
                || clone.is_some()
            {
                return Err(refuse(stmt));
            }
            let name = match schema_name {
                ast::SchemaName::Simple(n) | ast::SchemaName::NamedAuthorization(n, _) => n,
                ast::SchemaName::UnnamedAuthorization(_) => return Err(refuse(stmt)),
            };
            let parts = name_parts(name)?;
            if parts.len() != 1
                || parts[0].contains('.')
                || parts[0].contains('|')
                || parts[0].is_empty()
            {
                return Err(errors::syntax(&name.to_string()));
            }
            Ok(Action::CreateSchema(parts[0].clone()))
        }
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
        Statement::Print(p) => {
            let v = t.expr(&p.message)?;
            let v = t.conv_to(&v, SqlType::NVarChar(Some(4000)));
            let sql = format!("SELECT {v}");
            Ok(Action::Print(
                t.scalar_plan(sql, SqlType::NVarChar(Some(4000))),
            ))
        }
        Statement::Declare {
            stmts,
            separator: _,
        } => {
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
        Statement::If(i) => {
            if !i.elseif_blocks.is_empty() || i.end_token.is_some() {
                return Err(refuse(stmt));
            }
            let Some(c) = &i.if_block.condition else {
                return Err(refuse(stmt));
            };
            let p = t.pred(c)?;
            let cond = t.scalar_plan(
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
        Statement::WaitFor(w) => {
            if w.wait_type != ast::WaitForType::Delay {
                return Err(refuse(stmt));
            }
            let v = t.expr(&w.expr)?;
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
        Statement::Use(ast::Use::Object(n)) | Statement::Use(ast::Use::Database(n)) => {
            let parts = name_parts(n)?;
            if parts.len() != 1 {
                return Err(errors::syntax(&n.to_string()));
            }
            Ok(Action::Use(parts[0].clone()))
        }
        _ => Err(refuse(stmt)),
    }
}

/// SET @v = expr's and DECLARE's plan: the value converted to the
/// variable's type.
impl Tr<'_, '_> {
    fn assign_plan(&mut self, e: &Expr, decl: DeclType) -> Result<QueryPlan, SqlError> {
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

    fn scalar_plan(&mut self, sql: String, ty: SqlType) -> QueryPlan {
        let out = QueryOut {
            sql,
            cols: vec![OutCol {
                name: String::new(),
                ty,
                nullable: true,
                assign: None,
            }],
        };
        self.finish_query(out, None)
    }

    fn set(&mut self, s: &ast::Set, stmt: &Statement) -> Result<Action, SqlError> {
        match s {
            ast::Set::SetSessionParam(ast::SetSessionParamKind::Generic(g)) => {
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
                    "IMPLICIT_TRANSACTIONS"
                    | "NUMERIC_ROUNDABORT"
                    | "CURSOR_CLOSE_ON_COMMIT"
                    | "FMTONLY" => {
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

fn parse_delay(s: &str) -> Option<Duration> {
    let mut parts = s.trim().split(':');
    let h: u64 = parts.next()?.trim().parse().ok()?;
    let m: u64 = parts.next().unwrap_or("0").trim().parse().ok()?;
    let sec: f64 = parts.next().unwrap_or("0").trim().parse().ok()?;
    if parts.next().is_some() || m > 59 || sec >= 60.0 || h > 23 {
        return None;
    }
    Some(Duration::from_secs(h * 3600 + m * 60) + Duration::from_secs_f64(sec))
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
}

impl Typed {
    fn new(sql: impl Into<String>, ty: SqlType, nullable: bool) -> Typed {
        Typed {
            sql: sql.into(),
            ty,
            nullable,
            null_lit: false,
            konst: None,
        }
    }
}

/// A select item's result column.
#[derive(Debug, Clone)]
struct OutCol {
    name: String,
    ty: SqlType,
    nullable: bool,
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
        let venv = ViewEnv {
            db_name: self.env.db_name,
            databases: self.env.databases,
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
        }
    }

    // ----- names -------------------------------------------------------

    /// (database, schema, name) of a one- to three-part object name.
    fn split_object(
        &self,
        n: &ObjectName,
    ) -> Result<(Option<String>, Option<String>, String), SqlError> {
        let parts = name_parts(n)?;
        let non_empty = |s: &String| if s.is_empty() { None } else { Some(s.clone()) };
        match parts.as_slice() {
            [t] => Ok((None, None, t.clone())),
            [s, t] => Ok((None, non_empty(s), t.clone())),
            [d, s, t] => Ok((non_empty(d), non_empty(s), t.clone())),
            _ => Err(errors::invalid_object(&ident_path(n))),
        }
    }

    /// The user table a DML or DDL statement names.
    fn user_table(&mut self, n: &ObjectName) -> Result<TableInfo, SqlError> {
        let (db, schema, name) = self.split_object(n)?;
        if let Some(db) = &db {
            if db.to_lowercase() != self.env.db_name.to_lowercase() {
                return Err(errors::invalid_object(&ident_path(n)));
            }
        }
        if let Some(s) = &schema {
            if find_view(s, &name).is_some() {
                return Err(errors::other(
                    259,
                    16,
                    1,
                    "Ad hoc updates to system catalogs are not allowed.",
                ));
            }
        }
        self.env
            .catalog
            .table(schema.as_deref(), &name)
            .cloned()
            .ok_or_else(|| errors::invalid_object(&ident_path(n)))
    }

    fn qualified_name(&self, t: &TableInfo) -> String {
        format!("{}.{}.{}", self.env.db_name, t.schema, t.name)
    }

    /// A column reference (`c`, `t.c`, `s.t.c`, `db.s.t.c`).
    fn column(&mut self, parts: &[Ident]) -> Result<Typed, SqlError> {
        let names: Vec<String> = parts.iter().map(|i| i.value.clone()).collect();
        let (col, qual) = names.split_last().expect("non-empty identifier");
        let col_lc = col.to_lowercase();
        let found = |src: &Source| {
            src.cols
                .iter()
                .find(|c| c.name.to_lowercase() == col_lc)
                .cloned()
        };
        if qual.is_empty() {
            for scope in self.scopes.iter().rev() {
                let mut hit: Option<(String, SrcCol)> = None;
                for src in scope {
                    if let Some(c) = found(src) {
                        if hit.is_some() {
                            return Err(errors::ambiguous_column(col));
                        }
                        hit = Some((src.sql_alias.clone(), c));
                    }
                }
                if let Some((alias, c)) = hit {
                    return Ok(Typed::new(
                        format!("{}.{}", qi(&alias), qi(&c.sql)),
                        c.ty,
                        c.nullable,
                    ));
                }
            }
            return Err(errors::invalid_column(col));
        }
        let q = qual
            .iter()
            .map(|s| s.to_lowercase())
            .collect::<Vec<_>>()
            .join(".");
        for scope in self.scopes.iter().rev() {
            for src in scope {
                if src.qualifiers.contains(&q) {
                    return match found(src) {
                        Some(c) => Ok(Typed::new(
                            format!("{}.{}", qi(&src.sql_alias), qi(&c.sql)),
                            c.ty,
                            c.nullable,
                        )),
                        None => Err(errors::invalid_column(col)),
                    };
                }
            }
        }
        Err(errors::not_bound(&names.join(".")))
    }

    fn param_or_var(&mut self, name: &str) -> Result<Typed, SqlError> {
        let l = name.to_lowercase();
        let params = self.env.params;
        let index = self.param_index.get_or_insert_with(|| {
            params
                .iter()
                .enumerate()
                .rev()
                .map(|(i, p)| (p.name.to_lowercase(), i))
                .collect()
        });
        if let Some(p) = index.get(&l).map(|i| &params[*i]) {
            let (ty, value) = (p.ty, p.value.clone());
            let sql = self.bind(param_storage(ty, &value));
            return Ok(Typed {
                sql,
                ty,
                nullable: true,
                null_lit: false,
                konst: Some(value),
            });
        }
        if let Some(v) = self.env.vars.get(&l) {
            let (decl, value) = (v.decl, v.value.clone());
            let konst = datatype::from_storage((&value).into(), decl.ty);
            let sql = self.bind(value);
            return Ok(Typed {
                sql,
                ty: decl.ty,
                nullable: true,
                null_lit: false,
                konst: Some(konst),
            });
        }
        Err(errors::undeclared(name))
    }

    fn konst(&mut self, v: Value, ty: SqlType) -> Typed {
        let sql = self.bind(datatype::to_storage(&v));
        Typed {
            sql,
            ty,
            nullable: matches!(v, Value::Null),
            null_lit: false,
            konst: Some(v),
        }
    }

    fn text_konst(&mut self, s: &str, len: u16) -> Typed {
        self.konst(Value::Text(s.to_string()), SqlType::NVarChar(Some(len)))
    }

    fn system_variable(&mut self, name: &str) -> Result<Typed, SqlError> {
        let env = self.env;
        Ok(match name.to_uppercase().as_str() {
            "@@TRANCOUNT" => self.konst(Value::Int(env.trancount as i64), SqlType::Int),
            "@@ROWCOUNT" => self.konst(Value::Int(env.rowcount), SqlType::Int),
            "@@ERROR" => self.konst(Value::Int(env.last_error as i64), SqlType::Int),
            "@@SPID" => self.konst(Value::Int(env.spid as i64), SqlType::SmallInt),
            "@@LOCK_TIMEOUT" => self.konst(Value::Int(env.lock_timeout), SqlType::Int),
            "@@DATEFIRST" => self.konst(Value::Int(7), SqlType::TinyInt),
            "@@VERSION" => {
                let v = version_string(env.server_name);
                self.text_konst(&v, 300)
            }
            "@@SERVERNAME" => self.text_konst(env.server_name, 128),
            "@@SERVICENAME" => self.text_konst("MSSQLSERVER", 128),
            "@@LANGUAGE" => self.text_konst("us_english", 128),
            _ => return Err(errors::undeclared(name)),
        })
    }

    // ----- expressions ---------------------------------------------------

    fn expr(&mut self, e: &Expr) -> Result<Typed, SqlError> {
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
            Expr::UnaryOp { op, expr } => {
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
            Expr::BinaryOp { left, op, right } => {
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
            Expr::Cast {
                kind,
                expr,
                data_type,
                format,
            } => {
                if format.is_some() {
                    return Err(refuse_expr(e));
                }
                let try_ = match kind {
                    CastKind::Cast => false,
                    CastKind::TryCast | CastKind::SafeCast => true,
                    CastKind::DoubleColon => return Err(refuse_expr(e)),
                };
                let v = self.expr(expr)?;
                let target = DeclType::from_ast(data_type, 30)?;
                Ok(self.cast(v, target, None, try_))
            }
            Expr::Convert {
                is_try,
                expr,
                data_type: Some(dt),
                charset: None,
                target_before_value: true,
                styles,
            } => {
                let v = self.expr(expr)?;
                let target = DeclType::from_ast(dt, 30)?;
                let style = match styles.as_slice() {
                    [] => None,
                    [s] => match self.expr(s)?.konst {
                        Some(Value::Int(i)) => Some(i),
                        _ => return Err(refuse_expr(s)),
                    },
                    _ => return Err(refuse_expr(e)),
                };
                Ok(self.cast(v, target, style, *is_try))
            }
            Expr::Case {
                operand,
                conditions,
                else_result,
                ..
            } => self.case(operand.as_deref(), conditions, else_result.as_deref()),
            Expr::Function(f) => self.function(f),
            Expr::Subquery(q) => {
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
            Expr::Substring {
                expr,
                substring_from: Some(from),
                substring_for: Some(len),
                special: false,
                shorthand: false,
            } => {
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
            Expr::Trim {
                trim_where: None,
                trim_what: None,
                expr,
                trim_characters: None,
            } => {
                let v = self.expr(expr)?;
                Ok(Typed::new(
                    format!("trim({}, ' ')", v.sql),
                    v.ty,
                    v.nullable,
                ))
            }
            Expr::Collate { expr, collation } => {
                let v = self.expr(expr)?;
                let c = collation.to_string().to_uppercase();
                let coll = if c.contains("_CS") || c.ends_with("_BIN") || c.ends_with("_BIN2") {
                    "BINARY"
                } else {
                    "CI"
                };
                Ok(Typed::new(
                    format!("({} COLLATE {coll})", v.sql),
                    v.ty,
                    v.nullable,
                ))
            }
            Expr::Exists { .. }
            | Expr::IsNull(_)
            | Expr::IsNotNull(_)
            | Expr::In { .. }
            | Expr::Between { .. }
            | Expr::Like { .. } => Err(refuse_expr(e)),
            _ => Err(refuse_expr(e)),
        }
    }

    fn literal(&mut self, v: &ast::Value) -> Result<Typed, SqlError> {
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
            },
            other => return Err(errors::syntax(&other.to_string())),
        })
    }

    /// `v` as SQL of type `target`: unchanged within a type family,
    /// converted with SQL Server's rules across families.
    fn conv_to(&mut self, v: &Typed, target: SqlType) -> String {
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

    fn cast(&mut self, v: Typed, target: DeclType, style: Option<i64>, try_: bool) -> Typed {
        if v.null_lit {
            return Typed {
                sql: "NULL".into(),
                ty: target.ty,
                nullable: true,
                null_lit: false,
                konst: Some(Value::Null),
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
        }
    }

    fn arith(&mut self, l: Typed, op: &BinaryOperator, r: Typed) -> Result<Typed, SqlError> {
        let nullable = l.nullable || r.nullable;
        let lt = if l.null_lit { r.ty } else { l.ty };
        let rt = if r.null_lit { l.ty } else { r.ty };
        let (lf, rf) = (family(lt), family(rt));
        if *op == BinaryOperator::Plus && (lf == Family::Text && rf == Family::Text) {
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
                (Some(Value::Text(a)), Some(Value::Text(b))) => {
                    Some(Value::Text(format!("{a}{b}")))
                }
                _ => None,
            };
            return Ok(Typed {
                sql: format!("({} || {})", l.sql, r.sql),
                ty,
                nullable,
                null_lit: false,
                konst,
            });
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
        })
    }

    /// The common type of several values (SQL Server's precedence; the
    /// NULL literal does not count).
    fn common_type(vals: &[&Typed]) -> SqlType {
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

    fn case(
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
                    self.comparison(o, "=", &w)
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
        Ok(Typed::new(sql, ty, nullable))
    }

    // ----- predicates -----------------------------------------------------

    /// A comparison of two typed values with SQL Server's implicit
    /// conversion and case-insensitive (or GUID-ordered) collation.
    fn comparison(&mut self, l: &Typed, op: &str, r: &Typed) -> String {
        if l.null_lit || r.null_lit {
            return format!("{} {op} {}", l.sql, r.sql);
        }
        let ty = Self::common_type(&[l, r]);
        let ls = self.conv_to(l, ty);
        let rs = self.conv_to(r, ty);
        // An explicit COLLATE of the query wins.
        let explicit = |s: &str| s.contains(" COLLATE BINARY)") || s.contains(" COLLATE CI)");
        if explicit(&ls) || explicit(&rs) {
            return format!("{ls} {op} {rs}");
        }
        match collation_for(ty) {
            Some(c) => format!("({ls}) COLLATE {c} {op} {rs}"),
            None => format!("{ls} {op} {rs}"),
        }
    }

    /// A run of one logical operator (`a OR b OR c ...`, left-nested by the
    /// parser), walked with a loop and emitted as a balanced, bracketed
    /// tree: long key lists would otherwise exceed both the thread's stack
    /// and SQLite's expression depth limit of 1000. AND and OR are
    /// associative, NULLs included, so the meaning is unchanged.
    fn logic_chain(&mut self, e: &Expr, op: &BinaryOperator) -> Result<String, SqlError> {
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

    fn pred(&mut self, e: &Expr) -> Result<String, SqlError> {
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
                Ok(self.comparison(&l, cmp, &r))
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
            } => {
                let x = self.expr(expr)?;
                let items = list
                    .iter()
                    .map(|i| self.expr(i))
                    .collect::<Result<Vec<_>, _>>()?;
                let mut all: Vec<&Typed> = items.iter().collect();
                all.push(&x);
                let ty = Self::common_type(&all);
                let xs = self.conv_to(&x, ty);
                let list: Vec<String> = items.iter().map(|i| self.conv_to(i, ty)).collect();
                let xs = match collation_for(ty) {
                    Some(c) => format!("({xs}) COLLATE {c}"),
                    None => xs,
                };
                Ok(format!(
                    "{xs} {}IN ({})",
                    if *negated { "NOT " } else { "" },
                    list.join(", ")
                ))
            }
            Expr::In {
                expr,
                target: ast::InTarget::Subquery(subquery),
                negated,
                global: false,
            } => {
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
                let ty = out.cols[0].ty;
                let ty = if precedence(x.ty) >= precedence(ty) {
                    x.ty
                } else {
                    ty
                };
                let xs = self.conv_to(&x, ty);
                let xs = match collation_for(ty) {
                    Some(c) => format!("({xs}) COLLATE {c}"),
                    None => xs,
                };
                Ok(format!(
                    "{xs} {}IN ({})",
                    if *negated { "NOT " } else { "" },
                    out.sql
                ))
            }
            Expr::Between {
                expr,
                negated,
                low,
                high,
            } => {
                let x = self.expr(expr)?;
                let lo = self.expr(low)?;
                let hi = self.expr(high)?;
                let ty = Self::common_type(&[&x, &lo, &hi]);
                let (xs, ls, hs) = (
                    self.conv_to(&x, ty),
                    self.conv_to(&lo, ty),
                    self.conv_to(&hi, ty),
                );
                let xs = match collation_for(ty) {
                    Some(c) => format!("({xs}) COLLATE {c}"),
                    None => xs,
                };
                Ok(format!(
                    "{xs} {}BETWEEN {ls} AND {hs}",
                    if *negated { "NOT " } else { "" }
                ))
            }
            Expr::Like {
                negated,
                any: false,
                expr,
                pattern,
                escape_char,
            } => {
                let x = self.expr(expr)?;
                let p = self.expr(pattern)?;
                let esc = match escape_char {
                    Some(c) => format!(", {}", self.expr(c)?.sql),
                    None => String::new(),
                };
                let test = format!("sbx_like({}, {}{esc}) = 1", x.sql, p.sql);
                Ok(if *negated {
                    format!("NOT ({test})")
                } else {
                    test
                })
            }
            other => {
                // A value where a condition belongs.
                let text = other.to_string();
                Err(errors::non_boolean(
                    text.split_whitespace().last().unwrap_or(""),
                ))
            }
        }
    }

    // ----- functions ------------------------------------------------------

    fn function(&mut self, f: &Function) -> Result<Typed, SqlError> {
        let Function {
            name,
            uses_odbc_syntax,
            parameters,
            args,
            filter,
            null_treatment,
            over,
            within_group,
        } = f;
        let parts = name_parts(name)?;
        let fname = parts.last().cloned().unwrap_or_default();
        if *uses_odbc_syntax
            || !matches!(parameters, FunctionArguments::None)
            || filter.is_some()
            || null_treatment.is_some()
            || !within_group.is_empty()
        {
            return Err(errors::syntax(&fname));
        }
        if over.is_some() {
            return Err(errors::syntax("OVER"));
        }
        if parts.len() != 1 {
            return Err(errors::other(
                4121,
                16,
                1,
                format!("Cannot find either column \"{}\" or the user-defined function or aggregate \"{}\", or the name is ambiguous.", parts[0], parts.join(".")),
            ));
        }
        let lname = fname.to_lowercase();
        let mut distinct = false;
        let mut star = false;
        let mut exprs: Vec<&Expr> = Vec::new();
        let no_parens = matches!(args, FunctionArguments::None);
        match args {
            FunctionArguments::None => {}
            FunctionArguments::Subquery(_) => return Err(errors::syntax(&fname)),
            FunctionArguments::List(list) => {
                if !list.clauses.is_empty() {
                    return Err(errors::syntax(&fname));
                }
                match list.duplicate_treatment {
                    Some(ast::DuplicateTreatment::Distinct) => distinct = true,
                    Some(ast::DuplicateTreatment::All) | None => {}
                }
                for a in &list.args {
                    match a {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => exprs.push(e),
                        FunctionArg::Unnamed(FunctionArgExpr::Wildcard) => star = true,
                        _ => return Err(errors::syntax(&fname)),
                    }
                }
            }
        }
        if no_parens
            && !matches!(
                lname.as_str(),
                "current_timestamp" | "current_user" | "system_user" | "session_user" | "user"
            )
        {
            return Err(errors::syntax(&fname));
        }
        if distinct
            && !matches!(
                lname.as_str(),
                "count" | "count_big" | "sum" | "avg" | "min" | "max"
            )
        {
            return Err(errors::syntax("DISTINCT"));
        }
        if star && !matches!(lname.as_str(), "count" | "count_big") {
            return Err(errors::syntax("*"));
        }
        let n = exprs.len();
        let need = |k: usize| {
            if n == k {
                Ok(())
            } else {
                Err(errors::arg_count(&fname, k))
            }
        };
        let range = |lo: usize, hi: usize| {
            if (lo..=hi).contains(&n) {
                Ok(())
            } else {
                Err(errors::other(
                    189,
                    15,
                    1,
                    format!("The {fname} function requires {lo} to {hi} arguments."),
                ))
            }
        };
        let d = if distinct { "DISTINCT " } else { "" };
        let env = self.env;
        match lname.as_str() {
            "count" | "count_big" => {
                let ty = if lname == "count" {
                    SqlType::Int
                } else {
                    SqlType::BigInt
                };
                if star {
                    if n != 0 || distinct {
                        return Err(errors::syntax("*"));
                    }
                    return Ok(Typed::new("count(*)", ty, false));
                }
                need(1)?;
                let v = self.expr(exprs[0])?;
                Ok(Typed::new(format!("count({d}{})", v.sql), ty, false))
            }
            "sum" | "avg" => {
                need(1)?;
                let v = self.expr(exprs[0])?;
                let ty = match v.ty {
                    SqlType::TinyInt | SqlType::SmallInt | SqlType::Int => SqlType::Int,
                    SqlType::BigInt => SqlType::BigInt,
                    SqlType::Float => SqlType::Float,
                    other => {
                        return Err(errors::other(
                            8117,
                            16,
                            1,
                            format!(
                                "Operand data type {} is invalid for {lname} operator.",
                                other.type_name()
                            ),
                        ))
                    }
                };
                let sql = if lname == "avg" && ty != SqlType::Float {
                    format!("CAST(avg({d}{}) AS INTEGER)", v.sql)
                } else {
                    format!("{lname}({d}{})", v.sql)
                };
                Ok(Typed::new(sql, ty, true))
            }
            "min" | "max" => {
                need(1)?;
                let v = self.expr(exprs[0])?;
                Ok(Typed::new(format!("{lname}({d}{})", v.sql), v.ty, true))
            }
            "isnull" => {
                need(2)?;
                let a = self.expr(exprs[0])?;
                let b = self.expr(exprs[1])?;
                let ty = if a.null_lit { b.ty } else { a.ty };
                let bs = self.conv_to(&b, ty);
                Ok(Typed::new(
                    format!("ifnull({}, {bs})", a.sql),
                    ty,
                    a.nullable && b.nullable,
                ))
            }
            "coalesce" => {
                if n < 2 {
                    return Err(errors::other(
                        189,
                        15,
                        1,
                        "The coalesce function requires 2 to n arguments.",
                    ));
                }
                let vals = exprs
                    .iter()
                    .map(|e| self.expr(e))
                    .collect::<Result<Vec<_>, _>>()?;
                let ty = Self::common_type(&vals.iter().collect::<Vec<_>>());
                let nullable = vals.iter().all(|v| v.nullable);
                let parts: Vec<String> = vals.iter().map(|v| self.conv_to(v, ty)).collect();
                Ok(Typed::new(
                    format!("coalesce({})", parts.join(", ")),
                    ty,
                    nullable,
                ))
            }
            "nullif" => {
                need(2)?;
                let a = self.expr(exprs[0])?;
                let b = self.expr(exprs[1])?;
                let bs = self.conv_to(&b, a.ty);
                Ok(Typed::new(format!("nullif({}, {bs})", a.sql), a.ty, true))
            }
            "iif" => {
                need(3)?;
                let c = self.pred(exprs[0])?;
                let a = self.expr(exprs[1])?;
                let b = self.expr(exprs[2])?;
                let ty = Self::common_type(&[&a, &b]);
                let (as_, bs) = (self.conv_to(&a, ty), self.conv_to(&b, ty));
                Ok(Typed::new(
                    format!("CASE WHEN {c} THEN {as_} ELSE {bs} END"),
                    ty,
                    a.nullable || b.nullable,
                ))
            }
            "len" => {
                need(1)?;
                let v = self.expr(exprs[0])?;
                Ok(Typed::new(
                    format!("sbx_len({})", v.sql),
                    SqlType::Int,
                    v.nullable,
                ))
            }
            "upper" | "lower" => {
                need(1)?;
                let v = self.expr(exprs[0])?;
                let ty = string_result(v.ty);
                Ok(Typed::new(
                    format!("sbx_{lname}({})", v.sql),
                    ty,
                    v.nullable,
                ))
            }
            "ltrim" | "rtrim" => {
                need(1)?;
                let v = self.expr(exprs[0])?;
                let ty = string_result(v.ty);
                Ok(Typed::new(
                    format!("{lname}({}, ' ')", v.sql),
                    ty,
                    v.nullable,
                ))
            }
            "left" | "right" => {
                need(2)?;
                let v = self.expr(exprs[0])?;
                let k = self.expr(exprs[1])?;
                let ty = string_result(v.ty);
                Ok(Typed::new(
                    format!("sbx_{lname}({}, {})", v.sql, k.sql),
                    ty,
                    true,
                ))
            }
            "substring" => {
                need(3)?;
                let v = self.expr(exprs[0])?;
                let s = self.expr(exprs[1])?;
                let l = self.expr(exprs[2])?;
                let ty = string_result(v.ty);
                Ok(Typed::new(
                    format!("substr({}, {}, {})", v.sql, s.sql, l.sql),
                    ty,
                    true,
                ))
            }
            "replace" => {
                need(3)?;
                let v = self.expr(exprs[0])?;
                let a = self.expr(exprs[1])?;
                let b = self.expr(exprs[2])?;
                let ty = if is_string(v.ty) {
                    v.ty
                } else {
                    SqlType::NVarChar(Some(4000))
                };
                let ty = match ty {
                    SqlType::NVarChar(_) => SqlType::NVarChar(Some(4000)),
                    _ => SqlType::VarChar(Some(8000)),
                };
                Ok(Typed::new(
                    format!("replace({}, {}, {})", v.sql, a.sql, b.sql),
                    ty,
                    true,
                ))
            }
            "charindex" => {
                need(2)?;
                let a = self.expr(exprs[0])?;
                let b = self.expr(exprs[1])?;
                Ok(Typed::new(
                    format!("instr(sbx_lower({}), sbx_lower({}))", b.sql, a.sql),
                    SqlType::Int,
                    true,
                ))
            }
            "concat" => {
                if n < 2 {
                    return Err(errors::other(
                        189,
                        15,
                        1,
                        "The concat function requires 2 to 254 arguments.",
                    ));
                }
                let vals = exprs
                    .iter()
                    .map(|e| self.expr(e))
                    .collect::<Result<Vec<_>, _>>()?;
                let parts: Vec<String> = vals
                    .iter()
                    .map(|v| {
                        let s = self.conv_to(v, SqlType::NVarChar(None));
                        format!("coalesce({s}, '')")
                    })
                    .collect();
                Ok(Typed::new(
                    format!("({})", parts.join(" || ")),
                    SqlType::NVarChar(Some(4000)),
                    false,
                ))
            }
            "abs" => {
                need(1)?;
                let v = self.expr(exprs[0])?;
                Ok(Typed::new(format!("abs({})", v.sql), v.ty, v.nullable))
            }
            "newid" => {
                need(0)?;
                Ok(Typed::new("sbx_newid()", SqlType::UniqueIdentifier, false))
            }
            "sysutcdatetime" | "sysdatetime" => {
                need(0)?;
                let t = if lname == "sysutcdatetime" {
                    env.now_utc
                } else {
                    env.now_local
                };
                Ok(self.konst(Value::DateTime(t), SqlType::DateTime2))
            }
            "getutcdate" | "getdate" | "current_timestamp" => {
                if !no_parens {
                    need(0)?;
                }
                let t = if lname == "getutcdate" {
                    env.now_utc
                } else {
                    env.now_local
                };
                let ms = t.and_utc().timestamp_subsec_millis();
                let t = chrono::Timelike::with_nanosecond(&t, ms * 1_000_000).unwrap_or(t);
                Ok(self.konst(Value::DateTime(t), SqlType::DateTime))
            }
            "db_name" => {
                range(0, 1)?;
                let name = if n == 0 {
                    Some(env.db_name.to_string())
                } else {
                    match self.expr(exprs[0])?.konst {
                        Some(Value::Int(id)) => env
                            .databases
                            .iter()
                            .find(|d| d.id == id)
                            .map(|d| d.name.clone()),
                        Some(Value::Null) => None,
                        _ => return Err(refuse_expr(exprs[0])),
                    }
                };
                Ok(match name {
                    Some(s) => self.text_konst(&s, 128),
                    None => self.konst(Value::Null, SqlType::NVarChar(Some(128))),
                })
            }
            "db_id" => {
                range(0, 1)?;
                let id = if n == 0 {
                    Some(env.db_id)
                } else {
                    match self.expr(exprs[0])?.konst {
                        Some(Value::Text(s)) => env
                            .databases
                            .iter()
                            .find(|d| d.name.to_lowercase() == s.to_lowercase())
                            .map(|d| d.id),
                        Some(Value::Null) => None,
                        _ => return Err(refuse_expr(exprs[0])),
                    }
                };
                Ok(self.konst(id.map(Value::Int).unwrap_or(Value::Null), SqlType::SmallInt))
            }
            "schema_name" => {
                range(0, 1)?;
                let name = if n == 0 {
                    Some("dbo".to_string())
                } else {
                    match self.expr(exprs[0])?.konst {
                        Some(Value::Int(id)) => env
                            .catalog
                            .schemas
                            .iter()
                            .find(|s| s.id == id)
                            .map(|s| s.name.clone()),
                        Some(Value::Null) => None,
                        _ => return Err(refuse_expr(exprs[0])),
                    }
                };
                Ok(match name {
                    Some(s) => self.text_konst(&s, 128),
                    None => self.konst(Value::Null, SqlType::NVarChar(Some(128))),
                })
            }
            "schema_id" => {
                range(0, 1)?;
                let id = if n == 0 {
                    Some(1)
                } else {
                    match self.expr(exprs[0])?.konst {
                        Some(Value::Text(s)) => env.catalog.schema(&s).map(|s| s.id),
                        Some(Value::Null) => None,
                        _ => return Err(refuse_expr(exprs[0])),
                    }
                };
                Ok(self.konst(id.map(Value::Int).unwrap_or(Value::Null), SqlType::Int))
            }
            "object_id" => {
                range(1, 2)?;
                let args = exprs
                    .iter()
                    .map(|e| self.expr(e))
                    .collect::<Result<Vec<_>, _>>()?;
                let sql = args
                    .iter()
                    .map(|a| a.sql.clone())
                    .collect::<Vec<_>>()
                    .join(", ");
                Ok(Typed::new(
                    format!("sbx_object_id({sql})"),
                    SqlType::Int,
                    true,
                ))
            }
            "object_name" => {
                need(1)?;
                let v = self.expr(exprs[0])?;
                Ok(Typed::new(
                    format!("sbx_object_name({})", v.sql),
                    SqlType::NVarChar(Some(128)),
                    true,
                ))
            }
            "has_perms_by_name" => {
                need(3)?;
                let args = exprs
                    .iter()
                    .map(|e| self.expr(e))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Typed::new(
                    format!(
                        "sbx_has_perms({}, {}, {})",
                        args[0].sql, args[1].sql, args[2].sql
                    ),
                    SqlType::Int,
                    true,
                ))
            }
            "quotename" => {
                range(1, 2)?;
                let args = exprs
                    .iter()
                    .map(|e| self.expr(e))
                    .collect::<Result<Vec<_>, _>>()?;
                let sql = args
                    .iter()
                    .map(|a| a.sql.clone())
                    .collect::<Vec<_>>()
                    .join(", ");
                Ok(Typed::new(
                    format!("sbx_quotename({sql})"),
                    SqlType::NVarChar(Some(258)),
                    true,
                ))
            }
            "serverproperty" => {
                need(1)?;
                let prop = match self.expr(exprs[0])?.konst {
                    Some(Value::Text(s)) => s,
                    _ => return Err(refuse_expr(exprs[0])),
                };
                Ok(match server_property(env.server_name, &prop) {
                    Some(Value::Int(i)) => self.konst(Value::Int(i), SqlType::Int),
                    Some(Value::Text(s)) => self.text_konst(&s, 128),
                    _ => self.konst(Value::Null, SqlType::NVarChar(Some(128))),
                })
            }
            "databasepropertyex" => {
                need(2)?;
                let db = self.expr(exprs[0])?.konst;
                let prop = self.expr(exprs[1])?.konst;
                let (Some(Value::Text(db)), Some(Value::Text(prop))) = (db, prop) else {
                    return Err(refuse_expr(exprs[0]));
                };
                let info = env
                    .databases
                    .iter()
                    .find(|d| d.name.to_lowercase() == db.to_lowercase());
                let v = info.and_then(|d| match prop.to_lowercase().as_str() {
                    "updateability" => Some(Value::Text(
                        if d.read_only {
                            "READ_ONLY"
                        } else {
                            "READ_WRITE"
                        }
                        .into(),
                    )),
                    "status" => Some(Value::Text("ONLINE".into())),
                    "collation" => Some(Value::Text("SQL_Latin1_General_CP1_CI_AS".into())),
                    "recovery" => Some(Value::Text("SIMPLE".into())),
                    "useraccess" => Some(Value::Text("MULTI_USER".into())),
                    "version" => Some(Value::Int(957)),
                    _ => None,
                });
                Ok(match v {
                    Some(Value::Int(i)) => self.konst(Value::Int(i), SqlType::Int),
                    Some(Value::Text(s)) => self.text_konst(&s, 128),
                    _ => self.konst(Value::Null, SqlType::NVarChar(Some(128))),
                })
            }
            "suser_sname" | "suser_name" | "original_login" | "system_user" | "session_user" => {
                if !no_parens {
                    need(0)?;
                }
                let login = env.login.to_string();
                Ok(self.text_konst(&login, 128))
            }
            "user_name" | "current_user" | "user" => {
                if !no_parens {
                    need(0)?;
                }
                Ok(self.text_konst("dbo", 128))
            }
            "is_srvrolemember" | "is_member" | "is_rolemember" => {
                range(1, 2)?;
                for e in &exprs {
                    self.expr(e)?;
                }
                Ok(self.konst(Value::Int(1), SqlType::Int))
            }
            "xact_state" => {
                need(0)?;
                Ok(self.konst(Value::Int((env.trancount > 0) as i64), SqlType::SmallInt))
            }
            _ => Err(errors::unknown_function(&fname)),
        }
    }

    // ----- queries --------------------------------------------------------

    fn subquery(&mut self, q: &Query) -> Result<QueryOut, SqlError> {
        self.query(q)
    }

    fn query(&mut self, q: &Query) -> Result<QueryOut, SqlError> {
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
            if w.recursive {
                return Err(errors::syntax("RECURSIVE"));
            }
            for cte in &w.cte_tables {
                let out = self.query(&cte.query)?;
                let name = cte.alias.name.value.clone();
                let mut cols = Vec::new();
                for (i, c) in out.cols.iter().enumerate() {
                    let cname = match cte.alias.columns.get(i) {
                        Some(a) => a.name.value.clone(),
                        None => c.name.clone(),
                    };
                    if cname.is_empty() {
                        return Err(errors::other(
                            8155,
                            16,
                            2,
                            format!(
                                "No column name was specified for column {} of '{}'.",
                                i + 1,
                                name
                            ),
                        ));
                    }
                    cols.push(SrcCol {
                        name: cname,
                        sql: format!("c{}", i + 1),
                        ty: c.ty,
                        nullable: c.nullable,
                    });
                }
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
            let items = match &ob.kind {
                OrderByKind::Expressions(items) => items,
                OrderByKind::All(_) => return Err(errors::syntax("ALL")),
            };
            let mut parts = Vec::new();
            for item in items {
                if item.with_fill.is_some() || item.options.nulls_first.is_some() {
                    return Err(errors::syntax(&item.to_string()));
                }
                let pos = self.order_position(&item.expr, &cols)?;
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
            sql.push_str(&format!(" ORDER BY {}", parts.join(", ")));
        }
        let mut limit = top;
        let mut offset = None;
        match limit_clause {
            None => {}
            Some(ast::LimitClause::LimitOffset {
                limit: None,
                offset: Some(o),
                limit_by,
            }) if limit_by.is_empty() => {
                if order_by.is_none() {
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
        if !compound {
            self.scopes.pop();
        }
        Ok(QueryOut { sql, cols })
    }

    /// ORDER BY an output column (by alias or position), if it is one.
    fn order_position(&mut self, e: &Expr, cols: &[OutCol]) -> Result<Option<usize>, SqlError> {
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

    fn set_expr(&mut self, e: &SetExpr) -> Result<(String, Vec<OutCol>), SqlError> {
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
                    })
                    .collect();
                Ok((format!("{ls} {opname} {rs}"), cols))
            }
            SetExpr::Values(_) => Err(errors::syntax("VALUES")),
            _ => Err(errors::syntax(&e.to_string())),
        }
    }

    /// A SELECT core: leaves its scope pushed (ORDER BY needs it). Returns
    /// the SQL, output columns and the TOP limit.
    fn select(&mut self, s: &Select) -> Result<(String, Vec<OutCol>, Option<String>), SqlError> {
        let Select {
            select_token: _,
            optimizer_hints,
            distinct,
            select_modifiers,
            top,
            top_before_distinct: _,
            projection,
            exclude,
            into,
            from,
            lateral_views,
            prewhere,
            selection,
            connect_by,
            group_by,
            cluster_by,
            distribute_by,
            sort_by,
            having,
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
        let mut sql = String::from("SELECT ");
        match distinct {
            None | Some(Distinct::All) => {}
            Some(Distinct::Distinct) => sql.push_str("DISTINCT "),
            Some(Distinct::On(_)) => return Err(errors::syntax("ON")),
        }
        let top_sql = match top {
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
        };
        let mut from_sql = Vec::new();
        for twj in from {
            from_sql.push(self.table_with_joins(twj)?);
        }
        let mut items = Vec::new();
        let mut cols = Vec::new();
        for item in projection {
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
                        for c in &src.cols {
                            items.push(format!("{}.{}", qi(&src.sql_alias), qi(&c.sql)));
                            cols.push(OutCol {
                                name: c.name.clone(),
                                ty: c.ty,
                                nullable: c.nullable,
                                assign: None,
                            });
                        }
                    }
                }
                SelectItem::QualifiedWildcard(kind, opts) => {
                    check_wildcard(opts)?;
                    let name = match kind {
                        ast::SelectItemQualifiedWildcardKind::ObjectName(n) => n,
                        ast::SelectItemQualifiedWildcardKind::Expr(e) => {
                            return Err(refuse_expr(e))
                        }
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
                    for c in &src.cols {
                        items.push(format!("{}.{}", qi(&src.sql_alias), qi(&c.sql)));
                        cols.push(OutCol {
                            name: c.name.clone(),
                            ty: c.ty,
                            nullable: c.nullable,
                            assign: None,
                        });
                    }
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
                    });
                }
                SelectItem::ExprWithAlias { expr, alias } => {
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
                        });
                    } else {
                        cols.push(OutCol {
                            name: alias.value.clone(),
                            ty: v.ty,
                            nullable: v.nullable,
                            assign: None,
                        });
                    }
                }
                SelectItem::ExprWithAliases { .. } => {
                    return Err(errors::syntax(&item.to_string()))
                }
            }
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
        Ok((sql, cols, top_sql))
    }

    fn table_with_joins(&mut self, twj: &TableWithJoins) -> Result<String, SqlError> {
        let mut sql = self.table_factor(&twj.relation)?;
        for j in &twj.joins {
            if j.global {
                return Err(errors::syntax("GLOBAL"));
            }
            let (kw, constraint) = match &j.join_operator {
                JoinOperator::Join(c) | JoinOperator::Inner(c) => ("JOIN", c),
                JoinOperator::Left(c) | JoinOperator::LeftOuter(c) => ("LEFT JOIN", c),
                JoinOperator::Right(c) | JoinOperator::RightOuter(c) => ("RIGHT JOIN", c),
                JoinOperator::FullOuter(c) => ("FULL JOIN", c),
                JoinOperator::CrossJoin(c) => ("CROSS JOIN", c),
                JoinOperator::CrossApply => return Err(errors::syntax("APPLY")),
                JoinOperator::OuterApply => return Err(errors::syntax("APPLY")),
                _ => return Err(errors::syntax("JOIN")),
            };
            let before = self.scopes.last().map(|s| s.len()).unwrap_or(0);
            let rel = self.table_factor(&j.relation)?;
            if let Some(scope) = self.scopes.last_mut() {
                let (left, right) = scope.split_at_mut(before);
                let nullable = |srcs: &mut [Source]| {
                    for s in srcs {
                        for c in &mut s.cols {
                            c.nullable = true;
                        }
                    }
                };
                match kw {
                    "LEFT JOIN" => nullable(right),
                    "RIGHT JOIN" => nullable(left),
                    "FULL JOIN" => {
                        nullable(left);
                        nullable(right);
                    }
                    _ => {}
                }
            }
            match (kw, constraint) {
                ("CROSS JOIN", JoinConstraint::None) => sql.push_str(&format!(" CROSS JOIN {rel}")),
                (_, JoinConstraint::On(e)) if kw != "CROSS JOIN" => {
                    let p = self.pred(e)?;
                    sql.push_str(&format!(" {kw} {rel} ON {p}"));
                }
                _ => return Err(errors::syntax(kw)),
            }
        }
        Ok(sql)
    }

    fn hints(&mut self, hints: &[Expr]) -> Result<(), SqlError> {
        for h in hints {
            let Expr::Identifier(i) = h else {
                return Err(refuse_expr(h));
            };
            match i.value.to_uppercase().as_str() {
                "UPDLOCK" | "HOLDLOCK" | "XLOCK" | "SERIALIZABLE" | "REPEATABLEREAD"
                | "TABLOCK" | "TABLOCKX" | "PAGLOCK" => self.lock = true,
                "NOLOCK" | "READUNCOMMITTED" | "READCOMMITTED" | "READCOMMITTEDLOCK"
                | "ROWLOCK" => {}
                "NOWAIT" => self.nowait = true,
                _ => return Err(errors::syntax(&i.value)),
            }
        }
        Ok(())
    }

    fn table_factor(&mut self, tf: &TableFactor) -> Result<String, SqlError> {
        match tf {
            TableFactor::Table {
                name,
                alias,
                args,
                with_hints,
                version,
                with_ordinality,
                partitions,
                json_path,
                sample,
                index_directives,
                inheritance,
            } => {
                if args.is_some()
                    || version.is_some()
                    || *with_ordinality
                    || !partitions.is_empty()
                    || json_path.is_some()
                    || sample.is_some()
                    || !index_directives.is_empty()
                    || inheritance.is_some()
                {
                    return Err(errors::syntax(&tf.to_string()));
                }
                self.hints(with_hints)?;
                let alias_name = match alias {
                    Some(a) => {
                        if !a.columns.is_empty() || a.at.is_some() {
                            return Err(errors::syntax(&a.to_string()));
                        }
                        Some(a.name.value.clone())
                    }
                    None => None,
                };
                let (db, schema, tname) = self.split_object(name)?;
                let display = ident_path(name);
                let sql_alias = self.alias();
                let mut qualifiers = Vec::new();
                let (sql_table, cols) = 'found: {
                    if db.is_none() && schema.is_none() {
                        let l = tname.to_lowercase();
                        if let Some(c) = self.user_ctes.iter().find(|c| c.name_lc == l) {
                            qualifiers.push(l);
                            break 'found (c.sql_name.clone(), c.cols.clone());
                        }
                    }
                    if let Some(d) = &db {
                        let sysdb = schema
                            .as_deref()
                            .map(|s| s.eq_ignore_ascii_case("sys"))
                            .unwrap_or(false)
                            && tname.eq_ignore_ascii_case("databases");
                        if d.to_lowercase() != self.env.db_name.to_lowercase() && !sysdb {
                            return Err(errors::invalid_object(&display));
                        }
                    }
                    if let Some(s) = &schema {
                        if let Some(v) = find_view(s, &tname) {
                            if !self.views.iter().any(|x| std::ptr::eq(*x, v)) {
                                self.views.push(v);
                            }
                            let vl = v.name.to_lowercase();
                            qualifiers.push(tname.to_lowercase());
                            qualifiers.push(vl.clone());
                            qualifiers.push(format!("{}.{vl}", self.env.db_name.to_lowercase()));
                            let cols = v
                                .columns
                                .iter()
                                .map(|(n, ty, nullable)| SrcCol {
                                    name: n.to_string(),
                                    sql: n.to_string(),
                                    ty: *ty,
                                    nullable: *nullable,
                                })
                                .collect();
                            break 'found (v.name.to_string(), cols);
                        }
                    }
                    let Some(t) = self.env.catalog.table(schema.as_deref(), &tname) else {
                        return Err(errors::invalid_object(&display));
                    };
                    let t = t.clone();
                    self.tables.push((t.schema.clone(), t.name.clone()));
                    let tl = t.name.to_lowercase();
                    let sl = t.schema.to_lowercase();
                    qualifiers.push(tl.clone());
                    qualifiers.push(format!("{sl}.{tl}"));
                    qualifiers.push(format!("{}.{sl}.{tl}", self.env.db_name.to_lowercase()));
                    let cols = t
                        .columns
                        .iter()
                        .map(|c| SrcCol {
                            name: c.name.clone(),
                            sql: c.name.clone(),
                            ty: c.decl.ty,
                            nullable: c.nullable,
                        })
                        .collect();
                    (t.sqlite.clone(), cols)
                };
                if let Some(a) = alias_name {
                    qualifiers = vec![a.to_lowercase()];
                }
                self.push_source(Source {
                    qualifiers,
                    sql_alias: sql_alias.clone(),
                    cols,
                })?;
                Ok(format!("{} AS {}", qi(&sql_table), qi(&sql_alias)))
            }
            TableFactor::Derived {
                lateral: false,
                subquery,
                alias,
                sample: None,
            } => {
                let Some(alias) = alias else {
                    return Err(errors::syntax(")"));
                };
                let out = self.query(subquery)?;
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
                    });
                }
                let sql_alias = self.alias();
                self.push_source(Source {
                    qualifiers: vec![alias.name.value.to_lowercase()],
                    sql_alias: sql_alias.clone(),
                    cols,
                })?;
                Ok(format!("({}) AS {}", out.sql, qi(&sql_alias)))
            }
            TableFactor::NestedJoin {
                table_with_joins,
                alias: None,
            } => Ok(format!("({})", self.table_with_joins(table_with_joins)?)),
            _ => Err(errors::syntax(&tf.to_string())),
        }
    }

    fn push_source(&mut self, src: Source) -> Result<(), SqlError> {
        let scope = self.scopes.last_mut().expect("a scope is open");
        if let Some(q) = src.qualifiers.first() {
            if scope.iter().any(|s| s.qualifiers.first() == Some(q)) {
                return Err(errors::other(
                    1013,
                    16,
                    1,
                    format!("The objects \"{q}\" and \"{q}\" in the FROM clause have the same exposed names. Use correlation names to distinguish them."),
                ));
            }
        }
        scope.push(src);
        Ok(())
    }

    // ----- DML --------------------------------------------------------------

    fn assign_sql(&self, v: &Typed, table: &TableInfo, col: &ColumnInfo) -> String {
        if v.null_lit {
            return "NULL".into();
        }
        format!(
            "sbx_assign({}, {}, {}, {}, {})",
            v.sql,
            quote_str(&col.decl.spec()),
            quote_str(v.ty.type_name()),
            quote_str(&self.qualified_name(table)),
            quote_str(&col.name)
        )
    }

    fn insert(&mut self, ins: &Insert) -> Result<DmlPlan, SqlError> {
        let Insert {
            insert_token: _,
            optimizer_hints,
            or,
            ignore,
            into: _,
            table,
            table_alias,
            columns,
            by_name,
            overwrite,
            source,
            assignments,
            partitioned,
            after_columns,
            overriding,
            has_table_keyword,
            on,
            returning,
            output,
            replace_into,
            priority,
            insert_alias,
            settings,
            format_clause,
            multi_table_insert_type,
            multi_table_into_clauses,
            multi_table_when_clauses,
            multi_table_else_clause,
        } = ins;
        if output.is_some() {
            return Err(errors::syntax("OUTPUT"));
        }
        if !optimizer_hints.is_empty()
            || or.is_some()
            || *ignore
            || table_alias.is_some()
            || *by_name
            || *overwrite
            || !assignments.is_empty()
            || partitioned.is_some()
            || !after_columns.is_empty()
            || overriding.is_some()
            || *has_table_keyword
            || on.is_some()
            || returning.is_some()
            || *replace_into
            || priority.is_some()
            || insert_alias.is_some()
            || settings.is_some()
            || format_clause.is_some()
            || multi_table_insert_type.is_some()
            || !multi_table_into_clauses.is_empty()
            || !multi_table_when_clauses.is_empty()
            || multi_table_else_clause.is_some()
        {
            return Err(errors::syntax("INSERT"));
        }
        let TableObject::TableName(name) = table else {
            return Err(errors::syntax("INSERT"));
        };
        let t = self.user_table(name)?;
        let mut targets: Vec<usize> = Vec::new();
        if columns.is_empty() {
            targets = (0..t.columns.len()).collect();
        } else {
            for c in columns {
                let parts = name_parts(c)?;
                let cname = parts.last().cloned().unwrap_or_default();
                let idx = t
                    .column(&cname)
                    .ok_or_else(|| errors::invalid_column(&cname))?;
                if targets.contains(&idx) {
                    return Err(errors::other(
                        264,
                        16,
                        1,
                        format!("The column name '{cname}' is specified more than once in the SET clause or column list of an INSERT. A column cannot be assigned more than one value in the same clause. Modify the clause to make sure that a column is updated only once. If this clause is updated more than once, the statement will fail."),
                    ));
                }
                targets.push(idx);
            }
        }
        let Some(q) = source else {
            let sql = format!("INSERT INTO {} DEFAULT VALUES", qi(&t.sqlite));
            return Ok(DmlPlan {
                sql: Sql {
                    text: sql,
                    binds: std::mem::take(&mut self.binds),
                },
                kind: DmlKind::Insert,
                table: t,
                probe: None,
                nowait: self.nowait,
                tables: self.tables.clone(),
            });
        };
        let plain_values = q.with.is_none()
            && q.order_by.is_none()
            && q.limit_clause.is_none()
            && q.fetch.is_none();
        let (src_sql, src_types): (String, Vec<Typed>) = match (q.body.as_ref(), plain_values) {
            (SetExpr::Values(v), true) => {
                let mut rows = Vec::new();
                let mut types: Vec<Option<Typed>> = vec![None; targets.len()];
                for row in &v.rows {
                    if row.len() != targets.len() {
                        return Err(if row.len() > targets.len() {
                            errors::other(110, 15, 1, "There are fewer columns in the INSERT statement than values specified in the VALUES clause. The number of values in the VALUES clause must match the number of columns specified in the INSERT statement.")
                        } else {
                            errors::other(109, 15, 1, "There are more columns in the INSERT statement than values specified in the VALUES clause. The number of values in the VALUES clause must match the number of columns specified in the INSERT statement.")
                        });
                    }
                    self.scopes.push(Vec::new());
                    let vals = row
                        .iter()
                        .map(|e| self.expr(e))
                        .collect::<Result<Vec<_>, _>>()?;
                    self.scopes.pop();
                    for (slot, v) in types.iter_mut().zip(vals.iter()) {
                        if slot.as_ref().is_none_or(|s| s.null_lit) {
                            *slot = Some(v.clone());
                        }
                    }
                    rows.push(format!(
                        "({})",
                        vals.iter()
                            .map(|v| v.sql.clone())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                let types = types
                    .into_iter()
                    .map(|t| t.unwrap_or_else(|| Typed::new("NULL", SqlType::Int, true)))
                    .collect();
                (format!("VALUES {}", rows.join(", ")), types)
            }
            _ => {
                let out = self.query(q)?;
                if out.cols.len() != targets.len() {
                    return Err(errors::other(
                        121,
                        15,
                        1,
                        "The select list for the INSERT statement contains fewer items than the insert list. The number of SELECT values must match the number of INSERT columns.",
                    ));
                }
                let types = out
                    .cols
                    .iter()
                    .map(|c| Typed::new("", c.ty, c.nullable))
                    .collect();
                (out.sql, types)
            }
        };
        let n = targets.len();
        let src_cols = (1..=n)
            .map(|i| format!("\"c{i}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let src_cte = format!("\"sbx_src\"({src_cols}) AS ({src_sql})");
        let mut select_items = Vec::new();
        let mut by_column: Vec<Option<String>> = vec![None; t.columns.len()];
        for (i, &idx) in targets.iter().enumerate() {
            let col = &t.columns[idx];
            let mut v = src_types[i].clone();
            v.sql = format!("\"sbx_src\".\"c{}\"", i + 1);
            let v = if v.null_lit {
                Typed {
                    null_lit: false,
                    ..v
                }
            } else {
                v
            };
            let s = self.assign_sql(&v, &t, col);
            by_column[idx] = Some(s.clone());
            select_items.push(s);
        }
        let with = self.with_prefix(std::slice::from_ref(&src_cte));
        let target_cols = targets
            .iter()
            .map(|&i| qi(&t.columns[i].name))
            .collect::<Vec<_>>()
            .join(", ");
        let text = format!(
            "{with}INSERT INTO {} ({target_cols}) SELECT {} FROM \"sbx_src\"",
            qi(&t.sqlite),
            select_items.join(", ")
        );
        let probe_items: Vec<String> = std::iter::once("NULL".to_string())
            .chain(
                by_column
                    .into_iter()
                    .map(|c| c.unwrap_or_else(|| "NULL".into())),
            )
            .collect();
        let probe = format!("{with}SELECT {} FROM \"sbx_src\"", probe_items.join(", "));
        let binds = std::mem::take(&mut self.binds);
        Ok(DmlPlan {
            sql: Sql {
                text,
                binds: binds.clone(),
            },
            kind: DmlKind::Insert,
            table: t,
            probe: Some(Sql { text: probe, binds }),
            nowait: self.nowait,
            tables: self.tables.clone(),
        })
    }

    /// The single target table of UPDATE/DELETE, as a source in a new scope.
    fn dml_target(&mut self, twj: &TableWithJoins) -> Result<(TableInfo, String), SqlError> {
        if !twj.joins.is_empty() {
            return Err(errors::syntax("JOIN"));
        }
        let TableFactor::Table {
            name,
            alias,
            with_hints,
            args: None,
            version: None,
            ..
        } = &twj.relation
        else {
            return Err(errors::syntax(&twj.relation.to_string()));
        };
        self.hints(with_hints)?;
        let t = self.user_table(name)?;
        let sql_alias = self.alias();
        let tl = t.name.to_lowercase();
        let sl = t.schema.to_lowercase();
        let qualifiers = match alias {
            Some(a) => vec![a.name.value.to_lowercase()],
            None => vec![
                tl.clone(),
                format!("{sl}.{tl}"),
                format!("{}.{sl}.{tl}", self.env.db_name.to_lowercase()),
            ],
        };
        let cols = t
            .columns
            .iter()
            .map(|c| SrcCol {
                name: c.name.clone(),
                sql: c.name.clone(),
                ty: c.decl.ty,
                nullable: c.nullable,
            })
            .collect();
        self.scopes.push(vec![Source {
            qualifiers,
            sql_alias: sql_alias.clone(),
            cols,
        }]);
        Ok((t, sql_alias))
    }

    fn update(&mut self, u: &Update) -> Result<DmlPlan, SqlError> {
        let Update {
            update_token: _,
            optimizer_hints,
            table,
            on_cluster,
            assignments,
            from,
            selection,
            returning,
            output,
            or,
            order_by,
            limit,
            settings,
        } = u;
        if output.is_some() {
            return Err(errors::syntax("OUTPUT"));
        }
        if from.is_some() {
            return Err(errors::syntax("FROM"));
        }
        if !optimizer_hints.is_empty()
            || on_cluster.is_some()
            || returning.is_some()
            || or.is_some()
            || !order_by.is_empty()
            || limit.is_some()
            || settings.is_some()
        {
            return Err(errors::syntax("UPDATE"));
        }
        let (t, alias) = self.dml_target(table)?;
        let mut sets = Vec::new();
        let mut new_values: Vec<Option<String>> = vec![None; t.columns.len()];
        for a in assignments {
            let ast::AssignmentTarget::ColumnName(target) = &a.target else {
                return Err(errors::syntax("("));
            };
            let parts = name_parts(target)?;
            let (cname, qual) = parts.split_last().expect("non-empty");
            if !qual.is_empty() {
                let q = qual
                    .iter()
                    .map(|s| s.to_lowercase())
                    .collect::<Vec<_>>()
                    .join(".");
                let ok = self
                    .scopes
                    .last()
                    .map(|s| s[0].qualifiers.contains(&q))
                    .unwrap_or(false);
                if !ok {
                    return Err(errors::not_bound(&parts.join(".")));
                }
            }
            let idx = t
                .column(cname)
                .ok_or_else(|| errors::invalid_column(cname))?;
            if new_values[idx].is_some() {
                return Err(errors::other(
                    264,
                    16,
                    1,
                    format!("The column name '{cname}' is specified more than once in the SET clause or column list of an INSERT. A column cannot be assigned more than one value in the same clause. Modify the clause to make sure that a column is updated only once. If this clause is updated more than once, the statement will fail."),
                ));
            }
            let v = self.expr(&a.value)?;
            let s = self.assign_sql(&v, &t, &t.columns[idx]);
            new_values[idx] = Some(s.clone());
            sets.push(format!("{} = {s}", qi(&t.columns[idx].name)));
        }
        let where_sql = match selection {
            Some(w) => format!(" WHERE {}", self.pred(w)?),
            None => String::new(),
        };
        self.scopes.pop();
        let with = self.with_prefix(&[]);
        let text = format!(
            "{with}UPDATE {} AS {} SET {}{where_sql}",
            qi(&t.sqlite),
            qi(&alias),
            sets.join(", ")
        );
        let probe_items: Vec<String> = std::iter::once(format!("{}.rowid", qi(&alias)))
            .chain(new_values.iter().zip(t.columns.iter()).map(|(v, c)| {
                v.clone()
                    .unwrap_or_else(|| format!("{}.{}", qi(&alias), qi(&c.name)))
            }))
            .collect();
        let probe = format!(
            "{with}SELECT {} FROM {} AS {}{where_sql}",
            probe_items.join(", "),
            qi(&t.sqlite),
            qi(&alias)
        );
        let binds = std::mem::take(&mut self.binds);
        Ok(DmlPlan {
            sql: Sql {
                text,
                binds: binds.clone(),
            },
            kind: DmlKind::Update,
            table: t,
            probe: Some(Sql { text: probe, binds }),
            nowait: self.nowait,
            tables: self.tables.clone(),
        })
    }

    fn delete(&mut self, d: &Delete) -> Result<DmlPlan, SqlError> {
        let Delete {
            delete_token: _,
            optimizer_hints,
            tables,
            from,
            on_cluster,
            using,
            selection,
            returning,
            output,
            order_by,
            limit,
            settings,
        } = d;
        if output.is_some() {
            return Err(errors::syntax("OUTPUT"));
        }
        if !optimizer_hints.is_empty()
            || !tables.is_empty()
            || on_cluster.is_some()
            || using.is_some()
            || returning.is_some()
            || !order_by.is_empty()
            || limit.is_some()
            || settings.is_some()
        {
            return Err(errors::syntax("DELETE"));
        }
        let list = match from {
            FromTable::WithFromKeyword(l) | FromTable::WithoutKeyword(l) => l,
        };
        if list.len() != 1 {
            return Err(errors::syntax(","));
        }
        let (t, alias) = self.dml_target(&list[0])?;
        let where_sql = match selection {
            Some(w) => format!(" WHERE {}", self.pred(w)?),
            None => String::new(),
        };
        self.scopes.pop();
        let with = self.with_prefix(&[]);
        let text = format!(
            "{with}DELETE FROM {} AS {}{where_sql}",
            qi(&t.sqlite),
            qi(&alias)
        );
        Ok(DmlPlan {
            sql: Sql {
                text,
                binds: std::mem::take(&mut self.binds),
            },
            kind: DmlKind::Delete,
            table: t,
            probe: None,
            nowait: self.nowait,
            tables: self.tables.clone(),
        })
    }

    // ----- DDL --------------------------------------------------------------

    fn create_table(&mut self, ct: &CreateTable) -> Result<TablePlan, SqlError> {
        // Everything but the name, columns and constraints must be absent:
        // compare the statement with one printed from those alone.
        let mut parts: Vec<String> = ct.columns.iter().map(|c| c.to_string()).collect();
        parts.extend(ct.constraints.iter().map(|c| c.to_string()));
        let expected = format!("CREATE TABLE {} ({})", ct.name, parts.join(", "));
        if ct.to_string() != expected {
            return Err(errors::syntax(&ct.name.to_string()));
        }
        let (db, schema, name) = self.split_object(&ct.name)?;
        if let Some(d) = db {
            if d.to_lowercase() != self.env.db_name.to_lowercase() {
                return Err(errors::other(
                    2702,
                    16,
                    2,
                    format!("Database '{d}' does not exist."),
                ));
            }
        }
        if name.is_empty() || name.starts_with('#') {
            return Err(errors::syntax(&ct.name.to_string()));
        }
        let schema = schema.unwrap_or_else(|| "dbo".into());
        let schema = self
            .env
            .catalog
            .schema(&schema)
            .map(|s| s.name.clone())
            .unwrap_or(schema);
        let sqlite = format!("{schema}.{name}");
        let mut columns: Vec<ColumnInfo> = Vec::new();
        let mut col_defaults: Vec<Option<String>> = Vec::new();
        let mut explicit_null: Vec<bool> = Vec::new();
        let mut keys: Vec<KeyDef> = Vec::new();
        for c in &ct.columns {
            if columns
                .iter()
                .any(|x| x.name.to_lowercase() == c.name.value.to_lowercase())
            {
                return Err(errors::other(
                    2705,
                    16,
                    3,
                    format!("Column names in each table must be unique. Column name '{}' in table '{}' is specified more than once.", c.name.value, name),
                ));
            }
            let decl = DeclType::from_ast(&c.data_type, 1)?;
            let mut nullable = None;
            let mut default = None;
            for opt in &c.options {
                match &opt.option {
                    ColumnOption::Null => nullable = Some(true),
                    ColumnOption::NotNull => nullable = Some(false),
                    ColumnOption::Default(e) => default = Some(e.clone()),
                    ColumnOption::PrimaryKey(pk) => {
                        if !pk.columns.is_empty()
                            || !pk.include.is_empty()
                            || !pk.index_options.is_empty()
                            || pk.characteristics.is_some()
                            || pk.index_type.is_some()
                        {
                            return Err(errors::syntax("PRIMARY"));
                        }
                        let clustered = clustered_word(pk.index_name.as_ref())?;
                        let cname = opt
                            .name
                            .as_ref()
                            .or(pk.name.as_ref())
                            .map(|i| i.value.clone());
                        keys.push((
                            cname,
                            IndexKind::PrimaryKey,
                            clustered,
                            vec![(c.name.value.clone(), false)],
                        ));
                    }
                    ColumnOption::Unique(u) => {
                        if !u.columns.is_empty()
                            || !u.include.is_empty()
                            || !u.index_options.is_empty()
                            || u.characteristics.is_some()
                            || u.index_type.is_some()
                        {
                            return Err(errors::syntax("UNIQUE"));
                        }
                        let clustered = clustered_word(u.index_name.as_ref())?;
                        let cname = opt
                            .name
                            .as_ref()
                            .or(u.name.as_ref())
                            .map(|i| i.value.clone());
                        keys.push((
                            cname,
                            IndexKind::UniqueConstraint,
                            clustered,
                            vec![(c.name.value.clone(), false)],
                        ));
                    }
                    ColumnOption::Collation(_) => {}
                    ColumnOption::Identity(_) => return Err(errors::syntax("IDENTITY")),
                    other => {
                        return Err(errors::syntax(
                            other.to_string().split_whitespace().next().unwrap_or(""),
                        ))
                    }
                }
            }
            let info = ColumnInfo {
                name: c.name.value.clone(),
                decl,
                nullable: nullable.unwrap_or(true),
            };
            explicit_null.push(nullable == Some(true));
            let default = match default {
                Some(d) => Some(self.default_sql(&d, decl)?),
                None => None,
            };
            col_defaults.push(default);
            columns.push(info);
        }
        for tc in &ct.constraints {
            match tc {
                TableConstraint::PrimaryKey(pk) => {
                    if !pk.include.is_empty()
                        || !pk.index_options.is_empty()
                        || pk.characteristics.is_some()
                        || pk.index_type.is_some()
                    {
                        return Err(errors::syntax("PRIMARY"));
                    }
                    let clustered = clustered_word(pk.index_name.as_ref())?;
                    keys.push((
                        pk.name.as_ref().map(|i| i.value.clone()),
                        IndexKind::PrimaryKey,
                        clustered,
                        index_columns(&pk.columns)?,
                    ));
                }
                TableConstraint::Unique(u) => {
                    if !u.include.is_empty()
                        || !u.index_options.is_empty()
                        || u.characteristics.is_some()
                        || u.index_type.is_some()
                    {
                        return Err(errors::syntax("UNIQUE"));
                    }
                    let clustered = clustered_word(u.index_name.as_ref())?;
                    keys.push((
                        u.name.as_ref().map(|i| i.value.clone()),
                        IndexKind::UniqueConstraint,
                        clustered,
                        index_columns(&u.columns)?,
                    ));
                }
                other => {
                    return Err(errors::syntax(
                        other
                            .to_string()
                            .split_whitespace()
                            .nth(2)
                            .unwrap_or("CONSTRAINT"),
                    ))
                }
            }
        }
        if keys.iter().filter(|k| k.1 == IndexKind::PrimaryKey).count() > 1 {
            return Err(errors::other(
                8110,
                16,
                0,
                format!("Cannot add multiple PRIMARY KEY constraints to table '{name}'."),
            ));
        }
        let mut indexes = Vec::new();
        let mut any_clustered = keys.iter().any(|k| k.2 == Some(true));
        if keys.iter().filter(|k| k.2 == Some(true)).count() > 1 {
            return Err(errors::other(
                8112,
                16,
                0,
                format!(
                    "Cannot add more than one clustered index for constraints on table '{name}'."
                ),
            ));
        }
        let mut ddl_after = Vec::new();
        for (cname, kind, clustered, cols) in keys {
            let clustered = match clustered {
                Some(c) => c,
                None if kind == IndexKind::PrimaryKey && !any_clustered => {
                    any_clustered = true;
                    true
                }
                None => false,
            };
            let mut positions = Vec::new();
            for (cn, desc) in &cols {
                let idx = columns
                    .iter()
                    .position(|c| c.name.to_lowercase() == cn.to_lowercase())
                    .ok_or_else(|| {
                        errors::other(
                            1911,
                            16,
                            1,
                            format!(
                                "Column name '{cn}' does not exist in the target table or view."
                            ),
                        )
                    })?;
                if kind == IndexKind::PrimaryKey {
                    if explicit_null[idx] {
                        return Err(errors::other(
                            8111,
                            16,
                            1,
                            format!("Cannot define PRIMARY KEY constraint on nullable column in table '{name}'."),
                        ));
                    }
                    columns[idx].nullable = false;
                }
                positions.push((idx, *desc));
            }
            let prefix = if kind == IndexKind::PrimaryKey {
                "PK"
            } else {
                "UQ"
            };
            let cname = cname.unwrap_or_else(|| {
                let short: String = name.chars().take(8).collect();
                format!(
                    "{prefix}__{short}__{:016X}",
                    (super::catalog::object_id_of(&schema, &format!("{prefix}{name}")) as u64)
                        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                )
            });
            if indexes
                .iter()
                .any(|i: &IndexInfo| i.name.to_lowercase() == cname.to_lowercase())
                || self.env.catalog.object_exists(&schema, &cname)
            {
                return Err(errors::already_exists(&cname));
            }
            let iname = IndexInfo::sqlite_name(&sqlite, kind, true, clustered, &cname);
            let key_sql = positions
                .iter()
                .map(|(i, desc)| {
                    format!(
                        "{}{}",
                        qi(&columns[*i].name),
                        if *desc { " DESC" } else { "" }
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            ddl_after.push(format!(
                "CREATE UNIQUE INDEX {} ON {} ({key_sql})",
                qi(&iname),
                qi(&sqlite)
            ));
            indexes.push(IndexInfo {
                name: cname,
                kind,
                unique: true,
                clustered,
                columns: positions,
                index_id: 0,
            });
        }
        // Written after the keys, which make their columns NOT NULL.
        let col_sql: Vec<String> = columns
            .iter()
            .zip(col_defaults.iter())
            .map(|(c, d)| {
                let mut s = format!("{} {}", qi(&c.name), c.decl.ddl());
                if !c.nullable {
                    s.push_str(" NOT NULL");
                }
                if let Some(coll) = c.decl.collation() {
                    s.push_str(&format!(" COLLATE {coll}"));
                }
                if let Some(d) = d {
                    s.push_str(&format!(" DEFAULT {d}"));
                }
                s
            })
            .collect();
        let mut ddl = vec![format!(
            "CREATE TABLE {} ({})",
            qi(&sqlite),
            col_sql.join(", ")
        )];
        ddl.extend(ddl_after);
        let mut table = TableInfo {
            schema: schema.clone(),
            name: name.clone(),
            sqlite: sqlite.clone(),
            object_id: super::catalog::object_id_of(&schema, &name),
            columns,
            indexes,
            created: self.env.now_utc,
        };
        table.number_indexes();
        Ok(TablePlan { table, ddl })
    }

    /// A column DEFAULT as a SQLite default clause.
    fn default_sql(&mut self, e: &Expr, decl: DeclType) -> Result<String, SqlError> {
        let mut e = e;
        while let Expr::Nested(inner) = e {
            e = inner;
        }
        let spec = quote_str(&decl.spec());
        if let Expr::Function(f) = e {
            let fname = f.name.to_string().to_lowercase();
            let no_args = match &f.args {
                FunctionArguments::None => true,
                FunctionArguments::List(l) => l.args.is_empty(),
                _ => false,
            };
            if no_args {
                let (src, expr) = match fname.as_str() {
                    "newid" | "newsequentialid" => ("uniqueidentifier", "sbx_newid()"),
                    "getdate" | "sysdatetime" | "current_timestamp" => {
                        ("datetime2", "sbx_now('local')")
                    }
                    "getutcdate" | "sysutcdatetime" => ("datetime2", "sbx_now('utc')"),
                    _ => return Err(errors::syntax(&fname)),
                };
                return Ok(format!("(sbx_cast({expr}, {spec}, '{src}'))"));
            }
            return Err(errors::syntax(&fname));
        }
        let mut t = Tr::new(self.env);
        t.scopes.push(Vec::new());
        let v = t.expr(e)?;
        let Some(k) = v.konst else {
            return Err(refuse_expr(e));
        };
        let stored = datatype::to_storage(&k);
        let converted = datatype::convert(
            (&stored).into(),
            decl,
            v.ty.type_name(),
            None,
            &datatype::Mode::Cast,
        )?;
        let value = datatype::from_storage((&converted).into(), decl.ty);
        Ok(match converted {
            SqlVal::Null => "NULL".into(),
            SqlVal::Integer(i) => i.to_string(),
            SqlVal::Real(f) => format!("{f:?}"),
            SqlVal::Text(s) => quote_str(&s),
            SqlVal::Blob(_) => datatype::literal(&value),
        })
    }

    fn create_index(&mut self, ci: &CreateIndex) -> Result<IndexPlan, SqlError> {
        let CreateIndex {
            name,
            table_name,
            using,
            columns,
            unique,
            concurrently,
            r#async,
            if_not_exists,
            include: _,
            nulls_distinct,
            with,
            predicate,
            index_options,
            alter_options,
        } = ci;
        if *concurrently
            || *r#async
            || *if_not_exists
            || nulls_distinct.is_some()
            || !with.is_empty()
            || !index_options.is_empty()
            || !alter_options.is_empty()
        {
            return Err(errors::syntax("INDEX"));
        }
        if predicate.is_some() {
            return Err(errors::syntax("WHERE"));
        }
        let clustered = match using {
            None => false,
            Some(IndexType::Custom(i)) if i.value == CLUSTERED => true,
            Some(IndexType::Custom(i)) if i.value == NONCLUSTERED => false,
            Some(_) => return Err(errors::syntax("USING")),
        };
        let Some(name) = name else {
            return Err(errors::syntax("ON"));
        };
        let iname = name_parts(name)?;
        if iname.len() != 1 {
            return Err(errors::syntax(&name.to_string()));
        }
        let iname = iname[0].clone();
        let t = self.user_table(table_name)?;
        let mut positions = Vec::new();
        for c in columns {
            let (cname, desc) = match &c.column.expr {
                Expr::Identifier(i) => (
                    i.value.clone(),
                    c.column.options.sort == Some(ast::OrderBySort::Desc),
                ),
                other => return Err(refuse_expr(other)),
            };
            let idx = t.column(&cname).ok_or_else(|| {
                errors::other(
                    1911,
                    16,
                    1,
                    format!("Column name '{cname}' does not exist in the target table or view."),
                )
            })?;
            positions.push((idx, desc));
        }
        let sqlite =
            IndexInfo::sqlite_name(&t.sqlite, IndexKind::Index, *unique, clustered, &iname);
        let key_sql = positions
            .iter()
            .map(|(i, desc)| {
                format!(
                    "{}{}",
                    qi(&t.columns[*i].name),
                    if *desc { " DESC" } else { "" }
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let ddl = format!(
            "CREATE {}INDEX {} ON {} ({key_sql})",
            if *unique { "UNIQUE " } else { "" },
            qi(&sqlite),
            qi(&t.sqlite)
        );
        let index = IndexInfo {
            name: iname,
            kind: IndexKind::Index,
            unique: *unique,
            clustered,
            columns: positions,
            index_id: 0,
        };
        Ok(IndexPlan {
            table: t,
            index,
            ddl,
        })
    }
}

/// A PRIMARY KEY or UNIQUE constraint of CREATE TABLE: (name, kind,
/// CLUSTERED/NONCLUSTERED if written, (column, descending)).
type KeyDef = (Option<String>, IndexKind, Option<bool>, Vec<(String, bool)>);

fn clustered_word(i: Option<&Ident>) -> Result<Option<bool>, SqlError> {
    match i.map(|i| i.value.to_uppercase()) {
        None => Ok(None),
        Some(s) if s == CLUSTERED => Ok(Some(true)),
        Some(s) if s == NONCLUSTERED => Ok(Some(false)),
        Some(s) => Err(errors::syntax(&s)),
    }
}

fn index_columns(cols: &[ast::IndexColumn]) -> Result<Vec<(String, bool)>, SqlError> {
    cols.iter()
        .map(|c| match (&c.column.expr, &c.operator_class) {
            (Expr::Identifier(i), None) => Ok((
                i.value.clone(),
                c.column.options.sort == Some(ast::OrderBySort::Desc),
            )),
            (other, _) => Err(refuse_expr(other)),
        })
        .collect()
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

fn collation_for(ty: SqlType) -> Option<&'static str> {
    match family(ty) {
        Family::Text => Some("CI"),
        Family::Guid => Some("GUID"),
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

/// `@@VERSION`.
pub(crate) fn version_string(server: &str) -> String {
    format!(
        "Microsoft SQL Server 2022 (RTM) - 16.0.1000.6 (X64) \n\tOct  8 2022 05:58:25 \n\tCopyright (C) 2022 Microsoft Corporation\n\tDeveloper Edition (64-bit) on rgs-sandbox {server} (SQLite {})\n",
        rusqlite::version()
    )
}

/// `SERVERPROPERTY(prop)`.
pub(crate) fn server_property(server: &str, prop: &str) -> Option<Value> {
    let t = |s: &str| Some(Value::Text(s.to_string()));
    match prop.to_lowercase().as_str() {
        "servername" | "machinename" | "computernamephysicalnetbios" => t(server),
        "instancename" => None,
        "productversion" => t("16.0.1000.6"),
        "productlevel" => t("RTM"),
        "productmajorversion" => t("16"),
        "edition" => t("Developer Edition (64-bit)"),
        "engineedition" => Some(Value::Int(3)),
        "collation" => t("SQL_Latin1_General_CP1_CI_AS"),
        "isintegratedsecurityonly" | "isclustered" | "ishadrenabled" => Some(Value::Int(0)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::catalog::{object_id_of, SchemaInfo};
    use crate::engine::parse::parse_batch;

    fn table(schema: &str, name: &str, cols: &[(&str, SqlType, bool)], pk: &[usize]) -> TableInfo {
        let mut t = TableInfo {
            schema: schema.into(),
            name: name.into(),
            sqlite: format!("{schema}.{name}"),
            object_id: object_id_of(schema, name),
            columns: cols
                .iter()
                .map(|(n, ty, nullable)| ColumnInfo {
                    name: n.to_string(),
                    decl: DeclType::new(*ty),
                    nullable: *nullable,
                })
                .collect(),
            indexes: Vec::new(),
            created: chrono::NaiveDateTime::default(),
        };
        if !pk.is_empty() {
            t.indexes.push(IndexInfo {
                name: format!("PK_{name}"),
                kind: IndexKind::PrimaryKey,
                unique: true,
                clustered: true,
                columns: pk.iter().map(|i| (*i, false)).collect(),
                index_id: 1,
            });
        }
        t
    }

    fn catalog() -> Catalog {
        Catalog {
            schemas: vec![
                SchemaInfo {
                    id: 1,
                    name: "dbo".into(),
                },
                SchemaInfo {
                    id: 4,
                    name: "sys".into(),
                },
            ],
            tables: vec![
                table(
                    "dbo",
                    "Queues",
                    &[
                        ("ID", SqlType::UniqueIdentifier, false),
                        ("Name", SqlType::NVarChar(Some(256)), false),
                        ("OwnerPoolId", SqlType::UniqueIdentifier, true),
                        ("N", SqlType::Int, true),
                    ],
                    &[0],
                ),
                table(
                    "dbo",
                    "OwnerPool",
                    &[
                        ("ID", SqlType::UniqueIdentifier, false),
                        ("Fqdn", SqlType::NVarChar(Some(256)), false),
                    ],
                    &[0],
                ),
                table(
                    "dbo",
                    "we]ird; name",
                    &[
                        ("a\"b", SqlType::BigInt, true),
                        ("Größe", SqlType::NVarChar(None), true),
                    ],
                    &[],
                ),
            ],
        }
    }

    fn translate(sql: &str, params: &[Param]) -> Result<Action, SqlError> {
        let cat = catalog();
        let vars = HashMap::new();
        let dbs = vec![DbSummary {
            name: "rgsconfig".into(),
            id: 5,
            read_only: false,
        }];
        let env = Env {
            catalog: &cat,
            db_name: "rgsconfig",
            db_id: 5,
            databases: &dbs,
            server_name: "SRV",
            spid: 51,
            login: "sa",
            trancount: 2,
            rowcount: 0,
            last_error: 0,
            lock_timeout: -1,
            params,
            vars: &vars,
            now_utc: chrono::NaiveDateTime::default(),
            now_local: chrono::NaiveDateTime::default(),
        };
        let stmts = parse_batch(sql)?;
        assert_eq!(stmts.len(), 1, "{sql}");
        plan(&env, &stmts[0].0)
    }

    fn query(sql: &str) -> QueryPlan {
        query_with(sql, &[])
    }

    fn query_with(sql: &str, params: &[Param]) -> QueryPlan {
        match translate(sql, params) {
            Ok(Action::Query(p)) => p,
            other => panic!("{sql}: {other:?}"),
        }
    }

    fn types(p: &QueryPlan) -> Vec<SqlType> {
        p.columns.iter().map(|c| c.ty).collect()
    }

    fn refused(sql: &str) -> SqlError {
        match translate(sql, &[]) {
            Err(e) => e,
            Ok(a) => panic!("{sql} was accepted: {a:?}"),
        }
    }

    #[test]
    fn bracketed_names_are_requoted_for_sqlite() {
        let p = query("SELECT [a\"b], t.[Größe] AS [x]]; y] FROM [dbo].[we]]ird; name] AS t");
        assert_eq!(p.sql.text, "SELECT \"t1\".\"a\"\"b\" AS \"c1\", \"t1\".\"Größe\" AS \"c2\" FROM \"dbo.we]ird; name\" AS \"t1\"");
        assert_eq!(p.columns[1].name, "x]; y");
        assert_eq!(types(&p), [SqlType::BigInt, SqlType::NVarChar(None)]);
        // Case-insensitive names, one-, two- and three-part.
        let p = query("SELECT queues.name FROM RGSCONFIG.DBO.QUEUES");
        assert!(
            p.sql.text.contains("FROM \"dbo.Queues\" AS \"t1\""),
            "{}",
            p.sql.text
        );
        assert_eq!(p.columns[0].name, "name");
    }

    #[test]
    fn literals_parameters_and_top() {
        let g = uuid::Uuid::parse_str("6f9619ff-8b86-d011-b42d-00c04fc964ff").unwrap();
        let params = [
            Param {
                name: "@P1".into(),
                ty: SqlType::UniqueIdentifier,
                value: Value::Guid(g),
            },
            Param {
                name: "@P2".into(),
                ty: SqlType::Int,
                value: Value::Int(3),
            },
        ];
        let p = query_with("SELECT TOP (@P2) N'it''s' AS s, 5 AS i, 5000000000 AS b, 1.5 AS f FROM dbo.Queues WHERE ID = @P1", &params);
        assert_eq!(
            types(&p),
            [
                SqlType::NVarChar(Some(4)),
                SqlType::Int,
                SqlType::BigInt,
                SqlType::Float
            ]
        );
        assert!(
            p.sql
                .text
                .starts_with("SELECT 'it''s' AS \"c1\", 5 AS \"c2\""),
            "{}",
            p.sql.text
        );
        assert!(
            p.sql
                .text
                .contains("WHERE (\"t1\".\"ID\") COLLATE GUID = ?2 LIMIT ?1"),
            "{}",
            p.sql.text
        );
        assert_eq!(
            p.sql.binds,
            vec![
                SqlVal::Integer(3),
                SqlVal::Text("6F9619FF-8B86-D011-B42D-00C04FC964FF".into())
            ]
        );
        let p = query("SELECT TOP 5 Name FROM dbo.Queues ORDER BY Name DESC");
        assert!(
            p.sql.text.ends_with(" ORDER BY 1 DESC LIMIT 5"),
            "{}",
            p.sql.text
        );
        // A GUID compared with text converts the text (error 8169 if bad).
        let p = query(
            "SELECT 1 FROM dbo.Queues WHERE OwnerPoolId = '6f9619ff-8b86-d011-b42d-00c04fc964ff'",
        );
        assert!(
            p.sql.text.contains(
                "sbx_cast('6f9619ff-8b86-d011-b42d-00c04fc964ff', 'uniqueidentifier', 'varchar')"
            ),
            "{}",
            p.sql.text
        );
    }

    #[test]
    fn table_hints_decide_locking() {
        assert!(query("SELECT ID FROM dbo.Queues WITH (UPDLOCK, HOLDLOCK)").lock);
        assert!(query("SELECT ID FROM dbo.Queues WITH (XLOCK, ROWLOCK)").lock);
        let p = query("SELECT ID FROM dbo.Queues WITH (NOLOCK)");
        assert!(!p.lock && !p.nowait);
        assert!(query("SELECT ID FROM dbo.Queues WITH (UPDLOCK, NOWAIT)").nowait);
        assert_eq!(
            refused("SELECT ID FROM dbo.Queues WITH (READPAST)").number,
            102
        );
    }

    #[test]
    fn predicates_joins_and_subqueries() {
        let p = query(
            "SELECT q.ID, p.Fqdn FROM dbo.Queues q LEFT JOIN dbo.OwnerPool AS p ON p.ID = q.OwnerPoolId
             WHERE q.OwnerPoolId IS NULL OR NOT EXISTS (SELECT 1 FROM dbo.OwnerPool p2 WHERE p2.ID = q.OwnerPoolId)
               AND q.N IN (1, 2) AND q.Name LIKE N'a%' AND q.N BETWEEN 1 AND 5",
        );
        let sql = &p.sql.text;
        assert!(sql.contains("LEFT JOIN \"dbo.OwnerPool\" AS \"t2\" ON (\"t2\".\"ID\") COLLATE GUID = \"t1\".\"OwnerPoolId\""), "{sql}");
        assert!(
            sql.contains("NOT EXISTS (SELECT 1 AS \"c1\" FROM \"dbo.OwnerPool\" AS \"t3\""),
            "{sql}"
        );
        assert!(sql.contains("\"t1\".\"N\" IN (1, 2)"), "{sql}");
        assert!(sql.contains("sbx_like(\"t1\".\"Name\", 'a%') = 1"), "{sql}");
        // LEFT JOIN makes the right side nullable.
        assert!(p.columns[1].nullable);
        let p = query("SELECT CASE WHEN N > 1 THEN N'big' ELSE NULL END AS c, COUNT(*) AS n, COUNT_BIG(*) AS nb, SUM(N) AS s FROM dbo.Queues GROUP BY N");
        assert_eq!(
            types(&p),
            [
                SqlType::NVarChar(Some(3)),
                SqlType::Int,
                SqlType::BigInt,
                SqlType::Int
            ]
        );
        let p = query("SELECT NULL AS n, CAST(NULL AS uniqueidentifier) AS g, CONVERT(nvarchar(10), N) AS t, ISNULL(N, 0) AS z FROM dbo.Queues");
        assert_eq!(
            types(&p),
            [
                SqlType::Int,
                SqlType::UniqueIdentifier,
                SqlType::NVarChar(Some(10)),
                SqlType::Int
            ]
        );
        assert!(!p.columns[3].nullable);
    }

    #[test]
    fn system_functions_are_typed_like_sql_server() {
        let p = query(
            "SELECT @@TRANCOUNT, @@SPID, DB_NAME(), HAS_PERMS_BY_NAME(N'dbo.Queues', N'OBJECT', N'UPDATE'), NEWID(),
                    SYSUTCDATETIME(), GETUTCDATE(), SERVERPROPERTY('EngineEdition'), OBJECT_ID(N'dbo.Queues'), LEN(N'ab ')",
        );
        assert_eq!(
            types(&p),
            [
                SqlType::Int,
                SqlType::SmallInt,
                SqlType::NVarChar(Some(128)),
                SqlType::Int,
                SqlType::UniqueIdentifier,
                SqlType::DateTime2,
                SqlType::DateTime,
                SqlType::Int,
                SqlType::Int,
                SqlType::Int
            ]
        );
        assert_eq!(p.sql.binds[0], SqlVal::Integer(2));
    }

    #[test]
    fn dml_converts_values_to_column_types() {
        let Action::Dml(p) = translate("INSERT INTO dbo.Queues (ID, Name) VALUES (NEWID(), N'a'), ('6f9619ff-8b86-d011-b42d-00c04fc964ff', N'b')", &[]).unwrap() else {
            panic!()
        };
        assert!(
            p.sql.text.starts_with(
                "WITH \"sbx_src\"(\"c1\", \"c2\") AS (VALUES (sbx_newid(), 'a'), ('6f9619ff"
            ),
            "{}",
            p.sql.text
        );
        assert!(p.sql.text.contains("INSERT INTO \"dbo.Queues\" (\"ID\", \"Name\") SELECT sbx_assign(\"sbx_src\".\"c1\", 'uniqueidentifier', 'uniqueidentifier', 'rgsconfig.dbo.Queues', 'ID')"), "{}", p.sql.text);
        let Action::Dml(p) = translate("UPDATE [dbo].[Queues] SET [OwnerPoolId] = NULL WHERE [OwnerPoolId] = @P1 AND ([ID] = @P2)", &[
            Param { name: "@P1".into(), ty: SqlType::UniqueIdentifier, value: Value::Null },
            Param { name: "@P2".into(), ty: SqlType::UniqueIdentifier, value: Value::Null },
        ])
        .unwrap() else {
            panic!()
        };
        assert!(
            p.sql
                .text
                .starts_with("UPDATE \"dbo.Queues\" AS \"t1\" SET \"OwnerPoolId\" = NULL WHERE"),
            "{}",
            p.sql.text
        );
        let Action::Dml(p) = translate("DELETE dbo.Queues WHERE N = 1", &[]).unwrap() else {
            panic!()
        };
        assert_eq!(
            p.sql.text,
            "DELETE FROM \"dbo.Queues\" AS \"t1\" WHERE \"t1\".\"N\" = 1"
        );
    }

    #[test]
    fn ddl_keeps_types_and_constraint_names() {
        let Action::CreateTable(t) = translate(
            "CREATE TABLE [dbo].[X] ([ID] uniqueidentifier NOT NULL DEFAULT NEWID(), [Name] nvarchar(max) NULL, [Flag] bit NOT NULL DEFAULT ((0)),
             CONSTRAINT [PK_X] PRIMARY KEY ([ID]), CONSTRAINT UQ_X UNIQUE ([Flag]))",
            &[],
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(
            t.ddl,
            vec![
                "CREATE TABLE \"dbo.X\" (\"ID\" uniqueidentifier NOT NULL COLLATE GUID DEFAULT (sbx_cast(sbx_newid(), 'uniqueidentifier', 'uniqueidentifier')), \"Name\" nvarchar(-1) COLLATE CI, \"Flag\" bit NOT NULL DEFAULT 0)",
                "CREATE UNIQUE INDEX \"dbo.X|PK|C|PK_X\" ON \"dbo.X\" (\"ID\")",
                "CREATE UNIQUE INDEX \"dbo.X|UQ|N|UQ_X\" ON \"dbo.X\" (\"Flag\")",
            ]
        );
        let Action::CreateIndex(i) = translate(
            "CREATE NONCLUSTERED INDEX IX_Q ON dbo.Queues (OwnerPoolId DESC) INCLUDE (Name)",
            &[],
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(
            i.ddl,
            "CREATE INDEX \"dbo.Queues|IX|N|IX_Q\" ON \"dbo.Queues\" (\"OwnerPoolId\" DESC)"
        );
        assert_eq!(
            refused("CREATE TABLE dbo.Y (A int) WITH (DATA_COMPRESSION = PAGE)").number,
            102
        );
        assert_eq!(
            refused("CREATE TABLE dbo.Y (A int NULL PRIMARY KEY)").number,
            8111
        );
        assert_eq!(
            refused("CREATE TABLE dbo.Y (A int, B int REFERENCES dbo.X (ID))").number,
            102
        );
        assert_eq!(
            refused("CREATE TABLE dbo.Y (A int CHECK (A > 0))").number,
            102
        );
    }

    #[test]
    fn transactions_and_options() {
        assert!(matches!(
            translate("BEGIN TRANSACTION", &[]),
            Ok(Action::Begin)
        ));
        assert!(matches!(translate("COMMIT TRAN", &[]), Ok(Action::Commit)));
        assert!(matches!(translate("ROLLBACK", &[]), Ok(Action::Rollback)));
        assert!(matches!(
            translate("SET LOCK_TIMEOUT 200", &[]),
            Ok(Action::Set(SetOption::LockTimeout(200)))
        ));
        assert!(matches!(
            translate("SET XACT_ABORT ON", &[]),
            Ok(Action::Set(SetOption::XactAbort(true)))
        ));
        assert!(matches!(
            translate("SET NOCOUNT OFF", &[]),
            Ok(Action::Set(SetOption::NoCount(false)))
        ));
        assert!(matches!(
            translate("IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION", &[]),
            Ok(Action::If { .. })
        ));
        assert!(
            matches!(translate("WAITFOR DELAY '00:00:01.5'", &[]), Ok(Action::WaitFor(d)) if d == Duration::from_millis(1500))
        );
        assert_eq!(refused("SET ANSI_NULLS OFF").number, 102);
        assert!(matches!(
            translate("SET ANSI_NULLS, QUOTED_IDENTIFIER ON", &[]),
            Ok(Action::Set(SetOption::Ignored))
        ));
        assert!(matches!(
            translate("SET TEXTSIZE 2147483647", &[]),
            Ok(Action::Set(SetOption::Ignored))
        ));
        assert_eq!(refused("SET IMPLICIT_TRANSACTIONS ON").number, 102);
        assert_eq!(
            refused("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE").number,
            102
        );
    }

    #[test]
    fn refusals() {
        for (sql, number) in [
            ("MERGE dbo.Queues AS t USING dbo.OwnerPool AS s ON t.ID = s.ID WHEN MATCHED THEN DELETE", 102),
            ("EXEC xp_cmdshell 'x'", 102),
            ("EXECUTE sp_who", 102),
            ("WAITFOR TIME '10:00'", 102),
            ("SELECT * FROM dbo.Queues CROSS APPLY dbo.OwnerPool", 102),
            ("SELECT ID FROM dbo.Queues FOR JSON AUTO", 102),
            ("SELECT RANK() OVER (ORDER BY ID) FROM dbo.Queues", 102),
            ("INSERT INTO dbo.Queues OUTPUT inserted.ID VALUES (NEWID(), N'x', NULL, 1)", 102),
            ("SELECT TOP 10 PERCENT ID FROM dbo.Queues", 102),
            ("SELECT 1 = 1", 102),
            ("SELECT ID FROM dbo.Queues WHERE N", 4145),
            ("SELECT * FROM dbo.Nope", 208),
            ("SELECT * FROM sys.nope", 208),
            ("SELECT Nope FROM dbo.Queues", 207),
            ("UPDATE dbo.Queues SET Nope = 1", 207),
            ("INSERT INTO dbo.Queues (ID) VALUES (1, 2)", 110),
            ("INSERT INTO sys.tables (name) VALUES (N'x')", 259),
            ("SELECT DATEADD(day, 1, GETDATE())", 195),
            ("SELECT dbo.fn(1)", 4121),
            ("DROP VIEW dbo.V", 102),
            ("GRANT SELECT ON dbo.Queues TO public", 102),
            ("SELECT @@IDENTITY", 137),
        ] {
            assert_eq!(refused(sql).number, number, "{sql}: {:?}", refused(sql));
        }
        assert_eq!(parse_batch("SELEC 1").unwrap_err().number, 102);
        assert_eq!(parse_batch("SELECT 1 +").unwrap_err().number, 102);
    }
}
