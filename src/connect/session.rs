//! An open connection, and the two ways to use it. [`Connection`] can only
//! run read-only statements ([`sql::Read`]); [`Writer`], which runs
//! statements that change data or the transaction ([`sql::Write`]), can only
//! be had with an [`apply::WriteKey`], and only `apply` can make one. So a
//! write from `inspect` or `report` is a compile error, not a convention.
//!
//! ```compile_fail
//! // Outside `apply`, a key cannot be made:
//! let key = rgs_repair::apply::WriteKey(());
//! ```

use super::errors::{server_error, DbError, LOCK_TIMEOUT};
use super::TdsClient;
use crate::apply::WriteKey;
use crate::sql;
use crate::value::DbValue;
use anyhow::Result;
use tiberius::ToSql;

/// One result row as plain values.
#[derive(Debug, Clone)]
pub struct Row {
    /// Values in column order.
    pub values: Vec<DbValue>,
}

impl Row {
    /// The value in column `i`; NULL past the last column (a batch whose
    /// statement failed answers fewer result sets, and the error that says
    /// so comes at the end of the answer: reading on must not panic).
    pub fn get(&self, i: usize) -> &DbValue {
        const NULL: DbValue = DbValue::Null;
        self.values.get(i).unwrap_or(&NULL)
    }

    /// Column `i` as text; empty for NULL.
    pub fn text(&self, i: usize) -> String {
        match self.get(i) {
            DbValue::Null => String::new(),
            v => v.to_string(),
        }
    }

    /// Column `i` as an integer (0 for NULL).
    pub fn int(&self, i: usize) -> i64 {
        self.get(i).as_i64().unwrap_or(0)
    }
}

/// A piece of an answer read as it arrives ([`Connection::each`]).
#[derive(Debug)]
pub enum Streamed {
    /// A result set starts: its index in the batch, from 0.
    Set(usize),
    /// A row of result set `.0`.
    Row(usize, Row),
}

/// An open, logged-in connection that reads.
pub struct Connection {
    client: TdsClient,
    /// The server as the user named it.
    pub server: String,
    /// The database connected to.
    pub database: String,
    /// `host,port` an availability-group listener routed the login to, when
    /// it did: where the connection really is.
    pub routed_to: Option<String>,
    requests: u64,
    /// `SET LOCK_TIMEOUT n;`, sent ahead of the session's first request so
    /// that reads, too, stop waiting for another session's lock.
    setup: Option<String>,
}

impl Connection {
    pub(super) fn new(
        client: TdsClient,
        server: String,
        database: String,
        lock_timeout_ms: i32,
        routed_to: Option<String>,
    ) -> Connection {
        Connection {
            client,
            server,
            database,
            routed_to,
            requests: 0,
            setup: Some(sql::lock_timeout(lock_timeout_ms).text().to_string()),
        }
    }

    /// Runs a read-only query (parameters as `@P1`...) and returns the rows
    /// of its first result set.
    pub async fn rows(&mut self, query: &sql::Read, params: &[&dyn ToSql]) -> Result<Vec<Row>> {
        Ok(self
            .results(query, params)
            .await?
            .into_iter()
            .next()
            .unwrap_or_default())
    }

    /// Runs a read-only batch and returns every result set, in order (an
    /// empty one where a SELECT found nothing). A read blocked past the lock
    /// timeout comes back as [`DbError::Blocked`], naming who blocks it.
    pub async fn results(
        &mut self,
        query: &sql::Read,
        params: &[&dyn ToSql],
    ) -> Result<Vec<Vec<Row>>> {
        match self.send(query.text(), params).await {
            Err(e) if code(&e) == Some(LOCK_TIMEOUT) => Err(self.blocked().await.into()),
            r => r,
        }
    }

    /// Runs `scratch` (writes to the session's own temporary tables only),
    /// then the reads, in one request: their result sets, as
    /// [`Connection::results`] gives them. `params` serve both.
    pub async fn scratch_then_results(
        &mut self,
        scratch: &sql::Scratch,
        reads: &sql::Read,
        params: &[&dyn ToSql],
    ) -> Result<Vec<Vec<Row>>> {
        let text = format!("{}\n{}", scratch.text(), reads.text());
        match self.send(&text, params).await {
            Err(e) if code(&e) == Some(LOCK_TIMEOUT) => Err(self.blocked().await.into()),
            r => r,
        }
    }

    /// `text`, preceded by the session's settings when this is its first
    /// request.
    fn with_setup(&mut self, text: &str) -> String {
        match self.setup.take() {
            Some(setup) => format!("{setup}\n{text}"),
            None => text.to_string(),
        }
    }

    /// Sends one request (the session's settings ahead of its first),
    /// counted and timed; the answer is read by the caller.
    async fn open<'a>(
        &'a mut self,
        text: &str,
        params: &[&dyn ToSql],
    ) -> Result<(tiberius::QueryStream<'a>, std::time::Instant)> {
        let text = self.with_setup(text);
        self.count(&text);
        let started = std::time::Instant::now();
        let stream = self
            .client
            .query(&text, params)
            .await
            .map_err(server_error)?;
        Ok((stream, started))
    }

    async fn send(&mut self, text: &str, params: &[&dyn ToSql]) -> Result<Vec<Vec<Row>>> {
        let (stream, started) = self.open(text, params).await?;
        let sets = stream.into_results().await.map_err(server_error)?;
        self.answered(started, sets.iter().map(Vec::len).sum());
        sets.into_iter()
            .map(|set| {
                set.into_iter()
                    .map(|r| {
                        let values = r
                            .into_iter()
                            .map(DbValue::from_column)
                            .collect::<Result<Vec<_>, _>>()?;
                        Ok(Row { values })
                    })
                    .collect()
            })
            .collect()
    }

    /// After a read timed out on a lock: who holds locks in this database,
    /// if the login may see it (VIEW SERVER STATE), else how to find out.
    async fn blocked(&mut self) -> DbError {
        let holders = match self.send(sql::lock_holders().text(), &[]).await {
            Ok(sets) => {
                let rows = sets.into_iter().next().unwrap_or_default();
                if rows.is_empty() {
                    "the session holding it had let go by the time the tool looked".to_string()
                } else {
                    let who: Vec<String> = rows
                        .iter()
                        .map(|r| {
                            let mut s = format!("session {}", r.int(0));
                            let details: Vec<String> = [(1, "login"), (2, "host"), (3, "program")]
                                .iter()
                                .filter(|(i, _)| !r.text(*i).is_empty())
                                .map(|(i, what)| format!("{what} {}", r.text(*i)))
                                .collect();
                            if !details.is_empty() {
                                s.push_str(&format!(" ({})", details.join(", ")));
                            }
                            s
                        })
                        .collect();
                    format!("held by {}", who.join("; "))
                }
            }
            Err(_) => "this login may not see other sessions (VIEW SERVER STATE); a DBA finds the blocking session in sys.dm_exec_requests.blocking_session_id".to_string(),
        };
        DbError::Blocked { holders }
    }

    /// Runs a read-only batch and hands every row of every result set to
    /// `on` as tiberius decoded it, with the set's number, and the start of
    /// each set (`None`), without collecting anything; for readers that
    /// need every SQL type ([`Connection::each`] takes the tool's own). As
    /// with [`Connection::each`], the server's error comes once the whole
    /// answer is read, and later sets may have arrived under shifted
    /// numbers: what `on` built is to be dropped when this fails. Returns
    /// the number of rows.
    pub async fn each_raw(
        &mut self,
        query: &sql::Read,
        params: &[&dyn ToSql],
        on: impl FnMut(usize, Option<tiberius::Row>) -> Result<()>,
    ) -> Result<u64> {
        self.drain(query.text(), params, on).await
    }

    /// Runs a read-only batch and hands its answer to `on` as it arrives:
    /// [`Streamed::Set`] at the start of each result set, then its rows.
    /// Nothing is collected, so memory stays bounded however many rows the
    /// batch returns. A statement that fails sends no result set, and the
    /// server's error is returned only once the whole answer is read, so
    /// `on` may have seen the later result sets under shifted numbers:
    /// what it built is to be dropped when this returns an error. A read blocked past the lock timeout comes back as
    /// [`DbError::Blocked`], as with [`Connection::results`].
    pub async fn each(
        &mut self,
        query: &sql::Read,
        params: &[&dyn ToSql],
        on: impl FnMut(Streamed) -> Result<()>,
    ) -> Result<()> {
        match self.each_text(query.text(), params, on).await {
            Err(e) if code(&e) == Some(LOCK_TIMEOUT) => Err(self.blocked().await.into()),
            r => r,
        }
    }

    /// [`Connection::each`] for any statement text: each row typed as the
    /// tool's own values.
    async fn each_text(
        &mut self,
        text: &str,
        params: &[&dyn ToSql],
        mut on: impl FnMut(Streamed) -> Result<()>,
    ) -> Result<()> {
        self.drain(text, params, |set, row| match row {
            None => on(Streamed::Set(set)),
            Some(r) => {
                let values = r
                    .into_iter()
                    .map(DbValue::from_column)
                    .collect::<Result<Vec<_>, _>>()?;
                on(Streamed::Row(set, Row { values }))
            }
        })
        .await
        .map(|_| ())
    }

    /// Sends `text` and reads its whole answer, handing `on` the start of
    /// each result set (`None`) and each row, with the set's number;
    /// returns the number of rows. After the first error (a server error,
    /// or `on` refusing a row) the rest of the answer is still read, and
    /// dropped: a statement that fails does not end the batch on the
    /// server, and what it still sends must not be taken for the next
    /// request's answer.
    async fn drain(
        &mut self,
        text: &str,
        params: &[&dyn ToSql],
        mut on: impl FnMut(usize, Option<tiberius::Row>) -> Result<()>,
    ) -> Result<u64> {
        use futures_util::StreamExt;
        let (mut stream, started) = self.open(text, params).await?;
        let mut n = 0u64;
        let mut first_error: Option<anyhow::Error> = None;
        while let Some(item) = stream.next().await {
            if first_error.is_some() {
                continue;
            }
            let handled = match item.map_err(server_error) {
                Err(e) => Err(e),
                Ok(tiberius::QueryItem::Metadata(m)) => on(m.result_index(), None),
                Ok(tiberius::QueryItem::Row(r)) => {
                    n += 1;
                    on(r.result_index(), Some(r))
                }
            };
            if let Err(e) = handled {
                first_error = Some(e);
            }
        }
        drop(stream);
        self.answered(started, n as usize);
        match first_error {
            Some(e) => Err(e),
            None => Ok(n),
        }
    }

    /// Begins or ends the snapshot's read-only transaction
    /// ([`sql::snapshot::ReadTransaction`]: isolation level, BEGIN, and a
    /// rollback at the end; no data changes).
    pub async fn read_transaction(
        &mut self,
        statement: &sql::snapshot::ReadTransaction,
    ) -> Result<()> {
        let text = self.with_setup(statement.text());
        self.count(&text);
        let started = std::time::Instant::now();
        let stream = self
            .client
            .simple_query(&text)
            .await
            .map_err(server_error)?;
        stream.into_results().await.map_err(server_error)?;
        self.answered(started, 0);
        Ok(())
    }

    /// Runs statements that write only the session's own temporary tables
    /// ([`sql::Scratch`]: tempdb, never the database).
    pub async fn scratch(&mut self, statement: &sql::Scratch, params: &[&dyn ToSql]) -> Result<()> {
        self.send(statement.text(), params).await.map(|_| ())
    }

    /// Sends `rows` into the session's own temporary table `#rgs_undo_n`
    /// by TDS bulk load (`INSERT BULK`, as SQL Server 2008 R2 and later
    /// take it; tiberius's `bulk_insert`): three requests however many rows
    /// (the table's layout, INSERT BULK, the rows), where one INSERT per
    /// thousand keys would take a round trip each. Returns how many rows
    /// the server took. Only the session's temporary tables can be named.
    pub async fn bulk_scratch(
        &mut self,
        n: usize,
        rows: impl Iterator<Item = Result<Vec<DbValue>>>,
    ) -> Result<u64> {
        let table = sql::undo_keys_table(n);
        // The layout query and INSERT BULK go first; the rows are one more.
        for _ in 0..3 {
            self.count(&format!("INSERT BULK {table}"));
        }
        let started = std::time::Instant::now();
        let mut req = self
            .client
            .bulk_insert(&table)
            .await
            .map_err(server_error)?;
        for row in rows {
            let mut tr = tiberius::TokenRow::new();
            for v in row? {
                tr.push(v.into_column());
            }
            req.send(tr).await.map_err(server_error)?;
        }
        let total = req.finalize().await.map_err(server_error)?.total();
        self.answered(started, total as usize);
        Ok(total)
    }

    /// How many requests this connection has sent.
    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// The write half of this connection, for `apply` alone.
    pub fn writer(&mut self, _key: &WriteKey) -> Writer<'_> {
        Writer { conn: self }
    }

    fn answered(&self, started: std::time::Instant, rows: usize) {
        tracing::debug!(
            request = self.requests,
            rows,
            elapsed = ?started.elapsed(),
            "answered"
        );
    }

    fn count(&mut self, sql: &str) {
        self.requests += 1;
        let first = crate::sql::strip_comments(sql);
        let first = first.lines().next().unwrap_or_default();
        tracing::debug!(request = self.requests, sql = first, "sending");
    }
}

fn code(e: &anyhow::Error) -> Option<u32> {
    e.downcast_ref::<DbError>().and_then(DbError::code)
}

/// A connection lent to `apply` for one transaction: it may also write.
pub struct Writer<'c> {
    conn: &'c mut Connection,
}

impl Writer<'_> {
    /// The same connection, for reads inside the transaction.
    pub fn reads(&mut self) -> &mut Connection {
        self.conn
    }

    /// Runs a statement that reports its own row count as the single value
    /// of its last result set (`SELECT ROWCOUNT_BIG()` right after the
    /// change), and returns that count. The DONE tokens' counts are not
    /// used: they include the statements of any trigger the change fires.
    pub async fn execute_counted(
        &mut self,
        statement: &sql::Write,
        params: &[&dyn ToSql],
    ) -> Result<u64> {
        let sets = self.results(statement, params).await?;
        let count = sets
            .last()
            .and_then(|rows| rows.first())
            .and_then(|r| r.values.first())
            .and_then(DbValue::as_i64);
        match count {
            Some(n) if n >= 0 => Ok(n as u64),
            _ => Err(anyhow::anyhow!(
                "the server did not report how many rows the statement changed"
            )),
        }
    }

    /// Runs a batch that changes data and returns every result set it
    /// selects, in order.
    pub async fn results(
        &mut self,
        statement: &sql::Write,
        params: &[&dyn ToSql],
    ) -> Result<Vec<Vec<Row>>> {
        self.conn.send(statement.text(), params).await
    }

    /// Runs a batch that changes data and hands what it selects to `on` as
    /// it arrives (see [`Connection::each`]).
    pub async fn each(
        &mut self,
        statement: &sql::Write,
        params: &[&dyn ToSql],
        on: impl FnMut(Streamed) -> Result<()>,
    ) -> Result<()> {
        self.conn.each_text(statement.text(), params, on).await
    }

    /// Runs a statement without parameters (SET, BEGIN, COMMIT, ROLLBACK).
    pub async fn batch(&mut self, statement: &sql::Write) -> Result<()> {
        let text = self.conn.with_setup(statement.text());
        self.conn.count(&text);
        let started = std::time::Instant::now();
        let stream = self
            .conn
            .client
            .simple_query(&text)
            .await
            .map_err(server_error)?;
        stream.into_results().await.map_err(server_error)?;
        self.conn.answered(started, 0);
        Ok(())
    }

    /// Sends an attention, cancelling what the server is running.
    pub async fn cancel(&mut self) -> Result<()> {
        self.conn.client.cancel_query().await.map_err(server_error)
    }
}
