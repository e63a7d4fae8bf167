//! `schema.json`: what the snapshot holds (tables, columns, types, keys,
//! foreign keys, row counts), where it was taken (server identity, time),
//! how (isolation) and how its CSV files are written. [`catalog_reads`]
//! are the statements that find every user table in the catalog, and
//! [`catalog_from`] reads their answers; [`assemble`] is pure.

use crate::connect::Row;
use crate::inspect::Identity;
use crate::quote::{quote_name, quote_two_part};
use crate::sql;
use anyhow::{anyhow, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The `format` every schema.json carries.
pub const FORMAT: &str = "rgs-repair-snapshot/1";

/// The whole of `schema.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Schema {
    /// [`FORMAT`].
    pub format: String,
    /// The tool's version that wrote it.
    pub tool_version: String,
    /// When the transaction began, UTC, RFC 3339.
    pub taken_at: String,
    /// Where it was taken.
    pub server: Server,
    /// How the files were kept one picture.
    pub isolation: IsolationNote,
    /// How the CSV files are written.
    pub csv: CsvNote,
    /// Whether the catalog declares any foreign key (inventory.md links
    /// rows only along declared keys).
    pub foreign_keys_declared: bool,
    /// Every table written, in schema and name order.
    pub tables: Vec<Table>,
}

/// The server and database.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Server {
    /// The server as the user named it.
    pub server: String,
    /// `SERVERPROPERTY('ProductVersion')`.
    pub product_version: String,
    /// The database's identity, as journals record it.
    pub identity: Identity,
}

/// The isolation used, and why.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IsolationNote {
    /// `SNAPSHOT`, or `READ COMMITTED + TABLOCK, HOLDLOCK`.
    pub level: String,
    /// Why it gives one consistent picture.
    pub why: String,
}

/// The CSV dialect, for whoever reads the files without this tool.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CsvNote {
    /// RFC 4180, UTF-8, header row, CRLF.
    pub dialect: String,
    /// How NULL is written.
    pub null: String,
    /// How the empty string is written.
    pub empty_string: String,
    /// How values of each kind of type are written.
    pub values: String,
}

impl CsvNote {
    /// The dialect `rfc4180` writes.
    pub fn current() -> CsvNote {
        CsvNote {
            dialect: "RFC 4180, UTF-8 without BOM, CRLF line ends, one header row of column names"
                .into(),
            null: "an empty unquoted field".into(),
            empty_string: "a quoted empty field (\"\"); every non-NULL value is quoted".into(),
            values: "as SQL Server shows them: uniqueidentifier upper case; bit 0/1; binary 0x and upper-case hex; decimal with its scale; datetime to .mmm, datetime2/time to their scale, datetimeoffset with its offset; strings byte for byte; money as decimal(19,4); float the shortest text that reads back exactly".into(),
        }
    }
}

/// One table.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Table {
    /// Schema name.
    pub schema: String,
    /// Table name.
    pub name: String,
    /// The CSV file, relative to the snapshot's folder.
    pub file: String,
    /// Columns in column order (the CSV's order).
    pub columns: Vec<Column>,
    /// Primary key column names in key order; empty without one.
    pub primary_key: Vec<String>,
    /// Declared foreign keys from this table.
    #[serde(default)]
    pub foreign_keys: Vec<ForeignKey>,
    /// Rows written.
    pub rows: u64,
}

impl Table {
    /// `schema.table`.
    pub fn full_name(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }

    /// The column index of `name` (any case).
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(name))
    }
}

/// One column.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// `sys.types` name.
    #[serde(rename = "type")]
    pub type_name: String,
    /// `sys.columns.max_length` (bytes; -1 for max).
    pub max_length: i64,
    /// `sys.columns.precision`.
    pub precision: i64,
    /// `sys.columns.scale`.
    pub scale: i64,
    /// Whether NULL is allowed.
    pub nullable: bool,
}

/// A declared foreign key.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ForeignKey {
    /// Constraint name.
    pub name: String,
    /// Columns of this table, in constraint order.
    pub columns: Vec<String>,
    /// The referenced table, `schema.table`.
    pub references: String,
    /// The referenced columns, in the same order.
    pub referenced_columns: Vec<String>,
}

/// A column row of `sql/snapshot_columns.sql`: schema, table and the column.
pub type ColumnRow = (String, String, Column);
/// A key row of `sql/catalog_primary_keys.sql`: schema, table, column.
pub type KeyRow = (String, String, String);
/// A row of `sql/snapshot_foreign_keys.sql`: name, schema, table, column,
/// referenced schema, table, column.
pub type ForeignKeyRow = (String, String, String, String, String, String, String);

/// The tables from the catalog rows (in the rows' order), with their keys
/// and foreign keys; row counts 0 and file names numbered so that any table
/// name makes a safe file name.
pub fn assemble(columns: Vec<ColumnRow>, keys: &[KeyRow], fks: &[ForeignKeyRow]) -> Vec<Table> {
    let mut tables: Vec<Table> = Vec::new();
    for (schema, name, column) in columns {
        match tables.last_mut() {
            Some(t) if t.schema == schema && t.name == name => t.columns.push(column),
            _ => tables.push(Table {
                file: String::new(),
                schema,
                name,
                columns: vec![column],
                primary_key: Vec::new(),
                foreign_keys: Vec::new(),
                rows: 0,
            }),
        }
    }
    for (i, t) in tables.iter_mut().enumerate() {
        t.file = format!("{:03}-{}.csv", i + 1, file_safe(&t.full_name()));
        t.primary_key = keys
            .iter()
            .filter(|(s, n, _)| *s == t.schema && *n == t.name)
            .map(|(_, _, c)| c.clone())
            .collect();
        for (fk, s, n, c, rs, rt, rc) in fks {
            if *s != t.schema || *n != t.name {
                continue;
            }
            let references = format!("{rs}.{rt}");
            match t.foreign_keys.iter_mut().find(|f| f.name == *fk) {
                Some(f) => {
                    f.columns.push(c.clone());
                    f.referenced_columns.push(rc.clone());
                }
                None => t.foreign_keys.push(ForeignKey {
                    name: fk.clone(),
                    columns: vec![c.clone()],
                    references,
                    referenced_columns: vec![rc.clone()],
                }),
            }
        }
    }
    tables
}

/// A table name as part of a file name: letters, digits, `.`, `-` and `_`
/// kept, anything else `_` (the number in front keeps names apart).
fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The statements that read every user table's columns, keys and foreign
/// keys, in the order [`catalog_from`] takes their answers.
pub fn catalog_reads() -> [sql::Read; 3] {
    [
        sql::snapshot::columns(),
        sql::catalog_primary_keys(),
        sql::snapshot::foreign_keys(),
    ]
}

/// Every user table, from the answers to [`catalog_reads`].
pub fn catalog_from(mut sets: impl Iterator<Item = Vec<Row>>) -> Vec<Table> {
    let columns = sets
        .next()
        .unwrap_or_default()
        .iter()
        .map(|r| {
            (
                r.text(0),
                r.text(1),
                Column {
                    name: r.text(2),
                    type_name: r.text(3),
                    nullable: r.int(5) != 0,
                    max_length: r.int(6),
                    precision: r.int(7),
                    scale: r.int(8),
                },
            )
        })
        .collect();
    let keys: Vec<KeyRow> = sets
        .next()
        .unwrap_or_default()
        .iter()
        .map(|r| (r.text(0), r.text(1), r.text(2)))
        .collect();
    let fks: Vec<ForeignKeyRow> = sets
        .next()
        .unwrap_or_default()
        .iter()
        .map(|r| {
            (
                r.text(0),
                r.text(1),
                r.text(2),
                r.text(3),
                r.text(4),
                r.text(5),
                r.text(6),
            )
        })
        .collect();
    assemble(columns, &keys, &fks)
}

/// The select list item for a column: the quoted name, or a conversion
/// for types the client cannot read as they are (`money` would come back a
/// float; CLR types and `sql_variant` not at all).
pub fn select_item(c: &Column) -> Option<String> {
    let q = quote_name(&c.name)?;
    Some(match c.type_name.to_ascii_lowercase().as_str() {
        "money" | "smallmoney" => format!("CAST({q} AS decimal(19,4)) AS {q}"),
        "hierarchyid" | "geometry" | "geography" => format!("CAST({q} AS varbinary(max)) AS {q}"),
        "sql_variant" => format!("CAST({q} AS nvarchar(4000)) AS {q}"),
        _ => q,
    })
}

/// The quoted two-part name of a table.
pub fn quoted_table(t: &Table) -> Result<String> {
    quote_two_part(&t.schema, &t.name).ok_or_else(|| {
        anyhow!(
            "table {}: a name longer than SQL Server allows",
            t.full_name()
        )
    })
}

impl Schema {
    /// Reads `schema.json` of the snapshot in `dir`.
    pub fn load(dir: &Path) -> Result<Schema> {
        let path = dir.join("schema.json");
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "{} is not a snapshot: cannot read {}",
                dir.display(),
                path.display()
            )
        })?;
        let s: Schema = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a snapshot's schema.json", path.display()))?;
        if s.format != FORMAT {
            return Err(anyhow!(
                "{}: format {:?}, this tool reads {FORMAT:?}",
                path.display(),
                s.format
            ));
        }
        Ok(s)
    }

    /// The table `schema.table` (any case).
    pub fn table(&self, full_name: &str) -> Option<&Table> {
        self.tables
            .iter()
            .find(|t| t.full_name().eq_ignore_ascii_case(full_name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, ty: &str) -> Column {
        Column {
            name: name.into(),
            type_name: ty.into(),
            max_length: 16,
            precision: 0,
            scale: 0,
            nullable: true,
        }
    }

    #[test]
    fn tables_gather_columns_keys_and_foreign_keys() {
        let s = |x: &str| x.to_string();
        let tables = assemble(
            vec![
                (
                    s("dbo"),
                    s("AgentGroupAgents"),
                    col("GroupId", "uniqueidentifier"),
                ),
                (
                    s("dbo"),
                    s("AgentGroupAgents"),
                    col("AgentId", "uniqueidentifier"),
                ),
                (s("dbo"), s("AgentGroups"), col("ID", "uniqueidentifier")),
                (s("x y"), s("a/b"), col("v", "money")),
            ],
            &[
                (s("dbo"), s("AgentGroupAgents"), s("GroupId")),
                (s("dbo"), s("AgentGroupAgents"), s("AgentId")),
                (s("dbo"), s("AgentGroups"), s("ID")),
            ],
            &[(
                s("FK_AGA_Group"),
                s("dbo"),
                s("AgentGroupAgents"),
                s("GroupId"),
                s("dbo"),
                s("AgentGroups"),
                s("ID"),
            )],
        );
        assert_eq!(tables.len(), 3);
        assert_eq!(tables[0].primary_key, ["GroupId", "AgentId"]);
        assert_eq!(tables[0].columns.len(), 2);
        assert_eq!(tables[0].foreign_keys[0].references, "dbo.AgentGroups");
        assert_eq!(tables[1].foreign_keys, []);
        assert_eq!(tables[2].file, "003-x_y.a_b.csv");
        assert_eq!(
            select_item(&tables[2].columns[0]).unwrap(),
            "CAST([v] AS decimal(19,4)) AS [v]"
        );
        assert_eq!(select_item(&col("a]b", "nvarchar")).unwrap(), "[a]]b]");
    }
}
