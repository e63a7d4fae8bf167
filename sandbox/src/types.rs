//! Values, types and results exchanged between the TDS front end (`tds`,
//! `server`) and the SQL engine (`engine`). Both sides depend on this file;
//! change it only with both in mind.

use std::fmt;

/// A SQL Server column or parameter type, as far as the sandbox models it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SqlType {
    /// `bit`
    Bit,
    /// `tinyint`
    TinyInt,
    /// `smallint`
    SmallInt,
    /// `int`
    Int,
    /// `bigint`
    BigInt,
    /// `float`
    Float,
    /// `uniqueidentifier`
    UniqueIdentifier,
    /// `nvarchar(n)` (n in characters) or `nvarchar(max)` (None).
    NVarChar(Option<u16>),
    /// `varchar(n)` or `varchar(max)` (None).
    VarChar(Option<u16>),
    /// `datetime2`
    DateTime2,
    /// `datetime`
    DateTime,
    /// `varbinary(n)` or `varbinary(max)` (None).
    VarBinary(Option<u16>),
}

impl SqlType {
    /// The name SQL Server uses in `sys.types`.
    pub fn type_name(self) -> &'static str {
        match self {
            SqlType::Bit => "bit",
            SqlType::TinyInt => "tinyint",
            SqlType::SmallInt => "smallint",
            SqlType::Int => "int",
            SqlType::BigInt => "bigint",
            SqlType::Float => "float",
            SqlType::UniqueIdentifier => "uniqueidentifier",
            SqlType::NVarChar(_) => "nvarchar",
            SqlType::VarChar(_) => "varchar",
            SqlType::DateTime2 => "datetime2",
            SqlType::DateTime => "datetime",
            SqlType::VarBinary(_) => "varbinary",
        }
    }
}

/// One value of a row or parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL (its type is the column's).
    Null,
    /// `bit`
    Bit(bool),
    /// Any integer type; the column type decides the wire width.
    Int(i64),
    /// `float`
    Float(f64),
    /// `uniqueidentifier`
    Guid(uuid::Uuid),
    /// `nvarchar` / `varchar`
    Text(String),
    /// `datetime2` / `datetime`
    DateTime(chrono::NaiveDateTime),
    /// `varbinary`
    Binary(Vec<u8>),
}

/// A column of a result set.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Name as the client sees it (alias or column name; empty when none).
    pub name: String,
    /// Wire type.
    pub ty: SqlType,
    /// Whether NULL may appear.
    pub nullable: bool,
}

/// A complete result set.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResultSet {
    /// Column descriptions (COLMETADATA).
    pub columns: Vec<Column>,
    /// Rows, each with exactly `columns.len()` values.
    pub rows: Vec<Vec<Value>>,
}

/// A named, typed parameter of an `sp_executesql` call (`@P1`...).
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// Name including the `@`, e.g. `@P1`.
    pub name: String,
    /// Declared type.
    pub ty: SqlType,
    /// Value.
    pub value: Value,
}

/// An error as SQL Server reports it in an ERROR token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlError {
    /// Error number, e.g. 102, 208, 1222, 18456.
    pub number: i32,
    /// Severity (class), e.g. 16 for user errors, 14 for login failures.
    pub severity: u8,
    /// State.
    pub state: u8,
    /// Message text, formatted as SQL Server formats it.
    pub message: String,
    /// 1-based line number in the batch.
    pub line: u32,
}

impl SqlError {
    /// A severity-16 error with state 1 on line 1.
    pub fn new(number: i32, message: impl Into<String>) -> Self {
        SqlError {
            number,
            severity: 16,
            state: 1,
            message: message.into(),
            line: 1,
        }
    }

    /// Msg 102: `Incorrect syntax near '<near>'.`
    pub fn syntax(near: &str) -> Self {
        SqlError::new(102, format!("Incorrect syntax near '{near}'."))
    }

    /// Msg 208: `Invalid object name '<name>'.`
    pub fn invalid_object(name: &str) -> Self {
        SqlError::new(208, format!("Invalid object name '{name}'."))
    }
}

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Msg {}, Level {}, State {}, Line {}: {}",
            self.number, self.severity, self.state, self.line, self.message
        )
    }
}

impl std::error::Error for SqlError {}

/// A change of transaction state that the front end reports as ENVCHANGE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxChange {
    /// A transaction began; the descriptor identifies it in later requests.
    Begin(u64),
    /// The transaction with this descriptor committed.
    Commit(u64),
    /// The transaction with this descriptor rolled back.
    Rollback(u64),
}

/// One thing a batch produced, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// A result set (COLMETADATA, ROWs, then DONE with the row count).
    Rows(ResultSet),
    /// A statement finished without a result set: DONE, with the row count
    /// for INSERT/UPDATE/DELETE (None for statements without one, or when
    /// `SET NOCOUNT ON`).
    Done {
        /// Rows affected, when the statement has a count to report.
        rows_affected: Option<u64>,
    },
    /// A statement inside a trigger finished: DONEINPROC (with MORE), sent
    /// before the DONE of the statement that fired the trigger, even in a
    /// SQLBatch, as SQL Server does.
    DoneInProc {
        /// Rows affected, unless the trigger SET NOCOUNT ON.
        rows_affected: Option<u64>,
    },
    /// An INFO token (e.g. PRINT output, message 5701 on database change).
    Info {
        /// Message number.
        number: i32,
        /// Text.
        message: String,
    },
    /// An ERROR token; the statement failed. Whether the batch went on is
    /// shown by whether more items follow.
    Error(SqlError),
    /// Transaction state changed (ENVCHANGE 8, 9 or 10).
    Tx(TxChange),
}

/// One value of a streamed row: text borrowed from the engine's storage
/// for the time it takes to encode it, or any other value.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    /// `nvarchar` / `varchar` text, not copied.
    Text(&'a str),
    /// Everything else (NULL included).
    Value(Value),
}

/// Where a request's answer goes while it runs, so that a result set
/// travels from SQLite to the client row by row, in bounded memory (set
/// with `Session::stream_to`). Without one, results are whole
/// [`Item::Rows`]. The engine calls, per result set: [`Sink::items`] (what
/// came before it), [`Sink::begin_rows`], per row [`Sink::begin_row`], one
/// [`Sink::cell`] per column and [`Sink::end_row`], then [`Sink::end_rows`]
/// unless the statement failed (its error then follows as an item).
pub trait Sink: Send {
    /// Takes (drains) the items the request produced so far, in order.
    fn items(&mut self, items: &mut Vec<Item>);
    /// A result set starts: its columns (COLMETADATA).
    fn begin_rows(&mut self, columns: &[Column]);
    /// A row starts.
    fn begin_row(&mut self);
    /// The row's next value. On error (a value that does not fit its
    /// column) the partial row is dropped and the statement fails.
    fn cell(&mut self, cell: Cell<'_>) -> Result<(), SqlError>;
    /// The row is complete. An error (the client is gone) stops the
    /// statement.
    fn end_row(&mut self) -> Result<(), SqlError>;
    /// The result set ended after `rows` rows (DONE with the count).
    fn end_rows(&mut self, rows: u64);
}
