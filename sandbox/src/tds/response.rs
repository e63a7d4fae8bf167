//! Turns what the engine produced ([`Item`]s) into the token stream SQL
//! Server sends: one DONE (DONEINPROC inside an RPC) per statement, MORE on
//! all but the last, DONE_ERROR on failed statements, and for RPCs a
//! RETURNSTATUS and a final DONEPROC.

use super::tokens::{self, cur_cmd, done_status, token};
use crate::types::{Item, ResultSet, SqlError, TxChange};

/// How a request's response is framed.
#[derive(Debug, Clone, Copy)]
pub struct Framing<'a> {
    /// Server name put in ERROR and INFO tokens.
    pub server: &'a str,
    /// The procedure for an RPC (`sp_executesql`), None for a SQL batch or a
    /// transaction manager request.
    pub procedure: Option<&'a str>,
}

enum Piece {
    Bytes(Vec<u8>),
    Done { status: u16, cmd: u16, rows: u64 },
}

/// Closes a failed statement whose DONE is still owed.
fn close_error(pieces: &mut Vec<Piece>, pending: &mut bool) {
    if *pending {
        pieces.push(Piece::Done {
            status: done_status::ERROR,
            cmd: cur_cmd::OTHER,
            rows: 0,
        });
        *pending = false;
    }
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
    let (pieces, any_error) = pieces_of(items, framing);
    match framing.procedure {
        None => batch_frame(pieces),
        Some(_) => procedure_frame(pieces, any_error),
    }
}

/// The response's pieces, DONEs not yet final, and whether any is an error.
fn pieces_of(items: &[Item], framing: Framing<'_>) -> (Vec<Piece>, bool) {
    // Messages from the statement of an sp_executesql call name no
    // procedure, as in SQL Server (the statement is a dynamic batch).
    let procedure = "";
    let mut pieces: Vec<Piece> = Vec::new();
    let mut error_pending = false;
    let mut any_error = false;

    for item in items {
        match item {
            Item::Info { number, message } => {
                let mut b = Vec::new();
                tokens::info(&mut b, *number, 1, message, framing.server, procedure, 1);
                pieces.push(Piece::Bytes(b));
            }
            Item::Tx(change) => {
                let mut b = Vec::new();
                tx_token(&mut b, *change);
                pieces.push(Piece::Bytes(b));
            }
            Item::Error(e) => {
                close_error(&mut pieces, &mut error_pending);
                let mut b = Vec::new();
                tokens::error(&mut b, e, framing.server, procedure);
                pieces.push(Piece::Bytes(b));
                error_pending = true;
                any_error = true;
            }
            Item::Rows(rs) => {
                close_error(&mut pieces, &mut error_pending);
                any_error |= rows_pieces(rs, framing, procedure, &mut pieces);
            }
            Item::DoneInProc { rows_affected } => {
                let mut b = Vec::new();
                let status = done_status::MORE
                    | if rows_affected.is_some() {
                        done_status::COUNT
                    } else {
                        0
                    };
                let rows = rows_affected.unwrap_or(0);
                tokens::done(&mut b, token::DONEINPROC, status, cur_cmd::OTHER, rows);
                pieces.push(Piece::Bytes(b));
            }
            Item::Done { rows_affected } => {
                let mut status = 0;
                if error_pending {
                    status |= done_status::ERROR;
                    error_pending = false;
                }
                if rows_affected.is_some() {
                    status |= done_status::COUNT;
                }
                pieces.push(Piece::Done {
                    status,
                    cmd: cur_cmd::OTHER,
                    rows: rows_affected.unwrap_or(0),
                });
            }
        }
    }
    close_error(&mut pieces, &mut error_pending);
    (pieces, any_error)
}

/// A result set: COLMETADATA, the rows and DONE; a value that does not fit
/// its column ends it with an error instead (true).
fn rows_pieces(
    rs: &ResultSet,
    framing: Framing<'_>,
    procedure: &str,
    pieces: &mut Vec<Piece>,
) -> bool {
    let mut b = Vec::new();
    tokens::col_metadata(&mut b, &rs.columns);
    let mut sent = 0u64;
    let mut failure: Option<SqlError> = None;
    for r in &rs.rows {
        if let Err(e) = tokens::row(&mut b, &rs.columns, r) {
            failure = Some(e);
            break;
        }
        sent += 1;
    }
    match failure {
        None => {
            pieces.push(Piece::Bytes(b));
            pieces.push(Piece::Done {
                status: done_status::COUNT,
                cmd: cur_cmd::SELECT,
                rows: sent,
            });
        }
        Some(e) => {
            tracing::warn!(error = %e, "result value does not fit its column");
            tokens::error(&mut b, &e, framing.server, procedure);
            pieces.push(Piece::Bytes(b));
            pieces.push(Piece::Done {
                status: done_status::ERROR,
                cmd: cur_cmd::SELECT,
                rows: 0,
            });
            return true;
        }
    }
    false
}

/// A batch's answer: every DONE but the last has MORE.
fn batch_frame(mut pieces: Vec<Piece>) -> Vec<u8> {
    let mut out = Vec::new();
    // The last piece must be a DONE without MORE; when tokens follow
    // the last statement's DONE (or there was none), add a final one.
    let final_is_done = matches!(pieces.last(), Some(Piece::Done { .. }));
    if !final_is_done {
        pieces.push(Piece::Done {
            status: 0,
            cmd: cur_cmd::OTHER,
            rows: 0,
        });
    }
    let last = pieces.len() - 1;
    for (i, p) in pieces.into_iter().enumerate() {
        match p {
            Piece::Bytes(b) => out.extend_from_slice(&b),
            Piece::Done { status, cmd, rows } => {
                let status = if i == last {
                    status
                } else {
                    status | done_status::MORE
                };
                tokens::done(&mut out, token::DONE, status, cmd, rows);
            }
        }
    }
    out
}

/// sp_executesql's answer: DONEINPROCs, the return status and DONEPROC.
fn procedure_frame(pieces: Vec<Piece>, any_error: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for p in pieces {
        match p {
            Piece::Bytes(b) => out.extend_from_slice(&b),
            Piece::Done { status, cmd, rows } => tokens::done(
                &mut out,
                token::DONEINPROC,
                status | done_status::MORE,
                cmd,
                rows,
            ),
        }
    }
    tokens::return_status(&mut out, if any_error { 1 } else { 0 });
    let status = if any_error { done_status::ERROR } else { 0 };
    tokens::done(&mut out, token::DONEPROC, status, cur_cmd::OTHER, 0);
    out
}

/// The answer to an attention: the transaction changes the interrupted
/// request made (so the client's descriptor stays right), then DONE with
/// DONE_ATTN.
pub fn attention_ack(items: &[Item]) -> Vec<u8> {
    let mut out = Vec::new();
    for item in items {
        if let Item::Tx(change) = item {
            tx_token(&mut out, *change);
        }
    }
    tokens::done(&mut out, token::DONE, done_status::ATTN, cur_cmd::OTHER, 0);
    out
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
