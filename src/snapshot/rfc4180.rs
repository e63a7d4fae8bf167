//! The snapshot's CSV dialect, RFC 4180 with one rule added for NULL: every
//! value that is not NULL is quoted (`"..."`, a `"` inside doubled), NULL is
//! an empty unquoted field. So the empty string (`""`) and NULL (nothing)
//! differ, and every other RFC 4180 reader still reads the file (NULL as an
//! empty field). Records end in CRLF; the text is UTF-8 without a BOM.
//!
//! Written here rather than with the `csv` crate: that crate decides
//! quoting per writer, not per field, and its reader does not say whether a
//! field was quoted, so NULL and the empty string would come back the same.

use std::io::{self, BufRead, Write};

/// Writes one record: `None` as NULL.
pub fn write_record<W: Write, S: AsRef<str>>(out: &mut W, fields: &[Option<S>]) -> io::Result<()> {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        if let Some(s) = f {
            out.write_all(b"\"")?;
            let s = s.as_ref();
            let mut rest = s;
            while let Some(q) = rest.find('"') {
                out.write_all(&rest.as_bytes()[..=q])?;
                out.write_all(b"\"")?;
                rest = &rest[q + 1..];
            }
            out.write_all(rest.as_bytes())?;
            out.write_all(b"\"")?;
        }
    }
    out.write_all(b"\r\n")
}

/// Reads records one at a time from a file this module wrote (any RFC 4180
/// file: an unquoted field is taken as written, and as NULL when empty).
pub struct Reader<R> {
    input: R,
    line: u64,
}

impl<R: BufRead> Reader<R> {
    /// A reader over `input`.
    pub fn new(input: R) -> Reader<R> {
        Reader { input, line: 0 }
    }

    /// The next record, or None at the end.
    pub fn next_record(&mut self) -> io::Result<Option<Vec<Option<String>>>> {
        let mut buf = Vec::new();
        if self.read_line(&mut buf)? == 0 {
            return Ok(None);
        }
        let start = self.line;
        // A quoted field may hold line breaks: read on while a quote is open.
        while buf.iter().filter(|&&b| b == b'"').count() % 2 == 1 {
            if self.read_line(&mut buf)? == 0 {
                return Err(bad(start, "a quoted field is not closed"));
            }
        }
        let text = String::from_utf8(buf).map_err(|_| bad(start, "not UTF-8"))?;
        let text = text
            .strip_suffix("\r\n")
            .or_else(|| text.strip_suffix('\n'))
            .unwrap_or(&text);
        parse(text).map(Some).map_err(|m| bad(start, m))
    }

    fn read_line(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        self.line += 1;
        self.input.read_until(b'\n', buf)
    }
}

fn bad(line: u64, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("CSV record at line {line}: {what}"),
    )
}

/// Splits one record (line breaks inside quotes included).
fn parse(text: &str) -> Result<Vec<Option<String>>, &'static str> {
    let mut fields = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        s.push('"');
                    }
                    Some('"') => break,
                    Some(c) => s.push(c),
                    None => return Err("a quoted field is not closed"),
                }
            }
            fields.push(Some(s));
            match chars.next() {
                Some(',') => continue,
                None => return Ok(fields),
                Some(_) => return Err("text after a closing quote"),
            }
        }
        let mut s = String::new();
        loop {
            match chars.next() {
                Some(',') => break,
                None => {
                    fields.push((!s.is_empty()).then_some(s));
                    return Ok(fields);
                }
                Some('"') => return Err("a quote inside an unquoted field"),
                Some(c) => s.push(c),
            }
        }
        fields.push((!s.is_empty()).then_some(s));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(fields: &[Option<&str>]) -> (String, Vec<Option<String>>) {
        let mut out = Vec::new();
        write_record(&mut out, fields).unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        let mut r = Reader::new(&out[..]);
        let back = r.next_record().unwrap().unwrap();
        assert!(r.next_record().unwrap().is_none());
        (text, back)
    }

    #[test]
    fn null_and_empty_differ_and_everything_round_trips() {
        let fields = [
            None,
            Some(""),
            Some("a,b"),
            Some("say \"hi\""),
            Some("two\r\nlines\n"),
            Some("Zoë 東京 🎧"),
            None,
        ];
        let (text, back) = round(&fields);
        assert_eq!(
            text,
            ",\"\",\"a,b\",\"say \"\"hi\"\"\",\"two\r\nlines\n\",\"Zoë 東京 🎧\",\r\n"
        );
        let want: Vec<Option<String>> = fields.iter().map(|f| f.map(String::from)).collect();
        assert_eq!(back, want);
        assert_eq!(round(&[None]).1, vec![None]);
        assert_eq!(round(&[Some("")]).1, vec![Some(String::new())]);
    }

    #[test]
    fn malformed_records_are_errors() {
        for bad in ["\"open", "\"a\"x", "a\"b"] {
            let mut r = Reader::new(bad.as_bytes());
            assert!(r.next_record().is_err(), "{bad}");
        }
    }
}
