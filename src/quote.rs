//! Identifier quoting exactly as SQL Server's `QUOTENAME` does with brackets:
//! the name is wrapped in `[` `]` and every `]` inside is doubled. Every
//! table and column name the tool puts into SQL goes through here; values
//! never do (they are parameters).

/// The longest identifier SQL Server accepts (`sysname`).
pub const MAX_IDENTIFIER: usize = 128;

/// Quotes one identifier (`QUOTENAME(name)`).
///
/// Returns None for names `QUOTENAME` would refuse (longer than 128
/// characters), so the caller can report the table instead of sending SQL
/// that means something else.
pub fn quote_name(name: &str) -> Option<String> {
    if name.chars().count() > MAX_IDENTIFIER {
        return None;
    }
    let mut out = String::with_capacity(name.len() + 2);
    out.push('[');
    for c in name.chars() {
        if c == ']' {
            out.push(']');
        }
        out.push(c);
    }
    out.push(']');
    Some(out)
}

/// Quotes a two-part name, `[schema].[table]`.
pub fn quote_two_part(schema: &str, table: &str) -> Option<String> {
    Some(format!("{}.{}", quote_name(schema)?, quote_name(table)?))
}

/// A table's names quoted the way `QUOTENAME` quotes them.
#[derive(Clone, Debug, PartialEq)]
pub struct QuotedTable {
    /// `[schema].[table]`
    pub table: String,
    /// `[OwnerPoolId]`
    pub owner: String,
    /// `[ID]`, ... in key order.
    pub keys: Vec<String>,
    /// `[Name]`, when there is a display column.
    pub display: Option<String>,
}

impl QuotedTable {
    /// `[k1], [k2]`
    pub fn key_list(&self) -> String {
        self.keys.join(", ")
    }

    /// How many rows one key-matching statement covers: under SQL Server's
    /// 2,100 parameters, and fewer for composite keys, whose OR chains grow
    /// deep.
    pub fn rows_per_statement(&self) -> usize {
        match self.keys.len() {
            0 | 1 => 1000,
            n => (1000 / n).min(100),
        }
    }
}

/// `dbo.OwnerPool`'s names, quoted.
#[derive(Clone, Debug, PartialEq)]
pub struct QuotedPoolTable {
    /// `[dbo].[OwnerPool]`
    pub table: String,
    /// `[ID]`
    pub id: String,
    /// `[Fqdn]`, when the table has a name column.
    pub name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_quotename() {
        assert_eq!(quote_name("AgentGroups").unwrap(), "[AgentGroups]");
        assert_eq!(quote_name("a]b").unwrap(), "[a]]b]");
        assert_eq!(quote_name("]]").unwrap(), "[]]]]]");
        assert_eq!(
            quote_name("x'; DROP TABLE y; --").unwrap(),
            "[x'; DROP TABLE y; --]"
        );
        assert_eq!(
            quote_name("Größe mit Leerzeichen").unwrap(),
            "[Größe mit Leerzeichen]"
        );
        assert_eq!(quote_name("[already]").unwrap(), "[[already]]]");
        assert_eq!(
            quote_two_part("dbo", "Agent]Groups").unwrap(),
            "[dbo].[Agent]]Groups]"
        );
    }

    #[test]
    fn refuses_what_quotename_refuses() {
        assert!(quote_name(&"x".repeat(128)).is_some());
        assert!(quote_name(&"x".repeat(129)).is_none());
    }

    #[test]
    fn quoted_names_cannot_close_early() {
        // Whatever the input, the quoted form has balanced brackets: after
        // the opening one, every `]` is doubled except the last.
        for name in ["]", "a]]b", "]x[", "\u{5d}\u{5d}\u{5d}"] {
            let q = quote_name(name).unwrap();
            let inner = &q[1..q.len() - 1];
            assert_eq!(inner.replace("]]", ""), name.replace(']', ""));
        }
    }
}
