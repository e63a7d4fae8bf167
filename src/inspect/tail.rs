//! The end of [`super::inspect`]'s second round trip: the row sets that name
//! the objects of the findings, after everything else, so that
//! [`Rows::Stream`] can hand them on as they arrive once the rest of the
//! inspection is known. First each table's rows with a NULL owner and its
//! rows with a dangling owner, then the rows of each finding beyond
//! ownership ([`super::more`]): the order in which `check` writes the
//! findings.

use super::{more, Inspection, ObjectRow};
use crate::connect::Row;
use crate::quote::QuotedTable;
use crate::sql::FindingKind;
use anyhow::Result;

/// How many of the objects of each finding an inspection downloads. The
/// counts are exact whatever this says: the server counts them.
pub enum Rows<'a> {
    /// The first `n` of each finding, in key order: what a report for
    /// people names.
    Sample(usize),
    /// Every one, handed to the sink as it arrives and not kept, so memory
    /// stays bounded however many there are.
    Stream(&'a mut (dyn RowSink + Send)),
}

/// Which list of objects a streamed row belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ObjectsOf {
    /// The rows of that kind of table `n` of [`Inspection::tables`] (a
    /// finding only when the table's counts say so and it is not a copy).
    Owner(usize, FindingKind),
    /// The objects of finding `n` of [`Inspection::more`] (always a
    /// finding: rows of queries that found nothing are not handed on).
    More(usize),
}

/// Where [`Rows::Stream`] sends the rows.
pub trait RowSink {
    /// The inspection is complete but for its objects: called once, before
    /// the first row.
    fn ready(&mut self, inspection: &Inspection) -> Result<()>;
    /// One row of the list `of`.
    fn row(&mut self, of: ObjectsOf, row: ObjectRow) -> Result<()>;
    /// Every row of the list `of` has been handed over.
    fn end(&mut self, of: ObjectsOf) -> Result<()>;
}

/// The parameter (`n` of `@Pn`) that limits each finding's rows, when
/// `rows` asks for the first ones only: it follows the two parameters of
/// each of the `tables` object tables.
pub(super) fn top_param(rows: &Rows<'_>, tables: usize) -> Option<usize> {
    match rows {
        Rows::Sample(_) => Some(2 * tables + 1),
        _ => None,
    }
}

/// The row sets at the end of the batch, from set `first` on: two per
/// table, then one per finding query beyond ownership; and where their
/// rows go.
pub(super) struct Tail<'r, 'a> {
    rows: &'r mut Rows<'a>,
    first: usize,
    quoted: &'r [(QuotedTable, String)],
    /// Per query beyond ownership, its finding in [`Inspection::more`].
    more_at: Vec<Option<usize>>,
    /// The list whose rows are arriving.
    current: Option<ObjectsOf>,
    /// Per table, the rows with a NULL owner and with a dangling one.
    owners: Vec<(Vec<ObjectRow>, Vec<ObjectRow>)>,
    /// Per finding of [`Inspection::more`], its objects.
    more: Vec<(usize, Vec<ObjectRow>)>,
}

impl<'r, 'a> Tail<'r, 'a> {
    /// The tail of a batch whose first row set of objects is `first`.
    pub(super) fn new(
        rows: &'r mut Rows<'a>,
        first: usize,
        quoted: &'r [(QuotedTable, String)],
    ) -> Self {
        Tail {
            rows,
            first,
            quoted,
            more_at: Vec::new(),
            current: None,
            owners: vec![Default::default(); quoted.len()],
            more: Vec::new(),
        }
    }

    /// The rest of the inspection is known: `more_at` maps each query
    /// beyond ownership to its finding. A sink may start writing.
    pub(super) fn ready(&mut self, i: &Inspection, more_at: Vec<Option<usize>>) -> Result<()> {
        self.more_at = more_at;
        match self.rows {
            Rows::Stream(sink) => sink.ready(i),
            _ => Ok(()),
        }
    }

    fn of(&self, set: usize) -> Option<ObjectsOf> {
        let t = set.checked_sub(self.first)?;
        let owner_sets = 2 * self.quoted.len();
        if t < owner_sets {
            let kind = if t % 2 == 0 {
                FindingKind::NullOwner
            } else {
                FindingKind::DanglingOwner
            };
            return Some(ObjectsOf::Owner(t / 2, kind));
        }
        let at = *self.more_at.get(t - owner_sets)?;
        at.map(ObjectsOf::More)
    }

    /// Row set `set` begins: the one before it is complete.
    pub(super) fn start(&mut self, set: usize) -> Result<()> {
        self.close()?;
        self.current = self.of(set);
        Ok(())
    }

    /// One row of set `set`.
    pub(super) fn row(&mut self, set: usize, row: Row) -> Result<()> {
        let Some(of) = self.of(set) else {
            return Ok(());
        };
        let object = match of {
            ObjectsOf::Owner(t, _) => match self.quoted.get(t) {
                Some((q, _)) => super::finding_row(q, row),
                None => return Ok(()),
            },
            ObjectsOf::More(_) => more::object_row(row),
        };
        match (&mut self.rows, of) {
            (Rows::Stream(sink), _) => return sink.row(of, object),
            (_, ObjectsOf::Owner(t, FindingKind::NullOwner)) => self.owners[t].0.push(object),
            (_, ObjectsOf::Owner(t, FindingKind::DanglingOwner)) => self.owners[t].1.push(object),
            (_, ObjectsOf::More(f)) => match self.more.last_mut() {
                Some((g, v)) if *g == f => v.push(object),
                _ => self.more.push((f, vec![object])),
            },
        }
        Ok(())
    }

    /// The last row set is complete.
    pub(super) fn close(&mut self) -> Result<()> {
        if let (Some(of), Rows::Stream(sink)) = (self.current.take(), &mut self.rows) {
            sink.end(of)?;
        }
        Ok(())
    }

    /// Puts the collected objects (none when streamed) into `i`.
    pub(super) fn into_inspection(self, i: &mut Inspection) {
        for (t, (null, dangling)) in i.tables.iter_mut().zip(self.owners) {
            t.null_owner = null;
            t.dangling_owner = dangling;
        }
        for (f, objects) in self.more {
            if let Some(list) = i.more.get_mut(f).and_then(|f| f.objects_mut()) {
                *list = objects;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoted(name: &str) -> (QuotedTable, String) {
        let q = QuotedTable {
            table: format!("[dbo].[{name}]"),
            owner: "[OwnerPoolId]".into(),
            keys: vec!["[ID]".into()],
            display: None,
        };
        (q, format!("[dbo].[{name}]"))
    }

    #[test]
    fn sets_are_two_per_table_then_one_per_query_beyond_ownership() {
        let tables = [quoted("A"), quoted("B")];
        let mut rows = Rows::Sample(20);
        let mut tail = Tail::new(&mut rows, 5, &tables);
        tail.more_at = vec![None, Some(0), Some(1)];
        let of: Vec<_> = (4..=12).map(|s| tail.of(s)).collect();
        use FindingKind::*;
        assert_eq!(
            of,
            vec![
                None,
                Some(ObjectsOf::Owner(0, NullOwner)),
                Some(ObjectsOf::Owner(0, DanglingOwner)),
                Some(ObjectsOf::Owner(1, NullOwner)),
                Some(ObjectsOf::Owner(1, DanglingOwner)),
                None,
                Some(ObjectsOf::More(0)),
                Some(ObjectsOf::More(1)),
                None,
            ]
        );
        let row = |n| Row {
            values: vec![
                crate::value::DbValue::BigInt(n),
                crate::value::DbValue::Null,
            ],
        };
        for (set, n) in [(10, 1), (10, 2), (11, 3), (9, 4)] {
            tail.row(set, row(n)).unwrap();
        }
        let keys: Vec<(usize, usize)> = tail.more.iter().map(|(f, v)| (*f, v.len())).collect();
        assert_eq!(
            keys,
            vec![(0, 2), (1, 1)],
            "the query that found nothing keeps nothing"
        );
    }
}
