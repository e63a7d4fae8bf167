//! A logged-in connection: requests, attention, fault injection and the
//! checks made before the engine runs a request.

use super::batch::{stack_limit_error, RequestText, MAX_EXPRESSION_OPERATORS};
use super::login::protocol_error;
use super::stream::Streamer;
use super::{Shared, SERVER_NAME};
use crate::engine::{bulk_premature_end, Interrupter, Session, SharedSink};
use crate::fault::{self, Fault, FaultKind};
use crate::tds::bulk::{BulkData, BulkError};
use crate::tds::packet::{packet_type, status, Message};
use crate::tds::request::{self, DecodeError, Request, TmRequest};
use crate::tds::response::{self, Encoder, Framing};
use crate::tds::transport::Transport;
use crate::tds::wire::WireError;
use crate::types::{Item, SqlError};
use std::io;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::{debug, info, warn};

/// A logged-in connection.
pub(super) struct Connection {
    pub(super) shared: Arc<Shared>,
    pub(super) t: Transport,
    pub(super) conn: u64,
    pub(super) spid: u16,
    pub(super) packet_size: usize,
    pub(super) interrupter: Interrupter,
    /// None only while a request runs on a blocking thread.
    pub(super) session: Option<Session>,
    /// Requests received on this connection.
    pub(super) requests: u64,
    /// SET XACT_ABORT as last set by this connection's SQL, to decide
    /// whether an injected error also rolls the transaction back.
    pub(super) xact_abort: bool,
}

/// What an injected fault left to do.
enum Injected {
    /// Nothing: the request runs.
    Nothing,
    /// The request runs, then the connection closes without its answer.
    DropAfter,
    /// The fault answered the request (or dropped the connection: false).
    Answered(bool),
}

/// How a running request ended: the items not yet encoded, and the
/// encoder holding what was (part of it may have left already).
enum Outcome {
    Done(Vec<Item>, Encoder<'static>),
    Attention(Vec<Item>, Encoder<'static>),
    ClientGone,
}

fn truncate(s: &str, n: usize) -> String {
    let mut out: String = s.chars().take(n).collect();
    if s.chars().count() > n {
        out.push('…');
    }
    out
}

fn run_request(session: &mut Session, req: &Request) -> Vec<Item> {
    let quoted = |name: &str| format!("[{}]", name.replace(']', "]]"));
    let has_error = |items: &[Item]| items.iter().any(|i| matches!(i, Item::Error(_)));
    match req {
        Request::Batch { sql } => session.execute(sql, &[]),
        Request::ExecuteSql { sql, params } => session.execute(sql, params),
        Request::Transaction(TmRequest::Begin) => session.begin_transaction(),
        Request::Transaction(TmRequest::Commit { then_begin }) => {
            let mut items = session.commit_transaction();
            if *then_begin && !has_error(&items) {
                items.extend(session.begin_transaction());
            }
            items
        }
        Request::Transaction(TmRequest::Rollback { name, then_begin }) => {
            let mut items = if name.is_empty() {
                session.rollback_transaction()
            } else {
                session.execute(&format!("ROLLBACK TRANSACTION {}", quoted(name)), &[])
            };
            if *then_begin && !has_error(&items) {
                items.extend(session.begin_transaction());
            }
            items
        }
        Request::Transaction(TmRequest::Save { name }) => {
            session.execute(&format!("SAVE TRANSACTION {}", quoted(name)), &[])
        }
        Request::BulkLoad(data) => bulk_load(session, data),
    }
}

/// A BULK_LOAD message: its rows go to the engine as they decode; what
/// does not decode is SQL Server's 4804 (bytes) or 4816 (a column type).
fn bulk_load(session: &mut Session, data: &Result<BulkData, BulkError>) -> Vec<Item> {
    let malformed = |e: &WireError| {
        debug!(error = %e, "malformed bulk load data");
        bulk_premature_end()
    };
    match data {
        Ok(data) => {
            let mut rows = data.rows().map(|r| r.map_err(|e| malformed(&e)));
            session.bulk_load(&data.columns, &mut rows)
        }
        Err(e) => {
            let error = match e {
                BulkError::ColumnType(colid) => SqlError {
                    number: 4816,
                    severity: 16,
                    state: 1,
                    message: format!("Invalid column type from bcp client for colid {colid}."),
                    line: 1,
                },
                BulkError::Malformed(e) => malformed(e),
            };
            // The engine still consumes the INSERT BULK it prepared.
            let mut none = std::iter::once(Err(error));
            session.bulk_load(&[], &mut none)
        }
    }
}

impl Connection {
    async fn reply(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.t
            .write_message(packet_type::REPLY, bytes, self.packet_size)
            .await
    }

    /// Runs `f` on the session on a blocking thread.
    async fn with_session<T: Send + 'static>(
        &mut self,
        f: impl FnOnce(&mut Session) -> T + Send + 'static,
    ) -> io::Result<T> {
        let mut session = self
            .session
            .take()
            .expect("session present between requests");
        let (session, out) = tokio::task::spawn_blocking(move || {
            let out = f(&mut session);
            (session, out)
        })
        .await
        .map_err(|e| io::Error::other(format!("engine panicked: {e}")))?;
        self.session = Some(session);
        Ok(out)
    }

    pub(super) async fn run(&mut self) -> io::Result<()> {
        loop {
            let Some(msg) = self.t.read_message().await? else {
                return Ok(());
            };
            match msg.ty {
                packet_type::ATTENTION => {
                    // Nothing runs: acknowledge so the client's cancel completes.
                    let ack = response::attention_ack(&[]);
                    self.reply(&ack).await?;
                }
                packet_type::SQL_BATCH
                | packet_type::RPC
                | packet_type::TRANSACTION_MANAGER
                | packet_type::BULK_LOAD => {
                    if !self.request(msg).await? {
                        return Ok(());
                    }
                }
                other => {
                    return Err(protocol_error(format!(
                        "unsupported packet type {other:#04x} after login"
                    )));
                }
            }
        }
    }

    /// Handles one request. False when the connection must close.
    async fn request(&mut self, msg: Message) -> io::Result<bool> {
        self.requests += 1;
        let n = self.requests;
        self.shared.requests.fetch_add(1, Ordering::SeqCst);
        let framing = Framing {
            server: SERVER_NAME,
            procedure: (msg.ty == packet_type::RPC).then_some("sp_executesql"),
        };
        let reset =
            msg.status & (status::RESET_CONNECTION | status::RESET_CONNECTION_SKIP_TRAN) != 0;

        let Some(decoded) = self.decode(&msg, n) else {
            return Ok(false);
        };
        let sql = decoded
            .as_ref()
            .ok()
            .and_then(|r| r.sql())
            .unwrap_or("")
            .to_string();
        let text = RequestText::parse(&sql);

        let database = self
            .session
            .as_ref()
            .map(|s| s.database().to_string())
            .unwrap_or_default();
        if self.shared.open_error(&database).is_some() {
            info!(conn = self.conn, request = n, database = %database, state = %self.shared.state(), "database no longer available; closing");
            return Ok(false);
        }
        if let Some(e) = self.refusal(&text, n) {
            let bytes = response::encode(&[Item::Error(e)], framing);
            self.reply(&bytes).await?;
            return Ok(true);
        }

        let faults = self.shared.faults.take(self.conn, n);
        let mut drop_after = false;
        for f in &faults {
            info!(conn = self.conn, request = n, fault = %Fault { request: n, kind: *f }, "injecting fault");
            match self.inject(*f, &text, &database, framing).await? {
                Injected::Nothing => {}
                Injected::DropAfter => drop_after = true,
                Injected::Answered(keep_open) => return Ok(keep_open),
            }
        }

        let req = match decoded {
            Ok(req) => req,
            Err(e) => {
                if drop_after {
                    return Ok(false);
                }
                let bytes = response::encode(&[Item::Error(e)], framing);
                self.reply(&bytes).await?;
                return Ok(true);
            }
        };
        let xact_abort = text.xact_abort();
        // A request whose answer is to be lost is answered whole (that is,
        // not at all).
        let outcome = self.execute(req, reset, framing, !drop_after).await?;
        self.answer(outcome, n, reset, xact_abort, drop_after).await
    }

    /// Sends the request's answer (or the attention acknowledgement) and
    /// applies what the request changed in the connection's state. False
    /// when the connection must close.
    async fn answer(
        &mut self,
        outcome: Outcome,
        n: u64,
        reset: bool,
        xact_abort: Option<bool>,
        drop_after: bool,
    ) -> io::Result<bool> {
        let (items, mut encoder) = match outcome {
            Outcome::ClientGone => return Ok(false),
            Outcome::Attention(items, encoder) => {
                debug!(
                    conn = self.conn,
                    request = n,
                    "attention: request cancelled"
                );
                if drop_after {
                    return Ok(false);
                }
                let ack = encoder.attention(&items);
                self.reply(&ack).await?;
                return Ok(true);
            }
            Outcome::Done(items, encoder) => (items, encoder),
        };
        if reset {
            self.xact_abort = false;
        }
        if let Some(setting) = xact_abort {
            self.xact_abort = setting;
        }
        if drop_after {
            return Ok(false);
        }
        for item in &items {
            encoder.push(item);
        }
        self.reply(&encoder.finish()).await?;
        Ok(true)
    }

    /// The request, or the SQL error its decoding raised; None when it is
    /// malformed and the connection must close.
    fn decode(&self, msg: &Message, n: u64) -> Option<Result<Request, SqlError>> {
        let decoded = match request::decode(msg) {
            Ok(d) => Ok(d.request),
            Err(DecodeError::Protocol(e)) => {
                warn!(conn = self.conn, request = n, error = %e, "malformed request; closing");
                return None;
            }
            Err(DecodeError::Sql(e)) => Err(e),
        };
        match &decoded {
            Ok(req) => debug!(
                conn = self.conn,
                request = n,
                kind = req.kind(),
                sql = %truncate(req.sql().unwrap_or(""), 200),
                "request"
            ),
            Err(e) => debug!(conn = self.conn, request = n, error = %e, "request refused"),
        }
        Some(decoded)
    }

    /// The error that refuses the request before the engine sees it: a USE
    /// of a database that is not available, or expressions nested deeper
    /// than the engine's stack allows (8631).
    fn refusal(&self, text: &RequestText, n: u64) -> Option<SqlError> {
        let used = text.used_databases();
        if let Some(e) = used.iter().find_map(|db| self.shared.open_error(db)) {
            return Some(e);
        }
        if text.depth() > MAX_EXPRESSION_OPERATORS {
            warn!(
                conn = self.conn,
                request = n,
                "statement nested too deeply for the sandbox's stack: 8631"
            );
            return Some(stack_limit_error());
        }
        None
    }

    /// Injects one fault armed for this request.
    async fn inject(
        &mut self,
        kind: FaultKind,
        text: &RequestText,
        database: &str,
        framing: Framing<'_>,
    ) -> io::Result<Injected> {
        match kind {
            FaultKind::Drop => Ok(Injected::Answered(false)),
            FaultKind::DropAfter => Ok(Injected::DropAfter),
            FaultKind::Delay(ms) => {
                let sleep = tokio::time::sleep(Duration::from_millis(ms));
                tokio::pin!(sleep);
                tokio::select! {
                    _ = &mut sleep => Ok(Injected::Nothing),
                    m = self.t.read_message() => match m? {
                        Some(m) if m.ty == packet_type::ATTENTION => {
                            let ack = response::attention_ack(&[]);
                            self.reply(&ack).await?;
                            Ok(Injected::Answered(true))
                        }
                        _ => Ok(Injected::Answered(false)),
                    }
                }
            }
            FaultKind::Error(number) => {
                let (action, object) = text.permission_target();
                let e = fault::sql_server_error(number, self.spid, database, &action, &object);
                let mut items = vec![Item::Error(e)];
                let in_tran = self
                    .session
                    .as_ref()
                    .and_then(|s| s.transaction())
                    .is_some();
                if in_tran && fault::aborts_transaction(number, self.xact_abort) {
                    let rolled = self.with_session(|s| s.rollback_transaction()).await?;
                    items.extend(rolled.into_iter().filter(|i| matches!(i, Item::Tx(_))));
                }
                let bytes = response::encode(&items, framing);
                self.reply(&bytes).await?;
                Ok(Injected::Answered(true))
            }
        }
    }

    /// Runs the request on a blocking thread while watching for an
    /// attention from the client, and with `stream`, sends its result sets
    /// as they are produced.
    async fn execute(
        &mut self,
        req: Request,
        reset: bool,
        framing: Framing<'static>,
        stream: bool,
    ) -> io::Result<Outcome> {
        let mut session = self
            .session
            .take()
            .expect("session present between requests");
        let (streamer, mut rx) = Streamer::new(framing, self.packet_size);
        let streamer = Arc::new(Mutex::new(streamer));
        let sink = stream.then(|| streamer.clone() as SharedSink);
        let mut handle = tokio::task::spawn_blocking(move || {
            if reset {
                session.reset();
            }
            session.stream_to(sink);
            let items = run_request(&mut session, &req);
            session.stream_to(None);
            (session, items)
        });
        let panicked = |e| io::Error::other(format!("engine panicked: {e}"));
        let mut attention = false;
        let mut reading = true;
        let (session, items) = loop {
            tokio::select! {
                joined = &mut handle => break joined.map_err(panicked)?,
                // Sent even after an attention: the stream must stay whole
                // up to the acknowledgement.
                Some(chunk) = rx.recv() => {
                    self.t.write_packets(packet_type::REPLY, &chunk, self.packet_size, false).await?;
                }
                m = self.t.read_message(), if reading => match m {
                    Ok(Some(m)) if m.ty == packet_type::ATTENTION => {
                        attention = true;
                        reading = false;
                        self.interrupter.interrupt();
                    }
                    Ok(Some(m)) => {
                        warn!(conn = self.conn, ty = m.ty, "a new request arrived while one runs; closing");
                        self.interrupter.interrupt();
                        rx.close();
                        let (session, _) = handle.await.map_err(panicked)?;
                        self.session = Some(session);
                        return Ok(Outcome::ClientGone);
                    }
                    Ok(None) | Err(_) => {
                        // The client left: let the statement finish (a
                        // streamed result stops), then close.
                        rx.close();
                        let (session, _) = handle.await.map_err(panicked)?;
                        self.session = Some(session);
                        return Ok(Outcome::ClientGone);
                    }
                }
            }
        };
        self.session = Some(session);
        while let Ok(chunk) = rx.try_recv() {
            self.t
                .write_packets(packet_type::REPLY, &chunk, self.packet_size, false)
                .await?;
        }
        let encoder = Arc::try_unwrap(streamer)
            .map_err(|_| io::Error::other("the engine kept the response's sink"))?
            .into_inner()
            .unwrap_or_else(|p| p.into_inner())
            .into_encoder();
        Ok(if attention {
            Outcome::Attention(items, encoder)
        } else {
            Outcome::Done(items, encoder)
        })
    }
}
