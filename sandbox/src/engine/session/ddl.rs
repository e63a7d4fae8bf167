//! DDL (CREATE TABLE, CREATE INDEX, DROP TABLE, CREATE SCHEMA) and the
//! catalog the session caches between them.

use super::SessionState;
use crate::engine::catalog::TableInfo;
use crate::engine::catalog::{Catalog, IndexKind, FK_KIND, META_TABLE, SCHEMA_PREFIX};
use crate::engine::datatype::{self, quote_ident};
use crate::engine::errors;
use crate::engine::functions::FnCtx;
use crate::engine::translate::{IndexPlan, TablePlan};
use crate::types::{Item, SqlError};
use std::sync::Arc;

impl SessionState {
    // ----- catalog ----------------------------------------------------------

    pub(super) fn catalog(&mut self) -> Result<Arc<Catalog>, SqlError> {
        let version: i64 = self
            .conn
            .query_row("PRAGMA schema_version", [], |r| r.get(0))
            .map_err(errors::internal)?;
        if let Some((v, c)) = &self.cat_cache {
            if *v == version {
                return Ok(c.clone());
            }
        }
        let c = Arc::new(Catalog::load(&self.conn).map_err(errors::internal)?);
        self.cat_cache = Some((version, c.clone()));
        Ok(c)
    }

    pub(super) fn refresh_fn_ctx(&self, cat: &Catalog) {
        let (read_only, denied) = self.shared.flags(&self.db);
        let mut ctx = FnCtx {
            db_name: self.db.clone(),
            read_only,
            denied,
            temp_tables: self.temp_object_ids(),
            ..Default::default()
        };
        for t in &cat.tables {
            let key = format!("{}.{}", t.schema.to_lowercase(), t.name.to_lowercase());
            ctx.tables.insert(key, t.object_id);
            ctx.names.insert(t.object_id, t.name.clone());
            for i in t.indexes.iter().filter(|i| i.kind != IndexKind::Index) {
                let ty = if i.kind == IndexKind::PrimaryKey {
                    "PK"
                } else {
                    "UQ"
                };
                let id = i.constraint_object_id(t);
                ctx.constraints.insert(
                    format!("{}.{}", t.schema.to_lowercase(), i.name.to_lowercase()),
                    (id, ty),
                );
                ctx.names.insert(id, i.name.clone());
            }
        }
        for tr in &cat.triggers {
            ctx.constraints.insert(
                format!("{}.{}", tr.schema.to_lowercase(), tr.name.to_lowercase()),
                (tr.object_id, "TR"),
            );
            ctx.names.insert(tr.object_id, tr.name.clone());
        }
        for f in &cat.foreign_keys {
            ctx.constraints.insert(
                format!("{}.{}", f.schema.to_lowercase(), f.name.to_lowercase()),
                (f.object_id(), "F"),
            );
            ctx.names.insert(f.object_id(), f.name.clone());
        }
        *self.fns.ctx.lock().unwrap_or_else(|p| p.into_inner()) = ctx;
    }

    /// CREATE TABLE: the DDL and the creation time, in one write.
    pub(super) fn create_table(
        &mut self,
        tp: TablePlan,
        items: &mut Vec<Item>,
    ) -> Result<(), SqlError> {
        let cat = self.catalog()?;
        if cat.schema(&tp.table.schema).is_none() {
            return Err(errors::no_schema(&tp.table.schema));
        }
        if cat.object_exists(&tp.table.schema, &tp.table.name) {
            return Err(errors::already_exists(&tp.table.name));
        }
        for i in &tp.table.indexes {
            if cat.object_exists(&tp.table.schema, &i.name) {
                return Err(errors::already_exists(&i.name));
            }
        }
        let created = datatype::format_datetime(&chrono::Local::now().naive_local());
        let sqlite = tp.table.sqlite.clone();
        let fks: Vec<String> = tp
            .foreign_keys
            .iter()
            .map(|f| {
                let target = cat.by_sqlite(&f.referenced_sqlite).unwrap_or(&tp.table);
                f.encode(&tp.table, target)
            })
            .collect();
        self.write(false, |s| {
            for d in &tp.ddl {
                s.conn.execute_batch(d).map_err(|e| s.map_err(e))?;
            }
            for f in &fks {
                s.conn
                    .execute(
                        &format!(
                            "INSERT INTO {META_TABLE} (kind, name, value) VALUES (?1, ?2, ?3)"
                        ),
                        [FK_KIND, &sqlite, f],
                    )
                    .map_err(|e| s.map_err(e))?;
            }
            s.conn
                .execute(
                    &format!(
                        "INSERT INTO {META_TABLE} (kind, name, value) VALUES ('created', ?1, ?2)"
                    ),
                    [&sqlite, &created],
                )
                .map_err(|e| s.map_err(e))?;
            Ok(())
        })?;
        self.rowcount = 0;
        self.done(items);
        Ok(())
    }

    /// CREATE INDEX, once its name and clustering are known to be free.
    pub(super) fn create_index(
        &mut self,
        ip: IndexPlan,
        items: &mut Vec<Item>,
    ) -> Result<(), SqlError> {
        let cat = self.catalog()?;
        let t = cat
            .tables
            .iter()
            .find(|t| t.sqlite == ip.table.sqlite)
            .cloned()
            .unwrap_or(ip.table.clone());
        if t.indexes
            .iter()
            .any(|i| i.name.to_lowercase() == ip.index.name.to_lowercase())
        {
            return Err(errors::other(
                1913,
                16,
                1,
                format!(
                    "The operation failed because an index or statistics with name '{}' already exists on table '{}.{}'.",
                    ip.index.name, t.schema, t.name
                ),
            ));
        }
        if ip.index.clustered {
            if let Some(c) = t.indexes.iter().find(|i| i.clustered) {
                return Err(errors::other(
                    1902,
                    16,
                    3,
                    format!(
                        "Cannot create more than one clustered index on table '{}.{}'. Drop the existing clustered index '{}' before creating another.",
                        t.schema, t.name, c.name
                    ),
                ));
            }
        }
        self.write(false, |s| {
            s.conn.execute_batch(&ip.ddl).map_err(|e| s.map_err(e))
        })?;
        self.done(items);
        Ok(())
    }

    /// DROP TABLE [IF EXISTS] a, b...: each dropped in turn, as SQL Server does.
    pub(super) fn drop_tables(
        &mut self,
        tables: Vec<(String, Option<TableInfo>)>,
        if_exists: bool,
        items: &mut Vec<Item>,
    ) -> Result<(), SqlError> {
        for (display, t) in tables {
            match t {
                Some(t) if t.name.starts_with('#') => self.drop_temp_table(&t)?,
                Some(t) => {
                    if let Some(fk) = self.catalog()?.referenced_by(&t) {
                        return Err(errors::other(
                            3726,
                            16,
                            1,
                            format!(
                                "Could not drop object '{}.{}' because it is referenced by a FOREIGN KEY constraint.",
                                t.schema, t.name
                            ),
                        ))
                        .inspect_err(|_| tracing::debug!(fk = %fk.name, "drop refused"));
                    }
                    let triggers: Vec<_> = self
                        .catalog()?
                        .triggers
                        .iter()
                        .filter(|x| x.parent == t.sqlite)
                        .cloned()
                        .collect();
                    self.drop_trigger_markers(&triggers)?;
                    self.write(false, |s| {
                        s.conn
                            .execute_batch(&format!("DROP TABLE {}", quote_ident(&t.sqlite)))
                            .map_err(|e| s.map_err(e))?;
                        s.conn
                            .execute(
                                &format!("DELETE FROM {META_TABLE} WHERE name = ?1"),
                                [&t.sqlite],
                            )
                            .map_err(|e| s.map_err(e))?;
                        Ok(())
                    })?;
                }
                None if if_exists => {}
                None => return Err(errors::cannot_drop(&display)),
            }
        }
        self.done(items);
        Ok(())
    }

    /// CREATE SCHEMA: a marker table, as SQLite has no schemas.
    pub(super) fn create_schema(
        &mut self,
        name: String,
        items: &mut Vec<Item>,
    ) -> Result<(), SqlError> {
        if self.catalog()?.schema(&name).is_some() {
            return Err(errors::already_exists(&name));
        }
        let marker = quote_ident(&format!("{SCHEMA_PREFIX}{name}"));
        self.write(false, |s| {
            s.conn
                .execute_batch(&format!("CREATE TABLE {marker} (x)"))
                .map_err(|e| s.map_err(e))
        })?;
        self.done(items);
        Ok(())
    }
}
