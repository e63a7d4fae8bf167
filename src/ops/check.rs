//! `rgs-repair check`: read-only report of owner pools and findings.

use super::{Context, Format};
use crate::connect::Connection;
use crate::error::{EXIT_FINDINGS, EXIT_OK};
use crate::findings::{fails, FailOn};
use crate::inspect::{inspect_for, Finding, Inspection, ObjectRow, ObjectsOf, RowSink, Rows};
use crate::report::json::{object_json, write_json, Piece};
use crate::report::{self, HUMAN_OBJECT_LIMIT};
use crate::sql::FindingKind;
use anyhow::{anyhow, Result};
use std::collections::HashSet;
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// What `check` found in one database.
pub struct Checked {
    /// Pools, tables and the inspection's own findings.
    pub inspection: Inspection,
    /// The inspection's findings and the others `check` reads.
    pub findings: Vec<Finding>,
    /// 0 healthy, 3 when a finding `--fail-on` selects is present.
    pub exit_code: u8,
}

/// Runs `check`; exit 0 when healthy, 3 when a finding `fail_on` selects
/// is present (empty: every error, as before codes existed).
pub async fn run(ctx: &Context, fail_on: &[FailOn]) -> Result<u8> {
    let mut conn = ctx.connect().await?;
    let progress = ctx.progress(&format!("Reading {}", conn.database));
    if ctx.format == Format::Json {
        let mut sink = JsonSink::new(fail_on);
        let read = inspect_for(&mut conn, true, Rows::Stream(&mut sink)).await;
        drop(progress);
        return sink.finish(read.map(|_| ()));
    }
    let c = examine(&mut conn, fail_on).await?;
    drop(progress);
    print!(
        "{}",
        report::check_human(
            &c.inspection,
            &c.findings,
            &ctx.command(std::iter::empty::<String>())?
        )
    );
    Ok(c.exit_code)
}

/// The check itself on an open connection, shared by `check` and
/// `check --targets` so that one target is checked the same way either way.
/// It names the first objects of each finding; the counts are exact.
pub async fn examine(conn: &mut Connection, fail_on: &[FailOn]) -> Result<Checked> {
    let inspection = inspect_for(conn, true, Rows::Sample(HUMAN_OBJECT_LIMIT)).await?;
    let (findings, exit_code) = judge(&inspection, fail_on);
    Ok(Checked {
        inspection,
        findings,
        exit_code,
    })
}

/// Every finding of `inspection`, and the exit code they make.
fn judge(inspection: &Inspection, fail_on: &[FailOn]) -> (Vec<Finding>, u8) {
    let mut findings = inspection.findings();
    findings.extend(inspection.more.iter().cloned());
    let codes: Vec<&str> = findings.iter().map(|f| f.code()).collect();
    let exit_code = if fails(fail_on, &codes) {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    };
    (findings, exit_code)
}

/// How many objects may wait between the connection and standard output.
const IN_FLIGHT: usize = 4096;

/// `check --format json` as the rows arrive: once everything but the rows
/// is known, a thread starts writing the document, and the objects of each
/// finding that names objects (NULL or dangling owner, no line URI,
/// unused) are passed to it one by one, in the order the document lists
/// the findings. Memory stays bounded however many objects there are.
struct JsonSink<'a> {
    fail_on: &'a [FailOn],
    exit_code: u8,
    /// The lists that are findings, whose objects the document lists.
    listed: HashSet<ObjectsOf>,
    tx: Option<SyncSender<Piece>>,
    writer: Option<JoinHandle<Result<()>>>,
}

impl<'a> JsonSink<'a> {
    fn new(fail_on: &'a [FailOn]) -> Self {
        JsonSink {
            fail_on,
            exit_code: EXIT_OK,
            listed: HashSet::new(),
            tx: None,
            writer: None,
        }
    }

    fn send(&mut self, piece: Piece) -> Result<()> {
        match &self.tx {
            Some(tx) => tx
                .send(piece)
                .map_err(|_| anyhow!("standard output stopped taking the document")),
            None => Ok(()),
        }
    }

    /// Waits for the document to be written; `read` is how the reading
    /// ended. An error after the document began leaves it unfinished
    /// (not valid JSON), never complete-looking with rows missing.
    fn finish(mut self, read: Result<()>) -> Result<u8> {
        drop(self.tx.take());
        let written = self.writer.take().map(|w| {
            w.join()
                .unwrap_or_else(|_| Err(anyhow!("the writer panicked")))
        });
        read?;
        match written {
            Some(w) => w?,
            None => return Err(anyhow!("the inspection ended before it was complete")),
        }
        Ok(self.exit_code)
    }
}

impl RowSink for JsonSink<'_> {
    fn ready(&mut self, inspection: &Inspection) -> Result<()> {
        let (findings, exit_code) = judge(inspection, self.fail_on);
        self.exit_code = exit_code;
        for (n, t) in inspection.tables.iter().enumerate() {
            if t.table.copy_of.is_some() {
                continue;
            }
            if t.null_count > 0 {
                self.listed
                    .insert(ObjectsOf::Owner(n, FindingKind::NullOwner));
            }
            if t.dangling_count > 0 {
                self.listed
                    .insert(ObjectsOf::Owner(n, FindingKind::DanglingOwner));
            }
        }
        for (n, f) in inspection.more.iter().enumerate() {
            if matches!(f, Finding::NoLineUri { .. } | Finding::Unused { .. }) {
                self.listed.insert(ObjectsOf::More(n));
            }
        }
        let (tx, rx) = sync_channel(IN_FLIGHT);
        let doc = report::check_json(inspection, &findings, Some(&Arc::new(Mutex::new(rx))));
        self.tx = Some(tx);
        self.writer = Some(std::thread::spawn(move || write_json(&doc)));
        Ok(())
    }

    fn row(&mut self, of: ObjectsOf, row: ObjectRow) -> Result<()> {
        if self.listed.contains(&of) {
            self.send(Piece::Object(object_json(&row)))?;
        }
        Ok(())
    }

    fn end(&mut self, of: ObjectsOf) -> Result<()> {
        if self.listed.contains(&of) {
            self.send(Piece::End)?;
        }
        Ok(())
    }
}
