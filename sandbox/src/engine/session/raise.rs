//! RAISERROR at run time: the message formatted as SQL Server's RAISERROR
//! formats it (a printf subset), sent as an ERROR (severity 11 and up) or
//! INFO token. Unlike a failing statement it aborts nothing, even under
//! XACT_ABORT: a script that wants to stop says RETURN.

use super::SessionState;
use crate::engine::errors;
use crate::engine::translate::RaisePlan;
use crate::types::{Item, SqlError};
use rusqlite::types::Value as SqlVal;

/// User messages (RAISERROR with a message text) are number 50000.
const USER_MESSAGE: i32 = 50000;
/// RAISERROR's message limit, in characters.
const MAX_MESSAGE: usize = 2047;

/// Msg 2786.
fn type_mismatch(n: usize) -> SqlError {
    errors::other(
        2786,
        16,
        1,
        format!("The data type of substitution parameter {n} does not match the expected type of the format specification."),
    )
}

/// One conversion: `%[flags][width][.precision][h|l|I64]type`.
#[derive(Default)]
struct Spec {
    left: bool,
    plus: bool,
    space: bool,
    zero: bool,
    alt: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

/// A width or precision: digits, or `*` taking the next argument.
fn number(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    args: &mut dyn Iterator<Item = &SqlVal>,
) -> Option<usize> {
    if chars.peek() == Some(&'*') {
        chars.next();
        return match args.next() {
            Some(SqlVal::Integer(i)) => Some((*i).max(0) as usize),
            _ => None,
        };
    }
    let mut n = None;
    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
        n = Some(n.unwrap_or(0) * 10 + d as usize);
        chars.next();
    }
    n
}

fn pad(s: String, spec: &Spec, numeric: bool) -> String {
    let width = spec.width.unwrap_or(0);
    let len = s.chars().count();
    if len >= width {
        return s;
    }
    let fill = width - len;
    if spec.left {
        format!("{s}{}", " ".repeat(fill))
    } else if spec.zero && numeric {
        let (sign, digits) = match s.chars().next() {
            Some(c @ ('-' | '+' | ' ')) => (c.to_string(), s[1..].to_string()),
            _ => (String::new(), s),
        };
        format!("{sign}{}{digits}", "0".repeat(fill))
    } else {
        format!("{}{s}", " ".repeat(fill))
    }
}

/// One argument printed by its conversion `ty`; `n` is its 1-based
/// position, for the error a mismatched type gets.
fn convert(ty: char, spec: &Spec, arg: Option<&SqlVal>, n: usize) -> Result<String, SqlError> {
    let text = match (ty, arg) {
        (_, None | Some(SqlVal::Null)) => "(null)".to_string(),
        ('s', Some(SqlVal::Text(s))) => match spec.precision {
            Some(p) => s.chars().take(p).collect(),
            None => s.clone(),
        },
        ('d' | 'i', Some(SqlVal::Integer(i))) => {
            let sign = if *i >= 0 && spec.plus {
                "+"
            } else if *i >= 0 && spec.space {
                " "
            } else {
                ""
            };
            format!("{sign}{i}")
        }
        ('u', Some(SqlVal::Integer(i))) => format!("{}", *i as u64),
        ('o', Some(SqlVal::Integer(i))) => {
            format!("{}{:o}", if spec.alt { "0" } else { "" }, *i as u64)
        }
        ('x', Some(SqlVal::Integer(i))) => {
            format!("{}{:x}", if spec.alt { "0x" } else { "" }, *i as u64)
        }
        ('X', Some(SqlVal::Integer(i))) => {
            format!("{}{:X}", if spec.alt { "0X" } else { "" }, *i as u64)
        }
        _ => return Err(type_mismatch(n)),
    };
    Ok(pad(text, spec, ty != 's'))
}

/// Reads the flags of a conversion.
fn flags(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Spec {
    let mut spec = Spec::default();
    while let Some(c) = chars.peek() {
        match c {
            '-' => spec.left = true,
            '+' => spec.plus = true,
            ' ' => spec.space = true,
            '0' => spec.zero = true,
            '#' => spec.alt = true,
            _ => break,
        }
        chars.next();
    }
    spec
}

/// RAISERROR's message: `fmt` with its conversions replaced by `args`.
pub(crate) fn format_message(fmt: &str, args: &[SqlVal]) -> Result<String, SqlError> {
    let mut out = String::new();
    let mut chars = fmt.chars().peekable();
    let mut it = args.iter();
    let mut used = 0usize;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            out.push('%');
            continue;
        }
        let mut spec = flags(&mut chars);
        spec.width = number(&mut chars, &mut it);
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.precision = number(&mut chars, &mut it);
        }
        match chars.peek() {
            Some('h' | 'l') => {
                chars.next();
            }
            Some('I') => {
                chars.next();
                if chars.next() != Some('6') || chars.next() != Some('4') {
                    return Err(invalid_spec(fmt));
                }
            }
            _ => {}
        }
        let ty = chars.next().ok_or_else(|| invalid_spec(fmt))?;
        if !matches!(ty, 'd' | 'i' | 'o' | 's' | 'u' | 'x' | 'X') {
            return Err(invalid_spec(fmt));
        }
        used += 1;
        out.push_str(&convert(ty, &spec, it.next(), used)?);
    }
    if out.chars().count() > MAX_MESSAGE {
        let cut: String = out.chars().take(MAX_MESSAGE - 3).collect();
        out = format!("{cut}...");
    }
    Ok(out)
}

/// Msg 2787.
fn invalid_spec(fmt: &str) -> SqlError {
    let at = fmt.find('%').map(|i| &fmt[i..]).unwrap_or(fmt);
    let shown: String = at.chars().take(8).collect();
    errors::other(
        2787,
        16,
        1,
        format!("Invalid format specification: '{shown}'."),
    )
}

impl SessionState {
    /// RAISERROR: the message as an ERROR or INFO item; @@ERROR becomes
    /// 50000 for an error (or WITH SETERROR), 0 otherwise.
    pub(super) fn raiserror(
        &mut self,
        p: &RaisePlan,
        line: u32,
        items: &mut Vec<Item>,
    ) -> Result<(), SqlError> {
        let row = self
            .run_query_raw(&p.row)?
            .into_iter()
            .next()
            .unwrap_or_default();
        let int = |v: Option<&SqlVal>| match v {
            Some(SqlVal::Integer(i)) => Some(*i),
            _ => None,
        };
        let fmt = match row.first() {
            Some(SqlVal::Text(s)) => s.clone(),
            _ => String::new(),
        };
        let severity = int(row.get(1)).unwrap_or(0);
        let state = int(row.get(2)).unwrap_or(0);
        if severity > 18 {
            return Err(errors::other(
                2754,
                16,
                1,
                "Error severity levels greater than 18 can only be specified by members of the sysadmin role, using the WITH LOG option.",
            ));
        }
        let severity = severity.max(0) as u8;
        let state = if state < 0 { 1 } else { state.min(255) as u8 };
        let message = format_message(&fmt, row.get(3..).unwrap_or_default())?;
        if severity > 10 {
            items.push(Item::Error(SqlError {
                number: USER_MESSAGE,
                severity,
                state,
                message,
                line,
            }));
        } else {
            items.push(Item::Info {
                number: USER_MESSAGE,
                message,
            });
        }
        self.last_error = if severity > 10 || p.set_error {
            USER_MESSAGE
        } else {
            0
        };
        self.done(items);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_raiserror_does() {
        let f = |fmt: &str, args: &[SqlVal]| format_message(fmt, args).unwrap();
        assert_eq!(
            f(
                "%s has %I64d row(s), %d%% done",
                &[
                    SqlVal::Text("t".into()),
                    SqlVal::Integer(7),
                    SqlVal::Integer(50)
                ]
            ),
            "t has 7 row(s), 50% done"
        );
        assert_eq!(
            f(
                "[%5d|%-4s|%05i]",
                &[
                    SqlVal::Integer(42),
                    SqlVal::Text("ab".into()),
                    SqlVal::Integer(-3)
                ]
            ),
            "[   42|ab  |-0003]"
        );
        assert_eq!(f("%u %x %X %o", &vec![SqlVal::Integer(10); 4]), "10 a A 12");
        assert_eq!(f("%.2s %s", &[SqlVal::Text("abc".into())]), "ab (null)");
        assert_eq!(f("%*d", &[SqlVal::Integer(3), SqlVal::Integer(1)]), "  1");
        assert_eq!(
            format_message("%d", &[SqlVal::Text("x".into())])
                .unwrap_err()
                .number,
            2786
        );
        assert_eq!(format_message("%z", &[]).unwrap_err().number, 2787);
    }
}
