//! INSERT, UPDATE and DELETE, with the probe that names a duplicate key.

use super::{name_parts, qi, DmlKind, DmlPlan, Source, Sql, SrcCol, Tr, Typed};
use crate::engine::catalog::{ColumnInfo, TableInfo};
use crate::engine::datatype::quote_str;
use crate::engine::errors;
use crate::types::{SqlError, SqlType};
use sqlparser::ast::{
    self, Delete, FromTable, Insert, ObjectName, Query, SetExpr, TableFactor, TableObject,
    TableWithJoins, Update,
};

impl Tr<'_, '_> {
    /// OUTPUT without INTO on a table with an enabled trigger: Msg 334
    /// (the sandbox has no OUTPUT otherwise; the caller refuses it).
    fn output_check(
        &mut self,
        o: &ast::OutputClause,
        name: &ObjectName,
        kind: DmlKind,
    ) -> Result<(), SqlError> {
        let ast::OutputClause::Output {
            into_table: None, ..
        } = o
        else {
            return Ok(());
        };
        let Ok(t) = self.user_table(name) else {
            return Ok(());
        };
        if self.has_trigger(&t, kind) {
            let shown = name_parts(name)?.join(".");
            return Err(super::trigger::output_with_trigger(&shown));
        }
        Ok(())
    }

    /// ` WHERE <predicate>` for UPDATE and DELETE, or nothing.
    fn where_clause(&mut self, selection: Option<&ast::Expr>) -> Result<String, SqlError> {
        Ok(match selection {
            Some(w) => format!(" WHERE {}", self.pred(w)?),
            None => String::new(),
        })
    }

    // ----- DML --------------------------------------------------------------

    pub(super) fn assign_sql(&self, v: &Typed, table: &TableInfo, col: &ColumnInfo) -> String {
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

    pub(super) fn insert(&mut self, ins: &Insert) -> Result<DmlPlan, SqlError> {
        let name = insert_target(ins)?;
        let t = self.user_table(name)?;
        let targets = insert_columns(&t, &ins.columns)?;
        let Some(q) = &ins.source else {
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
                set_columns: Vec::new(),
            });
        };
        let (src_sql, src_types) = self.insert_source(q, targets.len())?;
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
            set_columns: Vec::new(),
        })
    }

    /// The rows INSERT takes (VALUES or a query) as SQL with columns
    /// `c1..cn`, and the type of each column.
    fn insert_source(&mut self, q: &Query, n: usize) -> Result<(String, Vec<Typed>), SqlError> {
        let plain_values = q.with.is_none()
            && q.order_by.is_none()
            && q.limit_clause.is_none()
            && q.fetch.is_none();
        let (src_sql, src_types): (String, Vec<Typed>) = match (q.body.as_ref(), plain_values) {
            (SetExpr::Values(v), true) => {
                if v.rows.len() > 1000 {
                    return Err(errors::other(10738, 15, 1, "The number of row value expressions in the INSERT statement exceeds the maximum allowed number of 1000 row values."));
                }
                let mut rows = Vec::new();
                let mut types: Vec<Option<Typed>> = vec![None; n];
                for row in &v.rows {
                    if row.len() != n {
                        return Err(if row.len() > n {
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
                if out.cols.len() != n {
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
        Ok((src_sql, src_types))
    }

    /// The single target table of UPDATE/DELETE, as a source in a new scope.
    pub(super) fn dml_target(
        &mut self,
        twj: &TableWithJoins,
    ) -> Result<(TableInfo, String), SqlError> {
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
        let cols = SrcCol::of_table(&t);
        self.scopes.push(vec![Source {
            qualifiers,
            sql_alias: sql_alias.clone(),
            cols,
        }]);
        Ok((t, sql_alias))
    }

    pub(super) fn update(&mut self, u: &Update) -> Result<DmlPlan, SqlError> {
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
        if let Some(o) = output {
            if let TableFactor::Table { name, .. } = &table.relation {
                self.output_check(o, name, DmlKind::Update)?;
            }
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
        let (sets, new_values) = self.update_sets(&t, assignments)?;
        let where_sql = self.where_clause(selection.as_ref())?;
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
        let set_columns = new_values
            .iter()
            .zip(t.columns.iter())
            .filter(|(v, _)| v.is_some())
            .map(|(_, c)| c.name.clone())
            .collect();
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
            set_columns,
        })
    }

    /// UPDATE's SET list: the `col = value` clauses, and each column's new
    /// value (for the duplicate-key probe).
    fn update_sets(
        &mut self,
        t: &TableInfo,
        assignments: &[ast::Assignment],
    ) -> Result<(Vec<String>, Vec<Option<String>>), SqlError> {
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
                return Err(assigned_twice(cname));
            }
            let v = self.expr(&a.value)?;
            let s = self.assign_sql(&v, t, &t.columns[idx]);
            new_values[idx] = Some(s.clone());
            sets.push(format!("{} = {s}", qi(&t.columns[idx].name)));
        }
        Ok((sets, new_values))
    }

    pub(super) fn delete(&mut self, d: &Delete) -> Result<DmlPlan, SqlError> {
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
        if let Some(o) = output {
            let target = match from {
                FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => t.first(),
            };
            if let Some(TableFactor::Table { name, .. }) = target.map(|t| &t.relation) {
                self.output_check(o, name, DmlKind::Delete)?;
            }
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
        let where_sql = self.where_clause(selection.as_ref())?;
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
            set_columns: Vec::new(),
        })
    }
}

/// The table INSERT writes to, once every clause the sandbox does not
/// implement (OUTPUT, ON CONFLICT, multi-table...) is known absent.
fn insert_target(ins: &Insert) -> Result<&ObjectName, SqlError> {
    let Insert {
        insert_token: _,
        optimizer_hints,
        or,
        ignore,
        into: _,
        table,
        table_alias,
        columns: _,
        by_name,
        overwrite,
        source: _,
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
    Ok(name)
}

/// The columns INSERT assigns, by position in the table: the column list,
/// or every column.
fn insert_columns(t: &TableInfo, columns: &[ObjectName]) -> Result<Vec<usize>, SqlError> {
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
                return Err(assigned_twice(&cname));
            }
            targets.push(idx);
        }
    }
    Ok(targets)
}

/// Error 264: INSERT or UPDATE assigns a column twice (SQL Server's message
/// names INSERT in both cases).
fn assigned_twice(cname: &str) -> SqlError {
    errors::other(
        264,
        16,
        1,
        format!("The column name '{cname}' is specified more than once in the SET clause or column list of an INSERT. A column cannot be assigned more than one value in the same clause. Modify the clause to make sure that a column is updated only once. If this clause is updated more than once, the statement will fail."),
    )
}
