//! Name resolution: object names against the catalog, column references
//! against the FROM scopes, parameters, variables and `@@` system variables.

use super::{ident_path, name_parts, qi, Source, SrcCol, Tr, Typed};
use crate::engine::catalog::{find_view, TableInfo};
use crate::engine::collation::Label;
use crate::engine::datatype::{self, param_storage};
use crate::engine::errors;
use crate::types::{SqlError, SqlType, Value};
use sqlparser::ast::{Ident, ObjectName};

impl Tr<'_, '_> {
    /// (database, schema, name) of a one- to three-part object name.
    pub(super) fn split_object(
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
    pub(super) fn user_table(&mut self, n: &ObjectName) -> Result<TableInfo, SqlError> {
        let (db, schema, name) = self.split_object(n)?;
        if db.is_none() && schema.is_none() && name.starts_with('@') {
            return self.table_var(&name);
        }
        if db.is_none() && schema.is_none() && name.starts_with('#') {
            return self.temp_table(&name);
        }
        if db.is_none() && schema.is_none() && self.is_pseudo_table(&name) {
            return Err(super::trigger::pseudo_table_target());
        }
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

    pub(super) fn qualified_name(&self, t: &TableInfo) -> String {
        format!("{}.{}.{}", self.env.db_name, t.schema, t.name)
    }

    /// A column reference (`c`, `t.c`, `s.t.c`, `db.s.t.c`).
    pub(super) fn column(&mut self, parts: &[Ident]) -> Result<Typed, SqlError> {
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
                    )
                    .with_coll(c.coll));
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
                        )
                        .with_coll(c.coll)),
                        None => Err(errors::invalid_column(col)),
                    };
                }
            }
        }
        Err(errors::not_bound(&names.join(".")))
    }

    pub(super) fn param_or_var(&mut self, name: &str) -> Result<Typed, SqlError> {
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
                coll: Label::Default,
            });
        }
        if let Some(v) = self.env.vars.get(&l).filter(|v| v.table.is_none()) {
            let (decl, value) = (v.decl, v.value.clone());
            let konst = datatype::from_storage((&value).into(), decl.ty);
            let sql = self.bind(value);
            return Ok(Typed {
                sql,
                ty: decl.ty,
                nullable: true,
                null_lit: false,
                konst: Some(konst),
                coll: Label::Default,
            });
        }
        Err(errors::undeclared(name))
    }

    pub(super) fn konst(&mut self, v: Value, ty: SqlType) -> Typed {
        let sql = self.bind(datatype::to_storage(&v));
        Typed {
            sql,
            ty,
            nullable: matches!(v, Value::Null),
            null_lit: false,
            konst: Some(v),
            coll: Label::Default,
        }
    }

    pub(super) fn text_konst(&mut self, s: &str, len: u16) -> Typed {
        self.konst(Value::Text(s.to_string()), SqlType::NVarChar(Some(len)))
    }

    pub(super) fn system_variable(&mut self, name: &str) -> Result<Typed, SqlError> {
        let env = self.env;
        Ok(match name.to_uppercase().as_str() {
            "@@TRANCOUNT" => self.konst(Value::Int(env.trancount as i64), SqlType::Int),
            "@@ROWCOUNT" => self.konst(Value::Int(env.rowcount), SqlType::Int),
            "@@ERROR" => self.konst(Value::Int(env.last_error as i64), SqlType::Int),
            "@@SPID" => self.konst(Value::Int(env.spid as i64), SqlType::SmallInt),
            "@@LOCK_TIMEOUT" => self.konst(Value::Int(env.lock_timeout), SqlType::Int),
            "@@DATEFIRST" => self.konst(Value::Int(7), SqlType::TinyInt),
            "@@VERSION" => {
                let v = env.version.version_string(env.server_name);
                self.text_konst(&v, 300)
            }
            "@@SERVERNAME" => self.text_konst(env.server_name, 128),
            "@@SERVICENAME" => self.text_konst("MSSQLSERVER", 128),
            "@@LANGUAGE" => self.text_konst("us_english", 128),
            _ => return Err(errors::undeclared(name)),
        })
    }
}
