//! Turns what the engine produced ([`Item`]s, or rows streamed through
//! [`Sink`]) into the token stream SQL Server sends: one DONE (DONEINPROC
//! inside an RPC) per statement, MORE on all but the last, DONE_ERROR on
//! failed statements, and for RPCs a RETURNSTATUS and a final DONEPROC.
//!
//! The [`Encoder`] works incrementally so that a response can leave in
//! packets while it is produced: the only thing it holds back is a
//! batch's last DONE, whose MORE bit depends on what follows.

use super::tokens::{self, cur_cmd, done_status, token};
use super::values::{put_text, put_value};
use crate::types::{Cell, Column, Item, ResultSet, SqlError, TxChange};

/// How a request's response is framed.
#[derive(Debug, Clone, Copy)]
pub struct Framing<'a> {
    /// Server name put in ERROR and INFO tokens.
    pub server: &'a str,
    /// The procedure for an RPC (`sp_executesql`), None for a SQL batch or a
    /// transaction manager request.
    pub procedure: Option<&'a str>,
}

/// A DONE not yet written.
#[derive(Debug, Clone, Copy)]
struct Done {
    status: u16,
    cmd: u16,
    rows: u64,
}

/// Encodes one response, item by item and row by row.
pub struct Encoder<'a> {
    framing: Framing<'a>,
    /// Encoded tokens not yet taken.
    out: Vec<u8>,
    /// A batch's latest DONE: written with MORE when anything follows.
    held: Option<Done>,
    /// A failed statement whose DONE (with DONE_ERROR) is still owed.
    error_pending: bool,
    /// Whether any statement failed (an RPC's return status).
    any_error: bool,
    /// The streamed result set's columns.
    columns: Vec<Column>,
    /// The next streamed value's column, and where its row starts.
    column: usize,
    row_start: usize,
}

fn tx_token(out: &mut Vec<u8>, change: TxChange) {
    match change {
        TxChange::Begin(d) => tokens::env_begin(out, d),
        TxChange::Commit(d) => tokens::env_commit(out, d),
        TxChange::Rollback(d) => tokens::env_rollback(out, d),
    }
}

/// Encodes a complete response.
pub fn encode(items: &[Item], framing: Framing<'_>) -> Vec<u8> {
    let mut e = Encoder::new(framing);
    for item in items {
        e.push(item);
    }
    e.finish()
}

impl<'a> Encoder<'a> {
    /// An empty response.
    pub fn new(framing: Framing<'a>) -> Encoder<'a> {
        Encoder {
            framing,
            out: Vec::new(),
            held: None,
            error_pending: false,
            any_error: false,
            columns: Vec::new(),
            column: 0,
            row_start: 0,
        }
    }

    /// Bytes encoded and not yet taken.
    pub fn pending(&self) -> usize {
        self.out.len()
    }

    /// Takes the first `n` encoded bytes (at most [`Encoder::pending`]),
    /// for packets that leave before the response is complete.
    pub fn take(&mut self, n: usize) -> Vec<u8> {
        let rest = self.out[n..].to_vec();
        let mut taken = std::mem::replace(&mut self.out, Vec::with_capacity(n.max(rest.len())));
        taken.truncate(n);
        self.out.extend_from_slice(&rest);
        taken
    }

    /// Writes the held DONE, with MORE: something follows it.
    fn release(&mut self) {
        if let Some(d) = self.held.take() {
            tokens::done(
                &mut self.out,
                token::DONE,
                d.status | done_status::MORE,
                d.cmd,
                d.rows,
            );
        }
    }

    /// Buffer for the next token(s), after whatever DONE was held.
    fn bytes(&mut self) -> &mut Vec<u8> {
        self.release();
        &mut self.out
    }

    /// A statement's DONE: held in a batch (the last one has no MORE),
    /// DONEINPROC with MORE in an RPC.
    fn done(&mut self, status: u16, cmd: u16, rows: u64) {
        match self.framing.procedure {
            None => {
                self.release();
                self.held = Some(Done { status, cmd, rows });
            }
            Some(_) => tokens::done(
                &mut self.out,
                token::DONEINPROC,
                status | done_status::MORE,
                cmd,
                rows,
            ),
        }
    }

    /// Closes a failed statement whose DONE is still owed.
    fn close_error(&mut self) {
        if std::mem::take(&mut self.error_pending) {
            self.done(done_status::ERROR, cur_cmd::OTHER, 0);
        }
    }

    /// Appends one item.
    pub fn push(&mut self, item: &Item) {
        // Messages from the statement of an sp_executesql call name no
        // procedure, as in SQL Server (the statement is a dynamic batch).
        let (server, procedure) = (self.framing.server, "");
        match item {
            Item::Info { number, message } => {
                tokens::info(self.bytes(), *number, 1, message, server, procedure, 1)
            }
            Item::Tx(change) => tx_token(self.bytes(), *change),
            Item::Error(e) => {
                self.close_error();
                tokens::error(self.bytes(), e, server, procedure);
                self.error_pending = true;
                self.any_error = true;
            }
            Item::Rows(rs) => self.result_set(rs),
            Item::DoneInProc { rows_affected } => {
                let status = done_status::MORE
                    | if rows_affected.is_some() {
                        done_status::COUNT
                    } else {
                        0
                    };
                let rows = rows_affected.unwrap_or(0);
                tokens::done(
                    self.bytes(),
                    token::DONEINPROC,
                    status,
                    cur_cmd::OTHER,
                    rows,
                );
            }
            Item::Done { rows_affected } => {
                let mut status = 0;
                if std::mem::take(&mut self.error_pending) {
                    status |= done_status::ERROR;
                }
                if rows_affected.is_some() {
                    status |= done_status::COUNT;
                }
                self.done(status, cur_cmd::OTHER, rows_affected.unwrap_or(0));
            }
        }
    }

    /// A result set starts: COLMETADATA.
    fn begin_result(&mut self, columns: &[Column]) {
        self.close_error();
        tokens::col_metadata(self.bytes(), columns);
        self.columns.clear();
        self.columns.extend_from_slice(columns);
    }

    /// A result set ended after `rows` rows.
    fn end_result(&mut self, rows: u64) {
        self.done(done_status::COUNT, cur_cmd::SELECT, rows);
    }

    /// A whole result set: COLMETADATA, the rows and DONE; a value that
    /// does not fit its column ends it with an error instead.
    fn result_set(&mut self, rs: &ResultSet) {
        self.begin_result(&rs.columns);
        let mut sent = 0u64;
        for r in &rs.rows {
            let start = self.out.len();
            if let Err(e) = tokens::row(&mut self.out, &rs.columns, r) {
                self.out.truncate(start);
                tracing::warn!(error = %e, "result value does not fit its column");
                tokens::error(&mut self.out, &e, self.framing.server, "");
                self.any_error = true;
                self.done(done_status::ERROR, cur_cmd::SELECT, 0);
                return;
            }
            sent += 1;
        }
        self.end_result(sent);
    }

    /// The response's remaining bytes: the last DONE without MORE (a
    /// batch), or the return status and DONEPROC (an RPC).
    pub fn finish(mut self) -> Vec<u8> {
        self.close_error();
        match self.framing.procedure {
            None => {
                let d = self.held.take().unwrap_or(Done {
                    status: 0,
                    cmd: cur_cmd::OTHER,
                    rows: 0,
                });
                tokens::done(&mut self.out, token::DONE, d.status, d.cmd, d.rows);
            }
            Some(_) => {
                let any_error = self.any_error;
                tokens::return_status(&mut self.out, if any_error { 1 } else { 0 });
                let status = if any_error { done_status::ERROR } else { 0 };
                tokens::done(&mut self.out, token::DONEPROC, status, cur_cmd::OTHER, 0);
            }
        }
        self.out
    }

    /// The remaining bytes of a response cut short by an attention: what
    /// was already encoded (part of it may have left), the transaction
    /// changes among `items` (so the client's descriptor stays right),
    /// then DONE with DONE_ATTN.
    pub fn attention(mut self, items: &[Item]) -> Vec<u8> {
        self.release();
        for item in items {
            if let Item::Tx(change) = item {
                tx_token(&mut self.out, *change);
            }
        }
        tokens::done(
            &mut self.out,
            token::DONE,
            done_status::ATTN,
            cur_cmd::OTHER,
            0,
        );
        self.out
    }
}

impl crate::types::Sink for Encoder<'static> {
    fn items(&mut self, items: &mut Vec<Item>) {
        for item in items.drain(..) {
            self.push(&item);
        }
    }

    fn begin_rows(&mut self, columns: &[Column]) {
        self.begin_result(columns);
    }

    fn begin_row(&mut self) {
        self.row_start = self.out.len();
        self.column = 0;
        self.out.push(token::ROW);
    }

    fn cell(&mut self, cell: Cell<'_>) -> Result<(), SqlError> {
        let Some(ty) = self.columns.get(self.column).map(|c| c.ty) else {
            self.out.truncate(self.row_start);
            return Err(tokens::width_error());
        };
        self.column += 1;
        let r = match cell {
            Cell::Text(s) => put_text(&mut self.out, ty, s),
            Cell::Value(v) => put_value(&mut self.out, ty, &v),
        };
        if r.is_err() {
            self.out.truncate(self.row_start);
        }
        r
    }

    fn end_row(&mut self) -> Result<(), SqlError> {
        if self.column != self.columns.len() {
            self.out.truncate(self.row_start);
            return Err(tokens::width_error());
        }
        Ok(())
    }

    fn end_rows(&mut self, rows: u64) {
        self.end_result(rows);
    }
}

/// The answer to an attention that arrived while nothing was sent:
/// the transaction changes the interrupted request made, then DONE with
/// DONE_ATTN.
pub fn attention_ack(items: &[Item]) -> Vec<u8> {
    Encoder::new(Framing {
        server: "",
        procedure: None,
    })
    .attention(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Column, ResultSet, SqlType, Value};

    const BATCH: Framing<'static> = Framing {
        server: "S",
        procedure: None,
    };
    const RPC: Framing<'static> = Framing {
        server: "S",
        procedure: Some("sp_executesql"),
    };

    /// (token, status) of every DONE-family token, found by walking a stream
    /// made only of the tokens these tests produce.
    fn dones(mut b: &[u8]) -> Vec<(u8, u16, u64)> {
        let mut out = Vec::new();
        while !b.is_empty() {
            let t = b[0];
            match t {
                token::DONE | token::DONEPROC | token::DONEINPROC => {
                    let status = u16::from_le_bytes([b[1], b[2]]);
                    let mut rows = [0u8; 8];
                    rows.copy_from_slice(&b[5..13]);
                    out.push((t, status, u64::from_le_bytes(rows)));
                    b = &b[13..];
                }
                token::RETURN_STATUS => b = &b[5..],
                token::ERROR | token::INFO | token::ENVCHANGE => {
                    let len = u16::from_le_bytes([b[1], b[2]]) as usize;
                    b = &b[3 + len..];
                }
                token::COLMETADATA => {
                    // single INT column named "a": 2 + 4 + 2 + 2 + 1 + 2
                    b = &b[1 + 2 + 4 + 2 + 2 + 1 + 2..];
                }
                token::ROW => b = &b[6..],
                other => panic!("unexpected token {other:#x}"),
            }
        }
        out
    }

    fn rows(n: usize) -> Item {
        Item::Rows(ResultSet {
            columns: vec![Column {
                name: "a".into(),
                ty: SqlType::Int,
                nullable: false,
            }],
            rows: (0..n).map(|i| vec![Value::Int(i as i64)]).collect(),
        })
    }

    #[test]
    fn empty_batch_is_one_final_done() {
        assert_eq!(dones(&encode(&[], BATCH)), vec![(token::DONE, 0, 0)]);
    }

    #[test]
    fn statements_get_more_except_the_last() {
        let items = vec![
            Item::Done {
                rows_affected: Some(3),
            },
            rows(2),
            Item::Done {
                rows_affected: None,
            },
        ];
        assert_eq!(
            dones(&encode(&items, BATCH)),
            vec![
                (token::DONE, 0x11, 3),
                (token::DONE, 0x11, 2),
                (token::DONE, 0, 0)
            ]
        );
    }

    #[test]
    fn trailing_envchange_gets_a_final_done() {
        let items = vec![
            Item::Done {
                rows_affected: None,
            },
            Item::Tx(TxChange::Begin(5)),
        ];
        assert_eq!(
            dones(&encode(&items, BATCH)),
            vec![(token::DONE, 0x01, 0), (token::DONE, 0, 0)]
        );
    }

    #[test]
    fn errors_mark_their_done() {
        let items = vec![Item::Error(SqlError::syntax("x")), rows(1)];
        assert_eq!(
            dones(&encode(&items, BATCH)),
            vec![(token::DONE, 0x03, 0), (token::DONE, 0x10, 1)]
        );
        let items = vec![
            Item::Error(SqlError::syntax("x")),
            Item::Done {
                rows_affected: None,
            },
        ];
        assert_eq!(dones(&encode(&items, BATCH)), vec![(token::DONE, 0x02, 0)]);
        let items = vec![Item::Error(SqlError::syntax("x"))];
        assert_eq!(dones(&encode(&items, BATCH)), vec![(token::DONE, 0x02, 0)]);
    }

    #[test]
    fn trigger_statements_send_doneinproc_before_the_done() {
        let items = vec![
            Item::DoneInProc {
                rows_affected: Some(2),
            },
            Item::Done {
                rows_affected: Some(2),
            },
        ];
        assert_eq!(
            dones(&encode(&items, BATCH)),
            vec![(token::DONEINPROC, 0x11, 2), (token::DONE, 0x10, 2)]
        );
    }

    #[test]
    fn rpc_uses_doneinproc_and_doneproc() {
        let items = vec![Item::Done {
            rows_affected: Some(4),
        }];
        assert_eq!(
            dones(&encode(&items, RPC)),
            vec![(token::DONEINPROC, 0x11, 4), (token::DONEPROC, 0, 0)]
        );
        let items = vec![Item::Error(SqlError::syntax("x"))];
        assert_eq!(
            dones(&encode(&items, RPC)),
            vec![(token::DONEINPROC, 0x03, 0), (token::DONEPROC, 0x02, 0)]
        );
    }

    #[test]
    fn attention_ack_reports_tx_then_attn() {
        let b = attention_ack(&[rows(1), Item::Tx(TxChange::Rollback(9))]);
        assert_eq!(dones(&b), vec![(token::DONE, 0x20, 0)]);
        assert_eq!(b[0], token::ENVCHANGE);
    }
}
