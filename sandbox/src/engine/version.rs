//! The SQL Server version the sandbox answers as (`--product-version`):
//! what `SERVERPROPERTY`, `@@VERSION`, PRELOGIN and LOGINACK report, and
//! whether the T-SQL and catalog of SQL Server 2012 and later exist. A major
//! version below 11 (SQL Server 2008 R2 is 10.50) refuses what 2008 R2 does
//! not know, with 2008 R2's errors.

use crate::engine::errors;
use crate::types::SqlError;

/// A product version, `major.minor.build.revision`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProductVersion {
    /// 10 for SQL Server 2008 and 2008 R2, 11 for 2012 ... 16 for 2022.
    pub major: u8,
    /// 50 for 2008 R2, 0 otherwise.
    pub minor: u8,
    /// The build, e.g. 6000 for 2008 R2 SP3.
    pub build: u16,
    /// The revision, e.g. 34.
    pub revision: u16,
}

/// What the sandbox reports when no version is set (SQL Server 2022 RTM).
pub const DEFAULT_VERSION: ProductVersion = ProductVersion {
    major: 16,
    minor: 0,
    build: 1000,
    revision: 6,
};

/// TDS 7.4, SQL Server 2012 and later.
pub const TDS_7_4: u32 = 0x7400_0004;
/// TDS 7.3B, SQL Server 2008 R2.
pub const TDS_7_3B: u32 = 0x730B_0003;
/// TDS 7.3A, SQL Server 2008.
pub const TDS_7_3A: u32 = 0x730A_0003;

impl ProductVersion {
    /// Parses `10.50.6000.34` (two to four parts; 9 to 16 as major).
    pub fn parse(text: &str) -> anyhow::Result<ProductVersion> {
        let parts: Vec<&str> = text.trim().split('.').collect();
        let bad = || {
            anyhow::anyhow!("product version {text:?} is not MAJOR.MINOR[.BUILD[.REVISION]] (e.g. 10.50.6000.34)")
        };
        if !(2..=4).contains(&parts.len()) {
            return Err(bad());
        }
        let num = |i: usize| -> anyhow::Result<u16> {
            parts
                .get(i)
                .map_or(Ok(0), |p| p.parse::<u16>().map_err(|_| bad()))
        };
        let (major, minor) = (num(0)?, num(1)?);
        if !(9..=16).contains(&major) || minor > 99 {
            anyhow::bail!("product version {text:?}: the sandbox answers as SQL Server 9 to 16");
        }
        Ok(ProductVersion {
            major: major as u8,
            minor: minor as u8,
            build: num(2)?,
            revision: num(3)?,
        })
    }

    /// `SERVERPROPERTY('ProductVersion')`.
    pub fn text(&self) -> String {
        format!(
            "{}.{}.{}.{}",
            self.major, self.minor, self.build, self.revision
        )
    }

    /// SQL Server 2012 or later: THROW, IIF, OFFSET/FETCH, availability
    /// groups...
    pub fn has_2012_features(&self) -> bool {
        self.major >= 11
    }

    /// The highest TDS version this server speaks.
    pub fn max_tds(&self) -> u32 {
        match (self.major, self.minor) {
            (m, _) if m >= 11 => TDS_7_4,
            (10, 50) => TDS_7_3B,
            (10, _) => TDS_7_3A,
            _ => 0x7209_0002,
        }
    }

    /// The version fields of PRELOGIN and LOGINACK.
    pub fn wire(&self) -> (u8, u8, u16) {
        (self.major, self.minor, self.build)
    }

    /// The product's name: `2008 R2`, `2022`...
    pub fn release(&self) -> &'static str {
        match (self.major, self.minor) {
            (9, _) => "2005",
            (10, 50) => "2008 R2",
            (10, _) => "2008",
            (11, _) => "2012",
            (12, _) => "2014",
            (13, _) => "2016",
            (14, _) => "2017",
            (15, _) => "2019",
            _ => "2022",
        }
    }

    /// `SERVERPROPERTY('ProductLevel')`: the service pack 2008 R2's build
    /// numbers stand for, RTM for everything else.
    pub fn level(&self) -> &'static str {
        match (self.major, self.minor, self.build) {
            (10, 50, b) if b >= 6000 => "SP3",
            (10, 50, b) if b >= 4000 => "SP2",
            (10, 50, b) if b >= 2500 => "SP1",
            _ => "RTM",
        }
    }

    /// `@@VERSION`.
    pub fn version_string(&self, server: &str) -> String {
        format!(
            "Microsoft SQL Server {} ({}) - {} (X64) \n\tOct  8 2022 05:58:25 \n\tCopyright (C) Microsoft Corporation\n\tDeveloper Edition (64-bit) on rgs-sandbox {server} (SQLite {})\n",
            self.release(),
            self.level(),
            self.text(),
            rusqlite::version()
        )
    }

    /// The error a built-in function name gets when this version has no
    /// such function (195), if it has none.
    pub fn missing_function(&self, lname: &str, written: &str) -> Option<SqlError> {
        const SINCE_2012: &[&str] = &[
            "iif",
            "concat",
            "try_convert",
            "format",
            "choose",
            "eomonth",
            "datefromparts",
            "datetimefromparts",
            "datetime2fromparts",
            "timefromparts",
            "smalldatetimefromparts",
            "datetimeoffsetfromparts",
            "string_agg",
            "string_split",
            "concat_ws",
            "trim",
            "translate",
            "string_escape",
            "json_value",
            "json_query",
            "isjson",
            "json_modify",
            "openjson",
            "logical_compare",
        ];
        (!self.has_2012_features() && SINCE_2012.contains(&lname))
            .then(|| errors::unknown_function(written))
    }
}

impl Default for ProductVersion {
    fn default() -> Self {
        DEFAULT_VERSION
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_answer_as_their_release() {
        let v = ProductVersion::parse("10.50.6000.34").unwrap();
        assert_eq!(v.text(), "10.50.6000.34");
        assert_eq!(v.max_tds(), TDS_7_3B);
        assert_eq!(v.wire(), (10, 50, 6000));
        assert_eq!((v.release(), v.level()), ("2008 R2", "SP3"));
        assert!(!v.has_2012_features());
        assert!(v
            .version_string("X")
            .starts_with("Microsoft SQL Server 2008 R2 (SP3) - 10.50.6000.34 (X64)"));
        assert_eq!(v.missing_function("iif", "IIF").unwrap().number, 195);
        let d = ProductVersion::default();
        assert_eq!(d.text(), "16.0.1000.6");
        assert_eq!(d.max_tds(), TDS_7_4);
        assert!(d.missing_function("iif", "IIF").is_none());
        assert!(ProductVersion::parse("ten").is_err());
        assert!(ProductVersion::parse("8.0.2039").is_err());
    }
}
