//! The SQLite side of BINARY_CHECKSUM and CHECKSUM_AGG.
//!
//! `sbx_binary_checksum(type1, value1, type2, value2, ...)` hashes each
//! value's binary representation for its SQL Server type (the translator
//! passes the type names), so that equal values of one type hash alike
//! whatever their collation says ('abc' and 'ABC' differ) and values of
//! different types differ. The values are not SQL Server's (nobody
//! compares them across servers), only as deterministic.
//!
//! `sbx_checksum_agg(int)` XORs its non-NULL inputs, as SQL Server's does:
//! order-independent, NULL over no rows.

use super::datatype::parse_guid;
use rusqlite::functions::{Aggregate, Context, FunctionFlags};
use rusqlite::types::ValueRef;
use rusqlite::Connection;

/// FNV-1a, 64 bits: small, deterministic and mixing well enough that one
/// changed key changes the row's checksum.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn bytes(&mut self, b: &[u8]) {
        for &x in b {
            self.0 ^= x as u64;
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    /// The 64-bit state folded to SQL Server's int.
    fn finish(&self) -> i32 {
        (self.0 ^ (self.0 >> 32)) as u32 as i32
    }
}

/// The bytes a value of SQL Server type `ty` hashes as. Strings ignore
/// trailing spaces (as `=` does); integers take their type's width.
fn value_bytes(ty: &str, v: ValueRef<'_>) -> Option<Vec<u8>> {
    Some(match v {
        ValueRef::Null => return None,
        ValueRef::Integer(i) => match ty {
            "bit" | "tinyint" => vec![i as u8],
            "smallint" => (i as i16).to_le_bytes().to_vec(),
            "int" => (i as i32).to_le_bytes().to_vec(),
            _ => i.to_le_bytes().to_vec(),
        },
        ValueRef::Real(f) => f.to_le_bytes().to_vec(),
        ValueRef::Text(t) => {
            let s = String::from_utf8_lossy(t);
            match ty {
                "uniqueidentifier" => match parse_guid(&s) {
                    Some(g) => g.as_bytes().to_vec(),
                    None => t.to_vec(),
                },
                "nvarchar" => s
                    .trim_end_matches(' ')
                    .encode_utf16()
                    .flat_map(|u| u.to_le_bytes())
                    .collect(),
                "varchar" => s.trim_end_matches(' ').as_bytes().to_vec(),
                _ => t.to_vec(),
            }
        }
        ValueRef::Blob(b) => b.to_vec(),
    })
}

/// BINARY_CHECKSUM over (type, value) pairs.
pub(crate) fn binary_checksum(args: &[(&str, ValueRef<'_>)]) -> i32 {
    let mut h = Fnv::new();
    for (ty, v) in args {
        h.bytes(ty.as_bytes());
        match value_bytes(ty, *v) {
            // A NULL of a type has one representation, distinct from every
            // value's (the length prefix of a value is never all ones).
            None => h.bytes(&[0xFF; 5]),
            Some(b) => {
                h.bytes(&[0]);
                h.bytes(&(b.len() as u32).to_le_bytes());
                h.bytes(&b);
            }
        }
    }
    h.finish()
}

/// CHECKSUM_AGG: XOR of the non-NULL inputs; None while there were none.
struct ChecksumAgg;

impl Aggregate<Option<i32>, Option<i32>> for ChecksumAgg {
    fn init(&self, _: &mut Context<'_>) -> rusqlite::Result<Option<i32>> {
        Ok(None)
    }

    fn step(&self, ctx: &mut Context<'_>, acc: &mut Option<i32>) -> rusqlite::Result<()> {
        if let ValueRef::Integer(i) = ctx.get_raw(0) {
            *acc = Some(acc.unwrap_or(0) ^ i as i32);
        }
        Ok(())
    }

    fn finalize(
        &self,
        _: &mut Context<'_>,
        acc: Option<Option<i32>>,
    ) -> rusqlite::Result<Option<i32>> {
        Ok(acc.flatten())
    }
}

/// Registers `sbx_binary_checksum` and `sbx_checksum_agg`.
pub(crate) fn register(conn: &Connection) -> rusqlite::Result<()> {
    let det = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function("sbx_binary_checksum", -1, det, |ctx| {
        let mut tys = Vec::with_capacity(ctx.len() / 2);
        for i in (0..ctx.len()).step_by(2) {
            tys.push(match ctx.get_raw(i) {
                ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                _ => String::new(),
            });
        }
        let args: Vec<(&str, ValueRef<'_>)> = tys
            .iter()
            .enumerate()
            .map(|(k, ty)| {
                let v = if 2 * k + 1 < ctx.len() {
                    ctx.get_raw(2 * k + 1)
                } else {
                    ValueRef::Null
                };
                (ty.as_str(), v)
            })
            .collect();
        Ok(binary_checksum(&args) as i64)
    })?;
    conn.create_aggregate_function("sbx_checksum_agg", 1, det, ChecksumAgg)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> ValueRef<'_> {
        ValueRef::Text(s.as_bytes())
    }

    #[test]
    fn binary_checksum_is_binary_and_typed() {
        let abc = binary_checksum(&[("nvarchar", text("abc"))]);
        assert_eq!(abc, binary_checksum(&[("nvarchar", text("abc"))]));
        assert_eq!(abc, binary_checksum(&[("nvarchar", text("abc  "))]));
        assert_ne!(abc, binary_checksum(&[("nvarchar", text("ABC"))]));
        assert_ne!(abc, binary_checksum(&[("varchar", text("abc"))]));
        let one = binary_checksum(&[("int", ValueRef::Integer(1))]);
        assert_ne!(one, binary_checksum(&[("bigint", ValueRef::Integer(1))]));
        assert_ne!(one, binary_checksum(&[("int", ValueRef::Null)]));
        let g = "6F9619FF-8B86-D011-B42D-00C04FC964FF";
        assert_eq!(
            binary_checksum(&[("uniqueidentifier", text(g))]),
            binary_checksum(&[("uniqueidentifier", text(&g.to_lowercase()))])
        );
        // The order of the arguments matters, as in SQL Server.
        let ab = binary_checksum(&[("int", ValueRef::Integer(1)), ("int", ValueRef::Integer(2))]);
        let ba = binary_checksum(&[("int", ValueRef::Integer(2)), ("int", ValueRef::Integer(1))]);
        assert_ne!(ab, ba);
    }
}
