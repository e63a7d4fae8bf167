//! undo's reads: the fix's keys sent once into session temporary tables
//! (`#rgs_undo_N`, by bulk load), then everything compared on the server
//! through them: how many journalled rows still hold the value the fix
//! wrote, with a checksum of their keys, and which rows are left alone.
//! The journalled rows themselves are never downloaded.

use super::Permission;
use crate::connect::{Connection, Row};
use crate::quote::QuotedTable;
use crate::sql;
use crate::value::DbValue;
use anyhow::{anyhow, bail, Result};
use std::collections::HashMap;
use tiberius::ToSql;

/// One journalled table as undo reads it: its quoted names and its key
/// columns' types (`sys.types` names).
#[derive(Clone, Debug)]
pub struct UndoTable {
    /// Quoted names.
    pub quoted: QuotedTable,
    /// Key column types, in key order.
    pub key_types: Vec<String>,
}

/// The server's summary of one journalled table's rows
/// (`sql/undo_summary.sql`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UndoSummary {
    /// Journalled rows (keys sent).
    pub journalled: u64,
    /// Rows that no longer exist.
    pub missing: u64,
    /// Rows that still hold the value the fix wrote, as the server compares.
    pub restorable: u64,
    /// `CHECKSUM_AGG(BINARY_CHECKSUM(key))` of those rows.
    pub checksum: Option<i64>,
}

impl UndoSummary {
    /// Reads one answer of [`summaries`].
    pub fn from_rows(rows: &[Row]) -> UndoSummary {
        let Some(r) = rows.first() else {
            return UndoSummary::default();
        };
        let n = |i: usize| r.get(i).as_i64().unwrap_or(0).max(0) as u64;
        UndoSummary {
            journalled: n(0),
            missing: n(1),
            restorable: n(2),
            checksum: r.get(3).as_i64(),
        }
    }
}

/// From how many keys a table's keys go by bulk load (three requests)
/// rather than in the shared INSERT batches (one request per about 2,000
/// parameters, several tables to a request): so the requests stay at about
/// one per thousand keys, however many tables there are.
const BULK_FROM: usize = 5_000;
/// The most parameters one request carries (SQL Server takes 2,100).
const PARAMS_PER_REQUEST: usize = 2000;
/// The most parameters of a request's statement: SQL Server takes 2,100
/// in one RPC, sp_executesql's statement and declaration among them.
const SERVER_PARAMS: usize = 2098;
/// The most rows one VALUES list takes (SQL Server's limit).
const ROWS_PER_INSERT: usize = 1000;

/// The temporary key tables (`#rgs_undo_N`, one per journalled table), in
/// one batch for [`upload_keys`]'s caller to send before it (with its
/// first request: see [`super::server_info_after`]).
pub fn key_tables(tables: &[UndoTable]) -> Result<sql::Scratch> {
    let creates = tables
        .iter()
        .enumerate()
        .map(|(i, t)| {
            sql::undo_keys_create(&t.quoted, i + 1, &t.key_types).ok_or_else(|| {
                anyhow!(
                    "{}: the journal names a key column type this tool cannot send back",
                    t.quoted.table
                )
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(sql::Scratch::batch(creates))
}

/// Sends the keys once into the tables [`key_tables`] made, read from the
/// journal as they are sent (`keys` are `(table index, key)` in the
/// journal's order, which keeps a table's rows together): a table of at
/// least [`BULK_FROM`] keys (`counts`, from the journal) by bulk load
/// ([`Connection::bulk_scratch`]), smaller ones in INSERT ... VALUES
/// batches shared by the tables. Returns how many keys each table got, and
/// the last batch unsent: [`preview`] sends it ahead of its reads, in the
/// same request.
pub async fn upload_keys(
    conn: &mut Connection,
    tables: &[UndoTable],
    counts: &[usize],
    keys: impl Iterator<Item = Result<(usize, Vec<DbValue>)>>,
) -> Result<(Vec<u64>, UnsentKeys)> {
    let mut batch = Batch::default();
    let mut sent = vec![0; tables.len()];
    let mut keys = keys.peekable();
    while let Some(first) = keys.peek() {
        let t = match first {
            Ok((t, _)) => *t,
            Err(_) => {
                return Err(keys
                    .next()
                    .and_then(Result::err)
                    .unwrap_or_else(|| anyhow!("the journal could not be read")))
            }
        };
        let Some(table) = tables.get(t) else {
            bail!("the journal names table {t}, which it does not record");
        };
        let run = std::iter::from_fn(|| match keys.peek() {
            Some(Ok((i, _))) if *i == t => keys.next().map(|r| r.map(|(_, k)| k)),
            _ => None,
        });
        if counts.get(t).copied().unwrap_or(0) >= BULK_FROM {
            // Keys before it wait in `batch`, and keep waiting.
            sent[t] += conn.bulk_scratch(t + 1, run).await?;
        } else {
            for key in run {
                batch.push(conn, table, t + 1, key?).await?;
                sent[t] += 1;
            }
        }
    }
    batch.close();
    Ok((sent, UnsentKeys(batch)))
}

/// The INSERT batch [`upload_keys`] left for the next request: at most
/// [`PARAMS_PER_REQUEST`] parameters.
pub struct UnsentKeys(Batch);

impl UnsentKeys {
    /// How many parameters its statements take.
    fn params(&self) -> usize {
        self.0.params.len()
    }

    /// The statements, their parameters numbered from `@P{offset + 1}`
    /// (after the `offset` parameters of the reads that follow them in
    /// the same request), and those parameters; None when nothing is left.
    fn take(self, offset: usize) -> Option<(sql::Scratch, Vec<DbValue>)> {
        let Batch {
            statements, params, ..
        } = self.0;
        (!statements.is_empty()).then(|| (render(statements, offset), params))
    }
}

/// An INSERT of a [`Batch`]: `rows` keys into table `n`, its parameters
/// starting at the batch's `first`.
struct Pending {
    quoted: QuotedTable,
    n: usize,
    rows: usize,
    first: usize,
}

/// `statements` as one batch, their parameters shifted by `offset`.
fn render(statements: Vec<Pending>, offset: usize) -> sql::Scratch {
    sql::Scratch::batch(
        statements
            .into_iter()
            .map(|p| sql::undo_keys_insert(&p.quoted, p.n, p.rows, p.first + offset)),
    )
}

/// INSERT ... VALUES statements of keys waiting to be sent, with their
/// parameters.
#[derive(Default)]
struct Batch {
    statements: Vec<Pending>,
    params: Vec<DbValue>,
    /// The INSERT being filled: table number, first parameter, rows.
    open: Option<(usize, usize, usize)>,
    quoted: Option<QuotedTable>,
}

impl Batch {
    async fn push(
        &mut self,
        conn: &mut Connection,
        t: &UndoTable,
        n: usize,
        key: Vec<DbValue>,
    ) -> Result<()> {
        let width = key.len().max(1);
        if self.params.len() + width > PARAMS_PER_REQUEST {
            self.flush(conn).await?;
        }
        match &mut self.open {
            Some((m, _, rows)) if *m == n && *rows < ROWS_PER_INSERT => *rows += 1,
            _ => {
                self.close();
                self.open = Some((n, self.params.len() + 1, 1));
                self.quoted = Some(t.quoted.clone());
            }
        }
        self.params.extend(key);
        Ok(())
    }

    /// Ends the INSERT being filled.
    fn close(&mut self) {
        if let (Some((n, first, rows)), Some(quoted)) = (self.open.take(), self.quoted.take()) {
            self.statements.push(Pending {
                quoted,
                n,
                rows,
                first,
            });
        }
    }

    /// Sends what is waiting, in one request.
    async fn flush(&mut self, conn: &mut Connection) -> Result<()> {
        self.close();
        if self.statements.is_empty() {
            return Ok(());
        }
        let params: Vec<&dyn ToSql> = self.params.iter().map(|v| v as &dyn ToSql).collect();
        conn.scratch(&render(std::mem::take(&mut self.statements), 0), &params)
            .await?;
        self.params.clear();
        Ok(())
    }
}

/// Each journalled table's summary; `locked` inside the undo transaction.
pub fn summaries(tables: &[UndoTable], locked: bool) -> Vec<sql::Read> {
    tables
        .iter()
        .enumerate()
        .map(|(i, t)| sql::undo_summary(&t.quoted, i + 1, locked))
        .collect()
}

/// The rows undo leaves alone in one table, by key as the journal holds it
/// (the keys the server returns are the ones it was sent): what each holds
/// now, None when it no longer exists.
pub type LeftAlone = HashMap<Vec<DbValue>, Option<DbValue>>;

/// undo's preview: the keys [`upload_keys`] left unsent, then each
/// journalled table's summary and the login's permissions on `perms`
/// (schema, table, owner column), in one request; then the rows left alone
/// where there are any (`fixed` is the value the fix wrote).
pub async fn preview(
    conn: &mut Connection,
    tables: &[UndoTable],
    fixed: &DbValue,
    perms: &[(String, String, String)],
    unsent: UnsentKeys,
) -> Result<(Vec<UndoSummary>, Vec<LeftAlone>, Vec<Permission>)> {
    let mut names = Vec::new();
    for (schema, table, _) in perms {
        names.push(
            crate::quote::quote_two_part(schema, table)
                .ok_or_else(|| anyhow!("the table name {schema}.{table} is too long"))?,
        );
    }
    let mut params: Vec<&dyn ToSql> = vec![fixed];
    for (name, (_, _, column)) in names.iter().zip(perms) {
        params.push(name);
        params.push(column);
    }
    let mut reads = summaries(tables, false);
    reads.extend((0..perms.len()).map(|i| sql::permissions(2 * i + 2)));
    let reads = sql::Read::batch(reads);
    // The keys share the request unless the parameters would pass the
    // server's limit (many tables, each adding two).
    let shared = params.len() + unsent.params() <= SERVER_PARAMS;
    let offset = if shared { params.len() } else { 0 };
    let sets = match unsent.take(offset) {
        Some((keys, key_params)) if shared => {
            params.extend(key_params.iter().map(|v| v as &dyn ToSql));
            conn.scratch_then_results(&keys, &reads, &params).await?
        }
        Some((keys, key_params)) => {
            let key_params: Vec<&dyn ToSql> = key_params.iter().map(|v| v as &dyn ToSql).collect();
            conn.scratch(&keys, &key_params).await?;
            conn.results(&reads, &params).await?
        }
        None => conn.results(&reads, &params).await?,
    };
    let n = tables.len();
    if sets.len() != n + perms.len() {
        bail!(
            "the server answered {} result sets where {} were asked for",
            sets.len(),
            n + perms.len()
        );
    }
    let mut sets = sets.into_iter();
    let summaries: Vec<UndoSummary> = (0..n)
        .map(|_| UndoSummary::from_rows(&sets.next().unwrap_or_default()))
        .collect();
    let permissions = perms
        .iter()
        .map(|(schema, table, column)| {
            let set = sets.next().unwrap_or_default();
            let ok = |c: usize| set.first().is_some_and(|r| r.get(c).as_i64() == Some(1));
            Permission {
                table: format!("{schema}.{table}"),
                owner_column: column.clone(),
                table_ok: ok(0),
                column_ok: ok(1),
            }
        })
        .collect();
    let left = left_alone_rows(conn, tables, fixed, &summaries).await?;
    Ok((summaries, left, permissions))
}

/// The rows each table leaves alone, read only for the tables whose
/// summary says there are some (one more request then; none when every
/// journalled row still holds the fixed value, the usual case, so that the
/// journalled rows are joined once less).
async fn left_alone_rows(
    conn: &mut Connection,
    tables: &[UndoTable],
    fixed: &DbValue,
    summaries: &[UndoSummary],
) -> Result<Vec<LeftAlone>> {
    let some: Vec<usize> = summaries
        .iter()
        .enumerate()
        .filter(|(_, s)| s.journalled > s.restorable)
        .map(|(i, _)| i)
        .collect();
    let mut left = vec![LeftAlone::new(); tables.len()];
    if some.is_empty() {
        return Ok(left);
    }
    let reads = some
        .iter()
        .map(|&i| sql::undo_left_alone(&tables[i].quoted, i + 1));
    let params: [&dyn ToSql; 1] = [fixed];
    let sets = conn.results(&sql::Read::batch(reads), &params).await?;
    if sets.len() != some.len() {
        bail!(
            "the server answered {} result sets where {} were asked for",
            sets.len(),
            some.len()
        );
    }
    for (&i, rows) in some.iter().zip(sets) {
        left[i] = left_alone(rows, tables[i].quoted.keys.len());
    }
    Ok(left)
}

fn left_alone(rows: Vec<Row>, nkeys: usize) -> LeftAlone {
    rows.into_iter()
        .filter(|r| r.values.len() == nkeys + 2)
        .map(|mut r| {
            let owner = r.values.pop().unwrap_or(DbValue::Null);
            let found = r.values.pop().and_then(|v| v.as_i64()) == Some(1);
            (r.values, found.then_some(owner))
        })
        .collect()
}
