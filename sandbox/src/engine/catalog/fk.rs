//! Foreign keys: declared, kept and shown in the catalog views, NOT
//! enforced. SQLite would enforce its own `FOREIGN KEY` clauses only with
//! `PRAGMA foreign_keys`, without naming the constraint that failed, so the
//! sandbox keeps SQL Server's declaration as data instead: one `sbx_meta`
//! row (kind `fk`, name = the referencing table's SQLite name) per
//! constraint, dropped with its table. Rows that break a key are accepted
//! (SQL Server would refuse them with error 547); dropping a table a key
//! refers to is refused with error 3726, as SQL Server does.

use super::views::text;
use super::{Catalog, TableInfo, ViewDef, ViewEnv};
use crate::types::Value;
use rusqlite::Connection;

/// `sbx_meta` kind of a foreign key row.
pub(crate) const FK_KIND: &str = "fk";
/// Separates the fields of a stored key.
const FIELD: char = '\u{1f}';
/// Separates the column names within a field.
const ITEM: char = '\u{1e}';

/// A FOREIGN KEY constraint, as the catalog views show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ForeignKeyInfo {
    pub name: String,
    /// Schema of the constraint (its table's).
    pub schema: String,
    /// SQLite name of the referencing table.
    pub parent_sqlite: String,
    /// SQLite name of the referenced table.
    pub referenced_sqlite: String,
    /// (referencing column position, referenced column position), in key
    /// order; positions as in `TableInfo::columns`.
    pub columns: Vec<(usize, usize)>,
}

impl ForeignKeyInfo {
    /// Object id of the constraint (a foreign key is an object in SQL
    /// Server, in its table's schema).
    pub fn object_id(&self) -> i64 {
        super::object_id_of(&self.schema, &self.name)
    }

    /// The stored form (`sbx_meta.value`): name, referenced table, the
    /// referencing and the referenced column names.
    pub fn encode(&self, parent: &TableInfo, referenced: &TableInfo) -> String {
        let names = |t: &TableInfo, pick: fn(&(usize, usize)) -> usize| {
            self.columns
                .iter()
                .map(|c| t.columns[pick(c)].name.clone())
                .collect::<Vec<_>>()
                .join(&ITEM.to_string())
        };
        [
            self.name.clone(),
            self.referenced_sqlite.clone(),
            names(parent, |c| c.0),
            names(referenced, |c| c.1),
        ]
        .join(&FIELD.to_string())
    }
}

/// Reads every stored foreign key whose tables (and columns) still exist.
pub(crate) fn load(
    conn: &Connection,
    tables: &[TableInfo],
) -> rusqlite::Result<Vec<ForeignKeyInfo>> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT name, value FROM {} WHERE kind = ?1 ORDER BY rowid",
        super::META_TABLE
    ))?;
    let mut rows = st.query([FK_KIND])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let parent: String = r.get(0)?;
        let value: Option<String> = r.get(1)?;
        if let Some(fk) = value.and_then(|v| decode(&parent, &v, tables)) {
            out.push(fk);
        }
    }
    Ok(out)
}

/// One stored key, resolved against the tables; None when malformed or
/// when a table or column it names is gone.
fn decode(parent_sqlite: &str, value: &str, tables: &[TableInfo]) -> Option<ForeignKeyInfo> {
    let f: Vec<&str> = value.split(FIELD).collect();
    let [name, referenced, cols, ref_cols] = f.as_slice() else {
        return None;
    };
    let parent = tables.iter().find(|t| t.sqlite == parent_sqlite)?;
    let target = tables.iter().find(|t| t.sqlite == *referenced)?;
    let cols: Vec<&str> = cols.split(ITEM).collect();
    let ref_cols: Vec<&str> = ref_cols.split(ITEM).collect();
    if cols.len() != ref_cols.len() {
        return None;
    }
    let columns = cols
        .iter()
        .zip(ref_cols.iter())
        .map(|(c, r)| Some((parent.column(c)?, target.column(r)?)))
        .collect::<Option<Vec<_>>>()?;
    Some(ForeignKeyInfo {
        name: name.to_string(),
        schema: parent.schema.clone(),
        parent_sqlite: parent_sqlite.to_string(),
        referenced_sqlite: referenced.to_string(),
        columns,
    })
}

impl Catalog {
    /// The table a SQLite name stands for.
    pub fn by_sqlite(&self, sqlite: &str) -> Option<&TableInfo> {
        self.tables.iter().find(|t| t.sqlite == sqlite)
    }

    /// The first foreign key of another table that refers to `table`
    /// (which then may not be dropped).
    pub fn referenced_by(&self, table: &TableInfo) -> Option<&ForeignKeyInfo> {
        self.foreign_keys
            .iter()
            .find(|f| f.referenced_sqlite == table.sqlite && f.parent_sqlite != table.sqlite)
    }
}

/// The sys.objects rows (type F) of a table's foreign keys.
pub(super) fn object_rows(cat: &Catalog, t: &TableInfo) -> Vec<Vec<Value>> {
    cat.foreign_keys
        .iter()
        .filter(|f| f.parent_sqlite == t.sqlite)
        .map(|f| {
            let mut r = object_head(cat, t, f);
            r.truncate(10);
            r
        })
        .collect()
}

/// The columns sys.foreign_keys shares with sys.objects.
fn object_head(cat: &Catalog, t: &TableInfo, f: &ForeignKeyInfo) -> Vec<Value> {
    vec![
        text(&f.name),
        Value::Int(f.object_id()),
        Value::Null,
        Value::Int(cat.schema(&t.schema).map(|s| s.id).unwrap_or(1)),
        Value::Int(t.object_id),
        text("F "),
        text("FOREIGN_KEY_CONSTRAINT"),
        Value::DateTime(t.created),
        Value::DateTime(t.created),
        Value::Bit(false),
    ]
}

/// sys.foreign_keys. `is_disabled` and `is_not_trusted` say what SQL
/// Server would after CREATE TABLE, although the sandbox does not enforce.
pub(super) fn foreign_keys_rows(_v: &ViewDef, cat: &Catalog, _e: &ViewEnv<'_>) -> Vec<Vec<Value>> {
    let mut rows = Vec::new();
    for f in &cat.foreign_keys {
        let (Some(t), Some(target)) = (
            cat.by_sqlite(&f.parent_sqlite),
            cat.by_sqlite(&f.referenced_sqlite),
        ) else {
            continue;
        };
        let mut sorted: Vec<usize> = f.columns.iter().map(|c| c.1).collect();
        sorted.sort_unstable();
        let key_index = target.indexes.iter().filter(|i| i.unique).find(|i| {
            let mut k: Vec<usize> = i.columns.iter().map(|c| c.0).collect();
            k.sort_unstable();
            k == sorted
        });
        let mut r = object_head(cat, t, f);
        r.extend([
            Value::Int(target.object_id),
            key_index.map_or(Value::Null, |i| Value::Int(i.index_id)),
            Value::Bit(false),
            Value::Bit(false),
            Value::Int(0),
            text("NO_ACTION"),
            Value::Int(0),
            text("NO_ACTION"),
            Value::Bit(f.name.starts_with("FK__")),
        ]);
        rows.push(r);
    }
    rows
}

/// sys.foreign_key_columns: column ids are `sys.columns.column_id`.
pub(super) fn foreign_key_columns_rows(
    _v: &ViewDef,
    cat: &Catalog,
    _e: &ViewEnv<'_>,
) -> Vec<Vec<Value>> {
    let mut rows = Vec::new();
    for f in &cat.foreign_keys {
        let (Some(t), Some(target)) = (
            cat.by_sqlite(&f.parent_sqlite),
            cat.by_sqlite(&f.referenced_sqlite),
        ) else {
            continue;
        };
        for (n, (c, r)) in f.columns.iter().enumerate() {
            rows.push(vec![
                Value::Int(f.object_id()),
                Value::Int(n as i64 + 1),
                Value::Int(t.object_id),
                Value::Int(*c as i64 + 1),
                Value::Int(target.object_id),
                Value::Int(*r as i64 + 1),
            ]);
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::catalog::ColumnInfo;
    use crate::engine::datatype::DeclType;
    use crate::types::SqlType;

    fn t(name: &str, cols: &[&str]) -> TableInfo {
        TableInfo {
            schema: "dbo".into(),
            name: name.into(),
            sqlite: format!("dbo.{name}"),
            object_id: super::super::object_id_of("dbo", name),
            columns: cols
                .iter()
                .map(|c| ColumnInfo {
                    name: c.to_string(),
                    decl: DeclType::new(SqlType::Int),
                    nullable: true,
                    collation: None,
                })
                .collect(),
            indexes: Vec::new(),
            created: Default::default(),
        }
    }

    #[test]
    fn stored_keys_round_trip_and_vanish_with_their_columns() {
        let a = t("A", &["ID", "X"]);
        let b = t("B", &["Y", "AId"]);
        let fk = ForeignKeyInfo {
            name: "FK_B_A".into(),
            schema: "dbo".into(),
            parent_sqlite: "dbo.B".into(),
            referenced_sqlite: "dbo.A".into(),
            columns: vec![(1, 0)],
        };
        let v = fk.encode(&b, &a);
        assert_eq!(decode("dbo.B", &v, &[a.clone(), b.clone()]), Some(fk));
        assert_eq!(decode("dbo.B", &v, std::slice::from_ref(&b)), None);
        assert_eq!(decode("dbo.B", &v, &[a, t("B", &["Y"])]), None);
        assert_eq!(decode("dbo.B", "garbage", &[b]), None);
    }
}
