//! Client requests after login: SQLBatch, RPC (`sp_executesql`) and
//! transaction manager requests, decoded into what the engine runs.

use super::packet::{packet_type, Message};
use super::values::{read_param_type_info, read_param_value};
use super::wire::{utf16_to_string, Reader, WireError, WireResult};
use crate::types::{Param, SqlError, SqlType, Value};

/// RPC ProcID of `sp_executesql`.
pub const PROC_ID_EXECUTESQL: u16 = 10;

/// A transaction manager request (MS-TDS 2.2.6.9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TmRequest {
    /// TM_BEGIN_XACT.
    Begin,
    /// TM_COMMIT_XACT; `then_begin` when fBeginXact asks for a new one.
    Commit {
        /// Begin a new transaction right after.
        then_begin: bool,
    },
    /// TM_ROLLBACK_XACT (to a savepoint when `name` is set).
    Rollback {
        /// Savepoint name, empty for the whole transaction.
        name: String,
        /// Begin a new transaction right after.
        then_begin: bool,
    },
    /// TM_SAVE_XACT.
    Save {
        /// Savepoint name.
        name: String,
    },
}

/// What a request asks the server to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// A SQL batch.
    Batch {
        /// Its text.
        sql: String,
    },
    /// `sp_executesql`: a statement with typed parameters.
    ExecuteSql {
        /// The statement (`@stmt`).
        sql: String,
        /// The parameter values with their declared types.
        params: Vec<Param>,
    },
    /// A transaction manager request.
    Transaction(TmRequest),
    /// A BULK_LOAD message (the rows of the `INSERT BULK` just sent), or
    /// why it cannot be loaded.
    BulkLoad(Result<super::bulk::BulkData, super::bulk::BulkError>),
}

impl Request {
    /// Short name for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Request::Batch { .. } => "batch",
            Request::ExecuteSql { .. } => "rpc",
            Request::Transaction(_) => "tm",
            Request::BulkLoad(_) => "bulk",
        }
    }

    /// The SQL text, if any.
    pub fn sql(&self) -> Option<&str> {
        match self {
            Request::Batch { sql } | Request::ExecuteSql { sql, .. } => Some(sql),
            Request::Transaction(_) | Request::BulkLoad(_) => None,
        }
    }
}

/// A request that cannot run.
#[derive(Debug, Clone, PartialEq)]
pub enum DecodeError {
    /// Malformed bytes: the connection is out of sync and is closed.
    Protocol(WireError),
    /// Well-formed but refused: answered with this error, the connection
    /// stays usable.
    Sql(SqlError),
}

impl From<WireError> for DecodeError {
    fn from(e: WireError) -> Self {
        DecodeError::Protocol(e)
    }
}

/// A decoded request with the transaction descriptor the client sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The request.
    pub request: Request,
    /// The transaction descriptor from ALL_HEADERS (0 outside a transaction).
    pub transaction: Option<u64>,
}

/// Decodes a SQLBatch, RPC or transaction manager message.
pub fn decode(msg: &Message) -> Result<Decoded, DecodeError> {
    if msg.ty == packet_type::BULK_LOAD {
        // No ALL_HEADERS: the bulk data runs in the INSERT BULK's context.
        return Ok(Decoded {
            request: Request::BulkLoad(super::bulk::BulkData::decode(msg.payload.clone())),
            transaction: None,
        });
    }
    let mut r = Reader::new(&msg.payload);
    let transaction = read_all_headers(&mut r)?;
    let request = match msg.ty {
        packet_type::SQL_BATCH => Request::Batch {
            sql: utf16_to_string(r.rest())?,
        },
        packet_type::RPC => decode_rpc(&mut r)?,
        packet_type::TRANSACTION_MANAGER => Request::Transaction(decode_tm(&mut r)?),
        other => {
            return Err(DecodeError::Protocol(WireError(format!(
                "not a request: packet type {other:#04x}"
            ))))
        }
    };
    Ok(Decoded {
        request,
        transaction,
    })
}

/// ALL_HEADERS (required since TDS 7.2): returns the transaction descriptor.
fn read_all_headers(r: &mut Reader<'_>) -> WireResult<Option<u64>> {
    let total = r.u32_le()? as usize;
    if total < 4 {
        return Err(WireError(format!(
            "ALL_HEADERS length {total} is too short"
        )));
    }
    let block = r.bytes(total - 4)?;
    let mut h = Reader::new(block);
    let mut descriptor = None;
    while h.remaining() > 0 {
        let len = h.u32_le()? as usize;
        if len < 6 {
            return Err(WireError(format!(
                "ALL_HEADERS header length {len} is too short"
            )));
        }
        let ty = h.u16_le()?;
        let data = h.bytes(len - 6)?;
        if ty == 2 && data.len() >= 8 {
            let mut d = [0u8; 8];
            d.copy_from_slice(&data[..8]);
            descriptor = Some(u64::from_le_bytes(d));
        }
    }
    Ok(descriptor)
}

fn decode_tm(r: &mut Reader<'_>) -> Result<TmRequest, DecodeError> {
    let ty = r.u16_le()?;
    let optional_begin = |r: &mut Reader<'_>| -> WireResult<bool> {
        if r.remaining() == 0 {
            return Ok(false);
        }
        let flags = r.u8()?;
        if flags & 1 != 0 && r.remaining() > 0 {
            let _isolation = r.u8()?;
            if r.remaining() > 0 {
                let _name = r.b_varchar()?;
            }
        }
        Ok(flags & 1 != 0)
    };
    Ok(match ty {
        5 => {
            let _isolation = r.u8()?;
            if r.remaining() > 0 {
                let _name = r.b_varchar()?;
            }
            TmRequest::Begin
        }
        7 => {
            let _name = r.b_varchar()?;
            TmRequest::Commit { then_begin: optional_begin(r)? }
        }
        8 => {
            let name = r.b_varchar()?;
            TmRequest::Rollback { name, then_begin: optional_begin(r)? }
        }
        9 => TmRequest::Save { name: r.b_varchar()? },
        other => {
            return Err(DecodeError::Sql(SqlError::new(
                8501,
                format!("MSDTC on server is unavailable (transaction manager request {other} is not supported)."),
            )))
        }
    })
}

/// Whether an RPC procedure name means `sp_executesql`.
fn is_executesql(name: &str) -> bool {
    let unquoted: String = name.chars().filter(|c| *c != '[' && *c != ']').collect();
    let last = unquoted.rsplit('.').next().unwrap_or("");
    last.eq_ignore_ascii_case("sp_executesql")
}

fn proc_name(id: u16) -> String {
    match id {
        1 => "sp_cursor",
        2 => "sp_cursoropen",
        3 => "sp_cursorprepare",
        4 => "sp_cursorexecute",
        5 => "sp_cursorprepexec",
        6 => "sp_cursorunprepare",
        7 => "sp_cursorfetch",
        8 => "sp_cursoroption",
        9 => "sp_cursorclose",
        10 => "sp_executesql",
        11 => "sp_prepare",
        12 => "sp_execute",
        13 => "sp_prepexec",
        14 => "sp_prepexecrpc",
        15 => "sp_unprepare",
        _ => return format!("procedure id {id}"),
    }
    .to_string()
}

struct RawParam {
    name: String,
    value: Value,
}

fn decode_rpc(r: &mut Reader<'_>) -> Result<Request, DecodeError> {
    let name_len = r.u16_le()?;
    let name = if name_len == 0xFFFF {
        proc_name(r.u16_le()?)
    } else {
        r.utf16(name_len as usize)?
    };
    let _options = r.u16_le()?;
    if !is_executesql(&name) {
        return Err(DecodeError::Sql(SqlError::new(
            2812,
            format!("Could not find stored procedure '{name}'."),
        )));
    }

    let mut raw = Vec::new();
    while r.remaining() > 0 {
        // 0xFF/0x80 separate further RPCs of one message (TDS 7.2+).
        if matches!(r.rest()[0], 0xFF | 0x80 | 0xFE) {
            return Err(DecodeError::Sql(SqlError::new(
                8016,
                "The incoming tabular data stream (TDS) remote procedure call (RPC) protocol stream is incorrect. Batched RPC requests are not supported by the sandbox.",
            )));
        }
        let pname = r.b_varchar()?;
        let _status = r.u8()?;
        let info = match read_param_type_info(r)? {
            Ok(info) => info,
            Err(unsupported) => {
                return Err(DecodeError::Sql(SqlError::new(
                    8009,
                    format!(
                        "The incoming tabular data stream (TDS) remote procedure call (RPC) protocol stream is incorrect. Parameter {} (\"{}\"): Data type 0x{:02X} is unknown.",
                        raw.len() + 1,
                        pname,
                        unsupported.0
                    ),
                )))
            }
        };
        let value = read_param_value(r, info)?;
        raw.push(RawParam { name: pname, value });
    }
    executesql_params(raw).map_err(DecodeError::Sql)
}

/// The most parameters SQL Server takes in one RPC, sp_executesql's
/// statement and declaration among them.
pub const MAX_RPC_PARAMS: usize = 2100;

fn executesql_params(raw: Vec<RawParam>) -> Result<Request, SqlError> {
    if raw.len() > MAX_RPC_PARAMS {
        return Err(SqlError::new(
            8003,
            "The incoming request has too many parameters. The server supports a maximum of 2100 parameters. Reduce the number of parameters and resend the request.",
        ));
    }
    let mut it = raw.into_iter();
    let sql = match it.next().map(|p| p.value) {
        Some(Value::Text(s)) => s,
        _ => {
            return Err(SqlError::new(
                214,
                "Procedure expects parameter '@statement' of type 'ntext/nchar/nvarchar'.",
            ))
        }
    };
    let decl_text = match it.next().map(|p| p.value) {
        None | Some(Value::Null) => String::new(),
        Some(Value::Text(s)) => s,
        Some(_) => {
            return Err(SqlError::new(
                214,
                "Procedure expects parameter '@parameters' of type 'ntext/nchar/nvarchar'.",
            ))
        }
    };
    let decls = parse_declarations(&decl_text)?;
    let mut params = Vec::new();
    for (i, p) in it.enumerate() {
        let name = if p.name.is_empty() {
            match decls.get(i) {
                Some((n, _)) => n.clone(),
                None => {
                    return Err(SqlError::new(
                        8144,
                        "Procedure or function sp_executesql has too many arguments specified.",
                    ))
                }
            }
        } else if p.name.starts_with('@') {
            p.name.clone()
        } else {
            format!("@{}", p.name)
        };
        // Parameters usually come in their declared order: look there
        // first, so that a thousand of them cost no million comparisons.
        let declared = decls
            .get(i)
            .filter(|(n, _)| n.eq_ignore_ascii_case(&name))
            .or_else(|| decls.iter().find(|(n, _)| n.eq_ignore_ascii_case(&name)))
            .map(|(_, t)| *t);
        let ty = match declared {
            Some(t) => t,
            None => {
                return Err(SqlError::new(
                    8145,
                    format!("{name} is not a parameter for procedure sp_executesql."),
                ));
            }
        };
        params.push(Param {
            name,
            ty,
            value: p.value,
        });
    }
    for (k, (n, _)) in decls.iter().enumerate() {
        let sent = |p: &Param| p.name.eq_ignore_ascii_case(n);
        if !params.get(k).is_some_and(sent) && !params.iter().any(sent) {
            let mut shown: String = format!("({decl_text}){sql}");
            if shown.chars().count() > 80 {
                shown = shown.chars().take(80).collect();
            }
            return Err(SqlError::new(
                8178,
                format!("The parameterized query '{shown}' expects the parameter '{n}', which was not supplied."),
            ));
        }
    }
    Ok(Request::ExecuteSql { sql, params })
}

/// Splits `@params` at top-level commas.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// Parses `@P1 int,@P2 nvarchar(4000)` into names and types.
pub fn parse_declarations(text: &str) -> Result<Vec<(String, SqlType)>, SqlError> {
    let mut out = Vec::new();
    if text.trim().is_empty() {
        return Ok(out);
    }
    for (i, part) in split_top_level(text).into_iter().enumerate() {
        let part = part.trim();
        let (name, rest) = part
            .split_once(|c: char| c.is_whitespace())
            .unwrap_or((part, ""));
        if !name.starts_with('@') || name.len() < 2 {
            return Err(SqlError::syntax(name));
        }
        let rest = rest.trim();
        let mut type_text = rest;
        let lower = rest.to_ascii_lowercase();
        for suffix in [" output", " out", " readonly"] {
            if lower.ends_with(suffix) {
                return Err(SqlError::syntax(
                    suffix.trim().to_ascii_uppercase().as_str(),
                ));
            }
        }
        if let Some(t) = lower.strip_prefix("as ") {
            type_text = &rest[rest.len() - t.len()..];
        }
        let ty = parse_type(type_text).ok_or_else(|| {
            SqlError::new(
                2715,
                format!(
                    "Column, parameter, or variable #{}: Cannot find data type {}.",
                    i + 1,
                    type_text
                ),
            )
        })?;
        out.push((name.to_string(), ty));
    }
    Ok(out)
}

/// A T-SQL type name as the sandbox models it.
pub fn parse_type(text: &str) -> Option<SqlType> {
    let t: String = text
        .chars()
        .filter(|c| *c != '[' && *c != ']')
        .collect::<String>()
        .to_ascii_lowercase();
    let t = t.trim();
    let (base, arg) = match t.find('(') {
        Some(i) => {
            let arg = t[i + 1..].strip_suffix(')')?.trim();
            (t[..i].trim(), Some(arg))
        }
        None => (t, None),
    };
    let len = |arg: Option<&str>, default: u16, limit: u16| -> Option<Option<u16>> {
        match arg {
            None => Some(Some(default)),
            Some("max") => Some(None),
            Some(n) => {
                let n: u16 = n.parse().ok()?;
                if n == 0 || n > limit {
                    return None;
                }
                Some(Some(n))
            }
        }
    };
    Some(match (base, arg) {
        ("bit", None) => SqlType::Bit,
        ("tinyint", None) => SqlType::TinyInt,
        ("smallint", None) => SqlType::SmallInt,
        ("int" | "integer", None) => SqlType::Int,
        ("bigint", None) => SqlType::BigInt,
        ("float", None) | ("real", None) | ("double precision", None) => SqlType::Float,
        ("float", Some(n)) => {
            let n: u8 = n.parse().ok()?;
            if !(1..=53).contains(&n) {
                return None;
            }
            SqlType::Float
        }
        ("uniqueidentifier", None) => SqlType::UniqueIdentifier,
        ("nvarchar" | "nchar", a) => SqlType::NVarChar(len(a, 1, 4000)?),
        ("varchar" | "char", a) => SqlType::VarChar(len(a, 1, 8000)?),
        ("varbinary" | "binary", a) => SqlType::VarBinary(len(a, 1, 8000)?),
        ("datetime2", None) => SqlType::DateTime2,
        ("datetime2", Some(n)) => {
            let n: u8 = n.parse().ok()?;
            if n > 7 {
                return None;
            }
            SqlType::DateTime2
        }
        ("datetime" | "smalldatetime", None) => SqlType::DateTime,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tds::values::{guid_wire_bytes, ty};
    use crate::tds::wire::{put_b_varchar, put_utf16};

    fn all_headers(desc: u64) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&22u32.to_le_bytes());
        v.extend_from_slice(&18u32.to_le_bytes());
        v.extend_from_slice(&2u16.to_le_bytes());
        v.extend_from_slice(&desc.to_le_bytes());
        v.extend_from_slice(&1u32.to_le_bytes());
        v
    }

    fn nvarchar_param(out: &mut Vec<u8>, name: &str, s: &str) {
        put_b_varchar(out, name);
        out.push(0);
        out.push(ty::NVARCHAR);
        out.extend_from_slice(&8000u16.to_le_bytes());
        out.extend_from_slice(&[0; 5]);
        let mut b = Vec::new();
        put_utf16(&mut b, s);
        out.extend_from_slice(&(b.len() as u16).to_le_bytes());
        out.extend_from_slice(&b);
    }

    /// An RPC as tiberius' `Client::query` sends it.
    fn tiberius_rpc(sql: &str, decl: &str, values: &[u8]) -> Message {
        let mut p = all_headers(0);
        p.extend_from_slice(&0xFFFFu16.to_le_bytes());
        p.extend_from_slice(&PROC_ID_EXECUTESQL.to_le_bytes());
        p.extend_from_slice(&0u16.to_le_bytes());
        nvarchar_param(&mut p, "stmt", sql);
        nvarchar_param(&mut p, "params", decl);
        p.extend_from_slice(values);
        Message {
            ty: packet_type::RPC,
            status: 1,
            payload: p,
        }
    }

    #[test]
    fn decodes_batch_with_descriptor() {
        let mut p = all_headers(42);
        put_utf16(&mut p, "SELECT 1");
        let d = decode(&Message {
            ty: packet_type::SQL_BATCH,
            status: 1,
            payload: p,
        })
        .unwrap();
        assert_eq!(
            d.request,
            Request::Batch {
                sql: "SELECT 1".into()
            }
        );
        assert_eq!(d.transaction, Some(42));
    }

    #[test]
    fn an_rpc_of_more_than_2100_parameters_is_refused_as_sql_server_refuses_it() {
        // The statement and the declaration are two of the 2100.
        for (n, ok) in [(2098, true), (2099, false)] {
            let mut v = Vec::new();
            let decl: Vec<String> = (1..=n).map(|i| format!("@P{i} int")).collect();
            for i in 1..=n {
                put_b_varchar(&mut v, &format!("@P{i}"));
                v.extend_from_slice(&[0, ty::INTN, 4, 4]);
                v.extend_from_slice(&(i as i32).to_le_bytes());
            }
            let msg = tiberius_rpc("SELECT @P1", &decl.join(", "), &v);
            match decode(&msg) {
                Ok(d) => {
                    assert!(ok, "{n} parameters were taken");
                    let Request::ExecuteSql { params, .. } = d.request else {
                        panic!("not sp_executesql");
                    };
                    assert_eq!(params.len(), n);
                }
                Err(DecodeError::Sql(e)) => {
                    assert!(!ok, "{n}: {e:?}");
                    assert_eq!((e.number, e.severity), (8003, 16));
                    assert!(e.message.contains("maximum of 2100 parameters"));
                }
                Err(e) => panic!("{n}: {e:?}"),
            }
        }
    }

    #[test]
    fn decodes_executesql_with_typed_params() {
        let g = uuid::Uuid::new_v4();
        let mut v = Vec::new();
        put_b_varchar(&mut v, "@P1");
        v.extend_from_slice(&[0, ty::INTN, 4, 4]);
        v.extend_from_slice(&7i32.to_le_bytes());
        put_b_varchar(&mut v, "@P2");
        v.extend_from_slice(&[0, ty::GUID, 16, 16]);
        v.extend_from_slice(&guid_wire_bytes(*g.as_bytes()));
        put_b_varchar(&mut v, "@P3");
        v.extend_from_slice(&[0, ty::NULL]);
        put_b_varchar(&mut v, "@P4");
        v.extend_from_slice(&[0, ty::BITN, 1, 1, 1]);
        let msg = tiberius_rpc(
            "SELECT @P1, @P2, @P3, @P4",
            "@P1 int,@P2 uniqueidentifier,@P3 nvarchar(4000),@P4 bit",
            &v,
        );
        let d = decode(&msg).unwrap();
        let Request::ExecuteSql { sql, params } = d.request else {
            panic!()
        };
        assert_eq!(sql, "SELECT @P1, @P2, @P3, @P4");
        assert_eq!(
            params,
            vec![
                Param {
                    name: "@P1".into(),
                    ty: SqlType::Int,
                    value: Value::Int(7)
                },
                Param {
                    name: "@P2".into(),
                    ty: SqlType::UniqueIdentifier,
                    value: Value::Guid(g)
                },
                Param {
                    name: "@P3".into(),
                    ty: SqlType::NVarChar(Some(4000)),
                    value: Value::Null
                },
                Param {
                    name: "@P4".into(),
                    ty: SqlType::Bit,
                    value: Value::Bit(true)
                },
            ]
        );
    }

    #[test]
    fn decodes_named_executesql_without_params() {
        let mut p = all_headers(0);
        let name = "sp_executesql";
        p.extend_from_slice(&(name.len() as u16).to_le_bytes());
        put_utf16(&mut p, name);
        p.extend_from_slice(&0u16.to_le_bytes());
        nvarchar_param(&mut p, "", "SELECT 2");
        let d = decode(&Message {
            ty: packet_type::RPC,
            status: 1,
            payload: p,
        })
        .unwrap();
        assert_eq!(
            d.request,
            Request::ExecuteSql {
                sql: "SELECT 2".into(),
                params: vec![]
            }
        );
    }

    #[test]
    fn refuses_other_procedures_and_types() {
        let mut p = all_headers(0);
        p.extend_from_slice(&0xFFFFu16.to_le_bytes());
        p.extend_from_slice(&11u16.to_le_bytes());
        p.extend_from_slice(&0u16.to_le_bytes());
        match decode(&Message {
            ty: packet_type::RPC,
            status: 1,
            payload: p,
        }) {
            Err(DecodeError::Sql(e)) => assert_eq!(e.number, 2812),
            other => panic!("{other:?}"),
        }
        let mut v = Vec::new();
        put_b_varchar(&mut v, "@P1");
        v.extend_from_slice(&[0, ty::DECIMALN, 17, 18, 2, 0]);
        match decode(&tiberius_rpc("SELECT @P1", "@P1 numeric(18,2)", &v)) {
            Err(DecodeError::Sql(e)) => assert_eq!(e.number, 8009),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn named_parameters_out_of_declared_order_take_their_declared_types() {
        let mut v = Vec::new();
        put_b_varchar(&mut v, "@b");
        v.extend_from_slice(&[0, ty::INTN, 4, 4]);
        v.extend_from_slice(&7i32.to_le_bytes());
        put_b_varchar(&mut v, "@A");
        v.extend_from_slice(&[0, ty::INTN, 4, 4]);
        v.extend_from_slice(&8i32.to_le_bytes());
        let d = decode(&tiberius_rpc("SELECT @a, @b", "@a bigint, @b int", &v)).unwrap();
        let Request::ExecuteSql { params, .. } = d.request else {
            panic!()
        };
        let got: Vec<(&str, SqlType)> = params.iter().map(|p| (p.name.as_str(), p.ty)).collect();
        assert_eq!(got, [("@b", SqlType::Int), ("@A", SqlType::BigInt)]);
        // One of two declared, sent under the other's position: 8178.
        let mut v = Vec::new();
        put_b_varchar(&mut v, "@b");
        v.extend_from_slice(&[0, ty::INTN, 4, 4]);
        v.extend_from_slice(&7i32.to_le_bytes());
        match decode(&tiberius_rpc("SELECT @a, @b", "@a int, @b int", &v)) {
            Err(DecodeError::Sql(e)) => assert!(e.message.contains("'@a'"), "{}", e.message),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn missing_parameter_is_8178() {
        match decode(&tiberius_rpc("SELECT @P1", "@P1 int", &[])) {
            Err(DecodeError::Sql(e)) => assert_eq!(e.number, 8178),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn truncated_rpc_is_a_protocol_error() {
        let msg = tiberius_rpc("SELECT 1", "", &[]);
        let cut = Message {
            payload: msg.payload[..msg.payload.len() - 3].to_vec(),
            ..msg
        };
        assert!(matches!(decode(&cut), Err(DecodeError::Protocol(_))));
    }

    #[test]
    fn decodes_tm_requests() {
        let tm = |body: &[u8]| {
            let mut p = all_headers(9);
            p.extend_from_slice(body);
            decode(&Message {
                ty: packet_type::TRANSACTION_MANAGER,
                status: 1,
                payload: p,
            })
            .unwrap()
            .request
        };
        assert_eq!(tm(&[5, 0, 0, 0]), Request::Transaction(TmRequest::Begin));
        assert_eq!(
            tm(&[7, 0, 0, 0]),
            Request::Transaction(TmRequest::Commit { then_begin: false })
        );
        assert_eq!(
            tm(&[8, 0, 0, 1, 2, 0]),
            Request::Transaction(TmRequest::Rollback {
                name: String::new(),
                then_begin: true
            })
        );
    }

    #[test]
    fn parses_declarations_and_types() {
        let d = parse_declarations(
            "@P1 nvarchar(max),@P2 bigint, @P3 float(53),@P4 datetime2 ,@P5 varbinary(8000)",
        )
        .unwrap();
        assert_eq!(
            d.iter().map(|x| x.1).collect::<Vec<_>>(),
            vec![
                SqlType::NVarChar(None),
                SqlType::BigInt,
                SqlType::Float,
                SqlType::DateTime2,
                SqlType::VarBinary(Some(8000))
            ]
        );
        assert_eq!(
            parse_declarations("@P1 numeric(10,2)").unwrap_err().number,
            2715
        );
        assert_eq!(
            parse_declarations("@P1 int OUTPUT").unwrap_err().number,
            102
        );
        assert_eq!(
            parse_type("NVARCHAR(4000)"),
            Some(SqlType::NVarChar(Some(4000)))
        );
        assert_eq!(parse_type("[int]"), Some(SqlType::Int));
        assert_eq!(parse_type("nvarchar(5000)"), None);
    }
}
