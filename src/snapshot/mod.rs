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
use crate::inspect::server_info;
use crate::sql::{self, snapshot::Isolation};
use anyhow::{anyhow, Context, Result};
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

/// Takes a snapshot of the connected database into `out`.
pub async fn take(conn: &mut Connection, out: &Path, options: &Options) -> Result<Summary> {
    let staging = files::stage(out, options.force)?;
    let info = server_info(conn).await?;
    let state = conn.rows(&sql::snapshot::isolation_state(), &[]).await?;
    let isolation = match state.first().map(|r| r.int(0)) {
        Some(1) => Isolation::Snapshot,
        _ => Isolation::TableLocks,
    };
    conn.read_transaction(&sql::snapshot::begin(isolation))
        .await?;
    let taken_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let read = read_all(conn, &staging, options, isolation).await;
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

/// The catalog and every chosen table's rows, inside the transaction.
async fn read_all(
    conn: &mut Connection,
    staging: &files::Staging,
    options: &Options,
    isolation: Isolation,
) -> Result<Vec<Table>> {
    let mut tables = schema::read_catalog(conn).await?;
    if let Some(only) = &options.tables {
        if let Some(missing) = only
            .iter()
            .find(|n| !tables.iter().any(|t| t.full_name().eq_ignore_ascii_case(n)))
        {
            return Err(anyhow!("table {missing} is not in the database"));
        }
        tables.retain(|t| only.iter().any(|n| t.full_name().eq_ignore_ascii_case(n)));
    }
    let bar = progress(options.progress);
    for t in &mut tables {
        t.rows = write_table(conn, staging, t, isolation, &bar).await?;
    }
    bar.finish_and_clear();
    Ok(tables)
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

/// Streams one table into its CSV file; returns its row count.
async fn write_table(
    conn: &mut Connection,
    staging: &files::Staging,
    t: &Table,
    isolation: Isolation,
    bar: &indicatif::ProgressBar,
) -> Result<u64> {
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
    let path = staging.path(&t.file);
    let mut out = BufWriter::with_capacity(1 << 16, File::create(&path)?);
    let header: Vec<Option<&str>> = t.columns.iter().map(|c| Some(c.name.as_str())).collect();
    rfc4180::write_record(&mut out, &header)?;
    bar.set_message(t.full_name());
    bar.set_position(0);
    let width = t.columns.len();
    let mut fields: Vec<Option<String>> = Vec::with_capacity(width);
    let n = conn
        .stream(
            &sql::snapshot::rows(&table, &columns, &order, isolation),
            &[],
            |row| {
                fields.clear();
                fields.extend(row.into_iter().map(|d| render::text(&d)));
                if fields.len() != width {
                    return Err(anyhow!(
                        "table {}: {} values in a row of {width} columns",
                        t.full_name(),
                        fields.len()
                    ));
                }
                rfc4180::write_record(&mut out, &fields)?;
                bar.inc(1);
                Ok(())
            },
        )
        .await
        .with_context(|| format!("reading {}", t.full_name()))?;
    out.flush()?;
    Ok(n)
}
