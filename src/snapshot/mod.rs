//! `snapshot`: every user table of the database written down as CSV, with
//! `schema.json` and `inventory.md`, read in one read-only transaction so
//! that the files are one picture, streamed row by row (memory does not
//! grow with the tables), written to a temporary folder and renamed when
//! complete. `diff` compares two snapshots.
//!
//! Reads go through [`Connection`] only: the transaction is begun and
//! rolled back with [`sql::snapshot::ReadTransaction`] statements, which
//! change no data.

pub mod diff;
pub mod files;
pub mod inventory;
pub mod render;
pub mod rfc4180;
pub mod schema;

use crate::connect::Connection;
use crate::inspect::{server_info, ServerInfo};
use crate::sql::{self, snapshot::Isolation};
use anyhow::{anyhow, bail, Context, Result};
use schema::{CsvNote, IsolationNote, Schema, Server, Table};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// What to snapshot.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Only these tables (`schema.table`, any case); None: every user table.
    pub tables: Option<Vec<String>>,
    /// Replace a folder that is not empty.
    pub force: bool,
    /// Show progress on standard error (a terminal).
    pub progress: bool,
    /// Where the connection is, when the caller read it already (`fix`
    /// did, in its inspection); None: the snapshot reads it.
    pub server: Option<ServerInfo>,
}

/// What was written.
#[derive(Clone, Debug)]
pub struct Summary {
    /// The snapshot's folder.
    pub dir: PathBuf,
    /// Tables written.
    pub tables: usize,
    /// Rows written, all tables.
    pub rows: u64,
    /// How the files were kept one picture.
    pub isolation: Isolation,
}

/// Takes a snapshot of the connected database into `out`, in a number of
/// requests that does not grow with the tables: where (the server, unless
/// `options` knows it); how and what (whether SNAPSHOT isolation is
/// allowed, and the catalog, in one batch); BEGIN; every table's rows (one
/// batch, streamed table by table into the files); and the end of the
/// transaction.
pub async fn take(conn: &mut Connection, out: &Path, options: &Options) -> Result<Summary> {
    let staging = files::stage(out, options.force)?;
    let info = match &options.server {
        Some(known) => known.clone(),
        None => server_info(conn).await?,
    };
    // The catalog is read just before BEGIN: SNAPSHOT isolation does not
    // version metadata, and a table altered after this read fails its own
    // read (SQL Server error 3961, or a row of another width) either way.
    let reads = std::iter::once(sql::snapshot::isolation_state()).chain(schema::catalog_reads());
    let mut sets = conn
        .results(&sql::Read::batch(reads), &[])
        .await?
        .into_iter();
    let isolation = match sets.next().and_then(|s| s.first().map(|r| r.int(0))) {
        Some(1) => Isolation::Snapshot,
        _ => Isolation::TableLocks,
    };
    let tables = chosen(schema::catalog_from(sets), options)?;
    conn.read_transaction(&sql::snapshot::begin(isolation))
        .await?;
    let taken_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let read = read_rows(conn, &staging, tables, options, isolation).await;
    // Ended whatever happened; after a lost connection this fails too, and
    // the first error is the one to tell.
    let end = conn.read_transaction(&sql::snapshot::end()).await;
    let tables = read?;
    end?;
    let schema = Schema {
        format: schema::FORMAT.into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        taken_at,
        server: Server {
            server: info.server.clone(),
            product_version: info.product_version.clone(),
            identity: info.identity.clone(),
        },
        isolation: note(isolation),
        csv: CsvNote::current(),
        foreign_keys_declared: tables.iter().any(|t| !t.foreign_keys.is_empty()),
        tables,
    };
    let mut f = BufWriter::new(File::create(staging.path("schema.json"))?);
    serde_json::to_writer_pretty(&mut f, &schema)?;
    f.write_all(b"\n")?;
    f.flush()?;
    drop(f);
    let md = inventory::write(&schema, &staging.tmp)?;
    std::fs::write(staging.path("inventory.md"), md)?;
    let rows = schema.tables.iter().map(|t| t.rows).sum();
    let dir = staging.finish()?;
    Ok(Summary {
        dir,
        tables: schema.tables.len(),
        rows,
        isolation,
    })
}

/// schema.json's account of the isolation.
pub fn note(isolation: Isolation) -> IsolationNote {
    match isolation {
        Isolation::Snapshot => IsolationNote {
            level: "SNAPSHOT".into(),
            why: "the database allows SNAPSHOT isolation: every table was read from the same row versions, as of the transaction's first read, without blocking anyone".into(),
        },
        Isolation::TableLocks => IsolationNote {
            level: "READ COMMITTED + TABLOCK, HOLDLOCK".into(),
            why: "the database does not allow SNAPSHOT isolation (ALLOW_SNAPSHOT_ISOLATION OFF): each table was share-locked as it was read and held to the end of the one transaction, so no table changed after it was read and the files equal the database at the moment the last table was locked; writers waited meanwhile".into(),
        },
    }
}

/// The tables `options` chose (all, or those `--tables` names, every one of
/// which must exist).
fn chosen(mut tables: Vec<Table>, options: &Options) -> Result<Vec<Table>> {
    if let Some(only) = &options.tables {
        if let Some(missing) = only
            .iter()
            .find(|n| !tables.iter().any(|t| t.full_name().eq_ignore_ascii_case(n)))
        {
            return Err(anyhow!("table {missing} is not in the database"));
        }
        tables.retain(|t| only.iter().any(|n| t.full_name().eq_ignore_ascii_case(n)));
    }
    Ok(tables)
}

/// Every chosen table's rows, inside the transaction: one batch with a
/// SELECT per table, each result set streamed into its table's CSV file
/// as it arrives. Returns the tables with their row counts.
async fn read_rows(
    conn: &mut Connection,
    staging: &files::Staging,
    mut tables: Vec<Table>,
    options: &Options,
    isolation: Isolation,
) -> Result<Vec<Table>> {
    let reads = tables
        .iter()
        .map(|t| rows_sql(t, isolation))
        .collect::<Result<Vec<_>>>()?;
    if reads.is_empty() {
        return Ok(tables);
    }
    let bar = progress(options.progress);
    let mut files = CsvFiles {
        staging,
        tables: &tables,
        current: None,
        rows: vec![0; tables.len()],
        fields: Vec::new(),
        bar: &bar,
    };
    let read = conn
        .each_raw(&sql::Read::batch(reads), &[], |set, row| match row {
            None => files.start(set),
            Some(row) => files.row(set, row),
        })
        .await;
    let done = read.and_then(|_| files.finish());
    bar.finish_and_clear();
    let rows = files.rows;
    if let Err(e) = done {
        // A failing statement's error comes at the end of the answer, so
        // the table read last is the best clue to which one failed.
        let at = files.current.map(|(i, _)| tables[i].full_name());
        return Err(match at {
            Some(t) => e.context(format!("reading the tables' rows (last read: {t})")),
            None => e.context("reading the tables' rows"),
        });
    }
    for (t, n) in tables.iter_mut().zip(rows) {
        t.rows = n;
    }
    Ok(tables)
}

/// One table's SELECT of every row and column, in key order.
fn rows_sql(t: &Table, isolation: Isolation) -> Result<sql::Read> {
    let table = schema::quoted_table(t)?;
    let columns = t
        .columns
        .iter()
        .map(schema::select_item)
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| {
            anyhow!(
                "table {}: a column name longer than SQL Server allows",
                t.full_name()
            )
        })?;
    let order = t
        .primary_key
        .iter()
        .map(|k| crate::quote::quote_name(k))
        .collect::<Option<Vec<_>>>()
        .unwrap_or_default();
    Ok(sql::snapshot::rows(&table, &columns, &order, isolation))
}

/// The CSV files of a snapshot as the one batch of rows arrives: result
/// set `i` is table `i`'s rows, written to its file (header first).
struct CsvFiles<'a> {
    staging: &'a files::Staging,
    tables: &'a [Table],
    /// The table being written, and its file.
    current: Option<(usize, BufWriter<File>)>,
    /// Rows written, per table.
    rows: Vec<u64>,
    fields: Vec<Option<String>>,
    bar: &'a indicatif::ProgressBar,
}

impl CsvFiles<'_> {
    /// Result set `set` begins: the previous table's file is complete.
    fn start(&mut self, set: usize) -> Result<()> {
        self.finish()?;
        let t = self.tables.get(set).ok_or_else(|| {
            anyhow!(
                "the server answered more result sets than the {} tables asked for",
                self.tables.len()
            )
        })?;
        let mut out = BufWriter::with_capacity(1 << 16, File::create(self.staging.path(&t.file))?);
        let header: Vec<Option<&str>> = t.columns.iter().map(|c| Some(c.name.as_str())).collect();
        rfc4180::write_record(&mut out, &header)?;
        self.bar.set_message(t.full_name());
        self.bar.set_position(0);
        self.current = Some((set, out));
        Ok(())
    }

    fn row(&mut self, set: usize, row: tiberius::Row) -> Result<()> {
        let Some((i, out)) = self.current.as_mut().filter(|(i, _)| *i == set) else {
            bail!("a row arrived outside its table's result set");
        };
        let t = &self.tables[*i];
        let width = t.columns.len();
        self.fields.clear();
        self.fields
            .extend(row.into_iter().map(|d| render::text(&d)));
        if self.fields.len() != width {
            bail!(
                "table {}: {} values in a row of {width} columns",
                t.full_name(),
                self.fields.len()
            );
        }
        rfc4180::write_record(out, &self.fields)?;
        self.rows[*i] += 1;
        self.bar.inc(1);
        Ok(())
    }

    /// Flushes the file being written.
    fn finish(&mut self) -> Result<()> {
        if let Some((i, mut out)) = self.current.take() {
            out.flush()
                .with_context(|| format!("writing {}", self.tables[i].file))?;
        }
        Ok(())
    }
}

/// A spinner with the table and its rows so far, on a terminal only.
fn progress(show: bool) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{spinner} {msg} {pos} rows ({per_sec})")
    {
        bar.set_style(style);
    }
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}
