//! The order a bulk load inserts its rows in.
//!
//! SQL Server stores a table with a clustered index in that index's order
//! and sorts a bulk load into it; the sandbox does the same, one run of
//! rows at a time. Besides the likeness, it is what makes a large load
//! fast: rows arriving in random key order (GUIDs) make every insert a
//! walk through pages no cache holds, while sorted runs walk the index
//! from left to right. Which order the rows go in changes nothing else:
//! the load is all or nothing, and a table has no order of its own.

use crate::engine::catalog::{ColumnInfo, TableInfo};
use crate::engine::collation::Collation;
use crate::engine::datatype::{family, stored_sort_key, Family};
use rusqlite::types::Value as SqlVal;
use std::cmp::Ordering;

/// How many values (rows times columns) are sorted and inserted
/// together. Only a load sorted whole gains much (into an empty table
/// every insert is then an append, which SQLite does without searching
/// the index), so a run holds a million one-column keys; beyond it, the
/// memory a load holds stays bounded (about 80 bytes a value).
pub(super) const RUN_VALUES: usize = 1 << 20;

/// How one key column's stored values compare.
#[derive(Debug, Clone, Copy)]
enum Cmp {
    /// uniqueidentifier: bytewise, as SQLite orders the stored form
    /// (SQL Server's order), with a numeric key to sort by.
    Guid,
    /// Character data under its collation.
    Text(Collation),
    /// Numbers, date/time texts, binary: as SQLite orders them.
    Plain,
}

/// The clustered index's key as positions in the rows of a bulk load.
#[derive(Debug, Clone)]
pub(super) struct RowOrder {
    /// (position in the row, comparison, descending).
    keys: Vec<(usize, Cmp, bool)>,
}

impl RowOrder {
    /// The order of `table`'s clustered index for rows carrying `columns`
    /// (positions in `table.columns`): its leading key columns the rows
    /// carry. None for a heap, or when the rows lack the first key column
    /// (it takes its default), where arrival order is as good as any.
    pub fn of(table: &TableInfo, columns: &[usize]) -> Option<RowOrder> {
        let index = table.indexes.iter().find(|i| i.clustered)?;
        let keys: Vec<(usize, Cmp, bool)> = index
            .columns
            .iter()
            .map_while(|&(c, desc)| {
                let at = columns.iter().position(|&x| x == c)?;
                Some((at, cmp_of(table.columns.get(c)?), desc))
            })
            .collect();
        (!keys.is_empty()).then_some(RowOrder { keys })
    }

    /// Compares two rows by the key.
    fn cmp(&self, a: &[SqlVal], b: &[SqlVal]) -> Ordering {
        for &(at, how, desc) in &self.keys {
            let o = cmp_values(&a[at], &b[at], how);
            if o != Ordering::Equal {
                return if desc { o.reverse() } else { o };
            }
        }
        Ordering::Equal
    }

    /// The positions of the rows of `run` (`width` values each, row after
    /// row) in key order, arrival order among equal keys. The leading key
    /// is turned into a number first where it can be (a GUID's order key),
    /// so that a million rows sort without chasing their values.
    pub fn sorted(&self, run: &[SqlVal], width: usize) -> Vec<u32> {
        let row = |i: u32| &run[i as usize * width..(i as usize + 1) * width];
        let (at, how, desc) = self.keys[0];
        let mut keyed: Vec<(u8, u128, u32)> = (0..(run.len() / width) as u32)
            .map(|i| {
                let v = &row(i)[at];
                (class(v), prefix(v, how), i)
            })
            .collect();
        keyed.sort_unstable_by(|a, b| {
            let o = (a.0, a.1).cmp(&(b.0, b.1));
            (if desc { o.reverse() } else { o })
                .then_with(|| self.cmp(row(a.2), row(b.2)))
                .then(a.2.cmp(&b.2))
        });
        keyed.into_iter().map(|k| k.2).collect()
    }
}

/// A number ordering the values of one storage class as [`cmp_values`]
/// does, or 0 where none is cheap (the comparison then decides).
fn prefix(v: &SqlVal, how: Cmp) -> u128 {
    match (v, how) {
        (SqlVal::Text(t), Cmp::Guid) => stored_sort_key(t.as_bytes()),
        _ => 0,
    }
}

fn cmp_of(c: &ColumnInfo) -> Cmp {
    match family(c.decl.ty) {
        Family::Guid => Cmp::Guid,
        Family::Text => Cmp::Text(c.collation.unwrap_or(crate::engine::collation::DEFAULT)),
        _ => Cmp::Plain,
    }
}

/// SQLite's order of storage classes: NULL, numbers, text, blobs.
fn class(v: &SqlVal) -> u8 {
    match v {
        SqlVal::Null => 0,
        SqlVal::Integer(_) | SqlVal::Real(_) => 1,
        SqlVal::Text(_) => 2,
        SqlVal::Blob(_) => 3,
    }
}

fn cmp_values(a: &SqlVal, b: &SqlVal, how: Cmp) -> Ordering {
    match (a, b) {
        (SqlVal::Integer(x), SqlVal::Integer(y)) => x.cmp(y),
        (SqlVal::Integer(_) | SqlVal::Real(_), SqlVal::Integer(_) | SqlVal::Real(_)) => {
            number(a).total_cmp(&number(b))
        }
        (SqlVal::Text(x), SqlVal::Text(y)) => match how {
            Cmp::Text(c) => (c.compare())(x, y),
            Cmp::Guid | Cmp::Plain => x.cmp(y),
        },
        (SqlVal::Blob(x), SqlVal::Blob(y)) => x.cmp(y),
        _ => class(a).cmp(&class(b)),
    }
}

fn number(v: &SqlVal) -> f64 {
    match v {
        SqlVal::Integer(i) => *i as f64,
        SqlVal::Real(f) => *f,
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::catalog::{IndexInfo, IndexKind};
    use crate::engine::datatype::DeclType;
    use crate::types::SqlType;

    fn column(name: &str, ty: SqlType) -> ColumnInfo {
        ColumnInfo {
            name: name.into(),
            decl: DeclType::new(ty),
            nullable: false,
            collation: None,
        }
    }

    fn table(clustered: bool, key: Vec<(usize, bool)>) -> TableInfo {
        TableInfo {
            schema: "dbo".into(),
            name: "#k".into(),
            sqlite: "k".into(),
            object_id: 1,
            columns: vec![
                column("ID", SqlType::UniqueIdentifier),
                column("Name", SqlType::NVarChar(Some(20))),
                column("N", SqlType::Int),
            ],
            indexes: vec![IndexInfo {
                name: "PK".into(),
                kind: IndexKind::PrimaryKey,
                unique: true,
                clustered,
                columns: key,
                index_id: 1,
            }],
            created: chrono::NaiveDateTime::default(),
        }
    }

    fn text(s: &str) -> SqlVal {
        SqlVal::Text(s.into())
    }

    #[test]
    fn rows_sort_by_the_clustered_key_in_sql_server_order() {
        // Rows carry (N, ID): the key's column is found by position.
        let order = RowOrder::of(&table(true, vec![(0, false)]), &[2, 0]).unwrap();
        // Stored forms (see `datatype`) of 00000000-0000-0000-0000-000000000001,
        // 00000001-0000-0000-0000-000000000000 and
        // 00000000-0000-0000-0100-000000000000.
        let run = [
            SqlVal::Integer(0),
            text("000000000001-0000-0000-0000-00000000"),
            SqlVal::Integer(1),
            text("000000000000-0000-0000-0000-01000000"),
            SqlVal::Integer(2),
            SqlVal::Null,
            SqlVal::Integer(3),
            text("000000000000-0100-0000-0000-00000000"),
            SqlVal::Integer(4),
            text("000000000000-0000-0000-0000-01000000"),
        ];
        assert_eq!(order.sorted(&run, 2), [2, 1, 4, 3, 0]);
        let desc = RowOrder::of(&table(true, vec![(0, true)]), &[2, 0]).unwrap();
        assert_eq!(desc.sorted(&run, 2), [0, 3, 1, 4, 2]);
    }

    #[test]
    fn text_keys_use_their_collation_and_equal_keys_keep_arrival_order() {
        let order = RowOrder::of(&table(true, vec![(1, false)]), &[1, 2]).unwrap();
        let run = [
            text("b"),
            SqlVal::Integer(0),
            text("A"),
            SqlVal::Integer(1),
            text("a "),
            SqlVal::Integer(2),
            SqlVal::Null,
            SqlVal::Integer(3),
            SqlVal::Integer(7),
            SqlVal::Integer(4),
        ];
        assert_eq!(order.sorted(&run, 2), [3, 4, 1, 2, 0]);
    }

    #[test]
    fn heaps_and_rows_without_the_leading_key_keep_arrival_order() {
        assert!(RowOrder::of(&table(false, vec![(0, false)]), &[0, 1]).is_none());
        assert!(RowOrder::of(&table(true, vec![(0, false), (1, false)]), &[1, 2]).is_none());
        let partial = RowOrder::of(&table(true, vec![(2, false), (0, false)]), &[2]).unwrap();
        assert_eq!(partial.keys.len(), 1);
    }
}
