//! Collations of character columns: the few SQL Server collations the
//! sandbox knows, how each compares (registered as SQLite collations, so
//! that a column's own collation also decides its keys, GROUP BY, DISTINCT
//! and ORDER BY), and SQL Server's collation precedence, which picks the
//! collation of a comparison or refuses it with error 468.
//!
//! Every collation ignores trailing spaces, as SQL Server pads the shorter
//! operand before comparing. Case-insensitive ones fold all of Unicode;
//! accent sensitivity is not modelled (all the known ones are `_AS`).
//! `_BIN` and `_BIN2` both compare code points (SQL Server's `_BIN` compares
//! the first character as a code point and the rest as bytes, which only
//! changes the order of some non-ASCII strings).

use crate::engine::datatype::ci_cmp;
use crate::types::SqlError;
use std::cmp::Ordering;

/// How a collation compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rule {
    /// Case-insensitive (`_CI_AS`).
    CaseInsensitive,
    /// Case-sensitive (`_CS_AS`): equal only when equal in case too.
    CaseSensitive,
    /// Binary (`_BIN`, `_BIN2`): code point by code point.
    Binary,
}

/// A known collation (an index into [`KNOWN`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Collation(u8);

/// The database default, SQL Server's setup default. Its SQLite name `CI`
/// predates the other collations (database files made earlier use it).
pub(crate) const DEFAULT: Collation = Collation(0);

/// (SQL Server name, SQLite collation name, rule).
const KNOWN: &[(&str, &str, Rule)] = &[
    ("SQL_Latin1_General_CP1_CI_AS", "CI", Rule::CaseInsensitive),
    (
        "SQL_Latin1_General_CP1_CS_AS",
        "SQL_Latin1_General_CP1_CS_AS",
        Rule::CaseSensitive,
    ),
    (
        "Latin1_General_CI_AS",
        "Latin1_General_CI_AS",
        Rule::CaseInsensitive,
    ),
    (
        "Latin1_General_CS_AS",
        "Latin1_General_CS_AS",
        Rule::CaseSensitive,
    ),
    ("Latin1_General_BIN", "Latin1_General_BIN", Rule::Binary),
    ("Latin1_General_BIN2", "Latin1_General_BIN2", Rule::Binary),
    (
        "Latin1_General_100_CI_AS",
        "Latin1_General_100_CI_AS",
        Rule::CaseInsensitive,
    ),
    (
        "Latin1_General_100_CS_AS",
        "Latin1_General_100_CS_AS",
        Rule::CaseSensitive,
    ),
    (
        "Latin1_General_100_BIN2",
        "Latin1_General_100_BIN2",
        Rule::Binary,
    ),
];

impl Collation {
    /// A collation by its SQL Server name (case-insensitively, as SQL
    /// Server reads them; `DATABASE_DEFAULT` and `CATALOG_DEFAULT` are the
    /// database's); error 448 for a name it does not know.
    pub fn lookup(name: &str) -> Result<Collation, SqlError> {
        if ["DATABASE_DEFAULT", "CATALOG_DEFAULT"]
            .iter()
            .any(|d| d.eq_ignore_ascii_case(name))
        {
            return Ok(DEFAULT);
        }
        KNOWN
            .iter()
            .position(|(n, _, _)| n.eq_ignore_ascii_case(name))
            .map(|i| Collation(i as u8))
            .ok_or_else(|| invalid(name))
    }

    /// The collation a SQLite column was declared with (None: not one of
    /// these, e.g. BINARY or none).
    pub fn from_sqlite(name: &str) -> Option<Collation> {
        KNOWN
            .iter()
            .position(|(_, s, _)| s.eq_ignore_ascii_case(name))
            .map(|i| Collation(i as u8))
    }

    /// The SQL Server name (`sys.columns.collation_name`).
    pub fn name(self) -> &'static str {
        KNOWN[self.0 as usize].0
    }

    /// The SQLite collation that compares as this one does.
    pub fn sqlite(self) -> &'static str {
        KNOWN[self.0 as usize].1
    }

    /// How it compares.
    pub fn rule(self) -> Rule {
        KNOWN[self.0 as usize].2
    }

    /// Its comparison of two texts.
    pub fn compare(self) -> fn(&str, &str) -> Ordering {
        rule_cmp(self.rule())
    }
}

/// The comparison a rule stands for.
fn rule_cmp(rule: Rule) -> fn(&str, &str) -> Ordering {
    match rule {
        Rule::CaseInsensitive => ci_cmp,
        Rule::CaseSensitive => cs_cmp,
        Rule::Binary => bin_cmp,
    }
}

/// Every (SQLite name, comparison) to register on a connection.
pub(crate) fn sqlite_collations() -> impl Iterator<Item = (&'static str, fn(&str, &str) -> Ordering)>
{
    KNOWN.iter().map(|(_, s, r)| (*s, rule_cmp(*r)))
}

/// Case-sensitive order: as the case-insensitive one, lowercase before
/// uppercase among strings equal but for case (`a` < `A` < `b`).
pub(crate) fn cs_cmp(a: &str, b: &str) -> Ordering {
    ci_cmp(a, b).then_with(|| {
        let a = a.trim_end_matches(' ');
        let b = b.trim_end_matches(' ');
        for (x, y) in a.chars().zip(b.chars()) {
            if x != y {
                // Same letter in another case: the lowercase one first.
                return y.is_lowercase().cmp(&x.is_lowercase()).then(x.cmp(&y));
            }
        }
        a.len().cmp(&b.len())
    })
}

/// Binary order: code points, trailing spaces ignored.
pub(crate) fn bin_cmp(a: &str, b: &str) -> Ordering {
    a.trim_end_matches(' ')
        .chars()
        .cmp(b.trim_end_matches(' ').chars())
}

/// What SQL Server calls a collation label: where an expression's
/// collation comes from, which decides who wins when two meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Label {
    /// Literals, parameters, variables, most function results: the
    /// database default, yielding to any column.
    Default,
    /// A column's own collation.
    Implicit(Collation),
    /// `expr COLLATE name`: wins over everything.
    Explicit(Collation),
    /// Two different implicit collations combined (e.g. in CASE): no
    /// collation; comparing it is error 468.
    Conflict(Collation, Collation),
}

impl Label {
    /// The collation two operands are compared with (SQL Server's collation
    /// precedence), or error 468 naming `operation` ("equal to", ...).
    pub fn resolve(self, other: Label, operation: &str) -> Result<Collation, SqlError> {
        use Label::*;
        match (self, other) {
            (Explicit(a), Explicit(b)) if a != b => Err(conflict(a, b, operation)),
            (Explicit(a), _) | (_, Explicit(a)) => Ok(a),
            (Conflict(a, b), _) | (_, Conflict(a, b)) => Err(conflict(a, b, operation)),
            (Implicit(a), Implicit(b)) if a != b => Err(conflict(a, b, operation)),
            (Implicit(a), _) | (_, Implicit(a)) => Ok(a),
            (Default, Default) => Ok(DEFAULT),
        }
    }

    /// The label of a value combining both (CASE, UNION, concatenation):
    /// like `resolve`, but two implicit collations make no collation.
    pub fn combine(self, other: Label) -> Label {
        use Label::*;
        match (self, other) {
            (Explicit(a), _) | (_, Explicit(a)) => Explicit(a),
            (Conflict(a, b), _) | (_, Conflict(a, b)) => Conflict(a, b),
            (Implicit(a), Implicit(b)) if a != b => Conflict(a, b),
            (Implicit(a), _) | (_, Implicit(a)) => Implicit(a),
            (Default, Default) => Default,
        }
    }
}

/// Error 448.
pub(crate) fn invalid(name: &str) -> SqlError {
    SqlError::new(448, format!("Invalid collation '{name}'."))
}

/// Error 468.
fn conflict(a: Collation, b: Collation, operation: &str) -> SqlError {
    SqlError::new(
        468,
        format!(
            "Cannot resolve the collation conflict between \"{}\" and \"{}\" in the {operation} operation.",
            a.name(),
            b.name()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_found_case_insensitively_and_unknown_ones_refused() {
        let c = Collation::lookup("latin1_general_cs_as").unwrap();
        assert_eq!(c.name(), "Latin1_General_CS_AS");
        assert_eq!(c.rule(), Rule::CaseSensitive);
        assert_eq!(Collation::from_sqlite("CI"), Some(DEFAULT));
        assert_eq!(Collation::lookup("database_default").unwrap(), DEFAULT);
        let e = Collation::lookup("Klingon_CI_AS").unwrap_err();
        assert_eq!(e.number, 448);
        assert_eq!(e.message, "Invalid collation 'Klingon_CI_AS'.");
    }

    #[test]
    fn comparisons_follow_case_and_ignore_trailing_spaces() {
        assert_eq!(cs_cmp("Pool", "Pool  "), Ordering::Equal);
        assert_ne!(cs_cmp("Pool", "pool"), Ordering::Equal);
        assert_eq!(cs_cmp("a", "A"), Ordering::Less);
        assert_eq!(cs_cmp("A", "b"), Ordering::Less);
        assert_eq!(bin_cmp("B", "a"), Ordering::Less);
        assert_eq!(bin_cmp("x ", "x"), Ordering::Equal);
        assert_eq!(ci_cmp("Pool", "POOL "), Ordering::Equal);
    }

    #[test]
    fn precedence_picks_the_column_and_refuses_two_columns() {
        let cs = Collation::lookup("Latin1_General_CS_AS").unwrap();
        let bin = Collation::lookup("Latin1_General_BIN2").unwrap();
        let l = Label::Implicit(cs);
        assert_eq!(l.resolve(Label::Default, "equal to").unwrap(), cs);
        assert_eq!(Label::Default.resolve(l, "equal to").unwrap(), cs);
        assert_eq!(l.resolve(l, "equal to").unwrap(), cs);
        let e = l.resolve(Label::Implicit(bin), "equal to").unwrap_err();
        assert_eq!(e.number, 468);
        assert_eq!(
            e.message,
            "Cannot resolve the collation conflict between \"Latin1_General_CS_AS\" and \"Latin1_General_BIN2\" in the equal to operation."
        );
        assert_eq!(
            l.resolve(Label::Explicit(DEFAULT), "equal to").unwrap(),
            DEFAULT
        );
        assert_eq!(
            Label::Default.resolve(Label::Default, "equal to").unwrap(),
            DEFAULT
        );
    }
}
