//! Built-in functions, by family: aggregates, NULL handling, strings, dates,
//! metadata and server properties.

use super::{is_string, name_parts, refuse_expr, string_result, Tr, Typed};
use crate::engine::errors;
use crate::engine::version::ProductVersion;
use crate::types::{SqlError, SqlType, Value};
use sqlparser::ast::{self, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments};

/// A function call's name and arguments, checked for the shapes the
/// sandbox supports.
pub(super) struct Call<'q> {
    /// The name as written (for messages).
    pub(super) fname: String,
    /// The name, lowercase (for dispatch).
    pub(super) lname: String,
    pub(super) exprs: Vec<&'q Expr>,
    /// `COUNT(DISTINCT x)`...
    pub(super) distinct: bool,
    /// `COUNT(*)`.
    star: bool,
    /// `CURRENT_TIMESTAMP`, `USER`...: no argument list at all.
    no_parens: bool,
}

impl<'q> Call<'q> {
    /// The call's name and arguments; OVER, FILTER, WITHIN GROUP, ODBC
    /// escapes and multi-part names are refused as SQL Server does.
    fn parse(f: &'q Function) -> Result<Call<'q>, SqlError> {
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
        let mut call = Call {
            lname: fname.to_lowercase(),
            fname,
            exprs: Vec::new(),
            distinct: false,
            star: false,
            no_parens: matches!(args, FunctionArguments::None),
        };
        call.arguments(args)?;
        call.check_shape()?;
        Ok(call)
    }

    fn arguments(&mut self, args: &'q FunctionArguments) -> Result<(), SqlError> {
        match args {
            FunctionArguments::None => {}
            FunctionArguments::Subquery(_) => return Err(errors::syntax(&self.fname)),
            FunctionArguments::List(list) => {
                if !list.clauses.is_empty() {
                    return Err(errors::syntax(&self.fname));
                }
                match list.duplicate_treatment {
                    Some(ast::DuplicateTreatment::Distinct) => self.distinct = true,
                    Some(ast::DuplicateTreatment::All) | None => {}
                }
                for a in &list.args {
                    match a {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => self.exprs.push(e),
                        FunctionArg::Unnamed(FunctionArgExpr::Wildcard) => self.star = true,
                        _ => return Err(errors::syntax(&self.fname)),
                    }
                }
            }
        }
        Ok(())
    }

    /// Parentheses, DISTINCT and `*` only where SQL Server takes them.
    fn check_shape(&self) -> Result<(), SqlError> {
        let lname = self.lname.as_str();
        if self.no_parens
            && !matches!(
                lname,
                "current_timestamp" | "current_user" | "system_user" | "session_user" | "user"
            )
        {
            return Err(errors::syntax(&self.fname));
        }
        if self.distinct
            && !matches!(
                lname,
                "count" | "count_big" | "sum" | "avg" | "min" | "max" | "checksum_agg"
            )
        {
            return Err(errors::syntax("DISTINCT"));
        }
        if self.star && !matches!(lname, "count" | "count_big") {
            return Err(errors::syntax("*"));
        }
        Ok(())
    }

    pub(super) fn n(&self) -> usize {
        self.exprs.len()
    }

    /// Exactly `k` arguments (error 174 otherwise).
    pub(super) fn need(&self, k: usize) -> Result<(), SqlError> {
        if self.n() == k {
            Ok(())
        } else {
            Err(errors::arg_count(&self.fname, k))
        }
    }

    /// `lo` to `hi` arguments (error 189 otherwise).
    fn range(&self, lo: usize, hi: usize) -> Result<(), SqlError> {
        if (lo..=hi).contains(&self.n()) {
            Ok(())
        } else {
            Err(errors::other(
                189,
                15,
                1,
                format!(
                    "The {} function requires {lo} to {hi} arguments.",
                    self.fname
                ),
            ))
        }
    }

    pub(super) fn d(&self) -> &'static str {
        if self.distinct {
            "DISTINCT "
        } else {
            ""
        }
    }
}

impl Tr<'_, '_> {
    /// A built-in function call, dispatched by family.
    pub(super) fn function(&mut self, f: &Function) -> Result<Typed, SqlError> {
        let c = Call::parse(f)?;
        if let Some(e) = self.env.version.missing_function(&c.lname, &c.fname) {
            return Err(e);
        }
        match c.lname.as_str() {
            "count" | "count_big" | "sum" | "avg" | "min" | "max" => self.aggregate(&c),
            "binary_checksum" | "checksum_agg" => self.checksum_function(&c),
            "isnull" | "coalesce" | "nullif" | "iif" => self.null_function(&c),
            "len" | "upper" | "lower" | "ltrim" | "rtrim" | "left" | "right" | "substring" => {
                self.string_function(&c)
            }
            "replace" | "charindex" | "concat" => self.string_combine(&c),
            "abs" | "newid" | "sysutcdatetime" | "sysdatetime" | "getutcdate" | "getdate"
            | "current_timestamp" => self.clock_function(&c),
            "db_name" | "db_id" | "schema_name" | "schema_id" => self.id_function(&c),
            "object_id" | "object_name" | "has_perms_by_name" | "quotename" => {
                self.object_function(&c)
            }
            "serverproperty" | "databasepropertyex" => self.property_function(&c),
            "suser_sname" | "suser_name" | "original_login" | "system_user" | "session_user"
            | "user_name" | "current_user" | "user" | "is_srvrolemember" | "is_member"
            | "is_rolemember" | "xact_state" => self.session_function(&c),
            _ => Err(errors::unknown_function(&c.fname)),
        }
    }

    /// COUNT, COUNT_BIG, SUM, AVG, MIN and MAX.
    fn aggregate(&mut self, c: &Call<'_>) -> Result<Typed, SqlError> {
        let lname = c.lname.as_str();
        let d = c.d();
        match c.lname.as_str() {
            "count" | "count_big" => {
                let ty = if c.lname == "count" {
                    SqlType::Int
                } else {
                    SqlType::BigInt
                };
                if c.star {
                    if c.n() != 0 || c.distinct {
                        return Err(errors::syntax("*"));
                    }
                    return Ok(Typed::new("count(*)", ty, false));
                }
                c.need(1)?;
                let v = self.expr(c.exprs[0])?;
                Ok(Typed::new(format!("count({d}{})", v.sql), ty, false))
            }
            "sum" | "avg" => {
                c.need(1)?;
                let v = self.expr(c.exprs[0])?;
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
                let sql = if c.lname == "avg" && ty != SqlType::Float {
                    format!("CAST(avg({d}{}) AS INTEGER)", v.sql)
                } else {
                    format!("{lname}({d}{})", v.sql)
                };
                Ok(Typed::new(sql, ty, true))
            }
            "min" | "max" => {
                c.need(1)?;
                let v = self.expr(c.exprs[0])?;
                Ok(Typed::new(format!("{lname}({d}{})", v.sql), v.ty, true))
            }
            _ => Err(errors::unknown_function(&c.fname)),
        }
    }

    /// ISNULL, COALESCE, NULLIF and IIF: the result type is the arguments' common one.
    fn null_function(&mut self, c: &Call<'_>) -> Result<Typed, SqlError> {
        match c.lname.as_str() {
            "isnull" => {
                c.need(2)?;
                let a = self.expr(c.exprs[0])?;
                let b = self.expr(c.exprs[1])?;
                let ty = if a.null_lit { b.ty } else { a.ty };
                let bs = self.conv_to(&b, ty);
                Ok(Typed::new(
                    format!("ifnull({}, {bs})", a.sql),
                    ty,
                    a.nullable && b.nullable,
                ))
            }
            "coalesce" => {
                if c.n() < 2 {
                    return Err(errors::other(
                        189,
                        15,
                        1,
                        "The coalesce function requires 2 to n arguments.",
                    ));
                }
                let vals = c
                    .exprs
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
                c.need(2)?;
                let a = self.expr(c.exprs[0])?;
                let b = self.expr(c.exprs[1])?;
                let bs = self.conv_to(&b, a.ty);
                Ok(Typed::new(format!("nullif({}, {bs})", a.sql), a.ty, true))
            }
            "iif" => {
                c.need(3)?;
                let cond = self.pred(c.exprs[0])?;
                let a = self.expr(c.exprs[1])?;
                let b = self.expr(c.exprs[2])?;
                let ty = Self::common_type(&[&a, &b]);
                let (as_, bs) = (self.conv_to(&a, ty), self.conv_to(&b, ty));
                Ok(Typed::new(
                    format!("CASE WHEN {cond} THEN {as_} ELSE {bs} END"),
                    ty,
                    a.nullable || b.nullable,
                ))
            }
            _ => Err(errors::unknown_function(&c.fname)),
        }
    }

    /// LEN, UPPER/LOWER, LTRIM/RTRIM, LEFT/RIGHT and SUBSTRING.
    fn string_function(&mut self, c: &Call<'_>) -> Result<Typed, SqlError> {
        let lname = c.lname.as_str();
        match c.lname.as_str() {
            "len" => {
                c.need(1)?;
                let v = self.expr(c.exprs[0])?;
                Ok(Typed::new(
                    format!("sbx_len({})", self.text_sql(&v)),
                    SqlType::Int,
                    v.nullable,
                ))
            }
            "upper" | "lower" => {
                c.need(1)?;
                let v = self.expr(c.exprs[0])?;
                let ty = string_result(v.ty);
                Ok(Typed::new(
                    format!("sbx_{lname}({})", self.text_sql(&v)),
                    ty,
                    v.nullable,
                ))
            }
            "ltrim" | "rtrim" => {
                c.need(1)?;
                let v = self.expr(c.exprs[0])?;
                let ty = string_result(v.ty);
                Ok(Typed::new(
                    format!("{lname}({}, ' ')", self.text_sql(&v)),
                    ty,
                    v.nullable,
                ))
            }
            "left" | "right" => {
                c.need(2)?;
                let v = self.expr(c.exprs[0])?;
                let k = self.expr(c.exprs[1])?;
                let ty = string_result(v.ty);
                Ok(Typed::new(
                    format!("sbx_{lname}({}, {})", self.text_sql(&v), k.sql),
                    ty,
                    true,
                ))
            }
            "substring" => {
                c.need(3)?;
                let v = self.expr(c.exprs[0])?;
                let s = self.expr(c.exprs[1])?;
                let l = self.expr(c.exprs[2])?;
                let ty = string_result(v.ty);
                Ok(Typed::new(
                    format!("substr({}, {}, {})", self.text_sql(&v), s.sql, l.sql),
                    ty,
                    true,
                ))
            }
            _ => Err(errors::unknown_function(&c.fname)),
        }
    }

    /// REPLACE, CHARINDEX and CONCAT.
    fn string_combine(&mut self, c: &Call<'_>) -> Result<Typed, SqlError> {
        match c.lname.as_str() {
            "replace" => {
                c.need(3)?;
                let v = self.expr(c.exprs[0])?;
                let a = self.expr(c.exprs[1])?;
                let b = self.expr(c.exprs[2])?;
                let ty = if is_string(v.ty) {
                    v.ty
                } else {
                    SqlType::NVarChar(Some(4000))
                };
                let ty = match ty {
                    SqlType::NVarChar(_) => SqlType::NVarChar(Some(4000)),
                    _ => SqlType::VarChar(Some(8000)),
                };
                let (vs, as_, bs) = (self.text_sql(&v), self.text_sql(&a), self.text_sql(&b));
                Ok(Typed::new(format!("replace({vs}, {as_}, {bs})"), ty, true))
            }
            "charindex" => {
                c.need(2)?;
                let a = self.expr(c.exprs[0])?;
                let b = self.expr(c.exprs[1])?;
                let (as_, bs) = (self.text_sql(&a), self.text_sql(&b));
                Ok(Typed::new(
                    format!("instr(sbx_lower({bs}), sbx_lower({as_}))"),
                    SqlType::Int,
                    true,
                ))
            }
            "concat" => {
                if c.n() < 2 {
                    return Err(errors::other(
                        189,
                        15,
                        1,
                        "The concat function requires 2 to 254 arguments.",
                    ));
                }
                let vals = c
                    .exprs
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
            _ => Err(errors::unknown_function(&c.fname)),
        }
    }

    /// ABS, NEWID and the clock: the clock is read once per batch (the
    /// `Env`), so every call in a statement sees the same instant.
    fn clock_function(&mut self, c: &Call<'_>) -> Result<Typed, SqlError> {
        let env = self.env;
        match c.lname.as_str() {
            "abs" => {
                c.need(1)?;
                let v = self.expr(c.exprs[0])?;
                Ok(Typed::new(format!("abs({})", v.sql), v.ty, v.nullable))
            }
            "newid" => {
                c.need(0)?;
                Ok(Typed::new("sbx_newid()", SqlType::UniqueIdentifier, false))
            }
            "sysutcdatetime" | "sysdatetime" => {
                c.need(0)?;
                let t = if c.lname == "sysutcdatetime" {
                    env.now_utc
                } else {
                    env.now_local
                };
                Ok(self.konst(Value::DateTime(t), SqlType::DateTime2))
            }
            "getutcdate" | "getdate" | "current_timestamp" => {
                if !c.no_parens {
                    c.need(0)?;
                }
                let t = if c.lname == "getutcdate" {
                    env.now_utc
                } else {
                    env.now_local
                };
                let ms = t.and_utc().timestamp_subsec_millis();
                let t = chrono::Timelike::with_nanosecond(&t, ms * 1_000_000).unwrap_or(t);
                Ok(self.konst(Value::DateTime(t), SqlType::DateTime))
            }
            _ => Err(errors::unknown_function(&c.fname)),
        }
    }

    /// DB_NAME, DB_ID, SCHEMA_NAME and SCHEMA_ID: constants, resolved now.
    fn id_function(&mut self, c: &Call<'_>) -> Result<Typed, SqlError> {
        let env = self.env;
        match c.lname.as_str() {
            "db_name" => {
                c.range(0, 1)?;
                let name = if c.n() == 0 {
                    Some(env.db_name.to_string())
                } else {
                    match self.expr(c.exprs[0])?.konst {
                        Some(Value::Int(id)) => env
                            .databases
                            .iter()
                            .find(|d| d.id == id)
                            .map(|d| d.name.clone()),
                        Some(Value::Null) => None,
                        _ => return Err(refuse_expr(c.exprs[0])),
                    }
                };
                Ok(match name {
                    Some(s) => self.text_konst(&s, 128),
                    None => self.konst(Value::Null, SqlType::NVarChar(Some(128))),
                })
            }
            "db_id" => {
                c.range(0, 1)?;
                let id = if c.n() == 0 {
                    Some(env.db_id)
                } else {
                    match self.expr(c.exprs[0])?.konst {
                        Some(Value::Text(s)) => env
                            .databases
                            .iter()
                            .find(|d| d.name.to_lowercase() == s.to_lowercase())
                            .map(|d| d.id),
                        Some(Value::Null) => None,
                        _ => return Err(refuse_expr(c.exprs[0])),
                    }
                };
                Ok(self.konst(id.map(Value::Int).unwrap_or(Value::Null), SqlType::SmallInt))
            }
            "schema_name" => {
                c.range(0, 1)?;
                let name = if c.n() == 0 {
                    Some("dbo".to_string())
                } else {
                    match self.expr(c.exprs[0])?.konst {
                        Some(Value::Int(id)) => env
                            .catalog
                            .schemas
                            .iter()
                            .find(|s| s.id == id)
                            .map(|s| s.name.clone()),
                        Some(Value::Null) => None,
                        _ => return Err(refuse_expr(c.exprs[0])),
                    }
                };
                Ok(match name {
                    Some(s) => self.text_konst(&s, 128),
                    None => self.konst(Value::Null, SqlType::NVarChar(Some(128))),
                })
            }
            "schema_id" => {
                c.range(0, 1)?;
                let id = if c.n() == 0 {
                    Some(1)
                } else {
                    match self.expr(c.exprs[0])?.konst {
                        Some(Value::Text(s)) => env.catalog.schema(&s).map(|s| s.id),
                        Some(Value::Null) => None,
                        _ => return Err(refuse_expr(c.exprs[0])),
                    }
                };
                Ok(self.konst(id.map(Value::Int).unwrap_or(Value::Null), SqlType::Int))
            }
            _ => Err(errors::unknown_function(&c.fname)),
        }
    }

    /// OBJECT_ID, OBJECT_NAME, HAS_PERMS_BY_NAME and QUOTENAME: evaluated by
    /// SQLite functions, since their arguments may be columns.
    fn object_function(&mut self, c: &Call<'_>) -> Result<Typed, SqlError> {
        match c.lname.as_str() {
            "object_id" => {
                c.range(1, 2)?;
                let args = c
                    .exprs
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
                c.need(1)?;
                let v = self.expr(c.exprs[0])?;
                Ok(Typed::new(
                    format!("sbx_object_name({})", v.sql),
                    SqlType::NVarChar(Some(128)),
                    true,
                ))
            }
            "has_perms_by_name" => {
                // (securable, class, permission [, sub-securable, its class])
                if c.exprs.len() != 3 && c.exprs.len() != 5 {
                    return Err(errors::arg_count(&c.fname, c.exprs.len()));
                }
                let args = c
                    .exprs
                    .iter()
                    .map(|e| self.expr(e))
                    .collect::<Result<Vec<_>, _>>()?;
                let (sub, sub_class) = match args.get(3..5) {
                    Some([a, b]) => (a.sql.clone(), b.sql.clone()),
                    _ => ("NULL".into(), "NULL".into()),
                };
                Ok(Typed::new(
                    format!(
                        "sbx_has_perms({}, {}, {}, {sub}, {sub_class})",
                        args[0].sql, args[1].sql, args[2].sql
                    ),
                    SqlType::Int,
                    true,
                ))
            }
            "quotename" => {
                c.range(1, 2)?;
                let args = c
                    .exprs
                    .iter()
                    .map(|e| self.expr(e))
                    .collect::<Result<Vec<_>, _>>()?;
                let sql = args
                    .iter()
                    .map(|a| self.text_sql(a))
                    .collect::<Vec<_>>()
                    .join(", ");
                Ok(Typed::new(
                    format!("sbx_quotename({sql})"),
                    SqlType::NVarChar(Some(258)),
                    true,
                ))
            }
            _ => Err(errors::unknown_function(&c.fname)),
        }
    }

    /// SERVERPROPERTY and DATABASEPROPERTYEX.
    fn property_function(&mut self, c: &Call<'_>) -> Result<Typed, SqlError> {
        let env = self.env;
        match c.lname.as_str() {
            "serverproperty" => {
                c.need(1)?;
                let prop = match self.expr(c.exprs[0])?.konst {
                    Some(Value::Text(s)) => s,
                    _ => return Err(refuse_expr(c.exprs[0])),
                };
                Ok(
                    match server_property(env.server_name, &env.version, &prop) {
                        Some(Value::Int(i)) => self.konst(Value::Int(i), SqlType::Int),
                        Some(Value::Text(s)) => self.text_konst(&s, 128),
                        _ => self.konst(Value::Null, SqlType::NVarChar(Some(128))),
                    },
                )
            }
            "databasepropertyex" => {
                c.need(2)?;
                let db = self.expr(c.exprs[0])?.konst;
                let prop = self.expr(c.exprs[1])?.konst;
                let (Some(Value::Text(db)), Some(Value::Text(prop))) = (db, prop) else {
                    return Err(refuse_expr(c.exprs[0]));
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
            _ => Err(errors::unknown_function(&c.fname)),
        }
    }

    /// The login, the user, role membership and XACT_STATE.
    fn session_function(&mut self, c: &Call<'_>) -> Result<Typed, SqlError> {
        let env = self.env;
        match c.lname.as_str() {
            "suser_sname" | "suser_name" | "original_login" | "system_user" | "session_user" => {
                if !c.no_parens {
                    c.need(0)?;
                }
                let login = env.login.to_string();
                Ok(self.text_konst(&login, 128))
            }
            "user_name" | "current_user" | "user" => {
                if !c.no_parens {
                    c.need(0)?;
                }
                Ok(self.text_konst("dbo", 128))
            }
            "is_srvrolemember" | "is_member" | "is_rolemember" => {
                c.range(1, 2)?;
                for e in &c.exprs {
                    self.expr(e)?;
                }
                Ok(self.konst(Value::Int(1), SqlType::Int))
            }
            "xact_state" => {
                c.need(0)?;
                Ok(self.konst(Value::Int((env.trancount > 0) as i64), SqlType::SmallInt))
            }
            _ => Err(errors::unknown_function(&c.fname)),
        }
    }
}

/// `SERVERPROPERTY(prop)`.
pub(super) fn server_property(server: &str, version: &ProductVersion, prop: &str) -> Option<Value> {
    let t = |s: &str| Some(Value::Text(s.to_string()));
    match prop.to_lowercase().as_str() {
        "servername" => t(server),
        // @@SERVERNAME is MACHINE\INSTANCE for a named instance.
        "machinename" | "computernamephysicalnetbios" => {
            t(server.split('\\').next().unwrap_or(server))
        }
        "instancename" => server.split_once('\\').and_then(|(_, i)| t(i)),
        "productversion" => t(&version.text()),
        "productlevel" => t(version.level()),
        // An unknown property (NULL) before SQL Server 2012.
        "productmajorversion" if version.has_2012_features() => t(&version.major.to_string()),
        "productminorversion" if version.has_2012_features() => t(&version.minor.to_string()),
        "edition" => t("Developer Edition (64-bit)"),
        "engineedition" => Some(Value::Int(3)),
        "collation" => t("SQL_Latin1_General_CP1_CI_AS"),
        "isintegratedsecurityonly" | "isclustered" | "ishadrenabled" => Some(Value::Int(0)),
        _ => None,
    }
}
