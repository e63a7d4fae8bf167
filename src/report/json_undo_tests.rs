//! The streamed parts of the documents: `undo`'s ([`UndoRowStream`]),
//! written as its rows are pulled, the same bytes as a list in memory,
//! unfinished when a row fails; and `check`'s lists of objects.

use super::*;
use crate::journal::RowChange;
use crate::value::DbValue;
use std::cell::RefCell;
use std::rc::Rc;

/// A writer whose bytes the test can read while serialization goes on.
#[derive(Clone, Default)]
struct Shared(Rc<RefCell<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn text(&self) -> String {
        String::from_utf8(self.0.borrow().clone()).unwrap()
    }
}

/// Journalled row `n` of `dbo.AgentGroups`, left alone when `left`.
fn row(n: u128, left: bool) -> UndoRow {
    let pool = DbValue::Guid(uuid::Uuid::from_u128(1));
    UndoRow {
        table: "dbo.AgentGroups".into(),
        change: RowChange {
            key: vec![DbValue::Guid(uuid::Uuid::from_u128(0x100 + n))],
            name: Some(format!("Group {n}")),
            old: DbValue::Null,
            new: pool.clone(),
        },
        current: Some(if left { DbValue::Null } else { pool }),
        holds_fixed: !left,
    }
}

fn counts(rows: usize, left_alone: usize) -> UndoCounts {
    UndoCounts { rows, left_alone }
}

#[test]
fn undo_rows_are_written_as_they_are_pulled() {
    let out = Shared::default();
    let seen = out.clone();
    // Each row, when pulled, finds every row before it already written.
    let rows = (0..3u128).map(move |n| {
        let text = seen.text();
        for before in 0..n {
            assert!(
                text.contains(&format!("\"Group {before}\"")),
                "row {before} was not written before row {n} was read:\n{text}"
            );
        }
        assert!(!text.contains(&format!("\"Group {n}\"")));
        Ok(row(n, n == 2))
    });
    let doc = undo_json(
        UndoOutcome::DryRun,
        std::path::Path::new("j.json"),
        counts(3, 1),
        rows,
    );
    serde_json::to_writer_pretty(out.clone(), &doc).unwrap();
    let v: serde_json::Value = serde_json::from_str(&out.text()).unwrap();
    assert_eq!(
        (v["restorable"].as_u64(), v["left_alone"].as_u64()),
        (Some(2), Some(1))
    );
    let states: Vec<&str> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["put_back", "put_back", "changed_since_fix"]);
}

#[test]
fn an_undo_row_that_cannot_be_read_leaves_the_document_unfinished() {
    let rows = (0..3u128).map(|n| match n {
        2 => Err(anyhow::anyhow!("the journal changed while it was read")),
        n => Ok(row(n, false)),
    });
    let doc = undo_json(
        UndoOutcome::DryRun,
        std::path::Path::new("j.json"),
        counts(3, 0),
        rows,
    );
    let out = Shared::default();
    let e = serde_json::to_writer_pretty(out.clone(), &doc).unwrap_err();
    assert!(e.to_string().contains("changed while it was read"), "{e}");
    let text = out.text();
    assert!(text.contains("\"Group 1\""), "{text}");
    assert!(serde_json::from_str::<serde_json::Value>(&text).is_err());
    // Serializing again must not produce a complete-looking document.
    assert!(serde_json::to_string_pretty(&doc).is_err());
}

#[test]
fn undo_rows_that_contradict_the_stated_counts_fail_the_document() {
    for (stated, rows) in [
        (counts(3, 0), vec![row(0, false), row(1, false)]),
        (counts(2, 0), vec![row(0, false), row(1, true)]),
    ] {
        let doc = undo_json(
            UndoOutcome::DryRun,
            std::path::Path::new("j.json"),
            stated,
            rows.into_iter().map(Ok),
        );
        let e = serde_json::to_string_pretty(&doc).unwrap_err();
        assert!(e.to_string().contains("preview counted"), "{e}");
    }
}

/// The document as it was written before its rows were streamed (every
/// row in memory): the streamed one must be the same bytes.
#[derive(Serialize)]
struct InMemory {
    schema_version: u32,
    command: &'static str,
    outcome: UndoOutcome,
    dry_run: bool,
    committed: bool,
    journal: &'static str,
    undo_journal: Option<&'static str>,
    restorable: usize,
    restored: usize,
    left_alone: usize,
    rows: Vec<UndoRowJson>,
}

#[test]
fn streamed_undo_documents_are_the_bytes_an_in_memory_one_was() {
    for n in [0u128, 1, 3] {
        let rows: Vec<UndoRow> = (0..n).map(|i| row(i, i == 1)).collect();
        let left = usize::from(n > 1);
        let old = InMemory {
            schema_version: SCHEMA_VERSION,
            command: "undo",
            outcome: UndoOutcome::Committed,
            dry_run: false,
            committed: true,
            journal: "j.json",
            undo_journal: Some("j.undo.json"),
            restorable: rows.len() - left,
            restored: rows.len() - left,
            left_alone: left,
            rows: rows.iter().map(undo_row_json).collect(),
        };
        let mut doc = undo_json(
            UndoOutcome::Committed,
            std::path::Path::new("j.json"),
            counts(rows.len(), left),
            rows.into_iter().map(Ok),
        );
        doc.undo_journal = Some("j.undo.json".into());
        assert_eq!(
            serde_json::to_string_pretty(&doc).unwrap(),
            serde_json::to_string_pretty(&old).unwrap()
        );
    }
}

/// `check`'s streamed lists ([`ObjectList::Streamed`]) share the same
/// promise: a list whose rows stop before [`Piece::End`] fails the
/// document instead of closing it as if it were complete.
mod check_stream {
    use super::super::*;
    use std::sync::mpsc::sync_channel;

    fn object(n: u32) -> ObjectJson {
        ObjectJson {
            key: vec![n.to_string()],
            name: Some(format!("group {n}")),
            owner_pool_id: None,
        }
    }

    #[test]
    fn a_list_that_stops_before_its_end_fails_the_document() {
        let (tx, rx) = sync_channel(4);
        tx.send(Piece::Object(object(1))).unwrap();
        drop(tx); // the reading side gave up after one row
        let list = ObjectList::Streamed(Arc::new(Mutex::new(rx)));
        let mut out = Vec::new();
        let e = serde_json::to_writer(&mut out, &list).unwrap_err();
        assert!(e.to_string().contains("stopped before the end"), "{e}");
        let partial = String::from_utf8(out).unwrap();
        assert!(partial.contains("group 1"), "{partial}");
        assert!(serde_json::from_str::<serde_json::Value>(&partial).is_err());
    }

    #[test]
    fn a_list_that_reaches_its_end_is_a_complete_array() {
        let (tx, rx) = sync_channel(4);
        tx.send(Piece::Object(object(1))).unwrap();
        tx.send(Piece::Object(object(2))).unwrap();
        tx.send(Piece::End).unwrap();
        let list = ObjectList::Streamed(Arc::new(Mutex::new(rx)));
        let v: serde_json::Value = serde_json::to_value(&list).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 2);
        assert_eq!(v[1]["name"], "group 2");
    }
}
