//! FROM clauses: tables, catalog views, CTEs, derived tables, joins and hints.

use super::{ident_path, qi, refuse_expr, Source, SrcCol, TableRead, Tr};
use crate::engine::catalog::find_view;
use crate::engine::collation::{self, Label};
use crate::engine::errors;
use crate::engine::locks::Mode;
use crate::types::SqlError;
use sqlparser::ast::{
    self, Expr, JoinConstraint, JoinOperator, ObjectName, Query, TableFactor, TableWithJoins,
};

use super::query::derived_cols;

impl Tr<'_, '_> {
    pub(super) fn table_with_joins(&mut self, twj: &TableWithJoins) -> Result<String, SqlError> {
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

    /// A table's hints: how the statement reads it.
    pub(super) fn hints(&mut self, hints: &[Expr]) -> Result<TableRead, SqlError> {
        let mut read = TableRead::Committed;
        // The strongest locking hint wins.
        let keep = |m: Mode, read: &mut TableRead| {
            *read = match *read {
                TableRead::Locking(k) => TableRead::Locking(k.max(m)),
                _ => TableRead::Locking(m),
            }
        };
        for h in hints {
            let Expr::Identifier(i) = h else {
                return Err(refuse_expr(h));
            };
            match i.value.to_uppercase().as_str() {
                "UPDLOCK" => keep(Mode::U, &mut read),
                "XLOCK" | "TABLOCKX" => keep(Mode::X, &mut read),
                "HOLDLOCK" | "SERIALIZABLE" | "REPEATABLEREAD" | "TABLOCK" | "PAGLOCK" => {
                    keep(Mode::S, &mut read)
                }
                "NOLOCK" | "READUNCOMMITTED" if read == TableRead::Committed => {
                    read = TableRead::Uncommitted
                }
                "NOLOCK" | "READUNCOMMITTED" | "READCOMMITTED" | "READCOMMITTEDLOCK"
                | "ROWLOCK" => {}
                "NOWAIT" => self.nowait = true,
                _ => return Err(errors::syntax(&i.value)),
            }
        }
        if matches!(read, TableRead::Locking(_)) {
            self.lock = true;
        }
        Ok(read)
    }

    pub(super) fn table_factor(&mut self, tf: &TableFactor) -> Result<String, SqlError> {
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
                if args.is_some() && !self.env.version.has_2012_features() {
                    // A table-valued function 2008 R2 does not have
                    // (OPENJSON, STRING_SPLIT): an unknown object there.
                    return Err(errors::invalid_object(&ident_path(name)));
                }
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
                self.named_table(name, alias.as_ref(), with_hints)
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
                self.derived_table(subquery, alias)
            }
            TableFactor::NestedJoin {
                table_with_joins,
                alias: None,
            } => Ok(format!("({})", self.table_with_joins(table_with_joins)?)),
            TableFactor::OpenJsonTable { .. } if !self.env.version.has_2012_features() => {
                Err(errors::invalid_object("OPENJSON"))
            }
            _ => Err(errors::syntax(&tf.to_string())),
        }
    }

    /// A table, catalog view or CTE named in FROM, with its hints and alias.
    fn named_table(
        &mut self,
        name: &ObjectName,
        alias: Option<&ast::TableAlias>,
        with_hints: &[Expr],
    ) -> Result<String, SqlError> {
        let read = self.hints(with_hints)?;
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
        let user_tables = self.tables.len();
        let (sql_table, cols) = self.resolve_source(
            db.as_deref(),
            schema.as_deref(),
            &tname,
            &display,
            &mut qualifiers,
        )?;
        if self.tables.len() > user_tables {
            let (s, n) = self.tables[user_tables].clone();
            self.reads.push((s, n, read));
        }
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

    /// What a name in FROM refers to: a CTE (one-part names only), a
    /// catalog view (`sys.x`, `INFORMATION_SCHEMA.x`) or a user table; its
    /// SQLite name and columns, and the names that qualify it.
    fn resolve_source(
        &mut self,
        db: Option<&str>,
        schema: Option<&str>,
        tname: &str,
        display: &str,
        qualifiers: &mut Vec<String>,
    ) -> Result<(String, Vec<SrcCol>), SqlError> {
        if db.is_none()
            && schema.is_none()
            && (tname.starts_with('@') || self.is_pseudo_table(tname))
        {
            let t = self.table_var(tname)?;
            qualifiers.push(tname.to_lowercase());
            let cols = SrcCol::of_table(&t);
            return Ok((t.sqlite, cols));
        }
        if db.is_none() && schema.is_none() && tname.starts_with('#') {
            let t = self.temp_table(tname)?;
            qualifiers.push(tname.to_lowercase());
            let cols = SrcCol::of_table(&t);
            return Ok((t.sqlite, cols));
        }
        if db.is_none() && schema.is_none() {
            let l = tname.to_lowercase();
            if let Some(c) = self.user_ctes.iter().find(|c| c.name_lc == l) {
                qualifiers.push(l);
                return Ok((c.sql_name.clone(), c.cols.clone()));
            }
        }
        if let Some(d) = &db {
            let sysdb = schema
                .map(|s| s.eq_ignore_ascii_case("sys"))
                .unwrap_or(false)
                && tname.eq_ignore_ascii_case("databases");
            if d.to_lowercase() != self.env.db_name.to_lowercase() && !sysdb {
                return Err(errors::invalid_object(display));
            }
        }
        if let Some(s) = &schema {
            if let Some(v) = find_view(s, tname) {
                if !self.views.iter().any(|x| std::ptr::eq(*x, v)) {
                    self.views.push(v);
                }
                let vl = v.name.to_lowercase();
                qualifiers.push(tname.to_lowercase());
                qualifiers.push(vl.clone());
                qualifiers.push(format!("{}.{vl}", self.env.db_name.to_lowercase()));
                // Columns SQL Server 2012 added do not exist before it.
                let since_2012 = |n: &str| n == "group_database_id";
                let cols = v
                    .columns
                    .iter()
                    .filter(|(n, _, _)| self.env.version.has_2012_features() || !since_2012(n))
                    .map(|(n, ty, nullable)| SrcCol {
                        name: n.to_string(),
                        sql: n.to_string(),
                        ty: *ty,
                        nullable: *nullable,
                        coll: if super::is_string(*ty) {
                            Label::Implicit(collation::DEFAULT)
                        } else {
                            Label::Default
                        },
                    })
                    .collect();
                return Ok((v.name.to_string(), cols));
            }
        }
        let Some(t) = self.env.catalog.table(schema, tname) else {
            return Err(errors::invalid_object(display));
        };
        let t = t.clone();
        self.tables.push((t.schema.clone(), t.name.clone()));
        let tl = t.name.to_lowercase();
        let sl = t.schema.to_lowercase();
        qualifiers.push(tl.clone());
        qualifiers.push(format!("{sl}.{tl}"));
        qualifiers.push(format!("{}.{sl}.{tl}", self.env.db_name.to_lowercase()));
        let cols = SrcCol::of_table(&t);
        Ok((t.sqlite.clone(), cols))
    }

    /// A derived table `(SELECT ...) AS alias`.
    fn derived_table(
        &mut self,
        subquery: &Query,
        alias: &ast::TableAlias,
    ) -> Result<String, SqlError> {
        let out = self.query(subquery)?;
        let cols = derived_cols(&out, alias)?;
        let sql_alias = self.alias();
        self.push_source(Source {
            qualifiers: vec![alias.name.value.to_lowercase()],
            sql_alias: sql_alias.clone(),
            cols,
        })?;
        Ok(format!("({}) AS {}", out.sql, qi(&sql_alias)))
    }

    pub(super) fn push_source(&mut self, src: Source) -> Result<(), SqlError> {
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
}
