//! BINARY_CHECKSUM and CHECKSUM_AGG: a row's key hashed from its values'
//! bytes, and an order-independent (XOR) aggregate of such hashes, so
//! that a client can compare a set of rows with what it expects without
//! downloading it.

use super::functions::Call;
use super::{Tr, Typed};
use crate::engine::datatype::quote_str;
use crate::engine::errors;
use crate::types::{SqlError, SqlType};

impl Tr<'_, '_> {
    /// `BINARY_CHECKSUM(expr [, expr ...])` and `CHECKSUM_AGG([ALL |
    /// DISTINCT] expr)`.
    pub(super) fn checksum_function(&mut self, c: &Call<'_>) -> Result<Typed, SqlError> {
        match c.lname.as_str() {
            "binary_checksum" => {
                // `BINARY_CHECKSUM()` is a syntax error in SQL Server (the
                // grammar wants `*` or at least one expression).
                if c.n() == 0 {
                    return Err(errors::syntax(")"));
                }
                let mut args = Vec::with_capacity(c.n() * 2);
                for e in &c.exprs {
                    let v = self.expr(e)?;
                    // The type takes part in the hash: values of different
                    // types never share a byte representation.
                    let tag = if v.null_lit { "int" } else { v.ty.type_name() };
                    args.push(quote_str(tag));
                    args.push(v.sql);
                }
                Ok(Typed::new(
                    format!("sbx_binary_checksum({})", args.join(", ")),
                    SqlType::Int,
                    false,
                ))
            }
            "checksum_agg" => {
                c.need(1)?;
                let v = self.expr(c.exprs[0])?;
                match v.ty {
                    SqlType::Bit | SqlType::TinyInt | SqlType::SmallInt | SqlType::Int => {}
                    _ if v.null_lit => {}
                    other => {
                        return Err(errors::other(
                            8117,
                            16,
                            1,
                            format!(
                                "Operand data type {} is invalid for checksum_agg operator.",
                                other.type_name()
                            ),
                        ))
                    }
                }
                Ok(Typed::new(
                    format!("sbx_checksum_agg({}{})", c.d(), v.sql),
                    SqlType::Int,
                    true,
                ))
            }
            _ => Err(errors::unknown_function(&c.fname)),
        }
    }
}
