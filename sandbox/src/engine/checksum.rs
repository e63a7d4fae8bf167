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

use super::datatype::guid_bytes;
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

/// Hashes one value of SQL Server type `ty` as its binary representation,
/// length-prefixed. Strings ignore trailing spaces (as `=` does);
/// integers take their type's width. Nothing is allocated for the common
/// types: the function runs once per row of a checksum over a table.
fn hash_value(h: &mut Fnv, ty: &[u8], v: ValueRef<'_>) {
    let prefixed = |h: &mut Fnv, len: usize| {
        h.bytes(&[0]);
        h.bytes(&(len as u32).to_le_bytes());
    };
    match v {
        // A NULL of a type has one representation, distinct from every
        // value's (the length prefix of a value is never all ones).
        ValueRef::Null => h.bytes(&[0xFF; 5]),
        ValueRef::Integer(i) => {
            let width = match ty {
                b"bit" | b"tinyint" => 1,
                b"smallint" => 2,
                b"int" => 4,
                _ => 8,
            };
            prefixed(h, width);
            h.bytes(&i.to_le_bytes()[..width]);
        }
        ValueRef::Real(f) => {
            prefixed(h, 8);
            h.bytes(&f.to_le_bytes());
        }
        ValueRef::Text(t) => match ty {
            b"uniqueidentifier" => match guid_bytes(t) {
                Some(g) => {
                    prefixed(h, 16);
                    h.bytes(&g);
                }
                None => {
                    prefixed(h, t.len());
                    h.bytes(t);
                }
            },
            b"nvarchar" => {
                let s = String::from_utf8_lossy(t);
                let s = s.trim_end_matches(' ');
                prefixed(h, 2 * s.encode_utf16().count());
                for u in s.encode_utf16() {
                    h.bytes(&u.to_le_bytes());
                }
            }
            b"varchar" => {
                let s = String::from_utf8_lossy(t);
                let s = s.trim_end_matches(' ');
                prefixed(h, s.len());
                h.bytes(s.as_bytes());
            }
            _ => {
                prefixed(h, t.len());
                h.bytes(t);
            }
        },
        ValueRef::Blob(b) => {
            prefixed(h, b.len());
            h.bytes(b);
        }
    }
}

/// BINARY_CHECKSUM over (type, value) pairs.
#[cfg(test)]
pub(crate) fn binary_checksum(args: &[(&str, ValueRef<'_>)]) -> i32 {
    let mut h = Fnv::new();
    for (ty, v) in args {
        h.bytes(ty.as_bytes());
        hash_value(&mut h, ty.as_bytes(), *v);
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
        let mut h = Fnv::new();
        for i in (0..ctx.len()).step_by(2) {
            let ty = match ctx.get_raw(i) {
                ValueRef::Text(t) => t,
                _ => &[],
            };
            let v = if i + 1 < ctx.len() {
                ctx.get_raw(i + 1)
            } else {
                ValueRef::Null
            };
            h.bytes(ty);
            hash_value(&mut h, ty, v);
        }
        Ok(h.finish() as i64)
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
        // The values stay what earlier versions computed (a saved plan
        // compares them).
        let t = |s: &'static str| ValueRef::Text(s.as_bytes());
        let pinned: [(&[(&str, ValueRef<'_>)], i32); 6] = [
            (
                &[(
                    "uniqueidentifier",
                    t("6F9619FF-8B86-D011-B42D-00C04FC964FF"),
                )],
                2048066908,
            ),
            (
                &[(
                    "uniqueidentifier",
                    t("{6f9619ff-8b86-d011-b42d-00c04fc964ff}"),
                )],
                2048066908,
            ),
            (&[("uniqueidentifier", t("not a guid"))], 527503659),
            (
                &[("nvarchar", t("Größe  ")), ("varchar", t("abc "))],
                -1817132363,
            ),
            (
                &[
                    ("bit", ValueRef::Integer(1)),
                    ("tinyint", ValueRef::Integer(300)),
                    ("smallint", ValueRef::Integer(-2)),
                    ("int", ValueRef::Integer(-70000)),
                    ("bigint", ValueRef::Integer(1 << 40)),
                ],
                -29340698,
            ),
            (
                &[
                    ("float", ValueRef::Real(1.5)),
                    ("varbinary", ValueRef::Blob(&[1, 2, 3])),
                    ("int", ValueRef::Null),
                    ("datetime2", t("2024-01-02 03:04:05.0000000")),
                ],
                1875490618,
            ),
        ];
        for (args, want) in pinned {
            assert_eq!(binary_checksum(args), want, "{args:?}");
        }
        // The order of the arguments matters, as in SQL Server.
        let ab = binary_checksum(&[("int", ValueRef::Integer(1)), ("int", ValueRef::Integer(2))]);
        let ba = binary_checksum(&[("int", ValueRef::Integer(2)), ("int", ValueRef::Integer(1))]);
        assert_ne!(ab, ba);
    }
}
