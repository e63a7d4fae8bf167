//! Token encoders (MS-TDS 2.2.7): each function appends one token to a
//! response buffer.

use super::values::{put_columns, put_value, COLLATION};
use super::wire::{put_b_varbyte, put_b_varchar, put_us_varchar};
use crate::types::{Column, SqlError, Value};

/// Token type bytes.
pub mod token {
    /// RETURNSTATUS
    pub const RETURN_STATUS: u8 = 0x79;
    /// COLMETADATA
    pub const COLMETADATA: u8 = 0x81;
    /// ERROR
    pub const ERROR: u8 = 0xAA;
    /// INFO
    pub const INFO: u8 = 0xAB;
    /// LOGINACK
    pub const LOGINACK: u8 = 0xAD;
    /// FEATUREEXTACK
    pub const FEATUREEXTACK: u8 = 0xAE;
    /// ROW
    pub const ROW: u8 = 0xD1;
    /// ENVCHANGE
    pub const ENVCHANGE: u8 = 0xE3;
    /// DONE
    pub const DONE: u8 = 0xFD;
    /// DONEPROC
    pub const DONEPROC: u8 = 0xFE;
    /// DONEINPROC
    pub const DONEINPROC: u8 = 0xFF;
}

/// DONE status bits.
pub mod done_status {
    /// More results follow.
    pub const MORE: u16 = 0x0001;
    /// The statement failed.
    pub const ERROR: u16 = 0x0002;
    /// The row count is valid.
    pub const COUNT: u16 = 0x0010;
    /// Acknowledges an attention.
    pub const ATTN: u16 = 0x0020;
    /// A severe server error.
    pub const SRVERROR: u16 = 0x0100;
}

/// ENVCHANGE types.
pub mod env {
    /// Database.
    pub const DATABASE: u8 = 1;
    /// Language.
    pub const LANGUAGE: u8 = 2;
    /// Packet size.
    pub const PACKET_SIZE: u8 = 4;
    /// SQL collation.
    pub const COLLATION: u8 = 7;
    /// Begin transaction.
    pub const BEGIN_TRAN: u8 = 8;
    /// Commit transaction.
    pub const COMMIT_TRAN: u8 = 9;
    /// Rollback transaction.
    pub const ROLLBACK_TRAN: u8 = 10;
    /// Routing (TDS 7.4): log in to another server instead.
    pub const ROUTING: u8 = 20;
}

/// Current-command values for DONE tokens (informational for clients).
pub mod cur_cmd {
    /// SELECT.
    pub const SELECT: u16 = 0xC1;
    /// Anything else.
    pub const OTHER: u16 = 0;
}

fn with_u16_length(out: &mut Vec<u8>, token: u8, body: impl FnOnce(&mut Vec<u8>)) {
    out.push(token);
    let at = out.len();
    out.extend_from_slice(&[0, 0]);
    body(out);
    let len = (out.len() - at - 2) as u16;
    out[at..at + 2].copy_from_slice(&len.to_le_bytes());
}

/// ENVCHANGE with B_VARCHAR values (database, language, packet size).
pub fn env_text(out: &mut Vec<u8>, kind: u8, new: &str, old: &str) {
    with_u16_length(out, token::ENVCHANGE, |b| {
        b.push(kind);
        put_b_varchar(b, new);
        put_b_varchar(b, old);
    });
}

/// ENVCHANGE with B_VARBYTE values (collation, transactions).
pub fn env_bytes(out: &mut Vec<u8>, kind: u8, new: &[u8], old: &[u8]) {
    with_u16_length(out, token::ENVCHANGE, |b| {
        b.push(kind);
        put_b_varbyte(b, new);
        put_b_varbyte(b, old);
    });
}

/// ENVCHANGE announcing the server collation.
pub fn env_collation(out: &mut Vec<u8>) {
    env_bytes(out, env::COLLATION, &COLLATION, &[]);
}

/// ENVCHANGE 8: a transaction began; the client sends `descriptor` back in
/// ALL_HEADERS from now on.
pub fn env_begin(out: &mut Vec<u8>, descriptor: u64) {
    env_bytes(out, env::BEGIN_TRAN, &descriptor.to_le_bytes(), &[]);
}

/// ENVCHANGE 9: the transaction committed.
pub fn env_commit(out: &mut Vec<u8>, descriptor: u64) {
    env_bytes(out, env::COMMIT_TRAN, &[], &descriptor.to_le_bytes());
}

/// ENVCHANGE 10: the transaction rolled back.
pub fn env_rollback(out: &mut Vec<u8>, descriptor: u64) {
    env_bytes(out, env::ROLLBACK_TRAN, &[], &descriptor.to_le_bytes());
}

/// ENVCHANGE 20 ([MS-TDS] 2.2.7.9): the client is to log in at `host`,
/// `port` instead. The new value is a length-prefixed ROUTING_DATA
/// (protocol 0 = TCP, the port, the host as US_VARCHAR); the old value is
/// always empty. SQL Server sends it after LOGINACK.
pub fn env_routing(out: &mut Vec<u8>, host: &str, port: u16) {
    with_u16_length(out, token::ENVCHANGE, |b| {
        b.push(env::ROUTING);
        let mut data = vec![0u8];
        data.extend_from_slice(&port.to_le_bytes());
        put_us_varchar(&mut data, host);
        b.extend_from_slice(&(data.len() as u16).to_le_bytes());
        b.extend_from_slice(&data);
        b.extend_from_slice(&0u16.to_le_bytes());
    });
}

/// The body shared by ERROR and INFO.
#[allow(clippy::too_many_arguments)]
fn message(
    out: &mut Vec<u8>,
    tok: u8,
    number: i32,
    state: u8,
    class: u8,
    text: &str,
    server: &str,
    procedure: &str,
    line: u32,
) {
    with_u16_length(out, tok, |b| {
        b.extend_from_slice(&number.to_le_bytes());
        b.push(state);
        b.push(class);
        put_us_varchar(b, text);
        put_b_varchar(b, server);
        put_b_varchar(b, procedure);
        b.extend_from_slice(&line.to_le_bytes());
    });
}

/// ERROR token.
pub fn error(out: &mut Vec<u8>, e: &SqlError, server: &str, procedure: &str) {
    message(
        out,
        token::ERROR,
        e.number,
        e.state,
        e.severity,
        &e.message,
        server,
        procedure,
        e.line,
    );
}

/// INFO token (severity 0, as PRINT and database-change messages have).
pub fn info(
    out: &mut Vec<u8>,
    number: i32,
    state: u8,
    text: &str,
    server: &str,
    procedure: &str,
    line: u32,
) {
    message(
        out,
        token::INFO,
        number,
        state,
        0,
        text,
        server,
        procedure,
        line,
    );
}

/// LOGINACK with the TDS version the server will speak (0x74000004 for
/// TDS 7.4; sent big-endian, unlike everything else).
pub fn login_ack(out: &mut Vec<u8>, tds_version: u32, prog_name: &str, version: (u8, u8, u16)) {
    with_u16_length(out, token::LOGINACK, |b| {
        b.push(1); // SQL_TSQL
        b.extend_from_slice(&tds_version.to_be_bytes());
        put_b_varchar(b, prog_name);
        b.push(version.0);
        b.push(version.1);
        b.extend_from_slice(&version.2.to_be_bytes());
    });
}

/// FEATUREEXTACK acknowledging nothing: the sandbox supports none of the
/// optional features, and a feature the client did not see acknowledged is
/// off.
pub fn feature_ext_ack_none(out: &mut Vec<u8>) {
    out.push(token::FEATUREEXTACK);
    out.push(0xFF);
}

/// DONE, DONEPROC or DONEINPROC.
pub fn done(out: &mut Vec<u8>, tok: u8, status: u16, cur_cmd: u16, rows: u64) {
    out.push(tok);
    out.extend_from_slice(&status.to_le_bytes());
    out.extend_from_slice(&cur_cmd.to_le_bytes());
    out.extend_from_slice(&rows.to_le_bytes());
}

/// RETURNSTATUS.
pub fn return_status(out: &mut Vec<u8>, status: i32) {
    out.push(token::RETURN_STATUS);
    out.extend_from_slice(&status.to_le_bytes());
}

/// COLMETADATA.
pub fn col_metadata(out: &mut Vec<u8>, columns: &[Column]) {
    out.push(token::COLMETADATA);
    put_columns(out, columns);
}

/// Msg 213: a row with more or fewer values than columns.
pub fn width_error() -> SqlError {
    SqlError::new(
        213,
        "Column name or number of supplied values does not match table definition.",
    )
}

/// ROW. On a value that does not fit its column nothing is appended.
pub fn row(out: &mut Vec<u8>, columns: &[Column], values: &[Value]) -> Result<(), SqlError> {
    if values.len() != columns.len() {
        return Err(width_error());
    }
    let mut body = vec![token::ROW];
    for (c, v) in columns.iter().zip(values) {
        put_value(&mut body, c.ty, v)?;
    }
    out.extend_from_slice(&body);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::SqlType;

    #[test]
    fn error_token_layout() {
        let mut out = Vec::new();
        let e = SqlError {
            number: 18456,
            severity: 14,
            state: 1,
            message: "Login failed for user 'x'.".into(),
            line: 1,
        };
        error(&mut out, &e, "SRV", "");
        assert_eq!(out[0], token::ERROR);
        let len = u16::from_le_bytes([out[1], out[2]]) as usize;
        assert_eq!(len, out.len() - 3);
        assert_eq!(i32::from_le_bytes([out[3], out[4], out[5], out[6]]), 18456);
        assert_eq!(out[7], 1); // state
        assert_eq!(out[8], 14); // class
    }

    #[test]
    fn env_begin_layout() {
        let mut out = Vec::new();
        env_begin(&mut out, 0x0102030405060708);
        assert_eq!(out, vec![0xE3, 11, 0, 8, 8, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
        let mut out = Vec::new();
        env_rollback(&mut out, 1);
        assert_eq!(out, vec![0xE3, 11, 0, 10, 0, 8, 1, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn login_ack_layout() {
        let mut out = Vec::new();
        login_ack(&mut out, 0x7400_0004, "Microsoft SQL Server", (16, 0, 4135));
        assert_eq!(&out[3..8], &[1, 0x74, 0, 0, 4]);
        assert_eq!(&out[out.len() - 4..], &[16, 0, 0x10, 0x27]);
    }

    #[test]
    fn row_checks_width() {
        let cols = vec![Column {
            name: "a".into(),
            ty: SqlType::Int,
            nullable: true,
        }];
        let mut out = Vec::new();
        assert!(row(&mut out, &cols, &[]).is_err());
        row(&mut out, &cols, &[Value::Int(7)]).unwrap();
        assert_eq!(out, vec![0xD1, 4, 7, 0, 0, 0]);
        let mut out = Vec::new();
        assert!(row(&mut out, &cols, &[Value::Text("x".into())]).is_err());
        assert!(out.is_empty());
    }
}
