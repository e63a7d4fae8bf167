//! The BULK_LOAD message (packet type 0x07, MS-TDS 2.2.6.1): a COLMETADATA
//! token describing the rows, ROW tokens, then DONE. Sent after an
//! `INSERT BULK` batch. The column descriptions are decoded at once; the
//! rows as the engine reads them, so a million rows are never held twice
//! as values (the engine keeps its converted rows only to sort a load into
//! a clustered table).

use super::tokens::token;
use super::values::{read_param_type_info, read_param_value, ParamTypeInfo};
use super::wire::{Reader, WireError, WireResult};
use crate::types::{Column, Value};

/// TEXTTYPE, NTEXTTYPE and IMAGETYPE carry a table name in COLMETADATA;
/// the sandbox has none of them, but must know where the name ends.
const TEXT_TYPES: [u8; 3] = [0x23, 0x63, 0x22];

/// A decoded BULK_LOAD message.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkData {
    /// The columns as the client describes them.
    pub columns: Vec<Column>,
    infos: Vec<ParamTypeInfo>,
    payload: Vec<u8>,
    /// Offset of the first token after COLMETADATA.
    rows_at: usize,
}

/// Why a BULK_LOAD message cannot be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkError {
    /// A column of a type the sandbox does not have (1-based colid): SQL
    /// Server's 4816.
    ColumnType(usize),
    /// Bytes that do not parse: SQL Server's 4804.
    Malformed(WireError),
}

impl From<WireError> for BulkError {
    fn from(e: WireError) -> Self {
        BulkError::Malformed(e)
    }
}

impl BulkData {
    /// Decodes the COLMETADATA at the start of `payload`.
    pub fn decode(payload: Vec<u8>) -> Result<BulkData, BulkError> {
        let mut r = Reader::new(&payload);
        if r.u8()? != token::COLMETADATA {
            return Err(WireError("bulk load data without COLMETADATA".into()).into());
        }
        let n = r.u16_le()?;
        if n == 0xFFFF {
            return Err(WireError("bulk load COLMETADATA without columns".into()).into());
        }
        let mut columns = Vec::with_capacity(n as usize);
        let mut infos = Vec::with_capacity(n as usize);
        for colid in 1..=n as usize {
            r.skip(4)?; // UserType
            let flags = r.u16_le()?;
            let code = r.rest().first().copied().unwrap_or(0);
            if TEXT_TYPES.contains(&code) {
                return Err(BulkError::ColumnType(colid));
            }
            let info = read_param_type_info(&mut r)?.map_err(|_| BulkError::ColumnType(colid))?;
            let ty = info.sql_type().ok_or(BulkError::ColumnType(colid))?;
            let name = r.b_varchar()?;
            columns.push(Column {
                name,
                ty,
                nullable: flags & 1 != 0,
            });
            infos.push(info);
        }
        let rows_at = r.position();
        Ok(BulkData {
            columns,
            infos,
            payload,
            rows_at,
        })
    }

    /// The rows, decoded one at a time: ROW tokens up to DONE. Bytes that
    /// do not parse, or a message that ends before DONE, end the iteration
    /// with an error.
    pub fn rows(&self) -> Rows<'_> {
        let mut r = Reader::new(&self.payload);
        let _ = r.skip(self.rows_at);
        Rows {
            data: self,
            r,
            done: false,
        }
    }
}

/// The rows of a BULK_LOAD message.
pub struct Rows<'a> {
    data: &'a BulkData,
    r: Reader<'a>,
    done: bool,
}

impl Rows<'_> {
    fn row(&mut self) -> WireResult<Option<Vec<Value>>> {
        match self.r.u8()? {
            token::ROW => {
                let mut row = Vec::with_capacity(self.data.infos.len());
                for info in &self.data.infos {
                    row.push(read_param_value(&mut self.r, *info)?);
                }
                Ok(Some(row))
            }
            token::DONE => Ok(None),
            other => Err(WireError(format!(
                "unexpected token {other:#04x} in bulk load data"
            ))),
        }
    }
}

impl Iterator for Rows<'_> {
    type Item = WireResult<Vec<Value>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.row() {
            Ok(Some(row)) => Some(Ok(row)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tds::values::ty;
    use crate::types::SqlType;

    fn payload(rows: &[&[u8]], done: bool) -> Vec<u8> {
        let mut p = vec![token::COLMETADATA, 2, 0];
        // [ID] uniqueidentifier NOT NULL
        p.extend_from_slice(&[0, 0, 0, 0, 0x08, 0, ty::GUID, 16, 2, b'I', 0, b'D', 0]);
        // [N] int NULL
        p.extend_from_slice(&[0, 0, 0, 0, 0x09, 0, ty::INTN, 4, 1, b'N', 0]);
        for r in rows {
            p.push(token::ROW);
            p.extend_from_slice(r);
        }
        if done {
            p.push(token::DONE);
            p.extend_from_slice(&[0; 12]);
        }
        p
    }

    #[test]
    fn colmetadata_rows_and_done() {
        let mut row = vec![16];
        row.extend_from_slice(&[7; 16]);
        row.extend_from_slice(&[4, 42, 0, 0, 0]);
        let null_row: &[u8] = &[16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0];
        let data = BulkData::decode(payload(&[&row, null_row], true)).unwrap();
        assert_eq!(data.columns.len(), 2);
        assert_eq!(data.columns[0].ty, SqlType::UniqueIdentifier);
        assert!(!data.columns[0].nullable);
        assert_eq!(data.columns[1].name, "N");
        let rows: Vec<_> = data.rows().collect::<Result<_, _>>().unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0][1], Value::Int(42));
        assert_eq!(rows[1][1], Value::Null);
    }

    #[test]
    fn truncated_and_unknown_types_fail() {
        let data = BulkData::decode(payload(&[&[16, 1, 2]], false)).unwrap();
        let last = data.rows().last().unwrap();
        assert!(last.is_err());
        let data = BulkData::decode(payload(&[], false)).unwrap();
        assert!(data.rows().next().unwrap().is_err());
        let mut p = vec![token::COLMETADATA, 1, 0, 0, 0, 0, 0, 0, 0, 0x6A];
        p.extend_from_slice(&[17, 18, 2]);
        assert_eq!(BulkData::decode(p), Err(BulkError::ColumnType(1)));
    }
}
