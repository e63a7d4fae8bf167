//! The SQL engine: T-SQL translated to SQLite, catalog views, transactions
//! and SQL Server's error numbers. STUB: the public API below is the contract
//! with the TDS front end; the bodies are being written.

use crate::types::{Item, Param, ResultSet, SqlError};
use std::path::Path;

/// All databases of one sandbox. Cheap to clone; shared by every connection.
#[derive(Clone)]
pub struct Engine {}

impl Engine {
    /// A new engine holding the empty `master` database.
    pub fn new() -> anyhow::Result<Engine> {
        Ok(Engine {})
    }

    /// Creates database `name`, in a temporary file (`file` None) or in the
    /// given SQLite file. Returns true when the database is new (empty), false
    /// when `file` already held a database.
    pub fn attach_database(&self, name: &str, file: Option<&Path>) -> anyhow::Result<bool> {
        let _ = (name, file);
        anyhow::bail!("engine not written yet")
    }

    /// Runs a script as sqlcmd would: batches separated by `GO` lines, each
    /// executed like a client's SQLBatch in one session. Stops at the first
    /// error.
    pub fn run_script(&self, database: &str, script: &str) -> Result<(), SqlError> {
        let _ = (database, script);
        Err(SqlError::syntax("GO"))
    }

    /// A new session (one per client connection). Error 4060 when the
    /// database does not exist.
    pub fn open_session(&self, database: &str) -> Result<Session, SqlError> {
        Err(SqlError::new(
            4060,
            format!("Cannot open database \"{database}\" requested by the login. The login failed."),
        ))
    }

    /// Runs one T-SQL query in a fresh session and returns its last result
    /// set: for tests that inspect the data directly.
    pub fn query(&self, database: &str, sql: &str) -> Result<ResultSet, SqlError> {
        let _ = (database, sql);
        Err(SqlError::syntax(sql))
    }
}

/// One client connection's session: its own SQLite connection, transaction
/// state and SET options.
pub struct Session {}

/// Cancels the statement a session is running, from another thread
/// (TDS attention).
#[derive(Clone)]
pub struct Interrupter {}

impl Interrupter {
    /// Interrupts the running statement, if any.
    pub fn interrupt(&self) {}
}

impl Session {
    /// The current database's name.
    pub fn database(&self) -> &str {
        "master"
    }

    /// Runs a SQLBatch (no params) or an `sp_executesql` statement (params).
    pub fn execute(&mut self, sql: &str, params: &[Param]) -> Vec<Item> {
        let _ = params;
        vec![Item::Error(SqlError::syntax(sql))]
    }

    /// Transaction manager request TM_BEGIN_XACT.
    pub fn begin_transaction(&mut self) -> Vec<Item> {
        vec![]
    }

    /// Transaction manager request TM_COMMIT_XACT.
    pub fn commit_transaction(&mut self) -> Vec<Item> {
        vec![]
    }

    /// Transaction manager request TM_ROLLBACK_XACT.
    pub fn rollback_transaction(&mut self) -> Vec<Item> {
        vec![]
    }

    /// The open transaction's descriptor, if one is open.
    pub fn transaction(&self) -> Option<u64> {
        None
    }

    /// A handle to cancel this session's running statement.
    pub fn interrupter(&self) -> Interrupter {
        Interrupter {}
    }

    /// RESETCONNECTION: roll back any transaction and restore default SET
    /// options.
    pub fn reset(&mut self) {}
}
