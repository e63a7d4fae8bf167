//! `INSERT BULK table (column type, ...) [WITH (option, ...)]`: the
//! statement a bulk-load client (tiberius's `bulk_insert`, FreeTDS's bcp)
//! sends before its BULK_LOAD message. sqlparser does not know it, so it
//! is parsed here, by hand, only as far as the sandbox needs: the table,
//! the column names, and the options (refused when the sandbox does not
//! carry them out).

use super::catalog::split_name;
use super::errors;
use crate::types::SqlError;

/// A parsed `INSERT BULK` statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InsertBulk {
    /// The table's name parts as written (`[dbo].[T]` -> `dbo`, `T`).
    pub table: Vec<String>,
    /// The column names, in the order the rows carry them.
    pub columns: Vec<String>,
    /// KEEP_NULLS: NULL stays NULL where the column has a default.
    pub keep_nulls: bool,
}

/// Types a column of INSERT BULK may be declared with (SQL Server's
/// names); the declared type is not used further: values are converted
/// to the table's column types.
const TYPES: &[&str] = &[
    "bit",
    "tinyint",
    "smallint",
    "int",
    "bigint",
    "real",
    "float",
    "decimal",
    "numeric",
    "money",
    "smallmoney",
    "uniqueidentifier",
    "char",
    "varchar",
    "nchar",
    "nvarchar",
    "binary",
    "varbinary",
    "date",
    "time",
    "datetime",
    "datetime2",
    "smalldatetime",
    "datetimeoffset",
    "text",
    "ntext",
    "image",
    "sql_variant",
    "xml",
];

/// Whether a batch is an INSERT BULK statement (`INSERT` then `BULK`,
/// case-insensitive, any whitespace).
pub(crate) fn is_insert_bulk(sql: &str) -> bool {
    let mut words = sql.split_whitespace();
    matches!(
        (words.next(), words.next()),
        (Some(a), Some(b)) if a.eq_ignore_ascii_case("insert") && b.eq_ignore_ascii_case("bulk")
    )
}

/// Splits `s` at top-level `sep` (outside brackets, quotes and parentheses).
fn split_top(s: &str, sep: char) -> Vec<&str> {
    let (mut depth, mut bracket, mut quote) = (0i32, false, false);
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            ']' if bracket => bracket = false,
            '"' if quote => quote = false,
            _ if bracket || quote => {}
            '[' => bracket = true,
            '"' => quote = true,
            '(' => depth += 1,
            ')' => depth -= 1,
            c if c == sep && depth == 0 => {
                out.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// The text up to the parenthesis that closes the one `s` starts after,
/// and what follows it.
fn until_close(s: &str) -> Option<(&str, &str)> {
    let (mut depth, mut bracket, mut quote) = (1i32, false, false);
    for (i, c) in s.char_indices() {
        match c {
            ']' if bracket => bracket = false,
            '"' if quote => quote = false,
            _ if bracket || quote => {}
            '[' => bracket = true,
            '"' => quote = true,
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some((&s[..i], &s[i + 1..]));
                }
            }
            _ => {}
        }
    }
    None
}

/// The first name of a column definition (bracketed, quoted or plain) and
/// the rest.
fn leading_name(def: &str) -> Option<(String, &str)> {
    let d = def.trim_start();
    let end = match d.chars().next()? {
        '[' => d.find(']').map(|i| i + 1)?,
        '"' => d[1..].find('"').map(|i| i + 2)?,
        _ => d.find(char::is_whitespace).unwrap_or(d.len()),
    };
    let name = split_name(&d[..end])?.pop()?;
    Some((name, &d[end..]))
}

/// The near-text of a syntax error: the first word of `s`.
fn near(s: &str) -> String {
    s.split(|c: char| c.is_whitespace() || c == '(' || c == ',')
        .find(|w| !w.is_empty())
        .unwrap_or(")")
        .to_string()
}

/// Parses an INSERT BULK batch. Errors are SQL Server's: 102 for what
/// does not parse (and for the options the sandbox does not carry out:
/// FIRE_TRIGGERS, ORDER, KEEPIDENTITY), 2715 for an unknown type.
pub(crate) fn parse(sql: &str) -> Result<InsertBulk, SqlError> {
    let t = sql.trim().trim_end_matches(';').trim_end();
    let rest = t
        .get(6..)
        .map(str::trim_start)
        .filter(|r| r.len() > 4 && r[..4].eq_ignore_ascii_case("bulk"))
        .map(|r| &r[4..])
        .filter(|r| r.starts_with(char::is_whitespace))
        .ok_or_else(|| errors::syntax("BULK"))?;
    let open = rest.find('(').ok_or_else(|| errors::syntax(&near(rest)))?;
    let name = rest[..open].trim();
    let table = split_name(name)
        .filter(|p| !p.is_empty() && p.len() <= 3 && p.iter().all(|s| !s.is_empty()))
        .ok_or_else(|| errors::syntax(&near(name)))?;
    let (cols, after) = until_close(&rest[open + 1..]).ok_or_else(|| errors::syntax(")"))?;
    let mut columns = Vec::new();
    for (i, def) in split_top(cols, ',').into_iter().enumerate() {
        let (col, ty) = leading_name(def).ok_or_else(|| errors::syntax(&near(def)))?;
        let ty_name = near(ty).to_lowercase();
        if !TYPES.contains(&ty_name.as_str()) {
            return Err(errors::other(
                2715,
                16,
                3,
                format!(
                    "Column, parameter, or variable #{}: Cannot find data type {}.",
                    i + 1,
                    near(ty)
                ),
            ));
        }
        columns.push(col);
    }
    let keep_nulls = options(after.trim())?;
    Ok(InsertBulk {
        table,
        columns,
        keep_nulls,
    })
}

/// The WITH clause: whether it asks for KEEP_NULLS.
fn options(s: &str) -> Result<bool, SqlError> {
    if s.is_empty() {
        return Ok(false);
    }
    let body = s
        .get(..4)
        .filter(|w| w.eq_ignore_ascii_case("with"))
        .map(|_| s[4..].trim_start())
        .and_then(|r| r.strip_prefix('('))
        .ok_or_else(|| errors::syntax(&near(s)))?;
    let (list, tail) = until_close(body).ok_or_else(|| errors::syntax(")"))?;
    if !tail.trim().is_empty() {
        return Err(errors::syntax(&near(tail)));
    }
    let mut keep_nulls = false;
    for opt in split_top(list, ',') {
        let o = opt.trim();
        let word = near(o).to_uppercase();
        match word.as_str() {
            "KEEP_NULLS" if o.len() == word.len() => keep_nulls = true,
            // No CHECK or FOREIGN KEY constraint is enforced by the
            // sandbox, and every write already locks the whole table.
            "CHECK_CONSTRAINTS" | "TABLOCK" if o.len() == word.len() => {}
            // Hints only.
            "ROWS_PER_BATCH" | "KILOBYTES_PER_BATCH" => {
                let v = o[word.len()..].trim_start().strip_prefix('=');
                if v.is_none_or(|v| v.trim().parse::<u64>().is_err()) {
                    return Err(errors::syntax(&word));
                }
            }
            // FIRE_TRIGGERS, ORDER (...), KEEPIDENTITY and the rest: SQL
            // Server has them, the sandbox does not carry them out.
            _ => return Err(errors::syntax(&near(o))),
        }
    }
    Ok(keep_nulls)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiberius_and_freetds_shapes() {
        let b = parse("INSERT BULK #t ([ID] uniqueidentifier, [Name] nvarchar(512))").unwrap();
        assert_eq!(b.table, vec!["#t"]);
        assert_eq!(b.columns, vec!["ID", "Name"]);
        assert!(!b.keep_nulls);
        let b = parse(
            "insert bulk [dbo].[T] ([a] int, [b] varchar(10) COLLATE Latin1_General_CI_AS NULL, \
             [c] decimal(10,2)) with (TABLOCK, KEEP_NULLS, ROWS_PER_BATCH = 10)",
        )
        .unwrap();
        assert_eq!(b.table, vec!["dbo", "T"]);
        assert_eq!(b.columns, vec!["a", "b", "c"]);
        assert!(b.keep_nulls);
        assert!(is_insert_bulk("  INSERT\n BULK x (a int)"));
        assert!(!is_insert_bulk("INSERT INTO x VALUES (1)"));
    }

    #[test]
    fn refused_shapes() {
        for (sql, number) in [
            ("INSERT BULK #t ([a] int) WITH (FIRE_TRIGGERS)", 102),
            ("INSERT BULK #t ([a] int) WITH (ORDER([a] ASC))", 102),
            ("INSERT BULK #t ([a] int) WITH (KEEPIDENTITY)", 102),
            ("INSERT BULK #t ([a] int) garbage", 102),
            ("INSERT BULK #t ([a] int", 102),
            ("INSERT BULK #t ([a] widget)", 2715),
            ("INSERT BULK ([a] int)", 102),
        ] {
            assert_eq!(parse(sql).unwrap_err().number, number, "{sql}");
        }
    }
}
